"""The soak run: :mod:`rpu.testbench.tb_soak` on a generated tile, figures back
(``scripts/soak.py`` prints them; ``tests/test_soak.py`` runs a short one)."""

from __future__ import annotations

import time
from pathlib import Path

from rpu.config import IntRule, TileConfig

__all__ = ["run_soak", "format_soak"]


def run_soak(cfg: TileConfig, out_dir, *, updates: int, read_every: int = 10,
             checkpoints: int = 10, simulator: str = "verilator", seed: int = 21,
             build_name: str = "tile") -> dict:
    """Generate ``cfg``'s tile into ``out_dir``, co-simulate the soak; returns the bench's
    figures plus ``total_s`` (generation, build and run).  A mismatch raises
    :class:`~rpu.testbench.simulators.CosimFailure` naming it.  ``build_name``: the build
    folder's name ("tile": the co-simulation tests' build of the same design; a long run
    takes its own, "soak", so that other runs' pruning of old run folders cannot remove it
    while it runs)."""
    from rpu.generate import generate
    from rpu.rtl.blocks import TOP_NAME
    from rpu.testbench.harness import HARNESS_NAME, harness_sources
    from rpu.testbench.simulators import run_cocotb
    IntRule(1, 10_000_000).check("updates", updates)
    IntRule(1, 1_000_000).check("read_every", read_every)
    IntRule(1, 1000).check("checkpoints", checkpoints)
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    files = generate(cfg, out_dir, lint=False)
    sources = harness_sources(cfg, out_dir / "harness", tile_verilog=files[TOP_NAME])
    run = run_cocotb(sim=simulator, verilog=sources, toplevel=HARNESS_NAME,
                     test_module="rpu.testbench.tb_soak", name=build_name, testcase="soak",
                     params=dict(config=cfg.to_dict(), updates=updates, read_every=read_every,
                                 checkpoints=checkpoints, seed=seed), quiet=True)
    return dict(run.results, simulator=simulator, total_s=time.perf_counter() - t0,
                sim_log=str(run.test_dir / "sim.log"))


def format_soak(cfg: TileConfig, r: dict) -> str:
    n, wall = r["updates"], r["wall_s"]
    lines = [f"soak: {n:,} updates on the {cfg.out_size} × {cfg.in_size} tile under "
             f"{r['simulator']}, a forward and a backward after every {r['read_every']} "
             f"({r['reads']:,} reads, each bit-exact)",
             f"  {len(r['checkpoints'])} checkpoints: weights, OPS_*, PULSES_X/D, ERROR "
             f"bit-exact with the reference",
             f"  {r['slots']:,} update slots, {r['cycles']:,} simulated cycles "
             f"({r['cycles'] / n:.1f} per update incl. reads)",
             f"  wall {wall:.1f} s in the bench ({n / wall:,.0f} updates/s incl. reads and "
             f"the reference), {r['total_s']:.1f} s in all (generation, build)"]
    for c in r["checkpoints"]:
        lines.append(f"    after {c['updates']:>9,} updates: {c['wall_s']:8.1f} s, "
                     f"{c['cycles']:>12,} cycles, {c['pulses']:>12,} line pulses counted")
    return "\n".join(lines)
