"""The load stage: a queued command's frames from the input stream into a free set."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.spec.encodings import OP_BITS, Op

from ..common import StateRegister, counter_range, pick

__all__ = ["Loader"]


class Loader(wiring.Component):
    """Takes the queued command when the next set (``load_set``, in turn) is not ``full``,
    then receives its frame(s) from the stream (``tvalid``/``tready``/``tlast``; the data go
    to the sets directly): x is ``beats_x`` beats, d ``beats_d``; an update takes two frames,
    x then d.  ``push_x``/``push_d`` shift a beat into the set, ``fill`` marks it full when
    its last frame ended on its last beat.  A frame whose ``tlast`` is not on its last beat is
    dropped (``ev_stream_length``; a long one is drained to its ``tlast``); the set stays
    free.  ``busy``: receiving or draining."""

    def __init__(self, sets: int, beats_x: int, beats_d: int):
        self.sets, self.beats_x, self.beats_d = sets, beats_x, beats_d
        super().__init__({
            "tvalid": In(1), "tlast": In(1), "tready": Out(1),
            "queue_valid": In(1), "queue_op": In(OP_BITS), "take": Out(1),
            "full": In(sets),
            "load_set": Out(counter_range(sets)), "push_x": Out(1), "push_d": Out(1),
            "fill": Out(1), "fill_op": Out(OP_BITS),
            "busy": Out(1), "ev_stream_length": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        ns = self.sets
        op = Signal(OP_BITS)
        side_d = Signal()            # receiving the d frame
        cnt = Signal(counter_range(max(self.beats_x, self.beats_d) + 1))
        beat = Signal()
        m.d.comb += beat.eq(self.tvalid & self.tready)
        last_beat = Signal()
        m.d.comb += last_beat.eq(cnt == Mux(side_d, self.beats_d - 1, self.beats_x - 1))
        fsm = StateRegister(m, "load", ["IDLE", "RECV", "DRAIN"])
        # (unconditional: an event under If(...) whose inputs never change stays X in Icarus)
        m.d.comb += [self.take.eq(fsm.ongoing("IDLE") & self.queue_valid
                                  & ~pick(self.load_set, self.full)),
                     self.fill_op.eq(op),
                     self.busy.eq(fsm.ongoing("RECV") | fsm.ongoing("DRAIN"))]
        with m.If(fsm.ongoing("IDLE")):
            with m.If(self.take):
                m.d.sync += [op.eq(self.queue_op), cnt.eq(0), side_d.eq(self.queue_op == Op.BACKWARD)]
                fsm.goto("RECV")
        with m.If(fsm.ongoing("RECV")):
            m.d.comb += self.tready.eq(1)
            with m.If(beat):
                m.d.comb += [self.push_x.eq(~side_d), self.push_d.eq(side_d)]
                m.d.sync += cnt.eq(cnt + 1)
                with m.If(self.tlast & last_beat):
                    with m.If((op == Op.UPDATE) & ~side_d):
                        m.d.sync += [side_d.eq(1), cnt.eq(0)]
                    with m.Else():
                        m.d.comb += self.fill.eq(1)
                        m.d.sync += self.load_set.eq(Mux(self.load_set == ns - 1, 0, self.load_set + 1))
                        fsm.goto("IDLE")
                with m.Elif(self.tlast):
                    m.d.comb += self.ev_stream_length.eq(1)
                    fsm.goto("IDLE")
                with m.Elif(last_beat):
                    m.d.comb += self.ev_stream_length.eq(1)
                    fsm.goto("DRAIN")
        with m.If(fsm.ongoing("DRAIN")):
            m.d.comb += self.tready.eq(1)
            with m.If(beat & self.tlast):
                fsm.goto("IDLE")
        return m
