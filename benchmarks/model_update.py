"""Benchmark: vector-level stochastic update of the behavioural crossbar (issue #3).

For each size (default 512×512 and 4096×4096, BL 10, default noisy device) it prints:

* ``apply``  : ``Crossbar.apply_phase_trains`` of one update (coincidence counts, pulses
  with c2c noise and clipping, endurance counters) from precomputed phase trains;
* ``update`` : the whole ``Tile.update(x, d)`` (bit-exact UM/quantisation reference +
  bit-exact random streams + apply);
* ``rank1``  : a plain numpy float32 ``W -= lr * np.outer(d, x)`` of the same size;
* the ratios to rank1 (minimum over minimum, median over median) and the tracemalloc peak of one apply / one update (compare with
  the size of one float32 weight matrix);
* ``jit``: the first update of the run (numba kernels compiled, or loaded from their cache),
  excluded from the timings.

glibc's malloc is told to keep freed memory (``mallopt``: no trimming, no per-allocation
mmap below 32 MiB) before anything is timed: otherwise whether a 1 MiB temporary of rank1
(or of the model) is served from the heap or freshly faulted in from the OS depends on the
heap layout the previous code left, which moved rank1 at 512² between 0.17 and 1.2 ms
from run to run.  The same setting holds for both sides of every ratio.

Inputs: x ~ U(−1, 1), d ~ N(0, 0.01²) (a backprop error), lr = cfg.update.lr = 0.01, so with
update management p_max = sqrt(lr·max|x|·max|d|/(dw_min·BL)) ≈ 0.2 and the coincidence
counts are sparse.  Times: minimum (and median) of ``--reps`` runs after a warm-up run.

    python benchmarks/model_update.py [--sizes 512 4096] [--reps 7]
"""

from __future__ import annotations

import argparse
import ctypes
import statistics
import sys
import time
import tracemalloc

import numpy as np

from rpu.config import TileConfig
from rpu.models import Tile
from rpu.models.ref_management import to_fixed, update_codes


def steady_malloc() -> None:
    """glibc: never trim the heap, mmap only blocks above 32 MiB (see the module doc)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)       # M_TRIM_THRESHOLD
        libc.mallopt(-3, 32 << 20)      # M_MMAP_THRESHOLD (glibc's maximum)


def timed(fn, reps: int) -> tuple[float, float]:
    """(min, median) wall time of ``reps`` runs after one warm-up (page faults, caches).
    The ratios use the minimum: on a shared machine it is the least disturbed figure, and
    both sides of a ratio are measured the same way in the same run."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench(n: int, reps: int, bl: int) -> dict:
    # at 4096 lines the generated top needs lines_per_adc=2 (Amaranth's port limit); the
    # model does not use it
    cfg = TileConfig(in_size=n, out_size=n, bl=bl, bl_max=max(31, bl),
                     lines_per_adc=2 if n >= 4096 else 1)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, n)
    d = rng.normal(0, 0.01, n)
    t0 = time.perf_counter()
    tile = Tile(cfg)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    tile.update(x, d)                   # compiles the kernels (or loads them from the cache)
    jit = time.perf_counter() - t0
    uc = update_codes(cfg, to_fixed(cfg, x), to_fixed(cfg, d))
    trains = tile.streams.phase_trains(uc.x_codes, uc.d_codes, uc.bl)
    before = sum(int(c.sum()) for c in tile.crossbar.pulse_counts)
    tile.crossbar.apply_phase_trains(trains)
    pulses = sum(int(c.sum()) for c in tile.crossbar.pulse_counts) - before

    t_apply = timed(lambda: tile.crossbar.apply_phase_trains(trains), reps)
    t_update = timed(lambda: tile.update(x, d), reps)
    W = np.zeros((n, n), np.float32)
    x32, d32, lr = x.astype(np.float32), d.astype(np.float32), np.float32(cfg.update.lr)

    def rank1():
        nonlocal W
        W -= lr * np.outer(d32, x32)

    t_rank1 = timed(rank1, reps)
    return dict(n=n, build=build, jit=jit, phases=len(trains), bl=uc.bl, pulses=pulses, apply=t_apply, update=t_update, rank1=t_rank1,
                peak_apply=peak_bytes(lambda: tile.crossbar.apply_phase_trains(trains)),
                peak_update=peak_bytes(lambda: tile.update(x, d)),
                peak_rank1=peak_bytes(rank1), wbytes=n * n * 4)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--bl", type=int, default=10)
    args = ap.parse_args(argv)
    steady_malloc()
    mb = 2 ** 20
    for n in args.sizes:
        r = bench(n, args.reps, args.bl)
        print(f"{n}x{n}  BL {r['bl']}  phases {r['phases']}  pulses/update {r['pulses']:.0f}"
              f"  (model build {r['build']:.2f} s, first update incl. jit {r['jit']:.2f} s)")
        for key in ("apply", "update", "rank1"):
            best, med = r[key]
            ratio = (f"= {best / r['rank1'][0]:5.2f} x rank1 (median {med / r['rank1'][1]:5.2f} x)"
                     if key != "rank1" else " " * 31)
            peak = r["peak_" + key]
            print(f"  {key:7s} {best * 1e3:8.2f} ms (median {med * 1e3:8.2f}) {ratio}"
                  f"   peak {peak / mb:7.1f} MiB = {peak / r['wbytes']:.2f} W")

if __name__ == "__main__":
    main()
