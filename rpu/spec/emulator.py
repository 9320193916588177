"""The emulated crossbar's contract (an FPGA prototyping aid, not part of the tile): its
number formats, its random source, its register window and its stall formulas — read by the
gateware (:mod:`rpu.rtl.emulator`), the bit-exact reference (:mod:`rpu.models.ref_emulator`)
and the benches.  Semantics: :class:`rpu.config.EmulatorConfig`; design: docs/fpga.md,
"The emulated crossbar".

**Array.** W (M × N, rows = d-lines i, columns = x-lines j) is one block-RAM word per row:
device j at bits ``[j·D, (j+1)·D)`` = state s (``state_bits``, two's complement), then its
up and down steps (``step_bits`` each, unsigned).

**Random source.** One 64-bit Fibonacci LFSR (``spec.streams``' x-side polynomial, its
own seed through ``expand_seed``) leaps :data:`DRAW_LEAP` = 64 shifts per draw (a whole
state: with a leap of 8 the windows would only shift, and column j + 1 would repeat what
column j drew one draw earlier — the initial states and steps would copy each other along
diagonals); a draw gives
every column j the 8-bit value XOR over ``column_taps(N)[j]`` of the state windows
``state[o : o+8]`` (the stochastic bank's construction, so the columns' values are jointly
uniform); a field of b bits uses the value's low b bits.  Order: at reset the state is
loaded, then each row i = 0 … M−1 takes three draws, initial state, gain, imbalance; after
that every row an update slot processes takes one draw (its noise), in processing order.

**Stalls** (cycles the tile is frozen, its clock enable low; the engine reads one row per
cycle and issues the first read in the cycle it accepts the job, so each row costs one
cycle): an update slot with k rows to process (rows whose d-line is driven while some
x-line has the opposite polarity), k (none when k = 0); a read pass (the first conversion
of a window) M; a host command (load a row, poke a state) 1; the initialisation after
reset ``3·M + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpu.config import EmulatorConfig, TileConfig, check_instance

from .formats import bit_width
from .registers import Field, Register, RegisterMap, register_map
from .streams import X_TAPS, X_WIDTH, expand_seed, line_taps

__all__ = ["DRAW_BITS", "DRAW_LEAP", "EMU_LFSR_WIDTH", "EMU_LFSR_TAPS", "EMU_ID_MAGIC", "EmuFormat",
           "emu_format", "column_taps", "emu_seed_state", "spread", "slot_stall",
           "READ_STALL_FIXED", "HOST_STALL", "read_stall", "read_lanes", "read_chunks", "init_cycles", "EMU_STATES_BASE",
           "emulator_register_map", "EmuWindow", "emulator_window", "ENGINE_STATES",
           "UPDATE_STALL_FIXED"]

DRAW_BITS = 8                     # bits per column and draw (fields use their low bits)
DRAW_LEAP = 64                    # LFSR shifts per draw: a whole state, so draws share no bits
EMU_LFSR_WIDTH, EMU_LFSR_TAPS = X_WIDTH, X_TAPS
EMU_ID_MAGIC = 0x454D5531         # 'EMU1'
READ_STALL_FIXED = 0              # a read sweep: M rows (the first read issued on acceptance)
HOST_STALL = 1                    # a host command: its row (read issued on acceptance)
UPDATE_STALL_FIXED = 0            # an update slot: k rows
EMU_STATES_BASE = 0x100           # first word of the row readout window
#: engine states (EMU_STATUS.state), in encoding order
ENGINE_STATES = ("INIT", "IDLE", "UPDATE", "READ", "LOAD", "POKE")


@dataclass(frozen=True)
class EmuFormat:
    """Widths and ranges of an emulator on a tile (:func:`emu_format`)."""
    rows: int                     # M (d-lines)
    cols: int                     # N (x-lines)
    state_bits: int
    state_max: int                # |s| <= state_max (saturating)
    step_bits: int                # width of a stored up/down step
    device_bits: int              # D = state_bits + 2·step_bits
    row_bits: int                 # N·D
    net_bits: int                 # signed net slots of a read window, |net| <= dac_max
    acc_bits: int                 # a read's signed sum Σ s·net
    adc_bits: int
    adc_max: int
    read_shift: int
    noise_bits: int
    gain_bits: int
    imbalance_bits: int
    init_bits: int
    step: int


def emu_format(cfg: TileConfig, ecfg: EmulatorConfig) -> EmuFormat:
    check_instance("cfg", cfg, TileConfig)
    check_instance("ecfg", ecfg, EmulatorConfig)
    e = ecfg
    step_max = e.step + (1 << e.gain_bits) - 1 + (1 << e.imbalance_bits) - 1
    step_bits = bit_width(step_max)
    dev = e.state_bits + 2 * step_bits
    net_bits = bit_width(cfg.dac_max) + 1
    acc_bits = e.state_bits + net_bits + bit_width(max(cfg.in_size, cfg.out_size))
    return EmuFormat(rows=cfg.out_size, cols=cfg.in_size, state_bits=e.state_bits,
                     state_max=(1 << (e.state_bits - 1)) - 1, step_bits=step_bits,
                     device_bits=dev, row_bits=cfg.in_size * dev, net_bits=net_bits,
                     acc_bits=acc_bits, adc_bits=cfg.converters.adc_bits, adc_max=cfg.adc_max,
                     read_shift=e.read_shift, noise_bits=e.noise_bits, gain_bits=e.gain_bits,
                     imbalance_bits=e.imbalance_bits, init_bits=e.init_bits, step=e.step)


def column_taps(cols: int) -> tuple[tuple[int, ...], ...]:
    """State-window offsets of each column's draw (``spec.streams.line_taps``)."""
    return line_taps(EMU_LFSR_WIDTH, DRAW_BITS, cols)


def emu_seed_state(ecfg: EmulatorConfig) -> int:
    """The LFSR state loaded at reset."""
    return expand_seed(ecfg.seed, EMU_LFSR_WIDTH)


def spread(u: int, bits: int) -> int:
    """Odd spread of the low ``bits`` bits of ``u``: 2u − (2^bits − 1)."""
    return 2 * (u & ((1 << bits) - 1)) - ((1 << bits) - 1)


def slot_stall(rows: int) -> int:
    """Frozen cycles of one update slot with ``rows`` rows to process."""
    return rows + UPDATE_STALL_FIXED if rows else 0


def read_lanes(cfg: TileConfig, ecfg: EmulatorConfig) -> int:
    """Products a read forms per cycle: ``ecfg.read_lanes`` (0: all N), at most N."""
    return min(ecfg.read_lanes or cfg.in_size, cfg.in_size)


def read_chunks(cfg: TileConfig, ecfg: EmulatorConfig) -> int:
    """Cycles a read spends on one row: ceil(N / :func:`read_lanes`)."""
    lanes = read_lanes(cfg, ecfg)
    return -(-cfg.in_size // lanes)


def read_stall(cfg: TileConfig, ecfg: EmulatorConfig) -> int:
    """Frozen cycles of one read pass (a sweep over the M rows, :func:`read_chunks` cycles
    each)."""
    return cfg.out_size * read_chunks(cfg, ecfg) + READ_STALL_FIXED


def init_cycles(cfg: TileConfig) -> int:
    """Cycles of the initialisation after reset (seed load, three draws per row)."""
    return 3 * cfg.out_size + 1


def emulator_register_map(cfg: TileConfig, ecfg: EmulatorConfig) -> RegisterMap:
    """The emulator's register window (byte offsets inside the window, see
    :func:`emulator_window`)."""
    emu_format(cfg, ecfg)                       # (checks the arguments)
    R, F = Register, Field
    regs = [
        R("EMU_ID", 0x00, "ro", f"magic {EMU_ID_MAGIC:#010x} ('EMU1')",
          (F("value", 0, 32, "magic", EMU_ID_MAGIC),)),
        R("EMU_FORMAT", 0x04, "ro", "emulator parameters", (
            F("state_bits", 0, 5, "device state width", ecfg.state_bits),
            F("gain_bits", 5, 4, "gain spread bits", ecfg.gain_bits),
            F("imbalance_bits", 9, 4, "imbalance spread bits", ecfg.imbalance_bits),
            F("noise_bits", 13, 4, "noise spread bits", ecfg.noise_bits),
            F("init_bits", 17, 4, "initial-state spread bits", ecfg.init_bits),
            F("read_shift", 21, 6, "ADC code = acc / 2^read_shift", ecfg.read_shift))),
        R("EMU_STEP", 0x08, "ro", "nominal step", (F("value", 0, 32, "step", ecfg.step),)),
        R("EMU_SEED", 0x0C, "ro", "generator seed", (F("value", 0, 32, "seed", ecfg.seed),)),
        R("EMU_STATUS", 0x10, "ro", "engine status", (
            F("ready", 0, 1, "initialisation after reset done"),
            F("busy", 1, 1, "the engine is working (the tile is frozen)", 1),
            F("pending", 2, 1, "a host command (EMU_ROW, EMU_POKE) waits for the engine"),
            F("bad_cmd", 3, 1, "sticky: a command named a row or column out of range (ignored)"),
            F("state", 4, 3, "engine state: " + ", ".join(f"{i} {s.lower()}" for i, s in
                                                          enumerate(ENGINE_STATES))))),
        R("EMU_ROW", 0x14, "wo", "load row `row` into the readout window EMU_STATES",
          (F("row", 0, 16, "row (d-line) index"),)),
        R("EMU_POKE", 0x18, "wo", "set the state of device (loaded row, col)", (
            F("col", 0, 16, "column (x-line) index"),
            F("value", 16, 16, "state, two's complement, clipped to the state range"))),
        R("EMU_LOADED", 0x1C, "ro", "row in the readout window", (F("row", 0, 16, "row"),)),
        R("EMU_STALL_UPDATE", 0x20, "ro", "cycles the tile was frozen for update slots"),
        R("EMU_STALL_READ", 0x24, "ro", "cycles the tile was frozen for read sweeps"),
        R("EMU_STALL_HOST", 0x28, "ro", "cycles the tile was frozen for host commands"),
        R("EMU_SLOTS", 0x2C, "ro", "update slots that pulsed at least one row"),
        R("EMU_ROWS", 0x30, "ro", "rows processed by update slots"),
        R("EMU_PULSES_UP", 0x34, "ro", "potentiating device pulses"),
        R("EMU_PULSES_DOWN", 0x38, "ro", "depressing device pulses"),
        R("EMU_READS", 0x3C, "ro", "read sweeps (analog read passes)"),
        R("EMU_STATES", EMU_STATES_BASE, "ro", "state of (loaded row, column j), sign-extended",
          count=cfg.in_size),
    ]
    end = EMU_STATES_BASE + 4 * cfg.in_size
    return RegisterMap(regs, bit_width(end - 1),
                       {"in_size": cfg.in_size, "out_size": cfg.out_size})


@dataclass(frozen=True)
class EmuWindow:
    """The emulated tile's one AXI4-Lite address space: the tile's registers below
    ``base``, the emulator's from ``base`` (the top address bit selects)."""
    addr_width: int
    base: int
    tile_addr_width: int
    emu_addr_width: int


def emulator_window(cfg: TileConfig, ecfg: EmulatorConfig) -> EmuWindow:
    tw = register_map(cfg).addr_width
    ew = emulator_register_map(cfg, ecfg).addr_width
    aw = max(tw, ew) + 1
    return EmuWindow(aw, 1 << (aw - 1), tw, ew)

