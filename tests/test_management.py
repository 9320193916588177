"""Management blocks: RTL vs reference under Amaranth's simulator, and the math they must meet."""

import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from rpu.config import TileConfig
from rpu.models import Crossbar
from rpu.models import ref_management as rm
from rpu.rtl.management import AbsMax, BoundManager, LaneScaler, NoiseManager, UpdateManager
from rpu.spec.timing import absmax_cycles, nm_cycles, scaler_cycles, um_cycles
from rpu.testbench.amsim import simulate, start_and_wait
from rpu.testbench.lanes import pack_lanes as pack, unpack_lanes as unpack


def simulate_comb(dut, tb):
    """Combinational blocks have no clock domain: run ``tb`` without one."""
    sim = Simulator(dut)
    sim.add_testbench(tb)
    sim.run()

CFGS = {
    "default": TileConfig(),
    "wide": TileConfig(value_bits=24, value_frac_bits=20, dac_bits=5, prob_bits=12,
                       result_bits=40, adc_bits=11, bl_max=63, bl=20, lr=0.003),
    "narrow": TileConfig(value_bits=8, value_frac_bits=0, dac_bits=3, prob_bits=4,
                         result_bits=12, adc_bits=4, out_bound=3.0),
}


def mixed_values(nx, n, rng):
    """Zeros, tiny (a few LSB), full-scale (both ends, incl. -2^(V-1)) and random values."""
    vmax = nx.value_max
    kind = rng.integers(0, 5, n)
    v = rng.integers(-vmax - 1, vmax + 1, n)
    v[kind == 0] = 0
    tiny = rng.integers(-8, 9, n)
    v[kind == 1] = tiny[kind == 1]
    v[kind == 2] = rng.choice([vmax, -vmax, -vmax - 1], n)[kind == 2]
    scale = rng.integers(0, nx.value_bits, n)
    v[kind == 3] = (v >> scale)[kind == 3]          # orders of magnitude below full scale
    return v





# -- RTL vs reference (Amaranth simulator) ---------------------------------------------------

@pytest.mark.parametrize("name,lanes", [("default", 3), ("narrow", 1), ("default", 4), ("narrow", 5)])
def test_absmax_matches_reference(name, lanes):
    """The max includes the last beat exactly absmax_cycles(lanes) cycles after it (not
    earlier: the cycle before still shows the previous value where they differ)."""
    nx = rm.numerics(CFGS[name])
    dut = AbsMax(lanes, nx.value_bits)
    lat = absmax_cycles(lanes)
    assert dut.latency == lat
    rng = np.random.default_rng(1)

    async def tb(ctx):
        for trial in range(8):
            vec = mixed_values(nx, 4 * lanes, rng)
            if trial % 2:
                vec[-lanes:] = nx.value_max + 1 if trial % 4 == 1 else 0   # the peak comes last
            ctx.set(dut.clear, 1)
            for b in range(0, len(vec), lanes):
                ctx.set(dut.data, pack(vec[b:b + lanes], nx.value_bits))
                ctx.set(dut.valid, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
            ctx.set(dut.valid, 0)
            want = int(np.abs(vec).max())
            if lat > 1:
                await ctx.tick().repeat(lat - 2)
                if trial % 4 == 1 and int(np.abs(vec[:-lanes]).max()) != want:
                    assert ctx.get(dut.max) != want       # not a cycle early
                await ctx.tick()
            assert ctx.get(dut.max) == want

    simulate(dut, tb)


async def _lane_scaler_stream(ctx, sc, nx, groups):
    """Stream every group's beats (a list of lane vectors) with its ``(scale, limit)`` through
    the lane scaler on consecutive cycles; returns each beat's (codes, clips)."""
    out = []
    lat = sc.latency
    for scale, limit, beats in groups:
        ctx.set(sc.scale, scale)
        ctx.set(sc.limit, limit)
        got = []
        for n in range(len(beats) + lat):
            if n < len(beats):
                ctx.set(sc.values, pack(beats[n], nx.value_bits))
            await ctx.tick()
            if n >= lat - 1 and len(got) < len(beats):
                got.append((unpack(ctx.get(sc.codes), sc.code_bits, sc.lanes),
                            [bool((ctx.get(sc.clip) >> i) & 1) for i in range(sc.lanes)]))
        out.append(got)
    return out


@pytest.mark.parametrize("name", list(CFGS))
def test_noise_manager_and_lane_scaler_match_reference(name):
    """NM outputs equal nm_params (plus in_scale = D·in_mul·2^(SH − in_shift)) in
    nm_cycles; the lane scaler, streamed at one beat per cycle with scale = in_scale >> k
    and limit D, gives the reference's input_codes after scaler_cycles."""
    cfg = CFGS[name]
    nx = rm.numerics(cfg)
    regs = rm.registers_from_config(cfg)
    lanes = 4
    nm = NoiseManager(cfg)
    sc = LaneScaler(cfg, lanes)
    assert sc.latency == scaler_cycles(cfg)
    rng = np.random.default_rng(2)
    alphas = [0, 1, 2, 3, 4, 5, nx.value_max, nx.value_max + 1] + list(
        rng.integers(1, nx.value_max, 6))
    groups, wants = [], []

    async def tb(ctx):
        ctx.set(nm.out_scale, regs["out_scale"])
        for mode in (0, 1, 2, 3):
            for alpha in alphas:
                ctx.set(nm.alpha, int(alpha) ^ 3)         # α counts only when it is sampled
                ctx.set(nm.mode, mode)
                cycles = await start_and_wait(ctx, nm, at={nm.alpha_delay: dict(alpha=int(alpha))})
                assert cycles == nm_cycles(cfg)
                ref = rm.nm_params(nx, int(alpha), mode, regs["out_scale"])
                got = {k: ctx.get(getattr(nm, k)) for k in ("in_mul", "in_shift", "out_mul", "out_exp")}
                assert got == {k: ref[k] for k in got}, (mode, alpha)
                assert ctx.get(nm.mode_error) == (mode == 3)
                in_scale = ctx.get(nm.in_scale)
                assert in_scale == (nx.dac_max * ref["in_mul"]) << (nx.gain_point - ref["in_shift"])
                # lane scaler: values no larger than alpha (alpha is their max)
                vec = mixed_values(nx, 4 * lanes, rng)
                vec = np.clip(vec, -int(alpha), int(alpha))
                vec[0] = (-alpha if alpha > nx.value_max else alpha) if mode else vec[0]
                for k in (0, 1, int(rng.integers(2, 16))):
                    want = rm.input_codes(nx, vec, ref["in_mul"], ref["in_shift"], k)
                    groups.append((in_scale >> k, nx.dac_max,
                                   [vec[b:b + lanes] for b in range(0, len(vec), lanes)]))
                    wants.append(want)
                    if mode in (1, 2) and alpha and k == 0:
                        # NM: the largest input drives full scale (abs_max exactly; pow2 ≥ D/2)
                        assert abs(want[0]) == nx.dac_max if mode == 1 else abs(want[0]) >= nx.dac_max // 2

    simulate(nm, tb)

    async def tb_scaler(ctx):
        # random vectors and NM parameters on top (any mode, any k)
        for _ in range(40):
            vec = mixed_values(nx, 2 * lanes, rng)
            alpha = max(1, int(np.abs(vec).max()))
            p = rm.nm_params(nx, alpha, int(rng.integers(0, 3)), 1 << 30)
            k = int(rng.integers(0, 16))
            scale = (nx.dac_max * p["in_mul"]) << (nx.gain_point - p["in_shift"])
            groups.append((scale >> k, nx.dac_max, [vec[:lanes], vec[lanes:]]))
            wants.append(rm.input_codes(nx, vec, p["in_mul"], p["in_shift"], k))
        got = await _lane_scaler_stream(ctx, sc, nx, groups)
        for beats, want in zip(got, wants):
            codes = [c for b in beats for c in b[0]]
            assert codes == list(want)
            assert all(not c for b in beats for c in b[1]) or max(abs(w) for w in want) == nx.dac_max

    simulate(sc, tb_scaler)


def test_bound_manager_matches_reference():
    cfg = TileConfig()
    dut = BoundManager(cfg)
    rng = np.random.default_rng(3)

    async def tb(ctx):
        total_passes = total_giveups = 0
        for cap in (0, 1, 2, 5, 16, 17, 31):
            for enable in (0, 1):
                for _ in range(4):
                    ref = rm.BoundState(cap=cap, enable=bool(enable))
                    ctx.set(dut.cap, cap)
                    ctx.set(dut.enable, enable)
                    ctx.set(dut.begin, 1)
                    await ctx.tick()
                    ctx.set(dut.begin, 0)
                    assert ctx.get(dut.cap_error) == ref.cap_error
                    p_sat = rng.uniform(0.3, 1.0)
                    for _ in range(40):
                        sat = bool(rng.random() < p_sat)
                        ctx.set(dut.any_sat, sat)
                        ctx.set(dut.pass_done, 1)
                        await ctx.tick()
                        ctx.set(dut.pass_done, 0)
                        retry = ref.pass_done(sat)
                        assert (ctx.get(dut.retry), ctx.get(dut.accept)) == (retry, not retry)
                        assert ctx.get(dut.k) == ref.k and ctx.get(dut.passes) == ref.passes
                        total_passes += 1
                        if not retry:
                            total_giveups += ref.gave_up
                            assert ctx.get(dut.gave_up) == ref.gave_up
                            break
                    else:
                        raise AssertionError("bound management did not stop")
                    assert ref.passes <= ref.cap
        assert ctx.get(dut.passes_total) == total_passes
        assert ctx.get(dut.giveups_total) == total_giveups
        ctx.set(dut.clear_counters, 1)
        await ctx.tick()
        assert ctx.get(dut.passes_total) == 0 and ctx.get(dut.giveups_total) == 0

    simulate(dut, tb)


def _um_cases(cfg, nx, rng):
    base = rm.registers_from_config(cfg)
    cases = []
    for um in (0, 1):
        for dyn in (0, 1):
            regs = dict(base, um_enable=um, dyn_bl=dyn)
            xs = [0, 1, nx.value_max + 1, nx.value_max, 3] + list(rng.integers(1, nx.value_max, 4))
            ds = [1, 0, nx.value_max + 1, 2, nx.value_max] + list(
                rng.integers(1, nx.value_max, 4) >> rng.integers(0, nx.value_bits - 1, 4))
            cases += [(regs, int(x), int(d)) for x, d in zip(xs, ds)]
    bad = [dict(base, bl=0), dict(base, bl=cfg.update.bl_max + 1), dict(base, bl_max=0),
           dict(base, bl_max=min(255, cfg.update.bl_max + 1)), dict(base, bl=5, bl_max=4),
           dict(base, dyn_bl=1, bl=0)]
    cases += [(r, min(1000, nx.value_max), min(200, nx.value_max // 3)) for r in bad]
    # a huge learning rate: BL capped, gradient clipped
    cases.append((dict(base, um_lr_dw=(1 << 32) - 1, um_c1=(1 << 32) - 1, dyn_bl=1), nx.value_max, nx.value_max))
    cases.append((dict(base, um_c=(1 << 32) - 1), nx.value_max, 5))
    return cases


@pytest.mark.parametrize("name", list(CFGS))
def test_update_manager_and_lane_scaler_match_reference(name):
    cfg = CFGS[name]
    nx = rm.numerics(cfg)
    lanes = 4
    dut = UpdateManager(cfg)
    rng = np.random.default_rng(4)
    cases = _um_cases(cfg, nx, rng)
    results = []

    async def tb(ctx):
        for regs, xm, dm in cases:
            for key in ("um_enable", "dyn_bl", "bl", "bl_max", "um_c", "um_c1", "um_lr_dw"):
                ctx.set(getattr(dut, key), regs[key])
            # the maxima count only from the cycle the manager samples them
            ctx.set(dut.x_max, nx.value_max - xm)
            ctx.set(dut.d_max, dm ^ 1)
            cycles = await start_and_wait(ctx, dut, at={dut.max_delay: dict(x_max=xm, d_max=dm)})
            assert cycles == um_cycles(cfg)
            ref = rm.um_gains(nx, xm, dm, regs)
            got = dict(gain_x=ctx.get(dut.gain_x), gain_d=ctx.get(dut.gain_d),
                       bl=ctx.get(dut.bl_out), bl_error=bool(ctx.get(dut.bl_error)))
            assert got == ref, (regs, xm, dm)
            results.append(ref)

    simulate(dut, tb)

    sc = LaneScaler(cfg, lanes)
    groups, wants = [], []
    for ref in results:
        for gain in (ref["gain_x"], ref["gain_d"]):
            vec = mixed_values(nx, 2 * lanes, rng)
            groups.append((gain, nx.prob_one, [vec[:lanes], vec[lanes:]]))
            wants.append(rm.prob_codes(nx, vec, gain))

    async def tb2(ctx):
        got = await _lane_scaler_stream(ctx, sc, nx, groups)
        for beats, (codes, clips) in zip(got, wants):
            assert [c for b in beats for c in b[0]] == list(codes)
            assert [c for b in beats for c in b[1]] == list(clips)

    simulate(sc, tb2)


# -- what the management must achieve (reference level) -------------------------------------

def test_to_fixed_rounds_half_away_and_saturates():
    cfg = TileConfig(value_bits=8, value_frac_bits=2)
    got = rm.to_fixed(cfg, [0.125, -0.125, 0.375, 100.0, -100.0, 0.1])
    assert list(got) == [1, -1, 2, 127, -127, 0]
    assert np.allclose(rm.from_fixed(cfg, got[:3]), [0.25, -0.25, 0.5])


def _crossbar(cfg, W, seed):
    """The behavioural crossbar programmed with W; returns (its pulse read, the W it holds)."""
    xb = Crossbar(cfg, seed=seed)
    xb.set_weights(W)
    return xb.read_forward_pulses, xb.weights.astype(np.float64)


def _rms_error(cfg, W, xs, seed):
    read, Wt = _crossbar(cfg, W, seed)
    e = []
    for x in xs:
        xf = rm.to_fixed(cfg, x)
        e.append(rm.read_path(cfg, xf, read).y - Wt @ rm.from_fixed(cfg, xf))
    return float(np.sqrt(np.mean(np.square(e)))), Wt


def test_noise_management_raises_resolution():
    """Small inputs (|x| ≤ 0.01) read through the behavioural crossbar.

    Error model (normalised units, independent terms): y_err² = s²·(σ_out² + lsb_adc²/12)
    + Σ_j W_ij²·e_j², with s the output scale and e_j the DAC rounding error of input j in
    host units.  abs_max: s = α = max|x| and e_j ≈ α/(D·√12) (inputs fill the DAC);
    off: s = 1 and e_j = x_j − round(x_j·D)/D (x·D ≈ ±0.6: most inputs round to 0 or ±1).
    The measured RMS errors must match both predictions within ±25 % (200 reads × 32
    lines: the RMS estimate itself scatters by ~1 %; the rest covers the uniform-rounding
    approximation), hence the improvement factor is the predicted one (~100)."""
    cfg = TileConfig(in_size=32, out_size=32, value_bits=24, value_frac_bits=20,
                     bound_management=False)
    nx = rm.numerics(cfg)
    rng = np.random.default_rng(5)
    W = rng.uniform(-0.3, 0.3, (32, 32))
    xs = [rng.uniform(-0.01, 0.01, 32) for _ in range(200)]
    err_nm, Wt = _rms_error(cfg.replace(noise_management="abs_max"), W, xs, 6)
    err_off, _ = _rms_error(cfg.replace(noise_management="off"), W, xs, 6)
    w2 = float(np.mean(np.sum(Wt ** 2, 1)))
    conv = cfg.io.out_noise ** 2 + cfg.adc_lsb ** 2 / 12
    alpha2 = float(np.mean([np.abs(x).max() ** 2 for x in xs]))
    pred_nm = math.sqrt(alpha2 * (conv + w2 / (12 * nx.dac_max ** 2)))
    e_off = np.concatenate([x - np.round(x * nx.dac_max) / nx.dac_max for x in xs])
    pred_off = math.sqrt(conv + w2 * float(np.mean(e_off ** 2)))
    assert 0.8 < err_nm / pred_nm < 1.25, (err_nm, pred_nm)
    assert 0.8 < err_off / pred_off < 1.25, (err_off, pred_off)
    assert err_off / err_nm > 50


def test_pow2_noise_management_between_off_and_exact():
    """pow2 scales by 2^e ≥ α, so the inputs use between half and all of the DAC range:
    its error lies between exact abs-max and twice it (plus margin), far below off."""
    cfg = TileConfig(in_size=16, out_size=16, value_bits=24, value_frac_bits=20)
    rng = np.random.default_rng(7)
    W = rng.uniform(-0.3, 0.3, (16, 16))
    xs = [rng.uniform(-0.003, 0.003, 16) for _ in range(150)]
    err = {mode: _rms_error(cfg.replace(noise_management=mode), W, xs, 8)[0]
           for mode in ("off", "pow2", "abs_max")}
    assert err["abs_max"] <= err["pow2"] < 2.5 * err["abs_max"] < err["off"], err


def test_bound_management_recovers_after_predicted_passes():
    """All inputs at 1 against rows of ±0.4: |W·x| ≈ 25.6 exceeds the ±12 bound; the predicted
    number of passes is 1 + ceil(log2(max|W·x| / bound)) (bound = adc_max·lsb)."""
    cfg = TileConfig(in_size=64, out_size=8)
    nx = rm.numerics(cfg)
    rng = np.random.default_rng(9)
    W = np.full((8, 64), 0.4) * rng.choice([-1, 1], (8, 1))
    W[1] *= 0.1                           # one unsaturated row
    read, Wt = _crossbar(cfg, W, 10)
    xf = rm.to_fixed(cfg, np.ones(64))
    r = rm.read_path(cfg, xf, read)
    truth = Wt @ rm.from_fixed(cfg, xf)
    bound = nx.adc_max * cfg.adc_lsb
    predicted = 1 + math.ceil(math.log2(np.abs(truth).max() / bound))
    assert predicted == 3
    assert r.passes == predicted and not r.gave_up and r.k == predicted - 1
    assert not r.saturated.any()
    # within noise: 4σ_out·2^k plus half an ADC step and the DAC step of the halved input
    tol = 2 ** r.k * (4 * cfg.io.out_noise + cfg.adc_lsb) + np.abs(Wt).sum(1).max() / nx.dac_max
    assert np.all(np.abs(r.y - truth) < tol), (r.y - truth, tol)
    # cap below the prediction: gives up at the cap, result saturated
    regs = dict(rm.registers_from_config(cfg), bm_max_passes=2)
    r2 = rm.read_path(cfg, xf, read, regs=regs)
    assert r2.passes == 2 and r2.gave_up and r2.saturated.any()
    # backward never retries
    read_b = Crossbar(cfg.replace(in_size=8, out_size=64), seed=1)
    read_b.set_weights(W.T)
    r3 = rm.read_path(cfg, xf, read_b.read_backward_pulses, backward=True)
    assert r3.passes == 1 and not r3.gave_up and r3.saturated.any()


def test_update_management_balances_peaks_and_keeps_product():
    cfg = TileConfig(in_size=32, out_size=32, value_bits=24, value_frac_bits=20)
    nx = rm.numerics(cfg)
    rng = np.random.default_rng(11)
    for trial in range(50):
        x = rng.uniform(-1, 1, 32) * 10.0 ** rng.uniform(-2, 0)
        d = rng.uniform(-1, 1, 32) * 10.0 ** rng.uniform(-4, -1)
        xf, df = rm.to_fixed(cfg, x), rm.to_fixed(cfg, d)
        u = rm.update_codes(cfg, xf, df)
        px, pd = np.abs(u.x_codes).max(), np.abs(u.d_codes).max()
        assert abs(int(px) - int(pd)) <= 1, (trial, px, pd)
        # the common peak P = C·sqrt(x_max·d_max), quantised
        peak = cfg.c_scale * math.sqrt(u.x_max * u.d_max) / 2 ** nx.frac_bits * nx.prob_one
        if peak < nx.prob_one:
            assert abs(px - peak) <= 1 and u.clipped == 0
        # products p_x·p_d ≈ C²|x||d| (the point of keeping C_x·C_d = C²)
        j, i = np.argmax(np.abs(xf)), np.argmax(np.abs(df))
        want = cfg.c_scale ** 2 * abs(xf[j] * df[i]) / 2 ** (2 * nx.frac_bits)
        got = abs(u.x_codes[j] * u.d_codes[i]) / nx.prob_one ** 2
        if want < 1:
            # each side is quantised to ±1/2 code: |Δ(p_x·p_d)| ≤ (½(q_x + q_d) + ¼) / 2^(2P)
            qx, qd = abs(int(u.x_codes[j])), abs(int(u.d_codes[i]))
            assert abs(got - want) <= (0.5 * (qx + qd) + 0.26) / nx.prob_one ** 2


def test_update_management_off_is_plain_rule():
    cfg = TileConfig(update_management=False, value_bits=24, value_frac_bits=20, lr=0.0037)
    nx = rm.numerics(cfg)
    rng = np.random.default_rng(12)
    x = rng.uniform(-1.5, 1.5, 64)
    d = rng.uniform(-0.1, 0.1, 64)
    xf, df = rm.to_fixed(cfg, x), rm.to_fixed(cfg, d)
    u = rm.update_codes(cfg, xf, df)
    for vf, codes in ((xf, u.x_codes), (df, u.d_codes)):
        p = cfg.c_scale * np.abs(vf) / 2 ** nx.frac_bits * nx.prob_one
        plain = np.sign(vf) * np.minimum(np.floor(p + 0.5), nx.prob_one)
        # C is a 20-bit-fraction register: exact up to a rare half-way tie
        assert np.sum(codes != plain) <= 1
        assert np.all(np.abs(codes - plain) <= 1)


def test_dynamic_bl_follows_formula_and_clips_gradient():
    cfg = TileConfig(dynamic_bl=True, value_bits=24, value_frac_bits=20, lr=0.05)
    nx = rm.numerics(cfg)
    rng = np.random.default_rng(13)
    for trial in range(60):
        x = rng.uniform(-1, 1, 16) * 10.0 ** rng.uniform(-1.5, 0.3)
        d = rng.uniform(-1, 1, 16) * 10.0 ** rng.uniform(-2.5, 0)
        xf, df = rm.to_fixed(cfg, x), rm.to_fixed(cfg, d)
        u = rm.update_codes(cfg, xf, df)
        k = cfg.update.lr * u.x_max * u.d_max / 2 ** (2 * nx.frac_bits) / cfg.device.dw_min
        want = min(cfg.update.bl_max, max(1, math.ceil(k - 1e-9)))
        assert u.bl == want or (abs(k - round(k)) < 1e-4 and abs(u.bl - want) <= 1), (k, u.bl)
        if k > cfg.update.bl_max * 1.01:
            # cap hit: x peak at p = 1, d lines clipped (counted), product capped
            assert np.abs(u.x_codes).max() == nx.prob_one
            assert u.clipped >= 1 and u.d_clip.any() and not u.x_clip.any()
        elif k < cfg.update.bl_max * 0.99:
            assert u.clipped == 0


@pytest.mark.parametrize("bad", [dict(bl=0), dict(bl=40), dict(bl_max=0), dict(bl=9, bl_max=8)])
def test_bad_bl_registers_flagged_and_silent(bad):
    cfg = TileConfig()
    regs = dict(rm.registers_from_config(cfg), **bad)
    u = rm.update_codes(cfg, np.array([4096, -100]), np.array([50, -3]), regs=regs)
    assert u.bl_error and not np.any(u.x_codes) and not np.any(u.d_codes)


def test_registers_out_of_range_rejected():
    with pytest.raises(ValueError, match="um_lr_dw"):
        rm.registers_from_config(TileConfig(lr=100.0, device=TileConfig().device.replace(dw_min=1e-5)))
    with pytest.raises(TypeError, match="cfg"):
        rm.numerics({"in_size": 4})


@pytest.mark.parametrize("cls,args,exc", [
    (LaneScaler, (TileConfig(), 0), ValueError), (LaneScaler, (TileConfig(), "4"), TypeError),
    (NoiseManager, ("cfg",), TypeError), (AbsMax, (2, 1), ValueError),
    (UpdateManager, (TileConfig(),), None),
])
def test_bad_parameters_rejected(cls, args, exc):
    if exc is None:
        cls(*args)
        return
    with pytest.raises(exc):
        cls(*args)


@pytest.mark.parametrize("name", ["default", "wide"])
def test_cosim_management_units(sim, tmp_path, waves, name):
    from rpu.rtl.generate import write_verilog
    from rpu.testbench.harness import ManagementUnits
    from rpu.testbench.simulators import build_root, run_cocotb
    cfg = CFGS[name]
    lanes = 4
    top = f"rpu_mgmt_{name}"
    path = write_verilog(ManagementUnits(cfg, lanes), top, build_root() / "verilog")
    res = run_cocotb(sim=sim, verilog=path, toplevel=top, test_module="rpu.testbench.tb_management",
                     name=top, waves=waves,
                     params=dict(config=cfg.to_dict(), lanes=lanes, length=18, trials=24, seed=21))
    assert res.results["read_trials"] == 24 and res.results["update_trials"] == 24
    assert res.results["bm_giveups"] >= 1          # the random caps include give-ups


def test_flag_counter_counts_and_saturates():
    from rpu.rtl.management import FlagCounter
    dut = FlagCounter(5, width=5)
    rng = np.random.default_rng(14)

    async def tb(ctx):
        want, peak = 0, 0
        for step in range(60):
            flags, valid = int(rng.integers(0, 32)), int(rng.random() < 0.7)
            clear = int(step == 30)
            ctx.set(dut.flags, flags)
            ctx.set(dut.valid, valid)
            ctx.set(dut.clear, clear)
            await ctx.tick()
            want = min(31, (0 if clear else want) + (bin(flags).count("1") if valid else 0))
            assert ctx.get(dut.count) == want
            peak = max(peak, want)
        assert peak == 31           # saturated before the clear (30 beats × 0.7 × 2.5 flags ≈ 52)

    simulate(dut, tb)


def test_prob_codes_vectorised_matches_scalar_rounding():
    """The vectorised int64 path and the wide Python-int path agree with the scalar rule."""
    from rpu.models.ref_management import _round_shift, numerics, prob_codes
    cfg = TileConfig()
    nx = numerics(cfg)
    rng = np.random.default_rng(5)
    v = rng.integers(-(1 << 15), 1 << 15, size=500)
    for gain in (1, 12345, nx.gain_max, 1 << 50):
        codes, clips = prob_codes(nx, v, gain)
        for val, code, clip in zip(v.tolist(), codes.tolist(), clips.tolist()):
            mag = _round_shift(abs(val) * gain, nx.gain_point)
            assert clip == (mag > nx.prob_one)
            assert code == (-1 if val < 0 else 1) * min(mag, nx.prob_one)
