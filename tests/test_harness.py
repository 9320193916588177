"""The co-simulation harness's transactors (Amaranth simulator) and lane packing."""

import numpy as np
import pytest

from rpu.config import TileConfig
from rpu.testbench.amsim import simulate
from rpu.testbench.harness import CosimHarness, SlotRecorder, VectorPlayer
from rpu.testbench.lanes import pack_lanes, unpack_lanes


@pytest.mark.parametrize("width", [1, 5, 9, 16, 33])
def test_pack_lanes_matches_scalar_packing(width):
    rng = np.random.default_rng(width)
    lo, hi = (-(1 << (width - 1)), 1 << (width - 1)) if width > 1 else (0, 2)
    v = rng.integers(lo, hi, 37)
    want = 0
    for i, x in enumerate(v.tolist()):
        want |= (x & ((1 << width) - 1)) << (i * width)
    assert pack_lanes(v, width) == want
    if width > 1:
        assert np.array_equal(unpack_lanes(want, width, v.size), v)


def test_player_honours_back_pressure_and_tlast():
    """Two sets under random tready: every beat exactly once, in order, tlast where asked,
    data stable while stalled, ``sets`` counting finished sets."""
    dut = VectorPlayer(6, 8)
    rng = np.random.default_rng(0)
    sets = [([11, 12, 13, 14, 15], 0b10010), ([21, 22], 0b10), ([31], 0b1)]

    async def tb(ctx):
        got, stalls = [], 0
        for n, (beats, last) in enumerate(sets):
            ctx.set(dut.data, sum(b << (8 * k) for k, b in enumerate(beats)))
            ctx.set(dut.count, len(beats))
            ctx.set(dut.last, last)
            ctx.set(dut.go, (n + 1) & 1)
            await ctx.tick()
            held = None
            for _ in range(200):
                ready = int(rng.random() < 0.5)
                ctx.set(dut.axis.tready, ready)
                valid, data = ctx.get(dut.axis.tvalid), ctx.get(dut.axis.tdata)
                if held is not None:
                    assert valid and data == held, "data changed while stalled"
                if valid and ready:
                    got.append((n, data, ctx.get(dut.axis.tlast)))
                    held = None
                elif valid:
                    held, stalls = data, stalls + 1
                await ctx.tick()
                if not ctx.get(dut.busy):
                    break
            assert ctx.get(dut.sets) == n + 1
        want = [(n, b, (last >> k) & 1) for n, (beats, last) in enumerate(sets)
                for k, b in enumerate(beats)]
        assert got == want
        assert stalls > 0

    simulate(dut, tb)


def test_recorder_snapshots_runs_and_flags_overrun():
    """Runs of 7 and 4 valid rows at depth 4 → snapshots of 4, 3, 4 rows in order, the last
    of each run marked ``end``; an unacknowledged snapshot followed by another one sets
    ``overrun``."""
    dut = SlotRecorder(4, 8)

    async def tb(ctx):
        rows, snaps, ends, ack = iter(range(1, 100)), [], [], 0

        async def cycle(valid, do_ack=True):
            nonlocal ack
            if valid:
                ctx.set(dut.row, next(rows))
            ctx.set(dut.valid, valid)
            await ctx.tick()
            if do_ack and ctx.get(dut.pending):
                data, count = ctx.get(dut.data), ctx.get(dut.count)
                snaps.append([(data >> (8 * i)) & 0xFF for i in range(count)])
                ends.append(ctx.get(dut.end))
                ack ^= 1
                ctx.set(dut.ack, ack)

        for valid in [1] * 7 + [0, 0] + [1] * 4 + [0, 0, 0]:
            await cycle(valid)
        assert snaps == [[1, 2, 3, 4], [5, 6, 7], [8, 9, 10, 11]]
        assert ends == [0, 1, 1]          # a full buffer at the end of a run ends it too
        assert not ctx.get(dut.overrun)
        for valid in [1] * 8 + [0, 0]:          # two snapshots, none acknowledged
            await cycle(valid, do_ack=False)
        assert ctx.get(dut.overrun)

    simulate(dut, tb)


@pytest.mark.parametrize("cls,args,exc", [
    (VectorPlayer, (0, 8), ValueError), (VectorPlayer, (4, 8.0), TypeError),
    (SlotRecorder, (300, 8), ValueError), (SlotRecorder, (True, 8), TypeError),
])
def test_bad_parameters(cls, args, exc):
    with pytest.raises(exc):
        cls(*args)


def test_harness_parameters_validated():
    with pytest.raises(TypeError, match="cfg"):
        CosimHarness({"in_size": 4})
    with pytest.raises(ValueError, match="rec_depth"):
        CosimHarness(TileConfig(), rec_depth=0)
