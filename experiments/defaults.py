"""The measurement behind the training defaults (docs/training.md, "Defaults"): the accuracy
grid of experiments/accuracy.py (sigmoid/tanh × inputs [0, 1]/[−1, 1] × 3 seeds, default
device, 64-32-10, lr 0.05, batch 1, 15 epochs) for BL 10 fixed (TileConfig's demo tile) or
dynamic BL up to 31, and digital weight scales γ = 1 … 4.  Prints, per candidate, the gap to
floating point of each variant (mean of 3 seeds), the worst gap, the clipped update lines
and the devices pinned at a bound.  Runs are shared with accuracy.py (same results file).

    python experiments/defaults.py [--workers 2] [--scheduler ADDRESS]
"""

from __future__ import annotations

import argparse

from accuracy import HERE, points, table

#: (label, trainer settings, tile overrides)
CANDIDATES = [
    ("BL 10 fixed, γ 1 (TileConfig)", {"weight_scale": 1.0}, {"dynamic_bl": False}),
    ("dynamic BL ≤ 31, γ 1", {"weight_scale": 1.0}, {}),
    ("BL 10 fixed, γ 2", {"weight_scale": 2.0}, {"dynamic_bl": False}),
    ("dynamic BL ≤ 31, γ 2 (default)", {"weight_scale": 2.0}, {}),
    ("dynamic BL ≤ 31, γ 3", {"weight_scale": 3.0}, {}),
    ("dynamic BL ≤ 31, γ 4", {"weight_scale": 4.0}, {}),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scheduler", default=None)
    p.add_argument("--results", default=str(HERE / "results" / "runs.jsonl"))
    args = p.parse_args()
    from rpu.sweep import run_points
    grids = [(label, points(s, c, range(3))) for label, s, c in CANDIDATES]
    everything = [pt for _label, pts in grids for pt in pts]
    results = dict(zip(map(id, everything), run_points(everything, args.results,
                                                       scheduler=args.scheduler, workers=args.workers)))
    groups = [g["group"] for g in table(grids[0][1], [results[id(p)] for p in grids[0][1]])]
    print("gap to floating point (test error, mean of 3 seeds, % absolute):")
    print(f"{'candidate':>32} " + " ".join(f"{g:>14}" for g in groups)
          + f" {'worst':>6} {'upd clip %':>10} {'pinned % (L1/L2)':>17}")
    for label, pts in grids:
        res = [results[id(p)] for p in pts]
        rows = table(pts, res)
        analog = [r for p, r in zip(pts, res) if p["kind"] == "analog"]
        clip = sum(sum(e["update_clipped"] for e in r["epochs"]) / len(r["epochs"]) for r in analog) / len(analog)
        pinned = [sum(r["pinned"][k] for r in analog) / len(analog) for k in range(2)]
        print(f"{label:>32} " + " ".join(f"{100 * r['gap']:+14.2f}" for r in rows)
              + f" {100 * max(r['gap'] for r in rows):+6.2f} {100 * clip:10.3f}"
              f" {100 * pinned[0]:8.1f}/{100 * pinned[1]:.1f}")


if __name__ == "__main__":
    main()
