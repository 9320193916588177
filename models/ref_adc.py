"""Reference of :class:`rpu.rtl.adc.AdcInterface`: mux grouping, cycle counts, result scaling."""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig

from .ref_management import adc_saturated, numerics, scale_results

__all__ = ["adc_groups", "adc_read_cycles", "stream_beats", "default_timeout", "adc_readout"]


def adc_groups(lines: int, lines_per_adc: int) -> np.ndarray:
    """``groups[g]`` = the lines converted in conversion ``g`` (ADC ``a`` gets line g·num_adcs + a)."""
    if lines % lines_per_adc:
        raise ValueError(f"lines_per_adc must divide lines ({lines}), not {lines_per_adc}")
    return np.arange(lines).reshape(lines_per_adc, lines // lines_per_adc)


def default_timeout(cfg: TileConfig) -> int:
    return 4 * cfg.adc_latency + 16


def adc_read_cycles(cfg: TileConfig, *, latency: int | None = None, reset_cycles: int = 1,
                    window_cycles: int | None = None) -> int:
    """Cycles from the cycle ``start`` is sampled to the first cycle of ``conv_done``.

    reset_cycles + window_cycles + lines_per_adc·(latency + 1) + 1, with ``latency`` the
    front-end's adc_start → adc_done delay (default ``cfg.adc_latency``).
    """
    latency = cfg.adc_latency if latency is None else latency
    window = cfg.read_window_slots * cfg.slot_cycles if window_cycles is None else window_cycles
    return reset_cycles + window + cfg.lines_per_adc * (latency + 1) + 1


def stream_beats(lines: int, lanes: int) -> int:
    return -(-lines // lanes)


def adc_readout(cfg: TileConfig, codes, out_mul: int, out_exp: int, k: int):
    """What the result stream carries: ``(y_fixed, sat, clip)`` per line, in line order."""
    nx = numerics(cfg)
    y, clip = scale_results(nx, codes, out_mul, out_exp, k)
    return y, adc_saturated(nx, codes), clip
