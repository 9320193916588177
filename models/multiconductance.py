"""Multi-conductance cells (Cristiano 2018 / Ambrogio 2018): W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻).

Four :class:`~rpu.models.devices.DeviceArray` per tile: the most-significant pair (MSP, G,
model ``cfg.mc.msp_model``) and the least-significant pair (LSP, g, ``cfg.mc.lsp_model``),
each device bounded to [0, ``cfg.mc.g_max``] (with the tile's dtod spreads).  Both pairs
are used unidirectionally: a coincidence at +V ("increase w") is one SET pulse on the
pair's "+" device, at −V ("decrease w") one SET pulse on its "−" device.  For the LSP the
roles follow the polarity p: with p = −1, increasing w pulses g⁻.
"""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig
from .crossbar import (Readout, _check_cfg_seed, _ReadMixin, check_slots,
                                 coincidences, phase_slots)
from .devices import DeviceArray

from .clipping import warn_clipped

__all__ = ["MultiConductanceCrossbar", "PAIRS", "PARTS"]

PAIRS = ("msp", "lsp")
PARTS = ("combined", "msp", "lsp")


class MultiConductanceCrossbar(_ReadMixin):
    """M × N multi-conductance cells with reads of the MSP, the LSP or the combined weight.

    ``devices`` maps ``"G+"``, ``"G-"``, ``"g+"``, ``"g-"`` to their arrays (the LSP keys
    name the current *roles*; :meth:`flip_polarity` may swap them).
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
        self.polarity = 1
        self._readout = Readout(cfg, np.random.default_rng(seeds[4]))

    # -- weights -------------------------------------------------------------------------
    @property
    def weights_msp(self) -> np.ndarray:
        """G⁺ − G⁻ (M, N) float32 (without the factor F)."""
        return self.devices["G+"].w - self.devices["G-"].w

    @property
    def weights_lsp(self) -> np.ndarray:
        """p·(g⁺ − g⁻) (M, N) float32."""
        return np.float32(self.polarity) * (self.devices["g+"].w - self.devices["g-"].w)

    @property
    def weights(self) -> np.ndarray:
        """W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻) (M, N) float32."""
        return self.significance * self.weights_msp + self.weights_lsp

    def _read_weights(self, part: str = "combined") -> np.ndarray:
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, not {part!r}")
        return {"combined": lambda: self.weights, "msp": lambda: self.weights_msp,
                "lsp": lambda: self.weights_lsp}[part]()

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
        """Program both devices of ``pair`` ('msp' or 'lsp', current roles) directly."""
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

    # -- polarity and reset --------------------------------------------------------------
    def flip_polarity(self, *, swap_roles: bool = True) -> None:
        """p ← −p.  With ``swap_roles`` g⁺ and g⁻ also exchange roles, so W is unchanged;
        without, W changes by −2p(g⁺ − g⁻) (use it right after an LSP reset)."""
        self.polarity = -self.polarity
        if swap_roles:
            self.devices["g+"], self.devices["g-"] = self.devices["g-"], self.devices["g+"]

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
        """(device pulsed to increase w, device pulsed to decrease w) of ``pair``."""
        if pair == "msp":
            return self.devices["G+"], self.devices["G-"]
        if pair == "lsp":
            inc, dec = self.devices["g+"], self.devices["g-"]
            return (inc, dec) if self.polarity > 0 else (dec, inc)
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
        inc, dec = self._pair_devices(pair)
        for flat, k, _ in coincidences(dn, xp):    # +V: increase w
            inc.pulse_sequence(flat, k, up=True)
        for flat, k, _ in coincidences(dp, xn):    # -V: decrease w
            dec.pulse_sequence(flat, k, up=True)
