"""Bit-exact reference of :class:`rpu.rtl.stochastic.UpdatePulser`: random streams + sign phases.

Random sources (SPEC §3.2).  The x side runs a 64-bit Fibonacci LFSR (taps 64,63,61,60), the
d side a 63-bit one (taps 63,57,50,48,23,10): different primitive polynomials with coprime
periods (2**64−1, 2**63−1), seeded separately, so over the joint period the two states are
exactly independent and E[A_i ∧ B_j] = p_i·q_j.  Each LFSR leaps ``prob_bits`` shifts per
active slot.  (The table's 63-bit trinomial 63,62 was rejected: its weight-3 relation between
bits 62 and 63 apart made a line's draws a few slots apart correlated, inflating the variance
of firing counts up to 2.9× the binomial value at low p; the spread heptanomial measures ≈ 1×,
see tests/test_stream_statistics.py.)

Lines of one side share their generator: line *i* draws ``rand_i`` = XOR over its tap set
``O_i`` of the ``prob_bits``-bit state windows ``state[o : o+prob_bits]`` (1..4 terms, one
LUT4 per bit).  State bit *j* is the m-sequence delayed by *j*, so by the shift-and-add property
each ``rand_i`` is itself a ``prob_bits``-bit window of the m-sequence; with the leap, a line's
successive draws are consecutive, non-overlapping windows (uniform over the period).  Two lines
with tap polynomials P1 = Σ x^o, P2 are jointly uniform at lag 0 iff, with g = gcd(P1, P2) over
GF(2), ``max(deg P1/g, deg P2/g) >= prob_bits`` (:func:`lines_independent`); the tap sets are
enumerated (:func:`line_taps`) so that this holds for singles and pairs by construction.
Within-side correlation would only add variance, never bias.

A line fires in a slot iff ``rand_i < mag_i`` (``mag`` = |code|, 0 ..= 2**prob_bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import numba
import numpy as np

from .ref_lfsr import PRIMITIVE_TAPS, leap_masks

__all__ = [
    "X_WIDTH", "X_TAPS", "D_WIDTH", "D_TAPS", "SEED_BITS", "seed_masks",
    "PHASES", "PhaseTrain", "SlotDrives", "UpdateStreamsModel",
    "line_taps", "lines_independent", "expand_seed", "lfsr_states", "active_phases",
    "check_stream_params", "check_prob_codes", "update_cycles",
]

X_WIDTH, D_WIDTH = 64, 63
X_TAPS = PRIMITIVE_TAPS[X_WIDTH]
D_TAPS = (63, 57, 50, 48, 23, 10)
SEED_BITS = 32
MAX_LINES = 4096
PROB_BITS_RANGE = (2, 16)
MAX_TERMS = 4

# (x-lines that may fire: +1 for x > 0 / -1 for x < 0, d-lines: sign, potentiate)
PHASES = ((+1, -1, True), (+1, +1, False), (-1, +1, True), (-1, -1, False))


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    return int(value)


def check_stream_params(x_lines, d_lines, prob_bits, bl_max=255, slot_cycles=1, lanes=1):
    """Validate the parameters shared by the RTL and the model (TypeError / ValueError)."""
    _check_int("x_lines", x_lines, 1, MAX_LINES)
    _check_int("d_lines", d_lines, 1, MAX_LINES)
    _check_int("prob_bits", prob_bits, *PROB_BITS_RANGE)
    _check_int("bl_max", bl_max, 1, 255)
    _check_int("slot_cycles", slot_cycles, 1, 255)
    _check_int("lanes", lanes, 1, MAX_LINES)


# -- line tap sets --------------------------------------------------------------------------

def _poly(offsets) -> int:
    return sum(1 << o for o in offsets)


def _pdeg(p: int) -> int:
    return p.bit_length() - 1


def _pgcd(a: int, b: int) -> int:
    while b:
        while a and _pdeg(a) >= _pdeg(b):
            a ^= b << (_pdeg(a) - _pdeg(b))
        a, b = b, a
    return a


def _pdiv(a: int, b: int) -> int:
    q = 0
    while a and _pdeg(a) >= _pdeg(b):
        s = _pdeg(a) - _pdeg(b)
        q |= 1 << s
        a ^= b << s
    assert a == 0
    return q


def lines_independent(taps1, taps2, prob_bits: int) -> bool:
    """True iff two lines' ``prob_bits``-bit draws are jointly uniform over a uniform state.

    The 2·prob_bits linear forms x^k·P1, x^k·P2 (k < prob_bits) are dependent iff
    α·P1 = β·P2 with deg α, β < prob_bits, i.e. iff both cofactors P/gcd have degree below
    prob_bits.
    """
    p1, p2 = _poly(taps1), _poly(taps2)
    g = _pgcd(p1, p2)
    return max(_pdeg(_pdiv(p1, g)), _pdeg(_pdiv(p2, g))) >= prob_bits


def _tap_sets(width: int, prob_bits: int):
    """All tap sets in enumeration order: singles, pairs, triples, quads (see module doc)."""
    top = width - prob_bits                       # largest offset (window inside the state)
    anchors = range(0, top + 1, prob_bits)        # translates of one pattern never overlap
    for a in anchors:                              # singles: disjoint windows
        yield (a,)
    for d in range(2 * prob_bits, top + 1):        # pairs: span >= 2·pb => pairwise independent
        for a in anchors:
            if a + d <= top:
                yield (a, a + d)
    for lo in (2 * prob_bits, prob_bits):          # triples, quads: wide spans first
        hi = top if lo == prob_bits * 2 else 2 * prob_bits - 1
        for span in range(hi, lo - 1, -1):
            for d1 in range(1, span):
                for a in anchors:
                    if a + span <= top:
                        yield (a, a + d1, a + span)
        for span in range(hi, lo - 1, -1):
            for d2 in range(2, span):
                for d1 in range(1, d2):
                    for a in anchors:
                        if a + span <= top:
                            yield (a, a + d1, a + d2, a + span)


@lru_cache(maxsize=None)
def line_taps(width: int, prob_bits: int, lines: int) -> tuple[tuple[int, ...], ...]:
    """Tap offsets of each line: line *i* uses ``XOR_{o in taps[i]} state[o : o+prob_bits]``."""
    out = []
    for taps in _tap_sets(width, prob_bits):
        if len(out) == lines:
            break
        out.append(taps)
    if len(out) < lines:
        raise ValueError(f"lines must be at most {len(out)} for a {width}-bit generator "
                         f"with prob_bits={prob_bits}, not {lines}")
    return tuple(out)


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

def _splitmix64(x: int) -> tuple[int, int]:
    m = (1 << 64) - 1
    x = (x + 0x9E3779B97F4A7C15) & m
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
    return x, z ^ (z >> 31)


def _gf2_rank(vectors) -> int:
    basis: dict[int, int] = {}
    for v in vectors:
        while v:
            top = v.bit_length() - 1
            if top not in basis:
                basis[top] = v
                break
            v ^= basis[top]
    return len(basis)


@lru_cache(maxsize=None)
def seed_masks(width: int) -> tuple[int, ...]:
    """Dense GF(2) seed expansion: state bit *i* = parity(seed & masks[i]).

    A low-weight seed (1, 3, ...) loaded as is would leave a sparse-tap LFSR in a sparse state
    whose draws stay biased for tens of thousands of slots; the fixed dense, injective
    (rank 32) map gives every non-zero seed a typical, non-zero state.  Masks come from
    splitmix64, so they never change with library versions.
    """
    x = width
    while True:
        masks = []
        for _ in range(width):
            x, z = _splitmix64(x)
            masks.append(z & ((1 << SEED_BITS) - 1))
        cols = [sum(((mk >> j) & 1) << i for i, mk in enumerate(masks)) for j in range(SEED_BITS)]
        if _gf2_rank(cols) == SEED_BITS:
            return tuple(masks)


def expand_seed(seed: int, width: int) -> int:
    """LFSR state loaded from a non-zero 32-bit ``seed`` (see :func:`seed_masks`)."""
    return sum(((seed & mk).bit_count() & 1) << i for i, mk in enumerate(seed_masks(width)))


@lru_cache(maxsize=None)
def _jump_table(width: int, taps: tuple[int, ...], leap: int) -> np.ndarray:
    """GF(2) jump of ``leap`` shifts as byte tables: uint64 ``(c, v)`` = the state one leap
    after the state ``v << 8c``, so the next state is the XOR over c of ``[c, byte c]``.

    Built from :func:`rpu.models.ref_lfsr.leap_masks` (next bit i = parity(state & masks[i])),
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


@numba.njit(cache=True)
def _states_kernel(state, table, count):
    out = np.empty(count, np.uint64)
    for n in range(count):
        out[n] = state
        nxt = np.uint64(0)
        for c in range(table.shape[0]):
            nxt ^= table[c, (state >> np.uint64(8 * c)) & np.uint64(0xFF)]
        state = nxt
    return out, state


def lfsr_states(state: int, width: int, taps: tuple[int, ...], leap: int,
                count: int) -> tuple[np.ndarray, int]:
    """The ``count`` states used by successive slots (current first) and the state after.

    Same Fibonacci convention as :func:`rpu.models.ref_lfsr.leap_masks`: shift left, the
    feedback (parity of the tap bits) enters bit 0; a leap is one jump-table step (compiled).
    """
    out, state = _states_kernel(np.uint64(state), _jump_table(width, tuple(taps), leap), count)
    return out, int(state)


@numba.njit(cache=True)
def _fire_kernel(states, offsets, masks, codes, block_signs):
    """``(T, lines)`` fire bits: line i fires in slot t iff its draw (XOR of its state windows
    ``(state >> o) & mask``, (o, mask) from :func:`_tap_columns`) is below ``codes[i]·s``, s
    the sign of the slot's block (blocks of T / len(block_signs) slots; s = 0: below
    ``codes[i]``).  The line loop is branch-free (vectorised)."""
    slots, lines = states.size, codes.size
    block = slots // block_signs.size
    lim = np.empty(lines, np.int64)
    out = np.empty((slots, lines), np.bool_)
    for t in range(slots):
        if t % block == 0:
            sign = block_signs[t // block]
            for i in range(lines):      # lim <= 0: never fires (draws are >= 0)
                lim[i] = codes[i] if sign == 0 else codes[i] * sign
        st = states[t]
        for i in range(lines):          # MAX_TERMS = 4 terms, unrolled
            r = (((st >> offsets[0, i]) & masks[0, i]) ^ ((st >> offsets[1, i]) & masks[1, i])
                 ^ ((st >> offsets[2, i]) & masks[2, i]) ^ ((st >> offsets[3, i]) & masks[3, i]))
            out[t, i] = np.int64(r) < lim[i]
    return out


# -- phases ---------------------------------------------------------------------------------

@numba.njit(cache=True)
def _span(a):
    """(min(0, min a), max(0, max a)) of an int64 vector."""
    lo = hi = 0
    for v in a:
        lo, hi = min(lo, v), max(hi, v)
    return lo, hi


def _check_codes(name: str, codes, lines: int, prob_bits: int):
    """:func:`check_prob_codes` and the codes' span (:func:`_span`)."""
    arr = np.asarray(codes)
    if arr.shape != (lines,) or arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of shape ({lines},), "
                        f"not {arr.dtype} {arr.shape}")
    arr = arr.astype(np.int64)
    lim = 1 << prob_bits
    lo, hi = _span(arr)
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


def update_cycles(phases: int, bl: int, slot_cycles: int) -> int:
    """Cycles from ``start`` to ``done`` inclusive of the ``done`` cycle (SPEC §3.6)."""
    return phases * bl * slot_cycles + 1


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

    ``UpdateStreamsModel(cfg)`` loads ``cfg.x_seed``/``cfg.d_seed`` (as the RTL after
    ``seed_load``); with explicit integers and no seeds the state is the RTL reset state (1).
    Both :meth:`phase_trains` and :meth:`drives` advance the generators identically: once per
    slot of every active phase; the state carries over between updates.
    """

    def __init__(self, cfg=None, *, x_lines=None, d_lines=None, prob_bits=None, bl_max=None,
                 x_seed=None, d_seed=None):
        if cfg is not None:
            x_lines = cfg.in_size if x_lines is None else x_lines
            d_lines = cfg.out_size if d_lines is None else d_lines
            prob_bits = cfg.prob_bits if prob_bits is None else prob_bits
            bl_max = cfg.bl_max if bl_max is None else bl_max
            x_seed = cfg.x_seed if x_seed is None else x_seed
            d_seed = cfg.d_seed if d_seed is None else d_seed
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
        x_seed = _check_int("x_seed", x_seed, 1, hi)
        d_seed = _check_int("d_seed", d_seed, 1, hi)
        self.x_state = expand_seed(x_seed, X_WIDTH)
        self.d_state = expand_seed(d_seed, D_WIDTH)

    # -- raw streams (no phases): fire bits of every line for `slots` consecutive slots --
    def fire_bits(self, x_mag, d_mag, slots: int) -> tuple[np.ndarray, np.ndarray]:
        """``rand < mag`` of every line for ``slots`` slots (advances both generators)."""
        return self._fire(x_mag, d_mag, np.zeros(1, np.int64), np.zeros(1, np.int64), slots)

    def _fire(self, x_codes, d_codes, x_signs, d_signs, slots: int):
        """Fire bits (bool (slots, lines)) of both sides, see :func:`_fire_kernel`."""
        out = []
        for side, codes, signs, cols in (("x", x_codes, x_signs, self._x_cols),
                                         ("d", d_codes, d_signs, self._d_cols)):
            codes = np.asarray(codes, dtype=np.int64)
            if codes.shape != cols[0].shape[1:]:
                raise ValueError(f"{side} magnitudes must have shape {cols[0].shape[1:]}, not {codes.shape}")
            width, taps = (X_WIDTH, X_TAPS) if side == "x" else (D_WIDTH, D_TAPS)
            states, nxt = lfsr_states(getattr(self, side + "_state"), width, taps, self.prob_bits, slots)
            setattr(self, side + "_state", nxt)
            out.append(_fire_kernel(states, *cols, codes, signs))
        return out[0], out[1]

    def _check(self, x_codes, d_codes, bl):
        """Checked codes and ``bl`` and the active phases."""
        x, x_span = _check_codes("x_codes", x_codes, self.x_lines, self.prob_bits)
        d, d_span = _check_codes("d_codes", d_codes, self.d_lines, self.prob_bits)
        bl = _check_int("bl", bl, 0, self.bl_max)
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
        trains = self.phase_trains(x_codes, d_codes, bl)
        n, m = self.x_lines, self.d_lines
        if not trains:
            z = np.zeros((0, n), bool), np.zeros((0, m), bool)
            e = np.zeros(0, dtype=np.int64)
            return SlotDrives(z[0], z[0].copy(), z[1], z[1].copy(), e, e.copy())
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
