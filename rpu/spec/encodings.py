"""Codes the host, the RTL and the reference agree on (register fields, status, errors)."""

from __future__ import annotations

import enum

__all__ = ["Op", "NmCode", "RunState", "ErrorFlag", "ID_MAGIC", "RESP_OKAY", "RESP_SLVERR"]

ID_MAGIC = 0x52505531          # the ID register: "RPU1"
RESP_OKAY, RESP_SLVERR = 0, 2  # AXI4-Lite bresp / rresp


class Op(enum.IntEnum):
    """``CTRL.op``: the operation a start runs (any other code is refused, ``bad_op``)."""
    FORWARD = 0
    BACKWARD = 1
    UPDATE = 2


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


class ErrorFlag(enum.IntEnum):
    """Bit positions of the sticky ``ERROR`` flags (each flag set also counts in ERR_COUNT)."""
    STREAM_LENGTH = 0      # a frame whose tlast was not on its last beat (dropped)
    CMD_BUSY = 1           # CTRL.start while the command queue was full (dropped)
    ILLEGAL_VALUE = 2      # a register write refused (field out of range, unmapped, read-only)
    BAD_OP = 3             # CTRL.start with an op code that is not an Op
    SEED_ZERO = 4          # a seed load with a zero seed (that side kept its state)
    ADC_TIMEOUT = 5        # an ADC answer did not come in time (the group read as 0)
    BL_ERROR = 6           # an update with an illegal BL / BL_max (nothing fired)
    BM_GAVE_UP = 7         # a forward still saturated at the bound-management pass cap

    @property
    def key(self) -> str:
        """Field name in the register map (lower case)."""
        return self.name.lower()
