"""Multi-conductance cells: W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻), pair-addressed pulses, polarity, reset."""

import numpy as np
import pytest

from rpu.config import DeviceConfig, MultiConductanceConfig, TileConfig
from rpu.models import MultiConductanceCrossbar

QUIET = DeviceConfig(dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max_dtod=0.0)


def make(m=4, n=5, device=QUIET, **mc):
    mc = MultiConductanceConfig(enabled=True, **mc)
    return MultiConductanceCrossbar(TileConfig(in_size=n, out_size=m, device=device, mc=mc,
                                               out_noise=0.0))


def program(cb, rng):
    shape = (cb.cfg.out_size, cb.cfg.in_size)
    parts = {k: rng.uniform(0, 0.2, shape).astype(np.float32) for k in ("G+", "G-", "g+", "g-")}
    cb.set_pair("msp", parts["G+"], parts["G-"])
    cb.set_pair("lsp", parts["g+"], parts["g-"])
    return parts


def test_weight_formula_and_separate_reads():
    cb = make(significance=4.0)
    p = program(cb, np.random.default_rng(0))
    msp, lsp = p["G+"] - p["G-"], p["g+"] - p["g-"]
    np.testing.assert_allclose(cb.weights, 4.0 * msp + lsp, atol=1e-6)
    np.testing.assert_allclose(cb.weights_msp, msp, atol=1e-7)
    np.testing.assert_allclose(cb.weights_lsp, lsp, atol=1e-7)
    v = np.array([1.0, -0.5, 0.25, 0.0, 1.0])
    lsb = cb.cfg.adc_lsb
    vq = np.rint(v * 63) / 63
    codes, _ = cb.read_forward(v)                     # the combined weight, gain 1
    assert np.all(np.abs(codes * lsb - (4.0 * msp + lsp) @ vq) <= lsb / 2 + 1e-6)
    bcodes, _ = cb.read_backward(np.ones(4))
    assert np.all(np.abs(bcodes * lsb - (4.0 * msp + lsp).sum(axis=0)) <= lsb / 2 + 1e-6)
    # one pair or device (the transfer's one-hot reads): sensed with gain 2^read_shift
    gain = 2.0 ** cb.cfg.mc.read_shift
    for part, w in (("msp", msp), ("lsp", lsp), ("G+", p["G+"]), ("G-", p["G-"])):
        for j in range(5):
            net = np.zeros(5, np.int64)
            net[j] = 63
            codes, _ = cb.read_forward_pulses(net, part=part)
            assert np.all(np.abs(codes * lsb - gain * w[:, j]) <= lsb / 2 + 1e-5), (part, j)


def test_default_significance_and_pair_models_come_from_the_config():
    cb = make()
    assert cb.significance == 3.0
    assert cb.devices["G+"].cfg.model == "exp_step" and cb.devices["g+"].cfg.model == "constant_step"
    assert all(d.cfg.w_min == 0.0 and d.cfg.w_max == 0.2 for d in cb.devices.values())
    cb2 = make(msp_model="soft_bounds", lsp_model="linear_step", g_max=0.5)
    assert cb2.devices["G-"].cfg.model == "soft_bounds" and cb2.devices["g-"].cfg.model == "linear_step"
    assert np.all(cb2.devices["g-"].b_max == np.float32(0.5))
    on5, on4, z5, z4 = np.ones(5, bool), np.ones(4, bool), np.zeros(5, bool), np.zeros(4, bool)
    cb2.apply_slot(on5, z5, z4, on4)                      # linear-step LSP with lower bound 0
    cb2.apply_slot(z5, on5, on4, z4)
    assert np.all(cb2.devices["g+"].w > 0) and np.all(cb2.devices["g-"].w > 0)


@pytest.mark.parametrize("pair,scale", [("lsp", 1.0), ("msp", 3.0)])
def test_pulses_address_one_device_of_the_chosen_pair(pair, scale):
    cb = make(msp_model="constant_step")
    on_x, on_d = np.zeros(5, bool), np.zeros(4, bool)
    on_x[2], on_d[1] = True, True
    zx, zd = np.zeros(5, bool), np.zeros(4, bool)
    w0 = cb.weights
    cb.apply_slot(on_x, zx, zd, on_d, pair=pair)            # +V: increase w
    plus, minus = ("G+", "G-") if pair == "msp" else ("g+", "g-")
    assert cb.devices[plus].set_counts[1, 2] == 1 and cb.devices[minus].set_counts.sum() == 0
    dw = cb.weights - w0
    assert dw[1, 2] == pytest.approx(scale * 0.001, rel=1e-4)
    assert np.count_nonzero(dw) == 1
    cb.apply_slot(zx, on_x, on_d, zd, pair=pair)            # −V: decrease w = SET on the "−" device
    assert cb.devices[minus].set_counts[1, 2] == 1
    np.testing.assert_allclose(cb.weights, w0, atol=1e-6)
    others = [k for k in cb.devices if k not in (plus, minus)]
    assert all(cb.devices[k].set_counts.sum() == 0 for k in others)


def test_polarity_is_per_column_and_physical():
    """p_j = −1 negates column j's LSP read and sends its "increase w" pulses to g⁻."""
    cb = make()
    program(cb, np.random.default_rng(1))
    lsp, w0 = cb.weights_lsp, cb.weights
    cb.flip_polarity([1, 3])
    assert cb.polarity.tolist() == [1, -1, 1, -1, 1]
    want = w0.copy()
    want[:, [1, 3]] -= 2 * lsp[:, [1, 3]]
    np.testing.assert_allclose(cb.weights, want, atol=1e-6)
    for j in range(5):
        cb.reset_lsp_column(j)
    w1 = cb.weights
    g_plus, g_minus = cb.devices["g+"].set_counts.copy(), cb.devices["g-"].set_counts.copy()
    cb.apply_slot(np.ones(5, bool), np.zeros(5, bool), np.zeros(4, bool), np.ones(4, bool))
    dp = cb.devices["g+"].set_counts - g_plus
    dm = cb.devices["g-"].set_counts - g_minus
    assert dp[:, [0, 2, 4]].sum() == 12 and dp[:, [1, 3]].sum() == 0
    assert dm[:, [1, 3]].sum() == 8 and dm[:, [0, 2, 4]].sum() == 0
    assert np.all(cb.weights > w1)                 # increase w increases W in every column
    cb.flip_polarity()
    assert cb.polarity.tolist() == [-1, 1, -1, 1, -1]


def test_initial_polarity_from_the_config():
    cb = make(initial_polarity=-1)
    assert np.all(cb.polarity == -1)
    cb.apply_slot(np.ones(5, bool), np.zeros(5, bool), np.zeros(4, bool), np.ones(4, bool))
    assert cb.devices["g-"].set_counts.sum() == 20 and np.all(cb.weights_lsp > 0)


def test_lsp_leak_decays_toward_the_zero_point():
    cb = make(lsp_model="constant_step", lsp_leak=0.1)
    parts = program(cb, np.random.default_rng(5))
    msp = cb.weights_msp
    cb.leak()
    for k in ("g+", "g-"):
        np.testing.assert_allclose(cb.devices[k].w, parts[k] * np.float32(0.9), rtol=1e-6)
    np.testing.assert_array_equal(cb.weights_msp, msp)
    quiet = make()
    before = quiet.devices["g+"].w.copy()
    quiet.leak()                                    # lsp_leak 0: nothing
    np.testing.assert_array_equal(quiet.devices["g+"].w, before)


def test_lsp_column_reset():
    cb = make(device=QUIET.replace(reset_std=0.002))
    program(cb, np.random.default_rng(3))
    msp0, g0 = cb.weights_msp, {k: cb.devices[k].w.copy() for k in ("g+", "g-")}
    cb.reset_lsp_column(2)
    for k in ("g+", "g-"):
        col = cb.devices[k].w[:, 2]
        assert np.all((col >= 0) & (col < 5 * 0.002))        # low state, half-normal spread
        assert np.array_equal(np.delete(cb.devices[k].w, 2, axis=1), np.delete(g0[k], 2, axis=1))
        assert cb.devices[k].reset_counts[:, 2].sum() == 4 and cb.devices[k].reset_counts.sum() == 4
    np.testing.assert_array_equal(cb.weights_msp, msp0)
    assert np.all(np.abs(cb.weights_lsp[:, 2]) < 5 * 0.002)


def test_set_weights_programs_the_msp_and_resets_the_lsp():
    cb = make(device=QUIET.replace(reset_std=0.0))
    w = np.random.default_rng(4).uniform(-0.5, 0.5, (4, 5))
    cb.set_weights(w)
    np.testing.assert_allclose(cb.weights, w, atol=1e-6)
    assert np.all(cb.weights_lsp == 0)


def test_exp_step_msp_is_unidirectional():
    cb = make()                                     # MSP exp_step
    on5, on4, z5, z4 = np.ones(5, bool), np.ones(4, bool), np.zeros(5, bool), np.zeros(4, bool)
    for _ in range(50):
        cb.apply_slot(on5, z5, z4, on4, pair="msp")
    g = cb.devices["G+"].w.astype(np.float64)
    assert np.all(g > 0) and np.all(cb.devices["G-"].w == 0)
    # saturating: dw/dn = dw_min·exp(−a·w/g_max) ⇒ w(n) = (g_max/a)·ln(1 + a·dw_min·n/g_max)
    np.testing.assert_allclose(g, 0.2 / 5 * np.log(1 + 5 * 0.001 * 50 / 0.2), rtol=0.02)
    assert np.all(g < 0.7 * 50 * 0.001)
