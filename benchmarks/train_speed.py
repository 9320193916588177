"""Benchmark: what training through the periphery reference costs, as a user gets it.

Prints, measured in one run (no process tuning):

* the per-call time of a 64 × 64 tile (``TileReference``, :func:`training_config`) forward,
  backward and update of one vector, and of the same calls on an ``AnalogLinear(63, 64)``
  layer (63 inputs + the bias line = a 64 × 64 tile: the layer's own overhead on top), in µs
  (median of ``--calls`` calls after a warm-up; x ~ U(0, 1), d ~ N(0, 0.05²), lr 0.05);
* one training epoch of the default network (digits, 64-32-10, 1,297 samples, sigmoid) in
  floating point (numpy) and through the reference, at batch 1 and batch 10, and the ratio
  (targets: 5× at batch 1, 3× at batch 10).  Each epoch figure is the minimum over
  ``--epochs`` epochs of one training run (the first epoch includes numba's cache load),
  with the seconds spent inside the compiled update kernel and the compiled multi-row reads
  of the training steps (per epoch, mean of the epochs; the test-set reads between epochs are not
  counted): their sum over the float epoch is the ratio no change of the Python around
  them can go below;
* the same three networks (float, analog through the layers' compiled entries, analog with
  the entries switched off) trained on the same batches with their epochs interleaved in
  one process, minimum epoch each: the entries' gain, measured side by side.

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
    X, D = rng.uniform(0, 1, (10, 64)), rng.normal(0, 0.05, (10, 64))
    return {
        "tile": dict(forward=per_call_us(lambda: tile.forward(x), calls),
                     backward=per_call_us(lambda: tile.backward(d), calls),
                     update=per_call_us(lambda: tile.update(x, d), calls)),
        "layer": dict(forward=per_call_us(lambda: layer.forward(x63), calls),
                      backward=per_call_us(lambda: layer.backward(d), calls),
                      update=per_call_us(lambda: layer.update(x63, d), calls)),
        "batch": dict(forward=per_call_us(lambda: tile.forward_batch(X), calls) / 10,
                      backward=per_call_us(lambda: tile.backward_batch(D), calls) / 10,
                      update=per_call_us(lambda: tile.update_batch(X, D), calls) / 10),
    }


def epoch_times(batch: int, epochs: int) -> dict:
    """Minimum epoch seconds per network, and the analog run's seconds inside the compiled
    update kernel and the compiled reads of training batches per epoch (timed around each
    call: what no Python change can remove)."""
    import rpu.models.fused as fused
    from rpu.train import TrainSettings, train
    # (the layers' update entry runs update_batch inside update_rows_scaled)
    # (and their reads run read_rows inside read_layer_rows)
    kernels = {"update_kernel": "update_rows_scaled", "update_batch": "update_batch",
               "read_kernel": "read_layer_rows", "read_rows": "read_rows"}
    originals = {name: getattr(fused.K, name) for name in kernels.values()}
    inside = dict.fromkeys(kernels, 0.0)

    def timed(key, kernel):
        def call(X, *args):
            t0 = time.perf_counter()
            got = kernel(X, *args)
            if key == "update_kernel" or len(X) <= batch:   # not a read of the test set
                inside[key] += time.perf_counter() - t0
            return got
        return call

    for key, name in kernels.items():
        setattr(fused.K, name, timed(key, originals[name]))
    try:
        report = train(TrainSettings(batch=batch, epochs=epochs), progress=False)
    finally:
        for name, kernel in originals.items():
            setattr(fused.K, name, kernel)
    out = {kind: min(e.seconds for e in run.epochs) for kind, run in report.runs.items()}
    out.update({key: v / epochs for key, v in inside.items()})
    out["update_kernel"] += out.pop("update_batch")
    out["read_kernel"] += out.pop("read_rows")
    return out


def entries_vs_per_step(batch: int, epochs: int) -> dict:
    """Minimum epoch seconds of the float network, the analog network through the layers'
    compiled entries and the same analog network with them switched off
    (``AnalogLinear._entries``), the three trained on the same batches with their epochs
    interleaved in one process (a shared machine's drift hits all three alike)."""
    from rpu.models.layers import training_config
    from rpu.train import TrainSettings, build_network, init_weights, load_digits_split
    X_tr, y_tr = load_digits_split()[:2]
    settings = TrainSettings(batch=batch, epochs=1)
    init = init_weights([64, *settings.hidden, 10], np.random.default_rng(0))
    nets = {kind: build_network("float" if kind == "float" else "analog", settings,
                                training_config(), init, np.random.SeedSequence(1).spawn(2))
            for kind in ("float", "entries", "per-step")}
    for layer in nets["per-step"].layers:
        layer._entries = False
    best = dict.fromkeys(nets, float("inf"))
    order_rng = np.random.default_rng(0)
    batches = -(-len(X_tr) // batch)
    for epoch in range(epochs + 1):             # the first: numba's cache load, not counted
        order = order_rng.permutation(len(X_tr))
        for kind, net in nets.items():
            t0 = time.perf_counter()
            for k in range(batches):
                idx = order[k * batch:(k + 1) * batch]
                net.step(X_tr[idx], y_tr[idx], settings.lr)
            if epoch:
                best[kind] = min(best[kind], time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2)
    args = p.parse_args()
    over = call_overheads(args.calls)
    print("per-call time, 64 x 64 tile (µs, median; the batch of 10 rows per row):")
    print(f"  {'':>16} {'forward':>8} {'backward':>8} {'update':>8}")
    for name, row in over.items():
        label = {"tile": "TileReference", "layer": "AnalogLinear",
                 "batch": "per row of 10"}[name]
        print(f"  {label:>16} {row['forward']:8.1f} {row['backward']:8.1f} {row['update']:8.1f}")
    print("one epoch of the default network (1,297 samples, 64-32-10):")
    for batch in (1, 10):
        t = epoch_times(batch, args.epochs)
        ratio = t["analog"] / t["float"]
        print(f"  batch {batch:>2}: floating point {t['float']:.3f} s, periphery reference "
              f"{t['analog']:.3f} s, ratio {ratio:.1f}x (target {TARGETS[batch]:g}x: "
              f"{'met' if ratio <= TARGETS[batch] else 'not met'})")
        compiled = t["update_kernel"] + t["read_kernel"]
        if t["read_kernel"]:
            print(f"            inside compiled code per epoch (mean): update {t['update_kernel']:.3f}"
                  f" s + reads {t['read_kernel']:.3f} s = {compiled:.3f} s = "
                  f"{compiled / t['float']:.1f}x the float epoch (the ratio's floor)")
        else:                               # one row: the read's per-pass steps, not one call
            print(f"            inside the compiled update per epoch (mean): "
                  f"{t['update_kernel']:.3f} s = {t['update_kernel'] / t['float']:.1f}x the float "
                  f"epoch (reads of one row run as several compiled steps: not timed)")
    print("the layers' compiled entries against the per-step path (epochs interleaved, one process):")
    for batch in (1, 10):
        t = entries_vs_per_step(batch, args.epochs)
        print(f"  batch {batch:>2}: floating point {t['float']:.4f} s, entries {t['entries']:.4f} s "
              f"({t['entries'] / t['float']:.1f}x), per-step {t['per-step']:.4f} s "
              f"({t['per-step'] / t['float']:.1f}x): entries {100 * (t['entries'] / t['per-step'] - 1):+.0f} %")


if __name__ == "__main__":
    main()
