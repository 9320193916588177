"""``rpu generate``: Verilog of every block of the tile, ``params.json``, register map."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .config import TileConfig

__all__ = ["generate", "lint_verilog", "LintError"]


class LintError(RuntimeError):
    pass


def lint_verilog(path: Path, top: str) -> None:
    """``verilator --lint-only`` with only the documented Amaranth width waivers."""
    from rpu.testbench.simulators import VERILATOR_WAIVERS, setup_verilator
    setup_verilator()
    res = subprocess.run(["verilator", "--lint-only", *VERILATOR_WAIVERS, "--top-module", top,
                          str(path)], capture_output=True, text=True)
    if res.returncode != 0:
        raise LintError(f"verilator --lint-only failed on {path}:\n{res.stderr.strip()}")


def generate(cfg: TileConfig, out_dir: Path, *, lint: bool = True) -> dict[str, Path]:
    """Write the tile's Verilog (one file per top block), params.json and register map."""
    from rpu.rtl.blocks import tile_blocks
    from rpu.rtl.generate import write_verilog

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, component in tile_blocks(cfg).items():
        path = write_verilog(component, name, out_dir)
        if lint:
            lint_verilog(path, name)
        written[name] = path
    params = out_dir / "params.json"
    params.write_text(cfg.to_json() + "\n")
    written["params"] = params
    from rpu.spec.registers import write_register_map
    written.update(write_register_map(cfg, out_dir))
    return written
