"""The serial link of the board top (an FPGA prototyping aid): the UART's bit timing and the
framed byte protocol between a host and the bridge (:mod:`rpu.rtl.bridge`), read by the
gateware, the host driver (:mod:`rpu.driver`) and the benches.  Docs: docs/fpga.md, "Board".

**Line.** 8N1 (a start bit 0, eight data bits LSB first, a stop bit 1), ``divisor`` clock
cycles per bit, ``divisor = round(clk_hz / baud)`` (:func:`uart_divisor`, within
:data:`BAUD_TOLERANCE` of the wanted rate).

**Frames.** A request is a command byte then a fixed number of payload bytes
(:meth:`SerialFormat.request_length`); multi-byte fields are little-endian.  Every request
but ``NOP`` is answered by one *status byte*, ``(command & 0xF) << 4 | status``, then a fixed
number of data bytes (:meth:`SerialFormat.response_length`, which depends on the command and
the status only).  The bridge works on one request at a time, in order; it answers a
request when it is done (a write when its ``bresp`` came, a pushed beat when the tile took
it), so a host that keeps at most :attr:`SerialFormat.rx_fifo_depth` request bytes
unanswered never overruns the bridge's receive FIFO (the line has no flow control).

======  =====  ==========================================  =====================================
code    name   payload                                     response data
======  =====  ==========================================  =====================================
0x00    NOP    —                                           none (no status byte either)
0x01    INFO   —                                           :data:`INFO_BYTES` (:func:`info_fields`)
0x02    WRITE  address (``addr_bytes``), data (4)          — (status = the AXI ``bresp``)
0x03    READ   address (``addr_bytes``)                    data (4) (status = the AXI ``rresp``)
0x04    PUSH   flags (1: bit 0 = ``tlast``), one beat      — (sent when the tile took the beat)
0x05    PULL   —                                           OKAY: flags (1), one beat; EMPTY: none
======  =====  ==========================================  =====================================

A beat is the AXI4-Stream ``tdata``, lane 0 in the lowest bits, as ``ceil(bits / 8)``
little-endian bytes.  A ``PUSH`` waits for the tile (the stream's rules: a beat offered stays
offered), so push only beats the tile expects; a ``PULL`` never waits (``EMPTY`` when no
result beat is offered).  An unknown command byte is answered ``BAD_CMD`` and skipped.  A
request whose payload stops coming for :data:`FRAME_TIMEOUT_BITS` bit times is dropped
(flag ``FRAME_TIMEOUT``), so a host can always get back in step: wait that long, drain the
line, send ``INFO``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from rpu.config import (ConfigValueError, EmulatorConfig, FloatRule, IntRule, TileConfig,
                         check_instance)

from .encodings import RESP_OKAY, RESP_SLVERR
from .emulator import emulator_window

__all__ = ["PROTOCOL_VERSION", "Cmd", "Status", "LinkFlag", "INFO_BYTES", "BITS_PER_BYTE",
           "UART_MIN_DIVISOR", "UART_MAX_DIVISOR", "BAUD_TOLERANCE", "FRAME_TIMEOUT_BITS",
           "RX_FIFO_MIN", "uart_divisor", "status_byte", "SerialFormat", "serial_format",
           "info_fields", "pack_beat", "unpack_beat"]

PROTOCOL_VERSION = 1
INFO_BYTES = 8
BITS_PER_BYTE = 10                 # 8N1: start, 8 data, stop
UART_MIN_DIVISOR = 4               # clock cycles per bit: mid-bit sampling after a 2-FF synchroniser
UART_MAX_DIVISOR = 1 << 16
BAUD_TOLERANCE = 0.02              # |clk / divisor − baud| / baud (8N1 tolerates about 4 % in all)
FRAME_TIMEOUT_BITS = 1 << 14       # a request's payload gap that drops it (≈ 0.14 s at 115200)
RX_FIFO_MIN = 32                   # receive FIFO bytes (at least two of the longest requests)


class Cmd(enum.IntEnum):
    """Command bytes (requests)."""
    NOP = 0x00
    INFO = 0x01
    WRITE = 0x02
    READ = 0x03
    PUSH = 0x04
    PULL = 0x05


class Status(enum.IntEnum):
    """Low nibble of a status byte (WRITE/READ: the AXI response code itself)."""
    OKAY = RESP_OKAY
    SLVERR = RESP_SLVERR
    DECERR = 3
    EMPTY = 4                      # PULL: no result beat offered
    BAD_CMD = 0xF                  # unknown command byte


class LinkFlag(enum.IntFlag):
    """Sticky link errors (INFO byte 1, cleared by the INFO that reports them; the error LED)."""
    RX_OVERRUN = 1                 # a byte came before the previous one was taken (lost)
    FRAME_ERROR = 2                # a stop bit was 0 (the byte is dropped)
    BAD_CMD = 4                    # an unknown command byte
    FRAME_TIMEOUT = 8              # a request's payload stopped coming (the request is dropped)


def uart_divisor(clk_hz: float, baud: float) -> int:
    """Clock cycles per bit for ``baud`` at ``clk_hz``: ``round(clk_hz / baud)``, which must be
    in [UART_MIN_DIVISOR, UART_MAX_DIVISOR] and within BAUD_TOLERANCE of the rate."""
    FloatRule(1e3, 1e9).check("clk_hz", clk_hz)
    FloatRule(300.0, 1e8).check("baud", baud)
    div = round(clk_hz / baud)
    if not UART_MIN_DIVISOR <= div <= UART_MAX_DIVISOR:
        raise ConfigValueError(f"baud must give {UART_MIN_DIVISOR} to {UART_MAX_DIVISOR} clock cycles per "
                         f"bit at {clk_hz / 1e6:g} MHz (at most {clk_hz / UART_MIN_DIVISOR:.0f}), "
                         f"not {baud:g}")
    err = abs(clk_hz / div - baud) / baud
    if err > BAUD_TOLERANCE:
        raise ConfigValueError(f"baud must be within {BAUD_TOLERANCE:.0%} of clk_hz / an integer at "
                         f"{clk_hz / 1e6:g} MHz (the nearest, divisor {div}, is off by "
                         f"{err:.1%}), not {baud:g}")
    return div


def status_byte(cmd: int, status: int) -> int:
    return ((int(cmd) & 0xF) << 4) | int(status)


def _bytes(bits: int) -> int:
    return -(-bits // 8)


@dataclass(frozen=True)
class SerialFormat:
    """Field widths of the frames for one bus: ``addr_width`` address bits, ``in_beat_bits``
    (vectors to the tile) and ``out_beat_bits`` (results) per stream beat."""

    addr_width: int
    in_beat_bits: int
    out_beat_bits: int

    def __post_init__(self):
        IntRule(3, 32).check("addr_width", self.addr_width)
        IntRule(1, 4096).check("in_beat_bits", self.in_beat_bits)
        IntRule(1, 4096).check("out_beat_bits", self.out_beat_bits)

    @property
    def addr_bytes(self) -> int:
        return _bytes(self.addr_width)

    @property
    def in_beat_bytes(self) -> int:
        return _bytes(self.in_beat_bits)

    @property
    def out_beat_bytes(self) -> int:
        return _bytes(self.out_beat_bits)

    def request_length(self, cmd: Cmd) -> int:
        """Payload bytes after the command byte."""
        return {Cmd.NOP: 0, Cmd.INFO: 0, Cmd.WRITE: self.addr_bytes + 4, Cmd.READ: self.addr_bytes,
                Cmd.PUSH: 1 + self.in_beat_bytes, Cmd.PULL: 0}[Cmd(cmd)]

    def response_length(self, cmd: Cmd, status: int) -> int:
        """Data bytes after the status byte."""
        cmd = Cmd(cmd)
        if status == Status.BAD_CMD:
            return 0
        if cmd == Cmd.INFO:
            return INFO_BYTES
        if cmd == Cmd.READ:
            return 4
        if cmd == Cmd.PULL and status == Status.OKAY:
            return 1 + self.out_beat_bytes
        return 0

    @property
    def max_payload(self) -> int:
        return max(self.request_length(c) for c in Cmd)

    @property
    def max_response(self) -> int:
        """Longest response, status byte included."""
        return 1 + max(self.response_length(c, s) for c in Cmd for s in (Status.OKAY, Status.EMPTY))

    @property
    def rx_fifo_depth(self) -> int:
        """Receive FIFO bytes: a power of two holding two of the longest requests."""
        need = max(RX_FIFO_MIN, 2 * (1 + self.max_payload))
        return 1 << (need - 1).bit_length()

    # -- requests --
    def write(self, addr: int, value: int) -> bytes:
        return (bytes([Cmd.WRITE]) + int(addr).to_bytes(self.addr_bytes, "little")
                + (int(value) & 0xFFFFFFFF).to_bytes(4, "little"))

    def read(self, addr: int) -> bytes:
        return bytes([Cmd.READ]) + int(addr).to_bytes(self.addr_bytes, "little")

    def push(self, beat: int, last: bool) -> bytes:
        return bytes([Cmd.PUSH, int(bool(last))]) + int(beat).to_bytes(self.in_beat_bytes, "little")

    def info_data(self, flags: int = 0) -> bytes:
        """INFO's data bytes: version, flags, addr_bytes, log2(rx_fifo_depth), in and out beat
        bytes (16 bits each)."""
        return bytes([PROTOCOL_VERSION, int(flags), self.addr_bytes,
                      self.rx_fifo_depth.bit_length() - 1]) + \
            self.in_beat_bytes.to_bytes(2, "little") + self.out_beat_bytes.to_bytes(2, "little")


def info_fields(data: bytes) -> dict[str, int]:
    """INFO's data bytes by name."""
    if len(data) != INFO_BYTES:
        raise ConfigValueError(f"INFO data must be {INFO_BYTES} bytes, not {len(data)}")
    return {"version": data[0], "flags": data[1], "addr_bytes": data[2],
            "rx_fifo_depth": 1 << data[3], "in_beat_bytes": int.from_bytes(data[4:6], "little"),
            "out_beat_bytes": int.from_bytes(data[6:8], "little")}


def serial_format(cfg: TileConfig, ecfg: EmulatorConfig) -> SerialFormat:
    """The board's frames: the emulated tile's address space and stream beats."""
    check_instance("cfg", cfg, TileConfig)
    h = cfg.host
    return SerialFormat(emulator_window(cfg, ecfg).addr_width, h.stream_width * h.value_bits,
                        h.stream_width * h.result_bits)


def pack_beat(values, bits: int) -> int:
    """Integers as ``bits``-bit two's-complement lanes of one beat (lane 0 lowest)."""
    mask, word = (1 << bits) - 1, 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * bits)
    return word


def unpack_beat(word: int, bits: int, lanes: int) -> list[int]:
    """The ``lanes`` signed ``bits``-bit lanes of a beat."""
    mask, half = (1 << bits) - 1, 1 << (bits - 1)
    out = []
    for i in range(lanes):
        v = (int(word) >> (i * bits)) & mask
        out.append(v - (1 << bits) if v & half else v)
    return out
