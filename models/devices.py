"""Resistive device arrays: per-pulse rules with aihwkit's parameter names (docs/spec.md §2).

A :class:`DeviceArray` is an (M, N) array of devices of one model.  At construction it
draws the device-to-device (dtod) parameters; every pulse then applies the model's step
with cycle-to-cycle (c2c) noise and clips to the device's own bounds.

C2c noise is *counter based*: the ξ of a pulse is a hash of (array key, device index,
number of pulses that device received before).  The weights after a set of pulses
therefore do not depend on how the pulses were grouped (slot by slot, or a whole phase at
once), which is what lets the fast update path reproduce a slot-level co-simulation
bit for bit.
"""

from __future__ import annotations

import numpy as np

from rpu.config import DeviceConfig, DeviceModel

from . import kernels

__all__ = ["DeviceArray", "c2c_normal", "UNIDIRECTIONAL_MODELS"]

_REC, _SET = kernels.REC_FIELDS, kernels.REC_SET

#: models whose conductance only increases under pulses (a RESET brings it back down)
UNIDIRECTIONAL_MODELS = (DeviceModel.EXP_STEP,)


def _log_cos(u1: np.ndarray, theta: np.ndarray) -> None:
    """ln u1 and cos θ in place, with numpy's (vectorised) float32 functions."""
    np.log(u1, out=u1)
    np.cos(theta, out=theta)


def c2c_normal(key: int, device: np.ndarray, ordinal: np.ndarray) -> np.ndarray:
    """Standard normal float32 draws, a pure function of (key, device index, pulse ordinal).

    Box–Muller on two 24-bit uniforms taken from one splitmix64 hash (tails cut at 5.8 σ).
    The hash and the float32 arithmetic are compiled (numba); the transcendental functions
    are numpy's, so the numbers do not depend on the compiler's libm.
    """
    device = np.ascontiguousarray(device, dtype=np.uint64).reshape(-1)
    ordinal = np.ascontiguousarray(np.broadcast_to(ordinal, device.shape), dtype=np.uint64)
    u1, theta = kernels.uniforms_of(np.uint64(key), device, ordinal)
    _log_cos(u1, theta)
    return kernels.xi_of(u1, theta)


def _ratio(gamma: float, bound: float) -> float:
    """|γ|/bound, the linear-step slope per unit weight (0 for a zero mean bound, e.g. the
    lower bound 0 of a multi-conductance pair device)."""
    return abs(gamma) / bound if bound else 0.0


class DeviceArray:
    """(M, N) devices of one model (``dcfg.model``) with dtod draws, c2c noise and faults.

    State and per-device parameters are float32 (M, N) arrays: ``w`` (weight), ``b_min`` /
    ``b_max`` (own bounds), ``dw_up`` / ``dw_down`` (own steps), ``stuck`` (bool).
    ``set_counts`` / ``reset_counts`` (uint32) count the potentiating / depressing pulses
    each device received (endurance); explicit :meth:`reset` operations count as RESETs.
    The four parameters and the two counters are views of one interleaved record array, so a
    sparse pulse gathers each device's record with one memory access.
    """

    def __init__(self, dcfg: DeviceConfig, shape: tuple[int, int], seed):
        if not isinstance(dcfg, DeviceConfig):
            raise TypeError(f"dcfg must be a DeviceConfig, not {dcfg!r}")
        if (not isinstance(shape, tuple) or len(shape) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in shape)):
            raise TypeError(f"shape must be a tuple (M, N) of integers, not {shape!r}")
        if min(shape) < 1:
            raise ValueError(f"shape must have both sizes >= 1, not {shape!r}")
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        s_dtod, s_key, s_reset = ss.spawn(3)
        self.cfg, self.shape = dcfg, shape
        self.key = int(s_key.generate_state(1, dtype=np.uint64)[0])
        self._reset_rng = np.random.default_rng(s_reset)
        self._draw(np.random.default_rng(s_dtod))

    def _view(self, table: np.ndarray, col: int) -> np.ndarray:
        return table[:, col].reshape(self.shape)

    dw_up = property(lambda self: self._view(self._par, 0))
    dw_down = property(lambda self: self._view(self._par, 1))
    b_min = property(lambda self: self._view(self._par, 2))
    b_max = property(lambda self: self._view(self._par, 3))
    set_counts = property(lambda self: self._view(self._rec, _SET))
    reset_counts = property(lambda self: self._view(self._rec, _SET + 1))

    # -- construction ------------------------------------------------------------------
    def _draw(self, rng: np.random.Generator) -> None:
        c, f32 = self.cfg, np.float32

        def normal():
            return rng.standard_normal(self.shape, dtype=f32)

        # one record per device: dw_up, dw_down, b_min, b_max (float32 bits), set, reset (uint32)
        self._rec = np.zeros((self.shape[0] * self.shape[1], _REC), np.uint32)
        self._par = self._rec.view(f32)[:, :4]
        gain = 1 + f32(c.dw_min_dtod) * normal()
        r = f32(c.up_down_dtod) * normal()
        up_bias, down_bias = min(c.up_down, 0.0), -max(c.up_down, 0.0)   # aihwkit populate()
        # enforce_consistency (aihwkit's Python default): steps are magnitudes
        self.dw_up[...] = np.abs((f32(up_bias) + gain + r) * f32(c.dw_min))
        self.dw_down[...] = np.abs((f32(down_bias) + gain - r) * f32(c.dw_min))
        del gain, r
        b_max = f32(c.w_max) * (1 + f32(c.w_max_dtod) * normal())
        b_min = f32(c.w_min) * (1 + f32(c.w_min_dtod) * normal())
        swap = b_min > b_max
        b_min[swap], b_max[swap] = b_max[swap], b_min[swap]
        self.b_min[...], self.b_max[...] = b_min, b_max
        self.w = np.clip(np.zeros(self.shape, f32), b_min, b_max)
        self.stuck = rng.random(self.shape) < c.stuck_prob if c.stuck_prob > 0 else None
        if self.stuck is not None:
            high = rng.random(self.shape) < 0.5
            self.w[self.stuck] = np.where(high, b_max, b_min)[self.stuck]

    # -- state -------------------------------------------------------------------------
    @property
    def unidirectional(self) -> bool:
        return self.cfg.model in UNIDIRECTIONAL_MODELS

    def set_weights(self, values: np.ndarray) -> int:
        """Program every device to ``values`` clipped to its own bounds (stuck ones stay);
        returns how many programmable devices were clipped."""
        values = np.asarray(values, dtype=np.float32)
        new = np.clip(values, self.b_min, self.b_max)
        clipped = new != values
        if self.stuck is not None:
            new[self.stuck] = self.w[self.stuck]
            clipped &= ~self.stuck
        self.w = new
        return int(np.count_nonzero(clipped))

    def reset(self, mask: np.ndarray, *, zero: bool = False) -> None:
        """RESET the devices where ``mask`` (bool (M, N)) to the low state b_min + reset_std·|ξ|,
        or with ``zero`` to the zero point 0 + reset_std·ξ (clipped to the own bounds: a
        bidirectional 3T1C capacitor shorted to its reference)."""
        idx = np.flatnonzero(mask)
        self._rec.reshape(-1)[_REC * idx + _SET + 1] += 1
        if self.stuck is not None:
            idx = idx[~self.stuck.reshape(-1)[idx]]
        lo, hi = self._par[idx, 2], self._par[idx, 3]
        xi = self._reset_rng.standard_normal(idx.size, dtype=np.float32)
        if zero:
            self.w.reshape(-1)[idx] = np.clip(np.float32(self.cfg.reset_std) * xi, lo, hi)
            return
        self.w.reshape(-1)[idx] = np.minimum(lo + np.float32(self.cfg.reset_std) * np.abs(xi), hi)

    # -- pulses ------------------------------------------------------------------------
    def _step(self, w, dw, lo, hi, up):
        """Mean step of one pulse at weight ``w`` (before c2c noise), signed like ``dw``
        (+dw_up or −dw_down); ``up`` is a bool array (the direction of each element)."""
        c, model, f32 = self.cfg, self.cfg.model, np.float32
        if model == "constant_step":
            return dw
        if model == "linear_step":        # aihwkit LinearStep, mean_bound_reference
            slope = np.where(up, f32(_ratio(c.gamma_up, c.w_max)), f32(_ratio(c.gamma_down, c.w_min)))
            return dw * (1 - slope * w)
        if model == "soft_bounds":        # step shrinks linearly to 0 at the own bound
            return dw * (1 - w / np.where(up, hi, lo))
        # exp_step (up only): strongly saturating toward b_max
        x = (w - lo) / (hi - lo)
        return dw * np.exp(f32(-c.exp_a) * x)

    def mean_step(self, w: np.ndarray, up: np.ndarray) -> np.ndarray:
        """Mean signed change of one pulse (before c2c noise and the clip) for every device at
        weights ``w`` (M, N), potentiating where ``up``: 0 for stuck devices and for
        depressing pulses on a unidirectional device (what an expectation needs)."""
        w = np.asarray(w, dtype=np.float32)
        up = np.broadcast_to(np.asarray(up, dtype=bool), self.shape)
        dw = np.where(up, self.dw_up, -self.dw_down)
        step = self._step(w, dw, self.b_min, self.b_max, up)
        if self.unidirectional:
            step = np.where(up, step, np.float32(0))
        if self.stuck is not None:
            step = np.where(self.stuck, np.float32(0), step)
        return step

    def pulse(self, idx: np.ndarray, n: np.ndarray, up) -> None:
        """Apply ``n[k]`` pulses to the device with flat index ``idx[k]``, potentiating where
        ``up`` (a bool, or a bool array like ``idx``), depressing elsewhere.

        ``idx`` must be unique.  Each pulse: w ± step·(1 + dw_min_std·ξ), then clip to the
        device's bounds.  Depressing pulses do nothing to a unidirectional device (counted).
        """
        idx, n = np.asarray(idx, dtype=np.intp), np.asarray(n, dtype=np.intp)
        up = np.broadcast_to(np.asarray(up, dtype=bool), idx.shape)
        first = np.repeat(np.cumsum(n) - n, n)
        self.pulse_sequence(np.repeat(idx, n), np.arange(first.size) - first, np.repeat(up, n))

    def pulse_sequence(self, idx: np.ndarray, k: np.ndarray, up) -> None:
        """One pulse per element, in time order: device ``idx[e]`` receives a pulse,
        potentiating where ``up``; ``k[e]`` = the number of earlier elements of that device.

        The pulses go in rounds of equal k (a device appears once per round), so each device's
        pulses keep their order; the c2c draw of a pulse is that of its ordinal (pulses the
        device received before), all drawn at once.  Each pulse: w ± step·(1 + dw_min_std·ξ),
        then clip to the device's bounds.
        """
        idx = np.ascontiguousarray(idx, dtype=np.intp)
        if idx.size == 0:
            return
        k = np.ascontiguousarray(k)
        up = np.ascontiguousarray(np.broadcast_to(np.asarray(up, dtype=bool), idx.shape))
        stuck = self.stuck.reshape(-1) if self.stuck is not None else np.zeros(0, bool)
        bounds, idx, up, dw, lo, hi, u1, theta = kernels.pulse_plan(
            self._rec, self._rec.view(np.float32), idx, k, up, self.unidirectional, stuck,
            np.uint64(self.key))
        _log_cos(u1, theta)
        sigma = np.float32(self.cfg.dw_min_std)
        wf = self.w.reshape(-1)
        if self.cfg.model == "constant_step":       # the step does not depend on w: one pass
            kernels.apply_steps(wf, idx, dw, u1, theta, sigma, lo, hi)
            return
        for r in range(bounds.size - 1):
            s = slice(bounds[r], bounds[r + 1])
            step = self._step(wf.take(idx[s]), dw[s], lo[s], hi[s], up[s])
            kernels.apply_steps(wf, idx[s], step, u1[s], theta[s], sigma, lo[s], hi[s])

    def disturb(self, mask: np.ndarray, up: bool) -> None:
        """Half-select disturb on the devices where ``mask``: w ± disturb·dw (no noise), clip."""
        d = np.float32(self.cfg.disturb)
        if not d or (self.unidirectional and not up):
            return
        m = mask if self.stuck is None else mask & ~self.stuck
        dw = self.dw_up if up else self.dw_down
        new = self.w + d * dw if up else self.w - d * dw
        np.clip(new, self.b_min, self.b_max, out=new)
        self.w = np.where(m, new, self.w)
