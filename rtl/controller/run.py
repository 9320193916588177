"""The run sequencer: commits the banks' shadow and runs a read's passes or an update."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig
from rpu.spec.encodings import OP_BITS, Op, RunState
from rpu.spec.formats import BL_LIMIT, bit_width, numerics

from ..common import StateRegister, counter_range

__all__ = ["RunSequencer"]


class RunSequencer(wiring.Component):
    """States :class:`~rpu.spec.encodings.RunState` (``state``, ``STATUS.state``).

    From IDLE a full shadow is committed (``take``) and run:

    * a read commits the driven side's pulse-width bank and starts the reading side's ADC
      interface, waits ``reset_cycles`` − 1 cycles so the bank's first slot meets the ADC's
      first integrate cycle, starts the bank, waits for the conversion (``*_conv_done``),
      reports the pass to the bound manager (``bm_pass_done``/``bm_any_sat``) and then
      either retries (``reload``: the conversion stage reloads the kept set with one more
      halving) or streams the results (``*_readout``) until the ADC interface is idle;
    * an update commits and starts the pulse bank with the latched ``bl`` and waits for it.

    ``ev_done`` pulses as an operation finishes (``done_op``, ``op_cycles`` = cycles from the
    commit, inclusive); ``release`` frees the kept set of a forward under bound management.
    The committed noise-management output scale (``out_mul``/``out_exp``) is held for the
    ADC interfaces during the whole read.

    With ``transfer`` (multi-conductance tiles) a ``xfer_request`` in IDLE wins over the
    shadow: ``xfer_start`` starts the transfer sequencer and the state is TRANSFER until
    ``xfer_done`` (op TRANSFER, counted like the others).
    """

    def __init__(self, cfg: TileConfig, sets: int, *, reset_cycles: int = 1,
                 transfer: bool = False):
        self.cfg, self.sets, self.transfer = cfg, sets, bool(transfer)
        self.reset_cycles = IntRule(1, 255).check("reset_cycles", reset_cycles)
        nx = numerics(cfg)
        idx = counter_range(sets)
        extra = ({"xfer_request": In(1), "xfer_start": Out(1), "xfer_done": In(1)}
                 if self.transfer else {})
        super().__init__({
            **extra,
            "shadow_full": In(1), "shadow_op": In(OP_BITS), "shadow_hold": In(1),
            "shadow_set": In(idx), "shadow_bl": In(bit_width(BL_LIMIT)),
            "nm_out_mul": In(nx.out_mul_bits), "nm_out_exp": In(counter_range(nx.value_bits + 1)),
            "take": Out(1), "reload": Out(1), "set": Out(idx), "hold": Out(1), "release": Out(1),
            # banks and ADC interfaces
            "pw_x_commit": Out(1), "pw_x_start": Out(1), "pw_d_commit": Out(1), "pw_d_start": Out(1),
            "upd_commit": Out(1), "upd_start": Out(1), "upd_bl": Out(bit_width(BL_LIMIT)),
            "upd_done": In(1),
            "rd_d_start": Out(1), "rd_x_start": Out(1), "rd_d_readout": Out(1), "rd_x_readout": Out(1),
            "conv_done": In(1), "any_sat": In(1), "reading_busy": In(1),
            "out_mul": Out(nx.out_mul_bits), "out_exp": Out(counter_range(nx.value_bits + 1)),
            "forward": Out(1),
            # bound manager
            "bm_enable": Out(1), "bm_pass_done": Out(1), "bm_any_sat": Out(1),
            "bm_retry": In(1), "bm_accept": In(1), "bm_gave_up": In(1),
            # status and events
            "busy": Out(1), "reading": Out(1), "state": Out(counter_range(len(RunState))),
            "ev_pass": Out(1), "ev_gave_up": Out(1), "ev_done": Out(1),
            "done_op": Out(OP_BITS), "op_cycles": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        op = Signal(OP_BITS)
        cycles = Signal(32)
        delay = Signal(counter_range(self.reset_cycles + 1))
        m.d.comb += [self.forward.eq(op == Op.FORWARD), self.done_op.eq(op),
                     self.op_cycles.eq(cycles + 1)]
        fwd = self.forward
        m.d.sync += cycles.eq(cycles + 1)

        fsm = StateRegister(m, "run", [s.name for s in RunState])
        take = self.shadow_full
        if self.transfer:
            with m.If(fsm.ongoing("IDLE") & self.xfer_request):
                m.d.comb += self.xfer_start.eq(1)
                m.d.sync += [op.eq(Op.TRANSFER), cycles.eq(1), self.hold.eq(0)]
                fsm.goto("TRANSFER")
            with m.If(fsm.ongoing("TRANSFER") & self.xfer_done):
                m.d.comb += self.ev_done.eq(1)
                fsm.goto("IDLE")
            take = self.shadow_full & ~self.xfer_request
        with m.If(fsm.ongoing("IDLE")):
            with m.If(take):
                m.d.comb += self.take.eq(1)
                m.d.sync += [op.eq(self.shadow_op), self.hold.eq(self.shadow_hold), cycles.eq(1),
                             self.set.eq(self.shadow_set), self.bm_enable.eq(self.shadow_hold),
                             self.out_mul.eq(self.nm_out_mul), self.out_exp.eq(self.nm_out_exp),
                             delay.eq(self.reset_cycles - 1)]
                with m.If(self.shadow_op == Op.FORWARD):
                    m.d.comb += [self.pw_x_commit.eq(1), self.rd_d_start.eq(1)]
                    fsm.goto("READ_DELAY")
                with m.Elif(self.shadow_op == Op.BACKWARD):
                    m.d.comb += [self.pw_d_commit.eq(1), self.rd_x_start.eq(1)]
                    fsm.goto("READ_DELAY")
                with m.Else():
                    m.d.comb += [self.upd_commit.eq(1), self.upd_start.eq(1),
                                 self.upd_bl.eq(self.shadow_bl)]
                    fsm.goto("UPDATE")
        with m.If(fsm.ongoing("READ_DELAY")):
            # the bank's first slot must coincide with the ADC's first integrate cycle
            with m.If(delay == 0):
                m.d.comb += [self.pw_x_start.eq(fwd), self.pw_d_start.eq(~fwd)]
                fsm.goto("READ_WAIT")
            with m.Else():
                m.d.sync += delay.eq(delay - 1)
        with m.If(fsm.ongoing("READ_WAIT")):
            with m.If(self.conv_done):
                m.d.comb += [self.bm_pass_done.eq(1), self.bm_any_sat.eq(self.any_sat),
                             self.ev_pass.eq(1)]
                fsm.goto("READ_DECIDE")
        with m.If(fsm.ongoing("READ_DECIDE")):
            with m.If(self.bm_retry):
                m.d.comb += self.reload.eq(1)
                fsm.goto("READ_RELOAD")
            with m.Elif(self.bm_accept):
                m.d.comb += [self.rd_d_readout.eq(fwd), self.rd_x_readout.eq(~fwd),
                             self.ev_gave_up.eq(self.bm_gave_up)]
                fsm.goto("READ_STREAM")
        with m.If(fsm.ongoing("READ_RELOAD")):
            with m.If(self.shadow_full):
                m.d.comb += [self.take.eq(1), self.pw_x_commit.eq(fwd), self.pw_d_commit.eq(~fwd),
                             self.rd_d_start.eq(fwd), self.rd_x_start.eq(~fwd)]
                m.d.sync += delay.eq(self.reset_cycles - 1)
                fsm.goto("READ_DELAY")
        with m.If(fsm.ongoing("READ_STREAM")):
            with m.If(~self.reading_busy):
                m.d.comb += [self.ev_done.eq(1), self.release.eq(self.hold)]
                fsm.goto("IDLE")
        with m.If(fsm.ongoing("UPDATE")):
            with m.If(self.upd_done):
                m.d.comb += self.ev_done.eq(1)
                fsm.goto("IDLE")
        m.d.comb += [
            self.busy.eq(~fsm.ongoing("IDLE")), self.state.eq(fsm.state),
            self.reading.eq(~fsm.ongoing("IDLE") & ~fsm.ongoing("UPDATE")),
        ]
        return m
