"""Analog front-end coroutine: plays the crossbar for the tile in co-simulation.

It talks to the co-simulation harness (:mod:`rpu.testbench.harness`) around the tile:

* update slots come from the harness's slot recorder: one snapshot of up to ``rec_depth``
  slots at a time (``rec_pending`` in ``mon``), acknowledged by toggling ``rec_ack``;
  recorded slots are applied through :meth:`rpu.models.Crossbar.apply_slots` in whole
  updates (at a snapshot that ends a slot run, ``rec_end``), at least ``apply_batch`` slots
  at a time, and always before a read integrates and on :meth:`flush`; the c2c noise is
  keyed per device and pulse, so the weights equal the reference's bit for bit;
* reads are followed cycle by cycle, sampled at the falling edge (the DUT's registered
  outputs are settled and values written here are seen at the next rising edge), through
  the packed ``mon`` port: during a read window (``adc_d__integ_en`` for forward,
  ``adc_x__integ_en`` for backward) it integrates the driven lines' net slots
  ``Σ (pos − neg)``; on ``adc_*__start`` with group ``sel`` it converts (on the first
  group of a pass it calls ``read_forward_pulses`` / ``read_backward_pulses`` once) and
  answers each group with ``done`` and that group's codes after ``latency`` cycles.

On a multi-conductance tile it follows the MC ports too: the recorder's rows carry
``pulse_pair`` (slots go to that pair of :class:`~rpu.models.MultiConductanceCrossbar`)
and ``cell_reset`` (a RESET of both devices of that pair where x-line at +V/2 meets d-line
at −V/2), applied in recorded order; ``read_part`` chooses what a read senses (sampled at
the conversion); ``polarity`` (per column) is copied to the array before recorded rows are
applied and before each read (it only changes inside a transfer, after the column's first
reads and before the next one).

It sleeps on the harness's ``wake`` while nothing is in flight.  One port is read per
cycle as an integer; drive words are unpacked with numpy in batches.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from rpu.config import IntRule
from rpu.spec.encodings import PulsePair
from rpu.testbench.lanes import pack_lanes, read_uint, unpack_bits
from rpu.testbench.layouts import MON_CTL, DriveRow, mon_bit

__all__ = ["AnalogFrontEnd"]

_CTL = len(MON_CTL)
_PENDING, _OVERRUN, _END = (mon_bit(n) for n in ("rec_pending", "rec_overrun", "rec_end"))


class _Side:
    """One read direction: ``name`` 'd' (forward: ADCs on d-lines, x-lines driven)."""

    def __init__(self, dut, cfg, name):
        self.name = name
        self.integ_reset, self.integ_en, self.start = (
            mon_bit(f"adc_{name}__{sig}") for sig in ("integ_reset", "integ_en", "start"))
        self.lines = cfg.out_size if name == "d" else cfg.in_size
        self.driven = cfg.in_size if name == "d" else cfg.out_size
        self.num_adcs = self.lines // cfg.converters.lines_per_adc
        p = f"adc_{name}__"
        self.h_sel = getattr(dut, p + "sel")
        self.h_done = getattr(dut, p + "done")
        self.h_codes = getattr(dut, p + "codes")
        self.h_done.value = 0
        self.h_codes.value = 0
        self.rows: list[int] = []    # drive words (mon without control bits) of the integrate cycles
        self.net = np.zeros(self.driven, dtype=np.int64)
        self.codes = None
        self.pending = []            # [countdown, group]
        self.done_high = False


class AnalogFrontEnd:
    """``AnalogFrontEnd(dut, cfg, crossbar)`` on a :class:`~rpu.testbench.harness.
    CosimHarness` top; ``start()`` launches its task."""

    def __init__(self, dut, cfg, crossbar, *, latency: int | None = None,
                 apply_batch: int = 256):
        self.dut, self.cfg, self.xb = dut, cfg, crossbar
        self.apply_batch = IntRule(1, 1 << 20).check("apply_batch", apply_batch)
        self.latency = cfg.converters.adc_latency if latency is None else latency
        self.sides = {name: _Side(dut, cfg, name) for name in ("d", "x")}
        self.h_mon, self.h_wake = dut.mon, dut.wake
        self.h_rec_data, self.h_rec_count, self.h_rec_ack = dut.rec_data, dut.rec_count, dut.rec_ack
        self._ack = 0
        self.h_rec_ack.value = 0
        self.row = DriveRow.of(cfg)
        self._row_bits = self.row.width
        self._rows: list[np.ndarray] = []      # update slots not yet applied, (T, row_bits) bool
        self.update_slots: list[np.ndarray] = []   # every applied batch, for the checks
        self.reads: list[dict] = []            # every pass: side, net slots, codes, sat
        self.cycle = 0
        self._task = self._reset_task = None
        self.mc = bool(cfg.mc.enabled)
        if self.mc:
            if cfg.mc.lsp_leak:
                raise ValueError("the front-end has no per-update event for mc.lsp_leak: "
                                 "co-simulate with lsp_leak 0")
            from rpu.models.multiconductance import PARTS
            self._parts = PARTS
            self.h_part, self.h_polarity = dut.read_part, dut.polarity
            self.resets: list[tuple] = []      # (pair, mask) of every RESET applied

    def start(self):
        """Launch the front-end (and its reset follower)."""
        self._task = cocotb.start_soon(self._run())
        self._reset_task = cocotb.start_soon(self._follow_reset())
        return self._task

    def stop(self):
        for task in (self._task, self._reset_task):
            if task is not None:
                task.cancel()

    async def _follow_reset(self):
        """A DUT reset drops what is in flight: conversions, unapplied slots, snapshots."""
        while True:
            await RisingEdge(self.dut.rst)
            self.reset_state()

    def reset_state(self):
        """Forget in-flight conversions and unapplied slots (the DUT was reset)."""
        self._rows.clear()
        self._ack = 0                   # the harness's snapshot toggle restarts at 0
        self.h_rec_ack.value = 0
        for s in self.sides.values():
            s.pending.clear()
            s.rows.clear()
            s.codes = None
            s.net[:] = 0
            s.h_done.value = 0
            s.done_high = False

    def _unpack(self, packed: int, count: int) -> np.ndarray:
        """(count, 2N+2M) bool drives (x_pos, x_neg, d_pos, d_neg columns) of ``count``
        rows packed back to back, row 0 in the lowest bits."""
        w = self._row_bits
        return unpack_bits(packed, count * w).reshape(count, w)

    def _take_snapshot(self) -> None:
        """Append the recorder's pending snapshot to the unapplied slots and acknowledge it."""
        count = int(self.h_rec_count.value)
        # rows past ``count`` are stale (X in Icarus before their first write): not read
        self._rows.append(self._unpack(read_uint(self.h_rec_data, count * self._row_bits), count))
        self._ack ^= 1
        self.h_rec_ack.value = self._ack

    def _pending_slots(self) -> int:
        return sum(len(r) for r in self._rows)

    def flush(self) -> int:
        """Apply the recorded update slots to the crossbar; returns how many."""
        if not self._rows:
            return 0
        bits = np.concatenate(self._rows)
        self._rows = []
        if self.mc:
            self._apply_mc(bits)
        else:
            self.xb.apply_slots(*self.row.split(bits))
        self.update_slots.append(bits)
        return len(bits)

    def sync_polarity(self) -> None:
        """The array's per-column LSP polarity from the tile's ``polarity`` port."""
        bits = read_uint(self.h_polarity)
        self.xb.polarity[:] = np.where((bits >> np.arange(self.cfg.in_size)) & 1, -1, 1)

    def _apply_mc(self, bits: np.ndarray) -> None:
        """Rows in recorded order: runs of slots of one pair, RESETs one by one."""
        self.sync_polarity()
        pair, reset = self.row.kinds(bits)
        drives = self.row.split(bits)
        start = 0
        for t in range(1, len(bits) + 1):
            if t < len(bits) and not reset[t] and not reset[start] and pair[t] == pair[start]:
                continue
            name = "msp" if pair[start] == PulsePair.MSP else "lsp"
            if reset[start]:
                xp, _xn, _dp, dn = (d[start] for d in drives)
                mask = dn[:, None] & xp[None, :]
                self.xb.reset(name, mask)
                self.resets.append((name, mask))
            else:
                self.xb.apply_slots(*(d[start:t] for d in drives), pair=name)
            start = t

    def _integrate(self, s):
        """Net slots Σ(pos − neg) of the lines that side ``s`` reads through."""
        if s.rows:
            w = self._row_bits
            bits = self._unpack(sum(r << (i * w) for i, r in enumerate(s.rows)),
                                len(s.rows)).astype(np.int64)
            xp, xn, dp, dn = self.row.split(bits)
            pos, neg = (xp, xn) if s.name == "d" else (dp, dn)
            s.net += (pos - neg).sum(axis=0)
            s.rows = []

    async def _run(self):
        cfg, bits = self.cfg, self.cfg.converters.adc_bits
        clk = self.dut.clk
        edge = FallingEdge(clk)
        sides = list(self.sides.values())
        while True:
            await edge
            self.cycle += 1
            word = read_uint(self.h_mon)
            ctl = word & ((1 << _CTL) - 1)
            if ctl & _OVERRUN:
                raise RuntimeError("the harness's slot recorder overran: update slots were lost")
            if ctl & _PENDING:
                self._take_snapshot()
                if ctl & _END and self._pending_slots() >= self.apply_batch:
                    self.flush()                # whole updates, at least apply_batch slots
            busy = False
            for s in sides:
                if s.done_high:                 # done is a one-cycle pulse
                    s.h_done.value = 0
                    s.done_high = False
                if s.pending:
                    busy = True
                    s.pending[0][0] -= 1
                    if s.pending[0][0] == 0:
                        _, g = s.pending.pop(0)
                        grp = s.codes[g * s.num_adcs:(g + 1) * s.num_adcs]
                        s.h_codes.value = pack_lanes(grp, bits)
                        s.h_done.value = 1
                        s.done_high = True
            for s in sides:
                if ctl & s.integ_reset:
                    self.flush()
                    s.rows.clear()
                    s.net[:] = 0
                if ctl & s.integ_en:
                    s.rows.append(word >> _CTL)
                if ctl & s.start:               # conversion start of group sel
                    g = int(s.h_sel.value)
                    if g == 0:
                        self.flush()
                        self._integrate(s)
                        net = s.net // cfg.converters.slot_cycles
                        kw = {}
                        if self.mc:
                            self.sync_polarity()
                            kw["part"] = self._parts[int(self.h_part.value)]
                        if s.name == "d":
                            codes, sat = self.xb.read_forward_pulses(net, **kw)
                        else:
                            codes, sat = self.xb.read_backward_pulses(net, **kw)
                        s.codes = np.asarray(codes, dtype=np.int64)
                        self.reads.append(dict(side=s.name, net=net.copy(), part=kw.get("part", "combined"),
                                               codes=s.codes.copy(),
                                               sat=np.asarray(sat).copy()))
                    s.pending.append([self.latency, g])
                    busy = True
            if not ctl & ~(_PENDING | _END) and not busy and not any(s.done_high for s in sides):
                # nothing in flight (a snapshot just taken was acknowledged, so ``wake``
                # falls): sleep until a read starts or the next snapshot is pending
                await RisingEdge(self.h_wake)
                # the cycle that raised wake is sampled at the next falling edge
