"""Codes the host, the RTL and the reference agree on (register fields, status, errors)."""

from __future__ import annotations

import enum

__all__ = ["Op", "NmCode", "RunState", "ErrorFlag", "ID_MAGIC", "RESP_OKAY", "RESP_SLVERR",
           "OP_BITS", "NM_BITS", "ReadPart", "READ_PART_BITS", "PulsePair", "TransferState",
           "tile_ops"]

ID_MAGIC = 0x52505531          # the ID register: "RPU1"
RESP_OKAY, RESP_SLVERR = 0, 2  # AXI4-Lite bresp / rresp


class Op(enum.IntEnum):
    """``CTRL.op``: the operation a start runs (any other code is refused, ``bad_op``)."""
    FORWARD = 0
    BACKWARD = 1
    UPDATE = 2
    TRANSFER = 3     # multi-conductance tiles only (refused, bad_op, on a single-pair tile)


def tile_ops(mc_enabled: bool) -> tuple[Op, ...]:
    """The ops a tile runs: TRANSFER only on a multi-conductance tile."""
    return tuple(op for op in Op if mc_enabled or op != Op.TRANSFER)


#: width of an op code (CTRL.op); codes above the last Op are refused
OP_BITS = 2


class NmCode(enum.IntEnum):
    """``CONFIG.nm_mode``: noise management (member names = :class:`rpu.config.NoiseManagement`'s;
    code 3 is refused by the register, and treated as off by the noise manager)."""
    OFF = 0
    ABS_MAX = 1
    POW2 = 2


class RunState(enum.IntEnum):
    """``STATUS.state``: the run sequencer's state."""
    IDLE = 0
    READ_DELAY = 1
    READ_WAIT = 2
    READ_DECIDE = 3
    READ_RELOAD = 4
    READ_STREAM = 5
    UPDATE = 6
    TRANSFER = 7     # a transfer event runs (multi-conductance tiles; TRANSFER_STATUS.state)


class ReadPart(enum.IntEnum):
    """``read_part`` crossbar port (multi-conductance tiles): what a read senses.  COMBINED
    is W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻) (forward and backward operations); the others are the
    transfer's reads, sensed with the gain 2^``mc.read_shift``."""
    COMBINED = 0
    MSP = 1          # G⁺ − G⁻
    LSP = 2          # p·(g⁺ − g⁻), with the column's current polarity
    MSP_PLUS = 3     # G⁺ alone (refresh)
    MSP_MINUS = 4    # G⁻ alone (refresh)


READ_PART_BITS = 3


class PulsePair(enum.IntEnum):
    """``pulse_pair`` crossbar port: the pair an update slot or a RESET (``cell_reset``) targets."""
    LSP = 0
    MSP = 1


class TransferState(enum.IntEnum):
    """``TRANSFER_STATUS.state``: the transfer sequencer's state (docs/architecture.md,
    "Multi-conductance transfer")."""
    IDLE = 0
    READ_START = 1    # start a one-hot read pass of the column (read_part held)
    READ_WAIT = 2     # integrate + convert
    READ_STREAM = 3   # the column's results into the per-row registers
    RESET_LSP = 4     # RESET both LSP devices of the column, flip its polarity
    RESET_MSP = 5     # RESET both MSP devices of the rows to refresh
    PULSE_UP = 6      # CLT slots: increase w (SET G⁺) on the rows below their target
    PULSE_DOWN = 7    # CLT slots: decrease w (SET G⁻) on the rows above it
    NEXT = 8          # column finished: counters, next column or done


class ErrorFlag(enum.IntEnum):
    """Bit positions of the sticky ``ERROR`` flags (each flag set also counts in ERR_COUNT)."""
    STREAM_LENGTH = 0
    CMD_BUSY = 1
    ILLEGAL_VALUE = 2
    BAD_OP = 3
    SEED_ZERO = 4
    ADC_TIMEOUT = 5
    BL_ERROR = 6
    BM_GAVE_UP = 7

    @property
    def key(self) -> str:
        """Field name in the register map (lower case)."""
        return self.name.lower()

    @property
    def doc(self) -> str:
        """What sets the flag and what happened to the operation."""
        return _ERROR_DOCS[self]


_ERROR_DOCS = {
    ErrorFlag.STREAM_LENGTH: "an input frame's tlast was not on its last beat (or came late): "
                             "the frame was dropped (drained to its tlast) and its operation not run",
    ErrorFlag.CMD_BUSY: "CTRL.start while the command queue was full (STATUS.cmd_ready = 0): "
                        "the command was dropped",
    ErrorFlag.ILLEGAL_VALUE: "a register write was refused (a field outside its legal range, an "
                             "unmapped address or a read-only register): nothing changed, SLVERR",
    ErrorFlag.BAD_OP: "CTRL.start with an op code that is no operation: the command was dropped",
    ErrorFlag.SEED_ZERO: "CTRL.load_seeds with a zero seed: that side's generator kept its state",
    ErrorFlag.ADC_TIMEOUT: "an ADC answer (adc_*__done) did not come in time: that group read as "
                           "code 0 and the read went on",
    ErrorFlag.BL_ERROR: "an update ran with an illegal BL or BL_max: nothing fired",
    ErrorFlag.BM_GAVE_UP: "a forward still saturated at the bound-management pass cap: its "
                          "results are the last pass's (saturated lines included)",
}


#: width of a noise-management mode (CONFIG.nm_mode); codes above the last NmCode are refused
NM_BITS = 2
assert max(Op).bit_length() <= OP_BITS and max(NmCode).bit_length() <= NM_BITS
assert max(ReadPart).bit_length() <= READ_PART_BITS
