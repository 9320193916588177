"""Line groups: how the banks keep their netlist linear and their Verilog lines short.

Amaranth names a net after the cell or register that drives it, so a ``Cat`` of one bit
from each of thousands of per-line cells (or of every line's field in one wide register) is
written out term by term wherever it is used: one Verilog line of 100,000+ characters at
4096 lines, which Verilator refuses.  The banks therefore keep their per-line registers in
groups of about :data:`GROUP` lines, each group's one-bit fields contiguous, and gather
per-line cells (comparators) group by group into one operator cell; a vector over all lines
is then a ``Cat`` of ``lines / GROUP`` cell outputs.

Also: Amaranth re-emits an unnamed expression at every use (statements are copied when a
design is prepared), so a per-line term used twice goes through a named signal.
"""

from __future__ import annotations

__all__ = ["GROUP", "group_ranges"]

GROUP = 64


def group_ranges(lines: int, size: int = GROUP) -> list[range]:
    """Consecutive line ranges of at most ``size`` lines covering ``0 .. lines-1``."""
    return [range(lo, min(lo + size, lines)) for lo in range(0, lines, size)]
