"""Fast block tests of the tile controller and top under Amaranth's simulator."""

import numpy as np
import pytest

from rpu.config import TileConfig
from rpu.models.ref_management import to_fixed
from rpu.rtl.controller import TileController, VectorBuffer
from rpu.rtl.regmap import ERRORS, OPS, register_map
from rpu.rtl.tile import Tile
from rpu.testbench.amsim import simulate
from rpu.testbench.host import am_axil_read, am_axil_write

SMALL = TileConfig(in_size=8, out_size=4, stream_width=4)


def test_vector_buffer_push_and_rotate():
    dut = VectorBuffer(3, 8)

    async def tb(ctx):
        for v in (11, 22, 33):
            ctx.set(dut.data, v)
            ctx.set(dut.push, 1)
            await ctx.tick()
        ctx.set(dut.push, 0)
        seen = []
        for _ in range(6):                   # two full rotations: the order is kept
            seen.append(ctx.get(dut.head))
            ctx.set(dut.rotate, 1)
            await ctx.tick()
        assert seen == [11, 22, 33, 11, 22, 33]

    simulate(dut, tb)


@pytest.mark.parametrize("cls,args,exc", [
    (VectorBuffer, (0, 8), ValueError), (VectorBuffer, (2, "8"), TypeError),
    (TileController, ({"in_size": 4},), TypeError), (Tile, (None,), TypeError),
])
def test_bad_parameters(cls, args, exc):
    with pytest.raises(exc):
        cls(*args)


def test_controller_reset_cycles_validated():
    with pytest.raises(ValueError, match="adc_reset_cycles"):
        TileController(SMALL, adc_reset_cycles=0)
    with pytest.raises(TypeError, match="adc_reset_cycles"):
        TileController(SMALL, adc_reset_cycles=1.5)


def test_loader_flags_wrong_length_and_queue_amaranth_sim():
    """Wrong-length frames are dropped and flagged (no hang), a second queued command
    while the queue is full is refused, op 3 is refused; counts land in ERR_COUNT."""
    cfg = SMALL
    rm = register_map(cfg)
    dut = Tile(cfg)
    flag = {n: 1 << i for i, n in enumerate(ERRORS)}
    lanes, vb = cfg.stream_width, cfg.value_bits

    def beat(values):
        return sum((int(v) & ((1 << vb) - 1)) << (vb * i) for i, v in enumerate(values))

    async def send(ctx, beats):
        s = dut.s_axis
        for i, b in enumerate(beats):
            ctx.set(s.tdata, b)
            ctx.set(s.tvalid, 1)
            ctx.set(s.tlast, int(i == len(beats) - 1))
            await ctx.tick()
            for _ in range(100):
                if ctx.get(s.tready):
                    break
                await ctx.tick()
        ctx.set(s.tvalid, 0)

    async def tb(ctx):
        bus = dut.s_axil
        x = to_fixed(cfg, np.linspace(-0.5, 0.5, cfg.in_size))
        good = [beat(x[i:i + lanes]) for i in range(0, cfg.in_size, lanes)]
        ctrl = lambda op: rm.encode("CTRL", start=1, op=OPS.index(op))   # noqa: E731
        assert await am_axil_read(ctx, bus, rm.addr("ID")) == 0x52505531
        # short frame (tlast on the first of two beats)
        await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("forward"))
        await send(ctx, good[:1])
        # long frame (three beats for two)
        await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("forward"))
        await send(ctx, good + good[:1])
        for _ in range(5):
            await ctx.tick()
        assert await am_axil_read(ctx, bus, rm.addr("ERROR")) == flag["stream_length"]
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 2
        st = rm.decode("STATUS", await am_axil_read(ctx, bus, rm.addr("STATUS")))
        assert st["busy"] == 0 and st["loading"] == 0 and st["cmd_ready"] == 1
        # op 3, then three starts: one taken by the loader, one queued, one refused
        await am_axil_write(ctx, bus, rm.addr("CTRL"), rm.encode("CTRL", start=1, op=3))
        for _ in range(3):
            await am_axil_write(ctx, bus, rm.addr("CTRL"), ctrl("backward"))
        err = await am_axil_read(ctx, bus, rm.addr("ERROR"))
        assert err == flag["stream_length"] | flag["bad_op"] | flag["cmd_busy"]
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 4
        st = rm.decode("STATUS", await am_axil_read(ctx, bus, rm.addr("STATUS")))
        assert st["loading"] == 1 and st["cmd_ready"] == 0
        await am_axil_write(ctx, bus, rm.addr("ERROR"), flag["bad_op"])    # write 1 to clear
        assert await am_axil_read(ctx, bus, rm.addr("ERROR")) == flag["stream_length"] | flag["cmd_busy"]
        await am_axil_write(ctx, bus, rm.addr("CTRL"), rm.encode("CTRL", clear_counters=1))
        assert await am_axil_read(ctx, bus, rm.addr("ERR_COUNT")) == 0

    simulate(dut, tb)
