"""`rpu demo` end to end (both simulators), shortened to 30 updates."""

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.demo import run_demo


def test_demo_runs_and_passes(sim, tmp_path, capsys):
    code = run_demo(TileConfig(), tmp_path, simulator=sim, updates=30)
    out = capsys.readouterr().out
    assert "bit-exact vs reference yes" in out
    assert "result  : PASS" in out and code == 0, out


def test_demo_rejects_bad_updates(tmp_path):
    with pytest.raises(ValueError, match="updates"):
        run_demo(TileConfig(), tmp_path, updates=0)


@pytest.mark.parametrize("model", ["exp_step", "soft_bounds"])
def test_demo_passes_for_other_device_models(sim, tmp_path, capsys, model):
    """The ΔW check uses the configured device's own expectation, so PASS/FAIL means the
    periphery, not the device (the exp_step device moves only up and saturates)."""
    cfg = TileConfig(device=DeviceConfig(model=model))
    code = run_demo(cfg, tmp_path, simulator=sim, updates=30)
    out = capsys.readouterr().out
    assert f"E[ΔW] of the {model} devices" in out and "result  : PASS" in out and code == 0, out


def test_demo_check_catches_a_wrong_update():
    """The statistical check fails when ΔW is off by 10 % (a periphery that pulses too little)."""
    from rpu.demo import expected_update
    cfg = TileConfig(in_size=32, out_size=32)
    rng = np.random.default_rng(0)
    w0 = rng.uniform(-0.2, 0.2, (32, 32))
    xc = rng.integers(-128, 128, 32)
    dc = rng.integers(-128, 128, 32)
    mean, var = expected_update(cfg, w0, xc, dc, 10, 50)
    noise = rng.standard_normal(mean.shape) * np.sqrt(var)
    for factor, ok in ((1.0, True), (0.9, False)):
        dw = factor * mean + noise
        slope = (dw * mean).sum() / (mean ** 2).sum()
        se = np.sqrt((var * mean ** 2).sum()) / (mean ** 2).sum()
        assert (abs(slope - 1) < 5 * se + 0.02) == ok, (factor, slope, se)
