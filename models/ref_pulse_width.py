"""Bit-exact reference of :class:`rpu.rtl.pulse_width.PulseWidthBank`.

Line *i* with signed DAC code ``c`` is driven in slots ``0 .. |c|-1`` of a window of
``dac_max = 2**(dac_bits-1) - 1`` slots, at +V/2 (``pos``) if ``c > 0``, −V/2 (``neg``) if
``c < 0``.  The one code outside ±dac_max, ``-2**(dac_bits-1)``, saturates to ``-dac_max``.
"""

from __future__ import annotations

import numpy as np

from rpu.config import IntRule

__all__ = ["check_dac_params", "check_dac_codes", "pulse_width_drives", "window_cycles"]


def check_dac_params(lines, dac_bits, slot_cycles=1, lanes=1) -> None:
    for name, value, lo, hi in (("lines", lines, 1, 4096), ("dac_bits", dac_bits, 2, 12),
                                ("slot_cycles", slot_cycles, 1, 255), ("lanes", lanes, 1, 4096)):
        IntRule(lo, hi).check(name, value)


def check_dac_codes(codes, dac_bits: int) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"codes must be a 1-D integer array, not {arr.dtype} {arr.shape}")
    lo, hi = -(1 << (dac_bits - 1)), (1 << (dac_bits - 1)) - 1
    if arr.size and (arr.min() < lo or arr.max() > hi):
        raise ValueError(f"codes must be in [{lo}, {hi}] for dac_bits={dac_bits}, "
                         f"not [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def pulse_width_drives(codes, dac_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, neg)``, bool ``(T, N)`` with ``T = dac_max`` slots, for signed DAC ``codes``."""
    check_dac_params(1, dac_bits)
    c = check_dac_codes(codes, dac_bits)
    dac_max = (1 << (dac_bits - 1)) - 1
    on = np.arange(dac_max)[:, None] < np.minimum(np.abs(c), dac_max)[None, :]
    return on & (c > 0)[None, :], on & (c < 0)[None, :]


def window_cycles(dac_bits: int, slot_cycles: int) -> int:
    """Cycles from ``start`` to ``done`` inclusive of the ``done`` cycle."""
    return ((1 << (dac_bits - 1)) - 1) * slot_cycles + 1
