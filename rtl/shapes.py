"""Signal shapes that depend on the configuration."""

from __future__ import annotations

from rpu.config import IntRule

__all__ = ["counter_range"]


def counter_range(values: int) -> range:
    """Shape of a counter or index taking the values ``0 .. values-1``, never zero-width.

    ``range(1)`` (a counter of one value, e.g. the beat of a one-beat frame) is a 0-bit
    shape, which Amaranth writes as ``wire [-1:0]`` (Verilator: ASCRANGE); this gives one
    bit instead.  Any other count keeps the width ``range(values)`` has.
    """
    IntRule(1, 1 << 32).check("values", values)
    return range(max(2, values))
