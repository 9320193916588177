"""Co-simulation throughput of the default 64×64 tile: forwards/s and back-to-back
updates/s (host driver + analog front-end + crossbar model in the loop) under Verilator
and Icarus in one run, and their ratio.

    python benchmarks/cosim_throughput.py [--updates 300] [--forwards 30]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from rpu.config import TileConfig
from rpu.rtl.blocks import TOP_NAME
from rpu.rtl.generate import write_verilog
from rpu.rtl.tile import Tile
from rpu.testbench.simulators import run_cocotb, simulator_version


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--forwards", type=int, default=30)
    args = ap.parse_args()
    cfg = TileConfig()
    os.environ.setdefault("RPU_BUILD_DIR", str(Path("build").resolve()))
    out = Path(tempfile.mkdtemp(prefix="rpu-bench-"))
    verilog = write_verilog(Tile(cfg), TOP_NAME, out)
    rates = {}
    for sim in ("verilator", "icarus"):
        res = run_cocotb(sim=sim, verilog=verilog, toplevel=TOP_NAME,
                         test_module="rpu.testbench.tb_tile", name="tile", testcase="throughput",
                         params=dict(config=cfg.to_dict(), updates=args.updates,
                                     forwards=args.forwards), quiet=True).results
        f = res["forwards"] / res["forward_s"]
        u = res["updates"] / res["update_s"]
        cyc = (res["forward_cycles"] + res["update_cycles"]) / (res["forward_s"] + res["update_s"])
        rates[sim] = (f, u)
        print(f"{sim:9s} {simulator_version(sim)}: {f:8.1f} forwards/s  {u:8.1f} updates/s  "
              f"({res['update_cycles'] / res['updates']:.0f} cycles/update, "
              f"{cyc / 1e3:.1f} k cycles/s)")
    fv, uv = rates["verilator"]
    fi, ui = rates["icarus"]
    print(f"ratio verilator/icarus: forwards {fv / fi:.2f}x, updates {uv / ui:.2f}x")
    print(f"target >= 1000 updates/s under Verilator: {'met' if uv >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
