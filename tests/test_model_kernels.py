"""The compiled (numba) kernels of the model update against slow, independent oracles:
coincidence enumeration, c2c draws, pulse application, host value and probability
quantisation, and the random streams.  Every comparison is exact (bit for bit), none is
statistical."""

import math

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models import Crossbar, c2c_normal
from rpu.models import crossbar as crossbar_mod
from rpu.models import ref_management as rm
from rpu.models.devices import UNIDIRECTIONAL_MODELS, _ratio
from rpu.models.ref_lfsr import LFSRModel
from rpu.models.ref_stochastic import UpdateStreamsModel
from rpu.spec.streams import D_TAPS, D_WIDTH, PHASES, X_TAPS, X_WIDTH, expand_seed, line_taps


# -- coincidences ---------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1 << 20, 300])
def test_coincidences_match_a_per_slot_oracle(monkeypatch, chunk):
    """Every a[t,i] ∧ b[t,j] exactly once, chunks in slot order, k = earlier pulses of the
    device in its chunk.  T = 150 > 64 slots: several chunks; chunk = 300 also splits the
    dense slots (more than 300 coincidences) by rows."""
    monkeypatch.setattr(crossbar_mod, "_CHUNK_ELEMS", chunk)
    rng = np.random.default_rng(3)
    slots, m, n = 150, 23, 31
    a = rng.random((slots, m)) < rng.uniform(0, 0.6, (slots, 1))
    b = rng.random((slots, n)) < rng.uniform(0, 0.6, (slots, 1))
    a[7:9], b[7:9] = True, True                       # 713 coincidences in one slot
    expect = sorted((t, i * n + j) for t in range(slots) for i in range(m) for j in range(n)
                    if a[t, i] and b[t, j])
    got, last_t = [], -1
    for flat, k, t in crossbar_mod.coincidences(a, b):
        assert t.min() >= last_t                      # chunks come in slot order
        assert np.all(np.diff(t) >= 0)                # and so do the pulses of a chunk
        last_t = t.max()
        seen = {}
        for f, kk in zip(flat.tolist(), k.tolist()):
            assert kk == seen.get(f, 0)               # k = earlier pulses of f in the chunk
            seen[f] = kk + 1
        got += list(zip(t.tolist(), flat.tolist()))
    assert sorted(got) == expect
    assert len(expect) > 1000


# -- c2c draws ------------------------------------------------------------------------------

def _c2c_oracle(key, device, ordinal):
    """The c2c hash and Box–Muller in plain numpy uint64/float32 arithmetic."""
    m1, m2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    gold, odd = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD6E8FEB86659FD93)

    def mix(z):
        z = (z ^ (z >> np.uint64(30))) * m1
        z = (z ^ (z >> np.uint64(27))) * m2
        return z ^ (z >> np.uint64(31))

    z = mix(mix(device.astype(np.uint64) * gold + np.uint64(key)) ^ (ordinal.astype(np.uint64) * odd))
    f32 = np.float32
    u1 = ((z >> np.uint64(40)).astype(f32) + f32(0.5)) * f32(2.0 ** -24)
    u2 = ((z >> np.uint64(16)) & np.uint64(0xFFFFFF)).astype(f32) * f32(2.0 ** -24)
    return np.sqrt(f32(-2.0) * np.log(u1)) * np.cos(f32(2.0 * np.pi) * u2)


def test_c2c_normal_matches_the_numpy_oracle():
    rng = np.random.default_rng(4)
    device = rng.integers(0, 1 << 24, 5000)
    ordinal = rng.integers(0, 1 << 40, 5000)
    for key in (0, 12345, (1 << 64) - 1):
        assert np.array_equal(c2c_normal(key, device, ordinal), _c2c_oracle(key, device, ordinal))


# -- pulses ---------------------------------------------------------------------------------

def _oracle_apply(dev, xp, xn, dp, dn):
    """Slot by slot, every coincidence of the slot at once (distinct devices), with the
    original per-pulse formulas: positive step, w ± step·(1 + σξ), clip."""
    c, f32 = dev.cfg, np.float32
    w = dev.w.copy().reshape(-1)
    sets, resets = dev.set_counts.copy().reshape(-1), dev.reset_counts.copy().reshape(-1)
    par = {k: getattr(dev, k).reshape(-1) for k in ("dw_up", "dw_down", "b_min", "b_max")}
    stuck = None if dev.stuck is None else dev.stuck.reshape(-1)
    n = xp.shape[1]
    for t in range(xp.shape[0]):
        for rows, cols, up in ((dn[t], xp[t], True), (dp[t], xn[t], False)):
            idx = (np.flatnonzero(rows)[:, None] * n + np.flatnonzero(cols)[None, :]).reshape(-1)
            if idx.size == 0:
                continue
            ordinal = sets[idx].astype(np.uint64) + resets[idx]
            (sets if up else resets)[idx] += 1
            keep = np.ones(idx.size, bool) if stuck is None else ~stuck[idx]
            if c.model in UNIDIRECTIONAL_MODELS and not up:
                keep[:] = False
            idx, ordinal = idx[keep], ordinal[keep]
            x, lo, hi = w[idx], par["b_min"][idx], par["b_max"][idx]
            dw = par["dw_up" if up else "dw_down"][idx]
            if c.model == "constant_step":
                step = dw
            elif c.model == "linear_step":
                slope = f32(_ratio(c.gamma_up, c.w_max) if up else _ratio(c.gamma_down, c.w_min))
                step = dw * (1 - slope * x)
            elif c.model == "soft_bounds":
                step = dw * (1 - x / (hi if up else lo))
            else:
                step = dw * np.exp(f32(-c.exp_a) * ((x - lo) / (hi - lo)))
            sigma = f32(c.dw_min_std)
            if sigma:
                step = step * (1 + sigma * _c2c_oracle(dev.key, idx, ordinal))
            x = x + step if up else x - step
            w[idx] = np.minimum(np.maximum(x, lo), hi)
    return w.reshape(dev.shape), sets.reshape(dev.shape), resets.reshape(dev.shape)


@pytest.mark.parametrize("model", ["constant_step", "linear_step", "soft_bounds", "exp_step"])
@pytest.mark.parametrize("stuck,sigma", [(0.0, 0.3), (0.1, 0.3), (0.0, 0.0)])
def test_pulses_match_a_per_slot_oracle(model, stuck, sigma):
    """Crossbar.apply_slots (coincidence kernel → rounds of one pulse per device) equals the
    slot-by-slot oracle bit for bit, with dense drives (many pulses per device and call),
    both polarities in one call, clipping at the bounds, stuck and unidirectional devices."""
    dev = DeviceConfig(model=model, dw_min=0.05, gamma_up=0.3, gamma_down=0.6, up_down=0.05,
                       stuck_prob=stuck, dw_min_std=sigma)
    cfg = TileConfig(in_size=24, out_size=16, device=dev)
    cb = Crossbar(cfg, seed=9)
    rng = np.random.default_rng(5)
    for _ in range(3):
        xs, ds = rng.integers(-1, 2, (70, 24)), rng.integers(-1, 2, (70, 16))
        xp, xn, dp, dn = xs > 0, xs < 0, ds > 0, ds < 0
        xp[:30], xn[:30], dp[:30], dn[:30] = xp[0], xn[0], dp[0], dn[0]    # repeat pulses
        w, sets, resets = _oracle_apply(cb.devices, xp, xn, dp, dn)
        cb.apply_slots(xp, xn, dp, dn)
        assert np.array_equal(cb.weights, w)
        assert np.array_equal(cb.pulse_counts[0], sets) and np.array_equal(cb.pulse_counts[1], resets)
    assert sets.max() > 30                                      # repeated pulses happened
    if model in ("constant_step", "linear_step"):               # and clipping at the bound
        free = True if cb.devices.stuck is None else ~cb.devices.stuck
        assert np.any((w == cb.devices.b_max) & free)


# -- management kernels ---------------------------------------------------------------------

def _to_fixed_oracle(v: float, frac: int, vmax: int) -> int:
    """Python floats and ints: round |v·2^F| half away from zero, saturate, apply the sign."""
    a = float(v) * (1 << frac)
    mag = min(math.floor(abs(a) + 0.5), vmax)
    return -mag if a < 0 else mag


@pytest.mark.parametrize("bits,frac", [(16, 12), (8, 2), (32, 31), (32, 0), (12, 5)])
def test_to_fixed_matches_a_python_oracle(bits, frac):
    """Halves, values an ulp either side of them, tiny, saturating and signed zeros; float32
    and integer inputs; the shape (a scalar stays a scalar); non-finite values refused."""
    cfg = TileConfig(value_bits=bits, value_frac_bits=frac)
    vmax, lsb = (1 << (bits - 1)) - 1, 2.0 ** -frac
    rng = np.random.default_rng(8)
    halves = (rng.integers(-50, 51, 300) + 0.5) * lsb
    v = np.concatenate([halves, np.nextafter(halves, 0), np.nextafter(halves, np.inf),
                        rng.normal(0, 1, 300), rng.normal(0, 3 * vmax * lsb, 100),
                        [0.0, -0.0, vmax * lsb, -vmax * lsb, 1e30, -1e30, 1e-300]])
    got = rm.to_fixed(cfg, v)
    assert got.dtype == np.int64 and got.shape == v.shape
    assert got.tolist() == [_to_fixed_oracle(a, frac, vmax) for a in v.tolist()]
    v32 = rng.uniform(-2, 2, 50).astype(np.float32)
    assert rm.to_fixed(cfg, v32).tolist() == [_to_fixed_oracle(a, frac, vmax) for a in v32.tolist()]
    assert rm.to_fixed(cfg, [3, -2]).tolist() == [_to_fixed_oracle(a, frac, vmax) for a in (3, -2)]
    assert rm.to_fixed(cfg, 0.75).shape == () and rm.to_fixed(cfg, 0.75) == _to_fixed_oracle(0.75, frac, vmax)
    assert rm.to_fixed(cfg, np.ones((2, 3))).shape == (2, 3)
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="finite"):
            rm.to_fixed(cfg, [0.5, bad])


def test_prob_codes_of_zero_values_under_a_wide_gain():
    """All-zero values give zero codes whatever the gain, also one beyond int64 (UM off with
    32-bit integer values: both gains are 2^66)."""
    cfg = TileConfig(in_size=8, out_size=6, value_bits=32, value_frac_bits=0, update_management=False)
    nx = rm.numerics(cfg)
    codes, clips = rm.prob_codes(nx, np.zeros(6, np.int64), nx.gain_max)
    assert codes.tolist() == [0] * 6 and not clips.any()
    uc = rm.update_codes(cfg, rm.to_fixed(cfg, np.linspace(-4, 4, 8)), np.zeros(6, np.int64))
    assert uc.gain_d >= 1 << 63 and uc.d_codes.tolist() == [0] * 6
    assert np.abs(uc.x_codes).max() == nx.prob_one          # any non-zero x clips at p = 1


def test_prob_code_check_refuses_every_out_of_range_code():
    from rpu.models.ref_stochastic import check_prob_codes
    ok = np.array([-256, 0, 256, 3])
    assert check_prob_codes("x_codes", ok, 4, 8).tolist() == ok.tolist()
    for bad in (257, -257, np.iinfo(np.int64).min):
        with pytest.raises(ValueError, match="x_codes magnitudes"):
            check_prob_codes("x_codes", np.array([0, bad, 0, 0]), 4, 8)
    with pytest.raises(TypeError):
        check_prob_codes("x_codes", np.zeros(4, bool), 4, 8)


# -- random streams -------------------------------------------------------------------------

def _draw_oracle(state: int, taps, prob_bits: int) -> int:
    r = 0
    for o in taps:
        r ^= (state >> o) & ((1 << prob_bits) - 1)
    return r


def test_fire_bits_match_an_lfsr_and_window_oracle():
    """rand_i = XOR of the line's state windows, the state leaping prob_bits shifts per slot
    (ref_lfsr's twin of the RTL LFSR), fire iff rand_i < mag_i."""
    pb, lines, slots = 6, 150, 25
    model = UpdateStreamsModel(x_lines=lines, d_lines=lines, prob_bits=pb, x_seed=77, d_seed=99)
    rng = np.random.default_rng(6)
    mag = rng.integers(-3, (1 << pb) + 5, lines)           # out-of-range magnitudes too
    xf, df = model.fire_bits(mag, mag, slots)
    for bits, width, taps, seed in ((xf, X_WIDTH, X_TAPS, 77), (df, D_WIDTH, D_TAPS, 99)):
        lfsr = LFSRModel(width, taps, pb, seed=expand_seed(seed, width))
        line_t = line_taps(width, pb, lines)
        state = lfsr.state
        for t in range(slots):
            expect = [_draw_oracle(state, line_t[i], pb) < mag[i] for i in range(lines)]
            assert bits[t].tolist() == expect
            state = lfsr.advance()


def test_phase_trains_are_the_raw_streams_masked_by_sign_group():
    cfg = TileConfig(in_size=40, out_size=30, bl=9)
    rng = np.random.default_rng(7)
    x, d = rng.integers(-200, 201, 40), rng.integers(-200, 201, 30)
    x[:3], d[:2] = 0, 0
    trains = UpdateStreamsModel(cfg).phase_trains(x, d, 9)
    xf, df = UpdateStreamsModel(cfg).fire_bits(np.abs(x), np.abs(d), 9 * len(trains))
    assert [t.phase for t in trains] == [0, 1, 2, 3]
    for k, t in enumerate(trains):
        sx, sd, pot = PHASES[t.phase]
        rows = slice(9 * k, 9 * k + 9)
        assert t.potentiate == pot
        assert np.array_equal(t.x_bits, xf[rows] & (np.sign(x) == sx))
        assert np.array_equal(t.d_bits, df[rows] & (np.sign(d) == sd))


@pytest.mark.parametrize("seed", [0, 7, 2026])
def test_compiled_normals_equal_numpy_pcg64(seed):
    """The fused read's compiled normals (kernels.pcg64_normals on a live PCG64's state)
    are numpy's ``standard_normal`` bit for bit, and leave the generator where numpy would:
    100,000 draws reach the ziggurat's tail (about 1 in 3,600) and its wedges, in pieces
    of several sizes; a generator stepped back after compiled draws (a refused row) is
    where it was before them."""
    from rpu.models import fused, kernels
    ours, theirs = np.random.PCG64(seed), np.random.PCG64(seed)
    view = fused.pcg64_state_view(ours)
    assert view is not None
    got = np.full(100_000, np.nan)
    at = 0
    for piece in (1, 7, 320, 1000, 98_672):
        kernels.pcg64_normals(view, got, at, piece)
        at += piece
    want = np.random.Generator(theirs).standard_normal(got.size)
    assert np.array_equal(got, want)
    assert ours.state == theirs.state
    assert np.sum(np.abs(want) > 3.6541528853610088) > 5      # the tail path was taken
    rng = np.random.Generator(ours)
    before = ours.state
    drawn = np.empty(500)
    kernels.pcg64_normals(view, drawn, 0, drawn.size)
    fused._step_back(rng, drawn)
    assert ours.state == before
    assert fused.pcg64_state_view(np.random.Philox(seed)) is None
