import json

import pytest
from amaranth import Module

from rpu.config import TileConfig
from rpu.rtl.axi import RESP_OKAY, RESP_SLVERR, AXILiteRegisters
from rpu.rtl.regmap import Field, Register, RegisterMap, register_map, write_register_map
from rpu.testbench.amsim import simulate
from rpu.testbench.host import am_axil_read as _read, am_axil_write as _write


def test_files_written_from_one_description(tmp_path):
    cfg = TileConfig(in_size=48, out_size=80, lines_per_adc=4)
    paths = write_register_map(cfg, tmp_path)
    rm = register_map(cfg)
    data = json.loads(paths["regmap_json"].read_text())
    assert [r["name"] for r in data["registers"]] == [r.name for r in rm]
    assert {r["name"]: r["offset"] for r in data["registers"]}["PULSES_D"] == 0x1000 + 4 * 48
    header = paths["regmap_h"].read_text()
    for r in rm:
        assert f"#define RPU_{r.name}_OFFSET 0x{r.offset:04X}u" in header
    assert "#define RPU_PULSES_D_COUNT 80u" in header
    md = paths["regmap_md"].read_text()
    assert all(f"| {r.name} |" in md for r in rm)
    bl = rm["CONFIG"].field("bl")
    assert (bl.lo, bl.hi, bl.reset) == (1, cfg.bl_max, cfg.bl)


def test_map_rejects_overlaps_and_bad_fields():
    with pytest.raises(ValueError, match="overlap"):
        RegisterMap([Register("A", 0, "ro", "a", count=2), Register("B", 4, "ro", "b")], 8)
    with pytest.raises(ValueError, match="field"):
        Register("A", 0, "rw", "a", (Field("x", 0, 8, ""), Field("y", 4, 8, "")))
    with pytest.raises(ValueError, match="offset"):
        Register("A", 2, "ro", "a")
    with pytest.raises(TypeError, match="cfg"):
        register_map({"in_size": 4})
    with pytest.raises(TypeError, match="regmap"):
        AXILiteRegisters("map")


def test_encode_decode_roundtrip():
    rm = register_map(TileConfig())
    w = rm.encode("CTRL", start=1, op=2, count=300)
    assert rm.decode("CTRL", w) == {"start": 1, "op": 2, "load_seeds": 0, "clear_counters": 0,
                                    "count": 300}


def test_register_slave_amaranth_sim():
    cfg = TileConfig(in_size=8, out_size=4)
    rm = register_map(cfg)
    dut = AXILiteRegisters(rm)
    top = Module()                    # the owner of PULSES_X: word i reads 100 + i
    top.submodules.regs = dut
    top.d.comb += dut.pulses_x.eq(100 + dut.pulses_x_index)
    seen = {"illegal": 0, "ctrl": [], "done": False}

    async def watch(ctx):
        async for _clk, _rst, illegal, stb, val in ctx.tick().sample(
                dut.illegal, dut.ctrl_stb, dut.ctrl):
            if seen["done"]:
                return
            seen["illegal"] += illegal
            if stb:
                seen["ctrl"].append(val)

    async def tb(ctx):
        bus = dut.bus
        ctx.set(dut.id, 0xCAFE)
        ctx.set(dut.error, 0b101)
        assert await _read(ctx, bus, rm.addr("ID")) == 0xCAFE
        assert await _read(ctx, bus, rm.addr("PULSES_X", 5)) == 105
        assert await _read(ctx, bus, rm.addr("PULSES_X", cfg.in_size - 1)) == 100 + cfg.in_size - 1
        assert await _read(ctx, bus, rm.addr("CONFIG")) == rm["CONFIG"].reset
        good = rm.encode("CONFIG", bl=7)
        assert await _write(ctx, bus, rm.addr("CONFIG"), good) == RESP_OKAY
        assert ctx.get(dut.config) == good
        for bad in (rm.encode("CONFIG", bl=0), rm.encode("CONFIG", bl=cfg.bl_max + 1),
                    rm.encode("CONFIG", nm_mode=3)):
            assert await _write(ctx, bus, rm.addr("CONFIG"), bad) == RESP_SLVERR
            assert ctx.get(dut.config) == good, "an illegal value must not be stored"
        assert await _write(ctx, bus, rm.addr("SEED_X"), 0) == RESP_SLVERR
        assert await _write(ctx, bus, rm.addr("ID"), 1) == RESP_SLVERR      # read-only
        assert await _write(ctx, bus, rm.addr("CTRL"), 0x5) == RESP_OKAY
        assert await _read(ctx, bus, 0xFFC) == 0                             # unmapped

    async def tb_all(ctx):
        await tb(ctx)
        seen["done"] = True
        await ctx.tick()
        assert seen["illegal"] == 5
        assert seen["ctrl"] == [0x5]

    simulate(top, tb_all, watch)
