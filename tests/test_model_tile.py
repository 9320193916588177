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


def test_batches_equal_the_same_samples_one_by_one():
    """update_batch applies its rows in order: weights, counters and the generators' state
    equal B single updates bit for bit; forward/backward batches equal single reads."""
    cfg = TileConfig(in_size=12, out_size=7)
    rng = np.random.default_rng(3)
    X, D = rng.uniform(-1, 1, (9, 12)), rng.uniform(-0.3, 0.3, (9, 7))
    one, many = TileReference(cfg), TileReference(cfg)
    for x, d in zip(X, D):
        one.update(x, d, lr=0.02)
    many.update_batch(X, D, lr=0.02)
    assert np.array_equal(one.weights, many.weights)
    assert np.array_equal(one.crossbar.pulse_counts[0], many.crossbar.pulse_counts[0])
    assert (one.streams.x_state, one.streams.d_state) == (many.streams.x_state, many.streams.d_state)
    assert one.clips == many.clips
    ys = np.stack([one.forward(x) for x in X])
    assert np.array_equal(ys, many.forward_batch(X))
    zs = np.stack([one.backward(d) for d in D])
    assert np.array_equal(zs, many.backward_batch(D))
    with pytest.raises(ValueError, match="same number of rows"):
        many.update_batch(X, D[:3])
    with pytest.raises(ValueError, match=r"shape \(B, 12\)"):
        many.forward_batch(np.ones((2, 11)))


def test_lr_is_settable_without_a_new_config():
    cfg = TileConfig(in_size=8, out_size=8)
    a, b = TileReference(cfg), TileReference(cfg.replace(lr=0.05))
    x, d = np.linspace(-1, 1, 8), np.linspace(0.2, -0.2, 8)
    a.lr = 0.05
    a.update(x, d)
    b.update(x, d)
    assert np.array_equal(a.weights, b.weights) and a.regs == b.regs
    with pytest.raises(ValueError, match=r"^lr must be a number in \(0, 100\], not -1.0$"):
        a.lr = -1.0


def test_clipping_is_counted_and_warned_once_per_calling_line():
    from rpu.models.clipping import ClipWarning, reset_warnings
    reset_warnings()
    tile = TileReference(TileConfig(in_size=8, out_size=4))
    big = np.full(8, 20.0)                                     # beyond the ±8 host format
    with pytest.warns(ClipWarning, match=r"^8 of 8 x values were clipped; the host format "
                      r"holds \|v\| <= 7.99976: scale the vectors, or give the format more "
                      r"integer bits \(value_bits, value_frac_bits\)$"):
        for _ in range(3):
            tile.forward(big)                                  # one line: one warning
    assert tile.clips.input_values == 24 and tile.clips.input_total == 24
    with pytest.warns(ClipWarning, match="weights were clipped"):
        tile.set_weights(np.full((4, 8), 5.0))
    assert tile.clips.weights_set == 32
    tile.update(np.ones(8), np.ones(4), lr=1.0)                 # lr·x·d/dw_min >> BL: UM clips
    assert tile.clips.update_lines > 0 and tile.clips.updates == 1
