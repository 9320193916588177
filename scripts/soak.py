#!/usr/bin/env python3
"""Soak: N updates interleaved with reads on the default tile (or --config) under
Verilator, weights and counters bit-exact with the reference at every checkpoint.

    python scripts/soak.py                       # 100,000 updates, reads every 10, 10 checkpoints
    python scripts/soak.py --updates 2000 --checkpoints 4 --simulator icarus
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from rpu.config import TileConfig
    from rpu.errors import RpuError
    from rpu.testbench.simulators import CosimFailure
    from rpu.testbench.soak import format_soak, run_soak
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=100_000)
    ap.add_argument("--read-every", type=int, default=10)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--config", default=None, help="a tile config JSON (default: the default tile)")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("-o", "--output", default="build/soak")
    args = ap.parse_args(argv)
    cfg = TileConfig.from_json(open(args.config).read()) if args.config else TileConfig()
    try:
        r = run_soak(cfg, args.output, updates=args.updates, read_every=args.read_every,
                     checkpoints=args.checkpoints, simulator=args.simulator, seed=args.seed,
                     build_name="soak")
    except (CosimFailure, RpuError, ValueError) as e:
        print(f"soak: FAILED: {e}", file=sys.stderr)
        return 1
    print(format_soak(cfg, r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
