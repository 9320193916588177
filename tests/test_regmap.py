import json

import pytest
from amaranth import Module

from rpu.config import TileConfig
from rpu.rtl.axi import AXILiteRegisters
from rpu.spec.encodings import RESP_OKAY, RESP_SLVERR
from rpu.spec.registers import Field, Register, RegisterMap, register_map, write_register_map
from rpu.testbench.amsim import simulate
from rpu.testbench.host import am_axil_read as _read, am_axil_write as _write
from rpu.testbench.host import am_axil_read_resp as _read_resp


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
    assert (bl.lo, bl.hi, bl.reset) == (1, cfg.update.bl_max, cfg.update.bl)


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


def test_one_line_arrays_stay_arrays():
    """A one-line side still has PULSES_X[0] as an array (RTL port, C header macros)."""
    cfg = TileConfig(in_size=1, out_size=4)
    rm = register_map(cfg)
    assert rm["PULSES_X"].is_array and rm["PULSES_X"].words == 1
    assert not rm["STATUS"].is_array and rm["STATUS"].words == 1
    assert hasattr(AXILiteRegisters(rm), "pulses_x_index")     # read through an index port
    assert "#define RPU_PULSES_X_ADDR(i)" in rm.to_c_header()
    with pytest.raises(ValueError, match="count"):
        Register("A", 0, "ro", "a", count=0)


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
        for bad in (rm.encode("CONFIG", bl=0), rm.encode("CONFIG", bl=cfg.update.bl_max + 1),
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


def test_every_register_reads_its_documented_reset_amaranth_sim():
    """After reset, every mapped register of the whole tile (arrays: first and last word)
    reads the reset value the register map documents; a wo register reads SLVERR, 0."""
    from rpu.rtl.tile import Tile
    cfg = TileConfig(in_size=3, out_size=5, stream_width=2)
    rm = register_map(cfg)
    dut = Tile(cfg)
    got = {}

    async def tb(ctx):
        await ctx.tick().repeat(2)
        for r in rm:
            for i in sorted({0, r.words - 1}):
                got[(r.name, i)] = await _read_resp(ctx, dut.s_axil, rm.addr(r.name, i))

    simulate(dut, tb)
    want = {(r.name, i): (0, RESP_SLVERR) if r.access == "wo" else (r.reset, RESP_OKAY)
            for r in rm for i in sorted({0, r.words - 1})}
    bad = {k: (f"{got[k][0]:#x}", got[k][1], f"{want[k][0]:#x}") for k in want if got[k] != want[k]}
    assert not bad, f"(register, index): (read, rresp, documented) {bad}"
    assert rm["STATUS"].reset == rm.encode("STATUS", cmd_ready=1) == 0x4


def test_byte_strobes_and_unmapped_reads_amaranth_sim():
    """rw: only the enabled bytes change and the ranges are checked on the merged word;
    wo and rw1c: bytes not enabled are 0; unmapped and wo reads: SLVERR with data 0."""
    cfg = TileConfig(in_size=8, out_size=4)
    rm = register_map(cfg)
    dut = AXILiteRegisters(rm)
    top = Module()                    # the owner of PULSES_X: word i reads 0x1234 + i
    top.submodules.regs = dut
    top.d.comb += dut.pulses_x.eq(0x1234 + dut.pulses_x_index)
    seen = {"illegal": 0, "ctrl": [], "clr": [], "done": False}

    async def watch(ctx):
        async for _clk, _rst, illegal, stb, val, clr in ctx.tick().sample(
                dut.illegal, dut.ctrl_stb, dut.ctrl, dut.error_clr):
            if seen["done"]:
                return
            seen["illegal"] += illegal
            if stb:
                seen["ctrl"].append(val)
            if clr:
                seen["clr"].append(clr)

    async def tb(ctx):
        bus, cfg_addr = dut.bus, rm.addr("CONFIG")
        reset = rm["CONFIG"].reset
        # byte 0 (bl = 7), the other bytes of wdata ignored
        assert await _write(ctx, bus, cfg_addr, 0xFFFFFF07, 0b0001) == RESP_OKAY
        assert ctx.get(dut.config) == (reset & ~0xFF) | 7
        # byte 3 (bl_max) set to 0: the merged word is illegal, refused whole
        assert await _write(ctx, bus, cfg_addr, 0x00FFFFFF, 0b1000) == RESP_SLVERR
        assert ctx.get(dut.config) == (reset & ~0xFF) | 7
        # no byte enabled: nothing changes
        assert await _write(ctx, bus, cfg_addr, 0, 0b0000) == RESP_OKAY
        assert ctx.get(dut.config) == (reset & ~0xFF) | 7
        # two bytes of a seed
        seed = rm.addr("SEED_X")
        assert await _write(ctx, bus, seed, 0xAAAA5555, 0b0110) == RESP_OKAY
        assert ctx.get(dut.seed_x) == (cfg.update.x_seed & 0xFF0000FF) | 0x00AA5500
        # wo, rw1c: bytes not enabled are 0
        assert await _write(ctx, bus, rm.addr("CTRL"), 0x00020305, 0b0001) == RESP_OKAY
        assert await _write(ctx, bus, rm.addr("ERROR"), 0xFFFFFFFF, 0b0010) == RESP_OKAY
        # reads: unmapped (between the counters and the arrays) and wo answer SLVERR, 0
        for addr in (0x064, 0xFFC, rm.addr("CTRL")):
            assert await _read_resp(ctx, bus, addr) == (0, RESP_SLVERR), hex(addr)
        assert await _read_resp(ctx, bus, rm.addr("PULSES_X")) == (0x1234, RESP_OKAY)

    async def tb_all(ctx):
        await tb(ctx)
        seen["done"] = True
        await ctx.tick()
        assert seen["illegal"] == 1, "only the illegal merged word is refused"
        assert seen["ctrl"] == [0x05], "CTRL: the enabled byte only"
        assert seen["clr"] == [0xFF00], "ERROR clear mask: the enabled byte only"

    simulate(top, tb_all, watch)
