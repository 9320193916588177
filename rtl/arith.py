"""Sequential unsigned arithmetic: restoring divider and integer square root.

Both retire ``bits_per_cycle`` result bits per cycle (default 2: that many restoring steps
chained combinationally) and share one handshake: ``start`` (sampled when not ``busy``)
loads the operands; ``done`` pulses for one cycle when the outputs are valid,
``div_cycles``/``sqrt_cycles`` (:mod:`rpu.models.ref_management`) cycles after the cycle in
which ``start`` was sampled; outputs then hold until the next ``start``.  Operands are
padded with leading zeros to a whole number of steps, so results do not depend on
``bits_per_cycle``.
"""

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule

from rpu.spec.timing import ARITH_BITS_PER_CYCLE as BITS_PER_CYCLE, ceil_div

from .common import counter_range

__all__ = ["SeqDivider", "SeqSqrt", "BITS_PER_CYCLE"]


class SeqDivider(wiring.Component):
    """``quo = num // den``, ``rem = num % den`` in ``ceil(num_bits/bits_per_cycle) + 1``
    cycles.

    ``den = 0`` gives ``quo`` all ones and ``div_zero`` = 1 (with ``done``); never hangs.
    """

    def __init__(self, num_bits: int, den_bits: int, bits_per_cycle: int = BITS_PER_CYCLE):
        IntRule(1, 512).check("num_bits", num_bits)
        IntRule(1, 512).check("den_bits", den_bits)
        IntRule(1, 8).check("bits_per_cycle", bits_per_cycle)
        self.num_bits, self.den_bits, self.bits_per_cycle = num_bits, den_bits, bits_per_cycle
        super().__init__({
            "start": In(1), "num": In(num_bits), "den": In(den_bits),
            "quo": Out(num_bits), "rem": Out(den_bits),
            "busy": Out(1), "done": Out(1), "div_zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.bits_per_cycle
        steps = ceil_div(self.num_bits, s)
        n = steps * s                                   # padded numerator width
        num = Signal(n)
        den = Signal(self.den_bits)
        rem = Signal(self.den_bits + 1)
        quo = Signal(n)
        cnt = Signal(counter_range(steps + 1))
        m.d.comb += [self.quo.eq(quo), self.rem.eq(rem)]
        m.d.sync += self.done.eq(0)
        r, qbits = rem, []
        for j in range(s):                              # s restoring steps, MSB first
            trial = Signal(self.den_bits + 2, name=f"trial{j}")
            ge = Signal(name=f"ge{j}")
            nxt = Signal(self.den_bits + 1, name=f"rem{j}")
            m.d.comb += [trial.eq(Cat(num[n - 1 - j], r)), ge.eq(trial >= den),
                         nxt.eq(Mux(ge, trial - den, trial))]
            r = nxt
            qbits.append(ge)
        with m.If(self.busy):
            m.d.sync += [rem.eq(r), quo.eq(Cat(*reversed(qbits), quo[:n - s])),
                         num.eq(num << s), cnt.eq(cnt - 1)]
            with m.If(cnt == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.Elif(self.start):
            m.d.sync += [num.eq(self.num), den.eq(self.den), rem.eq(0), quo.eq(0),
                         cnt.eq(steps), self.busy.eq(1), self.div_zero.eq(self.den == 0)]
        return m


class SeqSqrt(wiring.Component):
    """``root = isqrt(rad)`` (floor) in ``ceil(ceil(rad_bits/2)/bits_per_cycle) + 1`` cycles."""

    def __init__(self, rad_bits: int, bits_per_cycle: int = BITS_PER_CYCLE):
        IntRule(2, 512).check("rad_bits", rad_bits)
        IntRule(1, 8).check("bits_per_cycle", bits_per_cycle)
        self.rad_bits = rad_bits + (rad_bits & 1)      # even
        self.root_bits = self.rad_bits // 2
        self.bits_per_cycle = bits_per_cycle
        super().__init__({
            "start": In(1), "rad": In(rad_bits), "root": Out(self.root_bits),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        s = self.bits_per_cycle
        steps = ceil_div(self.root_bits, s)
        h = steps * s                                   # padded root width
        n = 2 * h
        rad = Signal(n)
        rem = Signal(h + 2)
        root = Signal(h)
        cnt = Signal(counter_range(steps + 1))
        m.d.comb += self.root.eq(root[:self.root_bits])
        m.d.sync += self.done.eq(0)
        r, q = rem, root
        for j in range(s):                              # s restoring steps, MSB first
            trial_rem = Signal(h + 3, name=f"trial_rem{j}")
            trial = Signal(h + 3, name=f"trial{j}")
            ge = Signal(name=f"ge{j}")
            nr = Signal(h + 2, name=f"rem{j}")
            nq = Signal(h, name=f"root{j}")
            m.d.comb += [trial_rem.eq(Cat(rad[n - 2 - 2 * j:n - 2 * j], r)),
                         trial.eq(Cat(1, 0, q)), ge.eq(trial_rem >= trial),
                         nr.eq(Mux(ge, trial_rem - trial, trial_rem)),
                         nq.eq(Cat(ge, q[:-1]))]
            r, q = nr, nq
        with m.If(self.busy):
            m.d.sync += [rem.eq(r), root.eq(q), rad.eq(rad << (2 * s)), cnt.eq(cnt - 1)]
            with m.If(cnt == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.Elif(self.start):
            m.d.sync += [rad.eq(self.rad), rem.eq(0), root.eq(0), cnt.eq(steps), self.busy.eq(1)]
        return m
