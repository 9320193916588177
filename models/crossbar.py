"""Behavioural crossbar: analog read (forward/backward) and slot-level update physics.

``Crossbar`` holds one :class:`~rpu.models.devices.DeviceArray` (W is M × N, x-lines are
columns, d-lines rows).  It receives what the periphery drives and changes only the
devices the half-select physics changes (SPEC §2, §3.2, docs/architecture.md):

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
from rpu.models.devices import DeviceArray

__all__ = ["Crossbar", "Readout", "PHASE_DRIVES", "coincidences", "polarity_runs", "check_slots",
           "check_vector", "check_net_slots", "check_train", "phase_slots"]

#: (x drive, d drive) of each sign phase, +1 = +V/2, -1 = -V/2 (docs/architecture.md)
PHASE_DRIVES = {0: (+1, -1), 1: (-1, +1), 2: (+1, -1), 3: (-1, +1)}

_CHUNK_ELEMS = 1 << 20          # bounds the temporaries of the coincidence count


# -- input checks ------------------------------------------------------------------------

def check_vector(name: str, v, size: int) -> np.ndarray:
    """A finite real vector of exactly ``size`` elements, as float64 (no broadcasting)."""
    a = np.asarray(v)
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric vector, not dtype {a.dtype}")
    if a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), not {a.shape}")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
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


_POW2 = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))


def _pack(bits: np.ndarray) -> np.ndarray:
    """(T, L) bool → (ceil(T/64), L) uint64 words, bit t % 64 of word t // 64 = slot t."""
    t, lines = bits.shape
    if t <= 64:
        return (_POW2[:t] @ bits.astype(np.uint64))[None]
    groups = (t + 63) // 64
    packed = np.packbits(bits, axis=0, bitorder="little")             # (ceil(T/8), L) bytes
    out = np.zeros((lines, groups * 8), np.uint8)
    out[:, :packed.shape[0]] = packed.T
    return out.view("<u8").T


def coincidences(a_bits: np.ndarray, b_bits: np.ndarray, a_any=None, b_any=None
                 ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per-device coincidence counts of row trains ``a_bits`` (T, M) and column trains (T, N).

    Yields ``(flat_idx, n)`` chunks of the non-zero counts n_ij = Σ_t a[t, i]·b[t, j]
    (flat index i·N + j).  Each line's train is packed into 64-bit words and
    n_ij = popcount(a_i & b_j) (aihwkit's CUDA scheme), restricted to the lines that fire
    at all and computed in row blocks so no temporary exceeds ``_CHUNK_ELEMS`` words.
    BLAS-free on purpose: a threaded GEMM of this thin shape stalls on a busy machine.
    """
    n_cols = b_bits.shape[1]
    a_any = a_bits.any(axis=0) if a_any is None else a_any       # lines that fire at all
    b_any = b_bits.any(axis=0) if b_any is None else b_any
    rows, cols = np.flatnonzero(a_any), np.flatnonzero(b_any)
    if rows.size == 0 or cols.size == 0:
        return
    A, B = _pack(a_bits[:, rows]), _pack(b_bits[:, cols])
    step = max(1, _CHUNK_ELEMS // cols.size)
    for r0 in range(0, rows.size, step):
        c = np.bitwise_count(np.bitwise_and.outer(A[0, r0:r0 + step], B[0]))
        if A.shape[0] > 1:
            c = c.astype(np.int32)                     # counts above 255 need a wider type
        for g in range(1, A.shape[0]):
            c += np.bitwise_count(np.bitwise_and.outer(A[g, r0:r0 + step], B[g]))
        nz = np.flatnonzero(c)
        if nz.size:
            ri, ci = np.divmod(nz, cols.size)
            flat = (rows[r0 + ri] * n_cols + cols[ci]).astype(np.int32)   # M·N <= 2^24
            yield flat, c.reshape(-1)[nz].astype(np.int32)


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
    """The converters of a read (SPEC §2 order): DAC → W·v (+w_noise) → out_noise → bound → ADC."""

    def __init__(self, cfg: TileConfig, rng: np.random.Generator):
        self.cfg, self.rng = cfg, rng

    def dac(self, v: np.ndarray) -> np.ndarray:
        """Normalised input → signed DAC codes: quantise (round half to even), clip to ±dac_max."""
        m = self.cfg.dac_max
        return np.clip(np.rint(v * m), -m, m).astype(np.int64)

    def read(self, weights: np.ndarray, net: np.ndarray, *, backward: bool):
        """ADC codes (int32) and saturation flags of W·v (or Wᵀ·v), v = net / dac_max."""
        c = self.cfg
        v = (net / c.dac_max).astype(np.float32)
        y = (weights.T @ v if backward else weights @ v).astype(np.float64)
        if c.w_noise > 0:
            y += c.w_noise * float(np.linalg.norm(v)) * self.rng.standard_normal(y.size)
        if c.out_noise > 0:
            y += c.out_noise * self.rng.standard_normal(y.size)
        saturated = np.abs(y) >= c.out_bound
        y = np.clip(y, -c.out_bound, c.out_bound)
        codes = np.clip(np.rint(y / c.adc_lsb), -c.adc_max, c.adc_max).astype(np.int32)
        return codes, saturated


class _ReadMixin:
    """Read entry points shared by the single- and multi-conductance crossbars."""

    cfg: TileConfig
    _readout: Readout

    def _read_weights(self, part: str) -> np.ndarray:
        raise NotImplementedError

    def _read(self, net: np.ndarray, backward: bool, part: str = "combined"):
        return self._readout.read(self._read_weights(part), net, backward=backward)

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

    def set_weights(self, W) -> None:
        """Program W (M, N); each device is clipped to its own bounds, stuck devices keep theirs."""
        W = np.asarray(W)
        shape = (self.cfg.out_size, self.cfg.in_size)
        if W.shape != shape:
            raise ValueError(f"W must have shape {shape}, not {W.shape}")
        if not np.issubdtype(W.dtype, np.floating) and not np.issubdtype(W.dtype, np.integer):
            raise TypeError(f"W must be real numeric, not dtype {W.dtype}")
        if not np.all(np.isfinite(W)):
            raise ValueError("W must be finite (no NaN/inf)")
        self.devices.set_weights(W)

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

        Equals T calls of :meth:`apply_slot` bit for bit: the slots are split into runs in
        which no line changes polarity (one per sign phase), each applied as per-device pulse
        counts; with a half-select disturb they run slot by slot.
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
        groups = []
        for t in trains:
            xs, ds, x_bits, d_bits = check_train(t, self.cfg.in_size, self.cfg.out_size)
            if xs != ds:                    # ±V across the selected devices (always, by table)
                groups.append((d_bits, x_bits, xs > 0))
        self._pulse_groups(groups)

    def _apply(self, xp, xn, dp, dn) -> None:
        if self.cfg.device.disturb > 0:
            for t in range(xp.shape[0]):
                s = slice(t, t + 1)
                self._pulse_groups([(dn[s], xp[s], True), (dp[s], xn[s], False)])
                self._disturb(xp[t], xn[t], dp[t], dn[t])
            return
        groups = []
        for a, b in polarity_runs(xp, xn, dp, dn):
            groups += [(dn[a:b], xp[a:b], True), (dp[a:b], xn[a:b], False)]
        self._pulse_groups(groups)

    def _pulse_groups(self, groups) -> None:
        """Apply coincidence groups ``(d trains, x trains, up)`` in order.

        A group's devices lie in (rows that fire) × (columns that fire); consecutive groups
        whose rectangles are disjoint touch disjoint devices and go to the devices in one
        ``pulse`` call (flushed every ``_CHUNK_ELEMS`` devices); an overlap starts a new batch,
        so a device's pulses keep their order.
        """
        batch, rects, size = [], [], 0

        def flush():
            nonlocal batch, size
            if batch:
                idx, n, up = (np.concatenate(v) for v in zip(*batch))
                self.devices.pulse(idx, n, up)
            batch, size = [], 0

        for a, b, up in groups:
            r, c = a.any(axis=0), b.any(axis=0)
            if not (r.any() and c.any()):
                continue
            if any((r & r2).any() and (c & c2).any() for r2, c2 in rects):
                flush()
                rects = []
            rects.append((r, c))
            for idx, n in coincidences(a, b, r, c):
                batch.append((idx, n, np.full(idx.size, up)))
                size += idx.size
                if size >= _CHUNK_ELEMS:
                    flush()
        flush()

    def _disturb(self, xp, xn, dp, dn) -> None:
        """Half-selected devices of one slot: exactly one of their lines at ±V/2."""
        x_on, d_on = (xp | xn)[None, :], (dp | dn)[:, None]
        half = x_on ^ d_on
        # seen voltage V_x - V_d is +V/2 for x at +V/2 (d idle) or d at -V/2 (x idle)
        plus = half & (xp[None, :] | dn[:, None])
        self.devices.disturb(plus, up=True)
        self.devices.disturb(half & ~plus, up=False)
