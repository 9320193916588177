"""Packing of multi-lane ports (lane/line 0 in the lowest bits), shared by the benches."""

from __future__ import annotations

import numpy as np

__all__ = ["pack_lanes", "unpack_lanes", "unpack_bits", "read_uint"]


def pack_lanes(values, width: int) -> int:
    """Integers as ``width``-bit two's complement lanes of one port value (lane 0 lowest)."""
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    if v.size == 0:
        return 0
    bits = (v[:, None] >> np.arange(width, dtype=np.int64)) & 1          # (lanes, width)
    return int.from_bytes(np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little")
                          .tobytes(), "little")


def unpack_lanes(word: int, width: int, n: int) -> np.ndarray:
    """``n`` signed ``width``-bit lanes of ``word`` as int64."""
    word, mask = int(word), (1 << width) - 1
    raw = np.array([(word >> (i * width)) & mask for i in range(n)], dtype=np.int64)
    return np.where(raw >> (width - 1) == 1, raw - (1 << width), raw)


def unpack_bits(value: int, n: int) -> np.ndarray:
    """Bits 0..n-1 of ``value`` as a bool array (bit i = line i)."""
    raw = int(value).to_bytes(-(-n // 8) or 1, "little")
    return np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n].astype(bool)


def read_uint(handle, low_bits: int | None = None) -> int:
    """Unsigned value of a cocotb port handle (or of its ``low_bits`` lowest bits), read as
    the simulator's bit string.

    Equal to ``handle.value.to_unsigned()`` without building a ``LogicArray`` (about 4×
    cheaper for a 263-bit port: the front-end's per-cycle read).  Bits above ``low_bits``
    are not looked at, so they may be X.  An X or Z bit that is looked at raises
    ``ValueError`` naming the port, as ``to_unsigned`` would.
    """
    bits = handle._handle.get_signal_val_binstr()          # MSB first
    if low_bits is not None:
        if low_bits == 0:
            return 0
        bits = bits[-low_bits:]
    try:
        return int(bits, 2)
    except ValueError:
        raise ValueError(f"{handle._path} is not a defined value: {bits}") from None
