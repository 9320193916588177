"""The top-level blocks ``rpu generate`` writes for a configuration."""

from __future__ import annotations

from rpu.config import TileConfig

__all__ = ["tile_blocks"]


def tile_blocks(cfg: TileConfig) -> dict:
    """``{module name: component}`` of everything the generator emits for ``cfg``."""
    from .lfsr import LFSR
    from rpu.models.ref_lfsr import PRIMITIVE_TAPS
    return {
        "rpu_x_rng": LFSR(32, PRIMITIVE_TAPS[32], leap=cfg.prob_bits),
        "rpu_d_rng": LFSR(31, PRIMITIVE_TAPS[31], leap=cfg.prob_bits),
    }
