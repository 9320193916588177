"""`rpu generate` writes the tile top (lint-checked) and the register map from one source."""

import json
import re

import pytest


from rpu.config import TileConfig
from rpu.generate import MAX_LINE_CHARS, LintError, check_line_lengths, generate, lint_verilog
from rpu.rtl.blocks import TOP_NAME, tile_blocks
from rpu.rtl.generate import write_verilog
from rpu.rtl.tile import Tile
from rpu.spec.registers import register_map


def test_generate_writes_top_and_register_map(tmp_path):
    cfg = TileConfig(in_size=16, out_size=8, stream_width=4)
    out = generate(cfg, tmp_path, lint=True)          # raises LintError if not clean
    assert set(tile_blocks(cfg)) == {TOP_NAME}
    text = out[TOP_NAME].read_text()
    assert f"module {TOP_NAME}(" in text
    for port in ("s_axil__awaddr", "s_axis__tdata", "m_axis__tlast", "x_pos", "d_neg",
                 "adc_d__integ_en", "adc_x__codes", "upd_slot"):
        assert port in text, port
    data = json.loads(out["regmap_json"].read_text())
    rm = register_map(cfg)
    assert data["addr_width"] == rm.addr_width
    assert [r["name"] for r in data["registers"]] == [r.name for r in rm]
    assert f"input [{rm.addr_width - 1}:0] s_axil__awaddr" in text


def _edge_shapes():
    """(in_size, out_size, stream_width, lines_per_adc): every side from 1 to
    2·stream_width + 1 against sides 1, w, w+1, 2w+1 (one-beat frames, a partial last
    beat, three beats), for w = 1 and 4, and shared-ADC shapes with a side ≤ w."""
    shapes = []
    for w in (1, 4):
        for i in range(1, 2 * w + 2):
            shapes += [(i, o, w, 1) for o in sorted({1, w, w + 1, 2 * w + 1})]
    shapes += [(2, 2, 1, 2), (4, 4, 4, 4), (8, 4, 4, 2), (4, 8, 4, 4), (6, 3, 2, 3),
               (3, 64, 4, 1)]
    return shapes


@pytest.mark.parametrize("in_size,out_size,stream_width,lines_per_adc", _edge_shapes(),
                         ids=[f"{i}x{o}-w{w}-lpa{l}" for i, o, w, l in _edge_shapes()])
def test_small_shapes_lint_clean(tmp_path, in_size, out_size, stream_width, lines_per_adc):
    """Every shape TileConfig accepts generates lint-clean Verilog (a side with no more
    lines than stream_width used to emit a zero-width beat counter, ``wire [-1:0]``)."""
    cfg = TileConfig(in_size=in_size, out_size=out_size, stream_width=stream_width,
                     lines_per_adc=lines_per_adc)
    path = write_verilog(Tile(cfg), TOP_NAME, tmp_path)
    assert "[-1:0]" not in path.read_text()
    lint_verilog(path, TOP_NAME)                      # raises LintError if not clean


def test_counter_range_never_zero_width():
    from amaranth import Shape
    from rpu.rtl.common import counter_range
    assert [Shape.cast(counter_range(n)).width for n in (1, 2, 3, 4, 5, 4096)] == \
        [1, 1, 2, 2, 3, 12]
    with pytest.raises(ValueError):
        counter_range(0)


def test_comb_blocks_run_at_time_zero():
    """The Verilog's always @* blocks all read a register assigned in an initial block
    (an event at time 0 in IEEE 1800 simulators too); a module without it raises."""
    from rpu.rtl.generate import evaluate_comb_at_time_zero, to_verilog
    text = to_verilog(Tile(TileConfig(in_size=2, out_size=2, stream_width=1)), TOP_NAME)
    triggers = re.findall(r"^\s*initial (\\\$auto\$verilog_backend\S+) = 1'h0;$", text, re.M)
    assert triggers and not re.search(r"dump_module\$\d+ += 0;", text)
    assert text.count("always @*") == sum(text.count(f"if ({t} ) begin end") for t in triggers)
    with pytest.raises(RuntimeError, match="module m has"):
        evaluate_comb_at_time_zero("module m(a);\n  always @* begin end\nendmodule\n")


def test_mid_size_tile_has_no_long_line(tmp_path):
    """256 × 64: the banks, counters and ADC buffers build their line vectors group by
    group (rtl/wide.py), so no line grows with the tile (the per-line Cat/any expressions
    wrote 7,006 characters here, 161,861 at 4096 × 4096, where Verilator refused them)."""
    cfg = TileConfig(in_size=256, out_size=64)
    out = generate(cfg, tmp_path, lint=True)          # lint includes check_line_lengths
    longest = max(map(len, out[TOP_NAME].read_text().splitlines()))
    assert longest <= MAX_LINE_CHARS // 2, longest


def test_line_length_check_names_the_line(tmp_path):
    path = tmp_path / "long.v"
    path.write_text("module m;\n  assign a = {" + "b, " * 2000 + "c};\nendmodule\n")
    with pytest.raises(LintError, match=r"long.v:2: line of 6017 characters \(limit 4000\)"):
        check_line_lengths(path)
    check_line_lengths(path, limit=7000)


def test_module_names_are_stable_and_take_a_prefix(tmp_path):
    """No generated suffixes ($N) in module names; --prefix goes in front of every one."""
    out = generate(TileConfig(in_size=4, out_size=3), tmp_path, lint=True, prefix="acme_")
    text = out[TOP_NAME].read_text()
    names = re.findall(r"^module ([^ (]+)", text, re.M)
    assert out[TOP_NAME].name == "acme_rpu_tile.v" and names[0] == "acme_rpu_tile"
    assert all(n.lstrip("\\").startswith("acme_rpu_tile") for n in names), names
    assert not [n for n in names if "$" in n], names
    assert "\\acme_rpu_tile.controller.run" in names
    with pytest.raises(ValueError, match="prefix must be empty or a Verilog identifier start"):
        generate(TileConfig(in_size=4, out_size=3), tmp_path, prefix="9x")
