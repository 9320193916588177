"""Stochastic pulse bank: bit-exact against the reference (Amaranth simulator and cocotb),
parameter checks, random-source structure."""

import numpy as np
import pytest

from rpu.models.ref_lfsr import LFSRModel
from rpu.models.ref_stochastic import UpdateStreamsModel, active_phases, lfsr_states
from rpu.spec.streams import D_TAPS, D_WIDTH, X_TAPS, X_WIDTH, expand_seed, line_taps
from rpu.spec.timing import pulser_cycles
from rpu.rtl.generate import write_verilog
from rpu.rtl.stochastic import UpdatePulser
from rpu.testbench.amsim import simulate
from rpu.testbench.simulators import run_cocotb


def _bits(value, n):
    return np.array([(value >> i) & 1 for i in range(n)], dtype=bool)


async def load_side(ctx, dut, side, codes, lanes, cw):
    valid, data = getattr(dut, f"{side}_load_valid"), getattr(dut, f"{side}_load_data")
    mask = (1 << cw) - 1
    ctx.set(valid, 1)
    for k in range(-(-len(codes) // lanes)):
        word = 0
        for l in range(lanes):
            i = k * lanes + l
            if i < len(codes):
                word |= (int(codes[i]) & mask) << (l * cw)
        ctx.set(data, word)
        await ctx.tick()
    ctx.set(valid, 0)


async def run_update(ctx, dut, bl, slot_cycles, commit=True):
    """Start one update; return (drives per slot as int tuples, cycles start→done incl.)."""
    ctx.set(dut.bl, bl)
    ctx.set(dut.commit, int(commit))
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.commit, 0)
    ctx.set(dut.start, 0)
    slots, cycles = [], 1
    while not ctx.get(dut.done):
        assert ctx.get(dut.busy)
        cur = (ctx.get(dut.x_pos), ctx.get(dut.x_neg), ctx.get(dut.d_pos), ctx.get(dut.d_neg),
               ctx.get(dut.phase), ctx.get(dut.slot))
        if (cycles - 1) % slot_cycles == 0:
            slots.append(cur)
        else:
            assert cur == slots[-1], "drives must hold for a whole slot"
        await ctx.tick()
        cycles += 1
        assert cycles < 10_000
    assert not ctx.get(dut.busy) and ctx.get(dut.x_pos) == 0 and ctx.get(dut.d_neg) == 0
    return slots, cycles


def compare(slots, ref, n, m):
    assert len(slots) == len(ref.phase), f"{len(slots)} slots, reference {len(ref.phase)}"
    for t, (xp, xn, dp, dn, ph, sl) in enumerate(slots):
        for got, want, w, name in ((xp, ref.x_pos, n, "x_pos"), (xn, ref.x_neg, n, "x_neg"),
                                   (dp, ref.d_pos, m, "d_pos"), (dn, ref.d_neg, m, "d_neg")):
            np.testing.assert_array_equal(_bits(got, w), want[t], err_msg=f"slot {t} {name}")
        assert (ph, sl) == (ref.phase[t], ref.slot[t]), f"slot {t}"


CONFIGS = [
    # x_lines, d_lines, prob_bits, bl_max, slot_cycles, lanes, seeds
    (8, 5, 8, 31, 1, 1, (0x1234ABCD, 0x0BADF00D)),
    (13, 16, 4, 7, 3, 4, (1, 2)),
    (40, 33, 12, 10, 1, 3, (0xFFFFFFFF, 0x80000000)),
    (3, 2, 2, 5, 2, 2, (77, 78)),
    (1, 2, 16, 3, 1, 4, (0xFFFF, 0x10000)),          # lanes > lines, prob_bits 16
]


@pytest.mark.parametrize("n,m,pb,bl_max,sc,lanes,seeds", CONFIGS)
def test_bit_exact_amaranth(n, m, pb, bl_max, sc, lanes, seeds):
    dut = UpdatePulser(n, m, pb, bl_max, slot_cycles=sc, lanes=lanes)
    model = UpdateStreamsModel(x_lines=n, d_lines=m, prob_bits=pb, bl_max=bl_max)
    rng = np.random.default_rng(n * 1000 + m)
    one = 1 << pb
    bl_full = min(bl_max, 6)
    cases = [
        (rng.integers(-one, one + 1, n), rng.integers(-one, one + 1, m), bl_full),
        # codes 0 and ±max (p = 1) everywhere, all four phases
        (np.resize([one, -one, 0], n), np.resize([-one, one, 0, 1], m), bl_max),
        (np.zeros(n, int), rng.integers(-one, one + 1, m), 3),        # nothing to do
        (np.full(n, one - 1), np.full(m, -one), 2),                       # phase 0 only
        (np.abs(rng.integers(-one, one + 1, n)), rng.integers(-one, one + 1, m), 0),  # BL 0
        (rng.integers(-one, one + 1, n), rng.integers(-one, one + 1, m), 1),
    ]

    async def tb(ctx):
        ctx.set(dut.x_seed, seeds[0])
        ctx.set(dut.d_seed, seeds[1])
        ctx.set(dut.seed_load, 1)
        await ctx.tick()
        ctx.set(dut.seed_load, 0)
        assert ctx.get(dut.seed_zero) == 0
        model.load_seeds(*seeds)
        for k, (xc, dc, bl) in enumerate(cases):
            await load_side(ctx, dut, "x", xc, lanes, pb + 2)
            await load_side(ctx, dut, "d", dc, lanes, pb + 2)
            same_cycle = k % 2 == 0          # odd cases: commit one cycle before start
            if not same_cycle:
                ctx.set(dut.commit, 1)
                await ctx.tick()
                ctx.set(dut.commit, 0)
            slots, cycles = await run_update(ctx, dut, bl, sc, commit=same_cycle)
            compare(slots, model.drives(xc, dc, bl), n, m)
            phases = len(active_phases(xc, dc)) if bl else 0
            assert cycles == pulser_cycles(phases, bl, sc)
            assert ctx.get(dut.bl_zero) == (bl == 0)
        # (the cases run back to back on one generator state: carry-over is checked too)

    simulate(dut, tb)


# -- generated Verilog under both simulators -------------------------------------------------

COSIM = dict(x_lines=64, d_lines=64, prob_bits=8, bl_max=31, slot_cycles=1, lanes=4)


def run_update_bench(sim, tmp_path, updates, seeds=(0x1234ABCD, 0x0BADF00D), waves=False):
    """Run ``tb_stochastic`` on the 64 × 64 bank (one build per simulator)."""
    dut = UpdatePulser(**COSIM)
    path = write_verilog(dut, "update_pulser64", tmp_path)
    params = dict(kind="update", seeds=list(seeds), updates=updates, **COSIM)
    return run_cocotb(sim=sim, verilog=path, toplevel="update_pulser64", name="update_pulser64",
                      test_module="rpu.testbench.tb_stochastic", params=params, waves=waves)


def test_cosim_update_bit_exact_and_stream_statistics(sim, tmp_path, waves):
    """Generated 64-line bank, one run per simulator (the bench asserts every slot):
    * a few hundred slots bit-exact with random signed codes, 0 and ±p=1 codes, an empty
      update, BL 0 and BL = bl_max, back-to-back timing;
    * then 323 updates × 31 slots (phase 0: x > 0, d < 0) whose RTL streams must pass the
      binomial rate, pairwise coincidence and x/d correlation bounds of
      tests/test_stream_statistics.py."""
    from test_stochastic_statistics import check_coincidences, check_rates, stat_codes
    rng = np.random.default_rng(4)
    one, n = 1 << COSIM["prob_bits"], COSIM["x_lines"]
    updates = []
    for bl in (10, 31, 0, 3, 7, 1, 31, 25):
        updates.append(dict(x=rng.integers(-one, one + 1, n).tolist(),
                            d=rng.integers(-one, one + 1, n).tolist(), bl=bl))
    updates.insert(2, dict(x=[0] * n, d=rng.integers(-one, one + 1, n).tolist(), bl=10))
    updates.append(dict(x=np.resize([one, -one, 0], n).tolist(),
                        d=np.resize([-one, one, 0, 5], n).tolist(), bl=20))
    exact_slots = sum(len(active_phases(u["x"], u["d"])) * u["bl"] for u in updates)
    assert exact_slots > 300
    sx, sd = stat_codes(64, 64, 8, np.random.default_rng(64))
    stat_updates, stat_slots = 323, 323 * 31
    updates.append(dict(x=sx.tolist(), d=(-sd).tolist(), bl=31, repeat=stat_updates))
    res = run_update_bench(sim, tmp_path, updates, waves=waves)
    assert res.results["slots"] == exact_slots + stat_slots
    # back to back: the next update starts in the done cycle of the previous one, unless
    # loading its 64/lanes beats (which starts with the previous start) takes longer
    beats = COSIM["x_lines"] // COSIM["lanes"]
    assert res.results["periods"] == [max(c, beats) for c in res.results["op_cycles"][:-1]]
    drv = np.load(res.results["drives_file"])
    a, b = drv["x_pos"][exact_slots:], drv["d_neg"][exact_slots:]
    assert a.shape == (stat_slots, 64)
    assert not drv["x_neg"][exact_slots:].any() and not drv["d_pos"][exact_slots:].any()
    p, q = sx / one, sd / one
    check_rates(a, p)
    check_rates(b, q)
    check_coincidences(a, b, p, q)


# -- parameters, seeds, generator structure ----------------------------------------------------

@pytest.mark.parametrize("bad,exc,match", [
    (dict(x_lines=0), ValueError, "x_lines"),
    (dict(d_lines=4097), ValueError, "d_lines"),
    (dict(prob_bits=1), ValueError, "prob_bits"),
    (dict(prob_bits=17), ValueError, "prob_bits"),
    (dict(bl_max=0), ValueError, "bl_max"),
    (dict(bl_max=256), ValueError, "bl_max"),
    (dict(slot_cycles=0), ValueError, "slot_cycles"),
    (dict(lanes=0), ValueError, "lanes"),
    (dict(prob_bits=8.0), TypeError, "prob_bits"),
    (dict(x_lines=True), TypeError, "x_lines"),
])
def test_bad_parameters_rejected(bad, exc, match):
    args = dict(x_lines=8, d_lines=8, prob_bits=8, bl_max=31) | bad
    with pytest.raises(exc, match=match):
        UpdatePulser(**args)
    if match in ("x_lines", "d_lines", "prob_bits", "bl_max"):
        with pytest.raises(exc, match=match):
            UpdateStreamsModel(**{k: v for k, v in args.items() if k not in ("slot_cycles", "lanes")})


def test_model_rejects_bad_seeds_codes_and_bl():
    model = UpdateStreamsModel(x_lines=4, d_lines=3, prob_bits=8, bl_max=10)
    with pytest.raises(ValueError, match="x_seed"):
        model.load_seeds(0, 5)
    with pytest.raises(ValueError, match="d_seed"):
        model.load_seeds(5, 1 << 32)
    with pytest.raises(ValueError, match="x_codes"):
        model.phase_trains(np.array([257, 0, 0, 0]), np.zeros(3, int), 5)
    with pytest.raises(TypeError, match="d_codes"):
        model.phase_trains(np.zeros(4, int), np.zeros(4, int), 5)
    with pytest.raises(ValueError, match="bl"):
        model.phase_trains(np.ones(4, int), np.ones(3, int), 11)
    assert model.phase_trains(np.ones(4, int), -np.ones(3, int), 0) == []   # BL 0: nothing


def test_rtl_zero_seed_refused_and_flagged():
    dut = UpdatePulser(4, 4, 8, 7)
    model = UpdateStreamsModel(x_lines=4, d_lines=4, prob_bits=8, bl_max=7)
    x, d = np.array([256, 100, -3, 0]), np.array([-256, 7, 0, 200])

    async def tb(ctx):
        ctx.set(dut.x_seed, 0x77)
        ctx.set(dut.d_seed, 0x88)
        ctx.set(dut.seed_load, 1)
        await ctx.tick()
        ctx.set(dut.x_seed, 0)              # x refused (keeps 0x77), d loads 0x99
        ctx.set(dut.d_seed, 0x99)
        await ctx.tick()
        ctx.set(dut.seed_load, 0)
        assert ctx.get(dut.seed_zero) == 1
        model.load_seeds(0x77, 0x99)
        await load_side(ctx, dut, "x", x, 1, 10)
        await load_side(ctx, dut, "d", d, 1, 10)
        slots, _ = await run_update(ctx, dut, 7, 1)
        compare(slots, model.drives(x, d, 7), 4, 4)
        ctx.set(dut.x_seed, 5)
        ctx.set(dut.seed_load, 1)
        await ctx.tick()
        assert ctx.get(dut.seed_zero) == 0

    simulate(dut, tb)


@pytest.mark.parametrize("width,taps,pb", [(X_WIDTH, X_TAPS, 8), (D_WIDTH, D_TAPS, 5)])
def test_fast_lfsr_stepping_matches_ref_lfsr(width, taps, pb):
    """The model's per-slot states equal rtl/lfsr.py's twin (same masks as the RTL)."""
    seed = expand_seed(0xDEADBEEF, width)
    states, after = lfsr_states(seed, width, taps, pb, 300)
    ref = LFSRModel(width, taps, pb, seed=seed)
    assert int(states[0]) == seed
    for s in states[1:]:
        assert int(s) == ref.advance()
    assert after == ref.advance()


@pytest.mark.parametrize("side,width,taps", [(0, X_WIDTH, X_TAPS), (1, D_WIDTH, D_TAPS)])
@pytest.mark.parametrize("pb", [2, 5, 8, 10, 11, 16])
def test_fused_lfsr_leap_matches_jump_tables(side, width, taps, pb):
    """The fused kernel's shift-form leap (chunks of at most min(taps) shifts; pb 10/11/16
    cross the d side's chunk of 10) gives the jump tables' states, full width."""
    from rpu.models.kernels import lfsr_leap_states
    for seed in (expand_seed(0xDEADBEEF, width), (1 << width) - 1, 1):
        want, after = lfsr_states(seed, width, taps, pb, 200)
        got, nxt = lfsr_leap_states(np.uint64(seed), side, pb, 200)
        assert np.array_equal(got, want) and int(nxt) == after


def test_seed_expansion_is_injective_and_nonzero():
    for width in (X_WIDTH, D_WIDTH):
        seen = {expand_seed(s, width) for s in list(range(1, 2000)) + [0xFFFFFFFF, 1 << 31]}
        assert len(seen) == 2001 and 0 not in seen
        assert all(bin(expand_seed(s, width)).count("1") > 12 for s in (1, 2, 4, 3))


def test_line_taps_structure():
    taps = line_taps(X_WIDTH, 8, 4096)
    assert len(set(taps)) == 4096
    assert all(1 <= len(t) <= 4 and max(t) + 8 <= X_WIDTH for t in taps)
    with pytest.raises(ValueError, match="lines"):
        line_taps(24, 12, 4096)
