#!/usr/bin/env python3
"""The formal checks, all of them, with a table of results and run times.

    python scripts/formal.py                 # every check at its CI depth, then every mutant
    python scripts/formal.py --depth 80      # the tile's BMC deeper (the AXI proof is unbounded)
    python scripts/formal.py --only axi,timing --no-mutants
    python scripts/formal.py --mutants-only

Every check must pass (the AXI4-Lite slave by k-induction, the tile's groups by bounded model
checking, the covers reached) and every mutant of rpu.testbench.formal.mutants must fail its
target property; the exit status is 1 otherwise.  The tools come from the [formal] extra
(pip install 'rpu-periphery[formal]').  Work folders go to build/formal (or --workdir).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    from rpu.testbench.formal.mutants import MUTANTS
    from rpu.testbench.formal.runs import ALL_CHECKS, run_check
    from rpu.testbench.formal.tile import FORMAL_TILE, bmc_depth

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=None,
                    help=f"BMC depth of the tile's checks (default {bmc_depth(FORMAL_TILE)}, "
                         f"liveness {bmc_depth(FORMAL_TILE, 'liveness')})")
    ap.add_argument("--only", default=None, help=f"checks to run, of {','.join(ALL_CHECKS)}")
    ap.add_argument("--no-mutants", action="store_true")
    ap.add_argument("--mutants-only", action="store_true")
    ap.add_argument("--workdir", default="build/formal")
    args = ap.parse_args(argv)
    only = ALL_CHECKS if args.only is None else tuple(args.only.split(","))
    bad = [c for c in only if c not in ALL_CHECKS]
    if bad:
        ap.error(f"unknown checks {bad}; choose from {', '.join(ALL_CHECKS)}")
    work = Path(args.workdir)
    ok = True
    t_all = time.monotonic()
    if not args.mutants_only:
        print(f"{'check':12s} {'mode':6s} {'depth':>5s} {'status':8s} {'seconds':>8s}  detail")
        for check in only:
            depth = args.depth if args.depth and not check.startswith("axi") else None
            run = run_check(check, work / check, depth=depth)
            r = run.result
            detail = ""
            if run.mode == "cover":
                reached = {run.names[s]: st for s, st in r.reached.items()}
                detail = ", ".join(f"{k} @{v}" for k, v in sorted(reached.items(), key=lambda kv: kv[1]))
            elif run.mode == "prove":
                detail = "k-induction" if "successful proof by k-induction" in r.log else ""
            if r.failed:
                detail += f" FAILED: {', '.join(run.failed_names)}"
            ok &= r.passed
            print(f"{check:12s} {run.mode:6s} {run.depth:5d} {r.status:8s} {r.seconds:8.1f}  {detail}",
                  flush=True)
    if not args.no_mutants:
        print(f"\n{'mutant':24s} {'check':9s} {'target property':34s} {'caught':7s} {'step':>4s} {'seconds':>8s}")
        for mut in MUTANTS:
            if mut.check not in only and not (mut.check == "axi" and "axi" in only):
                continue
            run = run_check(mut.check, work / f"mutant_{mut.name}", mut=mut)
            r = run.result
            caught = r.status == "FAIL" and mut.target in run.failed_names
            ok &= caught
            print(f"{mut.name:24s} {mut.check:9s} {mut.target:34s} {'yes' if caught else 'NO':7s} "
                  f"{'' if r.step is None else r.step:>4} {r.seconds:8.1f}", flush=True)
    print(f"\ntotal {time.monotonic() - t_all:.0f} s: {'all checks pass, every mutant caught' if ok else 'FAILURES above'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
