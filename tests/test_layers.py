"""Analog layers (rpu.models.layers): batch semantics, tile splitting, bias line, seeds,
learning rate, error scaling and the update-clip warning."""

import warnings

import numpy as np
import pytest

from rpu.config import ConfigError, DeviceConfig
from rpu.models.layers import (AnalogLinear, FloatLinear, UpdateClipWarning, error_scales,
                               scale_runs, scaled_errors, split_sizes, tile_seeds, training_config)
from rpu.models.ref_management import to_fixed
from rpu.models.tile_log import NetworkRecorder


def _data(rng, batch, n, m, spread=True):
    X = rng.uniform(-1, 1, (batch, n))
    D = rng.normal(0, 0.05, (batch, m))
    if spread:                       # magnitudes over decades: several error scales per batch
        D *= np.logspace(-3, 0, batch)[:, None]
    return X, D


def _pair(**kw):
    """Two layers built alike (same seed, same weights)."""
    rng = np.random.default_rng(5)
    W, b = rng.uniform(-0.3, 0.3, (kw["out"], kw["inp"])), rng.uniform(-0.3, 0.3, kw["out"])
    layers = []
    for _ in range(2):
        layer = AnalogLinear(kw["inp"], kw["out"], seed=kw.get("seed", 3), lr=0.05,
                             max_in_size=kw.get("max_in", 512), max_out_size=kw.get("max_out", 512))
        layer.set_weights(W, b)
        layers.append(layer)
    return layers


@pytest.mark.parametrize("max_in,max_out", [(512, 512), (4, 3)], ids=["one-tile", "split-3x3"])
def test_batch_calls_equal_single_calls_bit_for_bit(max_in, max_out):
    """A batch forward/backward/update gives exactly what its rows give one at a time, in the
    same order (reads draw their noise in call order): the results, the weights and the clip
    counts (bit for bit, on one tile and on a 3 × 3 grid), although the rows' errors span
    three decades (several error scales in one batch)."""
    a, b = _pair(inp=10, out=7, max_in=max_in, max_out=max_out)
    assert len(a.tiles) == (1 if max_out == 512 else 3) and len(a.tiles[0]) == (1 if max_in == 512 else 3)
    X, D = _data(np.random.default_rng(1), 12, 10, 7)
    assert len(scale_runs(error_scales(D))) > 1
    Y = a.forward(X)
    Z = a.backward(D)
    a.update(X, D)
    assert np.array_equal(np.stack([b.forward(x) for x in X]), Y)
    assert np.array_equal(np.stack([b.backward(d) for d in D]), Z)
    for x, d in zip(X, D):
        b.update(x, d)
    assert np.array_equal(a.tile_weights(), b.tile_weights())
    assert a.clips.as_dict() == b.clips.as_dict()
    assert a.clips.updates == 12 * len(a.tiles) * len(a.tiles[0])


def test_split_layer_sums_its_tiles():
    """A 3 × 3 grid on a noise-free read path computes W·x + b within the converters'
    quantisation, bounded per tile t by α_t·(adc_lsb/2 + Σ_j |G_ij|/(2·dac_max))·γ
    (ADC rounding plus DAC rounding of each input, α_t = max|x| of the tile's block)."""
    cfg = training_config(out_noise=0.0)
    layer = AnalogLinear(10, 7, cfg=cfg, seed=1, max_in_size=4, max_out_size=3)
    rng = np.random.default_rng(2)
    W, b = rng.uniform(-0.3, 0.3, (7, 10)), rng.uniform(-0.3, 0.3, 7)
    layer.set_weights(W, b)
    Wd, bd = layer.get_weights()              # as programmed (within each device's bounds)
    x = rng.uniform(-1, 1, 10)
    y = layer.forward(x)
    A = np.append(x, 1.0)
    G = layer.tile_weights()
    bound = np.zeros(7)
    for r in layer.out_blocks:
        for c in layer.in_blocks:
            alpha = np.abs(A[c]).max()
            bound[r] += alpha * (cfg.adc_lsb / 2 + np.abs(G[r, c]).sum(axis=1) / (2 * cfg.dac_max))
    assert np.all(np.abs(y - (Wd @ x + bd)) <= bound + 1e-12)


def test_split_sizes():
    assert split_sizes(65, 512) == [65]
    assert split_sizes(1025, 512) == [342, 342, 341]
    assert split_sizes(10, 4) == [4, 3, 3]


def test_bias_is_an_always_on_input_line_of_the_tile():
    """The bias is the tile's last x-line (in_size = inputs + 1) driven at bias_value in
    every forward and update; the backward drops that line's share; an update with x = 0
    changes the bias column only."""
    layer = AnalogLinear(6, 4, seed=0, lr=0.05)
    tile = layer.tiles[0][0]
    assert (tile.cfg.in_size, tile.cfg.out_size) == (7, 4)
    rec = NetworkRecorder([layer], samples=10)
    X = np.zeros((2, 6))
    D = np.full((2, 4), 0.5)
    layer.forward(X)
    assert layer.backward(D).shape == (2, 6)
    w0 = layer.tile_weights()
    layer.update(X, D)
    dw = layer.tile_weights() - w0
    assert np.all(dw[:, :6] == 0) and np.all(dw[:, 6] < 0)     # ΔW = −lr·d·xᵀ with d > 0
    one = to_fixed(tile.cfg, 1.0)
    fwd, _bwd, upd = rec.logs()[0].ops
    assert np.all(fwd["x"][:, -1] == one) and np.all(upd["x"][:, -1] == one)
    assert np.all(fwd["x"][:, :-1] == 0)
    no_bias = AnalogLinear(6, 4, bias=False, seed=0)
    assert no_bias.tiles[0][0].cfg.in_size == 6 and no_bias.get_weights()[1] is None
    with pytest.raises(ValueError, match="no bias"):
        no_bias.set_weights(np.zeros((4, 6)), np.zeros(4))


def test_bias_weights_round_trip():
    layer = AnalogLinear(5, 3, seed=0, bias_value=0.5)
    b = np.array([0.1, -0.2, 0.05])
    layer.set_weights(np.zeros((3, 5)), b)
    # the device holds b / (bias_value·γ); the layer's bias is device × bias_value·γ (float32)
    assert np.allclose(layer.tile_weights()[:, -1], b / (0.5 * layer.weight_scale), atol=1e-7)
    assert np.allclose(layer.get_weights()[1], b, atol=1e-7)


def test_layers_never_share_seeds_or_pulse_trains():
    """Layers from one SeedSequence (as the trainer builds them), and tiles of one split
    layer, all get distinct non-zero seeds; two layers given the same update fire different
    pulse trains.  A layer built without a seed draws fresh entropy."""
    from rpu.models.layers import _as_seed_sequence
    seeds = np.random.SeedSequence(0).spawn(3)
    layers = [AnalogLinear(8, 8, seed=s, max_in_size=3) for s in seeds]
    all_seeds = [(t.cfg.update.x_seed, t.cfg.update.d_seed, t.cfg.model_seed)
                 for layer in layers for t in layer._all_tiles()]
    xs = [s[0] for s in all_seeds] + [s[1] for s in all_seeds]
    assert len(set(xs)) == len(xs) and min(xs) >= 1
    assert len({s[2] for s in all_seeds}) == len(all_seeds)
    rng = np.random.default_rng(0)
    tiles = [layer.tiles[0][0] for layer in layers]
    x = to_fixed(tiles[0].cfg, rng.uniform(0.2, 1, tiles[0].cfg.in_size))
    d = to_fixed(tiles[0].cfg, rng.uniform(-1, 1, tiles[0].cfg.out_size))
    drives = [t.update_fixed(x, d)[1] for t in tiles]
    trains = [np.concatenate([dr.x_pos, dr.x_neg, dr.d_pos, dr.d_neg], axis=1) for dr in drives]
    for i in range(3):
        for j in range(i + 1, 3):
            assert trains[i].shape != trains[j].shape or not np.array_equal(trains[i], trains[j])
    fresh = [AnalogLinear(4, 4).tiles[0][0].cfg.update.x_seed for _ in range(3)]
    assert len(set(fresh)) == 3
    assert tile_seeds(7) == tile_seeds(np.random.SeedSequence(7))
    assert _as_seed_sequence(None) is not None


def test_lr_is_set_without_rebuilding_the_config():
    """layer.lr changes the lr the tiles see (÷ weight scale and error scale), not their
    config; bad values are refused in the config's wording."""
    layer = AnalogLinear(4, 3, seed=0, lr=0.01, weight_scale=2.0)
    cfg = layer.tiles[0][0].cfg
    layer.lr = 0.2
    X, D = np.ones((1, 4)), np.full((1, 3), 0.25)          # error scale 16: max 0.25 → 4
    layer.update(X, D)
    tile = layer.tiles[0][0]
    assert tile.cfg is cfg and tile.lr == pytest.approx(0.2 / (2.0 * 16))
    with pytest.raises(ConfigError, match=r"lr must be a number in \(0, 100\], not 0.0"):
        layer.lr = 0.0


def test_error_scale_leaves_the_update_unchanged():
    """Errors ×16 with lr ÷16 give the same tile vectors and registers: identical weights
    (bit for bit); the scales are powers of 16 placing max|d| in (1/4, 4]."""
    a, b = _pair(inp=6, out=5)
    X, D = _data(np.random.default_rng(3), 8, 6, 5)
    a.update(X, D, lr=0.05)
    b.update(X, 16 * D, lr=0.05 / 16)
    assert np.array_equal(a.tile_weights(), b.tile_weights())
    s = error_scales(D)
    peaks = np.abs(D).max(axis=1) * s
    assert np.all((peaks > 0.25) & (peaks <= 4.0))
    assert np.all(np.log(s) / np.log(16) == np.round(np.log(s) / np.log(16)))
    assert error_scales(np.zeros((1, 3)))[0] == 1.0


def test_error_scales_are_exact_at_the_window_ends():
    """The window (1/4, 4] holds exactly: its ends and the doubles next to them (a scale
    from log() put 0.25 + 1 ulp at 4 + 1 ulp), far values within 2^±24, zero and empty rows
    at 1, and the scaled rows are exact multiples."""
    ulp = np.nextafter
    peaks = [4.0, ulp(4.0, 5), ulp(4.0, 0), 0.25, ulp(0.25, 1), ulp(0.25, 0), 1.0, 64.0,
             1e-300, 1e300, 0.0]
    want = [1.0, 1 / 16, 1.0, 16.0, 1.0, 16.0, 1.0, 1 / 16, 2.0 ** 24, 2.0 ** -24, 1.0]
    D = np.array([[0.0, -p, p / 2] for p in peaks])
    assert error_scales(D).tolist() == want
    E, s = scaled_errors(D)
    assert np.array_equal(E, D * s[:, None])
    assert error_scales(np.zeros((2, 0))).tolist() == [1.0, 1.0]
    assert scaled_errors(np.array([[1.0, np.nan]])) is None
    with pytest.raises(ValueError, match="d must be finite"):
        error_scales(np.array([[1.0, np.inf]]))


def _clip_layer(dynamic_bl, lr):
    cfg = training_config(dynamic_bl=dynamic_bl, bl=10, device=DeviceConfig(w_max=5.0, w_min=-5.0))
    return AnalogLinear(8, 4, cfg=cfg, seed=1, lr=lr, clip_window=20)


@pytest.mark.parametrize("dynamic_bl,hint", [(False, "dynamic_bl=True"), (True, "raise bl_max")])
def test_clip_warning_once_naming_the_parameter(dynamic_bl, hint):
    """Updates asking for more than BL·dw_min clip at least one line each; one
    UpdateClipWarning after the window (20 updates) fills, naming the parameter to change."""
    layer = _clip_layer(dynamic_bl, lr=2.0)
    rng = np.random.default_rng(0)
    with pytest.warns(UpdateClipWarning) as caught:
        for _ in range(30):
            layer.update(rng.uniform(0.5, 1, (2, 8)), rng.uniform(0.5, 1, (2, 4)))
    clip = [w for w in caught if issubclass(w.category, UpdateClipWarning)]
    assert len(clip) == 1
    msg = str(clip[0].message)
    assert hint in msg and "lower the learning rate" in msg and "over the last 20 updates" in msg
    assert layer.monitor.warning == msg
    c = layer.clips
    assert c.update_lines / c.updates > 0.1


def test_no_clip_warning_when_updates_fit():
    layer = _clip_layer(True, lr=0.01)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UpdateClipWarning)
        for _ in range(30):
            layer.update(rng.uniform(0, 1, (2, 8)), rng.normal(0, 0.1, (2, 4)))
    assert layer.monitor.warning is None and layer.clips.update_lines == 0


def test_training_config_keeps_tileconfig_defaults():
    from rpu.config import TileConfig
    assert TileConfig().update.dynamic_bl is False and TileConfig().update.bl == 10
    cfg = training_config()
    assert cfg.update.dynamic_bl and cfg.update.bl_max == 31
    assert training_config(bl_max=63).update.bl_max == 63


def test_float_linear_is_plain_sgd():
    layer = FloatLinear(3, 2, lr=0.1)
    layer.set_weights(np.ones((2, 3)), np.zeros(2))
    X, D = np.array([[1.0, 2.0, 3.0]]), np.array([[0.5, -1.0]])
    assert np.allclose(layer.forward(X), [[6.0, 6.0]])
    assert np.allclose(layer.backward(D), [[-0.5, -0.5, -0.5]])
    layer.update(X, D)
    assert np.allclose(layer.W, 1 - 0.1 * np.outer(D[0], X[0])) and np.allclose(layer.b, [-0.05, 0.1])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="in_features must be an integer"):
        AnalogLinear(0, 3)
    layer = AnalogLinear(4, 3, seed=0)
    with pytest.raises(ValueError, match=r"shape \(B, 4\)"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="same number of rows"):
        layer.update(np.zeros((2, 4)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="x must be finite"):
        layer.forward(np.where(np.eye(2, 4) > 0, np.nan, 0.0))
    with pytest.raises(ValueError, match="x must be finite"):
        layer.update(np.array([[0, 0, 0, np.inf]], np.float32), np.zeros((1, 3)))


def test_input_dtypes_and_empty_batches():
    """float32, integer and strided inputs give what their float64 copy gives (the padded
    copy is made one way for float64 and another for the rest); a batch of no rows reads
    no rows and updates nothing (it raised an IndexError)."""
    rng = np.random.default_rng(11)
    X = rng.uniform(-1, 1, (4, 12)).astype(np.float32)
    wide = np.zeros((4, 24))
    wide[:, ::2] = X
    ints = rng.integers(-3, 4, (4, 12))
    for given in (X, wide[:, ::2], ints):        # two layers built alike: the same draws
        layers = _pair(inp=12, out=5)
        assert np.array_equal(layers[1].forward(given), layers[0].forward(given.astype(np.float64)))
    layer = _pair(inp=12, out=5)[0]
    before = layer.tile_weights()
    layer.update(np.zeros((0, 12)), np.zeros((0, 5)))
    assert np.array_equal(layer.tile_weights(), before)
    assert layer.forward(np.zeros((0, 12))).shape == (0, 5)
    assert layer.backward(np.zeros((0, 5))).shape == (0, 12)


def _tile_state(layer):
    t = layer.tiles[0][0]
    r = t.last_read
    return dict(w=t.weights.copy(), clips=t.clips.as_dict(), cycles=t.op_cycles, lr=t.lr,
                streams=(t.streams.x_state, t.streams.d_state),
                rng=t.crossbar._readout.rng.bit_generator.state, monitor=list(layer.monitor._sums),
                read=None if r is None else (r.y_fixed.copy(), r.adc_codes.copy(), r.passes, r.alpha),
                update=None if t.last_update is None else t.last_update.x_codes.copy())


def _same(a, b):
    sa, sb = _tile_state(a), _tile_state(b)
    for key in sa:
        if key == "w":
            assert np.array_equal(sa[key], sb[key]), key
        elif key == "read" and sa[key] is not None:
            assert all(np.array_equal(u, v) for u, v in zip(sa[key], sb[key])), key
        elif key == "update" and sa[key] is not None:
            assert np.array_equal(sa[key], sb[key]), key
        else:
            assert sa[key] == sb[key], key


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_compiled_entries_equal_the_general_path(bias):
    """A single-tile layer's forward, backward and update run through the tile's compiled
    entries (``read_layer_rows``, ``update_layer_rows``); with them switched off the layer
    takes the per-step path.  Both give the same bits: results, weights, clip counts
    (inputs beyond ±8 included), cycles, lr, stream and generator states, the clip monitor
    and the last read and update — over batches whose errors span three decades (several
    scale runs per update, each its own lr registers), single vectors and bound management
    retries (an output bound of 0.3: a row along the weights' signs saturates the ADC)."""
    rng = np.random.default_rng(21)
    W, b = rng.uniform(-0.3, 0.3, (6, 9)), rng.uniform(-0.3, 0.3, 6)
    cfg = training_config(out_bound=0.3)
    a, g = (AnalogLinear(9, 6, bias=bias, seed=4, lr=0.05, cfg=cfg) for _ in range(2))
    g._entries = False
    for layer in (a, g):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer.set_weights(W, b if bias else None)
    for step in range(8):
        X, D = _data(rng, 7, 9, 6)
        if step % 3 == 1:
            X[2] = 9.0                              # beyond the host format: counted
        if step % 3 == 2:
            X[1] = np.sign(W[0])                    # a read that saturates: BM halves
        outs = []
        for layer in (a, g):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs.append((layer.forward(X), layer.backward(D), layer.forward(X[0]),
                             layer.backward(D[3])))
                layer.update(X, D)
                layer.update(X[4], D[4])
        for u, v in zip(*outs):
            assert np.array_equal(u, v)
        _same(a, g)
    assert a.tiles[0][0].clips.input_values > 0 and a.monitor._sums[0] == 8 * 8
    assert a.tiles[0][0].clips.read_lines > 0       # (the saturated reads happened)
    assert len(a._um_tabs[a.lr][0].nonzero()[0]) > 4 * 2   # (several scales' registers)
    for layer in (a, g):                            # a non-finite row: the same error, no change
        before = _tile_state(layer)
        with pytest.raises(ValueError, match="d must be finite"):
            layer.update(np.zeros((2, 9)), np.full((2, 6), np.nan))
        with pytest.raises(ValueError, match="x must be finite"):
            layer.forward(np.full((1, 9), np.inf))
        after = _tile_state(layer)
        assert after["rng"] == before["rng"] and np.array_equal(after["w"], before["w"])
    _same(a, g)


@pytest.mark.parametrize("bit_generator", ["PCG64", "MT19937"])
def test_compiled_reads_leave_the_generator_as_the_general_path(bit_generator):
    """The compiled layer read draws its rows' noise before the call that checks them and,
    at a non-finite row, steps a PCG64 generator back; a generator that cannot step back
    (MT19937) is checked before it draws.  Either way reads, retries and a refused row
    leave the generator, and give the results, the general path gives (retries: an output
    bound of 0.3 and rows along the weights' signs)."""
    rng = np.random.default_rng(8)
    W = rng.uniform(-0.3, 0.3, (6, 9))
    W[:, :4] = np.sign(W[:, :4]) * 0.6             # rows along these signs saturate
    a, g = (AnalogLinear(9, 6, seed=4, lr=0.05, cfg=training_config(out_bound=0.3))
            for _ in range(2))
    g._entries = False
    for layer in (a, g):
        layer.tiles[0][0].crossbar._readout.rng = np.random.Generator(
            getattr(np.random, bit_generator)(17))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer.set_weights(W)
    passes = []
    for step in range(4):
        X = rng.uniform(-1, 1, (5, 9))
        X[-1] = np.sign(W[step])                    # the last row saturates: BM retries
        bad = X.copy()
        bad[3, 2] = np.nan
        for layer in (a, g):
            with pytest.raises(ValueError, match="x must be finite"):
                layer.forward(bad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert np.array_equal(a.forward(X), g.forward(X))
        passes.append(a.tiles[0][0].last_read.passes)
        assert passes[-1] == g.tiles[0][0].last_read.passes
        ra, rg = (layer.tiles[0][0].crossbar._readout.rng for layer in (a, g))
        assert ra.integers(1 << 62) == rg.integers(1 << 62)     # the generators agree
        assert a.tiles[0][0].op_cycles == g.tiles[0][0].op_cycles
    assert max(passes) > 1                          # (the retries happened)


def test_compiled_entries_serve_single_tile_layers_only():
    """The entries run where they apply (one tile, no recorder) and the layer falls back
    otherwise: a split layer and a recorded one never call them."""
    calls = []
    single, split = AnalogLinear(5, 4, seed=1), AnalogLinear(5, 4, seed=1, max_in_size=4)
    for layer in (single, split):
        for tile in layer._all_tiles():
            orig = tile.read_layer_rows
            tile.read_layer_rows = lambda *a, _o=orig, **k: calls.append(1) or _o(*a, **k)
        layer.forward(np.ones((2, 5)))
    assert len(calls) == 1
    assert split._entry_tile() is None and single._entry_tile() is single.tiles[0][0]
    single.recorder = object()
    assert single._entry_tile() is None
