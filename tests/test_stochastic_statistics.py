"""Statistics of the update streams (docs/spec.md §3), from the reference and from the RTL.

All runs use fixed seeds, so every test is deterministic; the bounds are what an ideal
Bernoulli source would pass with family-wise probability >= 1 - ALPHA:
* firing rate of line i over T slots: |k - T p| <= z·sqrt(T p (1-p)), Bonferroni over lines;
* coincidences of x-line i and d-line j: |k - T p q| <= z·sqrt(T pq (1-pq)), Bonferroni over
  all N·M pairs (x and d generators independent ⇒ E[A ∧ B] = p q);
* x/d correlation: Pearson r of two independent streams has sd 1/sqrt(T), so
  |r| <= z/sqrt(T), Bonferroni over pairs.
"""

from statistics import NormalDist

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models.ref_stochastic import UpdateStreamsModel
from rpu.spec.streams import D_WIDTH, PHASES, X_WIDTH, line_taps, lines_independent

ALPHA = 1e-3


def z_bonferroni(tests: int, alpha: float = ALPHA) -> float:
    return NormalDist().inv_cdf(1 - alpha / (2 * tests))


def check_rates(bits: np.ndarray, p: np.ndarray):
    """Per-line firing rates within binomial bounds; exact for p = 0 and p = 1."""
    t = bits.shape[0]
    k = bits.sum(0)
    z = z_bonferroni(len(p))
    tol = z * np.sqrt(t * p * (1 - p))
    assert np.all(np.abs(k - t * p) <= tol + 1e-9), \
        f"worst line {np.argmax(np.abs(k - t * p) - tol)}: {k} vs {t * p}"
    return np.max(np.abs(k / t - p))


def check_coincidences(a: np.ndarray, b: np.ndarray, p: np.ndarray, q: np.ndarray):
    """Every x/d pair: coincidence count ≈ T p_i q_j; x/d correlation ≈ 0."""
    t = a.shape[0]
    af, bf = a.astype(np.float64), b.astype(np.float64)
    k = af.T @ bf                                        # (N, M) coincidences
    pq = np.outer(p, q)
    z = z_bonferroni(pq.size)
    dev = np.abs(k - t * pq) - z * np.sqrt(t * pq * (1 - pq))
    assert np.all(dev <= 1e-9), f"pair {np.unravel_index(np.argmax(dev), dev.shape)} off"
    var_a, var_b = af.var(0), bf.var(0)
    ok = (var_a > 0)[:, None] & (var_b > 0)[None, :]
    cov = k / t - np.outer(af.mean(0), bf.mean(0))
    r = np.where(ok, cov / np.sqrt(np.outer(var_a, var_b) + (~ok)), 0.0)
    bound = z / np.sqrt(t)
    assert np.abs(r).max() <= bound, f"max |r| {np.abs(r).max():.4f} > {bound:.4f}"
    return np.abs(r).max(), bound


def stat_codes(n, m, pb, rng):
    one = 1 << pb
    x = rng.integers(1, one, n)
    d = rng.integers(1, one, m)
    x[:3], d[:3] = (0, one, one // 2), (one, 0, 1)      # p = 0, p = 1, p = 1/2 / 1/one
    return x, d


@pytest.mark.parametrize("n,m,pb,seeds", [(64, 64, 8, (0x1234ABCD, 0x0BADF00D)),
                                          (48, 20, 4, (3, 5)), (16, 24, 12, (99, 98))])
def test_reference_streams(n, m, pb, seeds):
    model = UpdateStreamsModel(x_lines=n, d_lines=m, prob_bits=pb)
    model.load_seeds(*seeds)
    x, d = stat_codes(n, m, pb, np.random.default_rng(n))
    a, b = model.fire_bits(x, d, 20_000)
    p, q = x / (1 << pb), d / (1 << pb)
    check_rates(a, p)
    check_rates(b, q)
    check_coincidences(a, b, p, q)


def test_reference_phase_trains_pairs_by_quadrant():
    """Through the phase sequencer: coincidences per phase follow p_i q_j in every quadrant."""
    n = m = 12
    model = UpdateStreamsModel(x_lines=n, d_lines=m, prob_bits=8, bl_max=31)
    model.load_seeds(11, 12)
    rng = np.random.default_rng(3)
    xm, dm = stat_codes(n, m, 8, rng)
    x, d = xm * np.resize([1, -1], n), dm * np.resize([1, 1, -1], m)      # all four quadrants
    k = {p: np.zeros((n, m)) for p in range(4)}
    slots = {p: 0 for p in range(4)}
    for _ in range(600):
        for t in model.phase_trains(x, d, 31):
            k[t.phase] += t.x_bits.T.astype(float) @ t.d_bits.astype(float)
            slots[t.phase] += t.x_bits.shape[0]
    assert all(s == 600 * 31 for s in slots.values())          # all four phases ran
    z = z_bonferroni(4 * n * m)
    p, q = np.abs(x) / 256, np.abs(d) / 256
    for ph, (sx, sd, _) in enumerate(PHASES):
        pq = np.outer(p * (np.sign(x) == sx), q * (np.sign(d) == sd))
        t = slots[ph]
        dev = np.abs(k[ph] - t * pq) - z * np.sqrt(t * pq * (1 - pq))
        assert np.all(dev <= 1e-9), f"phase {ph}"


def test_within_side_lines_pairwise_independent():
    """Exact: every pair of the first 256 lines of a side is jointly uniform at lag 0
    (GF(2) criterion of rpu.spec.streams.lines_independent), and no two lines share taps."""
    for width in (X_WIDTH, D_WIDTH):
        for pb in (8, 12):
            taps = line_taps(width, pb, 256)
            assert len(set(taps)) == len(taps)
            bad = [(a, b) for i, a in enumerate(taps) for b in taps[i + 1:]
                   if not lines_independent(a, b, pb)]
            assert not bad, bad[:3]
    # the criterion itself: overlapping windows are dependent, disjoint ones are not
    assert not lines_independent((0,), (4,), 8) and lines_independent((0,), (8,), 8)
    assert not lines_independent((0, 1), (0,), 8) and lines_independent((0, 16), (0,), 8)


def test_within_side_correlation_small():
    """Empirical lag-0 correlation between lines of one side is at the independence level."""
    model = UpdateStreamsModel(x_lines=64, d_lines=4, prob_bits=8)
    model.load_seeds(0xC0FFEE, 0xBEEF)
    a, _ = model.fire_bits(np.full(64, 128), np.zeros(4, int), 20_000)
    r = np.corrcoef(a.T.astype(float))[np.triu_indices(64, 1)]
    bound = z_bonferroni(r.size) / np.sqrt(a.shape[0])
    assert np.abs(r).max() <= bound, np.abs(r).max()


# RTL streams: tests/test_stochastic.py::test_cosim_update_bit_exact_and_stream_statistics
# applies check_rates / check_coincidences to 10 013 slots of the generated bank under both
# simulators (one run per simulator serves the bit-exact and the statistical checks).


# -- through the crossbar model's slot physics -----------------------------------------------

def test_crossbar_quadrants_and_expected_update():
    """All four sign quadrants move W the right way, and E[ΔW] = -lr·d·xᵀ."""
    from rpu.models import Crossbar
    ideal = DeviceConfig(dw_min=0.001, dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
                         w_max=100.0, w_min=-100.0, w_max_dtod=0.0, w_min_dtod=0.0)
    cfg = TileConfig(in_size=6, out_size=4, bl=10, lr=0.01, device=ideal)
    xb = Crossbar(cfg)
    xb.set_weights(np.zeros((4, 6)))
    model = UpdateStreamsModel(cfg)
    x = np.array([0.9, -0.5, 0.3, -0.8, 0.0, 0.6])
    d = np.array([-0.7, 0.4, 0.8, -0.2])
    c, one = cfg.c_scale, cfg.prob_one
    xc = (np.sign(x) * np.minimum(np.round(c * np.abs(x) * one), one)).astype(int)
    dc = (np.sign(d) * np.minimum(np.round(c * np.abs(d) * one), one)).astype(int)
    updates = 400
    for _ in range(updates):
        r = model.drives(xc, dc, cfg.update.bl)
        xb.apply_slots(r.x_pos, r.x_neg, r.d_pos, r.d_neg)
    dw = xb.weights.astype(np.float64) / updates
    want = -cfg.update.lr * np.outer(d, x)
    # the quantised probabilities give E[ΔW] within 1 % of -lr·d·x (C·|v| quantised to 1/256)
    pq = np.outer(np.abs(dc), np.abs(xc)) / one ** 2
    expect = -np.sign(np.outer(d, x)) * cfg.update.bl * cfg.device.dw_min * pq
    np.testing.assert_allclose(expect, want, atol=0.01 * np.abs(want).max())
    # quadrants: sign of ΔW is -sign(d x) wherever d x != 0, zero elsewhere
    nz = np.outer(d, x) != 0
    assert np.all(np.sign(dw[nz]) == -np.sign(np.outer(d, x)[nz])) and np.all(dw[~nz] == 0)
    # mean within binomial bounds (counts ~ Binomial(updates·BL, p q)), Bonferroni over devices
    t = updates * cfg.update.bl
    sd = cfg.device.dw_min * cfg.update.bl * np.sqrt(pq * (1 - pq) / t)
    z = z_bonferroni(nz.sum())
    assert np.all(np.abs(dw - expect)[nz] <= z * sd[nz])


def _chi2_quantile(q: float, k: int) -> float:
    """Wilson–Hilferty approximation of the chi-square quantile (k >= 30: error < 1 %)."""
    z = NormalDist().inv_cdf(q)
    return k * (1 - 2 / (9 * k) + z * np.sqrt(2 / (9 * k))) ** 3


@pytest.mark.parametrize("pb", [4, 8])
def test_firing_counts_have_binomial_dispersion(pb):
    """Counts in B blocks of L slots: Σ (k - Lp)² / (L p (1-p)) ~ χ²(B) for a Bernoulli source.

    Catches slot-to-slot correlation of a line's draws (a sparse feedback polynomial's short
    relations), which the mean tests cannot see.  Two-sided χ² bounds, Bonferroni over the
    2 sides × 3 probabilities × 2 lines."""
    one, blocks, length = 1 << pb, 120, 400
    model = UpdateStreamsModel(x_lines=2, d_lines=2, prob_bits=pb)
    model.load_seeds(0x2468ACE, 0x13579BD)
    tests = 2 * 3 * 2
    lo = _chi2_quantile(ALPHA / (2 * tests), blocks)
    hi = _chi2_quantile(1 - ALPHA / (2 * tests), blocks)
    for code in (1, one // 16, one // 2):
        mag = np.full(2, code)
        a, b = model.fire_bits(mag, mag, blocks * length)
        p = code / one
        for side, bits in (("x", a), ("d", b)):
            k = bits.reshape(blocks, length, 2).sum(1)
            stat = ((k - length * p) ** 2 / (length * p * (1 - p))).sum(0)
            assert np.all((lo <= stat) & (stat <= hi)), (side, code, stat, lo, hi)


def _order_is_full(width, taps):
    """x has multiplicative order 2**width - 1 modulo the characteristic polynomial."""
    factors = {63: (7, 73, 127, 337, 92737, 649657),
               64: (3, 5, 17, 257, 641, 65537, 6700417)}[width]
    poly = (1 << width) | sum(1 << (width - t) for t in taps)

    def mulmod(a, b):
        r = 0
        while b:
            if b & 1:
                r ^= a
            b >>= 1
            a <<= 1
            if a >> width & 1:
                a ^= poly
        return r

    def power(e):
        r, b = 1, 2
        while e:
            if e & 1:
                r = mulmod(r, b)
            b, e = mulmod(b, b), e >> 1
        return r

    n = (1 << width) - 1
    return power(n) == 1 and all(power(n // q) != 1 for q in factors)


def test_generators_are_maximal_length_and_distinct():
    from rpu.spec.streams import D_TAPS, X_TAPS
    assert _order_is_full(X_WIDTH, X_TAPS) and _order_is_full(D_WIDTH, D_TAPS)
    assert not _order_is_full(D_WIDTH, (63, 57, 50, 48, 23, 11))   # the check can fail
