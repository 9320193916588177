"""Bit-exact reference of :class:`rpu.rtl.lfsr.LFSR` (Fibonacci LFSR with leap-forward).

State bit ``i`` of the next state is the parity of ``state & masks[i]``; the masks are the
``leap``-th power of the one-step companion matrix over GF(2).  The RTL builds its XOR
network from the very same masks, so the two cannot drift apart.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["PRIMITIVE_TAPS", "leap_masks", "LFSRModel", "check_lfsr_params"]

# Maximal-length feedback taps (1-indexed bit numbers, Xilinx XAPP052 table); the
# x-side and d-side generators use different polynomials (SPEC §3.2).
PRIMITIVE_TAPS: dict[int, tuple[int, ...]] = {
    8: (8, 6, 5, 4), 9: (9, 5), 10: (10, 7), 11: (11, 9), 12: (12, 6, 4, 1),
    13: (13, 4, 3, 1), 14: (14, 5, 3, 1), 15: (15, 14), 16: (16, 15, 13, 4),
    17: (17, 14), 18: (18, 11), 19: (19, 6, 2, 1), 20: (20, 17), 21: (21, 19),
    22: (22, 21), 23: (23, 18), 24: (24, 23, 22, 17), 25: (25, 22), 26: (26, 6, 2, 1),
    27: (27, 5, 2, 1), 28: (28, 25), 29: (29, 27), 30: (30, 6, 4, 1), 31: (31, 28),
    32: (32, 22, 2, 1), 33: (33, 20), 36: (36, 25), 39: (39, 35), 41: (41, 38),
    47: (47, 42), 49: (49, 40), 52: (52, 49), 55: (55, 31), 57: (57, 50), 58: (58, 39),
    60: (60, 59), 63: (63, 62), 64: (64, 63, 61, 60),
}


def check_lfsr_params(width, taps, leap) -> None:
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"LFSR width must be an integer, not {width!r}")
    if not 2 <= width <= 128:
        raise ValueError(f"LFSR width must be in [2, 128], not {width}")
    if not isinstance(taps, tuple) or not all(isinstance(t, int) for t in taps):
        raise TypeError(f"LFSR taps must be a tuple of integers, not {taps!r}")
    if not taps or max(taps) != width or min(taps) < 1 or len(set(taps)) != len(taps):
        raise ValueError(f"LFSR taps must be distinct bit numbers in [1, {width}] including {width}, not {taps!r}")
    if isinstance(leap, bool) or not isinstance(leap, int):
        raise TypeError(f"LFSR leap must be an integer, not {leap!r}")
    if not 1 <= leap <= 4 * width:
        raise ValueError(f"LFSR leap must be in [1, {4 * width}], not {leap}")


@lru_cache(maxsize=None)
def leap_masks(width: int, taps: tuple[int, ...], leap: int) -> tuple[int, ...]:
    """Dependency masks of each next-state bit on the current state after ``leap`` steps."""
    check_lfsr_params(width, taps, leap)
    masks = [1 << i for i in range(width)]      # bit i depends on old bit i
    for _ in range(leap):
        fb = 0
        for t in taps:
            fb ^= masks[t - 1]
        masks = [fb] + masks[:-1]               # shift left, feedback into bit 0
    return tuple(masks)


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
