"""``rpu generate``: Verilog of every block of the tile, ``params.json``, register map."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

from .config import ConfigValueError, TileConfig
from .console import status
from .errors import RpuError, output_dir

__all__ = ["generate", "lint_verilog", "check_line_lengths", "LintError", "MAX_LINE_CHARS"]

# Longest line accepted in generated Verilog.  Verilator refuses a line of more than 40,000
# preprocessor tokens; 4,000 characters stay far below that, and well above the longest line
# the generator writes on purpose (a constant as wide as the widest line vector: 4096 lines
# = 1,024 hex digits).  An expression that lists one term per line (15-30 characters each)
# is over it from a few hundred lines on (7,006 characters at 256 lines before the banks
# were built group by group); such lines grow with the tile (161,861 at 4096 lines).
MAX_LINE_CHARS = 4000


class LintError(RpuError):
    """``verilator --lint-only`` found problems (the message names the first and the log)."""


def check_line_lengths(path: Path, limit: int = MAX_LINE_CHARS) -> None:
    """Raise :class:`LintError` naming the longest line of ``path`` if it exceeds ``limit``."""
    with open(path) as f:
        length, number = max(((len(line.rstrip("\n")), i) for i, line in enumerate(f, 1)),
                             default=(0, 0))
    if length > limit:
        raise LintError(f"{path}:{number}: line of {length} characters (limit {limit}); "
                        f"per-line terms listed one by one? (see rpu.rtl.wide)")


def lint_verilog(path: Path, top: str) -> None:
    """Line lengths (:func:`check_line_lengths`), then ``verilator --lint-only`` with only the
    documented Amaranth width waivers; the report goes to ``<file>.lint.log`` beside the file."""
    from rpu.testbench.simulators import VERILATOR_WAIVERS, setup_verilator
    check_line_lengths(path)
    setup_verilator()
    res = subprocess.run(["verilator", "--lint-only", *VERILATOR_WAIVERS, "--top-module", top,
                          str(path)], capture_output=True, text=True)
    log = Path(path).with_suffix(".lint.log")
    log.write_text(res.stdout + res.stderr)
    if res.returncode != 0:
        problems = [ln for ln in res.stderr.splitlines() if re.match(r"%(Error|Warning)", ln)]
        first = problems[0] if problems else (res.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise LintError(f"verilator --lint-only found {max(1, len(problems))} problem(s) in "
                        f"{path}; first: {first} (report: {log})")


#: a module-name prefix: a Verilog identifier start (letters, digits, underscores)
_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def generate(cfg: TileConfig, out_dir: Path, *, lint: bool = True, prefix: str = "") -> dict[str, Path]:
    """Write the tile's Verilog (one file per top block), params.json and register map.

    ``prefix`` goes in front of every module name (the top ``<prefix>rpu_tile`` and its
    submodules ``<prefix>rpu_tile.controller…``), and of the file name, so the tile can sit
    beside other IP."""
    from rpu.rtl.blocks import tile_blocks
    from rpu.rtl.generate import write_verilog

    if not isinstance(prefix, str) or (prefix and not _PREFIX.match(prefix)):
        raise ConfigValueError(f"prefix must be empty or a Verilog identifier start (letters, "
                          f"digits, _; not a digit first), not {prefix!r}")
    out_dir = output_dir(out_dir)
    written: dict[str, Path] = {}
    for base, component in tile_blocks(cfg).items():
        name = prefix + base
        t0 = time.monotonic()
        status(f"elaborating {name} ({cfg.out_size}×{cfg.in_size}) and writing its Verilog")
        path = write_verilog(component, name, out_dir)
        status(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - t0:.1f} s")
        if lint:
            status(f"linting {path} with verilator --lint-only")
            lint_verilog(path, name)
        written[base] = path
    params = out_dir / "params.json"
    params.write_text(cfg.to_json() + "\n")
    written["params"] = params
    from rpu.spec.registers import write_register_map
    written.update(write_register_map(cfg, out_dir))
    return written
