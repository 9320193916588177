"""The emulated tile (tile + gateware crossbar) co-simulated under both simulators, driven
only from the host side, bit-exact against TileReference over EmulatedCrossbarRef: results,
device states, the emulator's counters and stalls, the tile's cycle and pulse counters.
The 1,000-update run is ``scripts/emulator_soak.py``'s (docs/fpga.md)."""

import pytest

from rpu.config import EmulatorConfig, TileConfig
from rpu.testbench.emulator import run_emulated
from rpu.testbench.simulators import CosimFailure

SMALL = TileConfig(in_size=6, out_size=8, out_bound=6.0)
ECFG = EmulatorConfig(read_shift=9)
SHARED = TileConfig(in_size=4, out_size=6, lines_per_adc=2, slot_cycles=2, stream_width=3,
                    out_bound=4.0)


def run(sim, cfg, ecfg, testcase="ops_bit_exact", **params):
    return run_emulated(cfg, ecfg, sim=sim, testcase=testcase, **params)


def test_forward_backward_updates_bit_exact(sim):
    res = run(sim, SMALL, ECFG, updates=30, check_every=10, read_every=5).results
    assert res["checks"] == 5 and res["reads"] == 2 + 12 + 1
    assert res["phases"] == [0, 1, 2, 3] and res["slots"] > 0
    assert max(res["passes"]) > 1, "the saturating forward must retry"
    assert res["stall_update"] > 0 and res["stall_read"] > 0
    assert res["pulses_up"] > 0 and res["pulses_down"] > 0
    assert res["update_tile_cycles"] and all(c <= 42 for c in res["update_tile_cycles"])


def test_shared_adcs_slot_cycles_noisy_devices(sim):
    """lines_per_adc 2 (two conversion groups per read), slot_cycles 2, three lanes per
    beat, the noisy preset."""
    ecfg = EmulatorConfig.preset("noisy").replace(read_shift=8)
    res = run(sim, SHARED, ecfg, updates=12, check_every=6, read_every=4, bm=False).results
    assert res["checks"] == 3 and res["phases"] == [0, 1, 2, 3]


def test_reads_sharing_multipliers(sim):
    """read_lanes 4 of 6 columns: a row in two cycles, the second with two idle lanes."""
    res = run(sim, SMALL, ECFG.replace(read_lanes=4), updates=6, check_every=3,
              read_every=3).results
    assert res["checks"] == 4 and res["stall_read"] > 0 and max(res["passes"]) > 1


def test_a_reference_off_by_one_state_fails(sim):
    """The comparison can fail: one reference state moved by one LSB before the first check."""
    with pytest.raises(CosimFailure, match="states differ from the reference"):
        run(sim, SMALL, ECFG, updates=2, check_every=2, read_every=2, bm=False, perturb=True)
