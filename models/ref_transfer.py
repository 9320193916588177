"""Bit-exact reference of the multi-conductance transfer and refresh (the RTL's
:class:`rpu.rtl.controller.transfer.TransferSequencer`; docs/architecture.md,
"Multi-conductance transfer").

One transfer *event* treats ``columns`` columns in turn, continuing where the last event
stopped (a *sweep* is all N columns).  Column j:

1. three one-hot reads of column j (x-line j driven for the whole read window, the
   d-lines' ADCs convert; results through the ADC path with noise management off):
   G⁺ (a), G⁻ (b), the LSP (l, with the column's polarity);
2. RESET both LSP devices of the column and flip its polarity p_j; RESET both MSP
   devices of the rows to *refresh* (a > thr and b > thr: both devices near g_max);
3. read the LSP again (r: the reset residue, read with the new polarity);
4. per row the MSP target t = (a − b) + carry(l) − carry(r), carry(y) = ±round(|y| ·
   inv_f / 2^16) = y/F in MSP units, so F·t + r = F·(a − b) + l: the weight is kept,
   reset residue included;
5. closed-loop programming, iteration k = 0, 1, …: read the MSP (m); e = t − m; rows with
   |e| > tolerance are outside; none → done; k = max_iterations → the outside rows are
   counted as not converged, done; else each outside row gets n = clamp(ceil(|e| ·
   inv_step / 2^16), 1, max_pulses) pulses: first max n (e > 0) slots with x_j at +V/2 and
   those rows' d-lines at −V/2 (SET G⁺), then max n (e < 0) slots with x_j at −V/2 and
   the d-lines at +V/2 (SET G⁻); a row fires in slot s iff n > s.

All arithmetic on integers, as the RTL; the array's reads (noise included) are the
crossbar's, in the RTL's order, so a co-simulation's front-end array and the reference's
stay equal bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rpu.config import TileConfig, check_instance
from rpu.spec.encodings import PulsePair, ReadPart
from rpu.spec.formats import (CARRY_FRAC, STEP_FRAC, numerics, registers_from_config,
                              transfer_registers)

from .multiconductance import PARTS, MultiConductanceCrossbar
from .ref_management import scale_results

__all__ = ["ColumnTransfer", "TransferEvent", "TransferReference", "carry"]


def carry(y: np.ndarray, inv_f: int) -> np.ndarray:
    """±round(|y| · inv_f / 2^16) (half away from zero): y/F in MSP units."""
    y = np.asarray(y, dtype=np.int64)
    mag = (np.abs(y) * inv_f + (1 << (CARRY_FRAC - 1))) >> CARRY_FRAC
    return np.where(y < 0, -mag, mag)


def pulse_counts(e: np.ndarray, active: np.ndarray, inv_step: int, max_pulses: int) -> np.ndarray:
    """Pulses of each row in one iteration: clamp(ceil(|e| · inv_step / 2^16), 1, max_pulses)
    where ``active``, else 0."""
    n = (np.abs(e) * inv_step + (1 << STEP_FRAC) - 1) >> STEP_FRAC
    return np.where(active, np.clip(n, 1, max_pulses), 0)


@dataclass
class ColumnTransfer:
    """What one column's transfer did (the reference's record, for checks and timing)."""
    column: int
    rounds: int = 0                                  # programming iterations (pulse rounds)
    slots: list = field(default_factory=list)        # (up slots, down slots) per round
    nonconverged: int = 0                            # rows still outside after max_iterations
    refreshed: int = 0                               # rows whose MSP was refreshed
    target: np.ndarray | None = None                 # MSP targets (result LSBs)
    error: np.ndarray | None = None                  # last verify read's t − m
    drives: list = field(default_factory=list)       # ("reset", pair, rows) / ("slots", up, d rows (T, M))
    reads: list = field(default_factory=list)        # (part, codes) in order

    @property
    def pulse_slots(self) -> int:
        return sum(u + d for u, d in self.slots)


@dataclass
class TransferEvent:
    columns: list                                    # ColumnTransfer of each column, in order
    sweeps_done: int = 0                             # sweeps completed by this event

    @property
    def rounds(self) -> list[int]:
        return [c.rounds for c in self.columns]


class TransferReference:
    """``TransferReference(cfg, crossbar)``: the transfer sequencer's state (next column,
    counters) and :meth:`event`, on a :class:`~rpu.models.MultiConductanceCrossbar`.

    ``regs`` are the transfer registers (:func:`rpu.spec.formats.transfer_registers`);
    ``counters`` mirror the tile's (``TRANSFER_COLUMNS``, ``TRANSFER_SWEEPS``,
    ``CLT_ROUNDS``, ``CLT_ROUNDS_MAX``, ``CLT_NONCONVERGED``, ``REFRESHES``).
    """

    def __init__(self, cfg: TileConfig, crossbar: MultiConductanceCrossbar):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.xb = check_instance("crossbar", crossbar, MultiConductanceCrossbar)
        self.regs = transfer_registers(cfg)
        self.nx = numerics(cfg)
        self.out_scale = registers_from_config(cfg)["out_scale"]
        self.column = 0
        self.counters = dict(columns=0, sweeps=0, rounds=0, rounds_max=0, nonconverged=0,
                             refreshes=0, events=0)

    # -- one read of column j, through the ADC path (NM off, no halving) --
    def _read(self, j: int, part: ReadPart, rec: ColumnTransfer) -> np.ndarray:
        net = np.zeros(self.cfg.in_size, np.int64)
        net[j] = self.cfg.dac_max
        codes, _sat = self.xb.read_forward_pulses(net, part=PARTS[part])
        rec.reads.append((part, np.asarray(codes, np.int64).copy()))
        y, _clip = scale_results(self.nx, codes, self.out_scale, self.nx.frac_bits, 0)
        return y

    def event(self, columns: int | None = None) -> TransferEvent:
        """One transfer event: ``columns`` (default the register's) columns from the next one."""
        n = self.regs["columns"] if columns is None else columns
        ev = TransferEvent(columns=[])
        for _ in range(n):
            ev.columns.append(self.column_transfer(self.column))
            self.column += 1
            if self.column == self.cfg.in_size:
                self.column = 0
                self.counters["sweeps"] += 1
                ev.sweeps_done += 1
        self.counters["events"] += 1
        return ev

    def column_transfer(self, j: int) -> ColumnTransfer:
        """The transfer (and refresh) of column ``j``, exactly as the RTL runs it."""
        cfg, r, xb = self.cfg, self.regs, self.xb
        m_rows = cfg.out_size
        rec = ColumnTransfer(column=j)
        a = self._read(j, ReadPart.MSP_PLUS, rec)
        b = self._read(j, ReadPart.MSP_MINUS, rec)
        refresh = (a > r["refresh_thr"]) & (b > r["refresh_thr"])
        t = a - b
        t = t + carry(self._read(j, ReadPart.LSP, rec), r["inv_f"])
        mask = np.zeros((m_rows, cfg.in_size), bool)
        mask[:, j] = True
        xb.reset("lsp", mask)
        xb.flip_polarity([j])
        rec.drives.append(("reset", PulsePair.LSP, np.ones(m_rows, bool)))
        mask[:, j] = refresh
        xb.reset("msp", mask)
        rec.drives.append(("reset", PulsePair.MSP, refresh.copy()))
        rec.refreshed = int(refresh.sum())
        t = t - carry(self._read(j, ReadPart.LSP, rec), r["inv_f"])
        rec.target = t.copy()
        k = 0
        while True:
            e = t - self._read(j, ReadPart.MSP, rec)
            active = np.abs(e) > r["tolerance"]
            rec.error = e
            if not active.any():
                break
            if k == r["max_iterations"]:
                rec.nonconverged = int(active.sum())
                break
            n = pulse_counts(e, active, r["inv_step"], r["max_pulses"])
            up = e > 0
            n_up = int(n[up].max()) if up.any() else 0
            n_dn = int(n[~up].max()) if (~up).any() else 0
            self._pulse(j, n, up, n_up, n_dn, rec)
            rec.slots.append((n_up, n_dn))
            k += 1
        rec.rounds = k
        c = self.counters
        c["columns"] += 1
        c["rounds"] += k
        c["rounds_max"] = max(c["rounds_max"], k)
        c["nonconverged"] += rec.nonconverged
        c["refreshes"] += rec.refreshed
        return rec

    def _pulse(self, j, n, up, n_up, n_dn, rec) -> None:
        """One programming round on the MSP of column j: the up slots, then the down slots."""
        cfg = self.cfg
        nx_, m_ = cfg.in_size, cfg.out_size
        for count, rows in ((n_up, up), (n_dn, ~up)):
            if not count:
                continue
            s = np.arange(count)[:, None]
            d_on = rows[None, :] & (n[None, :] > s)                # (T, M)
            x_on = np.zeros((count, nx_), bool)
            x_on[:, j] = True
            zx, zd = np.zeros_like(x_on), np.zeros((count, m_), bool)
            if rows is up:        # +V: x at +V/2, d at −V/2 → SET G⁺
                drv = (x_on, zx, zd, d_on)
            else:                 # −V: x at −V/2, d at +V/2 → SET G⁻
                drv = (zx, x_on, d_on, zd)
            self.xb.apply_slots(*drv, pair="msp")
            rec.drives.append(("slots", rows is up, drv))
