"""Packing of multi-lane ports (lane/line 0 in the lowest bits), shared by the benches."""

from __future__ import annotations

import numpy as np

__all__ = ["pack_lanes", "unpack_lanes", "unpack_bits"]


def pack_lanes(values, width: int) -> int:
    """Integers as ``width``-bit two's complement lanes of one port value."""
    mask, word = (1 << width) - 1, 0
    for i, v in enumerate(np.asarray(values, dtype=np.int64).tolist()):
        word |= (v & mask) << (i * width)
    return word


def unpack_lanes(word: int, width: int, n: int) -> np.ndarray:
    """``n`` signed ``width``-bit lanes of ``word`` as int64."""
    word, mask = int(word), (1 << width) - 1
    raw = np.array([(word >> (i * width)) & mask for i in range(n)], dtype=np.int64)
    return np.where(raw >> (width - 1) == 1, raw - (1 << width), raw)


def unpack_bits(value: int, n: int) -> np.ndarray:
    """Bits 0..n-1 of ``value`` as a bool array (bit i = line i)."""
    raw = int(value).to_bytes(-(-n // 8) or 1, "little")
    return np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little")[:n].astype(bool)
