"""The board core (emulated tile + serial bridge + UART) co-simulated under both simulators,
driven only through its serial pins by the host driver (rpu.driver.SerialHost over a
simulated UART line), bit-exact against TileReference over EmulatedCrossbarRef."""

import hashlib
import json
from functools import lru_cache

import pytest

from rpu.config import EmulatorConfig, TileConfig
from rpu.rtl.board import BOARD_CORE_NAME
from rpu.testbench.board import board_core_sources
from rpu.testbench.simulators import CosimFailure, build_root, run_cocotb

SMALL = TileConfig(in_size=6, out_size=4, out_bound=6.0)
ECFG = EmulatorConfig(read_shift=9)
DIVISOR = 8


@lru_cache(maxsize=None)
def sources(cfg_json: str, ecfg_json: str, divisor: int):
    cfg, ecfg = TileConfig.from_json(cfg_json), EmulatorConfig.from_dict(json.loads(ecfg_json))
    key = hashlib.sha256((cfg_json + ecfg_json + str(divisor)).encode()).hexdigest()[:10]
    return board_core_sources(cfg, ecfg, divisor, build_root() / "board" / key)


def run(sim, **params):
    path = sources(SMALL.to_json(), json.dumps(ECFG.to_dict()), DIVISOR)
    return run_cocotb(sim=sim, verilog=path, toplevel=BOARD_CORE_NAME,
                      test_module="rpu.testbench.tb_board", name="board",
                      testcase="ops_over_serial", quiet=True,
                      params=dict(config=SMALL.to_dict(), emulator=ECFG.to_dict(),
                                  divisor=DIVISOR, **params))


def test_forward_backward_updates_over_the_serial_line(sim):
    res = run(sim, updates=3).results
    assert res["reads"] == 4 and res["checks"] == 2
    steps = res["steps"]
    # the line is the bottleneck: a forward is mostly bit times (the tile takes ~100 cycles)
    assert steps["forward"]["line_cycles"] > 0.5 * steps["forward"]["cycles"]
    assert res["bytes_sent"] > 0 and res["bytes_received"] > 0


def test_a_reference_off_by_one_state_fails(sim):
    """The comparison over the line can fail: one reference state moved by one LSB."""
    with pytest.raises(CosimFailure, match="states differ from the reference"):
        run(sim, updates=1, perturb=True)
