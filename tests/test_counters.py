"""Per-line saturating counters (PULSES_X / PULSES_D) against a numpy count."""

import numpy as np
import pytest

from rpu.rtl.counters import LineCounters, recent_bits
from rpu.testbench.amsim import simulate


def _steps(lines: int, width: int, rng) -> list:
    """(inc, clear) per cycle: every line counting for two drain rounds (each line's recent
    count reaches ``lines``, the most it must hold), a clear, then random events until the
    counters saturate (the random part is long enough for most to reach 2**width − 1)."""
    top = (1 << width) - 1
    ones = [(np.ones(lines, bool), False)] * (2 * lines + 3)
    rand = [(rng.random(lines) < 0.6, False) for _ in range(int(2.2 * top) + 2 * lines)]
    return ones + [(rng.random(lines) < 0.5, True)] + rand


@pytest.mark.parametrize("lines,width", [(1, 3), (5, 3), (70, 4), (5, 8), (70, 9)])
def test_counts_saturate_and_clear_amaranth_sim(lines, width):
    dut = LineCounters(lines, width)
    top = (1 << width) - 1
    rng = np.random.default_rng(lines * 100 + width)
    steps = _steps(lines, width, rng)

    async def tb(ctx):
        want = np.zeros(lines, dtype=np.int64)
        asked = None                       # (line, its count) asked for in the last cycle
        for k, (inc, clear) in enumerate(steps):
            # the value is registered: the count of the line indexed in the last cycle, as
            # it was then (lines in turn on even cycles, a random one on odd ones)
            if asked is not None:
                assert ctx.get(dut.value) == asked[1], f"cycle {k}, line {asked[0]}"
            i = k // 2 % lines if k % 2 == 0 else int(rng.integers(0, lines))
            ctx.set(dut.index, i)
            asked = (i, want[i])
            ctx.set(dut.inc, sum(1 << int(j) for j in np.flatnonzero(inc)))
            ctx.set(dut.clear, int(clear))
            await ctx.tick()
            want = np.zeros(lines, np.int64) if clear else np.minimum(want + inc, top)
        assert want.max() == top, "the run should reach saturation"
        ctx.set(dut.inc, 0)
        for i in range(lines):
            ctx.set(dut.index, i)
            await ctx.tick()
            assert ctx.get(dut.value) == want[i]

    simulate(dut, tb)


def test_recent_count_holds_a_drain_round():
    assert [recent_bits(n) for n in (1, 2, 63, 64, 70, 4096)] == [1, 2, 6, 7, 7, 13]


@pytest.mark.parametrize("args,exc", [((0,), ValueError), ((4097,), ValueError),
                                      ((8, 0), ValueError), ((8.0,), TypeError)])
def test_bad_parameters(args, exc):
    with pytest.raises(exc):
        LineCounters(*args)
