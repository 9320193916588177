"""Benchmark: what training through the periphery reference costs, as a user gets it.

Prints, measured in one run (no process tuning):

* the per-call time of a 64 × 64 tile (``TileReference``, :func:`training_config`) forward,
  backward and update of one vector, and of the same calls on an ``AnalogLinear(63, 64)``
  layer (63 inputs + the bias line = a 64 × 64 tile: the layer's own overhead on top), in µs
  (median of ``--calls`` calls after a warm-up; x ~ U(0, 1), d ~ N(0, 0.05²), lr 0.05);
* one training epoch of the default network (digits, 64-32-10, 1,297 samples, sigmoid) in
  floating point (numpy) and through the reference, at batch 1 and batch 10, and the ratio
  (targets: 5× at batch 1, 3× at batch 10).  Each epoch figure is the minimum over
  ``--epochs`` epochs of one training run (the first epoch includes numba's cache load).

    python benchmarks/train_speed.py [--calls 2000] [--epochs 2]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

TARGETS = {1: 5.0, 10: 3.0}


def per_call_us(fn, calls: int) -> float:
    fn()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e6 * statistics.median(times)


def call_overheads(calls: int) -> dict:
    from rpu.models import AnalogLinear, TileReference, training_config
    rng = np.random.default_rng(0)
    x, d = rng.uniform(0, 1, 64), rng.normal(0, 0.05, 64)
    tile = TileReference(training_config(in_size=64, out_size=64, lr=0.05))
    layer = AnalogLinear(63, 64, seed=0, lr=0.05)
    with warnings.catch_warnings():         # a few devices' bounds are narrower than 0.05
        warnings.simplefilter("ignore")
        layer.set_weights(rng.uniform(-0.1, 0.1, (64, 63)))
    x63 = x[:63]
    return {
        "tile": dict(forward=per_call_us(lambda: tile.forward(x), calls),
                     backward=per_call_us(lambda: tile.backward(d), calls),
                     update=per_call_us(lambda: tile.update(x, d), calls)),
        "layer": dict(forward=per_call_us(lambda: layer.forward(x63), calls),
                      backward=per_call_us(lambda: layer.backward(d), calls),
                      update=per_call_us(lambda: layer.update(x63, d), calls)),
    }


def epoch_times(batch: int, epochs: int) -> dict:
    from rpu.train import TrainSettings, train
    report = train(TrainSettings(batch=batch, epochs=epochs), progress=False)
    return {kind: min(e.seconds for e in run.epochs) for kind, run in report.runs.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    over = call_overheads(args.calls)
    print("per-call time, 64 x 64 tile (µs, median):")
    print(f"  {'':>16} {'forward':>8} {'backward':>8} {'update':>8}")
    for name, row in over.items():
        label = "TileReference" if name == "tile" else "AnalogLinear"
        print(f"  {label:>16} {row['forward']:8.1f} {row['backward']:8.1f} {row['update']:8.1f}")
    print("one epoch of the default network (1,297 samples, 64-32-10):")
    for batch in (1, 10):
        t = epoch_times(batch, args.epochs)
        ratio = t["analog"] / t["float"]
        print(f"  batch {batch:>2}: floating point {t['float']:.3f} s, periphery reference "
              f"{t['analog']:.3f} s, ratio {ratio:.1f}x (target {TARGETS[batch]:g}x: "
              f"{'met' if ratio <= TARGETS[batch] else 'not met'})")


if __name__ == "__main__":
    main()
