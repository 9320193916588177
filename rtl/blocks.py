"""The top-level blocks ``rpu generate`` writes for a configuration."""

from __future__ import annotations

from rpu.config import TileConfig

__all__ = ["tile_blocks", "TOP_NAME"]

TOP_NAME = "rpu_tile"


def tile_blocks(cfg: TileConfig) -> dict:
    """``{module name: component}`` of everything the generator emits for ``cfg``: the tile
    top (registers, streams, controller, line drivers, management, ADC interfaces)."""
    from .tile import Tile
    return {TOP_NAME: Tile(cfg)}
