"""8N1 UART: a receiver and a transmitter, ``divisor`` clock cycles per bit
(:func:`rpu.spec.serial.uart_divisor` derives it from the clock and the baud rate).

Written here rather than taken from amaranth-stdio: its PyPI release is an empty placeholder
and its source needs Amaranth < 0.5 (docs/fpga.md, "Board").
"""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule
from rpu.spec.serial import UART_MAX_DIVISOR, UART_MIN_DIVISOR

from .common import StateRegister

__all__ = ["UARTReceiver", "UARTTransmitter", "check_divisor"]


def check_divisor(divisor: int) -> int:
    return IntRule(UART_MIN_DIVISOR, UART_MAX_DIVISOR).check("divisor", divisor)


class UARTReceiver(wiring.Component):
    """``UARTReceiver(divisor)``: the ``rx`` line (asynchronous, synchronised here) to bytes.

    ``data`` (stream source) holds one received byte until it is taken; a byte completed
    while the previous one is still held is dropped and pulses ``overrun``.  A start bit is a
    falling edge still low half a bit later; each bit is sampled mid-bit; a stop bit of 0
    drops the byte and pulses ``frame_error`` (a held-low line, a break, gives one error,
    not a stream of zeros).
    """

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__({"rx": In(1, init=1), "data": Out(stream.Signature(8)),
                          "frame_error": Out(1), "overrun": Out(1)})

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        rx = Signal(init=1)
        prev = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        m.d.sync += prev.eq(rx)
        fsm = StateRegister(m, "rx", ("IDLE", "START", "DATA", "STOP"))
        timer = Signal(range(div))
        bits = Signal(range(8))
        shift = Signal(8)
        tick = timer == 0
        with m.If(~tick):
            m.d.sync += timer.eq(timer - 1)

        with m.If(self.data.valid & self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        with m.If(fsm.ongoing("IDLE")):
            with m.If(prev & ~rx):                       # falling edge: half a bit to mid-start
                m.d.sync += timer.eq(div // 2 - 1)
                fsm.goto("START")
        with m.Elif(tick):
            m.d.sync += timer.eq(div - 1)
            with m.If(fsm.ongoing("START")):
                with m.If(rx):
                    fsm.goto("IDLE")                     # a glitch, not a start bit
                with m.Else():
                    m.d.sync += bits.eq(0)
                    fsm.goto("DATA")
            with m.Elif(fsm.ongoing("DATA")):
                m.d.sync += [shift.eq(Cat(shift[1:], rx)), bits.eq(bits + 1)]
                with m.If(bits == 7):
                    fsm.goto("STOP")
            with m.Else():                               # mid-stop: back to IDLE (half a bit early)
                fsm.goto("IDLE")
                with m.If(~rx):
                    m.d.comb += self.frame_error.eq(1)
                with m.Elif(self.data.valid & ~self.data.ready):
                    m.d.comb += self.overrun.eq(1)
                with m.Else():
                    m.d.sync += [self.data.payload.eq(shift), self.data.valid.eq(1)]
        return m


class UARTTransmitter(wiring.Component):
    """``UARTTransmitter(divisor)``: bytes (``data``, stream sink) to the ``tx`` line (idle 1);
    ready while idle, one 10-bit frame per byte."""

    def __init__(self, divisor: int):
        self.divisor = check_divisor(divisor)
        super().__init__({"data": In(stream.Signature(8)), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        div = self.divisor
        shift = Signal(10, init=(1 << 10) - 1)          # LSB on the line; ones shifted in
        left = Signal(range(11))                         # bits still to send
        timer = Signal(range(div))
        m.d.comb += [self.tx.eq(shift[0]), self.data.ready.eq(left == 0)]
        with m.If(left == 0):
            with m.If(self.data.valid):
                m.d.sync += [shift.eq(Cat(0, self.data.payload, 1)), left.eq(10),
                             timer.eq(div - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [shift.eq(Cat(shift[1:], 1)), left.eq(left - 1), timer.eq(div - 1)]
        return m
