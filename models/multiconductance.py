"""Multi-conductance cells (Cristiano 2018 / Ambrogio 2018): W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻).

Four :class:`~rpu.models.devices.DeviceArray` per tile: the most-significant pair (MSP, G,
model ``cfg.mc.msp_model``) and the least-significant pair (LSP, g, ``cfg.mc.lsp_model``),
each device bounded to [0, ``cfg.mc.g_max``] (with the tile's dtod spreads).  Both pairs
are used unidirectionally: a coincidence at +V ("increase w") is one SET pulse on the
pair's "+" device, at −V ("decrease w") one SET pulse on its "−" device.  The LSP's
polarity p is per column (x-line): with p_j = −1 column j's LSP reads as −(g⁺ − g⁻) and
increasing w pulses g⁻ (the physical devices keep their names; Ambrogio's inversion).

Reads of one pair or device (``part`` other than ``"combined"``: the transfer's reads)
sense with the gain 2^``mc.read_shift`` before the output noise and the ADC, so one
device's conductance spans the converter.
"""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig
from .crossbar import (Readout, _check_cfg_seed, _ReadMixin, check_slots,
                                 coincidences, phase_slots)
from .devices import DeviceArray

from .clipping import warn_clipped

__all__ = ["MultiConductanceCrossbar", "PairCrossbar", "PAIRS", "PARTS"]

PAIRS = ("msp", "lsp")
#: read parts, in the order of :class:`rpu.spec.encodings.ReadPart` (port codes 0..4)
PARTS = ("combined", "msp", "lsp", "G+", "G-")


class MultiConductanceCrossbar(_ReadMixin):
    """M × N multi-conductance cells with reads of the MSP, the LSP or the combined weight.

    ``devices`` maps ``"G+"``, ``"G-"``, ``"g+"``, ``"g-"`` to their arrays (physical
    devices); ``polarity`` is the LSP polarity per column, int8 (N,) of ±1.
    """

    def __init__(self, cfg: TileConfig, *, seed: int | None = None):
        seed = _check_cfg_seed(cfg, seed)
        self.cfg, self.seed = cfg, seed
        mc, shape = cfg.mc, (cfg.out_size, cfg.in_size)
        seeds = np.random.SeedSequence(seed).spawn(5)
        pair_cfg = {pair: cfg.device.replace(model=model, w_min=0.0, w_max=mc.g_max, w_min_dtod=0.0)
                    for pair, model in (("msp", mc.msp_model), ("lsp", mc.lsp_model))}
        self.devices = {name: DeviceArray(pair_cfg[pair], shape, s) for (name, pair), s in
                        zip((("G+", "msp"), ("G-", "msp"), ("g+", "lsp"), ("g-", "lsp")), seeds)}
        self.significance = np.float32(mc.significance)
        self.polarity = np.full(cfg.in_size, mc.initial_polarity, np.int8)
        self.read_gain = np.float64(1 << mc.read_shift)
        self._readout = Readout(cfg, np.random.default_rng(seeds[4]))

    # -- weights -------------------------------------------------------------------------
    @property
    def weights_msp(self) -> np.ndarray:
        """G⁺ − G⁻ (M, N) float32 (without the factor F)."""
        return self.devices["G+"].w - self.devices["G-"].w

    @property
    def weights_lsp(self) -> np.ndarray:
        """p·(g⁺ − g⁻) (M, N) float32, p per column."""
        return self.polarity.astype(np.float32)[None, :] * (self.devices["g+"].w - self.devices["g-"].w)

    @property
    def weights(self) -> np.ndarray:
        """W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻) (M, N) float32."""
        return self.significance * self.weights_msp + self.weights_lsp

    def _read_weights(self, part: str = "combined") -> np.ndarray:
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        return {"combined": lambda: self.weights, "msp": lambda: self.weights_msp,
                "lsp": lambda: self.weights_lsp, "G+": lambda: self.devices["G+"].w,
                "G-": lambda: self.devices["G-"].w}[part]()

    def _read_gain(self, part: str = "combined"):
        return None if part == "combined" else self.read_gain

    def set_weights(self, W) -> int:
        """Program W/F onto the MSP (G⁺ = max(W/F, 0), G⁻ = max(−W/F, 0), clipped to each
        device's bounds) and RESET the LSP; the result is W up to clipping and reset noise."""
        W = np.asarray(W)
        shape = (self.cfg.out_size, self.cfg.in_size)
        if W.shape != shape:
            raise ValueError(f"W must have shape {shape}, not {W.shape}")
        if not np.issubdtype(W.dtype, np.number) or np.iscomplexobj(W) or not np.all(np.isfinite(W)):
            raise ValueError("W must be real and finite (no NaN/inf)")
        q = W.astype(np.float32) / self.significance
        clipped = (self.devices["G+"].set_weights(np.maximum(q, 0))
                   + self.devices["G-"].set_weights(np.maximum(-q, 0)))
        everywhere = np.ones(shape, bool)
        self.devices["g+"].reset(everywhere)
        self.devices["g-"].reset(everywhere)
        warn_clipped(clipped, 2 * W.size, "MSP devices", "the weights exceeded F·g_max "
                     "(mc.significance, mc.g_max)")
        return clipped

    def set_pair(self, pair: str, plus, minus) -> None:
        """Program both devices of ``pair`` ('msp': G⁺, G⁻; 'lsp': g⁺, g⁻) directly."""
        p, m = self._pair_devices(pair)
        shape = (self.cfg.out_size, self.cfg.in_size)
        for name, a in (("plus", plus), ("minus", minus)):
            a = np.asarray(a)
            if a.shape != shape or not np.all(np.isfinite(a)):
                raise ValueError(f"{name} must be a finite array of shape {shape}")
        p.set_weights(plus)
        m.set_weights(minus)

    @property
    def pulse_counts(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{device role: (set_counts, reset_counts)} (copies)."""
        return {k: (d.set_counts.copy(), d.reset_counts.copy()) for k, d in self.devices.items()}

    # -- polarity, reset, leakage ---------------------------------------------------------
    def flip_polarity(self, columns=None) -> None:
        """p_j ← −p_j for ``columns`` (an index, a sequence or a bool mask; default all):
        the LSP's read sign and which device an "increase w" pulse SETs change together, so
        W changes by −2·p_j·(g⁺ − g⁻) of those columns (nothing right after their reset;
        the transfer compensates the reset residue)."""
        cols = np.arange(self.cfg.in_size) if columns is None else np.asarray(columns)
        self.polarity[cols] = -self.polarity[cols]

    def leak(self) -> None:
        """One update's LSP leakage (``mc.lsp_leak``, a 3T1C capacitor): each LSP device
        decays toward its zero point (its lower bound): g ← b_min + (g − b_min)·(1 − leak)."""
        leak = self.cfg.mc.lsp_leak
        if not leak:
            return
        keep = np.float32(1.0 - leak)
        for name in ("g+", "g-"):
            d = self.devices[name]
            new = d.b_min + (d.w - d.b_min) * keep
            d.w = new if d.stuck is None else np.where(d.stuck, d.w, new)

    def reset_lsp_column(self, column: int) -> None:
        """RESET both LSP devices of x-line ``column`` to their low state."""
        if isinstance(column, bool) or not isinstance(column, (int, np.integer)):
            raise TypeError(f"column must be an integer, not {column!r}")
        if not 0 <= column < self.cfg.in_size:
            raise ValueError(f"column must be in [0, {self.cfg.in_size - 1}], not {column}")
        mask = np.zeros((self.cfg.out_size, self.cfg.in_size), bool)
        mask[:, column] = True
        self.reset("lsp", mask)

    def reset(self, pair: str, mask) -> None:
        """RESET both devices of ``pair`` where ``mask`` (bool (M, N))."""
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (self.cfg.out_size, self.cfg.in_size):
            raise ValueError(f"mask must be a bool array of shape {(self.cfg.out_size, self.cfg.in_size)}")
        for d in self._pair_devices(pair):
            d.reset(mask)

    def _pair_devices(self, pair: str) -> tuple[DeviceArray, DeviceArray]:
        """The (⁺, ⁻) devices of ``pair``."""
        if pair == "msp":
            return self.devices["G+"], self.devices["G-"]
        if pair == "lsp":
            return self.devices["g+"], self.devices["g-"]
        raise ValueError(f"pair must be one of {PAIRS}, not {pair!r}")

    # -- update --------------------------------------------------------------------------
    def apply_slot(self, x_pos, x_neg, d_pos, d_neg, *, pair: str = "lsp") -> None:
        """One slot of line drives (bool (N,), (N,), (M,), (M,)) on ``pair``."""
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=False)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=False)
        self._apply(xp[None], xn[None], dp[None], dn[None], pair)

    def apply_slots(self, x_pos, x_neg, d_pos, d_neg, *, pair: str = "lsp") -> None:
        """T slots (bool (T, N), (T, N), (T, M), (T, M)) on ``pair``; equals T slot calls."""
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=True)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=True)
        if xp.shape[0] != dp.shape[0]:
            raise ValueError(f"x and d drives must cover the same number of slots, not {xp.shape[0]} and {dp.shape[0]}")
        self._apply(xp, xn, dp, dn, pair)

    def apply_phase_trains(self, trains, *, pair: str = "lsp") -> None:
        """Apply one update's sign-phase trains to ``pair`` (see ``Crossbar.apply_phase_trains``)."""
        for t in trains:
            self._apply(*phase_slots(t, self.cfg.in_size, self.cfg.out_size), pair)

    def _apply(self, xp, xn, dp, dn, pair: str) -> None:
        # every pulse is a SET on one device, so grouping slots never reorders a device's pulses
        plus, minus = self._pair_devices(pair)
        n = self.cfg.in_size
        flipped = (self.polarity < 0) if pair == "lsp" else None
        for a, b, inc, dec in ((dn, xp, plus, minus), (dp, xn, minus, plus)):  # +V: increase w
            for flat, k, _ in coincidences(a, b):
                if flipped is None or not flipped.any():
                    inc.pulse_sequence(flat, k, up=True)
                    continue
                other = flipped[flat % n]          # p_j = −1: the other device of the pair
                inc.pulse_sequence(flat[~other], k[~other], up=True)
                dec.pulse_sequence(flat[other], k[other], up=True)


class PairCrossbar(MultiConductanceCrossbar):
    """The single-pair baseline (``mc.pair_only``): W = F·(G⁺ − G⁻) of the MSP devices
    alone, pulsed directly by the updates ("increase w" SETs G⁺, "decrease w" G⁻), with
    aihwkit's OneSidedUnitCell refresh (:meth:`refresh`); the LSP devices stay reset and
    unused.  Same devices, same weight range as the multi-conductance cell's MSP."""

    @property
    def weights(self) -> np.ndarray:
        return self.significance * self.weights_msp

    def _read_weights(self, part: str = "combined") -> np.ndarray:
        return self.weights if part == "combined" else super()._read_weights(part)

    def apply_slot(self, x_pos, x_neg, d_pos, d_neg, *, pair: str = "msp") -> None:
        super().apply_slot(x_pos, x_neg, d_pos, d_neg, pair=pair)

    def apply_slots(self, x_pos, x_neg, d_pos, d_neg, *, pair: str = "msp") -> None:
        super().apply_slots(x_pos, x_neg, d_pos, d_neg, pair=pair)

    def apply_phase_trains(self, trains, *, pair: str = "msp") -> None:
        super().apply_phase_trains(trains, pair=pair)

    def leak(self) -> None:
        pass

    def refresh(self) -> int:
        """Where both devices exceed ``refresh_threshold``·g_max: RESET both and program the
        difference back closed loop (``max_iterations`` rounds of at most ``max_pulses``
        pulses, ⌈|e|/dw_min⌉ each, to within ``transfer_tolerance``/F; true conductances,
        no read noise, as aihwkit's refresh).  Returns the cells refreshed."""
        mc = self.cfg.mc
        gp, gm = self.devices["G+"], self.devices["G-"]
        thr = np.float32(mc.refresh_threshold * mc.g_max)
        both = (gp.w > thr) & (gm.w > thr)
        cells = int(both.sum())
        if not cells:
            return 0
        target = (gp.w - gm.w)[both].astype(np.float64)
        gp.reset(both)
        gm.reset(both)
        idx = np.flatnonzero(both)
        tol, step = mc.transfer_tolerance / mc.significance, self.cfg.device.dw_min
        for _ in range(mc.max_iterations):
            e = target - (gp.w - gm.w).reshape(-1)[idx]
            active = np.abs(e) > tol
            if not active.any():
                break
            n = np.clip(np.ceil(np.abs(e) / step), 1, mc.max_pulses).astype(np.intp)
            for dev, sel in ((gp, active & (e > 0)), (gm, active & (e < 0))):
                if sel.any():
                    dev.pulse(idx[sel], n[sel], True)
        return cells
