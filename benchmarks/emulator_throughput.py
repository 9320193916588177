"""Throughput of the emulated tile (tile + gateware crossbar, no Python front-end) under
Verilator, next to the co-simulation of the tile with the Python front-end and crossbar
model (``benchmarks/cosim_throughput.py``'s bench), on the same workload: forwards/s and
back-to-back updates/s of the default 64×64 tile (docs/fpga.md, "The emulated crossbar").

    python benchmarks/emulator_throughput.py [--updates 300] [--forwards 30] [--size 64]
        [--icarus]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rpu.config import EmulatorConfig, TileConfig
from rpu.testbench.emulator import run_emulated
from rpu.testbench.harness import HARNESS_NAME, harness_sources
from rpu.testbench.simulators import run_cocotb, simulator_version


def _rates(res):
    return (res["forwards"] / res["forward_s"], res["updates"] / res["update_s"],
            res["updates"] / res["burst_s"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--forwards", type=int, default=30)
    ap.add_argument("--size", type=int, default=64, help="lines per side (square tile)")
    ap.add_argument("--icarus", action="store_true", help="also run both under Icarus")
    args = ap.parse_args()
    cfg = TileConfig(in_size=args.size, out_size=args.size)
    ecfg = EmulatorConfig()
    os.environ.setdefault("RPU_BUILD_DIR", str(Path("build").resolve()))
    params = dict(updates=args.updates, forwards=args.forwards)
    sims = ("verilator", "icarus") if args.icarus else ("verilator",)
    print(f"{cfg.out_size}×{cfg.in_size} tile, BL {cfg.update.bl}, the same x, d for every "
          f"update (tb_tile.throughput's workload), emulator {ecfg}")
    for sim in sims:
        emu = run_emulated(cfg, ecfg, sim=sim, testcase="throughput", **params).results
        out = Path(tempfile.mkdtemp(prefix="rpu-bench-"))
        cos = run_cocotb(sim=sim, verilog=harness_sources(cfg, out), toplevel=HARNESS_NAME,
                         test_module="rpu.testbench.tb_tile", name="tile", testcase="throughput",
                         params=dict(config=cfg.to_dict(), **params), quiet=True).results
        (ef, eu, eb), (cf, cu, cb) = _rates(emu), _rates(cos)
        n = emu["updates"]
        per_upd = emu["burst_cycles"] / n
        print(f"{sim} {simulator_version(sim)}:")
        print(f"  {'':34s}{'emulated tile':>16s}{'co-simulation':>16s}{'ratio':>8s}")
        for name, a, b in (("forwards/s", ef, cf), ("updates/s, one CTRL write each", eu, cu),
                           ("updates/s, CTRL.count burst", eb, cb)):
            print(f"  {name:34s}{a:16.1f}{b:16.1f}{a / b:8.2f}")
        print(f"  {'cycles per forward':34s}{emu['forward_cycles'] / emu['forwards']:16.1f}"
              f"{cos['forward_cycles'] / cos['forwards']:16.1f}")
        print(f"  {'cycles per update (burst)':34s}{per_upd:16.1f}{cos['burst_cycles'] / n:16.1f}")
        print(f"  {'k cycles/s (burst)':34s}{emu['burst_cycles'] / emu['burst_s'] / 1e3:16.1f}"
              f"{cos['burst_cycles'] / cos['burst_s'] / 1e3:16.1f}")
        upd = 1 + 2 * n
        print(f"  emulated: {emu['update_tile_cycles']} tile cycles per update + "
              f"{emu['stall_update'] / upd:.1f} stalled ({emu['rows'] / emu['slots']:.1f} rows "
              f"per pulsing slot, {emu['slots'] / upd:.1f} pulsing slots per update); a forward "
              f"{emu['read_tile_cycles']} tile cycles + {emu['stall_read'] / args.forwards:.0f} "
              f"stalled; at 50 MHz on a board: {50e6 / per_upd:,.0f} updates/s")


if __name__ == "__main__":
    main()
