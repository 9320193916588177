"""Analog front-end coroutine: plays the crossbar for the tile top in co-simulation.

Every clock (sampled at the falling edge, so the DUT's registered outputs are settled
and values written here are seen at the next rising edge) it reads the crossbar-side
outputs of the top (docs/architecture.md, "Tile controller and host interface") through
the packed monitor port ``afe_mon``:

* during a read (``adc_d__integ_en`` for forward, ``adc_x__integ_en`` for backward) it
  integrates the driven lines' net slots ``Σ (pos − neg)``;
* on ``upd_slot`` (first cycle of an update slot) it records the four drive vectors;
  recorded slots are applied through :meth:`rpu.models.Crossbar.apply_slots` in one batch
  per update (flushed before the next read and by :meth:`flush`), so the model sees the
  same calls, in the same order, as the reference;
* on ``adc_*__start`` with group ``sel`` it converts: on the first group of a pass it
  calls ``read_forward_pulses`` / ``read_backward_pulses`` once, then answers each group
  with ``done`` and that group's codes after ``latency`` cycles.

One port is read per cycle as an integer; words are unpacked with numpy in batches.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, RisingEdge

from rpu.testbench.lanes import pack_lanes

__all__ = ["AnalogFrontEnd"]


class _Side:
    """One read direction: ``name`` 'd' (forward: ADCs on d-lines, x-lines driven)."""

    def __init__(self, dut, cfg, name, bit):
        self.name, self.bit = name, bit          # bit of integ_reset in afe_mon
        self.lines = cfg.out_size if name == "d" else cfg.in_size
        self.driven = cfg.in_size if name == "d" else cfg.out_size
        self.num_adcs = self.lines // cfg.lines_per_adc
        p = f"adc_{name}__"
        self.h_sel = getattr(dut, p + "sel")
        self.h_done = getattr(dut, p + "done")
        self.h_codes = getattr(dut, p + "codes")
        self.h_done.value = 0
        self.h_codes.value = 0
        self.rows: list[int] = []    # afe_mon words of the integrate cycles
        self.net = np.zeros(self.driven, dtype=np.int64)
        self.codes = None
        self.pending = []            # [countdown, group]
        self.done_high = False


class AnalogFrontEnd:
    """``AnalogFrontEnd(dut, cfg, crossbar)``; ``start()`` launches the per-cycle task.

    Reads the top's ``afe_mon`` (control bits, then x_pos, x_neg, d_pos, d_neg) once per
    cycle and sleeps on ``afe_active`` while nothing happens; drive words are kept as
    integers and unpacked with numpy in batches (per read window, per update)."""

    def __init__(self, dut, cfg, crossbar, *, latency: int | None = None):
        self.dut, self.cfg, self.xb = dut, cfg, crossbar
        self.latency = cfg.adc_latency if latency is None else latency
        self.sides = {"d": _Side(dut, cfg, "d", 1), "x": _Side(dut, cfg, "x", 4)}
        self.h_mon, self.h_active = dut.afe_mon, dut.afe_active
        n, m = cfg.in_size, cfg.out_size
        self._width = 7 + 2 * (n + m)
        self._cut = [7, 7 + n, 7 + 2 * n, 7 + 2 * n + m, 7 + 2 * (n + m)]
        self._rows: list[int] = []             # update slots not yet applied
        self.update_slots: list[np.ndarray] = []   # every applied batch, for the checks
        self.reads: list[dict] = []            # every pass: side, net slots, codes, sat
        self.cycle = 0
        self._task = None

    def start(self):
        self._task = cocotb.start_soon(self._run())
        return self._task

    def stop(self):
        if self._task is not None:
            self._task.cancel()

    def reset_state(self):
        """Forget in-flight conversions and unapplied slots (after a DUT reset)."""
        self._rows.clear()
        for s in self.sides.values():
            s.pending.clear()
            s.rows.clear()
            s.codes = None
            s.net[:] = 0
            s.h_done.value = 0
            s.done_high = False

    def _unpack(self, rows):
        """(T, 2N+2M) bool drives of afe_mon words: x_pos, x_neg, d_pos, d_neg columns."""
        nbytes = (self._width + 7) // 8
        raw = np.frombuffer(b"".join(r.to_bytes(nbytes, "little") for r in rows),
                            dtype=np.uint8).reshape(len(rows), nbytes)
        return np.unpackbits(raw, axis=1, bitorder="little")[:, 7:self._width].astype(bool)

    def flush(self) -> int:
        """Apply the recorded update slots to the crossbar; returns how many."""
        if not self._rows:
            return 0
        bits = self._unpack(self._rows)
        self._rows = []
        n, m = self.cfg.in_size, self.cfg.out_size
        xp, xn = bits[:, :n], bits[:, n:2 * n]
        dp, dn = bits[:, 2 * n:2 * n + m], bits[:, 2 * n + m:]
        self.xb.apply_slots(xp, xn, dp, dn)
        self.update_slots.append(bits)
        return len(bits)

    def _integrate(self, s):
        """Net slots Σ(pos − neg) of the lines that side ``s`` reads through."""
        if s.rows:
            bits = self._unpack(s.rows).astype(np.int64)
            n, m = self.cfg.in_size, self.cfg.out_size
            if s.name == "d":
                s.net += (bits[:, :n] - bits[:, n:2 * n]).sum(axis=0)
            else:
                s.net += (bits[:, 2 * n:2 * n + m] - bits[:, 2 * n + m:]).sum(axis=0)
            s.rows = []

    async def _run(self):
        cfg, bits = self.cfg, self.cfg.adc_bits
        clk = self.dut.clk
        edge = FallingEdge(clk)
        sides = list(self.sides.values())
        while True:
            await edge
            self.cycle += 1
            word = self.h_mon.value.to_unsigned()
            ctl = word & 0x7F
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
            if ctl & 1:
                self._rows.append(word)
            for s in sides:
                c = ctl >> s.bit
                if c & 1:                       # integ_reset
                    self.flush()
                    s.rows.clear()
                    s.net[:] = 0
                if c & 2:                       # integ_en
                    s.rows.append(word)
                if c & 4:                       # conversion start of group sel
                    g = int(s.h_sel.value)
                    if g == 0:
                        self.flush()
                        self._integrate(s)
                        net = s.net // cfg.slot_cycles
                        if s.name == "d":
                            codes, sat = self.xb.read_forward_pulses(net)
                        else:
                            codes, sat = self.xb.read_backward_pulses(net)
                        s.codes = np.asarray(codes, dtype=np.int64)
                        self.reads.append(dict(side=s.name, net=net.copy(),
                                               codes=s.codes.copy(),
                                               sat=np.asarray(sat).copy()))
                    s.pending.append([self.latency, g])
                    busy = True
            if not ctl and not busy and not any(s.done_high for s in sides):
                # nothing in flight: sleep until the tile drives something
                await RisingEdge(self.h_active)
                # the cycle that raised afe_active is sampled at the next falling edge
