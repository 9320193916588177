#!/usr/bin/env python3
"""The emulated tile (tile + gateware crossbar) over many updates under Icarus and
Verilator: forward, backward and updates bit-exact with the reference, states and counters
compared at checkpoints (docs/fpga.md, "The emulated crossbar").

    python scripts/emulator_soak.py                      # 1,000 updates, both simulators, 8 × 6 tile
    python scripts/emulator_soak.py --updates 300 --simulator verilator --in-size 16 --out-size 16
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv=None) -> int:
    from rpu.config import EmulatorConfig, TileConfig
    from rpu.errors import RpuError
    from rpu.testbench.emulator import run_emulated
    from rpu.testbench.simulators import CosimFailure, simulator_version
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=1000)
    ap.add_argument("--check-every", type=int, default=100)
    ap.add_argument("--read-every", type=int, default=50)
    ap.add_argument("--simulator", choices=("verilator", "icarus", "both"), default="both")
    ap.add_argument("--in-size", type=int, default=6)
    ap.add_argument("--out-size", type=int, default=8)
    ap.add_argument("--preset", default="default", help="emulator preset (default, ideal, noisy)")
    ap.add_argument("--read-shift", type=int, default=9)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    try:
        cfg = TileConfig(in_size=args.in_size, out_size=args.out_size, out_bound=6.0)
        ecfg = EmulatorConfig.preset(args.preset).replace(read_shift=args.read_shift)
    except ValueError as e:
        print(f"emulator_soak: error: {e}", file=sys.stderr)
        return 2
    sims = ("icarus", "verilator") if args.simulator == "both" else (args.simulator,)
    print(f"emulated tile {cfg.out_size} × {cfg.in_size}, emulator {ecfg}")
    failed = False
    for sim in sims:
        t0 = time.perf_counter()
        try:
            r = run_emulated(cfg, ecfg, sim=sim, testcase="ops_bit_exact", updates=args.updates,
                             check_every=args.check_every, read_every=args.read_every,
                             seed=args.seed).results
        except (CosimFailure, RpuError) as e:
            print(f"  {sim}: FAILED: {e}")
            failed = True
            continue
        total = time.perf_counter() - t0
        n = r["updates"]
        print(f"  {sim} {simulator_version(sim)}: {n:,} updates, {r['reads']} reads "
              f"({max(r['passes'])} passes at most), {r['checks']} checkpoints: bit-exact "
              f"(results, states, emulator counters, tile cycle and pulse counters)")
        print(f"    {r['slots']:,} update slots; tile cycles per update "
              f"{sorted(set(r['update_tile_cycles']))}; stalled cycles: updates "
              f"{r['stall_update']:,} ({r['stall_update'] / n:.1f} per update), reads "
              f"{r['stall_read']:,}; pulses up {r['pulses_up']:,}, down {r['pulses_down']:,}")
        print(f"    {r['wall_cycles']:,} simulated cycles in {r['wall_s']:.1f} s "
              f"({r['wall_cycles'] / r['wall_s'] / 1e3:.1f} k cycles/s incl. checks), "
              f"{total:.1f} s in all (generation, build)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
