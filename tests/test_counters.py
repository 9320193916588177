"""Per-line saturating counters (PULSES_X / PULSES_D) against a numpy count."""

import numpy as np
import pytest

from rpu.rtl.counters import LineCounters
from rpu.testbench.amsim import simulate


@pytest.mark.parametrize("lines,width", [(1, 3), (5, 3), (70, 4)])
def test_counts_saturate_and_clear_amaranth_sim(lines, width):
    dut = LineCounters(lines, width)
    top = (1 << width) - 1
    rng = np.random.default_rng(lines)
    steps = [(rng.random(lines) < 0.6, rng.random() < 0.05) for _ in range(3 * top)]

    async def tb(ctx):
        want = np.zeros(lines, dtype=np.int64)
        for inc, clear in steps:
            for i in range(lines):            # every counter readable, combinationally
                ctx.set(dut.index, i)
                assert ctx.get(dut.value) == want[i]
            ctx.set(dut.inc, sum(1 << int(i) for i in np.flatnonzero(inc)))
            ctx.set(dut.clear, int(clear))
            await ctx.tick()
            want = np.zeros(lines, np.int64) if clear else np.minimum(want + inc, top)
        assert want.max() == top, "the run should reach saturation"

    simulate(dut, tb)


@pytest.mark.parametrize("args,exc", [((0,), ValueError), ((4097,), ValueError),
                                      ((8, 0), ValueError), ((8.0,), TypeError)])
def test_bad_parameters(args, exc):
    with pytest.raises(exc):
        LineCounters(*args)
