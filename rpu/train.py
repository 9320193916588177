"""Train a network through the periphery: an MLP on scikit-learn's digits with plain SGD, in
floating point and on RPU tiles (:class:`rpu.models.layers.AnalogLinear`), side by side.

``train(settings, cfg)`` runs both networks from the same initial weights, on the same
batches in the same order with the same learning rate (so the comparison is fair), and
returns a :class:`TrainReport`: per epoch the test error, the training loss, what the tiles
clipped and the seconds; the final weights; with ``cosim=N`` the co-simulation of the first N
training samples of every layer's tile against its generated Verilog
(:mod:`rpu.testbench.train_cosim`).  ``rpu train`` is a thin layer over it.

The network: ``in → hidden… → 10``, hidden units ``sigmoid``/``tanh``/``relu``, softmax and
cross-entropy on the output, mean loss over a batch (the error of each sample is divided by
the batch size; the analog update applies the batch's samples one after another).  The
digits (8×8 images, values 0..16, bundled with scikit-learn) are split once into 1,297
training and 500 test images (stratified, fixed split), scaled to [0, 1] (``inputs="unit"``)
or [−1, 1] (``"signed"``).
"""

from __future__ import annotations

import enum
import json
import math
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


from .config import TRAINING_WEIGHT_SCALE, EnumRule, FloatRule, IntRule, TileConfig, check_instance
from .errors import require_extra

__all__ = ["ANALOG_ONLY", "TrainSettings", "Activation", "InputRange", "TrainReport", "RunResult", "EpochRecord",
           "train", "warm_kernels", "load_digits_split", "MLP", "init_weights", "require"]

_EXTRA = "pip install 'rpu-periphery[train]'"
TEST_SIZE = 500           # the digits' 1,797 images: 1,297 to train, 500 to test
SPLIT_SEED = 0            # the split is fixed; the settings' seed varies everything else


def require(module: str, purpose: str):
    """Import ``module`` or raise :class:`rpu.errors.MissingExtraError` saying what needs it
    and how to install the [train] extra."""
    return require_extra(module, "train", purpose)


#: settings only the analog network uses
ANALOG_ONLY = ("weight_scale",)


class Activation(enum.StrEnum):
    SIGMOID = "sigmoid"
    TANH = "tanh"
    RELU = "relu"


class InputRange(enum.StrEnum):
    """Pixel scaling: ``unit`` [0, 1] (x ≥ 0: the update's negative-x phases never run) or
    ``signed`` [−1, 1]."""
    UNIT = "unit"
    SIGNED = "signed"


def _f(default, rule, doc):
    return field(default=default, metadata={"rule": rule, "doc": doc})


@dataclass(frozen=True)
class TrainSettings:
    """The trainer's settings (validated with the config's rules).  The defaults train
    the default network within 1 % of floating point (docs/training.md)."""

    hidden: tuple = (32,)
    epochs: int = _f(15, IntRule(1, 10000), "training epochs")
    lr: float = _f(0.05, FloatRule(0.0, 100.0, lo_open=True), "SGD learning rate")
    batch: int = _f(1, IntRule(1, 1297), "samples per batch")
    seed: int = _f(0, IntRule(0, (1 << 32) - 1), "seed of the initial weights, data order and tiles")
    activation: Activation = _f(Activation.SIGMOID, EnumRule(Activation), "hidden units")
    inputs: InputRange = _f(InputRange.UNIT, EnumRule(InputRange), "pixel range")
    weight_scale: float = _f(TRAINING_WEIGHT_SCALE, FloatRule(0.0, 1e3, lo_open=True),
                             "analog layers: layer weight = weight_scale × device weight")

    def __post_init__(self):
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)) or not hidden:
            raise TypeError(f"hidden must be a non-empty sequence of layer sizes, not {self.hidden!r}")
        object.__setattr__(self, "hidden", tuple(IntRule(1, 4096).check("hidden", h) for h in hidden))
        for name, (rule, _doc) in self.field_rules().items():
            object.__setattr__(self, name, rule.check(name, getattr(self, name)))

    @classmethod
    def field_rules(cls) -> dict:
        return {f.name: (f.metadata["rule"], f.metadata["doc"])
                for f in cls.__dataclass_fields__.values() if "rule" in f.metadata}

    def replace(self, **changes) -> "TrainSettings":
        return TrainSettings(**{**asdict(self), **changes})

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["activation"], d["inputs"] = str(self.activation), str(self.inputs)
        return d


# -- data ------------------------------------------------------------------------------

def load_digits_split(inputs: InputRange | str = InputRange.UNIT):
    """``(X_train (1297, 64), y_train, X_test (500, 64), y_test)`` of scikit-learn's bundled
    digits, scaled to ``inputs``'s range (fixed stratified split)."""
    datasets = require("sklearn.datasets", "the digits data set")
    model_selection = require("sklearn.model_selection", "the digits data set")
    inputs = EnumRule(InputRange).check("inputs", inputs)
    X, y = datasets.load_digits(return_X_y=True)
    X = X / 16.0 if inputs == InputRange.UNIT else X / 8.0 - 1.0
    X_tr, X_te, y_tr, y_te = model_selection.train_test_split(
        X, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    return X_tr, y_tr.astype(np.int64), X_te, y_te.astype(np.int64)


# -- the network -----------------------------------------------------------------------

def _activate(kind: Activation, a: np.ndarray) -> np.ndarray:
    if kind == Activation.SIGMOID:
        return 1.0 / (1.0 + np.exp(-a))
    if kind == Activation.TANH:
        return np.tanh(a)
    return np.maximum(a, 0.0)


def _derivative(kind: Activation, h: np.ndarray) -> np.ndarray:
    """f'(a) from the unit's output h = f(a)."""
    if kind == Activation.SIGMOID:
        return h * (1.0 - h)
    if kind == Activation.TANH:
        return 1.0 - h * h
    return (h > 0).astype(np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def init_weights(sizes: list[int], rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(W, b)`` per layer, both U(±1/sqrt(fan_in)) (PyTorch's default for a linear layer)."""
    out = []
    for n, m in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / math.sqrt(n)
        out.append((rng.uniform(-bound, bound, (m, n)), rng.uniform(-bound, bound, m)))
    return out


class MLP:
    """``MLP(layers, activation)``: ``layers`` (FloatLinear or AnalogLinear, same interface)
    with ``activation`` between them, softmax + cross-entropy on the output."""

    def __init__(self, layers: list, activation: Activation | str):
        self.layers = list(layers)
        self.activation = EnumRule(Activation).check("activation", activation)

    def forward(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """(inputs of each layer, softmax output)."""
        inputs, h = [], X
        for k, layer in enumerate(self.layers):
            inputs.append(h)
            a = layer.forward(h)
            h = a if k == len(self.layers) - 1 else _activate(self.activation, a)
        return inputs, _softmax(h)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.forward(X)[1].argmax(axis=1)

    def step(self, X: np.ndarray, y: np.ndarray, lr: float) -> float:
        """One SGD step on a batch; returns its mean cross-entropy.  Every layer's error
        comes from the weights before the step (backward of all layers, then updates)."""
        inputs, p = self.forward(X)
        loss = float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-300))))
        delta = p
        delta[np.arange(len(y)), y] -= 1.0
        delta /= len(y)                                  # mean loss over the batch
        deltas = [delta]
        for k in range(len(self.layers) - 1, 0, -1):
            back = self.layers[k].backward(deltas[0])
            deltas.insert(0, back * _derivative(self.activation, inputs[k]))
        for layer, x, d in zip(self.layers, inputs, deltas):
            layer.update(x, d, lr)
        return loss

    def error(self, X: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean(self.predict(X) != y))


# -- results ---------------------------------------------------------------------------

@dataclass
class EpochRecord:
    epoch: int
    test_error: float
    train_loss: float
    seconds: float            # training passes of the epoch (no evaluation)
    eval_seconds: float
    update_clipped: float     # fraction of update lines clipped at p = 1 (analog only)
    read_saturated: float     # fraction of read lines whose ADC saturated
    input_clipped: float      # fraction of host values saturated by the fixed-point format
    per_layer: list = field(default_factory=list)


@dataclass
class RunResult:
    kind: str                 # "float" or "analog"
    epochs: list
    weights: list             # per layer (W, b) at the end (b None without bias)
    bounds: list | None = None    # analog: per layer (b_min, b_max) of the devices
    pinned: list | None = None    # analog: per layer, fraction of devices at a bound
    init_clipped: int = 0         # analog: initial weights beyond their device's bounds
    clip_warnings: list = field(default_factory=list)
    endurance: dict | None = None     # analog: {device role: {"mean", "max"} pulses per device}
    cycles: dict | None = None        # analog: {"ops", "transfer", "transfer_fraction"} (timing formulas),
    #                                   "nonconverged", "cells_transferred" (the transfers' counters)
    decomposition: list | None = None  # multi-conductance: per layer RMS of F·(G⁺−G⁻) and p·(g⁺−g⁻)

    @property
    def final_error(self) -> float:
        return self.epochs[-1].test_error


@dataclass
class TrainReport:
    settings: TrainSettings
    cfg: TileConfig
    runs: dict                # kind -> RunResult
    cosim: dict | None = None
    kernel_seconds: float = 0.0   # the warm-up before the epochs (numba's compile or cache load)

    def to_dict(self) -> dict:
        runs = {}
        for kind, r in self.runs.items():
            runs[kind] = dict(kind=r.kind, final_test_error=r.final_error,
                              epochs=[asdict(e) for e in r.epochs], clip_warnings=r.clip_warnings,
                              weights=[dict(W=np.asarray(W).tolist(),
                                            b=None if b is None else np.asarray(b).tolist())
                                       for W, b in r.weights])
            runs[kind].update(endurance=r.endurance, cycles=r.cycles, decomposition=r.decomposition)
            if r.pinned is not None:
                runs[kind].update(pinned=r.pinned, init_clipped=r.init_clipped,
                                  bounds=[dict(w_min=np.asarray(lo).tolist(), w_max=np.asarray(hi).tolist())
                                          for lo, hi in r.bounds])
        return dict(settings=self.settings.to_dict(), config=self.cfg.to_dict(), runs=runs,
                    cosim=self.cosim, kernel_seconds=self.kernel_seconds)

    def write_json(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


# -- training ----------------------------------------------------------------------------

def _progress(total: int, desc: str, enabled: bool | None):
    """A tqdm bar (``enabled=None``: only on a terminal), or ``None``."""
    if enabled is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        if enabled:
            print(f"(no progress bar: tqdm is not installed; {_EXTRA})", file=sys.stderr)
        return None
    return tqdm(total=total, desc=desc, unit="batch", disable=None if enabled is None else not enabled,
                leave=False, dynamic_ncols=True)


def _clip_fractions(layers) -> tuple[float, float, float, list]:
    """(update lines clipped, read lines saturated, host values saturated) as fractions
    over the analog ``layers`` since their last reset, the same per layer; then resets."""
    per_layer, tot = [], np.zeros(6)
    for layer in layers:
        c = getattr(layer, "clips", None)
        if c is None:
            continue
        v = np.array([c.update_lines, c.update_total, c.read_lines, c.read_total,
                      c.input_values, c.input_total], dtype=np.float64)
        tot += v
        per_layer.append(dict(update_clipped=_frac(v[0], v[1]), read_saturated=_frac(v[2], v[3]),
                              input_clipped=_frac(v[4], v[5]), bm_giveups=c.bm_giveups))
        layer.reset_clips()
    return _frac(tot[0], tot[1]), _frac(tot[2], tot[3]), _frac(tot[4], tot[5]), per_layer


def _frac(a, b) -> float:
    return float(a / b) if b else 0.0


def build_network(kind: str, settings: TrainSettings, cfg: TileConfig, init: list,
                  layer_seeds: list) -> MLP:
    """The float or analog MLP of ``settings`` with initial weights ``init``."""
    from rpu.models.clipping import ClipWarning
    from rpu.models.layers import AnalogLinear, FloatLinear
    sizes = [64, *settings.hidden, 10]
    layers = []
    for k, (n, m) in enumerate(zip(sizes[:-1], sizes[1:])):
        name = f"layer {k + 1} ({n}→{m})"
        if kind == "float":
            layer = FloatLinear(n, m, lr=settings.lr, name=name)
        else:
            tile_cfg = cfg.replace(mc=cfg.mc.replace(pair_only=True)) if kind == "pair" else cfg
            layer = AnalogLinear(n, m, cfg=tile_cfg, seed=layer_seeds[k], lr=settings.lr, name=name,
                                 weight_scale=settings.weight_scale)
        with warnings.catch_warnings():      # counted in clips.weights_set, reported
            warnings.simplefilter("ignore", ClipWarning)
            layer.set_weights(*init[k])
        layers.append(layer)
    return MLP(layers, settings.activation)


def run_network(net: MLP, kind: str, settings: TrainSettings, data, order_seed,
                *, progress: bool | None = None, on_batch=None) -> RunResult:
    """Train ``net`` for ``settings.epochs`` epochs; ``on_batch(samples_done)`` after
    each batch (the co-simulation recorder stops there)."""
    X_tr, y_tr, X_te, y_te = data
    rng = np.random.default_rng(order_seed)
    batches = -(-len(X_tr) // settings.batch)
    bar = _progress(settings.epochs * batches, f"{kind:>6}", progress)
    epochs, done, eval_ops = [], 0, 0
    init_clipped = sum(layer.clips.weights_set for layer in net.layers if layer.clips is not None)
    _clip_fractions(net.layers)
    try:
        for epoch in range(1, settings.epochs + 1):
            order = rng.permutation(len(X_tr))
            t0, loss_sum, seen = time.perf_counter(), 0.0, 0
            for k in range(batches):
                idx = order[k * settings.batch:(k + 1) * settings.batch]
                loss_sum += net.step(X_tr[idx], y_tr[idx], settings.lr) * len(idx)
                seen += len(idx)
                done += len(idx)
                if on_batch is not None:
                    on_batch(done)
                if bar is not None:
                    bar.update(1)
                    if k % 20 == 0 or k == batches - 1:
                        bar.set_postfix_str(f"epoch {epoch}, loss {loss_sum / seen:.3f}")
            t1 = time.perf_counter()
            upd, read, inp, per_layer = _clip_fractions(net.layers)
            ops0 = _op_cycles(net.layers)
            err = net.error(X_te, y_te)
            eval_ops += _op_cycles(net.layers) - ops0   # not training's (the transfer share)
            _clip_fractions(net.layers)                 # evaluation reads are not training's
            epochs.append(EpochRecord(epoch, err, loss_sum / seen, t1 - t0,
                                      time.perf_counter() - t1, upd, read, inp, per_layer))
    finally:
        if bar is not None:
            bar.close()
    weights = [layer.get_weights() for layer in net.layers]
    bounds = pinned = endurance = cycles = decomposition = None
    if kind != "float":
        bounds = [layer.device_bounds() for layer in net.layers]
        pinned = [layer.pinned_fraction() for layer in net.layers]
        endurance, cycles, decomposition = _analog_stats(net.layers, eval_ops)
    warned = [layer.monitor.warning for layer in net.layers
              if layer.monitor is not None and layer.monitor.warning]
    return RunResult(kind, epochs, weights, bounds=bounds, pinned=pinned, init_clipped=init_clipped,
                     clip_warnings=warned, endurance=endurance, cycles=cycles,
                     decomposition=decomposition)


def _op_cycles(layers) -> int:
    """Operation cycles (timing formulas) of the analog ``layers`` so far."""
    return sum(layer.cycle_counts()[0] for layer in layers if hasattr(layer, "cycle_counts"))


def _analog_stats(layers, eval_ops: int = 0):
    """Endurance (pulses per device by role), the transfer's share of the training cycles
    (``eval_ops``: the test-set evaluation's operation cycles, left out), and the MSP/LSP
    weight decomposition of analog layers."""
    pulses: dict[str, list] = {}
    ops = xfer = nonconv = cells = 0
    decomposition = []
    for layer in layers:
        for role, counts in layer.endurance().items():
            pulses.setdefault(role, []).append(counts)
        o, t = layer.cycle_counts()
        ops, xfer = ops + o, xfer + t
        for tile in layer._all_tiles():
            if getattr(tile, "transfers", None) is not None:
                c = tile.transfers.counters
                nonconv, cells = nonconv + c["nonconverged"], cells + c["columns"] * tile.cfg.out_size
        xbs = [tile.crossbar for tile in layer._all_tiles()]
        if hasattr(xbs[0], "weights_lsp"):
            msp = np.concatenate([(x.significance * x.weights_msp).reshape(-1) for x in xbs])
            lsp = np.concatenate([x.weights_lsp.reshape(-1) for x in xbs])
            decomposition.append(dict(msp_rms=float(np.sqrt(np.mean(msp.astype(np.float64) ** 2))),
                                      lsp_rms=float(np.sqrt(np.mean(lsp.astype(np.float64) ** 2)))))
    endurance = {role: dict(mean=float(np.mean(np.concatenate(v))), max=int(np.max(np.concatenate(v))))
                 for role, v in pulses.items()}
    ops -= eval_ops
    cycles = dict(ops=int(ops), transfer=int(xfer),
                  transfer_fraction=_frac(xfer, ops + xfer),
                  nonconverged=int(nonconv), cells_transferred=int(cells))
    return endurance, cycles, decomposition or None


def train(settings: TrainSettings | None = None, cfg: TileConfig | None = None, *,
          kinds=("float", "analog"), progress: bool | None = None, cosim: int = 0,
          simulator: str = "verilator", cosim_dir=None) -> TrainReport:
    """Train the float and analog networks of ``settings`` on the digits (module doc);
    ``cfg``: the analog tiles' configuration (default
    :func:`rpu.models.layers.training_config`; shape and seeds are the layers').
    ``cosim=N`` replays the analog network's first N training samples through each layer's
    generated tile under ``simulator`` and reports whether it is bit-exact (``cosim``)."""
    from rpu.models.layers import training_config
    settings = TrainSettings() if settings is None else check_instance("settings", settings, TrainSettings)
    cfg = training_config() if cfg is None else check_instance("cfg", cfg, TileConfig)
    IntRule(0, 1297).check("cosim", cosim)
    data = load_digits_split(settings.inputs)
    s_init, s_order, s_tiles = np.random.SeedSequence(settings.seed).spawn(3)
    init = init_weights([64, *settings.hidden, 10], np.random.default_rng(s_init))
    layer_seeds = s_tiles.spawn(len(settings.hidden) + 1)
    runs, cosim_report = {}, None
    note = threading.Timer(2.0, print, ("  compiling the model's kernels (numba, on a first run in "
                                        "this environment; minutes on a busy machine, cached "
                                        "after)…",), dict(file=sys.stderr, flush=True))
    if progress is not False:       # said only when the warm-up takes long
        note.start()
    try:
        kernel_seconds = warm_kernels(settings, cfg, init, data, kinds, recorded=bool(cosim))
    finally:
        note.cancel()
    for kind in kinds:
        net = build_network(kind, settings, cfg, init, layer_seeds)
        recorder = None
        if kind == "analog" and cosim:
            from rpu.models.tile_log import NetworkRecorder
            recorder = NetworkRecorder(net.layers, samples=cosim)
        runs[kind] = run_network(net, kind, settings, data, s_order, progress=progress,
                                 on_batch=recorder.on_batch if recorder else None)
        if recorder is not None:
            from rpu.testbench.train_cosim import cosim_logs
            cosim_report = cosim_logs(recorder.logs(), simulator=simulator, out_dir=cosim_dir,
                                      samples=recorder.samples_recorded)
    return TrainReport(settings, cfg, runs, cosim_report, kernel_seconds)


def warm_kernels(settings: TrainSettings, cfg: TileConfig, init: list, data, kinds,
                 *, recorded: bool = False) -> float:
    """Seconds to make ready the compiled kernels the analog runs of ``kinds`` will call
    (numba compiles them on a first use in an environment, minutes on a loaded machine, and
    loads them from its cache after): one training step of a throwaway network per analog
    kind, at the settings' batch size and at one sample (a last, short batch of one reads
    through the single-row path where a layer has one), and through the per-step path when
    ``recorded`` (the co-simulation's recording).  Without it the first epoch's seconds
    would hold the compile.  The throwaway networks have their own seeds: the runs are
    unchanged."""
    from rpu.models.tile_log import NetworkRecorder
    t0 = time.perf_counter()
    X, y = data[0], data[1]
    seeds = np.random.SeedSequence(0x5EED).spawn(len(init))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in kinds:
            if kind == "float":
                continue
            for record in ((False, True) if recorded and kind == "analog" else (False,)):
                net = build_network(kind, settings, cfg, init, seeds)
                if record:
                    NetworkRecorder(net.layers, samples=1 << 30)
                for rows in sorted({settings.batch, 1}):
                    net.step(X[:rows], y[:rows], settings.lr)
    return time.perf_counter() - t0


# -- output ------------------------------------------------------------------------------

def format_epochs(report: TrainReport) -> str:
    """The per-epoch table: test error and training loss of each run, what the analog
    tiles clipped (% of update lines at p = 1, of read lines saturated, of host values
    saturated) and the seconds of each epoch's training passes."""
    f, a = report.runs.get("float"), report.runs.get("analog")
    head = f"{'epoch':>5}"
    if f:
        head += f" {'float err %':>11} {'loss':>6}"
    if a:
        head += f" {'analog err %':>12} {'loss':>6} {'upd clip %':>10} {'read sat %':>10} {'in clip %':>9}"
    head += "".join(f" {k + ' s':>9}" for k in report.runs)
    lines = [head]
    n = max(len(r.epochs) for r in report.runs.values())
    for i in range(n):
        row = f"{i + 1:>5}"
        if f:
            e = f.epochs[i]
            row += f" {100 * e.test_error:11.2f} {e.train_loss:6.3f}"
        if a:
            e = a.epochs[i]
            row += (f" {100 * e.test_error:12.2f} {e.train_loss:6.3f} {100 * e.update_clipped:10.2f} "
                    f"{100 * e.read_saturated:10.2f} {100 * e.input_clipped:9.3f}")
        row += "".join(f" {r.epochs[i].seconds:9.2f}" for r in report.runs.values())
        lines.append(row)
    return "\n".join(lines)


def format_summary(report: TrainReport) -> str:
    """Final errors, the gap to floating point, the devices at their bounds, warnings and
    the analog/float epoch-time ratio."""
    f, a = report.runs.get("float"), report.runs.get("analog")
    out = []
    if f:
        out.append(f"floating point: test error {100 * f.final_error:.2f} %")
    if a:
        out.append(f"analog (periphery reference): test error {100 * a.final_error:.2f} %"
                   + (f", {100 * (a.final_error - f.final_error):+.2f} % vs floating point" if f else ""))
        out.append("  devices within one step of a bound: "
                   + ", ".join(f"layer {k + 1} {100 * p:.1f} %" for k, p in enumerate(a.pinned)))
        for w in a.clip_warnings:
            out.append(f"  warning: {w}")
        if a.init_clipped:
            out.append(f"  {a.init_clipped} initial weights lay beyond their device's bounds "
                       f"(programmed at the bound)")
    if f and a:
        tf = sum(e.seconds for e in f.epochs) / len(f.epochs)
        ta = sum(e.seconds for e in a.epochs) / len(a.epochs)
        out.append(f"epoch time: floating point {tf:.3f} s, analog {ta:.3f} s ({ta / tf:.1f}×)")
    return "\n".join(out)


def plot_report(report: TrainReport, path) -> Path:
    """Test error vs epoch for each run, and per analog layer a histogram of the final
    weights against the devices' own bounds (b_min, b_max)."""
    mpl = require("matplotlib", "the training plot")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    a = report.runs.get("analog")
    layers = len(a.weights) if a else 0
    fig, axes = plt.subplots(1, 1 + layers, figsize=(4.4 * (1 + layers), 3.6), squeeze=False)
    ax = axes[0][0]
    for kind, run in report.runs.items():
        ax.plot([e.epoch for e in run.epochs], [100 * e.test_error for e in run.epochs],
                marker="o", ms=3, label="floating point" if kind == "float" else "analog (RPU tiles)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("test error (%)")
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    s = report.settings
    ax.set_title(f"digits 64-{'-'.join(map(str, s.hidden))}-10, {s.activation}, inputs {s.inputs}, "
                 f"lr {s.lr:g}, batch {s.batch}", fontsize=8)
    for k in range(layers):
        ax = axes[0][k + 1]
        W, b = a.weights[k]
        w = np.hstack([np.asarray(W), np.asarray(b)[:, None]]).ravel() if b is not None else np.ravel(W)
        lo, hi = (np.ravel(x) for x in a.bounds[k])
        span = max(np.abs(lo).max(), np.abs(hi).max(), np.abs(w).max())
        bins = np.linspace(-span, span, 81)
        ax.hist(w, bins=bins, color="C1", alpha=0.8, label="analog weights")
        ax.hist(lo, bins=bins, histtype="step", color="k", ls="--", label="devices' w_min")
        ax.hist(hi, bins=bins, histtype="step", color="k", label="devices' w_max")
        if "float" in report.runs:
            Wf, bf = report.runs["float"].weights[k]
            wf = np.hstack([np.asarray(Wf), np.asarray(bf)[:, None]]).ravel()
            ax.hist(wf, bins=bins, histtype="step", color="C0", label="float weights")
        ax.set_title(f"layer {k + 1}: {100 * a.pinned[k]:.1f} % of devices at a bound", fontsize=8)
        ax.set_xlabel("weight (layer units)")
        ax.set_yscale("log")
        if k == 0:
            ax.legend(fontsize=7, framealpha=0.7)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_mc(report: TrainReport) -> str:
    """The multi-conductance comparison: final errors of floating point, the multi-
    conductance tiles and the single refreshed pair, pulses per device (mean and max) by
    role, the MSP devices' reduction against the single pair, the MSP/LSP decomposition and
    the transfer's share of the cycles (timing formulas)."""
    f, a, p = (report.runs.get(k) for k in ("float", "analog", "pair"))
    out = ["multi-conductance comparison:"]
    for name, r in (("floating point", f), ("multi-conductance", a), ("single pair + refresh", p)):
        if r is not None:
            gap = f" ({100 * (r.final_error - f.final_error):+.2f} % vs float)" if f and r is not f else ""
            out.append(f"  {name:<22} test error {100 * r.final_error:6.2f} %{gap}")
    for name, r in (("multi-conductance", a), ("single pair", p)):
        if r is not None and r.endurance:
            roles = ("G+", "G-") if name == "single pair" else tuple(r.endurance)
            out.append(f"  pulses per device, {name}: " + ", ".join(
                f"{k} mean {r.endurance[k]['mean']:.1f} max {r.endurance[k]['max']}" for k in roles))
    if a and p and a.endurance and p.endurance:
        msp = np.mean([a.endurance[k]["mean"] for k in ("G+", "G-")])
        pair = np.mean([p.endurance[k]["mean"] for k in ("G+", "G-")])
        out.append(f"  MSP devices: {pair / msp if msp else float('inf'):.1f}× fewer pulses than the "
                   f"single pair's (mean; max {max(a.endurance['G+']['max'], a.endurance['G-']['max'])} vs "
                   f"{max(p.endurance['G+']['max'], p.endurance['G-']['max'])})")
    if a and a.cycles:
        out.append(f"  transfers: {100 * a.cycles['transfer_fraction']:.2f} % of the tile cycles "
                   f"({a.cycles['transfer']} of {a.cycles['ops'] + a.cycles['transfer']}); "
                   f"{a.cycles['nonconverged']} of {a.cycles['cells_transferred']} cell transfers "
                   f"not converged")
    if a and a.decomposition:
        out.append("  weight decomposition (RMS, layer units/γ): " + ", ".join(
            f"layer {k + 1} F·MSP {d['msp_rms']:.3f} LSP {d['lsp_rms']:.3f}"
            for k, d in enumerate(a.decomposition)))
    return "\n".join(out)
