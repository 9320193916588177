"""`rpu generate` writes the tile top (lint-checked) and the register map from one source."""

import json

import pytest

from rpu.config import TileConfig
from rpu.generate import MAX_LINE_CHARS, LintError, check_line_lengths, generate
from rpu.rtl.blocks import TOP_NAME, tile_blocks
from rpu.rtl.regmap import register_map


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
