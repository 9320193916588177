"""Pulse-width encoder bank (docs/spec.md §3) and the per-line load chain shared with the
stochastic bank.  Reference: :mod:`rpu.models.ref_pulse_width`."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import MAX_LINES, IntRule
from rpu.spec.params import check_dac_params
from rpu.spec.timing import ceil_div

from .common import counter_range

__all__ = ["ShadowChain", "PulseWidthBank", "slot_timer"]


class ShadowChain(wiring.Component):
    """Double-buffered per-line register: a shift chain of ``lanes`` entries per beat.

    Members
    -------
    load_valid, load_data : In
        Shift one beat in; lane ``l`` is ``load_data[l*width : (l+1)*width]``.  After
        ``ceil(lines/lanes)`` beats, beat *k* lane *l* holds line ``k*lanes + l``.
    commit : In
        Copy shadow → ``active``.
    shadow, active : Out(lines*width)
        Entry *i* at bits ``[i*width, (i+1)*width)``.
    """

    def __init__(self, lines: int, width: int, lanes: int):
        IntRule(1, MAX_LINES).check("lines", lines)
        IntRule(1, 64).check("width", width)
        IntRule(1, 64).check("lanes", lanes)
        self.lines, self.width, self.lanes = lines, width, lanes
        self.beats = ceil_div(lines, lanes)
        super().__init__({
            "load_valid": In(1), "load_data": In(lanes * width), "commit": In(1),
            "shadow": Out(lines * width), "active": Out(lines * width),
        })

    def elaborate(self, platform):
        m = Module()
        beat = self.lanes * self.width
        chain = Signal(self.beats * beat, reset_less=True)
        with m.If(self.load_valid):
            m.d.sync += chain.eq(Cat(chain[beat:], self.load_data))
        m.d.comb += self.shadow.eq(chain[:self.lines * self.width])
        with m.If(self.commit):
            m.d.sync += self.active.eq(self.shadow)
        return m


def slot_timer(m: Module, slot_cycles: int, run) -> Signal:
    """A signal high in the last cycle of every slot while ``run`` (cycle counter inside)."""
    last = Signal()
    if slot_cycles == 1:
        m.d.comb += last.eq(run)
        return last
    cyc = Signal(counter_range(slot_cycles))
    m.d.comb += last.eq(run & (cyc == slot_cycles - 1))
    with m.If(~run | last):
        m.d.sync += cyc.eq(0)
    with m.Else():
        m.d.sync += cyc.eq(cyc + 1)
    return last


class PulseWidthBank(wiring.Component):
    """``lines`` pulse-width line drivers sharing one slot counter (one comparator per line).

    Ports and timing: docs/architecture.md, "Pulse-width encoder bank".
    """

    def __init__(self, lines: int, dac_bits: int, slot_cycles: int = 1, lanes: int = 1):
        check_dac_params(lines, dac_bits, slot_cycles, lanes)
        self.lines, self.dac_bits, self.slot_cycles, self.lanes = lines, dac_bits, slot_cycles, lanes
        self.dac_max = (1 << (dac_bits - 1)) - 1
        super().__init__({
            "load_valid": In(1), "load_data": In(lanes * dac_bits), "commit": In(1),
            "start": In(1),
            "pos": Out(lines), "neg": Out(lines),
            "slot": Out(counter_range(self.dac_max)),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        b, mb = self.dac_bits, self.dac_bits - 1
        m.submodules.chain = chain = ShadowChain(self.lines, b, self.lanes)
        # one sign-magnitude converter per lane: entry = Cat(mag[mb], sign)
        lanes = []
        for l in range(self.lanes):
            code = self.load_data[l * b:(l + 1) * b].as_signed()
            mag = Signal(b, name=f"lane{l}_mag")
            m.d.comb += mag.eq(Mux(code < 0, -code, code))
            lanes.append(Cat(Mux(mag > self.dac_max, self.dac_max, mag)[:mb], code < 0))
        m.d.comb += [chain.load_valid.eq(self.load_valid), chain.load_data.eq(Cat(*lanes)),
                     chain.commit.eq(self.commit & ~self.busy)]

        last = slot_timer(m, self.slot_cycles, self.busy)
        m.d.sync += self.done.eq(0)
        with m.If(~self.busy):
            with m.If(self.start):
                m.d.sync += [self.busy.eq(1), self.slot.eq(0)]
        with m.Elif(last):
            with m.If(self.slot == self.dac_max - 1):
                m.d.sync += [self.busy.eq(0), self.slot.eq(0), self.done.eq(1)]
            with m.Else():
                m.d.sync += self.slot.eq(self.slot + 1)

        act = chain.active
        on, sign = Signal(self.lines), Signal(self.lines)
        m.d.comb += [
            on.eq(Cat(*(act[i * b:i * b + mb] > self.slot for i in range(self.lines)))),
            sign.eq(Cat(*(act[i * b + mb] for i in range(self.lines)))),
            self.pos.eq(Mux(self.busy, on & ~sign, 0)),
            self.neg.eq(Mux(self.busy, on & sign, 0)),
        ]
        return m
