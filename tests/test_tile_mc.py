"""A multi-conductance tile in hardware: generated lint-clean, co-simulated under both
simulators bit-, counter- and cycle-exact against the reference (transfers interleaved with
updates, back-pressure, a reset in the middle of a transfer); the single-pair tile keeps
its ports and refuses op 3."""

import numpy as np
import pytest

from rpu.config import DeviceConfig, MultiConductanceConfig, TileConfig
from rpu.generate import generate
from rpu.rtl.tile import Tile, tile_signature
from rpu.spec.registers import register_map

from test_tile_e2e import run

#: 6 x-lines (columns) × 4 d-lines, a linear MSP so a column converges in a few rounds,
#: an automatic transfer every 3 updates, 2 columns per event (a sweep every 3 events)
MC = TileConfig(in_size=6, out_size=4, out_noise=0.02,
                device=DeviceConfig(dw_min=0.002, dw_min_std=0.1, w_max_dtod=0.05),
                mc=MultiConductanceConfig(enabled=True, msp_model="constant_step",
                                          transfer_every=3, columns_per_transfer=2))
#: PCM-like MSP (exp_step) with refresh: some pairs start near g_max
MC_PCM = MC.replace(mc=MC.mc.replace(msp_model="exp_step", max_pulses=16, refresh_threshold=0.5),
                    in_size=4)


def test_mc_tile_generates_lint_clean(tmp_path):
    out = generate(MC, tmp_path, lint=True)       # raises LintError if not clean
    assert out


def test_single_pair_ports_and_registers_unchanged():
    single = MC.replace(mc=MC.mc.replace(enabled=False))
    ports = set(tile_signature(single).members)
    assert not ports & {"read_part", "pulse_pair", "cell_reset", "polarity"}
    assert set(tile_signature(MC).members) - ports == {"read_part", "pulse_pair", "cell_reset", "polarity"}
    a, b = register_map(single), register_map(MC)
    for r in a:                                   # a superset: nothing moves
        assert b[r.name].offset == r.offset and b[r.name].fields == r.fields or r.name in ("CTRL", "STATUS")
    assert "transfer" not in a["CTRL"].field("op").doc and "3 transfer" in b["CTRL"].field("op").doc


@pytest.mark.parametrize("cfg", [MC, MC_PCM], ids=["linear-msp", "pcm-msp"])
def test_mc_transfer_bit_exact(sim, cfg):
    res = run(sim, cfg, "mc_transfer", updates=7).results
    assert len(res["transfer_cycles"]) >= 3 and max(res["rounds"]) >= 1
    assert res["reset_state"] != 0
