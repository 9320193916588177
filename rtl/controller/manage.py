"""The update-manager stage: the gains and BL of each loaded update, in command order."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import TileConfig
from rpu.spec.encodings import OP_BITS, Op
from rpu.spec.formats import BL_LIMIT, REG_BITS, bit_width, numerics
from rpu.spec.timing import UM_COPIES, um_interval

from ..common import counter_range, pick
from ..management import UpdateManager

__all__ = ["ManageStage"]


class ManageStage(wiring.Component):
    """Walks the sets in order (``set``): a loaded read passes straight on; a loaded update
    starts the next of ``UM_COPIES`` :class:`~rpu.rtl.management.UpdateManager` s (in turn)
    when that one is free, its previous result was taken (``take``, by the conversion
    stage, in the same order), and at least :func:`~rpu.spec.timing.um_interval` cycles have
    passed since the last start (so updates bounded by the managers come evenly spaced).
    ``mark`` marks the set managed.  ``valid``: ``gain_x``, ``gain_d``, ``bl`` hold the next
    result in order, not yet taken (a manager's outputs hold until its next start, so it
    may start again in the cycle its result is taken)."""

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
        ns, n = self.sets, UM_COPIES
        ums = []
        for i in range(n):
            m.submodules[f"um{i}"] = um = UpdateManager(self.cfg)
            m.d.comb += [um.um_enable.eq(self.um_enable), um.dyn_bl.eq(self.dyn_bl),
                         um.bl.eq(self.bl_reg), um.bl_max.eq(self.bl_max), um.um_c.eq(self.um_c),
                         um.um_c1.eq(self.um_c1), um.um_lr_dw.eq(self.um_lr_dw)]
            ums.append(um)
        turn = Signal(counter_range(n))           # the manager started next
        out = Signal(counter_range(n))            # the manager whose result is taken next
        pending = Signal(n)                       # results not yet taken
        # (unconditional: an event assigned under ``If(um.done)`` stays X in Icarus until
        # UM first finishes — its inputs never change — and would poison the sticky flags)
        done = [um.done for um in ums]
        m.d.comb += [
            self.valid.eq(pick(out, [pending[i] | done[i] for i in range(n)])),
            self.gain_x.eq(pick(out, [um.gain_x for um in ums])),
            self.gain_d.eq(pick(out, [um.gain_d for um in ums])),
            self.bl.eq(pick(out, [um.bl_out for um in ums])),
            self.ev_bl_error.eq(sum(um.done & um.bl_error for um in ums) != 0),
        ]
        for i, um in enumerate(ums):
            with m.If(um.done):
                m.d.sync += pending[i].eq(1)
            with m.If(self.take & (out == i)):
                m.d.sync += pending[i].eq(0)
        with m.If(self.take):
            m.d.sync += out.eq(Mux(out == n - 1, 0, out + 1))

        # the managers sample the maxima a few cycles after their start (the abs-max units
        # settle meanwhile), so each reads the set it was started on, not the next one
        interval = um_interval(self.cfg)
        wait = Signal(counter_range(interval + 1))
        with m.If(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        nxt = Mux(self.set == ns - 1, 0, self.set + 1)
        start = Signal()
        free = pick(turn, [~um.busy & ~(pending[i] | done[i]) | (self.take & (out == i))
                           for i, um in enumerate(ums)])
        with m.If(pick(self.set, self.full) & ~pick(self.set, self.managed)):
            with m.If(pick(self.set, self.op) != Op.UPDATE):
                m.d.comb += self.mark.eq(1)
                m.d.sync += self.set.eq(nxt)
            with m.Elif(free & (wait == 0)):
                m.d.comb += [start.eq(1), self.mark.eq(1)]
                m.d.sync += [self.set.eq(nxt), turn.eq(Mux(turn == n - 1, 0, turn + 1)),
                             wait.eq(interval - 1)]
        for i, um in enumerate(ums):
            um_set = Signal.like(self.set, name=f"um{i}_set")
            hit = start & (turn == i)
            m.d.comb += um.start.eq(hit)
            with m.If(hit):
                m.d.sync += um_set.eq(self.set)
            m.d.comb += [um.x_max.eq(pick(um_set, self.max_x)),
                         um.d_max.eq(pick(um_set, self.max_d))]
        return m
