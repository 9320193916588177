"""The serial bridge (rtl/bridge.py) under Amaranth's simulator, bytes in and out of its
streams against the frames of the contract (rpu/spec/serial.py): register writes and reads
on an AXI4-Lite register slave (OKAY and SLVERR), stream beats both ways (a push answered
only when the tile takes it, a pull EMPTY or with its beat), INFO and its sticky flags,
unknown commands, a dropped partial request, and pipelined requests answered in order."""

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from rpu.rtl.axi import AXILiteRegisters
from rpu.rtl.bridge import SerialBridge
from rpu.spec.encodings import RESP_SLVERR
from rpu.spec.registers import Register, RegisterMap
from rpu.spec.serial import (INFO_BYTES, Cmd, LinkFlag, SerialFormat, Status, info_fields,
                             status_byte)

REGMAP = RegisterMap([Register("A", 0x0, "rw", "scratch"), Register("B", 0x4, "ro", "input"),
                      Register("C", 0x40, "rw", "scratch")], 8)
FMT = SerialFormat(addr_width=8, in_beat_bits=12, out_beat_bits=20)   # beats 2 and 3 bytes
DIV = 4
TIMEOUT_BITS = 16
PERIOD = 1e-8


class Bench(wiring.Component):
    """The bridge on a register slave; the test plays the tile's streams and the line."""

    def __init__(self):
        self.bridge = SerialBridge(FMT, DIV, timeout_bits=TIMEOUT_BITS)
        self.regs = AXILiteRegisters(REGMAP)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge, m.submodules.regs = self.bridge, self.regs
        wiring.connect(m, self.bridge.bus, self.regs.bus)
        return m


async def put(ctx, s, data: bytes):
    for b in data:
        ctx.set(s.payload, b)
        ctx.set(s.valid, 1)
        await ctx.tick().until(s.ready)
    ctx.set(s.valid, 0)


async def get(ctx, s, n: int) -> bytes:
    out = []
    ctx.set(s.ready, 1)
    for _ in range(n):
        (b,) = await ctx.tick().sample(s.payload).until(s.valid)
        out.append(b)
    ctx.set(s.ready, 0)
    return bytes(out)


def run(*benches, cycles=20_000):
    """Run the benches against a fresh bench; each must finish within ``cycles``."""
    dut = Bench()
    done = []

    def bound(bench):
        async def testbench(ctx):
            await bench(ctx, dut)
            done.append(bench)
        return testbench

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    for b in benches:
        sim.add_testbench(bound(b))
    sim.run_until(cycles * PERIOD)
    assert len(done) == len(benches), "a bench did not finish (the bridge hangs)"


def test_info_reports_the_format():
    async def host(ctx, dut):
        await put(ctx, dut.bridge.rx, bytes([Cmd.NOP, Cmd.NOP, Cmd.INFO]))
        got = await get(ctx, dut.bridge.tx, 1 + INFO_BYTES)
        assert got[0] == status_byte(Cmd.INFO, Status.OKAY)
        assert got[1:] == FMT.info_data()
        info = info_fields(got[1:])
        assert info["rx_fifo_depth"] == FMT.rx_fifo_depth == 32
        assert (info["in_beat_bytes"], info["out_beat_bytes"], info["addr_bytes"]) == (2, 3, 1)
        assert not ctx.get(dut.bridge.busy)
    run(host)


def test_register_writes_and_reads_with_their_responses():
    async def host(ctx, dut):
        ctx.set(dut.regs.b, 0xCAFE0042)
        b = dut.bridge
        await put(ctx, b.rx, FMT.write(0x40, 0x12345678))
        assert await get(ctx, b.tx, 1) == bytes([status_byte(Cmd.WRITE, Status.OKAY)])
        assert ctx.get(dut.regs.c) == 0x12345678
        await put(ctx, b.rx, FMT.read(0x40))
        assert await get(ctx, b.tx, 5) == bytes([0x30]) + (0x12345678).to_bytes(4, "little")
        await put(ctx, b.rx, FMT.read(0x4))
        assert await get(ctx, b.tx, 5) == bytes([0x30]) + (0xCAFE0042).to_bytes(4, "little")
        await put(ctx, b.rx, FMT.write(0x4, 1))                          # read-only: SLVERR
        assert await get(ctx, b.tx, 1) == bytes([status_byte(Cmd.WRITE, RESP_SLVERR)])
        await put(ctx, b.rx, FMT.read(0x20))                             # unmapped: SLVERR, 0
        assert await get(ctx, b.tx, 5) == bytes([status_byte(Cmd.READ, Status.SLVERR), 0, 0, 0, 0])
    run(host)


def test_push_is_answered_when_the_tile_takes_the_beat():
    taken = []

    async def host(ctx, dut):
        await put(ctx, dut.bridge.rx, FMT.push(0xABC, last=True) + FMT.push(0x123, last=False))
        assert await get(ctx, dut.bridge.tx, 1) == bytes([0x40])
        assert len(taken) == 1                       # answered only after the take
        assert await get(ctx, dut.bridge.tx, 1) == bytes([0x40])
        assert taken == [(0xABC, 1), (0x123, 0)]

    async def tile(ctx, dut):
        v = dut.bridge.vectors
        for _ in range(2):
            await ctx.tick().until(v.tvalid)
            await ctx.tick().repeat(40)              # the tile is busy: the beat stays offered
            assert ctx.get(v.tvalid)
            ctx.set(v.tready, 1)
            data, last = await ctx.tick().sample(v.tdata, v.tlast).until(v.tvalid)
            taken.append((data, last))
            ctx.set(v.tready, 0)
    run(host, tile)


def test_pull_is_empty_or_carries_one_beat():
    async def host(ctx, dut):
        b = dut.bridge
        await put(ctx, b.rx, bytes([Cmd.PULL]))
        assert await get(ctx, b.tx, 1) == bytes([status_byte(Cmd.PULL, Status.EMPTY)])
        r = b.results
        ctx.set(r.tdata, 0xF1234)
        ctx.set(r.tlast, 1)
        ctx.set(r.tvalid, 1)
        await put(ctx, b.rx, bytes([Cmd.PULL]))
        assert ctx.get(r.tvalid)
        got = await get(ctx, b.tx, 2 + FMT.out_beat_bytes)
        assert got == bytes([0x50, 1, 0x34, 0x12, 0x0F])
        ctx.set(r.tvalid, 0)
    run(host)


def test_unknown_command_partial_request_and_sticky_flags():
    async def host(ctx, dut):
        b = dut.bridge
        await put(ctx, b.rx, bytes([0x77]))
        assert await get(ctx, b.tx, 1) == bytes([0x7F])
        ctx.set(b.frame_error, 1)                    # the receiver's pulse
        await ctx.tick()
        ctx.set(b.frame_error, 0)
        assert ctx.get(b.flags) == LinkFlag.BAD_CMD | LinkFlag.FRAME_ERROR
        await put(ctx, b.rx, FMT.write(0x40, 0xFFFFFFFF)[:3])          # stops mid-request
        await ctx.tick().repeat(TIMEOUT_BITS * DIV + 4)
        await put(ctx, b.rx, bytes([Cmd.INFO]))
        info = info_fields((await get(ctx, b.tx, 1 + INFO_BYTES))[1:])
        assert info["flags"] == LinkFlag.BAD_CMD | LinkFlag.FRAME_ERROR | LinkFlag.FRAME_TIMEOUT
        assert ctx.get(dut.regs.c) == 0                                  # the write was dropped
        await put(ctx, b.rx, bytes([Cmd.INFO]))
        assert info_fields((await get(ctx, b.tx, 1 + INFO_BYTES))[1:])["flags"] == 0
    run(host)


def test_pipelined_requests_are_answered_in_order():
    """A window of requests sent back to back (the host driver's way) fits the FIFO and is
    answered in order, while the line is slower than the answers (tx ready rarely)."""
    reqs = [FMT.write(0x0, 7), FMT.read(0x0), FMT.write(0x40, 9), FMT.read(0x40), bytes([Cmd.INFO])]
    burst = b"".join(reqs)
    assert len(burst) <= FMT.rx_fifo_depth

    async def host(ctx, dut):
        await put(ctx, dut.bridge.rx, burst)         # the FIFO takes them all at once
        assert ctx.get(dut.bridge.busy)
        got = bytearray()
        for n in (1, 5, 1, 5, 1 + INFO_BYTES):
            await ctx.tick().repeat(10)
            got += await get(ctx, dut.bridge.tx, n)
        assert got[:12] == bytes([0x20, 0x30, 7, 0, 0, 0, 0x20, 0x30, 9, 0, 0, 0])
        assert got[12] == 0x10
    run(host)


def test_bad_arguments():
    with pytest.raises(TypeError, match="fmt must be a SerialFormat"):
        SerialBridge("fmt", 4)
    with pytest.raises(ValueError, match=r"timeout_bits must be an integer in \[16, 1048576\]"):
        SerialBridge(FMT, 4, timeout_bits=1)
    with pytest.raises(ValueError, match=r"in_beat_bits must be an integer in \[1, 4096\]"):
        SerialFormat(8, 0, 8)
