"""``rpu timing``: a co-simulated forward's trace drawn as a WaveDrom diagram, its stage
boundaries (as the trace marks them) equal to the cycle formulas of rpu.spec.timing.

Under both simulators (the ``sim`` fixture); Verilator builds a traced model of its own
(once per design, cached)."""

import json

import pytest

from rpu.cli import main
from rpu.config import TileConfig
from rpu.diagram import observed_stages, run_timing
from rpu.spec.timing import command_stages

#: the forward's stages the trace marks (rpu.diagram.observed_stages)
TRACED = {"CTRL write", "load", "hand-over", "NM", "commit", "integrator reset", "read window",
          "conversion", "decide", "results", "done"}


@pytest.mark.cosim
def test_forward_diagram_boundaries_equal_the_formulas(sim, tmp_path):
    cfg = TileConfig()
    run = run_timing(cfg, tmp_path, op="forward", simulator=sim)
    want = {s.name: s.first for s in command_stages(cfg, "forward")}
    assert set(run.observed) == TRACED
    for name, cycle in run.observed.items():
        assert cycle == want[name], f"{name}: trace {cycle}, formula {want[name]}"
    assert run.mismatches == []
    assert want["done"] == 149          # the default tile's forward, CTRL write to ev_done
    svg = run.svg.read_text()
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    for text in ("nm_cycles", "dac_max·slot_cycles", "lines_per_adc·(L_a + 1)", ">149<", ">61<"):
        assert text in svg, f"{text!r} not in the diagram"
    doc = json.loads(run.json.read_text())
    lanes = [e["name"] for e in doc["signal"] if isinstance(e, dict)]
    assert lanes[:3] == ["clk", "stage (formula)", "first cycle"]


def test_a_shifted_trace_is_a_mismatch(tmp_path):
    """The comparison can fail: the same trace with ev_done one cycle late."""
    from collections import defaultdict
    from rpu.diagram import C, Trace
    cfg = TileConfig()
    n = 160
    # a trace with only ev_done: done observed at 150, the formula says 149
    values = defaultdict(lambda: [0] * n)
    values[C + "ev_done"] = [1 if i == 152 else 0 for i in range(n)]
    trace = Trace(values, n, 2)
    seen = observed_stages(cfg, "forward", trace)
    assert seen["done"] == 150 != command_stages(cfg, "forward")[-1].first


def test_transfer_needs_a_multi_conductance_tile(tmp_path, capsys):
    assert main(["timing", "--op", "transfer", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "multi-conductance" in err[0]
