"""Host driver of the tile in co-simulation: registers over AXI4-Lite (cocotbext-axi
master), vectors through the harness's vector player into ``s_axis``, results from
``m_axis`` (cocotbext-axi sink).

Vectors are host fixed-point integers (``cfg.host.value_bits``), ``stream_width`` values per
beat, lane 0 = lowest line index.  An update's vector is two frames, x (N values) then d
(M values).  Why a player and not cocotbext-axi's ``AxiStreamSource``: see
:mod:`rpu.testbench.harness`.
"""

from __future__ import annotations

import numpy as np
import cocotb
from cocotb.triggers import RisingEdge, ValueChange
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamSink

from rpu.driver.host import TileOps
from rpu.testbench.lanes import pack_lanes

__all__ = ["Host", "am_axil_write", "am_axil_read", "am_axil_read_resp"]


def _signed(values, bits):
    v = np.asarray(values, dtype=np.int64)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


class Host(TileOps):
    """``Host(dut, cfg)`` on a :class:`~rpu.testbench.harness.CosimHarness` top: AXI-Lite
    master, vector player and result sink; the operations by register name are
    :class:`~rpu.driver.host.TileOps`' (shared with the board's serial host)."""

    def __init__(self, dut, cfg, *, result_bits: int | None = None):
        super().__init__(cfg)
        self.dut = dut
        self.result_bits = result_bits or len(dut.m_axis__tdata) // cfg.host.stream_width
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__"),
                                  dut.clk, dut.rst)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis", bus_separator="__"),
                                  dut.clk, dut.rst, byte_size=self.result_bits)
        for h in (self.axil.write_if, self.axil.read_if, self.sink):
            h.log.setLevel("WARNING")
        self.play_beats = len(dut.vp_last)
        self._go = 0
        self._sets = 0                   # frame sets handed to the player (mod 256)
        for name in ("vp_data", "vp_count", "vp_last", "vp_go"):
            getattr(dut, name).value = 0
        cocotb.start_soon(self._follow_reset())

    async def _follow_reset(self) -> None:
        """A DUT reset restarts the player empty (its counters at 0) and drops the results
        received so far (cocotbext-axi's master and sink follow ``rst`` themselves)."""
        while True:
            await RisingEdge(self.dut.rst)
            self._go = self._sets = 0
            self.dut.vp_go.value = 0
            self.sink.clear()

    # -- the access primitives of TileOps --
    async def read_addr(self, addr: int) -> int:
        return await self.axil.read_dword(addr)

    async def write_addr(self, addr: int, value: int) -> int:
        resp = await self.axil.write(addr, int(value).to_bytes(4, "little"))
        return int(resp.resp)

    # -- vectors --
    async def send(self, *frames) -> None:
        """Hand ``frames`` (each a sequence of values; any length, so malformed frames can be
        sent on purpose) to the player as one set; waits first until the previous set is
        out.  Returns when the set is loaded, not when it has been taken.  A frame fills
        ``ceil(len / stream_width)`` beats, its last beat zero-padded."""
        lanes, w = self.cfg.host.stream_width, self.cfg.host.stream_width * self.cfg.host.value_bits
        data, beats, last = 0, 0, 0
        for f in frames:
            f = np.asarray(f, dtype=np.int64).reshape(-1)
            if f.size == 0:
                raise ValueError("a frame must have at least one value")
            data |= pack_lanes(f, self.cfg.host.value_bits) << (beats * w)
            beats += -(-f.size // lanes)
            last |= 1 << (beats - 1)
        if beats > self.play_beats:
            raise ValueError(f"frames must fit the player's {self.play_beats} beats, not {beats}")
        await self.wait_sent()
        self.dut.vp_data.value = data
        self.dut.vp_count.value = beats
        self.dut.vp_last.value = last
        self._go ^= 1
        self.dut.vp_go.value = self._go
        self._sets = (self._sets + 1) & 0xFF

    async def wait_sent(self) -> None:
        """Until every set handed to the player has been taken by the tile."""
        while int(self.dut.vp_sets.value) != self._sets:
            await ValueChange(self.dut.vp_sets)

    async def recv(self, lines: int | None = None) -> np.ndarray:
        """The next result frame; with ``lines``, its first ``lines`` values (the frame has
        ``ceil(lines / stream_width)`` beats; the lanes past the last line must be 0)."""
        frame = await self.sink.recv()
        values = _signed(frame.tdata, self.result_bits)
        if lines is None:
            return values
        assert not values[lines:].any(), f"lanes past line {lines - 1} not 0: {values[lines:]}"
        return values[:lines]


# -- the same register accesses under Amaranth's simulator (block tests) --

async def am_axil_write(ctx, bus, addr, data, strb=0xF):
    """Write ``data`` with byte strobes ``strb``; returns ``bresp``."""
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, strb)
    ctx.set(bus.awvalid, 1)
    ctx.set(bus.wvalid, 1)
    ctx.set(bus.bready, 1)
    while not ctx.get(bus.awready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.awvalid, 0)
    ctx.set(bus.wvalid, 0)
    while not ctx.get(bus.bvalid):
        await ctx.tick()
    resp = ctx.get(bus.bresp)
    await ctx.tick()
    ctx.set(bus.bready, 0)
    return resp


async def am_axil_read(ctx, bus, addr):
    """Read a word; returns ``rdata``."""
    return (await am_axil_read_resp(ctx, bus, addr))[0]


async def am_axil_read_resp(ctx, bus, addr):
    """Read a word; returns ``(rdata, rresp)``."""
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    while not ctx.get(bus.arready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.arvalid, 0)
    while not ctx.get(bus.rvalid):
        await ctx.tick()
    data, resp = ctx.get(bus.rdata), ctx.get(bus.rresp)
    await ctx.tick()
    ctx.set(bus.rready, 0)
    return data, resp
