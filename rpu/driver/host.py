"""The tile's host operations written once over four access primitives, and the emulator's
register window.

A host class implements ``read_addr(addr) -> int``, ``write_addr(addr, value) -> resp``,
``send(*frames)`` (hand vector frames to the tile), ``wait_sent()`` (until the tile took
them) and ``recv(lines=None)`` (the next result frame); :class:`TileOps` adds everything
else by register name: the co-simulation host (:class:`rpu.testbench.host.Host`, AXI4-Lite
master and stream player) and the board's serial host (:class:`rpu.driver.SerialHost`) are
the two implementations, so a bench runs unchanged over either.

Vectors are host fixed-point integers (``cfg.host.value_bits``), ``stream_width`` values per
beat, lane 0 = lowest line index.  An update's vector is two frames, x (N values) then d
(M values).
"""

from __future__ import annotations

import numpy as np

from rpu.config import EmulatorConfig, TileConfig, check_instance
from rpu.spec.emulator import emulator_register_map, emulator_window
from rpu.spec.encodings import Op
from rpu.spec.registers import register_map

__all__ = ["TileOps", "EmulatorWindow", "EMU_COUNTERS"]


class TileOps:
    """The tile's operations by register name (``self.rm``, ``self.cfg``) over the access
    primitives of a subclass."""

    def __init__(self, cfg: TileConfig):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.rm = register_map(cfg)

    # -- primitives (subclasses) --
    async def read_addr(self, addr: int) -> int:
        raise NotImplementedError

    async def write_addr(self, addr: int, value: int) -> int:
        raise NotImplementedError

    async def send(self, *frames) -> None:
        raise NotImplementedError

    async def wait_sent(self) -> None:
        raise NotImplementedError

    async def recv(self, lines: int | None = None) -> np.ndarray:
        raise NotImplementedError

    # -- registers --
    async def read(self, name: str, index: int = 0) -> int:
        return await self.read_addr(self.rm.addr(name, index))

    async def write(self, name: str, value: int) -> int:
        """Write a register; returns the AXI response (0 OKAY, 2 SLVERR)."""
        return await self.write_addr(self.rm.addr(name), value)

    async def write_fields(self, name: str, **fields) -> int:
        return await self.write(name, self.rm.encode(name, **fields))

    async def status(self) -> dict[str, int]:
        return self.rm.decode("STATUS", await self.read("STATUS"))

    async def read_array(self, name: str) -> np.ndarray:
        r = self.rm[name]
        return np.array([await self.read(name, i) for i in range(r.words)], dtype=np.int64)

    # -- operations --
    async def start(self, op: str, count: int = 1) -> int:
        """Queue ``count`` operations ``op`` with one CTRL write (``CTRL.count``)."""
        return await self.write_fields("CTRL", start=1, op=Op[op.upper()], count=count)

    async def forward(self, x_fixed) -> np.ndarray:
        """Start a forward, hand its frame over, return its results.  Waits first until the
        previous frames were taken (the command queue holds one command: a CTRL write while
        a queued update still waits for a free vector set would be refused as
        ``cmd_busy``, and its frame would then wait forever)."""
        await self.wait_sent()
        await self.start("forward")
        await self.send(x_fixed)
        return await self.recv(self.cfg.out_size)

    async def backward(self, d_fixed) -> np.ndarray:
        """As :meth:`forward`, for Wᵀ·d."""
        await self.wait_sent()
        await self.start("backward")
        await self.send(d_fixed)
        return await self.recv(self.cfg.in_size)

    async def update(self, x_fixed, d_fixed) -> None:
        """Start an update and hand its two frames (x, then d) over.  Waits first until the
        previous frames were taken (so the tile's command queue is free): back-to-back calls
        keep the tile busy without polling STATUS."""
        await self.wait_sent()
        await self.start("update")
        await self.send(x_fixed, d_fixed)

    async def update_burst(self, pairs) -> None:
        """``len(pairs)`` updates (``(x_fixed, d_fixed)`` each) from one CTRL write with
        ``count``; their frames then follow each other as fast as the tile takes them."""
        pairs = list(pairs)
        if not 1 <= len(pairs) <= 0xFFFF:
            raise ValueError(f"a burst must have 1 to 65535 updates, not {len(pairs)}")
        await self.wait_sent()
        await self.start("update", count=len(pairs))
        for x, d in pairs:
            await self.send(x, d)

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


#: the emulator's counters, in register order
EMU_COUNTERS = ("EMU_STALL_UPDATE", "EMU_STALL_READ", "EMU_STALL_HOST", "EMU_SLOTS", "EMU_ROWS",
                "EMU_PULSES_UP", "EMU_PULSES_DOWN", "EMU_READS")


class EmulatorWindow:
    """``EmulatorWindow(host, cfg, ecfg)``: the emulator's registers (at
    ``emulator_window(cfg, ecfg).base``) through a host's ``read_addr``/``write_addr``: its
    status and counters, the states read back row by row, pokes.  ``commands`` counts the
    EMU_ROW / EMU_POKE writes (each freezes the tile ``spec.emulator.HOST_STALL`` cycles)."""

    def __init__(self, host, cfg: TileConfig, ecfg: EmulatorConfig):
        self.host, self.cfg = host, cfg
        self.rm = emulator_register_map(cfg, ecfg)
        self.base = emulator_window(cfg, ecfg).base
        self.commands = 0

    async def read(self, name: str, index: int = 0) -> int:
        return await self.host.read_addr(self.base + self.rm.addr(name, index))

    async def write(self, name: str, value: int) -> int:
        return await self.host.write_addr(self.base + self.rm.addr(name), value)

    async def status(self) -> dict[str, int]:
        return self.rm.decode("EMU_STATUS", await self.read("EMU_STATUS"))

    async def wait_ready(self, max_polls: int = 100000) -> None:
        """Until the initialisation after reset is done and no command waits."""
        for _ in range(max_polls):
            st = await self.status()
            if st["ready"] and not st["pending"] and not st["busy"]:
                return
        raise TimeoutError("the emulator did not become ready")

    async def command(self, name: str, value: int) -> None:
        assert await self.write(name, value) == 0, f"{name} write refused"
        self.commands += 1
        for _ in range(100000):
            if not (await self.status())["pending"]:
                return
        raise TimeoutError(f"the emulator did not take {name}")

    async def states(self) -> np.ndarray:
        """All device states (M, N), row by row through EMU_ROW / EMU_STATES."""
        out = np.zeros((self.cfg.out_size, self.cfg.in_size), np.int64)
        for i in range(self.cfg.out_size):
            await self.command("EMU_ROW", i)
            for j in range(self.cfg.in_size):
                w = await self.read("EMU_STATES", j)
                out[i, j] = w - (1 << 32) if w >> 31 else w
        return out

    async def poke(self, row: int, col: int, value: int) -> None:
        await self.command("EMU_ROW", row)
        await self.command("EMU_POKE", (col & 0xFFFF) | ((int(value) & 0xFFFF) << 16))

    async def counters(self) -> dict[str, int]:
        return {n: await self.read(n) for n in EMU_COUNTERS}
