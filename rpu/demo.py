"""``rpu demo``: generate the tile, co-simulate a forward, a backward and K updates against
the behavioural crossbar, and print a short report (docs/spec.md §5)."""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import IntRule, TileConfig
from .console import status
from .errors import output_dir

__all__ = ["run_demo", "evaluate"]


def _read_noise_sigma(cfg: TileConfig, W: np.ndarray, v: np.ndarray, alpha: float) -> np.ndarray:
    """σ of y − W·x per output line: α·sqrt(σ_out² + lsb²/12 + Σ_j W_ij²·δ²/12), δ = 1/dac_max
    (output noise, ADC and DAC quantisation, in normalised units times the NM scale α)."""
    dac = (W ** 2).sum(axis=1) / (12 * cfg.dac_max ** 2)
    return alpha * np.sqrt(cfg.io.out_noise ** 2 + cfg.adc_lsb ** 2 / 12 + dac)


def expected_update(cfg: TileConfig, w0: np.ndarray, x_codes, d_codes, bl: int,
                    updates: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ΔW after ``updates`` updates with the same probability codes,
    for the devices of the demo's array (model seed ``cfg.model_seed``) starting at ``w0``.

    Per update a device sees Binomial(BL, p) coincidences, p = |c_d·c_x| / 4^prob_bits, each
    a step of its own mean size at its current weight (:meth:`DeviceArray.mean_step`, which
    knows the device's rule, its drawn steps and bounds, unidirectional devices and stuck
    ones) with relative c2c spread dw_min_std; the mean follows the mean-field recurrence
    w ← clip(w + BL·p·step(w)) and the variances add, BL·p(1 − p)·step² + BL·p·(σ·step)².
    """
    from rpu.models import Crossbar
    dev = Crossbar(cfg).devices
    scale = float(1 << (2 * cfg.update.prob_bits))
    pd = np.outer(np.asarray(d_codes, np.float64), np.asarray(x_codes, np.float64)) / scale
    p, up = np.abs(pd), pd < 0                    # ΔW = −lr·d·x: potentiate where d·x < 0
    sigma = cfg.device.dw_min_std
    w = np.asarray(w0, np.float64)
    var = np.zeros_like(w)
    for _ in range(updates):
        s = dev.mean_step(w, up).astype(np.float64)
        var += bl * p * (1 - p) * s ** 2 + bl * p * (sigma * s) ** 2
        w = np.clip(w + bl * p * s, dev.b_min, dev.b_max)
    return w - np.asarray(w0, np.float64), var


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
    # update: ΔW against the expectation of the configured device (its own steps, bounds
    # and rule, from the reference's array) and, for information, against −lr·K·d·xᵀ
    K, bl = res["updates"], res["bl"]
    dw = np.array(res["dw"])
    expect, var = expected_update(cfg, W, np.array(res["x_codes"]), np.array(res["d_codes"]), bl, K)
    ideal = -cfg.update.lr * K * np.outer(d, x)
    mask = var > 0
    zz = (dw - expect)[mask] / np.sqrt(var[mask])
    slope = float((dw * expect).sum() / (expect ** 2).sum())
    slope_se = float(np.sqrt((var * expect ** 2).sum()) / (expect ** 2).sum())
    bonf = _normal_quantile(1 - 0.01 / (2 * mask.sum()))
    out["update"] = dict(
        slope_vs_expected=slope, slope_se=slope_se,
        # 5 standard errors (p < 1e-6 by chance) plus 2 % for the mean-field approximation
        slope_ok=abs(slope - 1) < 5 * slope_se + 0.02,
        slope_vs_ideal=float((dw * ideal).sum() / (ideal ** 2).sum()),
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


@dataclass
class _DemoRun:
    """What both demos share: the generated files, the lint verdict, the co-simulation."""
    files: dict
    verilog: Path
    lint: str
    results: dict
    log: Path
    wave_note: str
    generate_s: float
    cosim_s: float


def _cosimulate(cfg: TileConfig, out_dir, *, simulator: str, waves: bool, updates: int,
                testcase: str, scale: float, what: str) -> _DemoRun:
    """Generate the tile into ``out_dir`` (linted: the verdict is reported, not raised),
    co-simulate the bench ``tb_tile.<testcase>`` on it and keep its log and waveforms."""
    from rpu.generate import LintError, generate, lint_verilog
    from rpu.rtl.blocks import TOP_NAME
    from rpu.testbench.gtkwave import write_save_file
    from rpu.testbench.harness import HARNESS_NAME, harness_sources
    from rpu.testbench.simulators import run_cocotb

    IntRule(1, 100000).check("updates", updates)
    out_dir = output_dir(out_dir)
    t0 = time.time()
    files = generate(cfg, out_dir, lint=False)
    verilog = files[TOP_NAME]
    try:
        lint_verilog(verilog, TOP_NAME)
        lint = "clean"
    except LintError as e:
        lint = f"FAILED: {e}"
    t1 = time.time()
    # the generated rpu_tile.v itself, inside the co-simulation harness (player, recorder)
    sources = harness_sources(cfg, out_dir / "harness", tile_verilog=verilog)
    status(f"co-simulating {what} under {simulator}")
    run = run_cocotb(sim=simulator, verilog=sources, toplevel=HARNESS_NAME,
                     test_module="rpu.testbench.tb_tile", name="tile", testcase=testcase,
                     waves=waves, params=dict(config=cfg.to_dict(), updates=updates, scale=scale),
                     quiet=True)
    log = Path(shutil.copy(run.test_dir / "sim.log", out_dir / "sim.log"))
    wave_note = "(not dumped; use --waves)"
    if waves:
        if run.waves is None:
            wave_note = "(the simulator wrote none)"
        else:
            wave = Path(shutil.copy(run.waves, out_dir / f"tile_{testcase}{run.waves.suffix}"))
            save = write_save_file(out_dir / f"tile_{testcase}.gtkw", wave, cfg, top=HARNESS_NAME,
                                   simulator=simulator)
            wave_note = f"{wave} (GTKWave: gtkwave {save})"
    return _DemoRun(files, verilog, lint, run.results, log, wave_note, t1 - t0, time.time() - t1)


def run_demo(cfg: TileConfig, out_dir, *, simulator: str = "verilator", waves: bool = False,
             updates: int = 100) -> int:
    """Generate, co-simulate and report; returns the exit code (0 = every check passed)."""
    # a small input scale keeps 100 updates' ΔW inside the device bounds
    d = _cosimulate(cfg, out_dir, simulator=simulator, waves=waves, updates=updates, testcase="demo",
                    scale=0.3, what=f"a forward, a backward and {updates} updates")
    files, verilog, lint, log, wave_note = d.files, d.verilog, d.lint, d.log, d.wave_note
    res = dict(d.results, updates=updates)
    ev = evaluate(cfg, res)
    f, b, u = ev["forward"], ev["backward"], ev["update"]
    print(f"rpu demo: {cfg.out_size} × {cfg.in_size} tile (out_size × in_size), {simulator}, {updates} updates "
          f"(generate {d.generate_s:.1f} s, co-simulation {d.cosim_s:.1f} s incl. build)")
    for name, r, exact in (("forward ", f, "W·x"), ("backward", b, "Wᵀ·d")):
        print(f"  {name}: bit-exact vs reference {'yes' if r['bit_exact'] else 'NO'}; "
              f"rms error vs {exact} {r['rms_error']:.4f} (noise model σ {r['rms_sigma']:.4f}, "
              f"chi²/line {r['chi2_per_line']:.2f}: {'within noise' if r['within_noise'] else 'OUT OF NOISE'})")
    print(f"  update  : {u['phases']} sign phases, BL {res['bl']}; ΔW = {u['slope_vs_expected']:.3f} × "
          f"E[ΔW] of the {cfg.device.model} devices (± {u['slope_se']:.3f} 1σ, "
          f"{'ok' if u['slope_ok'] else 'FAIL'}; = {u['slope_vs_ideal']:.3f} × (−lr·K·d·xᵀ)); "
          f"per device chi² {u['chi2_per_device']:.2f}, "
          f"{100 * u['frac_within']:.2f} % within the Bonferroni bound |z| < {u['bonferroni_z']:.2f}; "
          f"weights equal to the reference model: {'yes' if u['weights_equal_ref'] else 'NO'}")
    for name, (got, want) in ev["cycles"].items():
        print(f"  cycles {name:8s}: {got} (formula {want}) {'ok' if got == want else 'MISMATCH'}")
    print(f"  Verilog : {verilog} (lint {lint})")
    regmap = [files[k].name for k in ("regmap_json", "regmap_md", "regmap_h") if k in files]
    if regmap:
        print(f"  regmap  : {', '.join(regmap)} (the register map as JSON, Markdown, C header)")
    print(f"  waves   : {wave_note}")
    print(f"  sim log : {log}")
    print(f"  result  : {'PASS' if ev['ok'] else 'FAIL'}")
    return 0 if ev["ok"] else 1


def transfer_bound(cfg: TileConfig) -> float:
    """How far a converged cell's weight may move in one transfer: the tolerance, half an
    ADC step on each of the five reads that enter it (three MSP reads weighing F, two LSP
    reads 1: ``(1.5·F + 1)·lsb/gain``) and 4 σ of their output noise
    (``σ·(F·√3 + √2)/gain``), in device weight units (tests/test_ref_transfer.py)."""
    from rpu.spec.formats import transfer_format
    F, gain = cfg.mc.significance, transfer_format(cfg).gain
    return (cfg.mc.transfer_tolerance + (1.5 * F + 1.0) * cfg.adc_lsb / gain
            + 4 * cfg.io.out_noise * (F * math.sqrt(3) + math.sqrt(2)) / gain)


def evaluate_mc(cfg: TileConfig, res: dict) -> dict:
    """Checks of an ``rpu demo --mc`` run: everything bit-exact, and the weight survived the
    transfer: every converged cell within :func:`transfer_bound` (the issue's criterion:
    cells the closed loop gave up on are counted — bit-exactly, ``CLT_NONCONVERGED`` — and
    their largest change reported, not judged)."""
    wb, wa = np.array(res["w_before"]), np.array(res["w_after"])
    conv = np.array(res["converged"], bool)
    cols = res["columns"]
    moved = np.abs(wa - wb)
    bound = transfer_bound(cfg)
    lsp_after = np.abs(np.array(res["lsp_after"])[:, cols])
    out = dict(bound=bound, max_moved=float(moved[conv].max()) if conv.any() else 0.0,
               nonconverged=int((~conv).sum()), cells=int(conv.size),
               max_moved_nonconverged=float(moved[~conv].max()) if (~conv).any() else 0.0,
               lsp_before_rms=float(np.sqrt(np.mean(np.array(res["lsp_before"])[:, cols] ** 2))),
               lsp_after_max=float(lsp_after.max()),
               cycles_ok=res["cyc_transfer"] == res["cyc_transfer_formula"])
    out["survived"] = bool(out["max_moved"] <= bound)
    out["exact"] = bool(res["forward_before_exact"] and res["updates_exact"] and res["transfer_exact"]
                        and res["forward_after_exact"] and out["cycles_ok"])
    out["ok"] = bool(out["exact"] and out["survived"] and res["error_flags"] == 0)
    return out


def run_mc_demo(cfg: TileConfig, out_dir, *, simulator: str = "verilator", waves: bool = False,
                updates: int = 100) -> int:
    """``rpu demo --mc``: generate a multi-conductance tile, co-simulate a forward, ``updates``
    updates, one commanded transfer event and a forward again; PASS only when all of it is
    bit-exact against the reference and the weight survived the transfer."""
    if not cfg.mc.enabled:
        raise ValueError("rpu demo --mc needs mc.enabled")
    d = _cosimulate(cfg, out_dir, simulator=simulator, waves=waves, updates=updates, testcase="mc_demo",
                    scale=0.5, what=f"a forward, {updates} updates, a transfer and a forward")
    verilog, lint, log = d.verilog, d.lint, d.log
    res = d.results
    ev = evaluate_mc(cfg, res)
    yes = {True: "yes", False: "NO"}
    mc = cfg.mc
    print(f"rpu demo --mc: {cfg.out_size} × {cfg.in_size} multi-conductance tile (F {mc.significance:g}, "
          f"MSP {mc.msp_model}, LSP {mc.lsp_kind} {mc.lsp_model}), {simulator}, {updates} updates "
          f"(generate {d.generate_s:.1f} s, co-simulation {d.cosim_s:.1f} s incl. build)")
    print(f"  forward before   : bit-exact vs reference {yes[res['forward_before_exact']]}")
    print(f"  updates (LSP)    : weights equal to the reference {yes[res['updates_exact']]}; "
          f"LSP RMS {ev['lsp_before_rms']:.4f} on the columns to transfer")
    print(f"  transfer         : columns {res['columns'][0]}..{res['columns'][-1]}, rounds per column "
          f"{res['rounds']}; weights, polarity, pulse counts, counters bit-exact "
          f"{yes[res['transfer_exact']]}{' (' + res['transfer_why'] + ')' if res['transfer_why'] else ''}; "
          f"cycles {res['cyc_transfer']} (formula {res['cyc_transfer_formula']}) "
          f"{'ok' if ev['cycles_ok'] else 'MISMATCH'}")
    print(f"  weight survived  : {yes[ev['survived']]}: max |W_after − W_before| {ev['max_moved']:.4f} over "
          f"converged cells (bound {ev['bound']:.4f} = tolerance {mc.transfer_tolerance:g} + quantisation "
          f"+ 4σ read noise); {ev['nonconverged']} of {ev['cells']} cells not converged (counted, "
          f"max |ΔW| {ev['max_moved_nonconverged']:.4f}); LSP after the reset ≤ {ev['lsp_after_max']:.4f}")
    print(f"  forward after    : bit-exact vs reference {yes[res['forward_after_exact']]}")
    print(f"  Verilog          : {verilog} (lint {lint})")
    print(f"  waves            : {d.wave_note}")
    print(f"  sim log          : {log}")
    print(f"  result           : {'PASS' if ev['ok'] else 'FAIL'}")
    return 0 if ev["ok"] else 1
