"""The board top's serial pins in a cocotb simulation, as the byte link of
:class:`rpu.driver.SerialHost`: bytes written are driven on ``rx`` bit by bit (8N1), bytes
the design sends on ``tx`` are decoded by a monitor and queued.  Bit times are simulated
time (``divisor`` clock periods), so the cost per byte does not grow with the divisor.
"""

from __future__ import annotations

from collections import deque

import cocotb
from cocotb.triggers import Event, FallingEdge, First, Timer

from rpu.driver.serial_host import LinkError
from rpu.testbench.layouts import CLOCK_NS

__all__ = ["UartLine"]


class UartLine:
    """``UartLine(rx, tx, divisor, *, read_timeout_bytes=4000)``: the host end of the line
    (``rx`` the design's input, driven here; ``tx`` its output, monitored).  A read that waits
    longer than ``read_timeout_bytes`` byte times raises :class:`LinkError`.  ``frame_errors``
    counts bytes from the design with a bad stop bit."""

    def __init__(self, rx, tx, divisor: int, *, read_timeout_bytes: int = 4000):
        self.rx, self.tx = rx, tx
        self.bit_ns = divisor * CLOCK_NS
        self.read_timeout_ns = read_timeout_bytes * 10 * self.bit_ns
        self.frame_errors = 0
        self._queue: deque[int] = deque()
        self._arrived = Event()
        rx.value = 1
        self._monitor_task = cocotb.start_soon(self._monitor())

    async def write(self, data: bytes) -> None:
        for byte in data:
            for bit in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                self.rx.value = bit
                await Timer(self.bit_ns, unit="ns")

    async def _monitor(self) -> None:
        half = self.bit_ns / 2
        while True:
            await FallingEdge(self.tx)
            await Timer(half, unit="ns")
            if int(self.tx.value) != 0:
                continue                                # a glitch, not a start bit
            value = 0
            for i in range(8):
                await Timer(self.bit_ns, unit="ns")
                value |= int(self.tx.value) << i
            await Timer(self.bit_ns, unit="ns")
            if int(self.tx.value) != 1:
                self.frame_errors += 1
                continue
            self._queue.append(value)
            self._arrived.set()

    async def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            if not self._queue:
                self._arrived.clear()
                await First(self._arrived.wait(), Timer(self.read_timeout_ns, unit="ns"))
                if not self._queue:
                    raise LinkError(f"no byte from the board for {self.read_timeout_ns / 1e3:.0f} "
                                    f"µs of simulated time ({len(out)} of {n} received)")
            out.append(self._queue.popleft())
        return bytes(out)

    async def idle(self, bits: int) -> None:
        await Timer(bits * self.bit_ns, unit="ns")

    def drain(self) -> None:
        self._queue.clear()
