"""Unsigned arithmetic for a 150 MHz ECP5 clock: a pipelined multiplier, a sequential
divider and square root.

* :class:`Multiplier`: ``p = a·b`` from 18×18 partial products, each registered on its way
  in and out (the DSP block's own registers on an ECP5), summed by a registered adder tree:
  one product per cycle, latency :func:`rpu.spec.timing.mul_cycles`.
* :class:`SeqDivider`, :class:`SeqSqrt`: restoring digit recurrences, ``bits_per_cycle``
  result bits per cycle; ``start`` (sampled when not ``busy``) loads the operands, ``done``
  pulses for one cycle when the outputs are valid, ``div_cycles``/``sqrt_cycles`` cycles
  after the cycle in which ``start`` was sampled; outputs hold until the next ``start``.
  Operands are padded with leading zeros to a whole number of steps, so results do not
  depend on ``bits_per_cycle``.  At two bits per cycle a step compares the partial
  remainder with the three non-zero digit multiples in parallel (one carry chain deep, not
  two chained steps).
"""

from __future__ import annotations

from amaranth import C, Cat, ClockSignal, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule

from rpu.spec.timing import ARITH_BITS_PER_CYCLE as BITS_PER_CYCLE, MUL_CHUNK, ceil_div, mul_cycles

from .common import counter_range

__all__ = ["Multiplier", "SeqDivider", "SeqSqrt", "BITS_PER_CYCLE", "is_ecp5"]


def is_ecp5(platform) -> bool:
    """The design is being elaborated for an ECP5 (``platform.family == "ecp5"``: an
    amaranth-boards platform or :class:`rpu.synth.ECP5Target`)."""
    return getattr(platform, "family", None) == "ecp5"


def _mult18x18d(m, name, a, b, p):
    """An ECP5 MULT18X18D with its A, B input registers and its output register on the
    domain's clock (unsigned, always enabled, never reset): the same two cycles as the
    generic registers around a ``*``."""
    full = Signal(36, name=f"{name}_p")
    m.d.comb += p.eq(full[:len(p)])
    ports = {}
    for i in range(18):
        ports[f"i_A{i}"] = a[i] if i < len(a) else C(0, 1)
        ports[f"i_B{i}"] = b[i] if i < len(b) else C(0, 1)
        ports[f"i_C{i}"] = C(0, 1)
    for i in range(36):
        ports[f"o_P{i}"] = full[i]
    zero = C(0, 1)
    m.submodules[name] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK="CLK0", p_REG_INPUTB_CLK="CLK0", p_REG_OUTPUT_CLK="CLK0",
        p_REG_PIPELINE_CLK="NONE", p_GSR="DISABLED", p_RESETMODE="SYNC",
        i_SIGNEDA=zero, i_SIGNEDB=zero, i_SOURCEA=zero, i_SOURCEB=zero,
        i_CLK0=ClockSignal(), i_CLK1=zero, i_CLK2=zero, i_CLK3=zero,
        i_CE0=C(1, 1), i_CE1=zero, i_CE2=zero, i_CE3=zero,
        i_RST0=zero, i_RST1=zero, i_RST2=zero, i_RST3=zero, **ports)


class Multiplier(wiring.Component):
    """Pipelined unsigned ``p = a·b``: a new pair every cycle, ``p`` of the pair given
    :func:`~rpu.spec.timing.mul_cycles` cycles earlier.

    The operands are cut into ``MUL_CHUNK``-bit pieces; every pair of pieces is one 18×18
    product with registered inputs and output (on an ECP5 a MULT18X18D with its own
    registers: the inferred block has none, and its 3.9 ns alone would not fit a 150 MHz
    cycle with the routing to and from it); the partial products are summed two at a time,
    one registered adder level per cycle.  No reset: the pipeline holds data only.
    """

    def __init__(self, a_bits: int, b_bits: int):
        IntRule(1, 128).check("a_bits", a_bits)
        IntRule(1, 128).check("b_bits", b_bits)
        self.a_bits, self.b_bits = a_bits, b_bits
        self.latency = mul_cycles(a_bits, b_bits)
        super().__init__({"a": In(a_bits), "b": In(b_bits), "p": Out(a_bits + b_bits)})

    def elaborate(self, platform):
        m = Module()
        k = MUL_CHUNK
        width = self.a_bits + self.b_bits
        terms = []                                    # (shift, registered partial product)
        for i in range(ceil_div(self.a_bits, k)):
            for j in range(ceil_div(self.b_bits, k)):
                a = self.a[i * k:(i + 1) * k]
                b = self.b[j * k:(j + 1) * k]
                p = Signal(len(a) + len(b), name=f"pp{i}_{j}")
                if is_ecp5(platform):
                    _mult18x18d(m, f"dsp{i}_{j}", a, b, p)
                else:
                    ra = Signal(len(a), name=f"a{i}_{j}", reset_less=True)
                    rb = Signal(len(b), name=f"b{i}_{j}", reset_less=True)
                    pr = Signal(len(p), name=f"p{i}_{j}", reset_less=True)
                    m.d.sync += [ra.eq(a), rb.eq(b), pr.eq(ra * rb)]
                    m.d.comb += p.eq(pr)
                terms.append(((i + j) * k, p))
        level = 0
        while len(terms) > 1:                         # one registered adder level per cycle
            terms.sort(key=lambda t: t[0])
            nxt = []
            for n in range(0, len(terms), 2):
                if n + 1 == len(terms):
                    (s, v), = terms[n:]
                    r = Signal(len(v), name=f"s{level}_{n}", reset_less=True)
                    m.d.sync += r.eq(v)
                    nxt.append((s, r))
                    continue
                (s0, v0), (s1, v1) = terms[n], terms[n + 1]
                r = Signal(min(width - s0, max(len(v0), len(v1) + s1 - s0) + 1),
                           name=f"s{level}_{n}", reset_less=True)
                m.d.sync += r.eq(v0 + (v1 << (s1 - s0)))
                nxt.append((s0, r))
            terms, level = nxt, level + 1
        (s, v), = terms
        m.d.comb += self.p.eq(v << s)
        return m


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
        db = self.den_bits
        num = Signal(n)
        den = Signal(db)
        rem = Signal(db + 1)
        quo = Signal(n)
        cnt = Signal(counter_range(steps + 1))
        m.d.comb += [self.quo.eq(quo), self.rem.eq(rem)]
        m.d.sync += self.done.eq(0)
        if s == 2:
            # radix 4: the shifted remainder against den, 2·den, 3·den at once
            den3 = Signal(db + 2)
            trial = Signal(db + 3)
            m.d.comb += trial.eq(Cat(num[n - 2:n], rem))
            diffs = [Signal(db + 4, name=f"diff{d}") for d in (1, 2, 3)]
            m.d.comb += [diffs[0].eq(trial - den), diffs[1].eq(trial - Cat(C(0, 1), den)),
                         diffs[2].eq(trial - den3)]
            ge = [~d[-1] for d in diffs]               # trial ≥ d·den (monotone in d)
            nxt = Mux(ge[1], Mux(ge[2], diffs[2], diffs[1]), Mux(ge[0], diffs[0], trial))
            digit = Cat(ge[2] | (ge[0] & ~ge[1]), ge[1])
            with m.If(self.busy):
                m.d.sync += [rem.eq(nxt[:db + 1]), quo.eq(Cat(digit, quo[:n - 2])),
                             num.eq(num << 2), cnt.eq(cnt - 1)]
            with m.Elif(self.start):
                m.d.sync += den3.eq(self.den + (self.den << 1))
        else:
            r, qbits = rem, []
            for j in range(s):                          # s restoring steps, MSB first
                trial = Signal(db + 2, name=f"trial{j}")
                ge = Signal(name=f"ge{j}")
                nxt = Signal(db + 1, name=f"rem{j}")
                m.d.comb += [trial.eq(Cat(num[n - 1 - j], r)), ge.eq(trial >= den),
                             nxt.eq(Mux(ge, trial - den, trial))]
                r = nxt
                qbits.append(ge)
            with m.If(self.busy):
                m.d.sync += [rem.eq(r), quo.eq(Cat(*reversed(qbits), quo[:n - s])),
                             num.eq(num << s), cnt.eq(cnt - 1)]
        with m.If(self.busy):
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
