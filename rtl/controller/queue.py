"""The controller's one-deep command queue."""

from __future__ import annotations

from amaranth import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.spec.encodings import OP_BITS, Op
from rpu.spec.registers import COUNT_BITS

__all__ = ["CommandQueue"]


class CommandQueue(wiring.Component):
    """Holds one command (``CTRL.start`` with ``op`` and ``count``) until the loader ``take``s
    it; a command with ``count`` N > 1 stays queued until it was taken N times (0 and 1 mean
    once).  ``ready`` = the queue is empty (``STATUS.cmd_ready``).  A start with an op code
    that is no :class:`~rpu.spec.encodings.Op` pulses ``ev_bad_op``, a start while the
    queue stays full ``ev_cmd_busy``; both are dropped.  A start in the cycle the last take
    empties the queue is accepted."""

    def __init__(self, max_op: int = max(Op)):
        #: the largest op code accepted (UPDATE on a single-pair tile: TRANSFER is refused)
        self.max_op = max_op
        super().__init__({
            "start": In(1), "op": In(OP_BITS), "count": In(COUNT_BITS), "take": In(1),
            "valid": Out(1), "queued_op": Out(OP_BITS), "ready": Out(1),
            "ev_bad_op": Out(1), "ev_cmd_busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        left = Signal(COUNT_BITS)          # further takes after the next one
        m.d.comb += self.ready.eq(~self.valid)
        with m.If(self.take):
            with m.If(left == 0):
                m.d.sync += self.valid.eq(0)
            with m.Else():
                m.d.sync += left.eq(left - 1)
        accept = ~self.valid | (self.take & (left == 0))
        # every code an op (a multi-conductance tile): nothing to refuse (and a constant
        # compare fails lint)
        refuse = self.op > self.max_op if self.max_op < (1 << OP_BITS) - 1 else None
        with m.If(self.start):
            with m.If(accept if refuse is None else refuse):
                if refuse is None:
                    self._accept(m, left)
                else:
                    m.d.comb += self.ev_bad_op.eq(1)
            if refuse is not None:
                with m.Elif(accept):
                    self._accept(m, left)
            with m.Else():
                m.d.comb += self.ev_cmd_busy.eq(1)
        return m

    def _accept(self, m, left):
        m.d.sync += [self.valid.eq(1), self.queued_op.eq(self.op),
                     left.eq(Mux(self.count == 0, 0, self.count - 1))]
