"""Random sources of the update (docs/spec.md §3): LFSR polynomials, leap-forward masks, seed
expansion, per-line tap sets and the sign-phase table — the one description the RTL's XOR
networks and the reference's jump tables are both built from.

The x side runs a 64-bit Fibonacci LFSR (taps 64, 63, 61, 60), the d side a 63-bit one
(taps 63, 57, 50, 48, 23, 10): different primitive polynomials with coprime periods
(2**64−1, 2**63−1), seeded separately, so over the joint period the two states are exactly
independent and E[A_i ∧ B_j] = p_i·q_j.  Each LFSR leaps ``prob_bits`` shifts per active
slot.  (The table's 63-bit trinomial 63,62 was rejected: its weight-3 relation between bits
62 and 63 apart made a line's draws a few slots apart correlated, inflating the variance of
firing counts up to 2.9× the binomial value at low p; the spread heptanomial measures ≈ 1×,
see tests/test_stochastic_statistics.py.)

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

from functools import lru_cache

from rpu.config import MAX_LINES, ConverterConfig, IntRule, UpdateConfig

__all__ = [
    "PRIMITIVE_TAPS", "check_lfsr_params", "leap_masks", "X_WIDTH", "X_TAPS", "D_WIDTH",
    "D_TAPS", "SEED_BITS", "MAX_TERMS", "PHASES", "seed_masks", "expand_seed", "line_taps",
    "lines_independent", "check_stream_params",
]

# Maximal-length feedback taps (1-indexed bit numbers, Xilinx XAPP052 table); the
# x-side and d-side generators use different polynomials (docs/spec.md §3).
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
    IntRule(2, 128).check("LFSR width", width)
    if not isinstance(taps, tuple) or not all(isinstance(t, int) for t in taps):
        raise TypeError(f"LFSR taps must be a tuple of integers, not {taps!r}")
    if not taps or max(taps) != width or min(taps) < 1 or len(set(taps)) != len(taps):
        raise ValueError(f"LFSR taps must be distinct bit numbers in [1, {width}] including {width}, not {taps!r}")
    IntRule(1, 4 * width).check("LFSR leap", leap)


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


X_WIDTH, D_WIDTH = 64, 63
X_TAPS = PRIMITIVE_TAPS[X_WIDTH]
D_TAPS = (63, 57, 50, 48, 23, 10)
SEED_BITS = 32
MAX_TERMS = 4          # state windows XORed into one line's draw

#: sign phases in order: (x-lines that may fire: +1 for x > 0 / -1 for x < 0, d-lines: sign,
#: potentiate); each phase drives its x-lines at +V/2 when it potentiates, −V/2 otherwise
#: (its d-lines the opposite), docs/architecture.md
PHASES = ((+1, -1, True), (+1, +1, False), (-1, +1, True), (-1, -1, False))


def check_stream_params(x_lines, d_lines, prob_bits, bl_max=255, slot_cycles=1, lanes=1):
    """Validate the parameters shared by the RTL and the model (TypeError / ValueError)."""
    u = UpdateConfig.field_rules()
    IntRule(1, MAX_LINES).check("x_lines", x_lines)
    IntRule(1, MAX_LINES).check("d_lines", d_lines)
    u["prob_bits"][0].check("prob_bits", prob_bits)
    u["bl_max"][0].check("bl_max", bl_max)
    ConverterConfig.field_rules()["slot_cycles"][0].check("slot_cycles", slot_cycles)
    IntRule(1, MAX_LINES).check("lanes", lanes)


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


