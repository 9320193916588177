"""``Tile``: the bit-exact periphery reference driving the behavioural array.

forward/backward = ``ref_management.read_path`` (NM, BM, fixed point) with the array's
pulse read as the analog read (a pulse-width encoder gives net slots == DAC codes);
update = ``ref_management.update_codes`` (UM, BL) → ``ref_streams.UpdateStreamsModel``
(the RTL's random streams and sign phases) → ``apply_phase_trains`` (vectorised).
Same config and seeds ⇒ the same weights as the co-simulation.
"""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig
from rpu.models.crossbar import Crossbar, check_vector
from rpu.models.multiconductance import MultiConductanceCrossbar

__all__ = ["Tile"]


class Tile:
    """Periphery reference + array (``MultiConductanceCrossbar`` when ``cfg.mc.enabled``,
    updates then go to the LSP), for training-scale experiments."""

    def __init__(self, cfg: TileConfig, *, seed: int | None = None):
        if not isinstance(cfg, TileConfig):
            raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
        from rpu.models import ref_management, ref_streams   # issues #4, #5
        self.cfg = cfg
        self._mgmt = ref_management
        self.crossbar = (MultiConductanceCrossbar if cfg.mc.enabled else Crossbar)(cfg, seed=seed)
        self.streams = ref_streams.UpdateStreamsModel(cfg)
        self.streams.load_seeds(cfg.x_seed, cfg.d_seed)
        self.last_read = None
        self.last_update = None

    @property
    def weights(self) -> np.ndarray:
        return self.crossbar.weights

    def set_weights(self, W) -> None:
        self.crossbar.set_weights(W)

    def _read(self, v, size: int, backward: bool) -> np.ndarray:
        v = check_vector("d" if backward else "x", v, size)
        analog = self.crossbar.read_backward_pulses if backward else self.crossbar.read_forward_pulses
        r = self._mgmt.read_path(self.cfg, self._mgmt.to_fixed(self.cfg, v), analog, backward=backward)
        self.last_read = r
        return np.asarray(r.y, dtype=np.float64)

    def forward(self, x) -> np.ndarray:
        """y = W·x through DAC/NM/BM/ADC (float (M,)); details in ``last_read``."""
        return self._read(x, self.cfg.in_size, False)

    def backward(self, d) -> np.ndarray:
        """z = Wᵀ·d (float (N,)); details in ``last_read``."""
        return self._read(d, self.cfg.out_size, True)

    def update(self, x, d, lr: float | None = None):
        """Stochastic update, E[ΔW] = −lr·d·xᵀ (lr defaults to ``cfg.lr``); returns the codes."""
        cfg = self.cfg
        x = check_vector("x", x, cfg.in_size)
        d = check_vector("d", d, cfg.out_size)
        if lr is not None and lr != cfg.lr:
            cfg = cfg.replace(lr=lr)          # validated like any config field
        uc = self._mgmt.update_codes(cfg, self._mgmt.to_fixed(cfg, x), self._mgmt.to_fixed(cfg, d))
        trains = self.streams.phase_trains(uc.x_codes, uc.d_codes, uc.bl)
        self.crossbar.apply_phase_trains(trains)
        self.last_update = uc
        return uc
