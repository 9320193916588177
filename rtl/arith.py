"""Sequential unsigned arithmetic: restoring divider and integer square root.

Both produce one result bit per cycle and share one handshake: ``start`` (sampled when not
``busy``) loads the operands; ``done`` pulses for one cycle when the outputs are valid,
``div_cycles``/``sqrt_cycles`` (:mod:`rpu.models.ref_management`) cycles after the cycle in
which ``start`` was sampled; outputs then hold until the next ``start``.
"""

from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["SeqDivider", "SeqSqrt"]


def _check_width(name, value, lo=1, hi=512):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], not {value}")


class SeqDivider(wiring.Component):
    """``quo = num // den``, ``rem = num % den`` in ``num_bits + 1`` cycles.

    ``den = 0`` gives ``quo`` all ones and ``div_zero`` = 1 (with ``done``); never hangs.
    """

    def __init__(self, num_bits: int, den_bits: int):
        _check_width("SeqDivider num_bits", num_bits)
        _check_width("SeqDivider den_bits", den_bits)
        self.num_bits, self.den_bits = num_bits, den_bits
        super().__init__({
            "start": In(1), "num": In(num_bits), "den": In(den_bits),
            "quo": Out(num_bits), "rem": Out(den_bits),
            "busy": Out(1), "done": Out(1), "div_zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.num_bits
        num = Signal(n)
        den = Signal(self.den_bits)
        rem = Signal(self.den_bits + 1)
        quo = Signal(n)
        cnt = Signal(range(n + 1))
        m.d.comb += [self.quo.eq(quo), self.rem.eq(rem)]
        m.d.sync += self.done.eq(0)
        trial = Signal(self.den_bits + 2)
        m.d.comb += trial.eq(Cat(num[n - 1], rem))
        with m.If(self.busy):
            with m.If(trial >= den):
                m.d.sync += [rem.eq(trial - den), quo.eq(Cat(1, quo[:-1]))]
            with m.Else():
                m.d.sync += [rem.eq(trial), quo.eq(Cat(0, quo[:-1]))]
            m.d.sync += [num.eq(num << 1), cnt.eq(cnt - 1)]
            with m.If(cnt == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.Elif(self.start):
            m.d.sync += [num.eq(self.num), den.eq(self.den), rem.eq(0), quo.eq(0),
                         cnt.eq(n), self.busy.eq(1), self.div_zero.eq(self.den == 0)]
        return m


class SeqSqrt(wiring.Component):
    """``root = isqrt(rad)`` (floor) in ``ceil(rad_bits/2) + 1`` cycles."""

    def __init__(self, rad_bits: int):
        _check_width("SeqSqrt rad_bits", rad_bits, 2, 512)
        self.rad_bits = rad_bits + (rad_bits & 1)      # even
        self.root_bits = self.rad_bits // 2
        super().__init__({
            "start": In(1), "rad": In(rad_bits), "root": Out(self.root_bits),
            "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n, h = self.rad_bits, self.root_bits
        rad = Signal(n)
        rem = Signal(h + 2)
        root = Signal(h)
        cnt = Signal(range(h + 1))
        trial_rem = Signal(h + 3)
        trial = Signal(h + 3)
        m.d.comb += [trial_rem.eq(Cat(rad[n - 2:n], rem)), trial.eq(Cat(1, 0, root)),
                     self.root.eq(root)]
        m.d.sync += self.done.eq(0)
        with m.If(self.busy):
            with m.If(trial_rem >= trial):
                m.d.sync += [rem.eq(trial_rem - trial), root.eq(Cat(1, root[:-1]))]
            with m.Else():
                m.d.sync += [rem.eq(trial_rem), root.eq(Cat(0, root[:-1]))]
            m.d.sync += [rad.eq(rad << 2), cnt.eq(cnt - 1)]
            with m.If(cnt == 1):
                m.d.sync += [self.busy.eq(0), self.done.eq(1)]
        with m.Elif(self.start):
            m.d.sync += [rad.eq(self.rad), rem.eq(0), root.eq(0), cnt.eq(h), self.busy.eq(1)]
        return m
