"""``rpu demo``: generate the tile, co-simulate a forward, a backward and K updates against
the behavioural crossbar, and print a short report (SPEC §5)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from .config import TileConfig

__all__ = ["run_demo", "evaluate"]


def _read_noise_sigma(cfg: TileConfig, W: np.ndarray, v: np.ndarray, alpha: float) -> np.ndarray:
    """σ of y − W·x per output line: α·sqrt(σ_out² + lsb²/12 + Σ_j W_ij²·δ²/12), δ = 1/dac_max
    (output noise, ADC and DAC quantisation, in normalised units times the NM scale α)."""
    dac = (W ** 2).sum(axis=1) / (12 * cfg.dac_max ** 2)
    return alpha * np.sqrt(cfg.io.out_noise ** 2 + cfg.adc_lsb ** 2 / 12 + dac)


def evaluate(cfg: TileConfig, res: dict) -> dict:
    """Checks of a demo run (pure numpy; used by the demo and its test)."""
    from rpu.models.ref_management import from_fixed
    from rpu.spec.timing import read_cycles, update_cycles

    W = np.array(res["w_read"])
    x = from_fixed(cfg, np.array(res["x"]))
    d = from_fixed(cfg, np.array(res["d"]))
    out = {}
    for name, ref_name, exact, v, lines in (("forward", "y_ref", W @ x, x, cfg.out_size),
                                            ("backward", "z_ref", W.T @ d, d, cfg.in_size)):
        key = "y" if name == "forward" else "z"
        got = from_fixed(cfg, np.array(res[key]))
        alpha = float(np.abs(v).max())
        Wn = W if name == "forward" else W.T
        sig = _read_noise_sigma(cfg, Wn, v, alpha)
        z = (got - exact) / sig
        chi = float(np.mean(z ** 2))
        out[name] = dict(
            bit_exact=res[key] == res[ref_name], rms_error=float(np.sqrt(np.mean((got - exact) ** 2))),
            rms_sigma=float(np.sqrt(np.mean(sig ** 2))), chi2_per_line=chi,
            # mean of `lines` squared unit normals: sd sqrt(2/lines); 5 sd band
            within_noise=abs(chi - 1) < 5 * math.sqrt(2 / lines))
    # update: ΔW vs the quantised expectation and vs −lr·K·d·xᵀ
    K, bl, P = res["updates"], res["bl"], cfg.update.prob_bits
    dw = np.array(res["dw"])
    cx = np.array(res["x_codes"]) / 2 ** P
    cd = np.array(res["d_codes"]) / 2 ** P
    pq = np.abs(np.outer(cd, cx))
    e_q = -K * bl * cfg.device.dw_min * np.outer(cd, cx)
    ideal = -cfg.update.lr * K * np.outer(d, x)
    dev = cfg.device
    var = (e_q ** 2 * (dev.dw_min_dtod ** 2 + dev.up_down_dtod ** 2)
           + K * bl * pq * (1 - pq) * dev.dw_min ** 2 * (1 + dev.dw_min_std ** 2))
    mask = var > 0
    zz = (dw - e_q)[mask] / np.sqrt(var[mask])
    slope = float((dw * ideal).sum() / (ideal ** 2).sum())
    slope_se = float(np.sqrt((var * ideal ** 2).sum()) / (ideal ** 2).sum())
    bonf = _normal_quantile(1 - 0.01 / (2 * mask.sum()))
    out["update"] = dict(
        slope_vs_ideal=slope, slope_se=slope_se, slope_ok=abs(slope - 1) < 5 * slope_se + 0.02,
        quantisation_rel=float(np.abs(e_q - ideal).sum() / np.abs(ideal).sum()),
        chi2_per_device=float(np.mean(zz ** 2)), max_abs_z=float(np.abs(zz).max()),
        bonferroni_z=bonf, frac_within=float(np.mean(np.abs(zz) < bonf)),
        weights_equal_ref=res["weights_equal_ref"], phases=res["phases"])
    cyc = dict(forward=(res["cyc_forward"], read_cycles(cfg, passes=res["passes_forward"])),
               backward=(res["cyc_backward"], read_cycles(cfg, backward=True)),
               update=(res["cyc_update"], update_cycles(cfg, res["phases"], bl)))
    out["cycles"] = cyc
    out["ok"] = bool(out["forward"]["bit_exact"] and out["backward"]["bit_exact"]
                     and out["forward"]["within_noise"] and out["backward"]["within_noise"]
                     and out["update"]["weights_equal_ref"] and out["update"]["slope_ok"]
                     and all(a == b for a, b in cyc.values()) and res["error_flags"] == 0)
    return out


def _normal_quantile(p: float) -> float:
    lo, hi = 0.0, 40.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * math.erfc(-mid / math.sqrt(2)) < p:
            lo = mid
        else:
            hi = mid
    return lo


def run_demo(cfg: TileConfig, out_dir, *, simulator: str = "verilator", waves: bool = False,
             updates: int = 100) -> int:
    """Generate, co-simulate and report; returns the exit code (0 = every check passed)."""
    from rpu.generate import LintError, generate, lint_verilog
    from rpu.rtl.blocks import TOP_NAME
    from rpu.testbench.harness import HARNESS_NAME, harness_sources
    from rpu.testbench.simulators import run_cocotb

    if isinstance(updates, bool) or not isinstance(updates, int) or not 1 <= updates <= 100000:
        raise ValueError(f"updates must be an integer in [1, 100000], not {updates!r}")
    out_dir = Path(out_dir)
    t0 = time.time()
    files = generate(cfg, out_dir, lint=False)
    verilog = files[TOP_NAME]
    try:
        lint_verilog(verilog, TOP_NAME)
        lint = "clean"
    except LintError as e:
        lint = "FAILED: " + str(e).splitlines()[1] if len(str(e).splitlines()) > 1 else str(e)
    t1 = time.time()
    os.environ.setdefault("RPU_BUILD_DIR", str(out_dir / "build"))
    # a small input scale keeps 100 updates' ΔW inside the device bounds
    # the generated rpu_tile.v itself, inside the co-simulation harness (player, recorder)
    sources = harness_sources(cfg, out_dir / "build" / "harness", tile_verilog=verilog)
    run = run_cocotb(sim=simulator, verilog=sources, toplevel=HARNESS_NAME,
                     test_module="rpu.testbench.tb_tile", name="tile", testcase="demo",
                     waves=waves, params=dict(config=cfg.to_dict(), updates=updates, scale=0.3),
                     quiet=True)
    t2 = time.time()
    res = dict(run.results, updates=updates)
    ev = evaluate(cfg, res)
    f, b, u = ev["forward"], ev["backward"], ev["update"]
    print(f"rpu demo: {cfg.out_size}x{cfg.in_size} tile, {simulator}, {updates} updates "
          f"(generate {t1 - t0:.1f} s, co-simulation {t2 - t1:.1f} s incl. build)")
    for name, r in (("forward ", f), ("backward", b)):
        print(f"  {name}: bit-exact vs reference {'yes' if r['bit_exact'] else 'NO'}; "
              f"rms error vs W·x {r['rms_error']:.4f} (noise model σ {r['rms_sigma']:.4f}, "
              f"chi²/line {r['chi2_per_line']:.2f}: {'within noise' if r['within_noise'] else 'OUT OF NOISE'})")
    print(f"  update  : {u['phases']} sign phases, BL {res['bl']}; ΔW = {u['slope_vs_ideal']:.3f} × "
          f"(−lr·K·d·xᵀ) (± {u['slope_se']:.3f} 1σ, {'ok' if u['slope_ok'] else 'FAIL'}); "
          f"quantisation {100 * u['quantisation_rel']:.1f} %; per device chi² {u['chi2_per_device']:.2f}, "
          f"{100 * u['frac_within']:.2f} % within the Bonferroni bound |z| < {u['bonferroni_z']:.2f}; "
          f"weights equal to the reference model: {'yes' if u['weights_equal_ref'] else 'NO'}")
    for name, (got, want) in ev["cycles"].items():
        print(f"  cycles {name:8s}: {got} (formula {want}) {'ok' if got == want else 'MISMATCH'}")
    print(f"  Verilog : {verilog} (lint {lint})")
    for k in ("regmap_json", "regmap_md", "regmap_h"):
        if k in files:
            print(f"  {k:8s}: {files[k]}")
    print(f"  waves   : {run.waves if run.waves else '(not dumped; use --waves)'}")
    print(f"  sim log : {run.test_dir / 'sim.log'}")
    print(f"  result  : {'PASS' if ev['ok'] else 'FAIL'}")
    return 0 if ev["ok"] else 1
