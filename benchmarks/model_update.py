"""Benchmark: the behavioural model's update, forward and backward, as a user's process runs
them (no malloc tuning), next to numpy baselines and the aihwkit figures of the issue.

For each regime (dense: x, d ~ U(−0.5, 0.5); sparse: x ~ U(−1, 1), d ~ N(0, 0.01²)) and
size (default 64², 512², 2048², 4096²; BL 10, update management on, lr 0.01, the default
noisy constant-step device) and each thread count (1 and all cores) it prints:

* ``update``: ``TileReference.update(x, d)``, median and best of ``--reps`` calls (rounds
  interleaved with the baseline, after a warm-up call; ``--reps`` at 64² and 512², half at
  2048², a third at 4096²), its ratio to a numpy float32 rank-1 update
  ``W -= lr·outer(d, x)`` of the same size timed in the same rounds, and its ratio to
  aihwkit's ``AnalogTile.update`` (CPU): where aihwkit imports, timed in the same rounds
  with the same settings (``aihwkit`` column marked ``*``: BL 10, update management on,
  BL management off as the tile's ``dynamic_bl``, ``ConstantStepDevice()`` with its defaults, lr 0.01, torch's thread
  count set to the row's, the same x and d as float32 tensors of one row); else
  aihwkit 1.1.0's figure as measured in the issue (same machine class);
* ``cpu``: the update's median process CPU time per call (all threads) and its ratio to the
  rank-1 update's, robust to waiting for a core on a shared machine (for one thread, what
  the wall time would be on an idle one);
* page faults per call (``resource.getrusage`` minor + major faults over the timed calls):
  ``flt/call`` of the update, ``rw flt`` of a forward plus a backward;
* peak traced memory of one steady-state update (``tracemalloc``), as a fraction of one
  float32 weight matrix W;
* ``fwd`` / ``bwd``: ``forward(x)`` / ``backward(d)`` (rounds of their own, interleaved
  with the baselines) against a numpy float32 matvec plus additive float64 noise
  (``W @ v + σ·N(0, 1)``; ``matvec`` is the forward's, ``bwd/mv`` divides by the same with
  ``W.T``); ``pass``: the forward's bound-management passes after the update rounds (each
  pass is one matvec; the updates' coherent rank-1 steps make the dense regime saturate);
* the per-call overhead at 64² (an update of zero vectors: no pulses) and the process's
  peak RSS;
* ``load``: the machine's 1-minute load average when the row was measured (the ratios to
  numpy, timed in the same rounds, are what stays comparable on a shared machine).

    python benchmarks/model_update.py [--sizes 64 512 2048 4096] [--reps 15] [--threads 1 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc

import numpy as np

from rpu.config import TileConfig
from rpu.models import TileReference, get_threads, set_threads

#: the issue's aihwkit 1.1.0 ``AnalogTile.update`` column (ms, same machine class)
AIHWKIT_MS = {"dense": {64: 0.051, 512: 2.08, 2048: 34.4, 4096: 163.0},
              "sparse": {64: 0.016, 512: 0.25, 2048: 3.59, 4096: 15.4}}
REGIMES = {"dense": lambda rng, n: (rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n)),
           "sparse": lambda rng, n: (rng.uniform(-1, 1, n), rng.normal(0, 0.01, n))}


def aihwkit_update(n: int, x: np.ndarray, d: np.ndarray, lr: float, bl: int, dynamic_bl: bool):
    """A call of aihwkit's ``AnalogTile.update`` with the project tile's settings (BL,
    update management on, BL management as the tile's ``dynamic_bl``), or ``None`` where
    aihwkit does not import (not a dependency: it needs torch)."""
    try:
        import torch
        from aihwkit.simulator.configs import SingleRPUConfig
        from aihwkit.simulator.configs.devices import ConstantStepDevice
        from aihwkit.simulator.tiles import AnalogTile
    except ImportError:
        return None
    cfg = SingleRPUConfig(device=ConstantStepDevice())
    cfg.update.desired_bl = bl
    cfg.update.update_management = True
    cfg.update.update_bl_management = dynamic_bl
    tile = AnalogTile(n, n, cfg)
    tile.set_learning_rate(lr)
    tile.set_weights(torch.from_numpy(np.random.default_rng(0).uniform(-0.1, 0.1, (n, n)).astype(np.float32)))
    xt = torch.from_numpy(x.astype(np.float32)[None, :])
    dt = torch.from_numpy(d.astype(np.float32)[None, :])
    return lambda: tile.update(xt, dt)


def set_all_threads(th: int) -> None:
    """The model's thread count and, where torch is imported (aihwkit), torch's."""
    set_threads(th)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(th)


def faults() -> int:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt + r.ru_majflt


def interleaved(fns: dict, reps: int) -> dict:
    """Per name: (median s, best s, page faults per call, median process CPU s) over
    ``reps`` rounds, each round calling every function once in turn (after one warm-up call
    each).  The CPU time (all the process's threads) does not count the time the process
    waited for a core, which wall time on a shared machine does."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    cpu = {k: [] for k in fns}
    flt = dict.fromkeys(fns, 0)
    for _ in range(reps):
        for k, f in fns.items():
            f0 = faults()
            c0 = time.process_time()
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
            flt[k] += faults() - f0
    return {k: (statistics.median(v), min(v), flt[k] / reps, statistics.median(cpu[k]))
            for k, v in times.items()}


def peak_bytes(fn) -> int:
    fn()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def baselines(n: int, lr: float, sigma: float, rng):
    """numpy float32 rank-1 update and matvec-plus-noise of an n × n matrix."""
    W = np.zeros((n, n), np.float32)
    x32, d32, lr32 = rng.uniform(-1, 1, n).astype(np.float32), rng.uniform(-1, 1, n).astype(np.float32), np.float32(lr)
    noise = np.random.default_rng(1)

    def rank1():
        np.subtract(W, lr32 * np.outer(d32, x32), out=W)

    def matvec():
        return (W @ x32).astype(np.float64) + sigma * noise.standard_normal(n)

    def matvec_t():
        return (W.T @ d32).astype(np.float64) + sigma * noise.standard_normal(n)

    return rank1, matvec, matvec_t


def bench_size(n: int, reps: int, threads: list[int]) -> list[dict]:
    cfg = TileConfig(in_size=n, out_size=n, bl=10, lines_per_adc=2 if n >= 4096 else 1)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    tile = TileReference(cfg)
    build = time.perf_counter() - t0
    tile.set_weights(rng.uniform(-0.1, 0.1, (n, n)))
    rank1, matvec, matvec_t = baselines(n, cfg.update.lr, cfg.io.out_noise, rng)
    reps_n = reps if n <= 512 else max(3, reps // 2) if n <= 2048 else max(3, reps // 3)
    rows = []
    for regime, draw in REGIMES.items():
        x, d = draw(rng, n)
        aih = aihwkit_update(n, x, d, cfg.update.lr, cfg.update.bl, cfg.update.dynamic_bl)
        for th in threads:
            set_all_threads(th)
            w0 = tile.weights
            fns = {"update": lambda: tile.update(x, d), "rank1": rank1}
            if aih is not None:
                fns["aihwkit"] = aih
            r = interleaved(fns, reps_n)
            r.update(interleaved({"fwd": lambda: tile.forward(x), "matvec": matvec,
                                  "bwd": lambda: tile.backward(d), "matvec_t": matvec_t}, reps_n))
            tile.forward(x)
            passes = tile.last_read.passes         # bound management's passes (the baseline: 1)
            tile.set_weights(w0)                  # keep the weights in range across rounds
            rows.append(dict(n=n, regime=regime, threads=th, build=build, load=os.getloadavg()[0],
                             passes=passes, **r,
                             peak=peak_bytes(lambda: tile.update(x, d)), wbytes=4 * n * n))
    return rows


def overhead_64(reps: int) -> tuple[float, float]:
    """(median, best) ms of a 64² update of zero vectors (no pulses: the fixed cost)."""
    tile = TileReference(TileConfig(in_size=64, out_size=64))
    z = np.zeros(64)
    r = interleaved({"zero": lambda: tile.update(z, z)}, max(reps, 200))["zero"]
    return r[0] * 1e3, r[1] * 1e3


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 512, 2048, 4096])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, nargs="+", default=sorted({1, get_threads()}))
    args = ap.parse_args(argv)
    ms = 1e3
    print(f"threads: {args.threads} (all cores: {get_threads()}, CPUs: {os.cpu_count()}); no malloc "
          f"tuning; times in ms, median / best; ratios on medians; load average at start: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    try:                    # (the same import aihwkit_update needs)
        import aihwkit
        print(f"aihwkit {aihwkit.__version__} imports: its column (*) is timed in the same rounds")
    except ImportError:     # not installed (needs torch): the figures
        print("aihwkit does not import here: its column is the issue's aihwkit 1.1.0 figures "
              "(same machine class, another run)")
    print(f"{'size':>5} {'regime':7} {'thr':>3} | {'update':>17} {'x rank1':>7} {'aihwkit':>7} {'ratio':>6}"
          f" | {'cpu':>8} {'x r1':>6}"
          f" | {'flt/call':>8} {'rw flt':>6} {'peak/W':>6}"
          f" | {'fwd':>8} {'pass':>4} {'bwd':>8} {'matvec':>8} {'fwd/mv':>6} {'bwd/mv':>6} | {'load':>5}")
    for n in args.sizes:
        for r in bench_size(n, args.reps, args.threads):
            measured = "aihwkit" in r
            aih = (r["aihwkit"][0] * ms if measured else
                   AIHWKIT_MS[r["regime"]].get(n, float("nan")))
            u, mv = r["update"], r["matvec"]
            print(f"{n:>5} {r['regime']:7} {r['threads']:>3} | {u[0] * ms:8.3f} /{u[1] * ms:7.3f}"
                  f" {u[0] / r['rank1'][0]:7.2f} {aih:7.3f}{'*' if measured else ' '}{u[0] * ms / aih:6.2f}"
                  f" | {u[3] * ms:8.3f} {u[3] / r['rank1'][3]:6.2f}"
                  f" | {u[2]:8.2f} {r['fwd'][2] + r['bwd'][2]:6.2f} {r['peak'] / r['wbytes']:6.3f}"
                  f" | {r['fwd'][0] * ms:8.3f} {r['passes']:4d} {r['bwd'][0] * ms:8.3f} {mv[0] * ms:8.3f}"
                  f" {r['fwd'][0] / mv[0]:6.2f} {r['bwd'][0] / r['matvec_t'][0]:6.2f} | {r['load']:5.2f}", flush=True)
    med, best = overhead_64(args.reps)
    print(f"per-call overhead at 64² (update of zero vectors): median {med:.4f} ms, best {best:.4f} ms")
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"peak RSS of the process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
