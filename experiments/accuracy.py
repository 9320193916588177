"""Accuracy target of the trainer's defaults: floating point vs the periphery reference on
the digits, for sigmoid and tanh hidden units and inputs in [0, 1] and [−1, 1], mean over
3 seeds (docs/training.md, "Accuracy").

Every run is a point of :mod:`rpu.sweep` (dask LocalCluster, results appended to a JSON-lines
file, points already there are not re-run).  ``--set NAME=VALUE`` overrides a trainer
setting and ``--cfg NAME=VALUE`` a tile field (``device.NAME`` for the device) for every
run, e.g. to measure other defaults::

    python experiments/accuracy.py                       # the defaults
    python experiments/accuracy.py --cfg dynamic_bl=false --set weight_scale=1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_value(text: str):
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def overrides(pairs: list[str]) -> dict:
    out: dict = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name.startswith("device."):
            out.setdefault("device", {})[name[7:]] = parse_value(value)
        else:
            out[name] = parse_value(value)
    return out


def points(settings: dict, config: dict, seeds) -> list:
    out = []
    for activation in ("sigmoid", "tanh"):
        for inputs in ("unit", "signed"):
            for kind in ("float", "analog"):
                for seed in seeds:
                    s = {**settings, "activation": activation, "inputs": inputs, "seed": seed}
                    p = dict(kind=kind, settings=s, group=f"{activation}/{inputs}")
                    if kind == "analog":
                        p["config"] = config
                    out.append(p)
    return out


def table(pts: list, results: list) -> list[dict]:
    rows: dict = {}
    for p, r in zip(pts, results):
        row = rows.setdefault(p["group"], {"float": [], "analog": [], "seconds": []})
        row[p["kind"]].append(r["test_error"])
        if p["kind"] == "analog":
            row["seconds"].append(r["seconds"])
    out = []
    for group, row in rows.items():
        f = sum(row["float"]) / len(row["float"])
        a = sum(row["analog"]) / len(row["analog"])
        out.append(dict(group=group, float=f, analog=a, gap=a - f, float_runs=row["float"],
                        analog_runs=row["analog"], within_1pct=a - f <= 0.01))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--cfg", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--results", default=str(HERE / "results" / "runs.jsonl"))
    args = p.parse_args()
    from rpu.sweep import run_points
    pts = points(overrides(args.set), overrides(args.cfg), range(args.seeds))
    results = run_points(pts, args.results, scheduler=args.scheduler, workers=args.workers)
    rows = table(pts, results)
    print(f"settings {json.dumps(overrides(args.set))}, tile {json.dumps(overrides(args.cfg))}, "
          f"{args.seeds} seeds")
    print(f"{'hidden/inputs':>16} {'float %':>8} {'analog %':>9} {'gap':>6}  runs (analog)")
    for r in rows:
        runs = " ".join(f"{100 * e:.1f}" for e in r["analog_runs"])
        print(f"{r['group']:>16} {100 * r['float']:8.2f} {100 * r['analog']:9.2f} "
              f"{100 * r['gap']:+6.2f}  {runs}  {'ok' if r['within_1pct'] else 'MISSED'}")


if __name__ == "__main__":
    main()
