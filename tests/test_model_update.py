"""Behavioural crossbar: slot-level update physics, statistics of the stochastic update,
and equality of the slot, multi-slot and vector (phase-train) paths."""

from statistics import NormalDist
from types import SimpleNamespace

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models import PHASE_DRIVES, Crossbar, TileReference
from rpu.models.crossbar import polarity_runs
from rpu.models.ref_management import to_fixed, update_codes
from rpu.models.ref_stochastic import UpdateStreamsModel

IDEAL = DeviceConfig(dw_min=0.001, dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
                     w_max=100.0, w_min=-100.0, w_max_dtod=0.0, w_min_dtod=0.0)


def cfg_of(m=4, n=6, device=IDEAL, **kw):
    return TileConfig(in_size=n, out_size=m, device=device, **kw)


# (sign of x that may fire, sign of d that may fire) per phase (docs/architecture.md)
PHASE_GROUPS = {0: (+1, -1), 1: (+1, +1), 2: (-1, +1), 3: (-1, -1)}


def one_hot(size, *on):
    v = np.zeros(size, bool)
    v[list(on)] = True
    return v


def numpy_phase_slots(rng, x, d, c, bl):
    """Drives of one update from numpy Bernoulli trains with exact p = C·|v| (docs/spec.md §3)."""
    px, pd = np.minimum(1, c * np.abs(x)), np.minimum(1, c * np.abs(d))
    out = []
    for phase, (xs, ds) in PHASE_DRIVES.items():
        sx, sd = PHASE_GROUPS[phase]
        xb = (rng.random((bl, x.size)) < px) & (np.sign(x) == sx)
        db = (rng.random((bl, d.size)) < pd) & (np.sign(d) == sd)
        z_x, z_d = np.zeros_like(xb), np.zeros_like(db)
        out.append(((xb, z_x) if xs > 0 else (z_x, xb)) + ((db, z_d) if ds > 0 else (z_d, db)))
    return out


# -- physics ------------------------------------------------------------------------------

@pytest.mark.parametrize("x_side,d_side", [
    ("pos", None), ("neg", None), (None, "pos"), (None, "neg"),      # single pulsed line
    ("pos", "pos"), ("neg", "neg"),                                  # both at the same V/2
])
def test_half_selected_devices_unchanged(x_side, d_side):
    cfg = cfg_of(device=DeviceConfig())                              # default noisy device
    cb = Crossbar(cfg)
    w0 = cb.weights
    z_x, z_d = np.zeros(6, bool), np.zeros(4, bool)
    x = one_hot(6, 2, 4)
    d = one_hot(4, 1, 3)
    cb.apply_slot(x if x_side == "pos" else z_x, x if x_side == "neg" else z_x,
                  d if d_side == "pos" else z_d, d if d_side == "neg" else z_d)
    assert np.array_equal(cb.weights, w0)
    assert all(c.sum() == 0 for c in cb.pulse_counts)


def test_full_select_potentiates_and_depresses_exactly_the_crossing_devices():
    cb = Crossbar(cfg_of())
    z_x, z_d = np.zeros(6, bool), np.zeros(4, bool)
    cb.apply_slot(one_hot(6, 1, 3), z_x, z_d, one_hot(4, 0, 2))      # x +V/2, d -V/2
    dw = cb.weights
    expect = np.zeros((4, 6), np.float32)
    expect[np.ix_([0, 2], [1, 3])] = 0.001
    np.testing.assert_allclose(dw, expect, atol=1e-9)
    cb.apply_slot(z_x, one_hot(6, 1, 5), one_hot(4, 0), z_d)         # x -V/2, d +V/2
    expect[0, 1] -= 0.001
    expect[0, 5] -= 0.001
    np.testing.assert_allclose(cb.weights, expect, atol=1e-9)
    sets, resets = cb.pulse_counts
    assert sets.sum() == 4 and resets.sum() == 2 and resets[0, 5] == 1


def test_all_sign_quadrants_move_the_right_way_through_the_phases():
    """p = 1 on every line: each device gets BL coincidences of sign −d·x, via the phases
    of the bit-exact stream reference."""
    cfg = cfg_of(4, 4)
    x_codes = np.array([1, -1, 1, -1]) * cfg.prob_one
    d_codes = np.array([1, 1, -1, -1]) * cfg.prob_one
    streams = UpdateStreamsModel(cfg)
    trains = streams.phase_trains(x_codes, d_codes, cfg.update.bl)
    assert [t.phase for t in trains] == [0, 1, 2, 3]
    cb = Crossbar(cfg)
    cb.apply_phase_trains(trains)
    expect = -np.sign(np.outer(d_codes, x_codes)) * cfg.update.bl * cfg.device.dw_min
    np.testing.assert_allclose(cb.weights, expect, atol=1e-6)


def test_model_refuses_a_phase_whose_drives_contradict_its_flag():
    cfg = cfg_of(4, 4)
    bits_x, bits_d = np.ones((3, 4), bool), np.ones((3, 4), bool)
    bad = SimpleNamespace(phase=1, potentiate=True, x_bits=bits_x, d_bits=bits_d)
    with pytest.raises(ValueError, match="cannot potentiate"):
        Crossbar(cfg).apply_phase_trains([bad])


def test_clip_after_every_pulse():
    """w = b_max − dw/2, then 5 up and 1 down pulse in six slots: clipping after each pulse
    ends at b_max − dw; clipping only at the end would give b_max."""
    cfg = cfg_of(1, 1, device=IDEAL.replace(w_max=0.5, w_min=-0.5))
    cb = Crossbar(cfg)
    cb.set_weights(np.array([[0.5 - 0.0005]]))
    down = np.zeros((6, 1), bool)
    down[5] = True
    cb.apply_slots(~down, down, down, ~down)
    assert cb.weights[0, 0] == pytest.approx(0.5 - 0.001, abs=1e-7)


# -- statistics of the stochastic update ---------------------------------------------------

def test_constant_step_mean_and_spread_match_binomial():
    """K updates with fixed x, d on a noise-free constant-step device.

    Per update, n_ij ~ Binomial(BL, p_ij), p_ij = C²|x_j d_i|, and ΔW_ij = −sign(d_i x_j)·
    dw_min·n_ij, so E[ΔW] = −lr·d·xᵀ (C² = lr/(BL·dw_min)).  Mean: every element within
    z·SE, SE = dw_min·sqrt(BL·p(1−p)/K), z for a family-wise α = 1e-3 (Bonferroni over M·N,
    normal approximation: K·BL·p ≥ 160).  Spread: the pooled ratio of the per-update sample
    variances to BL·p(1−p) is 1 within 5 standard errors of that ratio (from Var(s²) with the
    binomial's excess kurtosis)."""
    m, n, bl, lr, K = 8, 12, 10, 0.01, 400
    cfg = cfg_of(m, n, bl=bl, lr=lr)
    rng = np.random.default_rng(7)
    x = rng.uniform(0.2, 1.0, n) * rng.choice([-1, 1], n)
    d = rng.uniform(0.2, 1.0, m) * rng.choice([-1, 1], m)
    c = cfg.c_scale
    cb = Crossbar(cfg)
    steps = np.empty((K, m, n))
    for k in range(K):
        w0 = cb.weights
        for slots in numpy_phase_slots(rng, x, d, c, bl):
            cb.apply_slots(*slots)
        steps[k] = cb.weights.astype(np.float64) - w0
    counts = np.rint(np.abs(steps) / cfg.device.dw_min)
    np.testing.assert_allclose(np.abs(steps), counts * cfg.device.dw_min, atol=1e-6)
    p = c * c * np.abs(np.outer(d, x))
    assert p.max() <= 1
    se = cfg.device.dw_min * np.sqrt(bl * p * (1 - p) / K)
    z = NormalDist().inv_cdf(1 - 1e-3 / (2 * m * n))
    dev = np.abs(steps.mean(axis=0) - (-lr * np.outer(d, x)))
    assert np.all(dev < z * se), f"worst |mean − expected|/SE = {(dev / se).max():.2f} > {z:.2f}"

    var_exp = bl * p * (1 - p)
    s2 = counts.var(axis=0, ddof=1)
    kurt = (1 - 6 * p * (1 - p)) / var_exp
    var_s2 = var_exp ** 2 * (2 / (K - 1) + kurt / K)
    ratio, ratio_se = s2.sum() / var_exp.sum(), np.sqrt(var_s2.sum()) / var_exp.sum()
    assert abs(ratio - 1) < 5 * ratio_se, f"variance ratio {ratio:.4f} ± {ratio_se:.4f}"


def test_long_slot_runs_count_every_coincidence():
    """300 slots (more than one 64-bit word and than a uint8) of ±V on a 2 × 3 array."""
    cb = Crossbar(cfg_of(2, 3))
    on = np.ones((300, 3), bool)
    d_on = np.zeros((300, 2), bool)
    d_on[:, 1] = True
    d_on[::7, 1] = False                                    # 257 slots on
    cb.apply_slots(on, ~on, ~d_on, d_on)
    sets, _ = cb.pulse_counts
    assert sets[1].tolist() == [257] * 3 and sets[0].sum() == 0
    np.testing.assert_allclose(cb.weights[1], 0.257, rtol=1e-5)


def test_pulse_counts_record_every_coincidence():
    cfg = cfg_of(5, 7, device=DeviceConfig())
    rng = np.random.default_rng(3)
    x, d = rng.uniform(-1, 1, 7), rng.uniform(-1, 1, 5)
    cb = Crossbar(cfg)
    pot = dep = 0
    for xp, xn, dp, dn in numpy_phase_slots(rng, x, d, 0.8, 10):
        cb.apply_slots(xp, xn, dp, dn)
        pot = pot + dn.T.astype(int) @ xp.astype(int)
        dep = dep + dp.T.astype(int) @ xn.astype(int)
    sets, resets = cb.pulse_counts
    assert np.array_equal(sets, pot) and np.array_equal(resets, dep) and sets.sum() > 0


# -- the paths agree bit for bit -----------------------------------------------------------

@pytest.mark.parametrize("model", ["constant_step", "linear_step", "soft_bounds", "exp_step"])
def test_multi_slot_equals_slot_by_slot(model):
    dev = DeviceConfig(model=model, gamma_up=0.3, gamma_down=0.6, up_down=0.05, stuck_prob=0.05)
    cfg = cfg_of(16, 24, device=dev)
    rng = np.random.default_rng(11)
    a, b = Crossbar(cfg, seed=5), Crossbar(cfg, seed=5)
    for _ in range(3):
        x, d = rng.uniform(-1, 1, 24), rng.uniform(-1, 1, 16)
        for slots in numpy_phase_slots(rng, x, d, 1.0, 12):
            a.apply_slots(*slots)                                   # aggregated per phase
            for t in range(12):
                b.apply_slot(*(s[t] for s in slots))                # slot by slot
    # mixed directions inside one call (takes the ordered path)
    xp = rng.random((9, 24)) < 0.5
    dp = rng.random((9, 16)) < 0.5
    a.apply_slots(xp, ~xp, dp, ~dp)
    for t in range(9):
        b.apply_slot(xp[t], ~xp[t], dp[t], ~dp[t])
    assert np.array_equal(a.weights, b.weights)
    assert all(np.array_equal(u, v) for u, v in zip(a.pulse_counts, b.pulse_counts))
    assert a.pulse_counts[0].sum() > 0


def test_vector_update_reproduces_slot_level_cosimulation():
    """Tile.update (UM → phase trains → aggregated apply) vs the RTL's per-slot drives fed
    one slot at a time, as the co-simulation front-end does: identical weights."""
    cfg = TileConfig(in_size=32, out_size=16)
    tile = TileReference(cfg)
    cosim, batched = Crossbar(cfg), Crossbar(cfg)
    streams = UpdateStreamsModel(cfg)
    rng = np.random.default_rng(2)
    w = rng.uniform(-0.3, 0.3, (16, 32))
    for cb in (tile, cosim, batched):
        cb.set_weights(w)
    for _ in range(5):
        x, d = rng.uniform(-1, 1, 32), rng.normal(0, 0.3, 16)
        tile.update(x, d)
        uc = update_codes(cfg, to_fixed(cfg, x), to_fixed(cfg, d))
        drv = streams.drives(uc.x_codes, uc.d_codes, uc.bl)
        for t in range(drv.x_pos.shape[0]):
            cosim.apply_slot(drv.x_pos[t], drv.x_neg[t], drv.d_pos[t], drv.d_neg[t])
        batched.apply_slots(drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg)   # whole update at once
        runs = polarity_runs(drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg)
        assert runs[0][0] == 0 and runs[-1][1] == drv.x_pos.shape[0]
        assert all(a[1] == b[0] for a, b in zip(runs, runs[1:]))
        assert len(runs) <= len(set(drv.phase.tolist()))          # at most one run per phase
    assert np.array_equal(tile.weights, cosim.weights)
    assert np.array_equal(batched.weights, cosim.weights)
    assert not np.array_equal(tile.weights, w.astype(np.float32))


def test_same_seed_same_results_other_seed_differs():
    cfg = cfg_of(8, 8, device=DeviceConfig())

    def run(seed):
        cb = Crossbar(cfg, seed=seed)
        rng = np.random.default_rng(0)
        for slots in numpy_phase_slots(rng, rng.uniform(-1, 1, 8), rng.uniform(-1, 1, 8), 1.0, 10):
            cb.apply_slots(*slots)
        return cb.weights, cb.read_forward(np.linspace(-1, 1, 8))[0]

    (w1, r1), (w2, r2), (w3, _) = run(1), run(1), run(2)
    assert np.array_equal(w1, w2) and np.array_equal(r1, r2)
    assert not np.array_equal(w1, w3)
    assert np.array_equal(Crossbar(cfg).weights, Crossbar(cfg, seed=cfg.model_seed).weights)


def test_half_select_disturb():
    """disturb > 0: a half-selected device moves by disturb·dw toward the sign of the V/2
    it sees; fully selected ones take a full step; unselected ones stay."""
    cfg = cfg_of(3, 3, device=IDEAL.replace(disturb=0.1))
    cb = Crossbar(cfg)
    z = np.zeros(3, bool)
    cb.apply_slots(one_hot(3, 0)[None], z[None], z[None], one_hot(3, 0)[None])  # x0 +, d0 −
    expect = np.array([[1, .1, .1], [.1, 0, 0], [.1, 0, 0]]) * 0.001
    np.testing.assert_allclose(cb.weights, expect, atol=1e-9)
    cb.apply_slot(z, z, one_hot(3, 2), z)                  # d2 at +V/2 alone: −V/2 seen
    expect[2] -= 0.0001
    np.testing.assert_allclose(cb.weights, expect, atol=1e-9)


def test_polarity_runs_split_only_where_a_line_flips():
    xp = np.array([[1, 0], [1, 0], [0, 0], [0, 0], [0, 1]], bool)
    xn = np.array([[0, 0], [0, 0], [1, 0], [0, 1], [0, 0]], bool)
    d0 = np.zeros((5, 1), bool)
    assert polarity_runs(xp, xn, d0, d0) == [(0, 2), (2, 4), (4, 5)]
    dp = np.array([[1], [0], [0], [0], [0]], bool)
    dn = np.array([[0], [1], [0], [0], [0]], bool)
    assert polarity_runs(d0 | False, d0, dp, dn) == [(0, 1), (1, 5)]
    assert polarity_runs(np.zeros((0, 2), bool), np.zeros((0, 2), bool), d0[:0], d0[:0]) == []
