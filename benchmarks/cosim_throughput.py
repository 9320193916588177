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
from rpu.testbench.harness import HARNESS_NAME, harness_sources
from rpu.testbench.simulators import run_cocotb, simulator_version


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--updates", type=int, default=300)
    ap.add_argument("--forwards", type=int, default=30)
    args = ap.parse_args()
    cfg = TileConfig()
    os.environ.setdefault("RPU_BUILD_DIR", str(Path("build").resolve()))
    out = Path(tempfile.mkdtemp(prefix="rpu-bench-"))
    verilog = harness_sources(cfg, out)
    rates = {}
    for sim in ("verilator", "icarus"):
        res = run_cocotb(sim=sim, verilog=verilog, toplevel=HARNESS_NAME,
                         test_module="rpu.testbench.tb_tile", name="tile", testcase="throughput",
                         params=dict(config=cfg.to_dict(), updates=args.updates,
                                     forwards=args.forwards), quiet=True).results
        f = res["forwards"] / res["forward_s"]
        u = res["updates"] / res["update_s"]
        b = res["updates"] / res["burst_s"]
        rates[sim] = (f, u, b)
        print(f"{sim:9s} {simulator_version(sim)}: {f:7.1f} forwards/s ({res['forward_cycles'] / res['forwards']:.0f} cycles each)")
        for name, rate in (("update", u), ("burst", b)):
            how = "one CTRL write each" if name == "update" else "one CTRL write (count)"
            print(f"{'':19s}{rate:7.1f} updates/s, {how}: {res[name + '_cycles'] / res['updates']:.1f} "
                  f"cycles/update, {res[name + '_slots'] / res['updates']:.0f} slots/update applied "
                  f"to the model, {res[name + '_cycles'] / res[name + '_s'] / 1e3:.1f} k cycles/s")
    (fv, uv, bv), (fi, ui, bi) = rates["verilator"], rates["icarus"]
    print(f"ratio verilator/icarus: forwards {fv / fi:.2f}x, updates {uv / ui:.2f}x, "
          f"burst updates {bv / bi:.2f}x")
    for name, rate in (("one CTRL write per update", uv), ("bursts (CTRL.count)", bv)):
        print(f"target >= 1000 updates/s under Verilator, {name}: "
              f"{'met' if rate >= 1000 else 'NOT met'} ({rate:.0f})")


if __name__ == "__main__":
    main()
