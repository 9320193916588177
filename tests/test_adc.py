"""ADC interface: timing, mux order, saturation, scaling (Amaranth sim and both cocotb simulators)."""

import numpy as np
import pytest

from rpu.config import TileConfig
from rpu.models import ref_adc
from rpu.models import ref_management as rm
from rpu.rtl.adc import AdcInterface
from rpu.rtl.generate import write_verilog
from rpu.spec.timing import adc_read_cycles, adc_timeout_cycles, sat_count_cycles, stream_beats
from rpu.testbench.simulators import build_root, run_cocotb


def random_codes(nx, n, rng):
    """ADC codes incl. zeros, both saturated ends (incl. the extra negative code), random."""
    c = rng.integers(-nx.adc_max - 1, nx.adc_max + 1, n)
    kind = rng.integers(0, 6, n)
    c[kind == 0] = 0
    c[kind == 1] = nx.adc_max
    c[kind == 2] = -nx.adc_max - 1
    c[kind == 3] = rng.integers(-3, 4, n)[kind == 3]
    return c


def run_passes(cfg, lines, lanes, passes, *, latency, silent_groups=(), ready_pattern=None):
    """Drive ``passes`` = [(codes, out_mul, out_exp, k, readout)] through an AdcInterface.

    Returns per pass: (cycles start→conv_done, any_sat, sat_lines, timeout, streamed
    (data, sat, clip, last) per beat or None), plus the integrator trace of the first pass.
    """
    nx = rm.numerics(cfg)
    dut = AdcInterface(cfg, lines, lanes=lanes)
    groups = ref_adc.adc_groups(lines, cfg.converters.lines_per_adc)
    out = []
    state = {"codes": None, "pass": 0}
    trace = []

    async def frontend(ctx):
        while True:
            if not ctx.get(dut.adc_start):
                await ctx.tick()
            else:
                sel = ctx.get(dut.adc_sel)
                group = (state["pass"], sel)
                for _ in range(latency):          # done in cycle start + latency
                    await ctx.tick()
                if group in silent_groups:
                    continue
                codes = state["codes"][groups[sel]]
                word = 0
                for a, c in enumerate(codes):
                    word |= (int(c) & ((1 << nx.adc_bits) - 1)) << (a * nx.adc_bits)
                ctx.set(dut.adc_codes, word)
                ctx.set(dut.adc_done, 1)
                await ctx.tick()
                ctx.set(dut.adc_done, 0)

    async def tb(ctx):
        for i, (codes, out_mul, out_exp, k, readout) in enumerate(passes):
            state["codes"], state["pass"] = np.asarray(codes), i
            ctx.set(dut.out_mul, out_mul)
            ctx.set(dut.out_exp, out_exp)
            ctx.set(dut.bm_k, k)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while not ctx.get(dut.conv_done):
                if i == 0:
                    trace.append((ctx.get(dut.integ_reset), ctx.get(dut.integ_en)))
                await ctx.tick()
                cycles += 1
                assert cycles < 100_000
            res = [cycles, ctx.get(dut.any_sat), None, ctx.get(dut.timeout), None]
            wait = 0
            while not ctx.get(dut.sat_valid):             # the count settles a little later
                await ctx.tick()
                wait += 1
            assert wait == sat_count_cycles(cfg, lines)
            res[2] = ctx.get(dut.sat_lines)
            if readout:
                ctx.set(dut.readout, 1)
                await ctx.tick()
                ctx.set(dut.readout, 0)
                beats = []
                n = 0
                while True:
                    ready = 1 if ready_pattern is None else ready_pattern[n % len(ready_pattern)]
                    n += 1
                    ctx.set(dut.res_ready, ready)
                    if ctx.get(dut.res_valid) and ready:
                        beats.append((ctx.get(dut.res_data), ctx.get(dut.res_sat),
                                      ctx.get(dut.res_clip), ctx.get(dut.res_last)))
                        await ctx.tick()
                        if beats[-1][3]:
                            break
                    else:
                        await ctx.tick()
                    assert n < 10_000
                ctx.set(dut.res_ready, 0)
                res[4] = beats
                await ctx.tick()
                assert not ctx.get(dut.busy)
            out.append(res)

    _simulate_with_frontend(dut, tb, frontend)
    return out, trace


def unpack_stream(beats, width, lanes, lines):
    data, sat, clip = [], [], []
    for word, s, c, _ in beats:
        for i in range(lanes):
            v = (word >> (i * width)) & ((1 << width) - 1)
            data.append(v - (1 << width) if v >> (width - 1) else v)
            sat.append(bool((s >> i) & 1))
            clip.append(bool((c >> i) & 1))
    n = len(beats) * lanes
    assert all(d == 0 for d in data[lines:n]), "padding lanes must be zero"
    return np.array(data[:lines]), np.array(sat[:lines]), np.array(clip[:lines])


def _simulate_with_frontend(dut, tb, frontend):
    """Like amsim.simulate, plus the analog front-end as a background testbench."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.add_testbench(frontend, background=True)
    sim.run()


@pytest.mark.parametrize("lpa,lanes,latency", [(1, 4, 4), (4, 3, 2), (16, 5, 7)])
def test_adc_matches_reference_amaranth(lpa, lanes, latency):
    lines = 16
    cfg = TileConfig(in_size=16, out_size=16, lines_per_adc=lpa, adc_latency=latency,
                     result_bits=24)
    nx = rm.numerics(cfg)
    regs = rm.registers_from_config(cfg)
    rng = np.random.default_rng(lpa)
    passes = []
    for i in range(4):
        codes = random_codes(nx, lines, rng)
        alpha = int(rng.integers(0, nx.value_max + 2))
        p = rm.nm_params(nx, alpha, i % 3, regs["out_scale"])
        k = int(rng.integers(0, 16)) if i == 3 else i
        passes.append((codes, p["out_mul"], p["out_exp"], k, i != 1))
    out, trace = run_passes(cfg, lines, lanes, passes, latency=latency,
                            ready_pattern=[1, 0, 1, 1, 0] if lanes == 3 else None)
    expect_cycles = adc_read_cycles(cfg, latency=latency)
    # integrator: reset for reset_cycles, then integ_en for exactly the read window
    assert trace[:2] == [(1, 0), (0, 1)]      # cycle 1: reset; cycle 2: integrate
    assert sum(e for _, e in trace) == cfg.dac_max * cfg.converters.slot_cycles
    for (codes, om, oe, k, readout), (cycles, any_sat, nsat, timeout, beats) in zip(passes, out):
        y, sat, clip = ref_adc.adc_readout(cfg, codes, om, oe, k)
        assert cycles == expect_cycles
        assert any_sat == sat.any() and nsat == sat.sum() and not timeout
        if readout:
            assert len(beats) == stream_beats(lines, lanes)
            gy, gs, gc = unpack_stream(beats, nx.result_bits, lanes, lines)
            assert list(gy) == list(y) and list(gs) == list(sat) and list(gc) == list(clip)


def test_lines_per_adc_identical_results_and_time_formula():
    lines = 16
    rng = np.random.default_rng(3)
    nx = rm.numerics(TileConfig())
    codes = random_codes(nx, lines, rng)
    results, times = {}, {}
    for lpa in (1, 2, 8):
        cfg = TileConfig(in_size=16, out_size=16, lines_per_adc=lpa, result_bits=40)
        out, _ = run_passes(cfg, lines, 4, [(codes, 123456789, 3, 2, True)], latency=5)
        results[lpa] = list(unpack_stream(out[0][4], 40, 4, lines)[0])
        times[lpa] = out[0][0]
        assert times[lpa] == adc_read_cycles(cfg, latency=5)
    assert results[1] == results[2] == results[8]
    # each extra mux group costs one conversion (latency + 1 cycles)
    assert times[8] - times[1] == 7 * 6 and times[2] - times[1] == 6


def test_adc_timeout_flagged_and_never_hangs():
    cfg = TileConfig(in_size=8, out_size=8, lines_per_adc=2)
    nx = rm.numerics(cfg)
    codes = np.arange(8) - 4
    passes = [(codes, 1 << 30, 0, 0, True), (codes, 1 << 30, 0, 0, True)]
    out, _ = run_passes(cfg, 8, 4, passes, latency=3, silent_groups={(0, 1)})
    cycles, _, _, timeout, beats = out[0]
    assert timeout == 1
    y, _, _ = unpack_stream(beats, nx.result_bits, 4, 8)
    ref_y, _, _ = ref_adc.adc_readout(cfg, np.where(np.arange(8) >= 4, 0, codes), 1 << 30, 0, 0)
    assert list(y) == list(ref_y)                  # the silent group reads as 0
    assert cycles == adc_read_cycles(cfg, latency=3) + adc_timeout_cycles(cfg) - 3
    assert out[1][3] == 0                          # cleared by the next start


@pytest.mark.parametrize("kw,exc,message", [
    (dict(lines=6), ValueError, r"lines must be a multiple of lines_per_adc \(4\), not 6"),
    (dict(lines=8, lanes=0), ValueError, r"^lanes must be an integer in \[1, 64\], not 0$"),
    (dict(lines=8, reset_cycles="1"), TypeError, r"^reset_cycles must be an integer in \[1, 255\], not '1'$"),
    (dict(lines=8, timeout_cycles=0), ValueError, r"^timeout_cycles must be an integer in \[1, 1048576\], not 0$"),
])
def test_bad_parameters_rejected(kw, exc, message):
    with pytest.raises(exc, match=message):
        AdcInterface(TileConfig(in_size=8, out_size=8, lines_per_adc=4), **kw)


def test_cosim_adc_interface(sim, tmp_path, waves):
    cfg = TileConfig(in_size=24, out_size=24, lines_per_adc=4, adc_latency=3, result_bits=32)
    lanes = 5
    path = write_verilog(AdcInterface(cfg, 24, lanes=lanes), "rpu_adc_if", build_root() / "verilog")
    res = run_cocotb(sim=sim, verilog=path, toplevel="rpu_adc_if", test_module="rpu.testbench.tb_adc",
                     name="rpu_adc_if", waves=waves,
                     params=dict(config=cfg.to_dict(), lines=24, lanes=lanes, seed=11, passes=12))
    assert res.results["passes"] == 12
    assert res.results["cycles"] == adc_read_cycles(cfg)
    assert res.results["timeouts"] == 1


def test_read_path_rtl_matches_reference_with_bound_management():
    """NoiseManager → LaneScaler → (behavioural crossbar) → AdcInterface with BoundManager,
    glued by a Python controller, equals ref_management.read_path bit for bit, including
    the BM retries (a saturating W·x) and a give-up at the cap."""
    from amaranth import Module
    from amaranth.sim import Simulator

    from rpu.models import Crossbar
    from rpu.rtl.management import BoundManager, LaneScaler, NoiseManager

    n = 64
    cfg = TileConfig(in_size=n, out_size=8, lines_per_adc=2, adc_latency=2)
    nx = rm.numerics(cfg)
    lanes = 4
    rng = np.random.default_rng(17)
    W = rng.uniform(-0.1, 0.1, (8, n))
    W[0], W[2] = 0.6, -0.6         # |W·1| ≈ 64·0.5 (device bounds vary) ≈ 2.7 × the ±12 bound
    cases = [(rng.uniform(-1, 1, n), 0, 5), (np.ones(n), 1, 5), (np.ones(n) * 0.5, 2, 5),
             (np.ones(n), 1, 2), (rng.uniform(-0.01, 0.01, n), 1, 5), (np.zeros(n), 1, 5),
             (np.ones(n), 3, 1)]
    m = Module()
    m.submodules.nm = nm = NoiseManager(cfg)
    m.submodules.isc = isc = LaneScaler(cfg, lanes)
    m.submodules.bm = bm = BoundManager(cfg)
    m.submodules.adc = adc = AdcInterface(cfg, 8, lanes=lanes)
    m.d.comb += [isc.scale.eq(nm.in_scale >> bm.k), isc.limit.eq(nx.dac_max),
                 adc.out_mul.eq(nm.out_mul), adc.out_exp.eq(nm.out_exp), adc.bm_k.eq(bm.k)]
    regs = rm.registers_from_config(cfg)
    xb_rtl, xb_ref = Crossbar(cfg, seed=3), Crossbar(cfg, seed=3)
    xb_rtl.set_weights(W)
    xb_ref.set_weights(W)
    groups = ref_adc.adc_groups(8, cfg.converters.lines_per_adc)
    results = []
    state = {"codes": None}

    async def frontend(ctx):
        while True:
            if not ctx.get(adc.adc_start):
                await ctx.tick()
                continue
            sel = ctx.get(adc.adc_sel)
            await ctx.tick().repeat(cfg.converters.adc_latency)
            word = 0
            for a, c in enumerate(state["codes"][groups[sel]]):
                word |= (int(c) & ((1 << nx.adc_bits) - 1)) << (a * nx.adc_bits)
            ctx.set(adc.adc_codes, word)
            ctx.set(adc.adc_done, 1)
            await ctx.tick()
            ctx.set(adc.adc_done, 0)

    async def controller(ctx):
        ctx.set(nm.out_scale, regs["out_scale"])
        ctx.set(bm.enable, 1)
        for x, mode, cap in cases:
            xf = rm.to_fixed(cfg, x)
            ctx.set(nm.alpha, int(np.abs(xf).max()))
            ctx.set(nm.mode, mode)
            ctx.set(nm.start, 1)
            await ctx.tick()
            ctx.set(nm.start, 0)
            await ctx.tick().until(nm.done)
            ctx.set(bm.cap, cap)
            ctx.set(bm.begin, 1)
            await ctx.tick()
            ctx.set(bm.begin, 0)
            while True:
                dac = []
                await ctx.tick()                  # the scale follows bm.k one cycle later here
                for b in range(0, n, lanes):
                    word = 0
                    for i, v in enumerate(xf[b:b + lanes]):
                        word |= (int(v) & ((1 << nx.value_bits) - 1)) << (i * nx.value_bits)
                    ctx.set(isc.values, word)
                    await ctx.tick().repeat(isc.latency)
                    code = ctx.get(isc.codes)
                    for i in range(lanes):
                        c = (code >> (i * isc.code_bits)) & ((1 << isc.code_bits) - 1)
                        dac.append(c - (1 << isc.code_bits) if c >> (isc.code_bits - 1) else c)
                state["codes"] = xb_rtl.read_forward_pulses(np.array(dac))[0]
                await ctx.tick()
                ctx.set(adc.start, 1)
                await ctx.tick()
                ctx.set(adc.start, 0)
                await ctx.tick().until(adc.conv_done)
                ctx.set(bm.any_sat, ctx.get(adc.any_sat))
                ctx.set(bm.pass_done, 1)
                await ctx.tick()
                ctx.set(bm.pass_done, 0)
                if ctx.get(bm.accept):
                    break
                assert ctx.get(bm.retry)
            gave_up, passes = ctx.get(bm.gave_up), ctx.get(bm.passes)
            ctx.set(adc.readout, 1)
            await ctx.tick()
            ctx.set(adc.readout, 0)
            ctx.set(adc.res_ready, 1)
            beats = []
            while True:
                if ctx.get(adc.res_valid):
                    beats.append((ctx.get(adc.res_data), 0, 0, ctx.get(adc.res_last)))
                    await ctx.tick()
                    if beats[-1][3]:
                        break
                else:
                    await ctx.tick()
            ctx.set(adc.res_ready, 0)
            y = unpack_stream(beats, nx.result_bits, lanes, 8)[0]
            results.append((xf, mode, cap, y, passes, gave_up))
        assert ctx.get(bm.giveups_total) == sum(r[5] for r in results)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(controller)
    sim.add_testbench(frontend, background=True)
    sim.run()

    retried = gave_up = 0
    for xf, mode, cap, y, passes, gup in results:
        ref = rm.read_path(cfg, xf, xb_ref.read_forward_pulses,
                           regs=dict(regs, nm_mode=mode, bm_max_passes=cap))
        assert list(y) == list(ref.y_fixed) and passes == ref.passes and gup == ref.gave_up
        retried += ref.passes > 1
        gave_up += ref.gave_up
    assert retried >= 2 and gave_up >= 1, (retried, gave_up)
