"""The board's host over its serial link (frames: :mod:`rpu.spec.serial`).

:class:`SerialHost` has the co-simulation host's API (:class:`~rpu.driver.host.TileOps`:
registers by name, ``forward``, ``backward``, ``update``, ``wait_idle`` …; the emulator's
window through :class:`~rpu.driver.host.EmulatorWindow`) over a *byte link*, an object
with ``async write(data)``, ``async read(n) -> bytes`` (exactly n bytes), ``async
idle(bits)`` (let ``bits`` bit times pass) and ``drain()`` (drop what was received):

* :class:`SerialPortLink`, a serial port through pyserial (the ``[board]`` extra), for a
  real board: ``asyncio.run(...)`` around the calls;
* :class:`rpu.testbench.serial_line.UartLine`, the board top's ``rx``/``tx`` pins driven
  bit by bit in a cocotb simulation.

Requests are pipelined: up to ``rx_fifo_depth`` request bytes may be unanswered (the
bridge's receive FIFO; the line has no flow control), answers are taken in order.  Vector
beats (``PUSH``) are sent without waiting; :meth:`SerialHost.wait_sent` collects their
answers (each comes when the tile took its beat).  Not for concurrent use by two
coroutines.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from rpu.config import EmulatorConfig, check_instance
from rpu.errors import RpuError, require_extra
from rpu.spec.serial import (FRAME_TIMEOUT_BITS, PROTOCOL_VERSION, Cmd, LinkFlag, Status,
                             info_fields, pack_beat, serial_format, unpack_beat)

from .host import EmulatorWindow, TileOps

__all__ = ["SerialHost", "SerialPortLink", "LinkError"]


class LinkError(RpuError):
    """The serial link failed: no answer, an answer out of step, a refused request."""


class SerialHost(TileOps):
    """``SerialHost(link, cfg, ecfg=None)``: the tile (and its emulator, :attr:`emu`) on a
    board top behind ``link``.  Call :meth:`connect` first."""

    def __init__(self, link, cfg, ecfg: EmulatorConfig | None = None, *, max_polls: int = 100000):
        super().__init__(cfg)
        self.ecfg = check_instance("ecfg", EmulatorConfig() if ecfg is None else ecfg,
                                   EmulatorConfig)
        self.link = link
        self.fmt = serial_format(cfg, self.ecfg)
        self.emu = EmulatorWindow(self, cfg, self.ecfg)
        self.max_polls = max_polls
        self._pending: deque = deque()        # (command, request bytes, answer holder)
        self._unanswered = 0
        self.bytes_sent = self.bytes_received = 0

    # -- the link --
    async def _request(self, frame: bytes) -> list:
        """Send one request once the window has room; returns its (future) answer holder."""
        while self._pending and self._unanswered + len(frame) > self.fmt.rx_fifo_depth:
            await self._answer_oldest()
        await self.link.write(frame)
        self.bytes_sent += len(frame)
        holder: list = []
        self._pending.append((Cmd(frame[0]), len(frame), holder))
        self._unanswered += len(frame)
        return holder

    async def _answer_oldest(self) -> None:
        cmd, size, holder = self._pending.popleft()
        (byte,) = await self.link.read(1)
        status = byte & 0xF
        if byte >> 4 != cmd & 0xF or status not in Status._value2member_map_:
            raise LinkError(f"answer {byte:#04x} to a {cmd.name} request is out of step "
                            "(SerialHost.sync resynchronises)")
        n = self.fmt.response_length(cmd, status)
        data = await self.link.read(n) if n else b""
        self.bytes_received += 1 + n
        self._unanswered -= size
        if status == Status.BAD_CMD:
            raise LinkError(f"the bridge did not know the {cmd.name} request")
        if cmd == Cmd.PUSH and status != Status.OKAY:
            raise LinkError(f"a vector beat was refused ({Status(status).name})")
        holder.append((status, data))

    async def _call(self, frame: bytes) -> tuple[int, bytes]:
        holder = await self._request(frame)
        while not holder:
            await self._answer_oldest()
        return holder[0]

    async def info(self) -> dict[str, int]:
        """The bridge's INFO (version, sticky link flags — cleared by this read —, formats)."""
        _, data = await self._call(bytes([Cmd.INFO]))
        return info_fields(data)

    async def connect(self) -> dict[str, int]:
        """Check the bridge speaks this protocol with this configuration's formats; returns
        its INFO.  Raises :class:`LinkError` on a mismatch."""
        info = await self.info()
        want = info_fields(self.fmt.info_data(info["flags"]))
        if info != want:
            diff = {k: (info[k], want[k]) for k in info if info[k] != want[k]}
            raise LinkError(f"the board's bridge differs from this configuration "
                            f"(field: (board, here)): {diff}; protocol version here {PROTOCOL_VERSION}")
        return info

    async def sync(self) -> dict[str, int]:
        """Get back in step after an error: let the bridge drop a partial request, drop what
        was received, forget pending requests, then :meth:`connect`."""
        await self.link.idle(FRAME_TIMEOUT_BITS + 64)
        self.link.drain()
        self._pending.clear()
        self._unanswered = 0
        return await self.connect()

    @staticmethod
    def flags(info: dict[str, int]) -> LinkFlag:
        return LinkFlag(info["flags"])

    # -- TileOps primitives --
    async def read_resp(self, addr: int) -> tuple[int, int]:
        """Read a word; returns ``(data, rresp)``."""
        status, data = await self._call(self.fmt.read(addr))
        return int.from_bytes(data, "little"), status

    async def read_addr(self, addr: int) -> int:
        return (await self.read_resp(addr))[0]

    async def write_addr(self, addr: int, value: int) -> int:
        status, _ = await self._call(self.fmt.write(addr, value))
        return status

    async def send(self, *frames) -> None:
        """Hand ``frames`` (each a sequence of values) to the tile, one PUSH per beat, without
        waiting for the answers (:meth:`wait_sent`).  A frame fills ``ceil(len /
        stream_width)`` beats, its last beat zero-padded."""
        h = self.cfg.host
        for f in frames:
            f = np.asarray(f, dtype=np.int64).reshape(-1)
            if f.size == 0:
                raise ValueError("a frame must have at least one value")
            beats = -(-f.size // h.stream_width)
            for b in range(beats):
                word = pack_beat(f[b * h.stream_width:(b + 1) * h.stream_width], h.value_bits)
                await self._request(self.fmt.push(word, last=b == beats - 1))

    async def wait_sent(self) -> None:
        """Until every request sent was answered (every pushed beat taken by the tile)."""
        while self._pending:
            await self._answer_oldest()

    async def recv(self, lines: int | None = None) -> np.ndarray:
        """The next result frame (PULL until its last beat); with ``lines``, its first
        ``lines`` values (the lanes past the last line must be 0)."""
        h = self.cfg.host
        values: list[int] = []
        polls = 0
        while True:
            status, data = await self._call(bytes([Cmd.PULL]))
            if status == Status.EMPTY:
                polls += 1
                if polls > self.max_polls:
                    raise LinkError(f"no result beat after {self.max_polls} polls")
                continue
            values += unpack_beat(int.from_bytes(data[1:], "little"), h.result_bits, h.stream_width)
            if data[0] & 1:
                break
        out = np.array(values, dtype=np.int64)
        if lines is None:
            return out
        assert not out[lines:].any(), f"lanes past line {lines - 1} not 0: {out[lines:]}"
        return out[:lines]


class SerialPortLink:
    """``SerialPortLink(port, baud=115200, timeout=2.0)``: a serial port (pyserial) as the
    byte link of a :class:`SerialHost`; a read that gets fewer bytes than asked within
    ``timeout`` seconds raises :class:`LinkError`."""

    def __init__(self, port: str, baud: int = 115200, *, timeout: float = 2.0):
        serial = require_extra("serial", "board", "SerialPortLink (pyserial)")
        self.baud = baud
        self.port = serial.Serial(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                  timeout=timeout)

    async def write(self, data: bytes) -> None:
        self.port.write(data)

    async def read(self, n: int) -> bytes:
        data = self.port.read(n)
        if len(data) != n:
            raise LinkError(f"{self.port.port}: {len(data)} of {n} bytes within "
                            f"{self.port.timeout} s (is the board programmed and the baud "
                            f"rate {self.baud}?)")
        return data

    async def idle(self, bits: int) -> None:
        self.port.flush()
        time.sleep(bits / self.baud)

    def drain(self) -> None:
        self.port.reset_input_buffer()

    def close(self) -> None:
        self.port.close()
