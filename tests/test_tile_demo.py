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


def _mc_demo_cfg():
    from rpu.cli import MC_DEMO_BASE
    cfg = TileConfig.from_dict({**MC_DEMO_BASE, "device": DeviceConfig.preset("pcm").to_dict()})
    return cfg.replace(mc=cfg.mc.replace(columns_per_transfer=cfg.in_size))


def test_mc_demo_runs_and_passes(sim, tmp_path, capsys):
    """`rpu demo --mc` under each simulator: forward, updates, a transfer of every column,
    forward again."""
    from rpu.demo import run_mc_demo
    code = run_mc_demo(_mc_demo_cfg(), tmp_path, simulator=sim, updates=30)
    out = capsys.readouterr().out
    assert out.count("bit-exact vs reference yes") == 2 and "counters bit-exact yes" in out
    assert "weight survived  : yes" in out and "result           : PASS" in out and code == 0, out


def test_mc_demo_check_fails_when_the_weight_moves_or_bits_differ():
    from rpu.demo import evaluate_mc, transfer_bound
    cfg = _mc_demo_cfg()
    shape = (cfg.out_size, cfg.in_size)
    w = np.random.default_rng(0).uniform(-0.3, 0.3, shape)
    res = dict(w_before=w.tolist(), w_after=(w + 0.5 * transfer_bound(cfg)).tolist(),
               converged=np.ones(shape, bool).tolist(), columns=list(range(cfg.in_size)),
               lsp_before=np.zeros(shape).tolist(), lsp_after=np.zeros(shape).tolist(),
               cyc_transfer=100, cyc_transfer_formula=100, forward_before_exact=True,
               updates_exact=True, transfer_exact=True, forward_after_exact=True, error_flags=0)
    assert evaluate_mc(cfg, res)["ok"]
    moved = np.array(res["w_after"])
    moved[2, 3] += 2 * transfer_bound(cfg)
    assert not evaluate_mc(cfg, {**res, "w_after": moved.tolist()})["survived"]
    conv = np.ones(shape, bool)
    conv[2, 3] = False                              # a counted non-converged cell is not judged
    ev = evaluate_mc(cfg, {**res, "w_after": moved.tolist(), "converged": conv.tolist()})
    assert ev["survived"] and ev["nonconverged"] == 1
    assert not evaluate_mc(cfg, {**res, "transfer_exact": False})["ok"]
    assert not evaluate_mc(cfg, {**res, "cyc_transfer": 101})["ok"]


def test_mc_demo_needs_a_multi_conductance_tile(tmp_path):
    from rpu.demo import run_mc_demo
    with pytest.raises(ValueError, match="mc.enabled"):
        run_mc_demo(TileConfig(in_size=4, out_size=4), tmp_path)
