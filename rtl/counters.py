"""Per-line saturating event counters (the tile's endurance registers ``PULSES_X``/``PULSES_D``)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule

from .common import counter_range

__all__ = ["LineCounters", "recent_bits"]


def recent_bits(lines: int) -> int:
    """Bits of each line's recent count: it holds at most ``lines`` events (one per cycle
    between two drains of the line, ``lines`` cycles apart)."""
    return lines.bit_length()


class LineCounters(wiring.Component):
    """``lines`` saturating ``width``-bit counters, read one at a time.

    Members
    -------
    inc : In(lines)
        Counter *i* counts up by one in this cycle if bit *i* is set (it stays at
        ``2**width - 1`` once there).
    clear : In(1)
        All counters to zero (wins over ``inc``).
    index : In(counter_range(lines)), value : Out(width)
        ``value`` is counter ``index`` as it was in the last cycle (registered: the register
        file's read port, which holds the index a cycle before it takes a read; ``index`` is
        never zero-width, which Verilator's lint refuses).

    Each count is kept in two parts: a short *recent* count per line in flip-flops
    (:func:`recent_bits`, 7 bits for 64 lines, held as bit planes) and the older, saturated
    total in a ``lines`` × ``width`` LUT RAM.  One line per cycle, in turn, is *drained*:
    its total becomes min(total + recent, 2**width − 1) and its recent count restarts with
    this cycle's event.  A line is drained every ``lines`` cycles, so its recent count
    never overflows, and min(total + recent, 2**width − 1) is the exact saturated count in
    every cycle (``value`` is that sum, registered).  A clear zeroes the recent counts and marks every total
    stale (one flip-flop per line) instead of writing the RAM.  On an ECP5 a 64-line
    counter is 1,992 LUT4 and 614 FF this way (the registered read included), against
    6,770 and 2,048 as 32 flip-flops per line (then the FPGA report's largest block).
    """

    def __init__(self, lines: int, width: int = 32):
        IntRule(1, 4096).check("lines", lines)
        IntRule(1, 64).check("width", width)
        self.lines, self.width = lines, width
        super().__init__({"inc": In(lines), "clear": In(1),
                          "index": In(counter_range(lines)), "value": Out(width)})

    def elaborate(self, platform):
        m = Module()
        lines, width = self.lines, self.width
        top = (1 << width) - 1
        rb = recent_bits(lines)
        addr_bits = len(self.index)
        # the recent counts as bit planes (plane b = bit b of every line's count), so the
        # logic is a few vector cells whatever the line count (per-line signals made a
        # 4096-line tile's netlist slow to build and to simulate)
        planes = [Signal(lines, name=f"recent{b}") for b in range(rb)]
        fresh = Signal(lines)                # the line's total in the RAM is valid (no clear since)
        drain = Signal(counter_range(lines))                 # the line drained in this cycle
        drained = Signal(lines, init=1)                      # the same, one-hot
        m.d.sync += drain.eq(Mux(drain == lines - 1, 0, drain + 1))
        if lines > 1:
            m.d.sync += drained.eq(Cat(drained[-1], drained[:-1]))

        m.submodules.totals = totals = Memory(shape=unsigned(width), depth=1 << addr_bits, init=[])
        rd_drain, rd_host = totals.read_port(domain="comb"), totals.read_port(domain="comb")
        wr = totals.write_port()

        def saturated_sum(total, valid, part):
            s = Signal(max(width, rb) + 1)
            m.d.comb += s.eq(Mux(valid, total, 0) + part)
            if rb <= width:                      # s ≤ 2·top: over the top iff its top bit is set
                return s[:width] | s[width].replicate(width)
            return Mux(s > top, top, s[:width])

        def recent_at(i):
            return Cat(*(p.bit_select(i, 1) for p in planes))

        # the drain: the line's total absorbs its recent count (the RAM is written at the edge)
        m.d.comb += [rd_drain.addr.eq(drain), wr.addr.eq(drain), wr.en.eq(~self.clear),
                     wr.data.eq(saturated_sum(rd_drain.data, fresh.bit_select(drain, 1),
                                              recent_at(drain)))]
        with m.If(self.clear):
            m.d.sync += [fresh.eq(0)] + [p.eq(0) for p in planes]
        with m.Else():
            # + inc, the drained line from zero: a toggle chain across the planes
            m.d.sync += fresh.eq(fresh | drained)
            carry = self.inc
            for b, p in enumerate(planes):
                base = Signal(lines, name=f"kept{b}")
                m.d.comb += base.eq(p & ~drained)
                m.d.sync += p.eq(base ^ carry)
                if b + 1 < rb:
                    nxt = Signal(lines, name=f"carry{b + 1}")
                    m.d.comb += nxt.eq(carry & base)
                    carry = nxt

        # the host's read: the same sum for the line at index, registered (the register
        # slave holds the index a cycle before it takes a read)
        m.d.comb += rd_host.addr.eq(self.index)
        m.d.sync += self.value.eq(saturated_sum(rd_host.data, fresh.bit_select(self.index, 1),
                                                recent_at(self.index)))
        return m
