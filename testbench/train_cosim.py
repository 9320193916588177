"""Co-simulate logged tile operations of a training run (``rpu train --cosim N``).

For every :class:`~rpu.models.tile_log.TileLog`: generate that tile's Verilog from its own
configuration (shape, seeds, update settings) inside the co-simulation harness, save the log,
and run ``rpu.testbench.tb_train.replay`` on it under each simulator.  Returns a report: per
tile and simulator whether the RTL matched the reference and the training log bit for bit,
the figures compared and the seconds.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from rpu.testbench.harness import HARNESS_NAME, harness_sources
from rpu.testbench.simulators import SIMULATORS, CosimFailure, run_cocotb

__all__ = ["cosim_logs", "format_cosim"]


def _simulators(simulator: str) -> tuple[str, ...]:
    if simulator == "both":
        return SIMULATORS
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, both, not {simulator!r}")
    return (simulator,)


def cosim_logs(logs, *, simulator: str = "verilator", out_dir=None, samples: int | None = None) -> dict:
    """Replay ``logs`` under ``simulator`` (``icarus``, ``verilator`` or ``both``); builds
    go to ``$RPU_BUILD_DIR`` (default ``<out_dir>/build``)."""
    sims = _simulators(simulator)
    out_dir = Path(out_dir or "build/train-cosim").resolve()
    os.environ.setdefault("RPU_BUILD_DIR", str(out_dir / "build"))
    tiles = []
    for k, log in enumerate(logs):
        cfg_json = log.cfg.to_json()
        key = hashlib.sha256(cfg_json.encode()).hexdigest()[:10]
        log_path = log.save(out_dir / "logs" / f"tile{k}.npz")
        t0 = time.perf_counter()
        sources = harness_sources(log.cfg, out_dir / "harness" / key)
        generate_s = time.perf_counter() - t0
        for sim in sims:
            t1 = time.perf_counter()
            entry = dict(tile=log.name, simulator=sim, shape=[log.cfg.out_size, log.cfg.in_size],
                         vectors=log.samples, generate_s=generate_s)
            try:
                run = run_cocotb(sim=sim, verilog=sources, toplevel=HARNESS_NAME,
                                 test_module="rpu.testbench.tb_train", name=f"train-{key}",
                                 testcase="replay", quiet=True,
                                 params=dict(config=log.cfg.to_dict(), log=str(log_path)))
                entry.update(run.results, sim_dir=str(run.test_dir))
            except CosimFailure as e:
                entry.update(ok=False, mismatch=f"simulation failed: {e}")
            entry["seconds"] = time.perf_counter() - t1
            tiles.append(entry)
    return dict(samples=samples, simulators=list(sims), tiles=tiles,
                ok=bool(tiles) and all(t.get("ok") for t in tiles))


def format_cosim(report: dict) -> str:
    """Lines for the terminal: one per tile and simulator, then the verdict."""
    lines = [f"co-simulation of the first {report['samples']} training samples "
             f"({', '.join(report['simulators'])}):"]
    for t in report["tiles"]:
        if t.get("ok"):
            what = (f"bit-exact: {t['forwards']} forwards, {t['backwards']} backwards "
                    f"({t['passes']} passes, {t['adc_codes']} ADC codes), {t['updates']} updates "
                    f"({t['slots']} slots of line drives, {t['lr_writes']} lr register writes), "
                    f"weights equal at {t['weight_checks']} checks")
        else:
            what = f"NOT bit-exact: {t.get('mismatch')}"
        lines.append(f"  {t['tile']:<22} {t['simulator']:<9} {what} ({t['seconds']:.0f} s)")
    lines.append("  result: " + ("the RTL equals the model bit for bit" if report["ok"]
                                 else "MISMATCH (see above)"))
    return "\n".join(lines)
