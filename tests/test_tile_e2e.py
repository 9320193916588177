"""End-to-end co-simulation of the tile top (both simulators): host over AXI, analog
front-end with the behavioural crossbar, bit-exact and cycle-exact against the reference."""

import hashlib
from functools import lru_cache

import numpy as np
import pytest

from rpu.config import TileConfig
from rpu.testbench.harness import HARNESS_NAME, harness_sources
from rpu.testbench.simulators import build_root, run_cocotb


DEFAULT = TileConfig()
NONSQUARE = TileConfig(in_size=48, out_size=80, lines_per_adc=4)


def edge(in_size, out_size):
    """A shape at the stream-width edges (default stream_width 4), with an integrator
    bound of in_size/4 so the bench's saturating forward (weights 0.5, x = 1) exceeds it
    and bound management retries even on one x-line."""
    return TileConfig(in_size=in_size, out_size=out_size, out_bound=in_size / 4)


#: one line on both sides; one x-line with stream_width d-lines (one full beat); nine
#: x-lines (three beats, the last partial) with one d-line
EDGES = {"1x1": edge(1, 1), "1x4": edge(1, 4), "9x1": edge(9, 1)}


@lru_cache(maxsize=None)
def tile_verilog(cfg_json: str):
    cfg = TileConfig.from_json(cfg_json)
    key = hashlib.sha256(cfg_json.encode()).hexdigest()[:10]
    return harness_sources(cfg, build_root() / "tile" / key)


def run(sim, cfg, testcase, waves=False, **params):
    path = tile_verilog(cfg.to_json())
    return run_cocotb(sim=sim, verilog=path, toplevel=HARNESS_NAME,
                      test_module="rpu.testbench.tb_tile", name="tile",
                      testcase=testcase, waves=waves,
                      params=dict(config=cfg.to_dict(), **params))


@pytest.mark.parametrize("cfg", [DEFAULT, NONSQUARE], ids=["64x64", "48x80-lpa4"])
def test_ops_bit_exact(sim, cfg, waves):
    res = run(sim, cfg, "ops_bit_exact", waves, updates=3).results
    assert res["phases"] == [0, 1, 2, 3], "all four sign quadrants must be exercised"
    assert res["slots"] > 0
    assert len(res["forward_cycles"]) == 3 and len(res["update_cycles"]) == 3
    assert res["bm_passes"] > 1


@pytest.mark.parametrize("name", EDGES)
def test_ops_bit_exact_edge_shapes(sim, name):
    """One-line sides, one-beat frames and a side of exactly stream_width lines: the same
    bit- and cycle-exact checks (a one-line side has one sign per update, so fewer sign
    quadrants are exercised)."""
    cfg = EDGES[name]
    res = run(sim, cfg, "ops_bit_exact", updates=4).results
    assert res["phases"] and set(res["phases"]) <= {0, 1, 2, 3}
    if min(cfg.in_size, cfg.out_size) > 1:
        assert res["phases"] == [0, 1, 2, 3]
    assert res["slots"] > 0 and len(res["update_cycles"]) == 4
    assert res["bm_passes"] > 1


def test_back_to_back_updates(sim):
    res = run(sim, DEFAULT, "back_to_back_updates", updates=6).results
    assert all(g == res["period"] for g in res["gaps"][2:])
    # the default tile is pulse-bound: back-to-back updates at the pulse time
    assert res["period"] == res["update_cycles"] == 42
    assert res["burst_gaps"][2:] == res["burst_period"][2:] and len(res["burst_gaps"]) == 5


def test_robustness(sim):
    res = run(sim, DEFAULT, "robustness").results
    assert res["resets"] == 4
    from rpu.spec.encodings import RunState
    # the resets hit a read window and the update pulses (run states before the reset)
    assert res["states"][0] in (RunState.READ_DELAY, RunState.READ_WAIT)
    assert res["states"][2] == RunState.UPDATE


def test_update_statistics(sim):
    """K identical updates on an ideal device (no spreads, wide bounds): every device's
    change is dw_min·(coincidences), coincidences ~ Binomial(K·BL, p_j·q_i) with p, q the
    quantised probabilities of the update-management codes.  Per device: Bonferroni bound
    over the M·N devices at family-wise α = 1e-3 (valid although devices sharing a line are
    correlated).  Aggregate: the regression slope of ΔW on −lr·K·d·xᵀ is 1 up to the
    probability quantisation (computed) plus 5 sd, the sd bounded without independence
    (Cauchy–Schwarz: sd(Σ a_ij X_ij) ≤ Σ |a_ij| sd_ij)."""
    from rpu.config import DeviceConfig
    from rpu.models.ref_management import from_fixed, to_fixed, update_codes
    from rpu.demo import _normal_quantile

    dev = DeviceConfig(dw_min_dtod=0.0, dw_min_std=0.0, up_down_dtod=0.0, w_max=50.0,
                       w_min=-50.0, w_max_dtod=0.0, w_min_dtod=0.0)
    cfg = DEFAULT.replace(device=dev)
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, cfg.in_size)
    d = rng.uniform(-1, 1, cfg.out_size)
    K = 40
    res = run(sim, cfg, "update_statistics", x=x.tolist(), d=d.tolist(), updates=K).results
    dw = np.array(res["dw"])
    xf, df = to_fixed(cfg, x), to_fixed(cfg, d)
    codes = update_codes(cfg, xf, df)
    n = K * codes.bl
    p = np.abs(codes.x_codes) / 2 ** cfg.update.prob_bits
    q = np.abs(codes.d_codes) / 2 ** cfg.update.prob_bits
    pq = np.outer(q, p)
    sign = -np.outer(np.sign(codes.d_codes), np.sign(codes.x_codes))
    counts = dw / cfg.device.dw_min * sign           # coincidences, ≥ 0
    assert np.allclose(counts, np.round(counts), atol=1e-3), "ideal device: integer steps"
    sd = np.sqrt(n * pq * (1 - pq))
    live = sd > 0
    assert np.all(np.round(counts[~live]) == np.round(n * pq[~live])), "p = 0 or 1 lines"
    z = (counts[live] - n * pq[live]) / sd[live]
    m = live.sum()
    zb = _normal_quantile(1 - 1e-3 / (2 * m))
    assert np.abs(z).max() < zb, f"max |z| {np.abs(z).max():.2f} >= Bonferroni {zb:.2f}"
    # against the ideal rank-1 update: the quantised expectation differs by a known amount
    ideal = -cfg.update.lr * K * np.outer(from_fixed(cfg, df), from_fixed(cfg, xf))
    e_q = sign * n * pq * cfg.device.dw_min
    quant = np.abs(e_q - ideal).sum() / np.abs(ideal).sum()
    stat = (np.abs(ideal) * sd).sum() * cfg.device.dw_min / (ideal ** 2).sum()
    assert quant < 0.05, f"probability quantisation error {quant:.3f}"
    slope = (dw * ideal).sum() / (ideal ** 2).sum()
    assert abs(slope - 1) < quant + 5 * stat, f"slope {slope:.4f}, quant {quant:.4f}, sd {stat:.4f}"
    assert all(np.any(sign == s) for s in (1, -1))
