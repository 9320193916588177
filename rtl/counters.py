"""Per-line saturating event counters (the tile's endurance registers ``PULSES_X``/``PULSES_D``)."""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule

from .common import counter_range

__all__ = ["LineCounters"]


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
        ``value`` is counter ``index``, combinationally (the register file's read port;
        ``index`` is never zero-width, which Verilator's lint refuses).

    The counters are stored as bit planes (``bit{b}`` = bit *b* of every counter) and count
    with a ripple carry across the planes, so the logic is ~3·width vector cells whatever
    the line count (4096 separate 32-bit adders made most of a 4096-line tile's netlist).
    """

    def __init__(self, lines: int, width: int = 32):
        IntRule(1, 4096).check("lines", lines)
        IntRule(1, 64).check("width", width)
        self.lines, self.width = lines, width
        super().__init__({"inc": In(lines), "clear": In(1),
                          "index": In(counter_range(lines)), "value": Out(width)})

    def elaborate(self, platform):
        m = Module()
        planes = [Signal(self.lines, name=f"bit{b}") for b in range(self.width)]
        # low[b]: bits 0 .. b-1 all set (a named chain: Amaranth re-emits an unnamed
        # expression at every use); counter i counts iff inc[i] and it is not all ones
        low = [None, planes[0]]
        for b, p in enumerate(planes[1:], 2):
            ones = Signal(self.lines, name=f"ones{b}")
            m.d.comb += ones.eq(low[-1] & p)
            low.append(ones)
        counting = Signal(self.lines)
        m.d.comb += counting.eq(self.inc & ~low[-1])
        for p, below in zip(planes, low):     # count (first: the clear overrides it)
            m.d.sync += p.eq(p ^ (counting if below is None else counting & below))
            with m.If(self.clear):
                m.d.sync += p.eq(0)
        m.d.comb += self.value.eq(Cat(*(p.bit_select(self.index, 1) for p in planes)))
        return m
