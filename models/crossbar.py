"""Behavioural crossbar: analog read (forward/backward) and slot-level update physics.

``Crossbar`` holds one :class:`~rpu.models.devices.DeviceArray` (W is M × N, x-lines are
columns, d-lines rows).  It receives what the periphery drives and changes only the
devices the half-select physics changes (docs/spec.md §2, §3.2, docs/architecture.md):

* device (i, j) sees V_x(j) − V_d(i); it is potentiated at +V (x at +V/2, d at −V/2),
  depressed at −V (x at −V/2, d at +V/2), and otherwise unchanged (half-selected devices
  get the optional ``device.disturb``);
* a read integrates the lines' pulse-width drives over the read window, then applies the
  output noise, the integrator bound and the ADC quantisation.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from rpu.config import TileConfig

from . import kernels
from .clipping import warn_clipped
from .devices import DeviceArray

__all__ = ["Crossbar", "Readout", "PHASE_DRIVES", "coincidences", "polarity_runs", "check_slots",
           "check_vector", "check_batch", "check_net_slots", "check_train", "phase_slots"]

#: (x drive, d drive) of each sign phase, +1 = +V/2, -1 = -V/2 (docs/architecture.md)
PHASE_DRIVES = {0: (+1, -1), 1: (-1, +1), 2: (+1, -1), 3: (-1, +1)}

_CHUNK_ELEMS = 1 << 20          # bounds the temporaries of the coincidence count


# -- input checks ------------------------------------------------------------------------

def check_vector(name: str, v, size: int) -> np.ndarray:
    """A finite real vector of exactly ``size`` elements, as float64 (no broadcasting)."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":                   # real: floating or integer, not bool
        raise TypeError(f"{name} must be a real numeric vector, not dtype {a.dtype}")
    if a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), not {a.shape}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return a


def check_batch(name: str, v, size: int) -> np.ndarray:
    """A finite real (B, ``size``) array (B >= 0), as float64; a 1-D vector is one row."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, not dtype {a.dtype}")
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != size:
        raise ValueError(f"{name} must have shape (B, {size}), not {np.shape(v)}")
    a = a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} must be finite (no NaN/inf)")
    return a


def check_net_slots(name: str, codes, size: int, limit: int) -> np.ndarray:
    """An integer vector of ``size`` codes with |code| <= ``limit``, as int64."""
    a = np.asarray(codes)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise TypeError(f"{name} must be an integer vector, not dtype {a.dtype}")
    if a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), not {a.shape}")
    a = a.astype(np.int64)
    if a.size and np.abs(a).max() > limit:
        raise ValueError(f"{name} must lie in [-{limit}, {limit}], found {np.abs(a).max()}")
    return a


def check_slots(pos, neg, size: int, side: str, *, slots: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate one side's drive vectors: bool, shape (size,) or (T, size), never pos & neg."""
    shape_doc = f"(T, {size})" if slots else f"({size},)"
    out = []
    for nm, a in ((f"{side}_pos", pos), (f"{side}_neg", neg)):
        a = np.asarray(a)
        if a.dtype != bool:
            raise TypeError(f"{nm} must be a bool array, not dtype {a.dtype}")
        if a.ndim != (2 if slots else 1) or a.shape[-1] != size:
            raise ValueError(f"{nm} must have shape {shape_doc}, not {a.shape}")
        out.append(a)
    p, n = out
    if p.shape != n.shape:
        raise ValueError(f"{side}_pos and {side}_neg must have the same shape, not {p.shape} and {n.shape}")
    if np.any(p & n):
        raise ValueError(f"a {side}-line cannot be at +V/2 and -V/2 in the same slot")
    return p, n


def coincidences(a_bits: np.ndarray, b_bits: np.ndarray
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The coincidences of row trains ``a_bits`` (T, M) and column trains ``b_bits`` (T, N).

    Yields chunks ``(flat, k, t)``, one element per a[t, i] ∧ b[t, j], in slot order: the
    device's flat index i·N + j (intp), its pulse number within the chunk k (uint8: the
    coincidences of that device in earlier slots of the chunk, popcount(A_i & B_j & slots
    before t) with each line's trains packed into a 64-bit word, aihwkit's CUDA scheme) and
    the slot t.  Chunks are consecutive ranges of at most 64 slots and about ``_CHUNK_ELEMS``
    coincidences (a slot with more is split by rows), so every pulse of a chunk comes after
    the previous chunk's.  Sparse: only firing lines are enumerated (compiled, numba).
    """
    (slots, m), n = a_bits.shape, b_bits.shape[1]
    ea, eb = np.flatnonzero(a_bits), np.flatnonzero(b_bits)     # line events t·M + i, t·N + j
    if slots <= 64 and ea.size * eb.size <= _CHUNK_ELEMS:      # one chunk (the usual case)
        chunks = [(0, slots, ea, eb)]
    else:
        chunks = _chunks(ea, eb, slots, m, n)
    for t0, t1, a, b in chunks:
        flat, k, t = kernels.coincide(a - t0 * m, b - t0 * n, t1 - t0, m, n)
        if flat.size:
            yield flat, k, t + t0


def _chunks(ea, eb, slots: int, m: int, n: int):
    """Slot ranges ``(t0, t1, row events, column events)`` of :func:`coincidences`."""
    per_slot = np.bincount(ea // m, minlength=slots) * np.bincount(eb // n, minlength=slots)
    cum = np.cumsum(per_slot)
    t0 = 0
    while t0 < slots:
        done = int(cum[t0 - 1]) if t0 else 0
        t1 = min(t0 + 64, max(t0 + 1, int(np.searchsorted(cum, done + _CHUNK_ELEMS, side="right"))))
        a = ea[np.searchsorted(ea, t0 * m):np.searchsorted(ea, t1 * m)]
        b = eb[np.searchsorted(eb, t0 * n):np.searchsorted(eb, t1 * n)]
        if t1 > t0 + 1 or per_slot[t0] <= _CHUNK_ELEMS:
            yield t0, t1, a, b
        else:                                          # one huge slot: blocks of its rows
            step = max(1, _CHUNK_ELEMS // b.size)
            for r0 in range(0, a.size, step):
                yield t0, t1, a[r0:r0 + step], b
        t0 = t1


def polarity_runs(xp, xn, dp, dn) -> list[tuple[int, int]]:
    """Split T slots into runs ``[a, b)`` in which no line changes polarity.

    Inside a run no device can receive both directions (that needs its x-line at +V/2 and
    at −V/2), so a run's pulses can be applied per device in any grouping.  The sign phases
    of an update give one run per phase.
    """
    runs, start = [], 0
    seen = [np.zeros(a.shape[1], bool) for a in (xp, xn, dp, dn)]
    for t in range(xp.shape[0]):
        now = (xp[t], xn[t], dp[t], dn[t])
        if any((now[k] & seen[k ^ 1]).any() for k in range(4)):   # pos ↔ neg flip
            runs.append((start, t))
            start = t
            seen = [np.zeros_like(s) for s in seen]
        for k in range(4):
            seen[k] |= now[k]
    if xp.shape[0]:
        runs.append((start, xp.shape[0]))
    return runs


def check_train(train, n_x: int, n_d: int):
    """Validate one ``PhaseTrain``: (x drive, d drive, x_bits, d_bits) of its phase."""
    if train.phase not in PHASE_DRIVES:
        raise ValueError(f"phase must be one of {sorted(PHASE_DRIVES)}, not {train.phase!r}")
    xs, ds = PHASE_DRIVES[train.phase]
    x_bits, d_bits = np.asarray(train.x_bits), np.asarray(train.d_bits)
    if x_bits.dtype != bool or d_bits.dtype != bool or x_bits.ndim != 2 or d_bits.ndim != 2:
        raise TypeError("phase train x_bits/d_bits must be 2-D bool arrays")
    if x_bits.shape[1] != n_x or d_bits.shape[1] != n_d or x_bits.shape[0] != d_bits.shape[0]:
        raise ValueError(f"phase train bits must be (BL, {n_x}) and (BL, {n_d}), "
                         f"not {x_bits.shape} and {d_bits.shape}")
    if bool(train.potentiate) != (xs > 0 > ds):
        raise ValueError(f"phase {train.phase} drives x at {xs:+d}V/2 and d at {ds:+d}V/2, "
                         f"which cannot {'potentiate' if train.potentiate else 'depress'}")
    return xs, ds, x_bits, d_bits


def phase_slots(train, n_x: int, n_d: int):
    """Drive arrays (x_pos, x_neg, d_pos, d_neg) of one sign-phase train (``PhaseTrain``)."""
    xs, ds, x_bits, d_bits = check_train(train, n_x, n_d)
    zx, zd = np.zeros_like(x_bits), np.zeros_like(d_bits)
    return ((x_bits, zx) if xs > 0 else (zx, x_bits)) + ((d_bits, zd) if ds > 0 else (zd, d_bits))


# -- analog read -------------------------------------------------------------------------

class Readout:
    """The converters of a read (docs/spec.md §2 order): DAC → W·v (+w_noise) → out_noise → bound → ADC."""

    def __init__(self, cfg: TileConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng

    def dac(self, v: np.ndarray) -> np.ndarray:
        """Normalised input → signed DAC codes: quantise (round half to even), clip to ±dac_max."""
        m = self.cfg.dac_max
        return np.clip(np.rint(v * m), -m, m).astype(np.int64)

    def read(self, weights: np.ndarray, net: np.ndarray, *, backward: bool, gain=None):
        """ADC codes (int32) and saturation flags of W·v (or Wᵀ·v), v = net / dac_max, sensed
        with ``gain`` (None: 1) before the noise and the converter."""
        c, io = self.cfg, self.cfg.io
        v = (net / c.dac_max).astype(np.float32)
        y = (weights.T @ v if backward else weights @ v).astype(np.float64)
        if gain is not None:
            y *= gain
        if io.w_noise > 0:
            y += io.w_noise * float(np.linalg.norm(v)) * self.rng.standard_normal(y.size)
        if io.out_noise > 0:
            y += io.out_noise * self.rng.standard_normal(y.size)
        saturated = np.abs(y) >= io.out_bound
        y = np.clip(y, -io.out_bound, io.out_bound)
        codes = np.clip(np.rint(y / c.adc_lsb), -c.adc_max, c.adc_max).astype(np.int32)
        return codes, saturated


class _ReadMixin:
    """Read entry points shared by the single- and multi-conductance crossbars."""

    cfg: TileConfig
    _readout: Readout

    def _read_weights(self, part: str) -> np.ndarray:
        raise NotImplementedError

    def _read_gain(self, part: str = "combined"):
        return None

    def _read(self, net: np.ndarray, backward: bool, part: str = "combined"):
        return self._readout.read(self._read_weights(part), net, backward=backward,
                                  gain=self._read_gain(part))

    def read_forward(self, v, **kw):
        """y = W·v on the d-lines from a normalised input v (N,): (codes int32 (M,), saturated (M,))."""
        v = check_vector("v", v, self.cfg.in_size)
        return self._read(self._readout.dac(v), False, **kw)

    def read_backward(self, v, **kw):
        """z = Wᵀ·v on the x-lines from a normalised input v (M,): (codes (N,), saturated (N,))."""
        v = check_vector("v", v, self.cfg.out_size)
        return self._read(self._readout.dac(v), True, **kw)

    def read_forward_pulses(self, net_slots, **kw):
        """Forward read from the x-lines' net pulse slots (N,) over the window (|·| <= dac_max)."""
        net = check_net_slots("net_slots", net_slots, self.cfg.in_size, self.cfg.dac_max)
        return self._read(net, False, **kw)

    def read_backward_pulses(self, net_slots, **kw):
        """Backward read from the d-lines' net pulse slots (M,)."""
        net = check_net_slots("net_slots", net_slots, self.cfg.out_size, self.cfg.dac_max)
        return self._read(net, True, **kw)

    def read_forward_slots(self, x_pos, x_neg, **kw):
        """Forward read integrating x-line drives (T, N) over a window of T <= dac_max slots."""
        p, n = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=True)
        return self.read_forward_pulses(self._net(p, n), **kw)

    def read_backward_slots(self, d_pos, d_neg, **kw):
        """Backward read integrating d-line drives (T, M) over the window."""
        p, n = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=True)
        return self.read_backward_pulses(self._net(p, n), **kw)

    def _net(self, p, n):
        if p.shape[0] > self.cfg.dac_max:
            raise ValueError(f"a read window has at most {self.cfg.dac_max} slots, not {p.shape[0]}")
        return p.sum(axis=0, dtype=np.int64) - n.sum(axis=0, dtype=np.int64)


def _check_cfg_seed(cfg, seed):
    if not isinstance(cfg, TileConfig):
        raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
    seed = cfg.model_seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a non-negative integer or None, not {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, not {seed}")
    return seed


# -- the single-device crossbar ------------------------------------------------------------

class Crossbar(_ReadMixin):
    """An M × N array of single devices (``cfg.device``) with its read converters.

    Same seed (default ``cfg.model_seed``) ⇒ identical draws, reads and updates.
    """

    def __init__(self, cfg: TileConfig, *, seed: int | None = None):
        seed = _check_cfg_seed(cfg, seed)
        self.cfg, self.seed = cfg, seed
        s_dev, s_read = np.random.SeedSequence(seed).spawn(2)
        self.devices = DeviceArray(cfg.device, (cfg.out_size, cfg.in_size), s_dev)
        self._readout = Readout(cfg, np.random.default_rng(s_read))

    # -- weights -------------------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """W (M, N) float32, a copy."""
        return self.devices.w.copy()

    def set_weights(self, W) -> int:
        """Program W (M, N); each device is clipped to its own bounds (counted, returned, and
        a :class:`~rpu.models.clipping.ClipWarning`), stuck devices keep theirs."""
        W = np.asarray(W)
        shape = (self.cfg.out_size, self.cfg.in_size)
        if W.shape != shape:
            raise ValueError(f"W must have shape {shape}, not {W.shape}")
        if not np.issubdtype(W.dtype, np.floating) and not np.issubdtype(W.dtype, np.integer):
            raise TypeError(f"W must be real numeric, not dtype {W.dtype}")
        if not np.all(np.isfinite(W)):
            raise ValueError("W must be finite (no NaN/inf)")
        clipped = self.devices.set_weights(W)
        warn_clipped(clipped, W.size, "weights", "they lay beyond their device's bounds "
                     "(device.w_min/w_max and their dtod spread)")
        return clipped

    @property
    def pulse_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(set_counts, reset_counts) (M, N): potentiating / depressing pulses received (copies)."""
        return self.devices.set_counts.copy(), self.devices.reset_counts.copy()

    def _read_weights(self, part: str = "combined") -> np.ndarray:
        if part != "combined":
            raise ValueError(f"part must be 'combined' for a single-device crossbar, not {part!r}")
        return self.devices.w

    # -- update --------------------------------------------------------------------------
    def apply_slot(self, x_pos, x_neg, d_pos, d_neg) -> None:
        """One slot of line drives: bool (N,), (N,), (M,), (M,)."""
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=False)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=False)
        self._apply(xp[None], xn[None], dp[None], dn[None])

    def apply_slots(self, x_pos, x_neg, d_pos, d_neg) -> None:
        """T slots of line drives: bool (T, N), (T, N), (T, M), (T, M), vectorised.

        Equals T calls of :meth:`apply_slot` bit for bit: every coincidence is one pulse, applied
        in time order per device (:func:`coincidences`); with a half-select disturb the slots
        run one by one.
        """
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=True)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=True)
        if xp.shape[0] != dp.shape[0]:
            raise ValueError(f"x and d drives must cover the same number of slots, not {xp.shape[0]} and {dp.shape[0]}")
        self._apply(xp, xn, dp, dn)

    def apply_phase_trains(self, trains) -> None:
        """Apply the sign-phase pulse trains of one update (``UpdateStreamsModel.phase_trains``).

        Each train's drive polarities come from its phase (``PHASE_DRIVES``); the direction
        follows from the physics, and a train whose ``potentiate`` flag contradicts its
        drives is refused.
        """
        if self.cfg.device.disturb > 0:
            for t in trains:
                self._apply(*phase_slots(t, self.cfg.in_size, self.cfg.out_size))
            return
        a, b, up, slots = [], [], [], []
        for t in trains:
            xs, ds, x_bits, d_bits = check_train(t, self.cfg.in_size, self.cfg.out_size)
            if xs != ds:                    # ±V across the selected devices (always, by table)
                a.append(d_bits)
                b.append(x_bits)
                up.append(xs > 0)
                slots.append(x_bits.shape[0])
        if a:
            self._pulse_trains(np.concatenate(a), np.concatenate(b), np.repeat(up, slots))

    def _apply(self, xp, xn, dp, dn) -> None:
        if self.cfg.device.disturb > 0:
            for t in range(xp.shape[0]):
                self._pulse_trains(*self._interleave(xp[t:t + 1], xn[t:t + 1], dp[t:t + 1], dn[t:t + 1]))
                self._disturb(xp[t], xn[t], dp[t], dn[t])
            return
        self._pulse_trains(*self._interleave(xp, xn, dp, dn))

    @staticmethod
    def _interleave(xp, xn, dp, dn):
        """Slot t → slots 2t (+V: d at −V/2, x at +V/2) and 2t+1 (−V): time order kept, and the
        two sets of a slot are disjoint (a line has one polarity per slot)."""
        a = np.stack((dn, dp), axis=1).reshape(-1, dn.shape[1])
        b = np.stack((xp, xn), axis=1).reshape(-1, xp.shape[1])
        return a, b, np.tile(np.array([True, False]), xp.shape[0])

    def _pulse_trains(self, a, b, up) -> None:
        """Pulse the coincidences of d trains ``a`` (T, M) and x trains ``b`` (T, N), slot t
        potentiating where ``up[t]``, in time order (per device)."""
        for flat, k, t in coincidences(a, b):
            self.devices.pulse_sequence(flat, k, up[t])

    def _disturb(self, xp, xn, dp, dn) -> None:
        """Half-selected devices of one slot: exactly one of their lines at ±V/2."""
        x_on, d_on = (xp | xn)[None, :], (dp | dn)[:, None]
        half = x_on ^ d_on
        # seen voltage V_x - V_d is +V/2 for x at +V/2 (d idle) or d at -V/2 (x idle)
        plus = half & (xp[None, :] | dn[:, None])
        self.devices.disturb(plus, up=True)
        self.devices.disturb(half & ~plus, up=False)
