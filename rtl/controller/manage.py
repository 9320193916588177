"""The update-manager stage: the gains and BL of each loaded update, in command order."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import TileConfig
from rpu.spec.encodings import OP_BITS, Op
from rpu.spec.formats import BL_LIMIT, REG_BITS, bit_width, numerics

from ..common import counter_range, pick
from ..management import UpdateManager

__all__ = ["ManageStage"]


class ManageStage(wiring.Component):
    """Walks the sets in order (``set``): a loaded read passes straight on; a loaded update
    starts the :class:`~rpu.rtl.management.UpdateManager` on the set's maxima when the
    manager is free and its previous result was taken (``take``, by the conversion stage).
    ``mark`` marks the set managed.  ``valid``: ``gain_x``, ``gain_d``, ``bl`` hold a result
    not yet taken (the manager's outputs hold until its next start, so it may start on the
    next set in the cycle its result is taken)."""

    def __init__(self, cfg: TileConfig, sets: int):
        self.cfg, self.sets = cfg, sets
        nx = numerics(cfg)
        w_bl = bit_width(BL_LIMIT)
        super().__init__({
            "full": In(sets), "managed": In(sets), "op": In(OP_BITS).array(sets),
            "max_x": In(nx.value_bits).array(sets), "max_d": In(nx.value_bits).array(sets),
            "set": Out(counter_range(sets)), "mark": Out(1),
            "take": In(1), "valid": Out(1),
            "gain_x": Out(nx.gain_bits), "gain_d": Out(nx.gain_bits), "bl": Out(w_bl),
            "ev_bl_error": Out(1),
            # configuration registers
            "um_enable": In(1), "dyn_bl": In(1), "bl_reg": In(w_bl), "bl_max": In(w_bl),
            "um_c": In(REG_BITS), "um_c1": In(REG_BITS), "um_lr_dw": In(REG_BITS),
        })

    def elaborate(self, platform):
        m = Module()
        ns = self.sets
        m.submodules.um = um = UpdateManager(self.cfg)
        m.d.comb += [um.um_enable.eq(self.um_enable), um.dyn_bl.eq(self.dyn_bl),
                     um.bl.eq(self.bl_reg), um.bl_max.eq(self.bl_max), um.um_c.eq(self.um_c),
                     um.um_c1.eq(self.um_c1), um.um_lr_dw.eq(self.um_lr_dw),
                     self.gain_x.eq(um.gain_x), self.gain_d.eq(um.gain_d), self.bl.eq(um.bl_out)]
        pending = Signal()           # a result not yet taken by the conversion stage
        # (unconditional: an event assigned under ``If(um.done)`` stays X in Icarus until
        # UM first finishes — its inputs never change — and would poison the sticky flags)
        m.d.comb += [self.valid.eq(pending | um.done), self.ev_bl_error.eq(um.done & um.bl_error)]
        with m.If(um.done):
            m.d.sync += pending.eq(1)
        with m.If(self.take):
            m.d.sync += pending.eq(0)
        m.d.comb += [um.x_max.eq(pick(self.set, self.max_x)),
                     um.d_max.eq(pick(self.set, self.max_d))]
        nxt = Mux(self.set == ns - 1, 0, self.set + 1)
        with m.If(pick(self.set, self.full) & ~pick(self.set, self.managed)):
            with m.If(pick(self.set, self.op) != Op.UPDATE):
                m.d.comb += self.mark.eq(1)
                m.d.sync += self.set.eq(nxt)
            with m.Elif(~um.busy & (~self.valid | self.take)):
                m.d.comb += [um.start.eq(1), self.mark.eq(1)]
                m.d.sync += self.set.eq(nxt)
        return m
