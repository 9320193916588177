"""Sweeps of training runs on dask.distributed: device sensitivity (Gokmen & Vlasov 2016,
Figs. 2/3) and any grid of trainer and tile settings.

A sweep is a list of *points*, each one training run: ``{"kind": "float"|"analog",
"settings": {TrainSettings fields}, "config": {TileConfig fields (flat names, device.* as
"device": {...})}}``.  :func:`run_points` runs the points not yet in the results file as tasks
on a dask cluster (a :class:`~distributed.LocalCluster` on this machine, or ``scheduler`` =
the address of an existing one), appends each result to the file (JSON lines) as it
arrives, so an interrupted or extended sweep re-runs only what is missing, and returns every
result.  :func:`device_sweep` builds the device-sensitivity grid; :func:`summarise` reduces
results to a table (mean and spread over seeds); :func:`plot_sweep` draws it.

Points are keyed by their canonical JSON (:func:`point_key`): the float baseline of a set of
trainer settings is one point, shared by every device point with those settings.
"""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

from .config import IntRule
from .errors import RpuError

__all__ = ["SweepError", "point_key", "run_point", "run_points", "device_sweep", "SWEEPS", "summarise",
           "write_table", "plot_sweep", "load_results"]

#: the device-sensitivity sweeps: parameter → (TileConfig overrides per value, values, label)
SWEEPS = {
    "dw_min": dict(values=[0.0005, 0.001, 0.002, 0.005, 0.01], label="dw_min (weight step)",
                   config=lambda v: {"device": {"dw_min": v}}, log=True),
    "up_down": dict(values=[0.0, 0.02, 0.05, 0.1], label="up/down imbalance",
                    config=lambda v: {"device": {"up_down": v}}, log=False),
    "bl": dict(values=[1, 2, 5, 10, 20, 31], label="BL (fixed, dynamic BL off)",
               config=lambda v: {"bl": v, "dynamic_bl": False}, log=True),
}


class SweepError(RpuError):
    """The sweep cannot run (e.g. no scheduler at the given address); one-line message."""


def point_key(point: dict) -> str:
    """Canonical JSON of what a point trains: its kind, the resolved trainer settings and,
    for an analog point, the resolved tile config (so ``2`` and ``2.0``, or a default given
    explicitly, are one point; labels such as ``sweep``/``value`` are left out; analog-only
    settings are left out of a float point).  Its identity in the results file."""
    from rpu.train import ANALOG_ONLY, TrainSettings
    settings = TrainSettings(**point.get("settings", {})).to_dict()
    what = {"kind": point["kind"], "settings": settings}
    if point["kind"] == "float":
        for name in ANALOG_ONLY:
            settings.pop(name, None)
    else:
        what["config"] = _config(point.get("config", {})).to_dict()
    return json.dumps(what, sort_keys=True, separators=(",", ":"))


def _config(overrides: dict):
    from rpu.config import DeviceConfig
    from rpu.models.layers import training_config
    overrides = dict(overrides)
    device = overrides.pop("device", None)
    if device is not None:
        overrides["device"] = DeviceConfig(**device)
    return training_config(**overrides)


def run_point(point: dict) -> dict:
    """Train one point (runs in a dask worker); the result holds the point, the final test
    error, the per-epoch history and the seconds."""
    import warnings
    from rpu.models.clipping import ClipWarning
    from rpu.train import TrainSettings, train
    settings = TrainSettings(**point.get("settings", {}))
    cfg = _config(point.get("config", {}))
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ClipWarning)
        report = train(settings, cfg, kinds=(point["kind"],), progress=False)
    run = report.runs[point["kind"]]
    return dict(key=point_key(point), point=point, test_error=run.final_error,
                epochs=[dict(epoch=e.epoch, test_error=e.test_error, train_loss=e.train_loss,
                             seconds=e.seconds, update_clipped=e.update_clipped,
                             read_saturated=e.read_saturated) for e in run.epochs],
                pinned=run.pinned, warnings=sorted({str(w.message) for w in caught}),
                seconds=time.perf_counter() - t0)


def load_results(path) -> dict:
    """``{key: result}`` of a results file (JSON lines; a truncated last line is ignored)."""
    out = {}
    path = Path(path)
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                r = json.loads(line)
            except json.JSONDecodeError:
                continue
            r["key"] = point_key(r["point"])        # (re-keyed: keys follow point_key)
            out[r["key"]] = r
    return out


def run_points(points: list, results_path, *, scheduler: str | None = None, workers: int = 2,
               progress: bool | None = None, log=print) -> list:
    """Run the ``points`` missing from ``results_path`` on dask and return all their results
    (in the order of ``points``).  ``scheduler``: address of an existing cluster; else a
    LocalCluster of ``workers`` single-threaded processes."""
    from rpu.train import require
    distributed = require("distributed", "a sweep")
    IntRule(1, 256).check("workers", workers)
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    done = load_results(results_path)
    todo, seen = [], set(done)
    keys = {point_key(p) for p in points}
    for p in points:
        k = point_key(p)
        if k not in seen:
            todo.append(p)
            seen.add(k)
    log(f"sweep: {len(points)} points ({len(keys)} distinct), {len(keys) - len(todo)} already in "
        f"{results_path}, {len(todo)} to run")
    if todo:
        if scheduler:
            try:
                client, cluster = distributed.Client(scheduler, timeout=10), None
            except (OSError, TimeoutError, ValueError) as e:
                raise SweepError(f"scheduler: cannot connect to {scheduler!r}: {e}") from None
        else:
            # ":0": the scheduler's HTTP server on any free port (8787 may be taken)
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                               processes=True, dashboard_address=":0")
            client = distributed.Client(cluster)
        try:
            futures = client.map(run_point, todo, pure=False)
            bar = _bar(len(todo), progress)
            with open(results_path, "a") as out:
                for fut in distributed.as_completed(futures):
                    r = fut.result()
                    out.write(json.dumps(r) + "\n")
                    out.flush()
                    done[r["key"]] = r
                    if bar is not None:
                        bar.update(1)
                    else:
                        log(f"  done {_describe(r['point'])}: test error {100 * r['test_error']:.1f} % "
                            f"({r['seconds']:.0f} s)")
            if bar is not None:
                bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return [done[point_key(p)] for p in points]


def _bar(total: int, enabled):
    if enabled is False:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="sweep", unit="run", disable=None if enabled is None else not enabled)


def _describe(point: dict) -> str:
    parts = [point["kind"]]
    for group in ("settings", "config"):
        for k, v in sorted(point.get(group, {}).items()):
            parts.append(f"{k}={v}")
    return " ".join(parts)


def device_sweep(params=("dw_min", "up_down", "bl"), *, seeds=(0, 1, 2), settings: dict | None = None,
                 config: dict | None = None) -> list:
    """Points of the device-sensitivity sweeps ``params`` (keys of :data:`SWEEPS`) over
    ``seeds``, plus the float baselines; ``settings`` / ``config``: common overrides."""
    settings, config = dict(settings or {}), dict(config or {})
    points = [dict(kind="float", settings={**settings, "seed": s}) for s in seeds]
    for name in params:
        if name not in SWEEPS:
            raise ValueError(f"sweep parameter must be one of {', '.join(SWEEPS)}, not {name!r}")
        for v in SWEEPS[name]["values"]:
            over = _merge(config, SWEEPS[name]["config"](v))
            points += [dict(kind="analog", settings={**settings, "seed": s}, config=over,
                            sweep=name, value=v) for s in seeds]
    return points


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


def summarise(points: list, results: list) -> list:
    """Rows ``sweep, value, runs, mean, sd, min, max`` (test errors over seeds) of the
    ``points`` and their ``results`` (:func:`run_points`), the float baseline first (sweep
    "float")."""
    groups: dict = {}
    for p, r in zip(points, results):
        key = ("float", None) if p["kind"] == "float" else (p.get("sweep", "analog"), p.get("value"))
        groups.setdefault(key, []).append(r["test_error"])
    rows = []
    for (sweep, value), errs in groups.items():
        n = len(errs)
        mean = sum(errs) / n
        sd = math.sqrt(sum((e - mean) ** 2 for e in errs) / (n - 1)) if n > 1 else 0.0
        rows.append(dict(sweep=sweep, value=value, runs=n, mean=mean, sd=sd, min=min(errs), max=max(errs)))
    return rows


def write_table(rows: list, path) -> Path:
    """The summary rows as CSV (errors in %)."""
    path = Path(path)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sweep", "value", "runs", "mean_error_pct", "sd_pct", "min_pct", "max_pct"])
        for r in rows:
            w.writerow([r["sweep"], "" if r["value"] is None else r["value"], r["runs"],
                        f"{100 * r['mean']:.2f}", f"{100 * r['sd']:.2f}", f"{100 * r['min']:.2f}",
                        f"{100 * r['max']:.2f}"])
    return path


def format_table(rows: list) -> str:
    """The summary rows as a fixed-width text table, with the gap to floating point."""
    base = next((r["mean"] for r in rows if r["sweep"] == "float"), None)
    lines = [f"{'sweep':>8} {'value':>8} {'runs':>4} {'error %':>8} {'± sd':>6} {'vs float':>9}"]
    for r in rows:
        gap = "" if base is None or r["sweep"] == "float" else f"{100 * (r['mean'] - base):+.2f}"
        lines.append(f"{r['sweep']:>8} {'' if r['value'] is None else r['value']:>8} {r['runs']:>4} "
                     f"{100 * r['mean']:8.2f} {100 * r['sd']:6.2f} {gap:>9}")
    return "\n".join(lines)


def plot_sweep(rows: list, path, *, title: str = "") -> Path:
    """Test error against each swept parameter (mean ± sd over seeds), the float baseline
    and the +1 % band as lines."""
    from rpu.train import require
    mpl = require("matplotlib", "the sweep plot")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    sweeps = [s for s in SWEEPS if any(r["sweep"] == s for r in rows)]
    base = next((r["mean"] for r in rows if r["sweep"] == "float"), None)
    fig, axes = plt.subplots(1, max(1, len(sweeps)), figsize=(4.2 * max(1, len(sweeps)), 3.6),
                             squeeze=False)
    for ax, name in zip(axes[0], sweeps):
        rs = sorted((r for r in rows if r["sweep"] == name), key=lambda r: r["value"])
        xs = [r["value"] for r in rs]
        ax.errorbar(xs, [100 * r["mean"] for r in rs], yerr=[100 * r["sd"] for r in rs],
                    marker="o", capsize=3, label="analog (mean ± sd)")
        if base is not None:
            ax.axhline(100 * base, color="k", lw=1, label="floating point")
            ax.axhline(100 * base + 1, color="k", lw=1, ls="--", label="floating point + 1 %")
        if SWEEPS[name]["log"] and min(xs) > 0:
            ax.set_xscale("log")
        ax.set_xlabel(SWEEPS[name]["label"])
        ax.set_ylabel("test error (%)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
