"""cocotb bench: the generated management units (ManagementUnits harness) against
rpu.models.ref_management, over randomised vectors with zeros, tiny, full-scale and
saturating values. Inputs are driven at falling edges; the lane scaler is streamed, one beat
per cycle, and its codes read scaler_cycles later."""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from rpu.models import ref_management as rm
from rpu.spec.timing import nm_cycles, scaler_cycles, um_cycles
from rpu.testbench.lanes import pack_lanes, unpack_lanes
from rpu.testbench.layouts import CLOCK_NS
from rpu.testbench.report import bench_config, bench_params, write_results


def mixed_vector(nx, n, rng):
    vmax = nx.value_max
    v = rng.integers(-vmax - 1, vmax + 1, n)
    kind = rng.integers(0, 5, n)
    v[kind == 0] = 0
    v[kind == 1] = rng.integers(-8, 9, n)[kind == 1]
    v[kind == 2] = rng.choice([vmax, -vmax, -vmax - 1], n)[kind == 2]
    v[kind == 3] = (v >> rng.integers(0, nx.value_bits, n))[kind == 3]
    if rng.random() < 0.1:
        v[:] = 0
    return v


async def _reset(dut):
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    for name in sorted(_INPUTS):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


_INPUTS = {
    "nm__start", "nm__alpha", "nm__mode", "nm__out_scale", "sc__values", "sc__scale",
    "sc__limit", "bm__begin", "bm__enable", "bm__cap", "bm__pass_done",
    "bm__any_sat", "bm__clear_counters", "um__start", "um__x_max", "um__d_max",
    "um__um_enable", "um__dyn_bl", "um__bl", "um__bl_max", "um__um_c", "um__um_c1",
    "um__um_lr_dw",
}


async def _scale(dut, cfg, vec, lanes, scale, limit):
    """Stream ``vec`` through the lane scaler (one beat per falling edge) with ``scale`` and
    ``limit``; returns (codes, clips) of its lines, read ``scaler_cycles`` later."""
    nx = rm.numerics(cfg)
    lat = scaler_cycles(cfg)
    cb = max(nx.dac_bits, nx.prob_bits + 2)
    dut.sc__scale.value = scale
    dut.sc__limit.value = limit
    beats = [vec[b:b + lanes] for b in range(0, len(vec), lanes)]
    codes, clips = [], []
    for n in range(len(beats) + lat):
        if n < len(beats):
            dut.sc__values.value = pack_lanes(beats[n], nx.value_bits)
        await FallingEdge(dut.clk)
        k = n - lat + 1
        if 0 <= k < len(beats):
            m = len(beats[k])
            codes += unpack_lanes(int(dut.sc__codes.value), cb, lanes)[:m].tolist()
            c = int(dut.sc__clip.value)
            clips += [bool((c >> i) & 1) for i in range(m)]
    return codes, clips


async def _start_wait(dut, prefix):
    await FallingEdge(dut.clk)          # realign after combinational (Timer) checks
    getattr(dut, prefix + "start").value = 1
    await FallingEdge(dut.clk)
    getattr(dut, prefix + "start").value = 0
    cycles = 1
    while not int(getattr(dut, prefix + "done").value):
        await FallingEdge(dut.clk)
        cycles += 1
        assert cycles < 10_000, f"{prefix}done never came"
    return cycles


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def read_management_matches_reference(dut):
    p = bench_params()
    cfg = bench_config()
    nx = rm.numerics(cfg)
    lanes, n = p["lanes"], p["length"]
    rng = np.random.default_rng(p["seed"])
    regs = rm.registers_from_config(cfg)
    await _reset(dut)
    dut.nm__out_scale.value = regs["out_scale"]
    checked = 0
    for trial in range(p["trials"]):
        x = mixed_vector(nx, n, rng)
        alpha = int(np.abs(x).max())
        mode = trial % 4
        dut.nm__alpha.value = alpha
        dut.nm__mode.value = mode
        cycles = await _start_wait(dut, "nm__")
        assert cycles == nm_cycles(cfg), cycles
        ref = rm.nm_params(nx, alpha, mode, regs["out_scale"])
        for key in ("in_mul", "in_shift", "out_mul", "out_exp"):
            assert int(getattr(dut, "nm__" + key).value) == ref[key], (trial, key)
        assert int(dut.nm__mode_error.value) == (mode == 3)
        k = int(rng.integers(0, 16)) if trial % 3 == 2 else trial % 3
        want = rm.input_codes(nx, x, ref["in_mul"], ref["in_shift"], k).tolist()
        got, _ = await _scale(dut, cfg, x, lanes, int(dut.nm__in_scale.value) >> k, nx.dac_max)
        assert got == want, f"trial {trial}: DAC codes differ"
        checked += 1
    # bound management decisions
    total = giveups = 0
    for trial in range(p["trials"]):
        cap = int(rng.integers(0, 20))
        enable = int(rng.integers(0, 2))
        ref = rm.BoundState(cap=cap, enable=bool(enable))
        dut.bm__cap.value = cap
        dut.bm__enable.value = enable
        dut.bm__begin.value = 1
        await FallingEdge(dut.clk)
        dut.bm__begin.value = 0
        p_sat = rng.uniform(0.2, 1.0)
        while True:
            sat = bool(rng.random() < p_sat)
            dut.bm__any_sat.value = int(sat)
            dut.bm__pass_done.value = 1
            await FallingEdge(dut.clk)
            dut.bm__pass_done.value = 0
            retry = ref.pass_done(sat)
            total += 1
            assert int(dut.bm__retry.value) == retry and int(dut.bm__accept.value) == (not retry)
            assert int(dut.bm__k.value) == ref.k and int(dut.bm__passes.value) == ref.passes
            assert int(dut.bm__cap_error.value) == ref.cap_error
            if not retry:
                giveups += ref.gave_up
                assert int(dut.bm__gave_up.value) == ref.gave_up
                break
    assert int(dut.bm__passes_total.value) == total
    assert int(dut.bm__giveups_total.value) == giveups
    write_results(read_trials=checked, bm_passes=total, bm_giveups=giveups)


@cocotb.test(timeout_time=200, timeout_unit="ms")
async def update_management_matches_reference(dut):
    p = bench_params()
    cfg = bench_config()
    nx = rm.numerics(cfg)
    lanes, n = p["lanes"], p["length"]
    rng = np.random.default_rng(p["seed"] + 1)
    base = rm.registers_from_config(cfg)
    await _reset(dut)
    variants = [dict(um_enable=u, dyn_bl=d) for u in (0, 1) for d in (0, 1)]
    variants += [dict(bl=0), dict(bl=cfg.update.bl_max + 1), dict(bl_max=0), dict(um_c1=(1 << 32) - 1,
                 um_lr_dw=(1 << 32) - 1, dyn_bl=1)]
    clipped = 0
    for trial in range(p["trials"]):
        regs = dict(base, **variants[trial % len(variants)])
        x = mixed_vector(nx, n, rng)
        d = mixed_vector(nx, n, rng) >> int(rng.integers(0, nx.value_bits // 2))
        ref = rm.update_codes(cfg, x, d, regs=regs)
        for key in ("um_enable", "dyn_bl", "bl", "bl_max", "um_c", "um_c1", "um_lr_dw"):
            getattr(dut, "um__" + key).value = regs[key]
        dut.um__x_max.value = ref.x_max
        dut.um__d_max.value = ref.d_max
        cycles = await _start_wait(dut, "um__")
        assert cycles == um_cycles(cfg)
        assert int(dut.um__gain_x.value) == ref.gain_x and int(dut.um__gain_d.value) == ref.gain_d
        assert int(dut.um__bl_out.value) == ref.bl
        assert int(dut.um__bl_error.value) == ref.bl_error
        for vec, gain, codes, clips in ((x, ref.gain_x, ref.x_codes, ref.x_clip),
                                        (d, ref.gain_d, ref.d_codes, ref.d_clip)):
            got, got_clip = await _scale(dut, cfg, vec, lanes, gain, nx.prob_one)
            assert got == codes.tolist(), f"trial {trial}: probability codes differ"
            assert got_clip == clips.tolist()
        clipped += ref.clipped
    write_results(update_trials=p["trials"], clipped_lines=clipped)
