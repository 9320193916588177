"""Bit-exact reference of the digital management around reads and updates (docs/spec.md §3, §3.4).

Everything here is integer arithmetic on Python ints (the per-line loops of the update path
in compiled int64 kernels where every intermediate provably fits), exactly as the RTL in
:mod:`rpu.rtl.management`, :mod:`rpu.rtl.arith` and :mod:`rpu.rtl.adc` computes it; the
formats are described in ``docs/numerics.md`` and collected in :class:`Numerics`.

Rounding is *half away from zero* everywhere (sign-magnitude: round the magnitude, then
apply the sign), saturation is symmetric, nothing wraps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from rpu.config import TileConfig
from rpu.spec.formats import (BM_CAP_MAX, C_FRAC, ISQ_FRAC, LRD_FRAC, Numerics, isq_table, numerics,
                              registers_from_config)

from . import kernels

__all__ = [
    "to_fixed", "to_fixed_counted", "from_fixed", "recip", "nm_params", "input_codes", "scale_results",
    "adc_saturated", "BoundState", "read_path", "ReadResult", "um_gains", "prob_codes",
    "update_codes", "UpdateCodes",
]


# -- host formats ------------------------------------------------------------------------

def to_fixed(cfg: TileConfig, values) -> np.ndarray:
    """Host values → signed ``value_bits`` ints with ``value_frac_bits`` fraction bits.

    Rounds half away from zero and saturates symmetrically to ±(2^(value_bits−1) − 1)
    (the code −2^(value_bits−1) is never produced, though the RTL accepts it); how many
    saturated: :func:`to_fixed_counted`.
    """
    return to_fixed_counted(cfg, values)[0]


def to_fixed_counted(cfg: TileConfig, values) -> tuple[np.ndarray, int]:
    """:func:`to_fixed` and the number of values beyond the format's range (saturated)."""
    nx = numerics(cfg)
    a = np.asarray(values, dtype=np.float64)
    out, ok, saturated = kernels.to_fixed(a.reshape(-1), float(1 << nx.frac_bits),
                                          float(nx.value_max))
    if not ok:
        raise ValueError("to_fixed: values must be finite")
    return out.reshape(a.shape)[()], int(saturated)


def from_fixed(cfg: TileConfig, ints) -> np.ndarray:
    """Fixed-point ints (host values or results, both ``value_frac_bits``) → float64."""
    return np.asarray(ints, dtype=np.float64) / float(1 << numerics(cfg).frac_bits)


# -- arithmetic primitives (also the RTL's) -----------------------------------------------

def recip(nx: Numerics, a: int) -> int:
    """ceil(2^R / a) for a ≥ 1, computed as floor((2^R − 1) / a) + 1 (the RTL's divider)."""
    return ((1 << nx.recip_point) - 1) // a + 1


def _round_shift(n: int, s: int) -> int:
    """round(n / 2^s), n ≥ 0, halves up, any s ≥ 0: (2n + 2^s) >> (s + 1)."""
    return ((n << 1) + (1 << s)) >> (s + 1)


# -- noise management ---------------------------------------------------------------------

def nm_params(nx: Numerics, alpha: int, mode: int, out_scale: int) -> dict:
    """Scale parameters of a read: ``in_mul, in_shift, out_mul, out_exp, mode_error``.

    DAC code = ±min(D, round(|x|·D·in_mul / 2^(in_shift + k)));
    result = ±round(|code|·out_mul·2^(out_exp + k) / 2^Q).
    """
    error = mode not in (0, 1, 2)
    if error:
        mode = 0
    if mode == 0:
        return dict(in_mul=1, in_shift=nx.frac_bits, out_mul=out_scale, out_exp=nx.frac_bits, mode_error=error)
    if alpha == 0:
        return dict(in_mul=0, in_shift=0, out_mul=0, out_exp=0, mode_error=error)
    if mode == 1:
        return dict(in_mul=recip(nx, alpha), in_shift=nx.recip_point, out_mul=out_scale * alpha,
                    out_exp=0, mode_error=error)
    e = (alpha - 1).bit_length()          # 2^e ≥ alpha, the smallest such power
    return dict(in_mul=1, in_shift=e, out_mul=out_scale, out_exp=e, mode_error=error)


def input_codes(nx: Numerics, x_fixed, in_mul: int, in_shift: int, k: int) -> np.ndarray:
    """Signed DAC codes of host values under NM parameters and ``k`` BM halvings (compiled,
    exact wide integers; Python ints where a product could pass 128 bits)."""
    s = in_shift + k
    x = np.asarray(x_fixed, dtype=np.int64)
    if (x.size and (nx.value_max * nx.dac_max).bit_length() + max(in_mul, 1).bit_length() < 126
            and s < 126):
        out = np.empty(x.size, np.int64)
        kernels.input_codes_into(x.reshape(-1), nx.dac_max, in_mul, s, out)
        return out.reshape(x.shape)
    out = []
    for v in x.tolist():
        mag = min(nx.dac_max, _round_shift(abs(v) * nx.dac_max * in_mul, s))
        out.append(-mag if v < 0 else mag)
    return np.array(out, dtype=np.int64)


def adc_saturated(nx: Numerics, codes) -> np.ndarray:
    """A line saturates when its code is at either end of the ADC range (|code| ≥ adc_max)."""
    return np.abs(np.asarray(codes, dtype=np.int64)) >= nx.adc_max


def scale_results(nx: Numerics, codes, out_mul: int, out_exp: int, k: int):
    """ADC codes → results ``(y_fixed int64, clipped bool)``: ±sat(round(|c|·out_mul·2^(out_exp+k)/2^Q))
    (compiled, exact wide integers; Python ints where a product could pass 128 bits)."""
    e = out_exp + k
    c = np.asarray(codes, dtype=np.int64)
    q = nx.out_scale_frac
    if (c.size and nx.adc_max.bit_length() + max(out_mul, 1).bit_length() + e + 1 < 127
            and out_mul < (1 << 63) and q < 126):
        y, clips = np.empty(c.size, np.int64), np.empty(c.size, bool)
        kernels.scale_results_into(c.reshape(-1), out_mul, e, q, nx.result_max, y, clips)
        return y.reshape(c.shape), clips.reshape(c.shape)
    ys, clips = [], []
    for v in c.tolist():
        y = ((abs(v) * out_mul << (e + 1)) + (1 << q)) >> (q + 1)
        clips.append(y > nx.result_max)
        y = min(y, nx.result_max)
        ys.append(-y if v < 0 else y)
    return np.array(ys, dtype=np.int64), np.array(clips, dtype=bool)


@dataclass
class BoundState:
    """Bound-management decision, as :class:`rpu.rtl.management.BoundManager` makes it."""

    cap: int
    enable: bool
    k: int = 0
    passes: int = 0
    gave_up: bool = False
    cap_error: bool = False

    def __post_init__(self):
        self.cap_error = not 1 <= self.cap <= BM_CAP_MAX
        self.cap = min(max(self.cap, 1), BM_CAP_MAX)

    def pass_done(self, any_sat: bool) -> bool:
        """Record a finished pass; True = retry with the new ``k``, False = accept."""
        self.passes += 1
        if self.enable and any_sat and self.passes < self.cap:
            self.k += 1
            return True
        self.gave_up = bool(self.enable and any_sat)
        return False


@dataclass
class ReadResult:
    y_fixed: np.ndarray          # results, signed result_bits, value_frac_bits fraction bits
    y: np.ndarray                # the same as floats
    passes: int                  # analog passes run (1 without BM retries)
    gave_up: bool                # BM hit its cap with the last pass still saturated
    saturated: np.ndarray        # per line: the accepted pass's ADC code saturated
    clipped: np.ndarray          # per line: the scaled result saturated at ±result_max
    adc_codes: np.ndarray        # ADC codes of the accepted pass
    dac_codes: np.ndarray        # DAC codes of the accepted pass
    alpha: int                   # max|x| (fixed point)
    k: int                       # BM halvings of the accepted pass
    params: dict = field(default_factory=dict)   # nm_params
    history: list = field(default_factory=list)  # (dac_codes, adc_codes) of every pass


def read_path(cfg: TileConfig, x_fixed, analog_read: Callable, *, backward: bool = False,
              regs: dict | None = None) -> ReadResult:
    """NM + BM (forward only) + output scaling of one read, exactly as the RTL.

    ``analog_read(dac_codes) -> adc_codes`` or ``(adc_codes, saturated)``; the decision to
    retry uses saturation derived from the codes (|code| ≥ adc_max) as the RTL does.
    """
    nx = numerics(cfg)
    regs = registers_from_config(cfg) if regs is None else regs
    x = np.asarray(x_fixed, dtype=np.int64)
    if x.size and (x.max() > nx.value_max or x.min() < -(nx.value_max + 1)):
        raise ValueError(f"x_fixed must be signed {nx.value_bits}-bit integers")
    alpha = int(np.abs(x).max()) if x.size else 0
    p = nm_params(nx, alpha, regs["nm_mode"], regs["out_scale"])
    bm = BoundState(cap=regs["bm_max_passes"], enable=bool(regs["bm_enable"]) and not backward)
    history = []
    while True:
        dac = input_codes(nx, x, p["in_mul"], p["in_shift"], bm.k)
        got = analog_read(dac)
        adc = np.asarray(got[0] if isinstance(got, tuple) else got, dtype=np.int64)
        history.append((dac, adc))
        sat = adc_saturated(nx, adc)
        k_used = bm.k
        if not bm.pass_done(bool(sat.any())):
            break
    y, clip = scale_results(nx, adc, p["out_mul"], p["out_exp"], k_used)
    return ReadResult(y_fixed=y, y=from_fixed(cfg, y), passes=bm.passes, gave_up=bm.gave_up,
                      saturated=sat, clipped=clip, adc_codes=adc, dac_codes=dac, alpha=alpha,
                      k=k_used, params=p, history=history)


# -- update management ----------------------------------------------------------------------

def um_gains(nx: Numerics, x_max: int, d_max: int, regs: dict) -> dict:
    """Per-side gains, BL and flags of an update: ``gain_x, gain_d, bl, bl_error``."""
    bl_max, bl = regs["bl_max"], regs["bl"]
    dyn, um = bool(regs["dyn_bl"]), bool(regs["um_enable"])
    error = not (1 <= bl_max <= nx.bl_max) or (not dyn and not 1 <= bl <= bl_max)
    if error:
        return dict(gain_x=0, gain_d=0, bl=bl, bl_error=True)
    if dyn:
        den_bits = LRD_FRAC + 2 * nx.frac_bits
        b = (regs["um_lr_dw"] * x_max * d_max + (1 << den_bits) - 1) >> den_bits
        bl = min(max(b, 1), bl_max)
        c = (regs["um_c1"] * isq_table(nx.bl_max)[bl] + (1 << (ISQ_FRAC - 1))) >> ISQ_FRAC
    else:
        c = regs["um_c"]
    if not um:
        g = min(c << (nx.gain_point + nx.prob_bits - C_FRAC - nx.frac_bits), nx.gain_max)
        return dict(gain_x=g, gain_d=g, bl=bl, bl_error=False)
    if x_max == 0 or d_max == 0:
        return dict(gain_x=0, gain_d=0, bl=bl, bl_error=False)
    r = math.isqrt((x_max * d_max) << (2 * nx.um_sqrt_frac))
    pk = (c * r) >> nx.peak_shift
    one = 1 << (nx.prob_bits + nx.um_peak_frac)
    if pk > one:            # clip the gradient, not x (aihwkit): x peak 1, d peak pk²
        pkx, pkd = one, (pk * pk) >> (nx.prob_bits + nx.um_peak_frac)
    else:
        pkx = pkd = pk
    return dict(gain_x=min(pkx * recip(nx, x_max), nx.gain_max),
                gain_d=min(pkd * recip(nx, d_max), nx.gain_max), bl=bl, bl_error=False)


def prob_codes(nx: Numerics, v_fixed, gain: int):
    """Signed probability codes ±min(2^P, round(|v|·gain / 2^SH)) and the clip flags."""
    v = np.asarray(v_fixed, dtype=np.int64)
    top = int(kernels.abs_max(v.reshape(-1)))
    gain = gain if top else 0                                   # all zero: so is every code
    if (2 * top * gain + (1 << nx.gain_point)).bit_length() < 63:      # exact in int64: compiled
        codes, clips = kernels.prob_codes(v.reshape(-1), gain, nx.gain_point, nx.prob_one)
        return codes.reshape(v.shape), clips.reshape(v.shape)
    mags = np.abs(v)                                            # wide products: Python ints
    mag = np.array([_round_shift(m * gain, nx.gain_point) for m in mags.tolist()], dtype=object)
    clips = np.asarray(mag > nx.prob_one, dtype=bool)
    mag = np.minimum(mag, nx.prob_one).astype(np.int64)
    return np.where(v < 0, -mag, mag), clips


@dataclass
class UpdateCodes:
    x_codes: np.ndarray     # signed probability codes per x-line, |code| ≤ prob_one
    d_codes: np.ndarray     # signed probability codes per d-line
    bl: int                 # BL used
    clipped: int            # number of lines clipped at p = 1 (x and d)
    x_clip: np.ndarray
    d_clip: np.ndarray
    x_max: int
    d_max: int
    gain_x: int
    gain_d: int
    bl_error: bool          # bad BL / BL_max register: gains 0, nothing fires


def update_codes(cfg: TileConfig, x_fixed, d_fixed, regs: dict | None = None) -> UpdateCodes:
    """UM (+ dynamic BL) and probability quantisation of one update, exactly as the RTL."""
    nx = numerics(cfg)
    regs = registers_from_config(cfg) if regs is None else regs
    x = np.asarray(x_fixed, dtype=np.int64)
    d = np.asarray(d_fixed, dtype=np.int64)
    xm, dm = int(kernels.abs_max(x.reshape(-1))), int(kernels.abs_max(d.reshape(-1)))
    g = um_gains(nx, xm, dm, regs)
    xc, xk = prob_codes(nx, x, g["gain_x"])
    dc, dk = prob_codes(nx, d, g["gain_d"])
    return UpdateCodes(x_codes=xc, d_codes=dc, bl=g["bl"],
                       clipped=int(np.count_nonzero(xk) + np.count_nonzero(dk)),
                       x_clip=xk, d_clip=dk, x_max=xm, d_max=dm, gain_x=g["gain_x"],
                       gain_d=g["gain_d"], bl_error=g["bl_error"])
