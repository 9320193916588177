"""Cycle formulas of every block and of the tile (docs/spec.md §3), checked cycle-exactly by the
tests: the RTL must meet them, the reference and the benches predict with them.

Block latencies count from the cycle ``start`` is sampled to the cycle of ``done``; the
tile's ``CYC_*`` registers count from the cycle the run sequencer commits an operation
(cycle 1) to the cycle it finishes (inclusive).
"""

from __future__ import annotations

from rpu.config import TileConfig

from .formats import numerics

__all__ = [
    "ceil_div", "stream_beats", "ARITH_BITS_PER_CYCLE", "div_cycles", "sqrt_cycles",
    "nm_cycles", "um_cycles", "ADC_RESET_CYCLES", "adc_read_cycles", "adc_timeout_cycles",
    "window_cycles", "pulser_cycles", "VECTOR_SETS", "READ_FIXED", "UPDATE_FIXED",
    "read_cycles", "update_cycles", "vector_cycles", "update_period",
    "TRANSFER_READ_FIXED", "TRANSFER_COLUMN_READS", "TRANSFER_COLUMN_FIXED", "TRANSFER_FIXED",
    "transfer_read_cycles", "transfer_column_cycles", "transfer_cycles",
]

ARITH_BITS_PER_CYCLE = 2   # result bits per cycle of the sequential divider and square root
ADC_RESET_CYCLES = 1       # integrator reset length of a read pass
VECTOR_SETS = 3            # vector buffer sets of the tile controller (see update_period)
READ_FIXED = 3             # a read's fixed cycles: accept decision, readout hand-over, drain
UPDATE_FIXED = 2           # an update's fixed cycles: commit/start cycle + done cycle
TRANSFER_READ_FIXED = 2    # a transfer read: start cycle + the cycle the ADC interface is idle again
TRANSFER_COLUMN_READS = 5  # reads of a column besides the verify reads: G⁺, G⁻, LSP, LSP after reset, first MSP
TRANSFER_COLUMN_FIXED = 3  # LSP reset (+ polarity flip), MSP refresh reset, column-done cycle
TRANSFER_FIXED = 1         # a transfer event's start (commit) cycle


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def stream_beats(lines: int, lanes: int) -> int:
    """Beats of a frame of ``lines`` values at ``lanes`` values per beat."""
    return ceil_div(lines, lanes)


def div_cycles(num_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """Sequential divider: ``done`` ceil(num_bits / bits_per_cycle) + 1 cycles after start."""
    return ceil_div(num_bits, bits_per_cycle) + 1


def sqrt_cycles(rad_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """Sequential square root: ceil(ceil(rad_bits / 2) / bits_per_cycle) + 1 cycles."""
    return ceil_div((rad_bits + 1) // 2, bits_per_cycle) + 1


def nm_cycles(cfg: TileConfig) -> int:
    """Noise manager: start → done, the same for every mode (the divider always runs)."""
    return div_cycles(numerics(cfg).recip_point) + 1


def um_cycles(cfg: TileConfig) -> int:
    """Update manager: start → done (constant)."""
    nx = numerics(cfg)
    return max(div_cycles(nx.recip_point), sqrt_cycles(nx.sqrt_rad_bits)) + 2


def adc_timeout_cycles(cfg: TileConfig) -> int:
    """Cycles the ADC interface waits for a conversion answer before flagging a timeout."""
    return 4 * cfg.converters.adc_latency + 16


def adc_read_cycles(cfg: TileConfig, *, latency: int | None = None,
                    reset_cycles: int = ADC_RESET_CYCLES, window_cycles: int | None = None) -> int:
    """ADC interface, start → first cycle of ``conv_done``: reset_cycles + window +
    lines_per_adc·(latency + 1) + 1, ``latency`` the front-end's adc_start → adc_done delay
    (default ``adc_latency``), window = dac_max·slot_cycles."""
    c = cfg.converters
    latency = c.adc_latency if latency is None else latency
    window = cfg.dac_max * c.slot_cycles if window_cycles is None else window_cycles
    return reset_cycles + window + c.lines_per_adc * (latency + 1) + 1


def window_cycles(dac_bits: int, slot_cycles: int) -> int:
    """Pulse-width bank: start → done, dac_max·slot_cycles + 1."""
    return ((1 << (dac_bits - 1)) - 1) * slot_cycles + 1


def pulser_cycles(phases: int, bl: int, slot_cycles: int) -> int:
    """Stochastic pulse bank: start → done, phases·BL·slot_cycles + 1."""
    return phases * bl * slot_cycles + 1


def read_cycles(cfg: TileConfig, *, backward: bool = False, passes: int = 1,
                latency: int | None = None) -> int:
    """Tile forward / backward: ``passes·A + (passes−1)·(2 + B_in) + B_out + READ_FIXED``,
    A = :func:`adc_read_cycles`, B_in = beats of the driven side (a bound-management retry
    reloads the bank), B_out = result beats (one per cycle without back-pressure)."""
    lanes = cfg.host.stream_width
    n_in, n_out = (cfg.out_size, cfg.in_size) if backward else (cfg.in_size, cfg.out_size)
    a = adc_read_cycles(cfg, latency=latency)
    return (passes * a + (passes - 1) * (2 + stream_beats(n_in, lanes))
            + stream_beats(n_out, lanes) + READ_FIXED)


def update_cycles(cfg: TileConfig, phases: int, bl: int) -> int:
    """Tile update: ``phases·BL·slot_cycles + UPDATE_FIXED``."""
    return phases * bl * cfg.converters.slot_cycles + UPDATE_FIXED


def vector_cycles(cfg: TileConfig, *, op: str = "update") -> int:
    """Vector load time when the frames stream without gaps: ``1 + B_x + B_d`` for an
    update (take the queued command, receive x then d), ``1 + B_in`` for a read."""
    lanes = cfg.host.stream_width
    bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
    if op == "update":
        return 1 + bx + bd
    if op not in ("forward", "backward"):
        raise ValueError(f"op must be 'update', 'forward' or 'backward', not {op!r}")
    return 1 + (bx if op == "forward" else bd)


def update_period(cfg: TileConfig, phases: int, bl: int) -> int:
    """Back-to-back updates (host keeping the stream full): one every
    ``max(update_cycles, vector_cycles, um_cycles)`` cycles — pulse time, vector load time,
    update-manager latency.  Needs ``VECTOR_SETS`` ≥ 3 for every shape: a set is held from its
    load through UM to its conversion, ``2 + B_x + B_d + L_um + max(B_x, B_d)`` cycles,
    under three load times."""
    return max(update_cycles(cfg, phases, bl), vector_cycles(cfg), um_cycles(cfg))


def transfer_read_cycles(cfg: TileConfig, *, latency: int | None = None) -> int:
    """One one-hot transfer read of a column: ``A + B_d + TRANSFER_READ_FIXED`` (start,
    integrate/convert, ``B_d`` result beats into the per-row registers, idle)."""
    return (adc_read_cycles(cfg, latency=latency)
            + stream_beats(cfg.out_size, cfg.host.stream_width) + TRANSFER_READ_FIXED)


def transfer_column_cycles(cfg: TileConfig, rounds: int, pulse_slots: int, *,
                           latency: int | None = None) -> int:
    """One column's transfer, data dependent through the reference's ``rounds`` (programming
    iterations k, 0..max_iterations) and ``pulse_slots`` (Σ over the rounds of the up and
    down slots, each the largest pulse count of that direction):
    ``(5 + k)·R + 3 + pulse_slots·slot_cycles``, R = :func:`transfer_read_cycles` (three
    reads, the read after the reset, k + 1 verify reads)."""
    return ((TRANSFER_COLUMN_READS + rounds) * transfer_read_cycles(cfg, latency=latency)
            + TRANSFER_COLUMN_FIXED + pulse_slots * cfg.converters.slot_cycles)


def transfer_cycles(cfg: TileConfig, columns, *, latency: int | None = None) -> int:
    """A transfer event (``CYC_TRANSFER``): ``1 + Σ_columns transfer_column_cycles``;
    ``columns`` is ``[(rounds, pulse_slots), …]``; a full sweep is the sum over all N."""
    return TRANSFER_FIXED + sum(transfer_column_cycles(cfg, k, s, latency=latency)
                                for k, s in columns)
