"""Pulse-width encoder bank (docs/spec.md §3) and the per-line load chain shared with the
stochastic bank.  Reference: :mod:`rpu.models.ref_pulse_width`."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.spec.params import check_dac_params

from .common import counter_range
from .wide import GROUP, group_ranges

__all__ = ["ShadowChain", "PulseWidthBank", "slot_timer"]


class ShadowChain:
    """Double-buffered per-line register, loaded through a shift chain of ``lanes`` entries
    per beat; built inside a bank's module.

    An entry is ``fields`` (bit widths, from bit 0).  Drive ``load_valid`` and ``load_data``
    to shift one beat in (lane ``l`` is ``load_data[l*width : (l+1)*width]``, ``width`` =
    ``sum(fields)``; after ``ceil(lines/lanes)`` beats, beat *k* lane *l* holds line
    ``k*lanes + l``) and ``commit`` to copy shadow → active.  The lines come in ``groups``
    (ranges of about :data:`~rpu.rtl.wide.GROUP` lines); ``shadow(k, f)`` / ``active(k, f)``
    is field ``f`` of the lines of group *k*, line by line, so a one-bit field of a group is
    one contiguous vector; ``active(k, f, j)`` is that field of the group's line ``j``.

    Each group is one shadow and one active register holding its lines field by field: a
    register of lines·width bits writes a Verilog constant too long for one line, and a
    one-bit field gathered from every line's entry is written out bit by bit.  (Not a
    submodule: wide ports would double Amaranth's per-bit work.)
    """

    def __init__(self, m: Module, name: str, lines: int, fields: tuple[int, ...], lanes: int):
        self.fields = tuple(fields)
        width = sum(self.fields)
        self.load_valid = Signal(name=f"{name}_load_valid")
        self.load_data = Signal(lanes * width, name=f"{name}_load_data")
        self.commit = Signal(name=f"{name}_commit")
        per_chunk = max(1, GROUP // lanes)                            # beats per group
        beats = group_ranges(-(-lines // lanes), per_chunk)
        self.groups = group_ranges(lines, per_chunk * lanes)
        self._shadow = [Signal(len(r) * lanes * width, name=f"{name}_shadow{k}",
                               reset_less=True) for k, r in enumerate(beats)]
        fields = range(len(self.fields))
        incoming = [Cat(*(self.load_data[l * width:(l + 1) * width][self._span(1, f)]
                          for l in range(lanes))) for f in fields]
        after = [[self._field(c, f) for f in fields] for c in self._shadow[1:]] + [incoming]
        with m.If(self.load_valid):           # each group takes the next one's first beat
            for c, nxt in zip(self._shadow, after):
                m.d.sync += c.eq(Cat(*(Cat(self._field(c, f)[lanes * w:], nxt[f][:lanes * w])
                                       for f, w in enumerate(self.fields))))
        self._active = []
        for k, r in enumerate(self.groups):
            a = Signal(len(r) * width, name=f"{name}_active{k}")
            with m.If(self.commit):
                m.d.sync += a.eq(Cat(*(self.shadow(k, f) for f in fields)))
            self._active.append(a)

    def _span(self, entries: int, f: int, j: int | None = None) -> slice:
        """Bits of field ``f`` (of entry ``j`` only, if given) in a register of ``entries``
        entries stored field by field."""
        w = self.fields[f]
        lo = entries * sum(self.fields[:f])
        return slice(lo, lo + entries * w) if j is None else slice(lo + j * w, lo + (j + 1) * w)

    def _field(self, reg, f, j=None):
        return reg[self._span(len(reg) // sum(self.fields), f, j)]

    def shadow(self, k: int, f: int) -> Value:
        reg = self._shadow[k]                  # its last beat may pass the last line
        lo = self._span(len(reg) // sum(self.fields), f).start
        return reg[lo:lo + len(self.groups[k]) * self.fields[f]]

    def active(self, k: int, f: int, j: int | None = None) -> Value:
        """Field ``f`` of group *k*'s lines, or of its line ``j`` only (one slice of the
        register: a slice of a slice would repeat the group's field for every line)."""
        return self._field(self._active[k], f, j)

    def shadow_any(self, f: int) -> Value:
        """Some line's shadow field ``f`` is non-zero (reduced group by group)."""
        return Cat(*(self.shadow(k, f).any() for k in range(len(self.groups)))).any()


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
        chain = ShadowChain(m, "chain", self.lines, (mb, 1), self.lanes)  # magnitude, sign
        lanes = []                        # one sign-magnitude converter per lane
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

        # one comparator per line (slot counter vs magnitude), gathered group by group
        pos, neg = [], []
        for k, r in enumerate(chain.groups):
            sign = chain.active(k, 1)
            on_k = Signal(len(r), name=f"on{k}")            # used by both polarities
            m.d.comb += on_k.eq(Cat(*(chain.active(k, 0, j) > self.slot for j in range(len(r)))))
            pos.append(on_k & ~sign)
            neg.append(on_k & sign)
        m.d.comb += [self.pos.eq(Mux(self.busy, Cat(*pos), 0)),
                     self.neg.eq(Mux(self.busy, Cat(*neg), 0))]
        return m
