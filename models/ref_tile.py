"""Reference of the tile top: cycle-count formulas of the controller (SPEC §3.6) and the
operation-level reference the end-to-end benches compare against.

Cycle counts are those of the ``CYC_*`` registers: from the cycle the run sequencer commits
the operation's codes (cycle 1) to the cycle it finishes (inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, field


from rpu.config import TileConfig
from .ref_adc import adc_read_cycles
from .ref_management import (read_path, registers_from_config, um_cycles, nm_cycles,
                             update_codes)
from .ref_streams import UpdateStreamsModel, active_phases

__all__ = ["beats", "read_cycles", "update_cycles", "vector_cycles", "update_period",
           "TileReference", "READ_FIXED", "UPDATE_FIXED"]

READ_FIXED = 3          # accept decision, readout hand-over, stream drain
UPDATE_FIXED = 2        # commit/start cycle + done cycle


def beats(lines: int, lanes: int) -> int:
    return -(-lines // lanes)


def read_cycles(cfg: TileConfig, *, backward: bool = False, passes: int = 1,
                latency: int | None = None) -> int:
    """Forward / backward: ``passes·A + (passes−1)·(2 + B_in) + B_out + READ_FIXED``.

    ``A`` = :func:`rpu.models.ref_adc.adc_read_cycles` (integrator reset + read window +
    ``lines_per_adc·(latency+1)`` + 1), ``B_in`` = beats of the driven side (a bound-
    management retry reloads the bank), ``B_out`` = result beats (one per cycle without
    back-pressure).
    """
    lanes = cfg.stream_width
    n_in, n_out = (cfg.out_size, cfg.in_size) if backward else (cfg.in_size, cfg.out_size)
    a = adc_read_cycles(cfg, latency=latency)
    return passes * a + (passes - 1) * (2 + beats(n_in, lanes)) + beats(n_out, lanes) + READ_FIXED


def update_cycles(cfg: TileConfig, phases: int, bl: int) -> int:
    """Update: ``phases·BL·slot_cycles + UPDATE_FIXED``."""
    return phases * bl * cfg.slot_cycles + UPDATE_FIXED


def vector_cycles(cfg: TileConfig, *, op: str = "update") -> int:
    """Cycles the load + prepare stages hold the vector buffer per operation (frames
    streamed without gaps): ``1 + B_x + B_d`` (take the queued command, receive the frames)
    ``+ L_um + max(B_x, B_d) + 1`` (update manager from the cycle the full buffer is taken,
    buffer rotated into the shadow chains, release); reads use their one side and the noise
    manager."""
    lanes = cfg.stream_width
    bx, bd = beats(cfg.in_size, lanes), beats(cfg.out_size, lanes)
    if op == "update":
        return 1 + bx + bd + um_cycles(cfg) + max(bx, bd) + 1
    b = bx if op == "forward" else bd
    return 1 + b + nm_cycles(cfg) + b + 1


def update_period(cfg: TileConfig, phases: int, bl: int) -> int:
    """Back-to-back updates: ``max(update_cycles, vector_cycles)`` cycles each."""
    return max(update_cycles(cfg, phases, bl), vector_cycles(cfg))


@dataclass
class TileReference:
    """Operation-level twin of the tile: management + streams references around a
    behavioural crossbar (call order = the co-simulation's: one read per pass, one
    ``apply_slots`` per update)."""

    cfg: TileConfig
    crossbar: object
    regs: dict = field(default=None)

    def __post_init__(self):
        if self.regs is None:
            self.regs = registers_from_config(self.cfg)
        self.streams = UpdateStreamsModel(self.cfg)

    def forward(self, x_fixed):
        return read_path(self.cfg, x_fixed, self.crossbar.read_forward_pulses, regs=self.regs)

    def backward(self, d_fixed):
        return read_path(self.cfg, d_fixed, self.crossbar.read_backward_pulses,
                         backward=True, regs=self.regs)

    def update(self, x_fixed, d_fixed):
        """Returns ``(codes, drives)``; the drives are applied to the crossbar."""
        codes = update_codes(self.cfg, x_fixed, d_fixed, regs=self.regs)
        drv = self.streams.drives(codes.x_codes, codes.d_codes, codes.bl)
        if len(drv.x_pos):
            self.crossbar.apply_slots(drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg)
        return codes, drv

    def phases(self, codes) -> int:
        return len(active_phases(codes.x_codes, codes.d_codes)) if codes.bl else 0
