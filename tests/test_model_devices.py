"""Device models: dtod draws against the spec's spreads, per-pulse rules, c2c noise, faults."""

from statistics import NormalDist

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models import Crossbar, c2c_normal
from rpu.models.devices import DeviceArray

SIDE = 256                    # 65 536 devices per draw
N_DEV = SIDE * SIDE
Z = 5.0                       # tolerance in standard errors (fixed seeds; ~6e-7 two-sided)


def sample_std_ok(values, sigma):
    """Sample std within Z standard errors σ/sqrt(2n) (normal population)."""
    se = sigma / np.sqrt(2 * values.size)
    return abs(values.std() - sigma) < Z * se


def draw(**kw) -> DeviceArray:
    return DeviceArray(DeviceConfig(**kw), (SIDE, SIDE), 42)


def test_default_device_is_the_2016_spec_table():
    d = DeviceConfig()
    assert (d.model, d.dw_min, d.dw_min_dtod, d.dw_min_std, d.up_down_dtod) == ("constant_step", 0.001, 0.3, 0.3, 0.01)
    assert (d.w_max, d.w_min, d.w_max_dtod, d.w_min_dtod) == (0.6, -0.6, 0.3, 0.3)
    assert TileConfig().device == d


def test_dtod_step_and_bound_spreads_match_the_spec():
    """gain = (dw_up + dw_down)/(2·dw_min) ~ N(1, 0.3²); r = (dw_up − dw_down)/(2·dw_min) ~
    N(0, 0.01²); b_max/0.6, b_min/−0.6 ~ N(1, 0.3²).  Means within Z·σ/sqrt(n), stds within
    Z·σ/sqrt(2n) (the |·| of enforce_consistency touches P(ξ < −3.3) ≈ 4e-4 of the devices,
    a bias far below one standard error)."""
    d = draw()
    gain = (d.dw_up.astype(np.float64) + d.dw_down) / 0.002
    r = (d.dw_up.astype(np.float64) - d.dw_down) / 0.002
    for values, mean, sigma in ((gain, 1.0, 0.3), (r, 0.0, 0.01),
                                (d.b_max / 0.6, 1.0, 0.3), (d.b_min / -0.6, 1.0, 0.3)):
        values = values.astype(np.float64).ravel()
        assert abs(values.mean() - mean) < Z * sigma / np.sqrt(values.size)
        assert sample_std_ok(values, sigma)
    assert np.all(d.b_min <= d.b_max)
    assert np.all((d.w >= d.b_min) & (d.w <= d.b_max))


def test_dtod_spreads_can_be_switched_off():
    d = draw(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)
    assert np.all(d.dw_up == np.float32(0.001)) and np.all(d.dw_down == np.float32(0.001))
    assert np.all(d.b_max == np.float32(0.6)) and np.all(d.b_min == np.float32(-0.6))


@pytest.mark.parametrize("up_down", [0.2, -0.2])
def test_global_up_down_imbalance(up_down):
    """aihwkit: up_down > 0 shortens the down step (1 − up_down), < 0 the up step."""
    d = draw(up_down=up_down, dw_min_dtod=0.0, up_down_dtod=0.0)
    up, down = (1.0, 1 - up_down) if up_down > 0 else (1 + up_down, 1.0)
    np.testing.assert_allclose(d.dw_up / 0.001, up, rtol=1e-5)
    np.testing.assert_allclose(d.dw_down / 0.001, down, rtol=1e-5)


def test_per_device_imbalance_shows_in_an_up_down_pulse_pair():
    """No c2c noise: one potentiating then one depressing coincidence leaves dw_up − dw_down."""
    dev = DeviceConfig(dw_min_std=0.0, up_down_dtod=0.05)
    cfg = TileConfig(in_size=16, out_size=16, device=dev)
    cb = Crossbar(cfg)
    on, off = np.ones(16, bool), np.zeros(16, bool)
    w0 = cb.weights
    cb.apply_slot(on, off, off, on)
    cb.apply_slot(off, on, on, off)
    d = cb.devices
    np.testing.assert_allclose(cb.weights - w0, d.dw_up - d.dw_down, atol=2e-7)
    assert np.std((d.dw_up - d.dw_down) / 0.002) > 0.03    # the imbalance is really there


def test_c2c_noise_of_single_pulses():
    """Constant step, no dtod: one pulse per device gives dw_min·(1 + 0.3ξ): mean and std
    within Z standard errors over 65 536 devices."""
    d = draw(dw_min_dtod=0.0, up_down_dtod=0.0, w_max_dtod=0.0, w_min_dtod=0.0)
    idx = np.arange(N_DEV)
    d.pulse(idx, np.ones(N_DEV, np.int32), up=True)
    step = d.w.astype(np.float64).ravel() / 0.001
    assert abs(step.mean() - 1) < Z * 0.3 / np.sqrt(N_DEV)
    assert sample_std_ok(step, 0.3)


def test_counter_based_normals():
    """c2c_normal: N(0, 1) moments (Z standard errors), no correlation between a device's
    consecutive pulses or between neighbouring devices, and a pure function of its inputs."""
    n = 200_000
    dev = np.arange(n)
    a = c2c_normal(99, dev, np.zeros(n, np.uint64)).astype(np.float64)
    b = c2c_normal(99, dev, np.ones(n, np.uint64)).astype(np.float64)
    assert abs(a.mean()) < Z / np.sqrt(n) and sample_std_ok(a, 1.0)
    assert abs(np.corrcoef(a, b)[0, 1]) < Z / np.sqrt(n)
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < Z / np.sqrt(n)
    tail = np.mean(np.abs(a) > 2)                                  # 4.55 %
    p = 2 * (1 - NormalDist().cdf(2))
    assert abs(tail - p) < Z * np.sqrt(p * (1 - p) / n)
    assert np.array_equal(c2c_normal(99, dev[::-1], np.zeros(n, np.uint64)), a[::-1].astype(np.float32))
    assert not np.array_equal(c2c_normal(98, dev, np.zeros(n, np.uint64)), a.astype(np.float32))


def _one_pulse(model, w, up, **kw):
    dev = DeviceConfig(model=model, dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0,
                       w_max_dtod=0.0, w_min_dtod=0.0, **kw)
    d = DeviceArray(dev, (1, len(w)), 0)
    d.set_weights(np.array([w], np.float32))
    d.pulse(np.arange(len(w)), np.ones(len(w), np.int32), up=up)
    return d.w[0].astype(np.float64) - np.array(w, np.float32)


def test_linear_step_rule():
    w = [-0.6, -0.3, 0.0, 0.3, 0.59]
    up = _one_pulse("linear_step", w, True, gamma_up=0.5)
    down = _one_pulse("linear_step", w, False, gamma_down=0.8)
    np.testing.assert_allclose(up[:-1], 0.001 * (1 - 0.5 * np.array(w[:-1]) / 0.6), rtol=1e-4)
    np.testing.assert_allclose(down[1:], -0.001 * (1 - 0.8 * np.array(w[1:]) / -0.6), rtol=1e-4)


def test_soft_bounds_rule():
    w = [-0.6, -0.3, 0.0, 0.3, 0.6]
    up = _one_pulse("soft_bounds", w, True)
    down = _one_pulse("soft_bounds", w, False)
    np.testing.assert_allclose(up, 0.001 * (1 - np.array(w) / 0.6), atol=1e-7)
    np.testing.assert_allclose(down, -0.001 * (1 - np.array(w) / -0.6), atol=1e-7)
    assert up[-1] == 0 and down[0] == 0


def test_exp_step_is_unidirectional_and_saturating():
    w = [-0.6, -0.2, 0.2, 0.6]
    up = _one_pulse("exp_step", w, True, exp_a=5.0)
    x = (np.array(w) + 0.6) / 1.2
    np.testing.assert_allclose(up[:-1], 0.001 * np.exp(-5 * x[:-1]), rtol=1e-4)
    assert np.all(np.diff(up[:-1]) < 0)
    assert np.all(_one_pulse("exp_step", w, False) == 0)             # no decrease by pulses


def test_reset_returns_to_the_low_state():
    dev = DeviceConfig(model="exp_step", w_min=0.0, w_max=0.2, w_min_dtod=0.0, reset_std=0.01)
    d = DeviceArray(dev, (64, 64), 1)
    d.set_weights(np.full((64, 64), 0.15, np.float32))
    mask = np.zeros((64, 64), bool)
    mask[:, 3] = True
    d.reset(mask)
    low = d.w[:, 3].astype(np.float64)
    assert np.all(low >= 0) and low.mean() == pytest.approx(0.01 * np.sqrt(2 / np.pi), rel=0.5)
    assert np.all(low < 0.01 * Z)
    others = np.delete(d.w, 3, axis=1)
    assert np.all(others == np.minimum(np.float32(0.15), np.delete(d.b_max, 3, axis=1)))
    assert d.reset_counts[:, 3].sum() == 64 and d.reset_counts.sum() == 64


def test_stuck_devices():
    """stuck_prob = 0.1: fraction within Z binomial SEs; stuck at a bound; pulses and
    set_weights leave them unchanged (but pulses are counted)."""
    d = draw(stuck_prob=0.1)
    frac = d.stuck.mean()
    assert abs(frac - 0.1) < Z * np.sqrt(0.1 * 0.9 / N_DEV)
    at = d.w[d.stuck]
    assert np.all((at == d.b_max[d.stuck]) | (at == d.b_min[d.stuck]))
    assert 0.4 < np.mean(at == d.b_max[d.stuck]) < 0.6
    before = d.w.copy()
    d.pulse(np.arange(N_DEV), np.full(N_DEV, 3, np.int32), up=False)
    d.set_weights(np.zeros((SIDE, SIDE), np.float32))
    assert np.array_equal(d.w[d.stuck], before[d.stuck])
    free = ~d.stuck                      # programmed to 0, clipped to their own bounds
    assert np.array_equal(d.w[free], np.clip(np.float32(0), d.b_min, d.b_max)[free])
    assert np.all(d.reset_counts == 3)


def test_bad_device_array_parameters():
    with pytest.raises(TypeError, match="dcfg"):
        DeviceArray({"dw_min": 0.001}, (2, 2), 0)
    with pytest.raises(TypeError, match="shape"):
        DeviceArray(DeviceConfig(), [2, 2], 0)
    with pytest.raises(ValueError, match="shape"):
        DeviceArray(DeviceConfig(), (0, 2), 0)
