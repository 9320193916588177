"""Bit-exact reference of :class:`rpu.rtl.stochastic.UpdatePulser`: random streams + sign phases.

The random sources (polynomials, seed expansion, per-line tap sets, phase table) are the
contract's (:mod:`rpu.spec.streams`, whose docstring says why they are unbiased); this
module steps them with compiled jump tables and draws every line's bits slot by slot, in the
RTL's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from rpu.config import IntRule
from rpu.spec.streams import (D_TAPS, D_WIDTH, MAX_TERMS, PHASES, SEED_BITS, X_TAPS, X_WIDTH,
                              check_stream_params, expand_seed, leap_masks, line_taps)

from . import kernels

__all__ = ["PhaseTrain", "SlotDrives", "UpdateStreamsModel", "lfsr_states", "active_phases",
           "check_prob_codes"]


def _taps_matrix(taps: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """``(lines, MAX_TERMS)`` int64 offsets, -1 where a line has fewer terms."""
    mat = np.full((len(taps), MAX_TERMS), -1, dtype=np.int64)
    for i, t in enumerate(taps):
        mat[i, :len(t)] = t
    return mat


def _tap_columns(taps: tuple[tuple[int, ...], ...], prob_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(MAX_TERMS, lines)`` window offsets (uint64) of each line's terms and their masks
    (``2**prob_bits - 1``, or 0 where a line has fewer terms)."""
    mat = _taps_matrix(taps).T                                  # (MAX_TERMS, lines)
    masks = np.where(mat >= 0, np.uint64((1 << prob_bits) - 1), np.uint64(0))
    return np.ascontiguousarray(np.maximum(mat, 0).astype(np.uint64)), np.ascontiguousarray(masks)


# -- LFSR stepping --------------------------------------------------------------------------

@lru_cache(maxsize=None)
def _jump_table(width: int, taps: tuple[int, ...], leap: int) -> np.ndarray:
    """GF(2) jump of ``leap`` shifts as byte tables: uint64 ``(c, v)`` = the state one leap
    after the state ``v << 8c``, so the next state is the XOR over c of ``[c, byte c]``.

    Built from :func:`rpu.spec.streams.leap_masks` (next bit i = parity(state & masks[i])),
    the same masks the RTL's XOR network uses.
    """
    masks = leap_masks(width, taps, leap)
    image = [sum(((m >> b) & 1) << i for i, m in enumerate(masks)) for b in range(width)]
    table = np.zeros(((width + 7) // 8, 256), np.uint64)
    for c in range(table.shape[0]):
        tab = [0]
        for b in range(8 * c, min(8 * c + 8, width)):
            tab += [v ^ image[b] for v in tab]
        table[c, :len(tab)] = tab                    # unused high bits of the last byte: 0
    table.setflags(write=False)
    return table


def lfsr_states(state: int, width: int, taps: tuple[int, ...], leap: int,
                count: int) -> tuple[np.ndarray, int]:
    """The ``count`` states used by successive slots (current first) and the state after.

    Same Fibonacci convention as :func:`rpu.spec.streams.leap_masks`: shift left, the
    feedback (parity of the tap bits) enters bit 0; a leap is one jump-table step (compiled).
    """
    out, state = kernels.lfsr_states(np.uint64(state), _jump_table(width, tuple(taps), leap), count)
    return out, int(state)


# -- phases ---------------------------------------------------------------------------------

def _check_codes(name: str, codes, lines: int, prob_bits: int):
    """:func:`check_prob_codes` and the codes' span (:func:`_span`)."""
    arr = np.asarray(codes)
    if arr.shape != (lines,) or arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of shape ({lines},), "
                        f"not {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    lim = 1 << prob_bits
    lo, hi = kernels.span(arr)
    if max(hi, -int(lo)) > lim:
        raise ValueError(f"{name} magnitudes must be in [0, {lim}] (2**prob_bits = p 1), "
                         f"not {max(hi, -int(lo))}")
    return arr, (lo, hi)


def check_prob_codes(name: str, codes, lines: int, prob_bits: int) -> np.ndarray:
    """Signed probability codes: integers of shape ``(lines,)``, |code| <= 2**prob_bits (int64)."""
    return _check_codes(name, codes, lines, prob_bits)[0]


def _phases(x_span, d_span) -> list[int]:
    """Active phases from the spans (min, max) of the x and d codes."""
    have = ({+1: x_span[1] > 0, -1: x_span[0] < 0}, {+1: d_span[1] > 0, -1: d_span[0] < 0})
    return [p for p, (sx, sd, _) in enumerate(PHASES) if have[0][sx] and have[1][sd]]


def active_phases(x_codes, d_codes) -> list[int]:
    """Phases (0..3, in order) with at least one x-line and one d-line of their groups."""
    x, d = np.asarray(x_codes), np.asarray(d_codes)
    return _phases((x.min(initial=0), x.max(initial=0)), (d.min(initial=0), d.max(initial=0)))


@dataclass
class PhaseTrain:
    """Bits of one active phase; only lines of the phase's groups may be set."""
    phase: int
    potentiate: bool
    x_bits: np.ndarray      # bool (bl, N)
    d_bits: np.ndarray      # bool (bl, M)


class SlotDrives(NamedTuple):
    """Line drives slot by slot, as the RTL's ports show them during ``busy``."""
    x_pos: np.ndarray       # bool (T, N)
    x_neg: np.ndarray
    d_pos: np.ndarray       # bool (T, M)
    d_neg: np.ndarray
    phase: np.ndarray       # int (T,)
    slot: np.ndarray        # int (T,)


class UpdateStreamsModel:
    """Software twin of the stochastic pulse bank and its phase sequencer.

    ``UpdateStreamsModel(cfg)`` loads ``cfg.update.x_seed``/``cfg.update.d_seed`` (as the RTL after
    ``seed_load``); with explicit integers and no seeds the state is the RTL reset state (1).
    Both :meth:`phase_trains` and :meth:`drives` advance the generators identically: once per
    slot of every active phase; the state carries over between updates.
    """

    def __init__(self, cfg=None, *, x_lines=None, d_lines=None, prob_bits=None, bl_max=None,
                 x_seed=None, d_seed=None):
        if cfg is not None:
            x_lines = cfg.in_size if x_lines is None else x_lines
            d_lines = cfg.out_size if d_lines is None else d_lines
            prob_bits = cfg.update.prob_bits if prob_bits is None else prob_bits
            bl_max = cfg.update.bl_max if bl_max is None else bl_max
            x_seed = cfg.update.x_seed if x_seed is None else x_seed
            d_seed = cfg.update.d_seed if d_seed is None else d_seed
        bl_max = 255 if bl_max is None else bl_max
        check_stream_params(x_lines, d_lines, prob_bits, bl_max)
        self.x_lines, self.d_lines, self.prob_bits, self.bl_max = x_lines, d_lines, prob_bits, bl_max
        self.x_taps = line_taps(X_WIDTH, prob_bits, x_lines)
        self.d_taps = line_taps(D_WIDTH, prob_bits, d_lines)
        self._x_cols = _tap_columns(self.x_taps, prob_bits)     # (offsets, masks)
        self._d_cols = _tap_columns(self.d_taps, prob_bits)
        self.x_state, self.d_state = 1, 1
        if x_seed is not None or d_seed is not None:
            self.load_seeds(1 if x_seed is None else x_seed, 1 if d_seed is None else d_seed)

    def load_seeds(self, x_seed: int, d_seed: int) -> None:
        """As the RTL's ``seed_load``; zero seeds would lock an LFSR up and are refused."""
        hi = (1 << SEED_BITS) - 1
        x_seed = IntRule(1, hi).check("x_seed", x_seed)
        d_seed = IntRule(1, hi).check("d_seed", d_seed)
        self.x_state = expand_seed(x_seed, X_WIDTH)
        self.d_state = expand_seed(d_seed, D_WIDTH)

    # -- raw streams (no phases): fire bits of every line for `slots` consecutive slots --
    def fire_bits(self, x_mag, d_mag, slots: int) -> tuple[np.ndarray, np.ndarray]:
        """``rand < mag`` of every line for ``slots`` slots (advances both generators)."""
        return self._fire(x_mag, d_mag, np.zeros(1, np.int64), np.zeros(1, np.int64), slots)

    def _fire(self, x_codes, d_codes, x_signs, d_signs, slots: int):
        """Fire bits (bool (slots, lines)) of both sides, see :func:`kernels.fire_bits`."""
        out = []
        for side, codes, signs, cols in (("x", x_codes, x_signs, self._x_cols),
                                         ("d", d_codes, d_signs, self._d_cols)):
            codes = np.asarray(codes, dtype=np.int64)
            if codes.shape != cols[0].shape[1:]:
                raise ValueError(f"{side} magnitudes must have shape {cols[0].shape[1:]}, not {codes.shape}")
            width, taps = (X_WIDTH, X_TAPS) if side == "x" else (D_WIDTH, D_TAPS)
            states, nxt = lfsr_states(getattr(self, side + "_state"), width, taps, self.prob_bits, slots)
            setattr(self, side + "_state", nxt)
            out.append(kernels.fire_bits(states, *cols, codes, signs))
        return out[0], out[1]

    def _check(self, x_codes, d_codes, bl):
        """Checked codes and ``bl`` and the active phases."""
        x, x_span = _check_codes("x_codes", x_codes, self.x_lines, self.prob_bits)
        d, d_span = _check_codes("d_codes", d_codes, self.d_lines, self.prob_bits)
        bl = IntRule(0, self.bl_max).check("bl", bl)
        return x, d, bl, _phases(x_span, d_span)

    def phase_trains(self, x_codes, d_codes, bl: int) -> list[PhaseTrain]:
        """One :class:`PhaseTrain` per active phase, in order (none when ``bl`` is 0)."""
        x, d, bl, phases = self._check(x_codes, d_codes, bl)
        if bl == 0 or not phases:
            return []
        # all active slots in one draw per side (the generators advance once per slot); only
        # the lines of the phase's sign groups may fire in its slots
        sx, sd = (np.array([PHASES[p][side] for p in phases], np.int64) for side in (0, 1))
        xf, df = self._fire(x, d, sx, sd, bl * len(phases))
        return [PhaseTrain(p, PHASES[p][2], xf[k * bl:(k + 1) * bl], df[k * bl:(k + 1) * bl])
                for k, p in enumerate(phases)]

    def drives(self, x_codes, d_codes, bl: int) -> SlotDrives:
        """Per-slot drives of the whole update (``T = active phases × bl``)."""
        return self.slot_drives(self.phase_trains(x_codes, d_codes, bl))

    def slot_drives(self, trains: list[PhaseTrain]) -> SlotDrives:
        """The drives of :meth:`phase_trains`' result, slot by slot (no generator steps)."""
        n, m = self.x_lines, self.d_lines
        if not trains:
            z = np.zeros((0, n), bool), np.zeros((0, m), bool)
            e = np.zeros(0, dtype=np.int64)
            return SlotDrives(z[0], z[0].copy(), z[1], z[1].copy(), e, e.copy())
        bl = trains[0].x_bits.shape[0]
        x_pos, x_neg, d_pos, d_neg, phase, slot = [], [], [], [], [], []
        zx, zd = np.zeros((bl, n), bool), np.zeros((bl, m), bool)
        for t in trains:
            x_pos.append(t.x_bits if t.potentiate else zx)
            x_neg.append(zx if t.potentiate else t.x_bits)
            d_pos.append(zd if t.potentiate else t.d_bits)
            d_neg.append(t.d_bits if t.potentiate else zd)
            phase.append(np.full(bl, t.phase))
            slot.append(np.arange(bl))
        return SlotDrives(*(np.concatenate(v) for v in (x_pos, x_neg, d_pos, d_neg, phase, slot)))
