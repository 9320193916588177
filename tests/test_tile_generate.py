"""`rpu generate` writes the tile top (lint-checked) and the register map from one source."""

import json

from rpu.config import TileConfig
from rpu.generate import generate
from rpu.rtl.blocks import TOP_NAME, tile_blocks
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
