"""Stochastic pulse bank with sign-phase sequencer (docs/spec.md §3).

Reference: :class:`rpu.models.ref_stochastic.UpdateStreamsModel`; the random sources are
:mod:`rpu.spec.streams` (why they are unbiased: its docstring).  Ports and timing: docs/architecture.md, "Stochastic pulse bank".
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.spec.streams import (D_TAPS, D_WIDTH, PHASES, SEED_BITS, X_TAPS, X_WIDTH,
                              check_stream_params, line_taps, seed_masks)

from .lfsr import LFSR
from .pulse_width import ShadowChain, slot_timer
from .common import counter_range

__all__ = ["UpdatePulser"]


class _Side:
    """One side's load chain, converters, generator and per-line comparators."""

    def __init__(self, m, name, lines, prob_bits, lanes, width, taps, top):
        self.chain = ShadowChain(m, f"{name}_chain", lines, (prob_bits + 1, 1, 1), lanes)
        m.submodules[f"{name}_rng"] = self.rng = LFSR(width, taps, leap=prob_bits)
        data, valid = getattr(top, f"{name}_load_data"), getattr(top, f"{name}_load_valid")
        one, cw = 1 << prob_bits, prob_bits + 2
        conv = []
        for l in range(lanes):                 # one sign-magnitude converter per lane
            code = data[l * cw:(l + 1) * cw].as_signed()
            mag = Signal(cw, name=f"{name}_lane{l}_mag")
            m.d.comb += mag.eq(Mux(code < 0, -code, code))
            conv.append(Cat(Mux(mag > one, one, mag)[:prob_bits + 1], code > 0, code < 0))
        m.d.comb += [self.chain.load_valid.eq(valid), self.chain.load_data.eq(Cat(*conv))]
        seed = getattr(top, f"{name}_seed")
        m.d.comb += self.rng.seed.eq(Cat(*((seed & mk).xor() for mk in seed_masks(width))))
        # group flags (any line positive / negative), of the shadow for a same-cycle commit
        chain = self.chain
        self.sh_pos, self.sh_neg = Signal(name=f"{name}_sh_pos"), Signal(name=f"{name}_sh_neg")
        m.d.comb += [self.sh_pos.eq(chain.shadow_any(1)), self.sh_neg.eq(chain.shadow_any(2))]
        # per-line draws and comparators; everything else is vector-wide
        draw = _Draws(m, name, self.rng.state, prob_bits)
        taps = line_taps(width, prob_bits, lines)
        self.fire = [Cat(*(draw(taps[i]) < chain.active(k, 0, j) for j, i in enumerate(r)))
                     for k, r in enumerate(chain.groups)]

    def drives(self, negative):
        """Lines that fire and whose code is negative (``negative`` = 1) or positive."""
        return Cat(*(fire & Mux(negative, self.chain.active(k, 2), self.chain.active(k, 1))
                     for k, fire in enumerate(self.fire)))


class _Draws:
    """``draw(taps)`` = XOR of the state windows ``state[o : o+prob_bits]`` for ``o`` in
    ``taps``, built from named partial XORs shared by the lines whose tap sets start alike
    (about 1.1 XOR cells per line instead of 2)."""

    def __init__(self, m, name, state, prob_bits):
        self.m, self.name, self.state, self.pb = m, name, state, prob_bits
        self.partial = {}

    def __call__(self, taps):
        window = self.state[taps[-1]:taps[-1] + self.pb]
        if len(taps) == 1:
            return window
        if taps not in self.partial:
            xor = Signal(self.pb, name=f"{self.name}_rand_" + "_".join(map(str, taps)))
            self.m.d.comb += xor.eq(self(taps[:-1]) ^ window)
            self.partial[taps] = xor
        return self.partial[taps]


class UpdatePulser(wiring.Component):
    """Stochastic pulse generators for ``x_lines`` and ``d_lines`` plus the sign phases."""

    def __init__(self, x_lines: int, d_lines: int, prob_bits: int, bl_max: int,
                 slot_cycles: int = 1, lanes: int = 1):
        check_stream_params(x_lines, d_lines, prob_bits, bl_max, slot_cycles, lanes)
        line_taps(X_WIDTH, prob_bits, x_lines)      # raises if a side has too many lines
        line_taps(D_WIDTH, prob_bits, d_lines)
        self.x_lines, self.d_lines, self.prob_bits = x_lines, d_lines, prob_bits
        self.bl_max, self.slot_cycles, self.lanes = bl_max, slot_cycles, lanes
        cw = lanes * (prob_bits + 2)
        super().__init__({
            "x_load_valid": In(1), "x_load_data": In(cw),
            "d_load_valid": In(1), "d_load_data": In(cw),
            "commit": In(1), "bl": In(counter_range(bl_max + 1)), "start": In(1),
            "x_seed": In(SEED_BITS), "d_seed": In(SEED_BITS), "seed_load": In(1),
            "x_pos": Out(x_lines), "x_neg": Out(x_lines),
            "d_pos": Out(d_lines), "d_neg": Out(d_lines),
            "phase": Out(2), "slot": Out(counter_range(bl_max)),
            "busy": Out(1), "done": Out(1), "bl_zero": Out(1), "seed_zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        pb = self.prob_bits
        x = _Side(m, "x", self.x_lines, pb, self.lanes, X_WIDTH, X_TAPS, self)
        d = _Side(m, "d", self.d_lines, pb, self.lanes, D_WIDTH, D_TAPS, self)
        idle = ~self.busy
        commit = self.commit & idle
        m.d.comb += [x.chain.commit.eq(commit), d.chain.commit.eq(commit)]

        # seeds: a zero seed is refused for its side and flagged (sticky until next load)
        load = self.seed_load & idle
        m.d.comb += [x.rng.load.eq(load & (self.x_seed != 0)),
                     d.rng.load.eq(load & (self.d_seed != 0))]
        with m.If(load):
            m.d.sync += self.seed_zero.eq((self.x_seed == 0) | (self.d_seed == 0))

        # group flags of the active vectors, latched at commit
        flags = Signal(4)                       # x>0, x<0, d>0, d<0 present
        sh_flags = Cat(x.sh_pos, x.sh_neg, d.sh_pos, d.sh_neg)
        with m.If(commit):
            m.d.sync += flags.eq(sh_flags)
        f, start_act = Signal(4), Signal(4)    # (named signals: each use re-emits an expression)
        group = {(+1, 0): f[0], (-1, 0): f[1], (+1, 1): f[2], (-1, 1): f[3]}
        m.d.comb += [
            f.eq(Mux(commit, sh_flags, flags)),
            start_act.eq(Cat(*(group[(sx, 0)] & group[(sd, 1)] for sx, sd, _ in PHASES))),
        ]

        act = Signal(4)
        bl = Signal.like(self.bl)
        last = slot_timer(m, self.slot_cycles, self.busy)
        m.d.comb += [x.rng.advance.eq(last), d.rng.advance.eq(last)]

        def first_set(mask):
            """(found, index) of the lowest set bit of the 4-bit ``mask``."""
            found, idx = Const(0, 1), Const(0, 2)
            for p in reversed(range(4)):
                idx = Mux(mask[p], p, idx)
                found = found | mask[p]
            return found, idx

        above = Signal(4)                       # active phases after the current one
        m.d.comb += above.eq(Cat(0, *(act[p] & (self.phase < p) for p in range(1, 4))))
        nxt_any, nxt = first_set(above)

        m.d.sync += self.done.eq(0)
        with m.If(idle):
            with m.If(self.start):
                bl_in = self.bl                 # values above bl_max saturate
                if (1 << len(self.bl)) - 1 > self.bl_max:
                    bl_in = Mux(self.bl > self.bl_max, self.bl_max, self.bl)
                any_, first = first_set(start_act)
                m.d.sync += [act.eq(start_act), bl.eq(bl_in), self.bl_zero.eq(self.bl == 0),
                             self.slot.eq(0)]
                with m.If(any_ & (self.bl != 0)):
                    m.d.sync += [self.busy.eq(1), self.phase.eq(first)]
                with m.Else():
                    m.d.sync += self.done.eq(1)
        with m.Elif(last):
            with m.If(self.slot == bl - 1):
                m.d.sync += self.slot.eq(0)
                with m.If(nxt_any):
                    m.d.sync += self.phase.eq(nxt)
                with m.Else():
                    m.d.sync += [self.busy.eq(0), self.done.eq(1)]
            with m.Else():
                m.d.sync += self.slot.eq(self.slot + 1)

        # drives: x group = (x>0 in phases 0,1 / x<0 in 2,3), d group = (d<0 in 0,3 / d>0 in 1,2)
        ph0, ph1 = self.phase[0], self.phase[1]
        d_negative = Signal()                   # d < 0 fires in phases 0 and 3
        xv, dv = Signal(self.x_lines), Signal(self.d_lines)
        m.d.comb += [
            d_negative.eq(~(ph0 ^ ph1)),
            xv.eq(Mux(self.busy, x.drives(negative=ph1), 0)),
            dv.eq(Mux(self.busy, d.drives(negative=d_negative), 0)),
            self.x_pos.eq(Mux(ph0, 0, xv)), self.x_neg.eq(Mux(ph0, xv, 0)),
            self.d_pos.eq(Mux(ph0, dv, 0)), self.d_neg.eq(Mux(ph0, 0, dv)),
        ]
        return m
