"""Analog read path (docs/spec.md §2 order): DAC quantise + clip → W·v → out noise → bound → ADC."""

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models import Crossbar

FLAT = DeviceConfig(w_max_dtod=0.0, w_min_dtod=0.0)          # bounds exactly ±0.6


def make(m, n, w=None, **kw):
    cb = Crossbar(TileConfig(in_size=n, out_size=m, device=FLAT, **kw))
    if w is not None:
        cb.set_weights(w)
    return cb


@pytest.mark.parametrize("backward", [False, True])
def test_output_noise_sigma_within_5_percent(backward):
    """σ_out = 0.06 measured from 256 lines × 200 reads around fixed W·v.

    Estimator: pooled variance of the ADC outputs around each line's sample mean, minus the
    quantisation variance lsb²/12 (Sheppard; exact to e^(−2π²σ²/lsb²) ≈ 1e-14 here since σ is
    1.27 lsb).  Its relative SE is 1/sqrt(2·n_dof) = 1/sqrt(2·256·199) = 0.31 %, so the 5 %
    tolerance is 16 standard errors: a wrong σ (or a missing noise source) fails, chance
    does not."""
    lines, other, reads = 256, 16, 200
    rng = np.random.default_rng(1)
    w = rng.uniform(-0.5, 0.5, (other, lines) if backward else (lines, other))
    cb = make(*w.shape, w)
    v = rng.uniform(-1, 1, other)
    read = cb.read_backward if backward else cb.read_forward
    codes = np.array([read(v)[0] for _ in range(reads)], dtype=np.float64)
    lsb = cb.cfg.adc_lsb
    y = codes * lsb
    var = ((y - y.mean(axis=0)) ** 2).sum() / (lines * (reads - 1)) - lsb ** 2 / 12
    assert np.sqrt(var) == pytest.approx(0.06, rel=0.05)
    # and the mean is W·v within its standard error (×5)
    exact = (w.T if backward else w).astype(np.float32) @ (np.rint(v * 63) / 63)
    assert np.all(np.abs(y.mean(axis=0) - exact) < 5 * 0.0615 / np.sqrt(reads))


def test_saturation_at_the_integrator_bound():
    n = 64
    w = np.zeros((4, n))
    w[0], w[1], w[2], w[3] = 0.5, -0.5, 10 / n, -10 / n       # W·1 = 32, −32, 10, −10
    cb = make(4, n, w)
    codes, sat = cb.read_forward(np.ones(n))
    adc_max = cb.cfg.adc_max
    assert codes[:2].tolist() == [adc_max, -adc_max] and sat[:2].all()
    assert not sat[2:].any() and abs(codes[2]) < adc_max and codes[2] > 0 > codes[3]
    # the bound is ±out_bound: an output just beyond it (noise-free) saturates, just below not
    cb2 = make(2, 40, np.vstack([np.full(40, 12.05 / 40), np.full(40, 11.9 / 40)]), out_noise=0.0)
    codes, sat = cb2.read_forward(np.ones(40))
    assert sat.tolist() == [True, False] and codes[0] == adc_max
    assert codes[1] == round(11.9 / cb2.cfg.adc_lsb)


def test_adc_quantisation_step():
    """Noise-free: code = rint(y / lsb) with lsb = 2·12/(2^9 − 2); exact multiples map to
    themselves and midpoints round half to even."""
    cfg_lsb = 24 / 510
    k = np.arange(-12, 13)
    cb = make(k.size, 1, (k * cfg_lsb / 20)[:, None], out_noise=0.0)
    assert cb.cfg.adc_lsb == pytest.approx(cfg_lsb)
    # v = 1 (DAC code 63), y = W; scale W so y spans many codes without leaving the bounds
    codes, sat = cb.read_forward(np.ones(1))
    y = cb.weights[:, 0].astype(np.float64)
    assert np.array_equal(codes, np.rint(y / cfg_lsb).astype(int)) and not sat.any()
    w = np.linspace(-0.59, 0.59, 301)[:, None]
    cb = make(301, 1, w, out_noise=0.0)
    codes, _ = cb.read_forward(np.ones(1))
    y = cb.weights[:, 0].astype(np.float64)
    assert np.all(np.abs(codes * cfg_lsb - y) <= cfg_lsb / 2 + 1e-9)
    assert set(np.diff(codes)) <= {0, 1}


def test_dac_quantisation_and_clip():
    """read_forward(v) = read_forward_pulses(clip(rint(63·v), ±63)), noise-free."""
    rng = np.random.default_rng(4)
    w = rng.uniform(-0.6, 0.6, (32, 8))
    cb = make(32, 8, w, out_noise=0.0)
    v = np.array([0.3, -0.3, 1.7, -5.0, 0.5 / 63, 1.5 / 63, 0.0, -1.0])
    codes = np.array([19, -19, 63, -63, 0, 2, 0, -63])         # rint halves to even
    assert np.array_equal(cb.read_forward(v)[0], cb.read_forward_pulses(codes)[0])
    y = cb.weights.astype(np.float64) @ (codes / 63)
    assert np.all(np.abs(cb.read_forward(v)[0] * cb.cfg.adc_lsb - y) <= cb.cfg.adc_lsb / 2 + 1e-6)
    # a DAC input beyond ±1 reads like ±1
    assert np.array_equal(cb.read_forward(np.full(8, 3.0))[0], cb.read_forward(np.ones(8))[0])


def test_slot_level_read_integrates_the_pulse_widths():
    rng = np.random.default_rng(5)
    cb = make(16, 8, rng.uniform(-0.6, 0.6, (16, 8)), out_noise=0.0)
    T = cb.cfg.dac_max
    pos = rng.random((T, 8)) < 0.4
    neg = (rng.random((T, 8)) < 0.4) & ~pos
    net = pos.sum(0) - neg.sum(0)
    assert np.array_equal(cb.read_forward_slots(pos, neg)[0], cb.read_forward_pulses(net)[0])
    dpos = rng.random((T, 16)) < 0.3
    dneg = np.zeros((T, 16), bool)
    assert np.array_equal(cb.read_backward_slots(dpos, dneg)[0],
                          cb.read_backward_pulses(dpos.sum(0))[0])
    with pytest.raises(ValueError, match="window"):
        cb.read_forward_slots(np.zeros((T + 1, 8), bool), np.zeros((T + 1, 8), bool))


def test_backward_reads_the_transpose():
    rng = np.random.default_rng(6)
    w = rng.uniform(-0.6, 0.6, (12, 20))
    cb = make(12, 20, w, out_noise=0.0)
    v = rng.integers(-63, 64, 12)
    codes, _ = cb.read_backward_pulses(v)
    y = cb.weights.T.astype(np.float64) @ (v / 63)
    assert codes.shape == (20,) and codes.dtype == np.int32
    assert np.all(np.abs(codes * cb.cfg.adc_lsb - y) <= cb.cfg.adc_lsb / 2 + 1e-6)


def test_weight_read_noise_scales_with_the_input_norm():
    """w_noise: y += w_noise·‖v‖₂·ξ (aihwkit AdditiveConstant).  v = 1 on 64 lines:
    ‖v‖ = 8, σ = 0.01·8 = 0.08 (plus lsb²/12); 256 lines × 60 reads ⇒ 5 % is 9 SE."""
    cb = make(256, 64, np.zeros((256, 64)), out_noise=0.0, w_noise=0.01)
    codes = np.array([cb.read_forward(np.ones(64))[0] for _ in range(60)], np.float64)
    lsb = cb.cfg.adc_lsb
    y = codes * lsb
    var = ((y - y.mean(axis=0)) ** 2).sum() / (256 * 59) - lsb ** 2 / 12
    assert np.sqrt(var) == pytest.approx(0.08, rel=0.05)
