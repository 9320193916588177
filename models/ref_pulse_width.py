"""Bit-exact reference of :class:`rpu.rtl.pulse_width.PulseWidthBank`.

Line *i* with signed DAC code ``c`` is driven in slots ``0 .. |c|-1`` of a window of
``dac_max = 2**(dac_bits-1) - 1`` slots, at +V/2 (``pos``) if ``c > 0``, −V/2 (``neg``) if
``c < 0``.  The one code outside ±dac_max, ``-2**(dac_bits-1)``, saturates to ``-dac_max``.
"""

from __future__ import annotations

import numpy as np

from rpu.spec.params import check_dac_params

__all__ = ["check_dac_codes", "pulse_width_drives"]


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
