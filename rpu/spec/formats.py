"""Number formats of the tile: every width and binary point, derived from the config.

:func:`numerics` gives them as one :class:`Numerics` object that the RTL, the reference
model and the benches all read (docs/numerics.md explains each; the letters there are the
notation of the formulas: V value_bits, F frac_bits, RB result_bits, D dac_max, A
adc_max, P prob_bits, R recip_point, Q out_scale_frac, S um_sqrt_frac, T um_peak_frac,
SH gain_point).  :func:`registers_from_config` gives the values a host writes for a config.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from rpu.config import IOConfig, NoiseManagement, TileConfig, UpdateConfig, check_instance

from .encodings import NmCode

__all__ = ["Numerics", "numerics", "registers_from_config", "isq_table", "bit_width",
           "REG_BITS", "C_FRAC", "LRD_FRAC", "ISQ_FRAC", "BM_CAP_MAX", "BM_K_BITS", "BL_LIMIT",
           "CARRY_FRAC", "STEP_FRAC", "TransferFormat", "transfer_format", "transfer_registers"]

REG_BITS = 32        # width of every register and of the scale values the host writes
C_FRAC = 20          # um_c, um_c1: UQ12.20
LRD_FRAC = 12        # um_lr_dw = lr/dw_min: UQ20.12
ISQ_FRAC = 24        # 1/sqrt(BL) table entries: UQ1.24
CARRY_FRAC = 16      # CLT_INV_F = round(2^16 / F): carry = round(y · inv_f / 2^16)
STEP_FRAC = 16       # CLT_INV_STEP = round(2^16 / step): pulses = ceil(|e| · inv_step / 2^16)
#: largest bound-management pass cap (the config's range of ``bm_max_passes``)
BM_CAP_MAX = IOConfig.field_rules()["bm_max_passes"][0].hi
#: bits of the bound-management halving count k = 0 .. BM_CAP_MAX − 1
BM_K_BITS = (BM_CAP_MAX - 1).bit_length()
#: largest BL any register or port carries (the config's range of ``bl``/``bl_max``)
BL_LIMIT = UpdateConfig.field_rules()["bl_max"][0].hi


def bit_width(largest: int) -> int:
    """Bits of an unsigned field holding 0 .. ``largest`` (at least 1)."""
    return max(1, int(largest).bit_length())


@dataclass(frozen=True)
class Numerics:
    """All widths and binary points of one configuration (docs/numerics.md)."""

    value_bits: int       # V: host value width (signed)
    frac_bits: int        # F: host value / result fraction bits
    result_bits: int      # RB: result width (signed)
    dac_bits: int
    dac_max: int          # D
    adc_bits: int
    adc_max: int          # A
    prob_bits: int        # P
    recip_point: int      # R: reciprocal binary point, recip(a) = ceil(2^R / a)
    out_scale_frac: int   # Q: out_scale fraction bits
    um_sqrt_frac: int     # S: extra fraction bits of the UM square root
    um_peak_frac: int     # T: extra fraction bits of the UM peak probability
    bl_max: int           # elaboration-time cap of BL (table size)

    @property
    def prob_one(self) -> int:
        """Probability code of p = 1."""
        return 1 << self.prob_bits

    @property
    def gain_point(self) -> int:
        """SH, binary point of the update gains: code = round(|v|·gain / 2^SH)."""
        return self.recip_point + self.um_peak_frac

    @property
    def gain_bits(self) -> int:
        return self.gain_point + self.prob_bits + 2

    @property
    def gain_max(self) -> int:
        """Gains are clamped here; any non-zero value then clips, as it would unclamped."""
        return 1 << (self.gain_point + self.prob_bits + 1)

    @property
    def in_scale_bits(self) -> int:
        """Width of the read scale D·in_mul·2^(SH − in_shift) (≤ D·2^SH) the lane scalers
        multiply by: DAC code = round(|x|·in_scale / 2^(SH + k))."""
        return (self.dac_max << self.gain_point).bit_length()

    @property
    def lane_scale_bits(self) -> int:
        """Scale operand of the lane scalers: a read's in_scale or an update's gain."""
        return max(self.gain_bits, self.in_scale_bits)

    @property
    def emax(self) -> int:
        """Largest output exponent out_exp + k (out_exp ≤ V, k < BM_CAP_MAX)."""
        return self.value_bits + (1 << BM_K_BITS) - 1

    @property
    def in_mul_bits(self) -> int:
        return self.recip_point + 1

    @property
    def in_shift_max(self) -> int:
        return self.recip_point

    @property
    def out_mul_bits(self) -> int:
        return REG_BITS + self.value_bits

    @property
    def result_max(self) -> int:
        return (1 << (self.result_bits - 1)) - 1

    @property
    def value_max(self) -> int:
        return (1 << (self.value_bits - 1)) - 1

    @property
    def sqrt_rad_bits(self) -> int:
        return 2 * self.value_bits + 2 * self.um_sqrt_frac

    @property
    def peak_shift(self) -> int:
        """Right shift of C·sqrt(x_max·d_max) to the peak probability's binary point."""
        return C_FRAC + self.um_sqrt_frac + self.frac_bits - self.prob_bits - self.um_peak_frac


@lru_cache(maxsize=None)
def _numerics(V, F, RB, dac_bits, adc_bits, P, adc_lsb, bl_max) -> Numerics:
    R = V + max(dac_bits, P) + 2
    return Numerics(value_bits=V, frac_bits=F, result_bits=RB, dac_bits=dac_bits,
                    dac_max=(1 << (dac_bits - 1)) - 1, adc_bits=adc_bits,
                    adc_max=(1 << (adc_bits - 1)) - 1, prob_bits=P, recip_point=R,
                    out_scale_frac=30 - math.floor(math.log2(adc_lsb)), um_sqrt_frac=V + P,
                    um_peak_frac=max(16, C_FRAC + F - P - R), bl_max=bl_max)


def numerics(cfg: TileConfig) -> Numerics:
    check_instance("cfg", cfg, TileConfig)
    h, c, u = cfg.host, cfg.converters, cfg.update
    return _numerics(h.value_bits, h.value_frac_bits, h.result_bits, c.dac_bits, c.adc_bits,
                     u.prob_bits, cfg.adc_lsb, u.bl_max)


@lru_cache(maxsize=None)
def isq_table(bl_max: int) -> tuple[int, ...]:
    """round(2^ISQ_FRAC / sqrt(b)) for b = 0..bl_max (entry 0 unused, 0)."""
    return (0,) + tuple(int(math.floor((1 << ISQ_FRAC) / math.sqrt(b) + 0.5))
                        for b in range(1, bl_max + 1))


def _uq(name: str, value: float, frac: int) -> int:
    q = int(math.floor(value * (1 << frac) + 0.5))
    if not 0 <= q < (1 << REG_BITS):
        raise ValueError(f"register {name} = {value:g} does not fit UQ{REG_BITS - frac}.{frac} "
                         f"(range [0, {((1 << REG_BITS) - 1) / (1 << frac):g}])")
    return q


def registers_from_config(cfg: TileConfig, *, lr: float | None = None) -> dict:
    """Register values the host writes for ``cfg`` (names as in docs/numerics.md);
    ``lr`` overrides ``cfg.update.lr`` (only the update-management constants change)."""
    nx = numerics(cfg)
    u = cfg.update
    lr = u.lr if lr is None else lr
    lr_dw = lr / cfg.device.dw_min
    return {
        "nm_mode": int(NmCode[NoiseManagement(cfg.io.noise_management).name]),
        "bm_enable": int(cfg.io.bound_management),
        "bm_max_passes": cfg.io.bm_max_passes,
        "out_scale": int(math.floor(cfg.adc_lsb * (1 << nx.out_scale_frac) + 0.5)),
        "um_enable": int(u.update_management),
        "dyn_bl": int(u.dynamic_bl),
        "bl": u.bl,
        "bl_max": u.bl_max,
        "um_c": _uq("um_c", math.sqrt(lr / (u.bl * cfg.device.dw_min)), C_FRAC),
        "um_c1": _uq("um_c1", math.sqrt(lr_dw), C_FRAC),
        "um_lr_dw": _uq("um_lr_dw", lr_dw, LRD_FRAC),
    }


# -- multi-conductance transfer ---------------------------------------------------------------

@dataclass(frozen=True)
class TransferFormat:
    """Fixed-point formats of the transfer (docs/numerics.md, "Transfer").

    A transfer read of one pair or device senses ``gain`` · w (gain = 2^mc.read_shift) and
    comes back through the ADC path with noise management off and no halving: a result in
    host format (``frac_bits`` fraction bits), i.e. ``unit`` = gain · 2^frac_bits result
    LSBs per unit of device conductance.  Per row the sequencer keeps the MSP target t
    (signed ``value_bits`` bits) and the pulse count of the current iteration
    (``pulse_bits``)."""

    gain: int
    unit: int              # result LSBs per unit of sensed device conductance
    read_limit: int        # largest |result| of a transfer read (the ADC bound)
    value_bits: int        # signed width of the per-row target and error
    pulse_bits: int        # width of a per-row pulse count (0 .. max_pulses)
    mul_bits: int          # width of CLT_INV_F / CLT_INV_STEP products' second operand


def transfer_format(cfg: TileConfig) -> TransferFormat:
    nx = numerics(cfg)
    gain = 1 << cfg.mc.read_shift
    limit = min(nx.result_max, math.ceil(cfg.io.out_bound * (1 << nx.frac_bits)))
    # |t| <= |a| + |b| + two carries <= 4·limit (F >= 1); |e| = |t − y| <= 5·limit
    return TransferFormat(gain=gain, unit=gain << nx.frac_bits, read_limit=limit,
                          value_bits=bit_width(5 * limit) + 1,
                          pulse_bits=bit_width(255),
                          mul_bits=REG_BITS)


def transfer_registers(cfg: TileConfig) -> dict:
    """The transfer's register values for ``cfg`` (``CLT_*``, ``REFRESH_THR``, ``TRANSFER_*``):

    * ``tolerance`` = round(tol / F · unit): the tolerance in MSP result LSBs (the CLT
      compares MSP reads, G⁺ − G⁻, whose weight is F·(G⁺ − G⁻));
    * ``inv_f`` = round(2^16 / F): carry g/F = ±round(|y| · inv_f / 2^16);
    * ``inv_step`` = round(2^16 / (dw_min · unit)): pulses of a row = clamp(ceil(|e| ·
      inv_step / 2^16), 1, max_pulses) (the nominal first step: a saturating device moves
      less, so the estimate undershoots and the loop approaches from one side);
    * ``refresh_thr`` = round(refresh_threshold · g_max · unit).
    """
    mc, fmt = cfg.mc, transfer_format(cfg)
    F = mc.significance
    return {
        "tolerance": _uq("CLT_TOL", mc.transfer_tolerance / F * fmt.unit, 0),
        "inv_f": _uq("CLT_INV_F", (1 << CARRY_FRAC) / F, 0),
        "inv_step": max(1, _uq("CLT_INV_STEP", (1 << STEP_FRAC) / (cfg.device.dw_min * fmt.unit), 0)),
        "refresh_thr": _uq("REFRESH_THR", mc.refresh_threshold * mc.g_max * fmt.unit, 0),
        "max_iterations": mc.max_iterations,
        "max_pulses": mc.max_pulses,
        "columns": mc.columns_per_transfer,
        "auto": int(mc.auto_transfer),
        "transfer_every": mc.transfer_every,
        "polarity": 0 if mc.initial_polarity > 0 else (1 << cfg.in_size) - 1,
    }
