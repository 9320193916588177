"""Host driver of the tile top over cocotbext-axi: registers (AXI4-Lite) and vectors
(AXI4-Stream in ``s_axis``, results out of ``m_axis``).

Vectors are host fixed-point integers (``cfg.value_bits``); one stream "byte" is one value
(``byte_size = value_bits``), lane 0 = lowest line index.  An update's vector is x (N
values) followed by d (M values) in one frame.
"""

from __future__ import annotations

import numpy as np
from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame,
                           AxiStreamSink, AxiStreamSource)

from rpu.rtl.regmap import OPS, register_map

__all__ = ["Host", "am_axil_write", "am_axil_read"]


def _signed(values, bits):
    v = np.asarray(values, dtype=np.int64)
    return np.where(v >= 1 << (bits - 1), v - (1 << bits), v)


class Host:
    """``Host(dut, cfg)``: AXI master + stream source/sink, named after the register map."""

    def __init__(self, dut, cfg, *, result_bits: int | None = None):
        self.cfg = cfg
        self.rm = register_map(cfg)
        self.result_bits = result_bits or len(dut.m_axis__tdata) // cfg.stream_width
        self.axil = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil", bus_separator="__"),
                                  dut.clk, dut.rst)
        self.src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis", bus_separator="__"),
                                   dut.clk, dut.rst, byte_size=cfg.value_bits)
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis", bus_separator="__"),
                                  dut.clk, dut.rst, byte_size=self.result_bits)
        for h in (self.axil.write_if, self.axil.read_if, self.src, self.sink):
            h.log.setLevel("WARNING")

    # -- registers --
    async def read(self, name: str, index: int = 0) -> int:
        return await self.axil.read_dword(self.rm.addr(name, index))

    async def write(self, name: str, value: int) -> int:
        """Write a register; returns the AXI response (0 OKAY, 2 SLVERR)."""
        resp = await self.axil.write(self.rm.addr(name), int(value).to_bytes(4, "little"))
        return int(resp.resp)

    async def write_fields(self, name: str, **fields) -> int:
        return await self.write(name, self.rm.encode(name, **fields))

    async def status(self) -> dict[str, int]:
        return self.rm.decode("STATUS", await self.read("STATUS"))

    async def read_array(self, name: str) -> np.ndarray:
        r = self.rm[name]
        return np.array([await self.read(name, i) for i in range(r.count)], dtype=np.int64)

    # -- operations --
    async def start(self, op: str) -> int:
        return await self.write_fields("CTRL", start=1, op=OPS.index(op))

    def send_nowait(self, values) -> None:
        mask = (1 << self.cfg.value_bits) - 1
        self.src.send_nowait(AxiStreamFrame([int(v) & mask for v in values]))

    async def send(self, values) -> None:
        self.send_nowait(values)
        await self.src.wait()

    async def recv(self) -> np.ndarray:
        frame = await self.sink.recv()
        return _signed(frame.tdata, self.result_bits)

    async def forward(self, x_fixed) -> np.ndarray:
        await self.start("forward")
        self.send_nowait(x_fixed)
        return await self.recv()

    async def backward(self, d_fixed) -> np.ndarray:
        await self.start("backward")
        self.send_nowait(d_fixed)
        return await self.recv()

    async def update(self, x_fixed, d_fixed) -> None:
        """Start an update and queue its two frames (x, then d).  Waits first until the
        previous frames were taken (so the tile's command queue is free): back-to-back
        calls keep the tile busy without polling STATUS."""
        await self.src.wait()
        await self.start("update")
        self.send_nowait(x_fixed)
        self.send_nowait(d_fixed)

    async def wait_cmd_ready(self, max_polls: int = 100000) -> None:
        for _ in range(max_polls):
            if (await self.status())["cmd_ready"]:
                return
        raise TimeoutError("tile did not accept a command")

    async def wait_idle(self, max_polls: int = 100000) -> dict[str, int]:
        for _ in range(max_polls):
            st = await self.status()
            if not st["busy"] and not st["loading"]:
                return st
        raise TimeoutError("tile did not return to idle")


# -- the same register accesses under Amaranth's simulator (block tests) --

async def am_axil_write(ctx, bus, addr, data):
    ctx.set(bus.awaddr, addr)
    ctx.set(bus.wdata, data)
    ctx.set(bus.wstrb, 0xF)
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
    ctx.set(bus.araddr, addr)
    ctx.set(bus.arvalid, 1)
    ctx.set(bus.rready, 1)
    while not ctx.get(bus.arready):
        await ctx.tick()
    await ctx.tick()
    ctx.set(bus.arvalid, 0)
    while not ctx.get(bus.rvalid):
        await ctx.tick()
    data = ctx.get(bus.rdata)
    await ctx.tick()
    ctx.set(bus.rready, 0)
    return data
