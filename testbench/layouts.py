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
    mc: bool = False

    #: the tile's drive ports, in packing order (bit 0 first)
    FIELDS = ("x_pos", "x_neg", "d_pos", "d_neg")
    #: a multi-conductance tile's rows add these 1-bit ports after the drives
    MC_FIELDS = ("pulse_pair", "cell_reset")

    @classmethod
    def of(cls, cfg) -> "DriveRow":
        return cls(cfg.in_size, cfg.out_size, bool(cfg.mc.enabled))

    @property
    def fields(self) -> tuple[str, ...]:
        return self.FIELDS + (self.MC_FIELDS if self.mc else ())

    @property
    def drive_width(self) -> int:
        return 2 * (self.in_size + self.out_size)

    @property
    def width(self) -> int:
        return self.drive_width + (len(self.MC_FIELDS) if self.mc else 0)

    def kinds(self, rows: np.ndarray):
        """``(pulse_pair, cell_reset)`` bool columns of a multi-conductance tile's rows."""
        w = self.drive_width
        return rows[:, w], rows[:, w + 1]

    def split(self, rows: np.ndarray):
        """``(x_pos, x_neg, d_pos, d_neg)`` column blocks of (T, width) bool rows."""
        n, m = self.in_size, self.out_size
        return rows[:, :n], rows[:, n:2 * n], rows[:, 2 * n:2 * n + m], rows[:, 2 * n + m:2 * n + 2 * m]

    def join(self, x_pos, x_neg, d_pos, d_neg, *extra) -> np.ndarray:
        """The (T, width) rows of four (T, lines) drive arrays (inverse of :meth:`split`;
        ``extra``: the (T,) ``pulse_pair``, ``cell_reset`` columns of an MC tile)."""
        cols = [x_pos, x_neg, d_pos, d_neg] + [np.asarray(e, bool).reshape(-1, 1) for e in extra]
        return np.concatenate(cols, axis=1)

    def empty(self) -> np.ndarray:
        return np.zeros((0, self.width), bool)
