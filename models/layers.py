"""Analog layers: a fully connected layer on one or more RPU tiles, for training.

:class:`AnalogLinear` computes ``y = W·x + b`` on :class:`~rpu.models.TileReference` tiles:
forward, backward and update on batches (B × N arrays; a batch update applies its samples one
after another, as the hardware would), the bias as an always-on input line *in* the tile, its
own seeds, ``lr`` settable at no cost, the clip counters of its tiles and a warning when the
updates clip often.  A matrix larger than ``max_in_size`` × ``max_out_size`` is split over a
grid of tiles (inputs in column blocks, outputs in row blocks); the forward sums the column
blocks' partial results, the backward the row blocks' (aihwkit's tile mapping).

:class:`FloatLinear` is the same layer in float64 numpy (plain SGD): the floating-point
baseline the trainer compares with, through the same interface.

:func:`training_config` is the tile configuration the layers use by default: the demo tile
of :class:`~rpu.config.TileConfig` with dynamic BL on; with the default weight scale γ = 2
(:data:`TRAINING_WEIGHT_SCALE`) they train the default network within 1 % of floating
point (docs/training.md has the measurements behind both).
"""

from __future__ import annotations

import math
import warnings
from collections import deque

import numpy as np

from rpu.config import (TRAINING_DEFAULTS, TRAINING_WEIGHT_SCALE, FloatRule, IntRule, TileConfig,
                        UpdateConfig, check_instance)

from .clipping import ClipCounts, ClipWarning

__all__ = ["AnalogLinear", "FloatLinear", "training_config", "tile_seeds", "split_sizes",
           "UpdateClipWarning", "UpdateClipMonitor", "TRAINING_DEFAULTS",
           "TRAINING_WEIGHT_SCALE", "error_scales", "scaled_errors", "scale_runs"]

_LR = UpdateConfig.field_rules()["lr"][0]
_SIZE = IntRule(1, 1 << 20)
_TILE_LINES = TileConfig.field_rules()["in_size"][0]
_BIAS = FloatRule(0.0, 8.0, lo_open=True)
_SCALE = FloatRule(0.0, 1e6, lo_open=True)
#: each error vector of a backward or update is scaled by a power of ERROR_BASE so that its
#: largest magnitude lands in (ERROR_PEAK / ERROR_BASE, ERROR_PEAK]: inside the host format's
#: ±8 and at least 1,000 of its steps (2^-12); coarse steps keep a batch's vectors at one
#: scale (one update call) most of the time
ERROR_PEAK = 4.0
ERROR_BASE = 16.0
ERROR_SCALE_MAX = 2.0 ** 24
# all three are powers of two, so the scales are exact and found from exponents
_PEAK_EXP, _BASE_EXP = 2, 4
_K_MAX = 24 // _BASE_EXP
assert (ERROR_PEAK, ERROR_BASE, ERROR_SCALE_MAX) == (2.0 ** _PEAK_EXP, 2.0 ** _BASE_EXP,
                                                     ERROR_BASE ** _K_MAX)


def training_config(**changes) -> TileConfig:
    """The layers' default tile configuration: ``TileConfig()`` with
    :data:`TRAINING_DEFAULTS` (dynamic BL up to 31), then ``changes`` (any
    :class:`TileConfig` field, flat group fields by name)."""
    return TileConfig(**{**TRAINING_DEFAULTS, **changes})


def tile_seeds(seed) -> dict:
    """``x_seed``, ``d_seed`` (non-zero, different, 32 bits) and ``model_seed`` (63 bits)
    drawn from ``seed`` (an int or a :class:`numpy.random.SeedSequence`)."""
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    words = ss.generate_state(4, dtype=np.uint32).tolist()
    x_seed = 1 + words[0] % 0xFFFFFFFF
    d_seed = 1 + words[1] % 0xFFFFFFFF
    if d_seed == x_seed:
        d_seed = x_seed % 0xFFFFFFFF + 1
    return dict(x_seed=x_seed, d_seed=d_seed, model_seed=(words[2] << 31) | (words[3] >> 1))


def split_sizes(lines: int, limit: int) -> list[int]:
    """``lines`` split into the fewest blocks of at most ``limit``, as equal as possible
    (the larger blocks first)."""
    blocks = -(-lines // limit)
    base, extra = divmod(lines, blocks)
    return [base + (k < extra) for k in range(blocks)]


def _offsets(sizes: list[int]) -> list[slice]:
    ends = np.cumsum([0] + sizes).tolist()
    return [slice(a, b) for a, b in zip(ends[:-1], ends[1:])]


def _as_seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None:
        return np.random.SeedSequence()
    return np.random.SeedSequence(IntRule(0, (1 << 128) - 1).check("seed", seed))


def scaled_errors(D: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(E, s)`` for finite float64 rows ``D`` (B, M): per row the power ``s`` of
    :data:`ERROR_BASE` that brings max|d| into (ERROR_PEAK / ERROR_BASE, ERROR_PEAK]
    (1 for a zero row; within 2^±24), found exactly from the exponent of max|d|, and
    ``E = s·D`` (exact: a power of two); ``None`` when ``D`` holds a NaN or inf."""
    from . import kernels as K
    D = np.ascontiguousarray(D, dtype=np.float64)
    E, s = np.empty_like(D), np.empty(len(D))
    if not K.scale_errors(D, _PEAK_EXP, _BASE_EXP, _K_MAX, E, s):
        return None
    return E, s


def error_scales(D: np.ndarray) -> np.ndarray:
    """The scales of :func:`scaled_errors` (finite ``D``)."""
    got = scaled_errors(D)
    if got is None:
        raise ValueError("d must be finite (no NaN/inf)")
    return got[1]


def scale_runs(scales: np.ndarray) -> list[tuple[int, int, float]]:
    """``(start, stop, scale)`` of the runs of equal consecutive scales."""
    s = scales.tolist()
    if not s:
        return []
    if s.count(s[0]) == len(s):             # one run (a batch of 1, or one scale throughout)
        return [(0, len(s), s[0])]
    edges = [0] + [i for i in range(1, len(s)) if s[i] != s[i - 1]] + [len(s)]
    return [(a, b, s[a]) for a, b in zip(edges[:-1], edges[1:])]


class UpdateClipWarning(ClipWarning):
    """Updates of a layer clip often (the probability of a line capped at p = 1)."""


class UpdateClipMonitor:
    """Update lines clipped at p = 1 per tile update over the last ``window`` updates; warns
    once (:class:`UpdateClipWarning`) when that exceeds ``threshold``.

    Update management clips only the lines of an update whose probability would exceed 1:
    when lr·max|x|·max|d| > BL·dw_min, the largest-|d| lines, usually one.  So the measure
    is clipped lines per update (0.1 ≈ one update in ten clipped), not the share of lines:
    with BL 10 fixed, the digits network's output layer clips one line in nearly every
    update (2.3 % of its lines) while 60–70 % of its devices end at a bound
    (docs/training.md, "Clip warning")."""

    def __init__(self, name: str, cfg: TileConfig, *, window: int = 100, threshold: float = 0.1):
        self.name, self.cfg = name, cfg
        self.window = IntRule(1, 1 << 30).check("window", window)
        self.threshold = FloatRule(0.0, 1e6).check("threshold", threshold)
        self._calls: deque = deque()       # (updates, clipped lines, lines) per update call
        self._sums = [0, 0, 0]
        self.warning: str | None = None     # the warning's text, once given

    def per_update(self) -> float:
        """Clipped lines per update in the window (0 before any update)."""
        return float(self._sums[1] / self._sums[0]) if self._sums[0] else 0.0

    def fraction(self) -> float:
        """Clipped share of the update lines in the window."""
        return float(self._sums[1] / self._sums[2]) if self._sums[2] else 0.0

    def add(self, updates: int, clipped: int, lines: int) -> None:
        """Record one update call (``updates`` tile updates with ``lines`` lines, of which
        ``clipped`` clipped); warn once the window is full and over the threshold."""
        if not updates:
            return
        calls, sums = self._calls, self._sums
        calls.append((updates, clipped, lines))
        u, c, n = sums
        u, c, n = u + updates, c + clipped, n + lines
        while u - calls[0][0] >= self.window and len(calls) > 1:
            u0, c0, n0 = calls.popleft()
            u, c, n = u - u0, c - c0, n - n0
        sums[:] = u, c, n
        if self.warning is None and u >= self.window and c / u > self.threshold:
            self.warning = self.message()
            warnings.warn(self.warning, UpdateClipWarning, stacklevel=4)

    def message(self) -> str:
        u = self.cfg.update
        if not u.dynamic_bl:
            fix = (f"turn on dynamic BL (dynamic_bl=True, --dynamic-bl true; BL then grows up "
                   f"to bl_max = {u.bl_max}) or raise bl (now {u.bl})")
        else:
            fix = f"raise bl_max (now {u.bl_max}, at most 255)"
        return (f"{self.name}: {self.per_update():.2f} update lines per update were clipped at "
                f"p = 1 over the last {int(self._sums[0])} updates ({100 * self.fraction():.1f} % "
                f"of the lines; an update moves a weight by at most BL·dw_min = "
                f"{u.bl_max if u.dynamic_bl else u.bl}·{self.cfg.device.dw_min:g}); {fix}, "
                f"or lower the learning rate")


class AnalogLinear:
    """``AnalogLinear(in_features, out_features, *, bias=True, cfg=None, seed=None,
    lr=None, max_in_size=512, max_out_size=512, bias_value=1.0, weight_scale=2.0,
    name=None, clip_window=100, clip_threshold=0.1)``: ``y = W·x + b`` on RPU tiles.

    * ``cfg``: the tiles' configuration (default :func:`training_config`); its ``in_size``
      and ``out_size`` are replaced by each tile's share of the matrix, its seeds by the
      layer's own.
    * ``bias``: the last x-line of the last column block is driven at ``bias_value`` (a
      host value) in every operation; its weights are the bias (times ``bias_value``).
    * ``seed``: an int or a :class:`numpy.random.SeedSequence` (the trainer spawns one per
      layer); every tile gets its own ``x_seed``, ``d_seed`` and ``model_seed`` from it
      (:func:`tile_seeds`).  ``None`` draws fresh entropy (not reproducible).
    * ``lr``: learning rate of :meth:`update` (default ``cfg.update.lr``), settable.

    Each error vector (``backward``, ``update``) is scaled by a power of 16 so that its
    largest magnitude fills the host format (:func:`error_scales`); the update's lr is
    divided by the same power, so E[ΔW] = −lr·d·xᵀ is unchanged, and the backward's result
    is divided back.  The scale depends on the vector alone, so a batch gives exactly what
    its samples give one by one (consecutive samples at one scale are one tile call).
    ``weight_scale`` γ maps the devices to the layer: W = γ·G (results × γ, the tiles' lr
    ÷ γ): the layer's weights span γ·[w_min, w_max] in steps of γ·dw_min.
    ``clips`` sums the tiles' :class:`~rpu.models.clipping.ClipCounts`; ``monitor``
    (:class:`UpdateClipMonitor`) warns once when more than ``clip_threshold`` lines per
    update clipped over the last ``clip_window`` updates.  Inputs ``x`` go to the tiles as they are (beyond ±8 they saturate:
    counted in :attr:`clips` and warned about).
    """

    _entries = True         # the compiled layer entries serve single-tile layers

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 cfg: TileConfig | None = None, seed=None, lr: float | None = None,
                 max_in_size: int = 512, max_out_size: int = 512, bias_value: float = 1.0,
                 weight_scale: float = TRAINING_WEIGHT_SCALE, name: str | None = None,
                 clip_window: int = 100,
                 clip_threshold: float = 0.1):
        self.in_features = _SIZE.check("in_features", in_features)
        self.out_features = _SIZE.check("out_features", out_features)
        self.bias = bool(bias)
        self.bias_value = _BIAS.check("bias_value", bias_value)
        self.weight_scale = _SCALE.check("weight_scale", weight_scale)
        cfg = training_config() if cfg is None else check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        self.name = name or f"AnalogLinear({in_features}, {out_features})"
        lines = self.in_features + self.bias
        self.in_blocks = _offsets(split_sizes(lines, _TILE_LINES.check("max_in_size", max_in_size)))
        self.out_blocks = _offsets(split_sizes(self.out_features,
                                               _TILE_LINES.check("max_out_size", max_out_size)))
        ss = _as_seed_sequence(seed)
        per_tile = iter(ss.spawn(len(self.in_blocks) * len(self.out_blocks)))
        from .ref_tile import TileReference
        #: tiles[r][c]: output block r, input block c
        self.tiles = [[TileReference(cfg.replace(in_size=c.stop - c.start, out_size=r.stop - r.start,
                                                 **tile_seeds(next(per_tile))))
                       for c in self.in_blocks] for r in self.out_blocks]
        self._lr = cfg.update.lr
        self.lr = cfg.update.lr if lr is None else lr
        self.monitor = UpdateClipMonitor(self.name, cfg, window=clip_window, threshold=clip_threshold)
        self.recorder = None            # a TileRecorder while ops are logged (co-simulation)
        #: layer lr -> its scales' update registers and (tile lr, register set) per scale (the entries)
        self._um_tabs: dict = {}
        self._single_tile = len(self.in_blocks) == len(self.out_blocks) == 1

    # -- shape helpers -------------------------------------------------------------------
    def _entry_tile(self):
        """The tile whose compiled layer entries (``TileReference.read_layer_rows``,
        ``update_layer_rows``) serve this layer's operations: one tile, no recorder, and
        the entries not switched off (``_entries``; the tests compare both paths)."""
        return self.tiles[0][0] if self._single_tile and self.recorder is None and self._entries else None

    @staticmethod
    def _entry_rows(name: str, V, size: int):
        """``V`` as (B, size) rows when it is C-contiguous float64 with B ≥ 1 (what the
        entries take; their kernels check finiteness), else ``None``."""
        if (type(V) is np.ndarray and V.ndim == 2 and V.dtype == np.float64
                and V.shape[1] == size and V.flags.c_contiguous and len(V)):
            return V                            # (a trainer's rows: nothing to convert)
        from .crossbar import batch_rows
        a = batch_rows(name, V, size)
        return a if a.dtype == np.float64 and a.flags.c_contiguous and len(a) else None

    def _tile_lr(self, k: int) -> float:
        """The tiles' lr for errors scaled by 16^k: the layer's, over γ·16^k."""
        return self._lr / (self.weight_scale * math.ldexp(1.0, _BASE_EXP * k))

    @property
    def lines(self) -> int:
        """x-lines of the layer: the inputs and the bias line."""
        return self.in_features + self.bias

    def _all_tiles(self):
        return [t for row in self.tiles for t in row]

    def _inputs(self, X) -> tuple[np.ndarray, bool]:
        """(B, lines) input rows with the bias column, and whether X was one vector."""
        from .crossbar import check_batch       # (numba: not imported with the constants)
        single = np.ndim(X) == 1
        return check_batch("x", X, self.in_features, pad=self.bias_value if self.bias else None), single

    def _errors(self, D) -> tuple[np.ndarray, np.ndarray, bool]:
        """(B, out) error rows scaled by :func:`scaled_errors`, their scales, and whether
        D was one vector."""
        from .crossbar import batch_rows
        single = np.ndim(D) == 1
        got = scaled_errors(batch_rows("d", D, self.out_features))
        if got is None:
            raise ValueError("d must be finite (no NaN/inf)")
        return *got, single

    # -- weights -------------------------------------------------------------------------
    @property
    def lr(self) -> float:
        """Learning rate of :meth:`update`."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _LR.check("lr", value)

    def get_weights(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(W, b)``: W (out, in) and the bias (out,) in effect (``None`` without bias)."""
        full = self.tile_weights() * self.weight_scale
        if not self.bias:
            return full, None
        return full[:, :-1], full[:, -1] * self.bias_value

    def tile_weights(self) -> np.ndarray:
        """The devices' weights as one (out, lines) float64 matrix (bias column last)."""
        full = np.zeros((self.out_features, self.lines))
        for r, row in zip(self.out_blocks, self.tiles):
            for c, tile in zip(self.in_blocks, row):
                full[r, c] = tile.weights
        return full

    def set_weights(self, W, b=None) -> None:
        """Program W (out, in) and the bias b (out,; default 0), each device clipped to its
        bounds (counted in ``clips.weights_set``)."""
        W = np.asarray(W, dtype=np.float64)
        if W.shape != (self.out_features, self.in_features):
            raise ValueError(f"W must have shape {(self.out_features, self.in_features)}, not {W.shape}")
        full = W
        if self.bias:
            b = np.zeros(self.out_features) if b is None else np.asarray(b, dtype=np.float64)
            if b.shape != (self.out_features,):
                raise ValueError(f"b must have shape ({self.out_features},), not {b.shape}")
            full = np.hstack([W, b[:, None] / self.bias_value])
        elif b is not None:
            raise ValueError("b given, but the layer has no bias")
        full = full / self.weight_scale
        for r, row in zip(self.out_blocks, self.tiles):
            for c, tile in zip(self.in_blocks, row):
                tile.set_weights(full[r, c])
        if self.recorder is not None:
            self.recorder.weights_set(self)

    def endurance(self) -> dict[str, np.ndarray]:
        """Programming pulses (SET + RESET) each device received, per device role
        (``"device"`` on a single-device tile; ``"G+"``, ``"G-"``, ``"g+"``, ``"g-"`` on a
        multi-conductance one), all tiles' devices flattened."""
        out: dict[str, list] = {}
        for tile in self._all_tiles():
            pc = tile.crossbar.pulse_counts
            pc = pc if isinstance(pc, dict) else {"device": pc}
            for role, (sets, resets) in pc.items():
                out.setdefault(role, []).append((sets.astype(np.int64) + resets).reshape(-1))
        return {role: np.concatenate(v) for role, v in out.items()}

    def cycle_counts(self) -> tuple[int, int]:
        """(operation cycles, transfer cycles) of all tiles by the timing formulas."""
        tiles = list(self._all_tiles())
        return sum(t.op_cycles for t in tiles), sum(t.transfer_cycles for t in tiles)

    def device_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(b_min, b_max)``, each (out, lines): every device's own weight bounds (the
        device-to-device spread of ``device.w_min``/``w_max``) in the layer's units
        (× ``weight_scale``), bias column last."""
        lo, hi = np.zeros((2, self.out_features, self.lines))
        for r, row in zip(self.out_blocks, self.tiles):
            for c, tile in zip(self.in_blocks, row):
                dev = tile.crossbar.devices
                if isinstance(dev, dict):    # multi-conductance: F·G + g, the MSP one-sided
                    F, lsp = tile.crossbar.significance, "g+" in dev and not tile.cfg.mc.pair_only
                    if not lsp:
                        g_lo = g_hi = 0
                    elif tile.crossbar.capacitor:        # one device around 0 (either polarity)
                        g_hi = np.maximum(dev["g+"].b_max, -dev["g+"].b_min)
                        g_lo = g_hi
                    else:
                        g_hi, g_lo = dev["g+"].b_max, dev["g-"].b_max
                    lo[r, c], hi[r, c] = -(F * dev["G-"].b_max + g_lo), F * dev["G+"].b_max + g_hi
                else:
                    lo[r, c], hi[r, c] = dev.b_min, dev.b_max
        return lo * self.weight_scale, hi * self.weight_scale

    def pinned_fraction(self) -> float:
        """Fraction of the devices within one ``dw_min`` of either of their own bounds."""
        lo, hi = self.device_bounds()
        w = self.tile_weights() * self.weight_scale
        step = self.cfg.device.dw_min * self.weight_scale
        return float(np.mean((w - lo < step) | (hi - w < step)))

    @property
    def clips(self) -> ClipCounts:
        """What the layer's tiles clipped since the last :meth:`reset_clips` (sums)."""
        total = ClipCounts()
        for tile in self._all_tiles():
            for k, v in tile.clips.as_dict().items():
                setattr(total, k, getattr(total, k) + v)
        return total

    def reset_clips(self) -> None:
        for tile in self._all_tiles():
            tile.clips.reset()

    # -- operations ----------------------------------------------------------------------
    def forward(self, X) -> np.ndarray:
        """``W·x + b`` of each row of ``X`` (B, in) → (B, out) (a vector → a vector)."""
        if self._entry_tile() is not None:
            A = self._entry_rows("x", X, self.in_features)
            Y = None if A is None else self.tiles[0][0].read_layer_rows(
                A, "pad" if self.bias else "plain", False, self.bias_value, self.weight_scale)
            if Y is not None:
                return Y if A is X else (Y[0] if np.ndim(X) == 1 else Y)
        A, single = self._inputs(X)
        if self._single_tile:
            Y = self._call(self.tiles[0][0], "forward", A)
            Y *= self.weight_scale
            return Y[0] if single else Y
        Y = np.zeros((len(A), self.out_features))
        for r, row in zip(self.out_blocks, self.tiles):
            for c, tile in zip(self.in_blocks, row):
                Y[:, r] += self._call(tile, "forward", A[:, c])
        Y *= self.weight_scale
        return Y[0] if single else Y

    def backward(self, D) -> np.ndarray:
        """``Wᵀ·d`` of each row of ``D`` (B, out) → (B, in) (the bias line's share dropped)."""
        if self._entry_tile() is not None:
            E = self._entry_rows("d", D, self.out_features)
            Z = None if E is None else self.tiles[0][0].read_layer_rows(
                E, "errors", True, 0.0, self.weight_scale)
            if Z is not None:
                if self.bias:
                    Z = Z[:, :self.in_features]
                return Z if E is D else (Z[0] if np.ndim(D) == 1 else Z)
        E, s, single = self._errors(D)
        if self._single_tile:
            Z = self._call(self.tiles[0][0], "backward", E)
        else:
            Z = np.zeros((len(E), self.lines))
            for r, row in zip(self.out_blocks, self.tiles):
                for c, tile in zip(self.in_blocks, row):
                    Z[:, c] += self._call(tile, "backward", E[:, r])
        Z = Z[:, :self.in_features] * (self.weight_scale / s)[:, None]
        return Z[0] if single else Z

    def update(self, X, D, lr: float | None = None) -> None:
        """Stochastic updates with the rows of ``X`` (B, in) and ``D`` (B, out), one after
        another: E[ΔW] = −lr·Σ_b d_b·x_bᵀ (``lr`` sets :attr:`lr` first)."""
        if lr is not None and lr != self._lr:
            self.lr = lr
        tile = self._entry_tile()
        if tile is not None:
            A, E = self._entry_rows("x", X, self.in_features), self._entry_rows("d", D, self.out_features)
            if A is not None and E is not None and len(A) == len(E):
                tabs = self._um_tabs.get(self._lr)
                if tabs is None:
                    if len(self._um_tabs) >= 16:
                        self._um_tabs.clear()
                    tabs = self._um_tabs[self._lr] = (np.zeros((2 * _K_MAX + 1, 4), np.int64),
                                                      [None] * (2 * _K_MAX + 1))
                got = tile.update_layer_rows(A, E, self.bias_value if self.bias else math.nan,
                                             *tabs, self._tile_lr)
                if got is not None:
                    self.monitor.add(*got)
                    return
        A, _ = self._inputs(X)
        E, scales, _ = self._errors(D)
        if len(A) != len(E):
            raise ValueError(f"X and D must have the same number of rows, not {len(A)} and {len(E)}")
        u0, c0, n0 = self._update_counts()
        for start, stop, s in scale_runs(scales):
            for r, row in zip(self.out_blocks, self.tiles):
                for c, tile in zip(self.in_blocks, row):
                    tile.lr = self._lr / (self.weight_scale * s)
                    self._call(tile, "update", A[start:stop, c], E[start:stop, r])
        u1, c1, n1 = self._update_counts()
        self.monitor.add(u1 - u0, c1 - c0, n1 - n0)     # (one entry per call, as the entries)

    def _update_counts(self) -> tuple[int, int, int]:
        if self._single_tile:
            c = self.tiles[0][0].clips
            return c.updates, c.update_lines, c.update_total
        c = [(t.clips.updates, t.clips.update_lines, t.clips.update_total) for t in self._all_tiles()]
        return tuple(int(sum(v)) for v in zip(*c))

    def _call(self, tile, op: str, *arrays):
        """One batch operation of ``tile`` (logged while a recorder is attached)."""
        if op == "update":
            out = tile.update_rows(*arrays)
        else:
            out = tile.read_rows(arrays[0], op == "backward")
        if self.recorder is not None:
            self.recorder.op(tile, op, arrays, out)
        return out


class FloatLinear:
    """``FloatLinear(in_features, out_features, *, bias=True, lr=0.01)``: the same layer
    in float64 numpy, updated by plain SGD (``W -= lr·Dᵀ·X``): the baseline."""

    clips = None            # nothing clips
    monitor = None          # nor warns

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, lr: float = 0.01,
                 name: str | None = None):
        self.in_features = _SIZE.check("in_features", in_features)
        self.out_features = _SIZE.check("out_features", out_features)
        self.bias = bool(bias)
        self.name = name or f"FloatLinear({in_features}, {out_features})"
        self.W = np.zeros((self.out_features, self.in_features))
        self.b = np.zeros(self.out_features) if self.bias else None
        self._lr = _LR.check("lr", lr)

    lr = property(lambda self: self._lr, lambda self, v: setattr(self, "_lr", _LR.check("lr", v)))

    def get_weights(self):
        return self.W.copy(), None if self.b is None else self.b.copy()

    def set_weights(self, W, b=None) -> None:
        W = np.asarray(W, dtype=np.float64)
        if W.shape != self.W.shape:
            raise ValueError(f"W must have shape {self.W.shape}, not {W.shape}")
        self.W = W.copy()
        if self.bias:
            self.b = np.zeros(self.out_features) if b is None else np.asarray(b, dtype=np.float64).copy()

    def forward(self, X) -> np.ndarray:
        A = np.asarray(X, dtype=np.float64)
        Y = A @ self.W.T
        return Y + self.b if self.bias else Y

    def backward(self, D) -> np.ndarray:
        return np.asarray(D, dtype=np.float64) @ self.W

    def update(self, X, D, lr: float | None = None) -> None:
        if lr is not None:
            self.lr = lr
        A, E = np.atleast_2d(X), np.atleast_2d(D)
        self.W -= self._lr * (E.T @ A)
        if self.bias:
            self.b -= self._lr * E.sum(axis=0)
