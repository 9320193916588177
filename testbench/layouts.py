"""The co-simulation's port layouts, owned in one place: the harness packs them (Amaranth),
the front-end and the benches unpack them (numpy).

* a **drive row** is one slot's four line-drive vectors, ``x_pos``, ``x_neg`` (N bits each),
  ``d_pos``, ``d_neg`` (M each), in that order from bit 0;
* the **monitor word** ``mon`` is the control bits :data:`MON_CTL` (bit 0 first), then a
  drive row; ``wake`` is the OR of the :data:`WAKE` bits (everything that needs the
  front-end's attention);
* the benches' clock has period :data:`CLOCK_NS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLOCK_NS", "MON_CTL", "WAKE", "DriveRow", "mon_bit", "sim_cycles"]

CLOCK_NS = 10

#: ``mon`` control bits, in order from bit 0; then one drive row
MON_CTL = ("rec_pending", "adc_d__integ_reset", "adc_d__integ_en", "adc_d__start",
           "adc_x__integ_reset", "adc_x__integ_en", "adc_x__start", "rec_overrun", "rec_end")
#: the control bits that wake the front-end (the recorder's flags ride along)
WAKE = MON_CTL[:7]


def mon_bit(name: str) -> int:
    """Mask of control bit ``name`` in the monitor word."""
    return 1 << MON_CTL.index(name)


def sim_cycles(ns: float) -> int:
    """Simulated nanoseconds → clock cycles of the benches' clock."""
    return int(ns // CLOCK_NS)


@dataclass(frozen=True)
class DriveRow:
    """One slot's drives of an ``in_size`` × ``out_size`` tile, packed as x_pos, x_neg,
    d_pos, d_neg (the harness's recorder rows and the monitor word's drive part)."""

    in_size: int
    out_size: int

    #: the tile's drive ports, in packing order (bit 0 first)
    FIELDS = ("x_pos", "x_neg", "d_pos", "d_neg")

    @classmethod
    def of(cls, cfg) -> "DriveRow":
        return cls(cfg.in_size, cfg.out_size)

    @property
    def width(self) -> int:
        return 2 * (self.in_size + self.out_size)

    def split(self, rows: np.ndarray):
        """``(x_pos, x_neg, d_pos, d_neg)`` column blocks of (T, width) bool rows."""
        n, m = self.in_size, self.out_size
        return rows[:, :n], rows[:, n:2 * n], rows[:, 2 * n:2 * n + m], rows[:, 2 * n + m:]

    def join(self, x_pos, x_neg, d_pos, d_neg) -> np.ndarray:
        """The (T, width) rows of four (T, lines) drive arrays (inverse of :meth:`split`)."""
        return np.concatenate([x_pos, x_neg, d_pos, d_neg], axis=1)

    def empty(self) -> np.ndarray:
        return np.zeros((0, self.width), bool)
