"""Bit-exact reference of :class:`rpu.rtl.lfsr.LFSR` (Fibonacci LFSR with leap-forward).

State bit ``i`` of the next state is the parity of ``state & masks[i]``; the masks
(:func:`rpu.spec.streams.leap_masks`) are the ``leap``-th power of the one-step companion
matrix over GF(2).  The RTL builds its XOR network from the very same masks, so the two
cannot drift apart.
"""

from __future__ import annotations

import numpy as np

from rpu.spec.streams import leap_masks

__all__ = ["LFSRModel"]


class LFSRModel:
    """Software twin of the RTL LFSR: ``state`` after ``load(seed)`` and ``advance()``."""

    def __init__(self, width: int, taps: tuple[int, ...], leap: int = 1, seed: int = 1):
        self.width, self.taps, self.leap = width, tuple(taps), leap
        self._masks = leap_masks(width, self.taps, leap)
        self.state = 0
        self.load(seed)

    def load(self, seed: int) -> None:
        if not 0 < seed < (1 << self.width):
            raise ValueError(f"LFSR seed must be in [1, {(1 << self.width) - 1}], not {seed}")
        self.state = seed

    def advance(self) -> int:
        s = self.state
        self.state = sum(((bin(s & m).count("1") & 1) << i) for i, m in enumerate(self._masks))
        return self.state

    def states(self, count: int) -> np.ndarray:
        """The next ``count`` states (each after one ``advance``), as uint64 or object array."""
        dtype = np.uint64 if self.width <= 64 else object
        return np.array([self.advance() for _ in range(count)], dtype=dtype)
