"""``rpu timing``: one operation co-simulated on the configured tile, its trace drawn as a
WaveDrom timing diagram (SVG), the stage boundaries marked with their cycle numbers and the
formula terms of :mod:`rpu.spec.timing`.

The run: the generated ``rpu_tile.v`` in the co-simulation harness (the bench
:mod:`rpu.testbench.tb_timing`, Icarus or Verilator, waves on); the waveform (VCD or FST) is
read back with ``pywellen`` and sampled once per clock cycle, just before the rising edge
that ends it (a register's value in that cycle, what the next edge sees).  Cycle 0 is the
cycle of the CTRL write's AXI handshake.

Each stage of :func:`rpu.spec.timing.command_stages` (or :func:`~rpu.spec.timing.
burst_stages`) that the trace shows directly has an *observed* first cycle: the cycle an
event of the trace marks (:func:`observed_stages`).  The diagram draws the formula's stages
as a lane (each brick: the stage and its formula term), the first cycle of each under it
(``f≠t`` where formula ``f`` and trace ``t`` differ), and ``timing_<op>.txt`` lists both;
``rpu timing`` fails when they differ.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .config import TileConfig
from .console import status
from .errors import MissingExtraError, RpuError, output_dir

__all__ = ["OPS", "TIMING_INSTALL", "Trace", "TimingRun", "run_timing", "observed_stages",
           "formula_stages", "wavedrom_doc", "render_svg"]

OPS = ("forward", "backward", "update", "burst", "transfer")
TIMING_INSTALL = "pip install 'rpu-periphery[formal]'"
H = "rpu_tile_harness."
C = H + "tile.controller."

#: the lanes of the diagram: (label, signal, kind); kind "bit", "bus" (values) or "any"
#: (a vector drawn high when any bit is set)
LANES = [
    ("AXIL awvalid", H + "s_axil__awvalid", "bit"), ("AXIL awready", H + "s_axil__awready", "bit"),
    ("AXIL wvalid", H + "s_axil__wvalid", "bit"), ("AXIL bvalid", H + "s_axil__bvalid", "bit"),
    ("s_axis tvalid", H + "tile_axis__tvalid", "bit"), ("s_axis tready", H + "tile_axis__tready", "bit"),
    ("s_axis tlast", H + "tile_axis__tlast", "bit"),
    ("queue take", C + "queue.take", "bit"), ("loader busy", C + "load.busy", "bit"),
    ("UM start", C + "manage.start", "bit"), ("convert busy", C + "convert.busy", "bit"), ("run state", C + "run.run_state", "bus"),
    ("update phase", C + "upd.phase", "bus"), ("update busy", C + "upd.busy", "bit"),
    ("update slot", H + "upd_slot", "bit"),
    ("x_pos (any)", H + "x_pos", "any"), ("x_neg (any)", H + "x_neg", "any"),
    ("d_pos (any)", H + "d_pos", "any"), ("d_neg (any)", H + "d_neg", "any"),
    ("x_pos[0]", H + "x_pos", "bit0"), ("x_neg[0]", H + "x_neg", "bit0"),
    ("d_pos[0]", H + "d_pos", "bit0"), ("d_neg[0]", H + "d_neg", "bit0"),
    ("integ_reset (d)", H + "adc_d__integ_reset", "bit"), ("integ_en (d)", H + "adc_d__integ_en", "bit"),
    ("integ_reset (x)", H + "adc_x__integ_reset", "bit"), ("integ_en (x)", H + "adc_x__integ_en", "bit"),
    ("ADC start (d)", H + "adc_d__start", "bit"), ("ADC done (d)", H + "adc_d__done", "bit"),
    ("ADC start (x)", H + "adc_x__start", "bit"), ("ADC done (x)", H + "adc_x__done", "bit"),
    ("m_axis tvalid", H + "m_axis__tvalid", "bit"), ("m_axis tready", H + "m_axis__tready", "bit"),
    ("m_axis tlast", H + "m_axis__tlast", "bit"),
    ("ev_done", C + "ev_done", "bit"),
]

#: lanes drawn even when they stay low
KEEP = {"AXIL awvalid", "s_axis tvalid", "s_axis tready", "m_axis tvalid", "ev_done"}


@dataclass
class Trace:
    """Per-cycle values of the traced signals, cycle 0 = the CTRL write's handshake."""

    values: dict[str, list[int]]
    cycles: int
    first: int                  # cycles drawn before the CTRL write (negative cycle numbers)

    def at(self, name: str) -> list[int]:
        return self.values[name]

    def rising(self, name: str, bit=None) -> list[int]:
        """Cycles (relative to the CTRL write) where ``name`` (or bit ``bit``) goes high."""
        v = self.values[name]
        if bit is not None:
            v = [(x >> bit) & 1 for x in v]
        return [i - self.first for i in range(len(v)) if v[i] and (i == 0 or not v[i - 1])]

    def high(self, name: str) -> list[int]:
        return [i - self.first for i, x in enumerate(self.values[name]) if x]


def _ps(timescale) -> float:
    unit = str(timescale.unit).split(".")[-1].lower()
    scale = {"femtoseconds": 1e-3, "fs": 1e-3, "picoseconds": 1, "ps": 1, "nanoseconds": 1e3,
             "ns": 1e3, "microseconds": 1e6, "us": 1e6, "milliseconds": 1e9, "ms": 1e9,
             "seconds": 1e12, "s": 1e12}
    for k, v in scale.items():
        if unit == k or unit.startswith(k):
            return timescale.factor * v
    raise RpuError(f"unknown waveform time unit {timescale.unit!r}")


def read_trace(path, t0_ns: float, t1_ns: float, clock_ns: float, *, lead: int = 2) -> Trace:
    """Sample the waveform ``path`` once per cycle from ``t0_ns`` to ``t1_ns`` (each value
    just before the rising edge that ends the cycle; cocotb's clock rises at multiples of
    ``clock_ns``), keep ``lead`` cycles before the CTRL write."""
    try:
        import pywellen
    except ImportError:
        raise MissingExtraError(f"rpu timing reads the trace with pywellen: {TIMING_INSTALL}") from None
    w = pywellen.Waveform(str(path))
    per_ps = _ps(w.timescale)
    by_name = {v.full_name: v for v in w.all_vars()}
    names = sorted({s for _l, s, _k in LANES} | {
        H + "s_axil__awvalid", H + "s_axil__awready", H + "s_axil__wvalid", H + "s_axil__wready",
        H + "s_axil__awaddr", H + "s_axil__wdata", C + "manage.start"})
    missing = [n for n in names if n not in by_name]
    values = {}
    n = int(round((t1_ns - t0_ns) / clock_ns))
    times = [((t0_ns + k * clock_ns) + 0.9 * clock_ns) * 1e3 / per_ps for k in range(n)]
    for name in names:
        if name in missing:
            continue
        sig = by_name[name].signal
        values[name] = [int(sig.value_at(int(t)) or 0) for t in times]
    if missing:
        raise RpuError(f"the trace {path} lacks {', '.join(m.removeprefix(H) for m in missing)}")
    hs = [a & b & c & d for a, b, c, d in zip(*(values[H + f"s_axil__{s}"]
                                               for s in ("awvalid", "awready", "wvalid", "wready")))]
    writes = [i for i, h in enumerate(hs) if h]
    if not writes:
        raise RpuError(f"the trace {path} has no CTRL write in its window")
    cut = max(0, writes[-1] - lead)       # the window's last write starts the operation
    return Trace({k: v[cut:] for k, v in values.items()}, n - cut, writes[-1] - cut)


# -- the stage boundaries: formula and trace ------------------------------------------------

def formula_stages(cfg: TileConfig, op: str, *, count: int = 2, phases=None, passes: int = 1):
    """The formula's schedule: ``[(label, first cycle, term)]`` of every stage (for a burst,
    each update's stages labelled ``k:name``)."""
    from rpu.spec.timing import Stage, burst_stages, command_stages
    if op in ("forward", "backward"):
        stages = [("", s) for s in command_stages(cfg, op, passes=passes)]
    elif op == "update":
        stages = [("", s) for s in command_stages(cfg, "update", phases=phases[0])]
    elif op == "burst":
        runs = burst_stages(cfg, count, phases=phases[0])
        if len(set(phases)) > 1:     # (each update's own phases)
            runs = [burst_stages(cfg, count, phases=p)[k] for k, p in enumerate(phases)]
        stages = [("", Stage("CTRL write", 0, 1, "CTRL write"))] + [
            (f"{k + 1}:", s) for k, run in enumerate(runs) for s in run]
    else:
        raise ValueError(f"no stage formula for {op!r}")
    return [(pre + s.name, s.first, s.cycles, s.term) for pre, s in stages]


def observed_stages(cfg: TileConfig, op: str, trace: Trace, *, count: int = 1) -> dict[str, int]:
    """The first cycle of each stage the trace marks (cycle 0 = the CTRL write):

    * ``load``: the command queue hands the command to the loader (``queue.take``);
    * ``hand-over``: the cycle after the last input beat's handshake;
    * ``NM``: the conversion stage starts (``convert.busy`` rises: NM is its first part);
    * ``UM``: the cycle after the manage stage starts a manager (``manage.start``); an update's ``convert``: the
      conversion stage starts;
    * ``commit``: the run sequencer takes the converted set (the cycle before its run state
      leaves IDLE);
    * ``integrator reset`` / ``read window`` / ``conversion``: the read direction's
      ``integ_reset``, ``integ_en`` and ADC ``start``; ``decide``: the cycle after the last
      ADC ``done``;
    * ``results``: the first result beat's ``tvalid``;
    * ``phase k/n``: the update slots of phase k (``upd.phase`` with ``upd_slot``);
    * ``done``: ``ev_done``.
    """
    out = {"CTRL write": 0}
    def first(xs):
        return xs[0] if xs else None
    take = trace.rising(C + "queue.take")
    if op in ("forward", "backward"):
        side = "d" if op == "forward" else "x"
        out["load"] = first(take)
        beats = trace.high(H + "tile_axis__tvalid")
        ready = set(trace.high(H + "tile_axis__tready"))
        taken = [c for c in beats if c in ready and c > 0]
        out["hand-over"] = taken[-1] + 1 if taken else None
        out["NM"] = first(trace.rising(C + "convert.busy"))
        run = trace.rising(C + "run.run_state")
        out["commit"] = None if not run else run[0] - 1
        out["integrator reset"] = first(trace.rising(H + f"adc_{side}__integ_reset"))
        out["read window"] = first(trace.rising(H + f"adc_{side}__integ_en"))
        out["conversion"] = first(trace.rising(H + f"adc_{side}__start"))
        dones = trace.high(H + f"adc_{side}__done")
        out["decide"] = dones[-1] + 1 if dones else None
        out["results"] = first(trace.rising(H + "m_axis__tvalid"))
        out["done"] = first(trace.high(C + "ev_done"))
        return out
    # updates: per update k, its load, UM, commit, phases and done
    done = trace.high(C + "ev_done")
    run = trace.rising(C + "run.run_state")
    conv = trace.rising(C + "convert.busy")
    um = [c + 1 for c in trace.rising(C + "manage.start")]   # a manager runs from the next cycle
    beats = trace.high(H + "tile_axis__tvalid")
    ready = set(trace.high(H + "tile_axis__tready"))
    taken = [c for c in beats if c in ready and c > 0]
    slot, phase = trace.at(H + "upd_slot"), trace.at(C + "upd.phase")
    starts = []                       # (cycle, phase) of each phase's first slot
    for i in range(len(slot)):
        if slot[i] and (i == 0 or not slot[i - 1] or phase[i] != phase[i - 1]):
            starts.append(i - trace.first)
    n = 1 if op == "update" else count
    for k in range(n):
        pre = "" if op == "update" else f"{k + 1}:"
        lo = (done[k - 1] + 1) if k else 0
        hi = done[k] if k < len(done) else trace.cycles
        out[pre + "UM"] = um[k] if k < len(um) else None
        out[pre + "convert"] = conv[k] if k < len(conv) else None
        if k == 0:
            out[pre + "load"] = first(take)
            if op == "update":
                out["hand-over"] = taken[-1] + 1 if taken else None
        commits = [r - 1 for r in run if lo <= r <= hi + 1]
        out[pre + "commit"] = commits[0] if commits else None
        mine = [s for s in starts if lo <= s <= hi]
        for j, s in enumerate(mine):
            out[f"{pre}phase {j + 1}/{len(mine)}"] = s
        out[pre + "done"] = done[k] if k < len(done) else None
    return out


# -- WaveDrom ---------------------------------------------------------------------------------

def _lane(values, kind):
    wave, data = [], []
    prev = None
    for v in values:
        if kind == "any":
            v = int(v != 0)
        elif kind == "bit0":
            v = v & 1
        if kind == "bus":
            wave.append("." if v == prev else "=")
            if v != prev:
                data.append(str(v))
        else:
            wave.append("." if v == prev else str(v))
        prev = v
    return "".join(wave), data



_SHORT = {"CTRL write": "CTRL", "hand-over": "hand", "integrator reset": "rst",
          "read window": "window", "conversion": "ADC", "decide": "BM", "convert": "conv"}


def _stage_lanes(stages, observed, n, first, boundaries):
    """A stage lane (bricks: stage and formula term) and a first-cycle lane for ``stages``;
    appends each boundary's text to ``boundaries``."""
    wave, data = ["x"] * n, []
    marks, mark_data = ["x"] * n, []
    for label, first_c, cycles, term in stages:
        i = first_c + first
        if not 0 <= i < n:
            continue
        wave[i] = str(3 + len(data) % 4)
        name = label.split(":")[-1]
        data.append(f"{_SHORT.get(name, name)}" + ("" if term == name else f" ({term})"))
        for j in range(i + 1, min(n, i + cycles)):
            if wave[j] == "x":
                wave[j] = "."
        seen = observed.get(label)
        txt = str(first_c) if seen is None or seen == first_c else f"{first_c}≠{seen}"
        if marks[i] == "x":
            marks[i] = "2" if seen is None or seen == first_c else "9"
            mark_data.append(txt)
            for j in range(i + 1, min(n, i + max(cycles, 1))):
                if marks[j] != "x":
                    break
                marks[j] = "."
        boundaries.append(f"{label} {txt}{'' if seen is None else ' (traced)'}")
    return ({"wave": "".join(wave), "data": data},
            {"wave": "".join(marks), "data": mark_data}, marks)


def wavedrom_doc(cfg: TileConfig, op: str, trace: Trace, stages, observed: dict, *,
                 title: str) -> dict:
    """The WaveDrom document: a stage lane (the formula's stages, each brick its name and
    term), the traced lanes, and at every stage boundary a node on a marker lane with its
    cycle (the observed one where the trace marks it)."""
    n, first = trace.cycles, trace.first
    # stage lane
    by_lane: dict[str, list] = {}
    for st in stages:                  # a burst: one stage lane per update
        by_lane.setdefault(st[0].split(":")[0] if ":" in st[0] else "", []).append(st)
    if "" in by_lane and len(by_lane) > 1:
        head = by_lane.pop("")
        by_lane[next(iter(by_lane))][:0] = head
    lanes, boundaries = [], []
    for key, group in by_lane.items():
        stage_lane, first_lane, marks = _stage_lanes(group, observed, n, first, boundaries)
        suffix = f" {key}" if key else ""
        lanes += [{"name": f"stage{suffix} (formula)", **stage_lane},
                  {"name": f"first cycle{suffix}", **first_lane}]
    groups = {"host bus": [], "controller": [], "lines": [], "integrator / ADC": [],
              "results": []}
    for label, sig, kind in LANES:
        v = trace.at(sig)
        if not any(v) and label not in KEEP:      # a lane this operation never uses
            continue
        w, d = _lane(v, kind)
        entry = {"name": label, "wave": w, **({"data": d} if d else {})}
        if label.startswith(("AXIL", "s_axis")):
            groups["host bus"].append(entry)
        elif label.startswith(("x_", "d_")):
            groups["lines"].append(entry)
        elif label.startswith(("integ", "ADC")):
            groups["integrator / ADC"].append(entry)
        elif label.startswith("m_axis") or label == "ev_done":
            groups["results"].append(entry)
        else:
            groups["controller"].append(entry)
    signal = [{"name": "clk", "wave": "p" + "." * (n - 1)}] + lanes
    for g, entries in groups.items():
        signal.append([g] + entries)
    return {"signal": signal, "head": {"text": title, "tick": -first, "every": 5},
            "foot": {"text": "first cycles: " + "; ".join(boundaries)},
            "config": {"hscale": 1}}, boundaries


def render_svg(doc: dict, path) -> Path:
    """Render the WaveDrom ``doc`` to ``path`` with yowasp-wavedrom."""
    try:
        import yowasp_wavedrom
    except ImportError:
        raise MissingExtraError(f"rpu timing renders with yowasp-wavedrom: {TIMING_INSTALL}") from None
    path = Path(path)
    path.write_text(yowasp_wavedrom.render(doc))
    return path


# -- the command ------------------------------------------------------------------------------

@dataclass
class TimingRun:
    op: str
    simulator: str
    svg: Path
    json: Path
    wave: Path
    stages: list                       # the formula's (label, first, cycles, term)
    observed: dict[str, int]
    mismatches: list[str] = field(default_factory=list)


def run_timing(cfg: TileConfig, out_dir, *, op: str = "forward", simulator: str = "icarus",
               count: int = 2) -> TimingRun:
    """Co-simulate ``op`` on ``cfg``'s tile, write ``timing_<op>.svg`` (and the WaveDrom
    JSON, the trace and ``timing_<op>.txt``, the boundaries) into ``out_dir``."""
    from rpu.generate import generate
    from rpu.rtl.blocks import TOP_NAME
    from rpu.spec.timing import stream_beats
    from rpu.testbench.harness import HARNESS_NAME, harness_sources
    from rpu.testbench.layouts import CLOCK_NS
    from rpu.testbench.simulators import run_cocotb

    if op not in OPS:
        raise RpuError(f"--op must be one of {', '.join(OPS)}, not {op!r}")
    if op == "transfer" and not cfg.mc.enabled:
        raise RpuError("--op transfer needs a multi-conductance tile (--mc-enabled 1)")
    for mod in ("pywellen", "yowasp_wavedrom"):
        try:
            __import__(mod)
        except ImportError:
            raise MissingExtraError(f"rpu timing needs {mod.replace('_', '-')}: {TIMING_INSTALL}") from None
    out_dir = output_dir(out_dir)
    t0 = time.time()
    files = generate(cfg, out_dir / "build", lint=False)
    lanes = cfg.host.stream_width
    beats = stream_beats(cfg.in_size, lanes) + stream_beats(cfg.out_size, lanes)
    n = count if op == "burst" else 1
    sources = harness_sources(cfg, out_dir / "build" / "harness", tile_verilog=files[TOP_NAME],
                              play_beats=max(n * beats, beats + 2))
    status(f"co-simulating {'%d updates' % n if op == 'burst' else 'one ' + op} under {simulator}")
    run = run_cocotb(sim=simulator, verilog=sources, toplevel=HARNESS_NAME,
                     test_module="rpu.testbench.tb_timing", name="timing", testcase="timing",
                     waves=True, params=dict(config=cfg.to_dict(), op=op, count=n), quiet=True)
    if run.waves is None:
        raise RpuError(f"{simulator} wrote no waveform (log: {run.test_dir / 'sim.log'})")
    wave = Path(shutil.copy(run.waves, out_dir / f"timing_{op}{run.waves.suffix}"))
    trace = read_trace(wave, run.results["t0_ns"], run.results["t1_ns"], CLOCK_NS)
    phases = run.results.get("phases")
    stages = [] if op == "transfer" else formula_stages(cfg, op, count=n, phases=phases)
    if op != "transfer":
        observed = observed_stages(cfg, op, trace, count=n)
    else:                      # data dependent: the reference's rounds and pulse slots
        from rpu.spec.timing import transfer_cycles
        run_starts = trace.rising(C + "run.run_state")
        commit = run_starts[0] - 1 if run_starts else None
        observed = {"CTRL write": 0, "commit": commit,
                    "done": (trace.high(C + "ev_done") or [None])[0]}
        cols = [tuple(c) for c in run.results["transfer_columns"]]
        cyc = transfer_cycles(cfg, cols)
        stages = [("CTRL write", 0, 1, "CTRL write"),
                  ("commit", commit or 0, 1, "commit (as traced)"),
                  ("transfer", (commit or 0) + 1, cyc - 1,
                   f"Σ (5 + k)·R + 3 + slots·slot_cycles over {len(cols)} columns"),
                  ("done", (commit or 0) + cyc - 1, 1, "done (CYC_TRANSFER = 1 + Σ …)")]
    formula = {label: first for label, first, _c, _t in stages}
    mismatches = [f"{k}: trace {v}, formula {formula.get(k)}" for k, v in observed.items()
                  if formula.get(k) != v]
    title = (f"rpu timing: {op}{' x%d' % n if op == 'burst' else ''} on the "
             f"{cfg.out_size} × {cfg.in_size} tile ({simulator}); cycle 0 = CTRL write")
    doc, _marks = wavedrom_doc(cfg, op, trace, stages, observed, title=title)
    js = out_dir / f"timing_{op}.json"
    js.write_text(json.dumps(doc))
    svg = render_svg(doc, out_dir / f"timing_{op}.svg")
    lines = [title, "stage                  formula  trace   term"]
    for label, first, cycles, term in stages:
        seen = observed.get(label)
        lines.append(f"  {label:22s} {first:6d}  {'' if seen is None else seen:>6}   {term}"
                     f" ({cycles} cycle{'s' if cycles != 1 else ''})")
    (out_dir / f"timing_{op}.txt").write_text("\n".join(lines) + "\n")
    status(f"timing diagram in {time.time() - t0:.1f} s")
    return TimingRun(op, simulator, svg, js, wave, stages, observed, mismatches)
