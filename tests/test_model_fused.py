"""The fused update (one compiled call per update or batch, tile-owned workspaces) against
the general path, bit for bit, whatever the thread count; its exact transcendentals and
wide-integer management against numpy and the Python-int reference; no allocation."""

import tracemalloc

import numpy as np
import pytest

from rpu.config import DeviceConfig, TileConfig
from rpu.models import TileReference, fused, get_threads, set_threads
from rpu.models import kernels as K
from rpu.models import ref_management as rm
from rpu.spec.formats import numerics


def test_log_and_cos_equal_numpy_on_every_c2c_input():
    """All 2^24 u1 = (k + ½)·2^-24 and all 2^24 θ = (k·2^-24)·2π the c2c draw can produce."""
    k = np.arange(1 << 24, dtype=np.float32)
    u1 = (k + np.float32(0.5)) * np.float32(2.0 ** -24)
    theta = (k * np.float32(2.0 ** -24)) * np.float32(2.0 * np.pi)
    ln, cs = np.empty_like(u1), np.empty_like(theta)
    K.log_cos_of(u1, theta, ln, cs)
    assert np.array_equal(ln.view(np.uint32), np.log(u1).view(np.uint32))
    assert np.array_equal(cs.view(np.uint32), np.cos(theta).view(np.uint32))
    assert K.numpy_transcendentals_match()


CASES = {
    "default": dict(),
    "linear": dict(device=DeviceConfig(model="linear_step", gamma_up=0.3, gamma_down=0.6)),
    "soft_stuck": dict(device=DeviceConfig(model="soft_bounds", stuck_prob=0.05, up_down=0.05)),
    "dynamic_bl": dict(dynamic_bl=True, lr=0.05),
    "um_off": dict(update_management=False),
    "odd": dict(prob_bits=5, bl=3, bl_max=70, value_bits=20, value_frac_bits=9),
    "multiword": dict(bl=40, bl_max=60),       # 4 phases x 40 slots: 3 fire words per line
    "wide": dict(in_size=300, out_size=24),     # 256+ active columns: dense rows in chunks
}


def _run(cfg, general: bool, threads: int, monkeypatch):
    monkeypatch.setattr(fused, "PARALLEL_MIN_WORK", 0)      # small tiles take prange too
    set_threads(threads)
    tile = TileReference(cfg)
    if general:
        tile.fused = None
    rng = np.random.default_rng(4)
    n, m = cfg.in_size, cfg.out_size
    tile.set_weights(rng.uniform(-0.2, 0.2, (m, n)))
    codes = []
    for k in range(6):
        x = rng.uniform(-1, 1, n) * (0 if k == 3 else 1)
        d = rng.normal(0, 0.3 if k % 2 else 0.01, m)
        codes.append(tile.update(x, d, lr=0.02 if k == 4 else None))
    X, D = rng.uniform(-1, 1, (7, n)), rng.uniform(-0.5, 0.5, (7, m))
    X[2] = 0
    tile.update_batch(X, D)
    tile.update_batch(X[:0], D[:0])
    return tile, codes


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_update_equals_the_general_path_for_any_thread_count(name, monkeypatch):
    cfg = TileConfig(**{"in_size": 37, "out_size": 29, **CASES[name]})
    ref, ref_codes = _run(cfg, True, 1, monkeypatch)
    try:
        for threads in sorted({1, 2, get_threads()}):
            got, codes = _run(cfg, False, threads, monkeypatch)
            assert got.fused is not None
            assert np.array_equal(got.weights, ref.weights)
            assert all(np.array_equal(a, b) for a, b in zip(got.crossbar.pulse_counts, ref.crossbar.pulse_counts))
            assert (got.streams.x_state, got.streams.d_state) == (ref.streams.x_state, ref.streams.d_state)
            assert got.clips == ref.clips
            assert got.op_cycles == ref.op_cycles > 0     # the timing formulas' count
            for a, b in zip(codes + [got.last_update], ref_codes + [ref.last_update]):
                assert all(np.array_equal(getattr(a, f), getattr(b, f)) for f in vars(b))
    finally:
        set_threads(fused._MAX_THREADS)


def test_fused_update_refuses_non_finite_input_and_changes_nothing():
    tile = TileReference(TileConfig(in_size=8, out_size=4))
    w, state = tile.weights, tile.streams.x_state
    with pytest.raises(ValueError, match=r"^d must be finite \(no NaN/inf\)$"):
        tile.update(np.ones(8), np.array([0.1, np.inf, 0, 0]))
    with pytest.raises(ValueError, match=r"^x must be finite"):
        tile.update_batch(np.full((2, 8), np.nan), np.ones((2, 4)))
    with pytest.raises(TypeError, match="real numeric vector"):
        tile.update(np.ones(8, bool), np.ones(4))
    assert np.array_equal(tile.weights, w) and tile.streams.x_state == state
    assert tile.clips.updates == 0


@pytest.mark.parametrize("kw", [dict(), dict(dynamic_bl=True, lr=3.0), dict(update_management=False),
                                dict(value_bits=24, prob_bits=4), dict(lr=90.0)])
def test_wide_integer_management_equals_python_ints(kw):
    cfg = TileConfig(**kw)
    assert fused._um_fits(cfg)
    tile = TileReference(cfg)
    f, nx = tile.fused, numerics(cfg)
    f._load_regs(tile.regs)
    rng = np.random.default_rng(0)
    edge = [0, 1, 2, 3, nx.value_max - 1, nx.value_max]
    pairs = [(a, b) for a in edge for b in edge]
    pairs += [tuple(int(v) for v in rng.integers(0, nx.value_max + 1, 2)) for _ in range(300)]
    for xm, dm in pairs:
        g = rm.um_gains(nx, xm, dm, tile.regs)
        assert K.um_gains(xm, dm, f.ip) == (g["gain_x"], g["gain_d"], g["bl"], g["bl_error"])


def test_threads_setting_is_checked():
    with pytest.raises(ValueError, match=r"^threads must be an integer in \[1, "):
        set_threads(0)
    with pytest.raises(TypeError, match=r"^threads must be an integer"):
        set_threads(1.5)


def test_steady_state_update_allocates_nothing_of_matrix_size():
    """tracemalloc peak of a steady-state update and batch (dense: most devices pulsed) of
    a 512² tile stays below 1/32 of one weight matrix (only O(M + N) result copies)."""
    n = 512
    tile = TileReference(TileConfig(in_size=n, out_size=n))
    rng = np.random.default_rng(0)
    x, d = rng.uniform(-0.5, 0.5, n), rng.uniform(-0.5, 0.5, n)
    X, D = np.stack([x] * 4), np.stack([d] * 4)
    tile.update(x, d)
    tile.update_batch(X, D)
    tracemalloc.start()
    try:
        tile.update(x, d)
        tile.update_batch(X, D)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * n * n / 32, peak
    assert tile.crossbar.pulse_counts[0].sum() > n * n // 4


READ_CASES = {
    "default": dict(),
    "pow2_w_noise": dict(noise_management="pow2", w_noise=0.05),
    "off_noiseless": dict(noise_management="off", out_noise=0.0),
    "bm_saturating": dict(out_bound=0.6, bm_max_passes=3, dac_bits=5, adc_bits=6),
    "bm_off_saturating": dict(out_bound=0.6, bound_management=False, w_noise=0.02),
}


def _reads(cfg, fused_read: bool):
    tile = TileReference(cfg)
    if not fused_read:
        tile.fused_read = None
    rng = np.random.default_rng(9)
    n, m = cfg.in_size, cfg.out_size
    tile.set_weights(rng.uniform(-0.6, 0.6, (m, n)))
    out = []
    for k in range(5):
        x = rng.uniform(-1, 1, n) * (0 if k == 2 else 10.0 ** (k - 2))
        out.append((tile.forward(x), tile.last_read))
        out.append((tile.backward(rng.uniform(-1, 1, m)), tile.last_read))
    out.append((tile.forward_batch(rng.uniform(-1, 1, (3, n))), tile.last_read))
    out.append((tile.backward_batch(rng.uniform(-1, 1, (3, m))), tile.last_read))
    # rows at mixed scales (BM retries and give-ups inside a batch, a zero row), the last
    # read's result taken only after the next read has run
    scales = 10.0 ** np.array([1, -2, 0, 1, -1, 0.5])[:, None] * np.array([1, 1, 0, 1, 1, 1])[:, None]
    y = tile.forward_batch(rng.uniform(-1, 1, (6, n)) * scales)
    out.append((y, tile.last_read))
    out.append((tile.backward_batch(rng.uniform(-1, 1, (5, m)) * scales[:5]), tile.last_read))
    tile.forward(rng.uniform(-1, 1, n))
    held = tile.last_read               # built after the read, before the next one
    out.append((tile.backward(rng.uniform(-1, 1, m)), tile.last_read))
    out.append((np.zeros(1), held))
    return tile, out


@pytest.mark.parametrize("size", [(37, 29), (300, 211)])
@pytest.mark.parametrize("name", sorted(READ_CASES))
def test_fused_read_equals_read_path(name, size):
    """Forward, backward and their batches through :class:`FusedRead` give the general
    path's results, ReadResult fields (every pass's codes), counts, cycles and noise stream,
    bit for bit (the cases reach BM retries, give-ups, the weight noise and no noise)."""
    cfg = TileConfig(in_size=size[0], out_size=size[1], **READ_CASES[name])
    ref, want = _reads(cfg, False)
    got, have = _reads(cfg, True)
    assert got.fused_read is not None and ref.fused_read is None
    assert len(have) == len(want)
    for (ya, ra), (yb, rb) in zip(have, want):
        assert ya.dtype == yb.dtype and np.array_equal(ya.view(np.uint64), yb.view(np.uint64))
        for f in ("y_fixed", "y", "saturated", "clipped", "adc_codes", "dac_codes"):
            a, b = getattr(ra, f), getattr(rb, f)
            assert a.dtype == b.dtype and np.array_equal(a, b), f
        assert (ra.passes, ra.gave_up, ra.alpha, ra.k, ra.params) == (rb.passes, rb.gave_up, rb.alpha, rb.k, rb.params)
        assert len(ra.history) == len(rb.history)
        assert all(np.array_equal(a, b) for pa, pb in zip(ra.history, rb.history) for a, b in zip(pa, pb))
    assert got.clips == ref.clips and got.op_cycles == ref.op_cycles
    rg, rr = got.crossbar._readout.rng, ref.crossbar._readout.rng
    assert rg.bit_generator.state == rr.bit_generator.state
    if name.startswith("bm_sat"):
        assert ref.clips.bm_giveups > 0 and any(r.passes > 1 for _, r in want)


def test_batches_take_the_compiled_read_and_resume_for_retries(monkeypatch):
    """Batches of two or more rows go through one compiled call (``kernels.read_rows``),
    which stops when a BM retry needs output noise not drawn yet and resumes after an exact
    top-up; the saturating case reaches that and still equals the general path (the test
    above), and the equality of the compiled product with numpy's was checked."""
    import rpu.models.fused as fused
    calls = []
    real = fused.K.read_rows

    def counted(*args):
        done = real(*args)
        calls.append(done)
        return done

    monkeypatch.setattr(fused.K, "read_rows", counted)
    cfg = TileConfig(in_size=37, out_size=29, **READ_CASES["bm_saturating"])
    ref, want = _reads(cfg, False)
    got, have = _reads(cfg, True)
    assert calls.count(True) == 4 and calls.count(False) > 0        # four batches, resumed
    assert fused._DOT_EQUAL[(29, 37, False)] and fused._DOT_EQUAL[(29, 37, True)]
    assert got.clips == ref.clips and got.op_cycles == ref.op_cycles
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(have, want))
    rg, rr = got.crossbar._readout.rng, ref.crossbar._readout.rng
    assert rg.bit_generator.state == rr.bit_generator.state


def test_steady_state_read_allocates_nothing_of_matrix_size():
    """tracemalloc peak of a steady-state forward and backward of a 512² tile: only the
    O(M + N) arrays of ``last_read`` (about 40 bytes per line), below 1/16 of one weight
    matrix."""
    n = 512
    tile = TileReference(TileConfig(in_size=n, out_size=n))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, n)
    tile.forward(x), tile.backward(x)
    tracemalloc.start()
    try:
        tile.forward(x), tile.backward(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * n * n / 16, peak
