"""Fibonacci LFSR with leap-forward: ``leap`` shift steps per enabled clock."""

from amaranth import Cat, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.spec.streams import check_lfsr_params, leap_masks

__all__ = ["LFSR"]


class LFSR(wiring.Component):
    """Pseudo-random generator; the Python twin is :class:`rpu.models.ref_lfsr.LFSRModel`.

    Members
    -------
    seed, load : In
        On ``load`` the state takes ``seed``; a zero seed would lock the LFSR up, so it is
        refused (state unchanged) and ``seed_error`` pulses.
    advance : In
        Step the state by ``leap`` shifts.
    state : Out
        Current state (reset value 1).
    """

    def __init__(self, width: int, taps: tuple[int, ...], leap: int = 1):
        check_lfsr_params(width, taps, leap)
        self.width, self.taps, self.leap = width, tuple(taps), leap
        super().__init__({
            "seed": In(width), "load": In(1), "advance": In(1),
            "state": Out(width, init=1), "seed_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        masks = leap_masks(self.width, self.taps, self.leap)
        nxt = []
        for mask in masks:
            bits = [self.state[i] for i in range(self.width) if (mask >> i) & 1]
            acc = bits[0]
            for b in bits[1:]:
                acc = acc ^ b
            nxt.append(acc)
        m.d.comb += self.seed_error.eq(self.load & (self.seed == 0))
        with m.If(self.load):
            with m.If(self.seed != 0):
                m.d.sync += self.state.eq(self.seed)
        with m.Elif(self.advance):
            m.d.sync += self.state.eq(Cat(*nxt))
        return m
