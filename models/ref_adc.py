"""Reference of :class:`rpu.rtl.adc.AdcInterface`: mux grouping and result scaling (its
cycle formula is :func:`rpu.spec.timing.adc_read_cycles`)."""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig
from rpu.spec.formats import numerics

from .ref_management import adc_saturated, scale_results

__all__ = ["adc_groups", "adc_readout"]


def adc_groups(lines: int, lines_per_adc: int) -> np.ndarray:
    """``groups[g]`` = the lines converted in conversion ``g`` (ADC ``a`` gets line g·num_adcs + a)."""
    if lines % lines_per_adc:
        raise ValueError(f"lines_per_adc must divide lines ({lines}), not {lines_per_adc}")
    return np.arange(lines).reshape(lines_per_adc, lines // lines_per_adc)


def adc_readout(cfg: TileConfig, codes, out_mul: int, out_exp: int, k: int):
    """What the result stream carries: ``(y_fixed, sat, clip)`` per line, in line order."""
    nx = numerics(cfg)
    y, clip = scale_results(nx, codes, out_mul, out_exp, k)
    return y, adc_saturated(nx, codes), clip
