"""Bit-exact reference of the digital management around reads and updates (SPEC §3.3, §3.4).

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
from functools import lru_cache
from typing import Callable

import numba
import numpy as np

from rpu.config import TileConfig

__all__ = [
    "NM_MODE_CODES", "Numerics", "numerics", "to_fixed", "from_fixed", "registers_from_config",
    "recip", "nm_params", "input_codes", "scale_results", "adc_saturated", "BoundState",
    "read_path", "ReadResult", "um_gains", "prob_codes", "update_codes", "UpdateCodes",
    "nm_cycles", "um_cycles", "div_cycles", "sqrt_cycles", "ARITH_BITS_PER_CYCLE", "isq_table",
]

NM_MODE_CODES = {"off": 0, "abs_max": 1, "pow2": 2}

REG_BITS = 32        # width of every scale register the host writes
C_FRAC = 20          # um_c, um_c1: UQ12.20
LRD_FRAC = 12        # um_lr_dw = lr/dw_min: UQ20.12
ISQ_FRAC = 24        # 1/sqrt(BL) table entries: UQ1.24
K_BITS = 4           # bound-management halvings 0..15
CAP_MAX = 16         # bm_max_passes register range 1..16


@dataclass(frozen=True)
class Numerics:
    """All widths and binary points, derived from a :class:`TileConfig` (see docs/numerics.md)."""

    V: int            # host value width (signed)
    F: int            # host value / result fraction bits
    RB: int           # result width (signed)
    dac_bits: int
    D: int            # dac_max
    adc_bits: int
    adc_max: int
    P: int            # prob_bits
    R: int            # reciprocal binary point: recip(a) = ceil(2^R / a)
    Q: int            # out_scale fraction bits
    S: int            # extra fraction bits of the UM square root
    T: int            # extra fraction bits of the UM peak probability
    bl_max: int       # elaboration-time cap of BL (table size)

    @property
    def prob_one(self) -> int:
        return 1 << self.P

    @property
    def SH(self) -> int:
        """Binary point of the update gains: code = round(|v|·gain / 2^SH)."""
        return self.R + self.T

    @property
    def gain_bits(self) -> int:
        return self.SH + self.P + 2

    @property
    def gain_max(self) -> int:
        """Gains are clamped here; any non-zero value then clips, as it would unclamped."""
        return 1 << (self.SH + self.P + 1)

    @property
    def emax(self) -> int:
        """Largest output exponent out_exp + k (out_exp ≤ V, k ≤ 15)."""
        return self.V + (1 << K_BITS) - 1

    @property
    def in_mul_bits(self) -> int:
        return self.R + 1

    @property
    def in_shift_max(self) -> int:
        return self.R

    @property
    def out_mul_bits(self) -> int:
        return REG_BITS + self.V

    @property
    def result_max(self) -> int:
        return (1 << (self.RB - 1)) - 1

    @property
    def value_max(self) -> int:
        return (1 << (self.V - 1)) - 1

    @property
    def sqrt_rad_bits(self) -> int:
        return 2 * self.V + 2 * self.S

    @property
    def pk_shift(self) -> int:
        return C_FRAC + self.S + self.F - self.P - self.T


@lru_cache(maxsize=None)
def _numerics(V, F, RB, dac_bits, adc_bits, P, adc_lsb, bl_max) -> Numerics:
    R = V + max(dac_bits, P) + 2
    Q = 30 - math.floor(math.log2(adc_lsb))
    T = max(16, C_FRAC + F - P - R)
    return Numerics(V=V, F=F, RB=RB, dac_bits=dac_bits, D=(1 << (dac_bits - 1)) - 1,
                    adc_bits=adc_bits, adc_max=(1 << (adc_bits - 1)) - 1, P=P, R=R, Q=Q,
                    S=V + P, T=T, bl_max=bl_max)


def numerics(cfg: TileConfig) -> Numerics:
    if not isinstance(cfg, TileConfig):
        raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
    return _numerics(cfg.value_bits, cfg.value_frac_bits, cfg.result_bits, cfg.dac_bits,
                     cfg.adc_bits, cfg.prob_bits, cfg.adc_lsb, cfg.bl_max)


# -- host formats ------------------------------------------------------------------------

@numba.njit(cache=True)
def _to_fixed_kernel(a, scale, vmax):
    """±min(floor(|a·scale| + 0.5), vmax) as int64 (float64 steps, all exact but the + 0.5,
    which rounds as IEEE does everywhere); ok = False if an element is not finite."""
    out = np.empty(a.size, np.int64)
    ok = True
    for i in range(a.size):
        v = a[i] * scale
        ok &= np.isfinite(v)
        mag = min(np.floor(abs(v) + 0.5), vmax)
        out[i] = -np.int64(mag) if v < 0 else np.int64(mag)
    return out, ok


def to_fixed(cfg: TileConfig, values) -> np.ndarray:
    """Host values → signed ``value_bits`` ints with ``value_frac_bits`` fraction bits.

    Rounds half away from zero and saturates symmetrically to ±(2^(value_bits−1) − 1)
    (the code −2^(value_bits−1) is never produced, though the RTL accepts it).
    """
    nx = numerics(cfg)
    a = np.asarray(values, dtype=np.float64)
    out, ok = _to_fixed_kernel(a.reshape(-1), float(1 << nx.F), float(nx.value_max))
    if not ok:
        raise ValueError("to_fixed: values must be finite")
    return out.reshape(a.shape)[()]


def from_fixed(cfg: TileConfig, ints) -> np.ndarray:
    """Fixed-point ints (host values or results, both ``value_frac_bits``) → float64."""
    return np.asarray(ints, dtype=np.float64) / float(1 << numerics(cfg).F)


@lru_cache(maxsize=None)
def isq_table(bl_max: int) -> tuple[int, ...]:
    """round(2^ISQ_FRAC / sqrt(b)) for b = 0..bl_max (entry 0 unused, 0)."""
    return (0,) + tuple(int(math.floor((1 << ISQ_FRAC) / math.sqrt(b) + 0.5))
                        for b in range(1, bl_max + 1))


def _reg(name: str, value: float, frac: int) -> int:
    q = int(math.floor(value * (1 << frac) + 0.5))
    if not 0 <= q < (1 << REG_BITS):
        raise ValueError(f"register {name} = {value:g} does not fit UQ{REG_BITS - frac}.{frac} "
                         f"(range [0, {((1 << REG_BITS) - 1) / (1 << frac):g}])")
    return q


def registers_from_config(cfg: TileConfig) -> dict:
    """Register values the host writes for ``cfg`` (names as in docs/numerics.md)."""
    nx = numerics(cfg)
    lr_dw = cfg.lr / cfg.device.dw_min
    return {
        "nm_mode": NM_MODE_CODES[cfg.noise_management],
        "bm_enable": int(cfg.bound_management),
        "bm_max_passes": cfg.bm_max_passes,
        "out_scale": int(math.floor(cfg.adc_lsb * (1 << nx.Q) + 0.5)),
        "um_enable": int(cfg.update_management),
        "dyn_bl": int(cfg.dynamic_bl),
        "bl": cfg.bl,
        "bl_max": cfg.bl_max,
        "um_c": _reg("um_c", cfg.c_scale, C_FRAC),
        "um_c1": _reg("um_c1", math.sqrt(lr_dw), C_FRAC),
        "um_lr_dw": _reg("um_lr_dw", lr_dw, LRD_FRAC),
    }


# -- arithmetic primitives (also the RTL's) -----------------------------------------------

def recip(nx: Numerics, a: int) -> int:
    """ceil(2^R / a) for a ≥ 1, computed as floor((2^R − 1) / a) + 1 (the RTL's divider)."""
    return ((1 << nx.R) - 1) // a + 1


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
        return dict(in_mul=1, in_shift=nx.F, out_mul=out_scale, out_exp=nx.F, mode_error=error)
    if alpha == 0:
        return dict(in_mul=0, in_shift=0, out_mul=0, out_exp=0, mode_error=error)
    if mode == 1:
        return dict(in_mul=recip(nx, alpha), in_shift=nx.R, out_mul=out_scale * alpha,
                    out_exp=0, mode_error=error)
    e = (alpha - 1).bit_length()          # 2^e ≥ alpha, the smallest such power
    return dict(in_mul=1, in_shift=e, out_mul=out_scale, out_exp=e, mode_error=error)


def input_codes(nx: Numerics, x_fixed, in_mul: int, in_shift: int, k: int) -> np.ndarray:
    """Signed DAC codes of host values under NM parameters and ``k`` BM halvings."""
    s = in_shift + k
    out = []
    for x in np.asarray(x_fixed, dtype=np.int64).tolist():
        mag = min(nx.D, _round_shift(abs(x) * nx.D * in_mul, s))
        out.append(-mag if x < 0 else mag)
    return np.array(out, dtype=np.int64)


def adc_saturated(nx: Numerics, codes) -> np.ndarray:
    """A line saturates when its code is at either end of the ADC range (|code| ≥ adc_max)."""
    return np.abs(np.asarray(codes, dtype=np.int64)) >= nx.adc_max


def scale_results(nx: Numerics, codes, out_mul: int, out_exp: int, k: int):
    """ADC codes → results ``(y_fixed int64, clipped bool)``: ±sat(round(|c|·out_mul·2^(out_exp+k)/2^Q))."""
    e = out_exp + k
    ys, clips = [], []
    for c in np.asarray(codes, dtype=np.int64).tolist():
        y = ((abs(c) * out_mul << (e + 1)) + (1 << nx.Q)) >> (nx.Q + 1)
        clips.append(y > nx.result_max)
        y = min(y, nx.result_max)
        ys.append(-y if c < 0 else y)
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
        self.cap_error = not 1 <= self.cap <= CAP_MAX
        self.cap = min(max(self.cap, 1), CAP_MAX)

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
        raise ValueError(f"x_fixed must be signed {nx.V}-bit integers")
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
        den_bits = LRD_FRAC + 2 * nx.F
        b = (regs["um_lr_dw"] * x_max * d_max + (1 << den_bits) - 1) >> den_bits
        bl = min(max(b, 1), bl_max)
        c = (regs["um_c1"] * isq_table(nx.bl_max)[bl] + (1 << (ISQ_FRAC - 1))) >> ISQ_FRAC
    else:
        c = regs["um_c"]
    if not um:
        g = min(c << (nx.SH + nx.P - C_FRAC - nx.F), nx.gain_max)
        return dict(gain_x=g, gain_d=g, bl=bl, bl_error=False)
    if x_max == 0 or d_max == 0:
        return dict(gain_x=0, gain_d=0, bl=bl, bl_error=False)
    r = math.isqrt((x_max * d_max) << (2 * nx.S))
    pk = (c * r) >> nx.pk_shift
    one = 1 << (nx.P + nx.T)
    if pk > one:            # clip the gradient, not x (aihwkit): x peak 1, d peak pk²
        pkx, pkd = one, (pk * pk) >> (nx.P + nx.T)
    else:
        pkx = pkd = pk
    return dict(gain_x=min(pkx * recip(nx, x_max), nx.gain_max),
                gain_d=min(pkd * recip(nx, d_max), nx.gain_max), bl=bl, bl_error=False)


@numba.njit(cache=True)
def _abs_max(v):
    """max |v| of an int64 vector (0 when empty)."""
    top = abs(v[0]) if v.size else 0
    for i in range(1, v.size):
        top = max(top, abs(v[i]))
    return top


@numba.njit(cache=True)
def _prob_kernel(v, gain, sh, one):
    """:func:`prob_codes` in int64, for 2·max|v|·gain + 2^sh < 2^63."""
    codes, clips = np.empty(v.size, np.int64), np.empty(v.size, np.bool_)
    half = np.int64(1) << sh
    for i in range(v.size):
        mag = (abs(v[i]) * gain * 2 + half) >> (sh + 1)
        clips[i] = mag > one
        mag = min(mag, one)
        codes[i] = -mag if v[i] < 0 else mag
    return codes, clips


def prob_codes(nx: Numerics, v_fixed, gain: int):
    """Signed probability codes ±min(2^P, round(|v|·gain / 2^SH)) and the clip flags."""
    v = np.asarray(v_fixed, dtype=np.int64)
    top = int(_abs_max(v.reshape(-1)))
    gain = gain if top else 0                                   # all zero: so is every code
    if (2 * top * gain + (1 << nx.SH)).bit_length() < 63:      # exact in int64: compiled
        codes, clips = _prob_kernel(v.reshape(-1), gain, nx.SH, nx.prob_one)
        return codes.reshape(v.shape), clips.reshape(v.shape)
    mags = np.abs(v)                                            # wide products: Python ints
    mag = np.array([_round_shift(m * gain, nx.SH) for m in mags.tolist()], dtype=object)
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
    xm, dm = int(_abs_max(x.reshape(-1))), int(_abs_max(d.reshape(-1)))
    g = um_gains(nx, xm, dm, regs)
    xc, xk = prob_codes(nx, x, g["gain_x"])
    dc, dk = prob_codes(nx, d, g["gain_d"])
    return UpdateCodes(x_codes=xc, d_codes=dc, bl=g["bl"],
                       clipped=int(np.count_nonzero(xk) + np.count_nonzero(dk)),
                       x_clip=xk, d_clip=dk, x_max=xm, d_max=dm, gain_x=g["gain_x"],
                       gain_d=g["gain_d"], bl_error=g["bl_error"])


# -- latencies of the RTL units (cycles from the start cycle to the done pulse) ----------------

ARITH_BITS_PER_CYCLE = 2     # result bits per cycle of SeqDivider / SeqSqrt (their default)


def div_cycles(num_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """:class:`rpu.rtl.arith.SeqDivider`: done ``ceil(num_bits/bits_per_cycle) + 1`` cycles
    after start (two quotient bits per cycle by default)."""
    return -(-num_bits // bits_per_cycle) + 1


def sqrt_cycles(rad_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """:class:`rpu.rtl.arith.SeqSqrt`: done ``ceil(ceil(rad_bits/2)/bits_per_cycle) + 1``
    cycles after start (two root bits per cycle by default)."""
    return -(-((rad_bits + 1) // 2) // bits_per_cycle) + 1


def nm_cycles(cfg: TileConfig) -> int:
    """NoiseManager: start → done, the same for every mode (the divider always runs)."""
    return div_cycles(numerics(cfg).R) + 1


def um_cycles(cfg: TileConfig) -> int:
    """UpdateManager: start → done (constant)."""
    nx = numerics(cfg)
    return max(div_cycles(nx.R), sqrt_cycles(nx.sqrt_rad_bits)) + 2
