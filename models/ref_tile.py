"""Reference of the tile top: cycle-count formulas of the controller (SPEC §3.6) and the
operation-level reference the end-to-end benches compare against.

Cycle counts are those of the ``CYC_*`` registers: from the cycle the run sequencer commits
the operation's codes (cycle 1) to the cycle it finishes (inclusive).
"""

from __future__ import annotations

from dataclasses import dataclass, field


from rpu.config import TileConfig
from .ref_adc import adc_read_cycles
from .ref_management import read_path, registers_from_config, um_cycles, update_codes
from .ref_streams import UpdateStreamsModel, active_phases

__all__ = ["beats", "read_cycles", "update_cycles", "vector_cycles", "update_period",
           "TileReference", "READ_FIXED", "UPDATE_FIXED", "VECTOR_SETS"]

VECTOR_SETS = 3         # vector buffer sets of the controller (rtl.controller.TileController)
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
    """Vector load time: cycles the loader needs per operation when the frames stream
    without gaps: ``1 + B_x + B_d`` for an update (take the queued command, receive x then
    d), ``1 + B_in`` for a read."""
    lanes = cfg.stream_width
    bx, bd = beats(cfg.in_size, lanes), beats(cfg.out_size, lanes)
    if op == "update":
        return 1 + bx + bd
    if op not in ("forward", "backward"):
        raise ValueError(f"op must be 'update', 'forward' or 'backward', not {op!r}")
    return 1 + (bx if op == "forward" else bd)


def update_period(cfg: TileConfig, phases: int, bl: int) -> int:
    """Back-to-back updates (steady state, host keeping the stream full): one update every
    ``max(update_cycles, vector_cycles, um_cycles)`` cycles — pulse time, vector load time,
    and the update manager's latency (a stage of its own; shorter than the other two unless
    the tile is tiny or BL small).  Needs ``VECTOR_SETS`` ≥ 3 for every shape: a set is held
    from its load through UM to its conversion, ``2 + B_x + B_d + L_um + max(B_x, B_d)``
    cycles, under three load times."""
    return max(update_cycles(cfg, phases, bl), vector_cycles(cfg), um_cycles(cfg))


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
