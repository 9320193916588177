"""The trainer (rpu.train), `rpu train`, and the co-simulated slice of a training run."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from rpu.config import ConfigError
from rpu.models.layers import FloatLinear
from rpu.train import MLP, TrainSettings, init_weights, load_digits_split, train

pytest.importorskip("sklearn")
SMALL = TrainSettings(hidden=(4,), epochs=1)


def test_digits_split_and_ranges():
    X, y, Xt, yt = load_digits_split("unit")
    assert X.shape == (1297, 64) and Xt.shape == (500, 64) and set(y) == set(range(10))
    assert X.min() == 0 and X.max() == 1
    Xs = load_digits_split("signed")[0]
    assert Xs.min() == -1 and Xs.max() == 1 and np.allclose(Xs, 2 * X - 1)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_backprop_matches_numerical_gradient(activation):
    """The float network's SGD step is −lr times the gradient of the mean cross-entropy:
    each updated weight moves by −lr·∂L/∂w with ∂L/∂w from central differences (step 1e-6;
    tolerance 1e-6 relative to the largest gradient, far above the O(h²) error ~1e-11)."""
    rng = np.random.default_rng(0)
    sizes = [5, 4, 3]
    init = init_weights(sizes, rng)
    X, y = rng.normal(0, 1, (6, 5)), rng.integers(0, 3, 6)

    def net():
        layers = [FloatLinear(n, m) for n, m in zip(sizes[:-1], sizes[1:])]
        for layer, (W, b) in zip(layers, init):
            layer.set_weights(W, b)
        return MLP(layers, activation)

    def loss(k, i, j, h):
        n = net()
        n.layers[k].W[i, j] += h
        p = n.forward(X)[1]
        return -np.mean(np.log(p[np.arange(len(y)), y]))

    lr = 0.1
    stepped = net()
    stepped.step(X, y, lr)
    for k in range(2):
        grad = np.array([[(loss(k, i, j, 1e-6) - loss(k, i, j, -1e-6)) / 2e-6
                          for j in range(sizes[k])] for i in range(sizes[k + 1])])
        moved = (stepped.layers[k].W - init[k][0]) / -lr
        assert np.allclose(moved, grad, atol=1e-6 * np.abs(grad).max())


def test_settings_are_validated_in_the_config_wording():
    with pytest.raises(ConfigError, match=r"epochs must be an integer in \[1, 10000\], not 0"):
        TrainSettings(epochs=0)
    with pytest.raises(ConfigError, match="activation must be one of 'sigmoid', 'tanh', 'relu'"):
        TrainSettings(activation="softplus")
    with pytest.raises(ConfigError, match="hidden must be an integer"):
        TrainSettings(hidden=(0,))
    assert TrainSettings(hidden=16).hidden == (16,)


def test_train_side_by_side_same_start_and_report(tmp_path):
    """Both networks start from the same weights (the analog ones as programmed into the
    devices) and train on the same batches; the report has one record per epoch and run,
    the clip fractions, a JSON and a plot."""
    report = train(SMALL.replace(epochs=2), progress=False)
    f, a = report.runs["float"], report.runs["analog"]
    assert [e.epoch for e in f.epochs] == [e.epoch for e in a.epochs] == [1, 2]
    for e in f.epochs + a.epochs:
        assert 0 <= e.test_error < 0.9 and e.train_loss > 0 and e.seconds > 0
    assert all(0 <= e.update_clipped <= 1 and 0 <= e.read_saturated <= 1 for e in a.epochs)
    assert len(a.pinned) == 2 and all(0 <= p <= 1 for p in a.pinned)
    data = json.loads(report.write_json(tmp_path / "t.json").read_text())
    assert data["settings"]["hidden"] == [4] and data["config"]["update"]["dynamic_bl"] is True
    assert set(data["runs"]) == {"float", "analog"} and len(data["runs"]["analog"]["epochs"]) == 2
    pytest.importorskip("matplotlib")
    from rpu.train import plot_report
    png = plot_report(report, tmp_path / "t.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


_NO_COMPILE_IN_EPOCHS = r"""
import sys
import numba
import rpu.train as T

def overloads():
    return {(name, key): len(v.overloads) for name, mod in list(sys.modules.items())
            if name.startswith("rpu.") for key, v in vars(mod).items()
            if isinstance(v, numba.core.dispatcher.Dispatcher)}

grew, run = [], T.run_network
def timed_run(net, kind, *args, **kw):
    before = overloads()
    out = run(net, kind, *args, **kw)
    grew.extend(f"{kind}: {name}.{key}" for (name, key), n in overloads().items()
                if n != before.get((name, key), 0))
    return out
T.run_network = timed_run
batch, kinds = int(sys.argv[1]), sys.argv[2].split(",")
report = T.train(T.TrainSettings(hidden=(4,), epochs=1, batch=batch), kinds=kinds, progress=False)
print("compiled during the runs:", grew or "nothing")
"""


@pytest.mark.parametrize("batch,kinds", [(1, "float,analog"), (10, "analog"), (2, "pair")])
def test_no_kernel_compiles_inside_the_epochs(batch, kinds):
    """``train`` makes every kernel of the analog runs ready before their epochs (numba
    compiles on a first use, loads its cache in a new process: either inside an epoch would
    count in its seconds): in a fresh process, no compiled function of ``rpu`` gains an
    overload during a run (batch 2: the last batch of 1,297 samples is one row)."""
    res = subprocess.run([sys.executable, "-c", _NO_COMPILE_IN_EPOCHS, str(batch), kinds],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "compiled during the runs: nothing" in res.stdout, res.stdout


def test_a_long_warm_up_is_announced(monkeypatch, capsys):
    """A warm-up over 2 s (numba compiling) says so on stderr, unless progress is off."""
    import time
    import rpu.train as T
    monkeypatch.setattr(T, "warm_kernels", lambda *a, **k: time.sleep(3.0) or 3.0)
    assert T.train(SMALL, kinds=("float",), progress=None).kernel_seconds == 3.0
    assert "compiling the model's kernels" in capsys.readouterr().err
    T.train(SMALL, kinds=("float",), progress=False)
    assert "compiling" not in capsys.readouterr().err


def test_same_initial_weights():
    from rpu.models.layers import training_config
    from rpu.train import build_network
    init = init_weights([64, 4, 10], np.random.default_rng(0))
    seeds = np.random.SeedSequence(0).spawn(2)
    fnet = build_network("float", SMALL, training_config(), init, seeds)
    anet = build_network("analog", SMALL, training_config(), init, seeds)
    for fl, al in zip(fnet.layers, anet.layers):
        W, b = fl.get_weights()
        Wa, ba = al.get_weights()
        lo, hi = al.device_bounds()
        full = np.hstack([W, b[:, None]])
        # float32 devices, each clipped to its own bounds
        assert np.allclose(np.hstack([Wa, ba[:, None]]), np.clip(full, lo, hi), atol=1e-6)


def test_tileconfig_defaults_warn_about_clipped_updates():
    """The issue's failing set-up (BL 10 fixed, no weight scale): the output layer clips a
    line in nearly every update (measured ≈ 1.0 per update, docs/training.md), far over
    the 0.1 threshold: one UpdateClipWarning naming dynamic BL; the training defaults
    (dynamic BL, γ = 2) clip nothing (measured 0) and do not warn."""
    from rpu.models.layers import UpdateClipWarning, training_config
    settings = TrainSettings(epochs=1, weight_scale=1.0)
    with pytest.warns(UpdateClipWarning) as caught:
        report = train(settings, training_config(dynamic_bl=False), kinds=("analog",), progress=False)
    msgs = [str(w.message) for w in caught if issubclass(w.category, UpdateClipWarning)]
    assert len(msgs) == 1 and msgs[0].startswith("layer 2 (32→10)") and "dynamic_bl=True" in msgs[0]
    assert report.runs["analog"].clip_warnings == msgs
    with warnings.catch_warnings():
        warnings.simplefilter("error", UpdateClipWarning)
        ok = train(TrainSettings(epochs=1), kinds=("analog",), progress=False)
    assert ok.runs["analog"].clip_warnings == [] and ok.runs["analog"].epochs[0].update_clipped == 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "rpu.cli", *args], capture_output=True, text=True)


def test_rpu_train_cli(tmp_path):
    res = run_cli("train", "--hidden", "4", "--epochs", "1", "-o", str(tmp_path), "--no-plot")
    assert res.returncode == 0, res.stderr
    assert "epoch" in res.stdout and "floating point: test error" in res.stdout
    assert "analog (periphery reference): test error" in res.stdout and "Traceback" not in res.stderr
    assert (tmp_path / "train.json").exists()


@pytest.mark.parametrize("args,message", [
    (["--epochs", "0"], "epochs must be an integer in [1, 10000], not 0"),
    (["--hidden", "8,x"], "hidden must be an integer in [1, 4096], not 'x'"),
    (["--activation", "step"], "activation must be one of 'sigmoid', 'tanh', 'relu', not 'step'"),
    (["--batch", "2000"], "batch must be an integer in [1, 1297], not 2000"),
    (["--cosim", "-1"], "cosim must be an integer in [0, 1297], not -1"),
    (["--bl-max", "300"], "bl_max must be an integer in [1, 255], not 300"),
    (["--device-preset", "x"], "device preset must be one of"),
])
def test_rpu_train_bad_value_one_line(tmp_path, args, message):
    res = run_cli("train", *args, "-o", str(tmp_path))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rpu train: error: {message}"), res.stderr


def test_cosim_slice(sim, tmp_path):
    """The first 3 training samples of a 64-4-10 network, every forward, backward and update
    of both layers, replayed through each layer's generated tile: results, ADC codes, update
    drives and weights equal the model and the training log bit for bit."""
    report = train(SMALL, kinds=("analog",), progress=False, cosim=3, simulator=sim,
                   cosim_dir=tmp_path)
    cos = report.cosim
    assert cos["ok"], cos
    assert cos["samples"] == 3 and [t["simulator"] for t in cos["tiles"]] == [sim, sim]
    first, second = cos["tiles"]
    assert first["forwards"] == 3 and first["backwards"] == 0 and first["updates"] == 3
    assert second["forwards"] == 3 and second["backwards"] == 3 and second["updates"] == 3
    assert first["slots"] > 0 and second["adc_codes"] > 0 and second["weight_checks"] >= 4


def test_train_mc_smoke():
    """`rpu train --mc` path: multi-conductance, single refreshed pair and float side by
    side; endurance by device role, the transfer's cycle share and the decomposition are
    reported (one short epoch: no accuracy claim)."""
    from rpu.config import DeviceConfig, MultiConductanceConfig
    from rpu.models.layers import training_config
    from rpu.train import TrainSettings, format_mc, train
    cfg = training_config(device=DeviceConfig.preset("pcm"),
                          mc=MultiConductanceConfig(enabled=True, transfer_every=50))
    rep = train(TrainSettings(epochs=1, hidden=(8,)), cfg, kinds=("float", "analog", "pair"),
                progress=False)
    a, p = rep.runs["analog"], rep.runs["pair"]
    assert set(a.endurance) == {"G+", "G-", "g+"} and a.cycles["transfer"] > 0   # 3T1C LSP: one device
    assert 0 <= a.cycles["nonconverged"] <= a.cycles["cells_transferred"] > 0
    assert p.cycles["transfer"] == 0 and p.endurance["G+"]["mean"] > a.endurance["G+"]["mean"]
    assert len(a.decomposition) == 2
    text = format_mc(rep)
    assert "single pair + refresh" in text and "of the tile cycles" in text and "not converged" in text
