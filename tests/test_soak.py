"""The soak (scripts/soak.py) in short: updates interleaved with reads on the default tile
under Verilator, weights and counters bit-exact with the reference at each checkpoint.  The
long run (100,000 updates) is the script's; its figures are in docs/verification.md."""

import pytest

from rpu.config import TileConfig
from rpu.testbench.simulators import CosimFailure
from rpu.testbench.soak import format_soak, run_soak


@pytest.mark.cosim
def test_short_soak_is_bit_exact(tmp_path):
    cfg = TileConfig()
    r = run_soak(cfg, tmp_path, updates=300, read_every=10, checkpoints=3)
    assert [c["updates"] for c in r["checkpoints"]] == [100, 200, 300]
    assert r["reads"] == 60 and r["slots"] > 0
    assert r["checkpoints"][-1]["pulses"] > r["checkpoints"][0]["pulses"] > 0
    assert "300 updates" in format_soak(cfg, r)


@pytest.mark.cosim
def test_soak_catches_a_weight_off_the_reference(tmp_path):
    """The checkpoint comparison can fail: one reference weight moved before the first."""
    with pytest.raises(CosimFailure, match="weights differ from the reference"):
        _run_perturbed(tmp_path)


def _run_perturbed(tmp_path):
    from rpu.rtl.blocks import TOP_NAME
    from rpu.generate import generate
    from rpu.testbench.harness import HARNESS_NAME, harness_sources
    from rpu.testbench.simulators import run_cocotb
    cfg = TileConfig()
    files = generate(cfg, tmp_path, lint=False)
    sources = harness_sources(cfg, tmp_path / "harness", tile_verilog=files[TOP_NAME])
    run_cocotb(sim="verilator", verilog=sources, toplevel=HARNESS_NAME,
               test_module="rpu.testbench.tb_soak", name="tile", testcase="soak",
               params=dict(config=cfg.to_dict(), updates=20, checkpoints=1, perturb=True),
               quiet=True)
