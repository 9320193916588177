"""The vector sets' maxima (one abs-max unit per side shared by the sets) against one
:class:`AbsMax` per set and side, cycle for cycle, under the loader's protocol (a set is
taken, then only it is pushed to, until the next take), Amaranth simulator."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module

from rpu.rtl.controller.sets import VectorSets
from rpu.rtl.management import AbsMax
from rpu.testbench.amsim import simulate

VALUE_BITS = 16


class _Pair(Elaboratable):
    """The sets and, beside them, one reference AbsMax per set and side wired as the loader
    addresses a set (its take clears it, only its pushes count)."""

    def __init__(self, sets, lanes):
        self.dut = VectorSets(sets, 4, 4, lanes * VALUE_BITS, lanes, VALUE_BITS)
        self.ref = {(side, i): AbsMax(lanes, VALUE_BITS) for side in "xd" for i in range(sets)}

    def elaborate(self, platform):
        m = Module()
        d = self.dut
        m.submodules.dut = d
        for (side, i), r in self.ref.items():
            m.submodules[f"ref_{side}{i}"] = r
            m.d.comb += [r.data.eq(d.data), r.valid.eq(getattr(d, f"push_{side}") & (d.load_set == i)),
                         r.clear.eq(d.take & (d.load_set == i))]
        return m


def _schedule(sets, lanes, rng, loads=60):
    """Per cycle (take, set, push_x, push_d, beat): loads of random length and gaps, the
    next take often in the cycle right after the last push (back to back), sets in random
    order (repeats included)."""
    cycles = []
    for _ in range(loads):
        j = int(rng.integers(0, sets))
        cycles.append((1, j, int(rng.random() < 0.3), 0, rng))
        for _ in range(int(rng.integers(0, 9))):
            kind = rng.random()
            cycles.append((0, j, int(kind < 0.45), int(0.45 <= kind < 0.9), rng))
        for _ in range(int(rng.integers(0, 3)) * int(rng.random() < 0.5)):
            cycles.append((0, j, 0, 0, rng))
    return cycles


@pytest.mark.parametrize("sets,lanes", [(2, 1), (3, 4), (3, 16), (4, 5)])
def test_shared_maxima_equal_one_unit_per_set(sets, lanes):
    top = _Pair(sets, lanes)
    d = top.dut
    rng = np.random.default_rng(sets * 100 + lanes)
    sched = _schedule(sets, lanes, rng)
    mask = (1 << VALUE_BITS) - 1

    async def tb(ctx):
        for k, (take, j, px, pd, _) in enumerate(sched):
            vals = rng.integers(-(1 << (VALUE_BITS - 1)) + 1, 1 << (VALUE_BITS - 1), lanes)
            ctx.set(d.data, sum((int(v) & mask) << (VALUE_BITS * n) for n, v in enumerate(vals)))
            ctx.set(d.take, take)
            ctx.set(d.load_set, j)
            ctx.set(d.push_x, px)
            ctx.set(d.push_d, pd)
            for side in "xd":
                for i in range(sets):
                    got = ctx.get(getattr(d, f"max_{side}")[i])
                    want = ctx.get(top.ref[side, i].max)
                    assert got == want, f"cycle {k}, max_{side}[{i}]: {got} != {want}"
            await ctx.tick()

    simulate(top, tb)
