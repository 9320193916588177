"""Tile: periphery reference (management, streams) around the behavioural array."""

import numpy as np
import pytest

from rpu.config import MultiConductanceConfig, TileConfig
from rpu.models import Crossbar, MultiConductanceCrossbar, TileReference


def test_forward_and_backward_follow_w_within_the_noise_model():
    """NM scales the input by α = max|x|: per output, |y − W·x| ≤ α·(5σ_out + lsb/2 +
    Σ_j|W_ij|·½/dac_max) + 2^-frac (5σ noise, ADC and DAC rounding, output format), a bound
    chance exceeds with p < 1e-6 per line; a wrong orientation or scale is off by O(1)."""
    cfg = TileConfig(in_size=32, out_size=24)
    tile = TileReference(cfg)
    rng = np.random.default_rng(0)
    tile.set_weights(rng.uniform(-0.3, 0.3, (24, 32)))
    w = tile.weights.astype(np.float64)
    x, d = rng.uniform(-1, 1, 32), rng.uniform(-1, 1, 24)

    def bound(v, wm):
        return (np.abs(v).max() * (5 * cfg.io.out_noise + cfg.adc_lsb / 2
                                   + np.abs(wm).sum(axis=1) / (2 * cfg.dac_max))
                + 2.0 ** -cfg.host.value_frac_bits)

    assert np.all(np.abs(tile.forward(x) - w @ x) < bound(x, w))
    assert tile.last_read.passes >= 1
    assert np.all(np.abs(tile.backward(d) - w.T @ d) < bound(d, w.T))


def test_bound_management_recovers_a_saturated_forward():
    cfg = TileConfig(in_size=64, out_size=8)
    tile = TileReference(cfg)
    tile.set_weights(np.full((8, 64), 0.4))
    w = tile.weights.astype(np.float64)
    x = np.ones(64)                                       # W·x ≈ 25.6 > bound 12
    y = tile.forward(x)
    assert tile.last_read.passes > 1 and not tile.last_read.gave_up
    np.testing.assert_allclose(y, w @ x, rtol=0.03)


def test_update_moves_w_along_minus_d_x_and_honours_lr():
    cfg = TileConfig(in_size=32, out_size=16)
    rng = np.random.default_rng(1)
    x, d = rng.uniform(-1, 1, 32), rng.uniform(-0.1, 0.1, 16)   # lr·max|x|·max|d|/dw_min < BL
    steps = {}
    for lr in (0.01, 0.04):
        tile = TileReference(cfg)
        w0 = tile.weights
        for _ in range(20):
            tile.update(x, d, lr=lr)
        steps[lr] = (tile.weights - w0).astype(np.float64) / 20
        assert tile.last_update.bl == cfg.update.bl
    target = -np.outer(d, x)
    for lr, dw in steps.items():
        corr = np.corrcoef(dw.ravel(), target.ravel())[0, 1]
        assert corr > 0.8, (lr, corr)
    ratio = np.sum(steps[0.04] * target) / np.sum(steps[0.01] * target)
    assert 3.0 < ratio < 5.0                              # 4× lr ⇒ ≈ 4× projected step


def test_tile_picks_the_array_from_the_config():
    assert isinstance(TileReference(TileConfig(in_size=4, out_size=4)).crossbar, Crossbar)
    mc = TileConfig(in_size=4, out_size=4, mc=MultiConductanceConfig(enabled=True))
    tile = TileReference(mc)
    assert isinstance(tile.crossbar, MultiConductanceCrossbar)
    tile.update(np.ones(4), -np.ones(4))
    assert tile.crossbar.devices["g+"].set_counts.sum() > 0
    assert tile.crossbar.devices["G+"].set_counts.sum() == 0


def test_tile_rejects_bad_input():
    tile = TileReference(TileConfig(in_size=4, out_size=3))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        tile.forward(np.ones(3))
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        tile.update(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="finite"):
        tile.backward(np.array([0.0, np.nan, 0.0]))
    with pytest.raises(ValueError, match="lr"):
        tile.update(np.ones(4), np.ones(3), lr=-1.0)
