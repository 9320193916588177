"""Noise, bound and update management (docs/spec.md §3); formats in docs/numerics.md.

Bit-exact twin: :mod:`rpu.models.ref_management` (every formula below is written there
with Python ints; both take their widths from :func:`rpu.spec.formats.numerics`).
"""

import math

from amaranth import C, Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.spec.params import check_lanes
from rpu.spec.formats import (BM_CAP_MAX, BM_K_BITS, C_FRAC, ISQ_FRAC, LRD_FRAC, REG_BITS,
                              isq_table, numerics)
from rpu.spec.timing import (absmax_cycles, ceil_div, nm_alpha_delay, scaler_cycles,
                             um_max_delay, um_plan)

from .arith import Multiplier, SeqDivider, SeqSqrt
from .common import counter_range, lane as _lane, magnitude, round_shift_var, tree_sum

__all__ = ["AbsMax", "NoiseManager", "LaneScaler", "BoundManager", "UpdateManager",
           "FlagCounter"]


class AbsMax(wiring.Component):
    """Running max|x| over streamed lanes of signed ``width``-bit values, pipelined for a
    fast clock: each lane keeps its own running maximum (one compare per cycle), a tree of
    registered compare levels combines the lanes.  ``max`` includes a beat
    :func:`~rpu.spec.timing.absmax_cycles` cycles after its ``valid`` cycle (1 for one lane,
    3 for four).  ``clear`` empties it (a ``valid`` beat in the same cycle is the first one
    counted)."""

    def __init__(self, lanes: int, width: int):
        check_lanes("lanes", lanes)
        IntRule(2, 64).check("width", width)
        self.lanes, self.width = lanes, width
        self.latency = absmax_cycles(lanes)
        super().__init__({"clear": In(1), "valid": In(1), "data": In(lanes * width),
                          "max": Out(width)})

    def elaborate(self, platform):
        m = Module()
        w = self.width
        level = []
        for i in range(self.lanes):
            v = _lane(self.data, i, w)
            best = Signal(w, name=f"lane_max{i}")
            base = Mux(self.clear, 0, best)
            # |v| > base without negating first: v > base, or v < 0 and v + base < 0
            above = Signal(name=f"above{i}")
            m.d.comb += above.eq(Mux(v < 0, (v + base) < 0, v > base))
            with m.If(self.valid):
                m.d.sync += best.eq(Mux(above, magnitude(v), base))
            with m.Elif(self.clear):
                m.d.sync += best.eq(0)
            level.append(best)
        depth = 0
        while len(level) > 1:                     # one registered compare level per cycle
            nxt = []
            for n in range(0, len(level), 2):
                r = Signal(w, name=f"max{depth}_{n}")
                pair = level[n:n + 2]
                m.d.sync += r.eq(pair[0] if len(pair) == 1 else
                                 Mux(pair[0] > pair[1], pair[0], pair[1]))
                nxt.append(r)
            level, depth = nxt, depth + 1
        m.d.comb += self.max.eq(level[0])
        return m


class NoiseManager(wiring.Component):
    """Read scale parameters from α = max|x| and the mode (0 off, 1 abs_max, 2 pow2).

    ``start`` samples ``mode`` and ``out_scale``; α is sampled ``alpha_delay`` cycles later
    (default :func:`~rpu.spec.timing.nm_alpha_delay`).  Constant latency
    :func:`~rpu.spec.timing.nm_cycles` (the radix-4 divider always runs; scale·α is a
    two-bits-per-cycle serial product that finishes first); mode 3 raises ``mode_error``
    (held with the outputs) and acts as off.  Besides the reference's ``in_mul``,
    ``in_shift``, ``out_mul``, ``out_exp`` it gives ``in_scale`` = D·in_mul·2^(SH − in_shift),
    the lane scalers' operand (DAC code = round(|x|·(in_scale >> k) / 2^SH), exactly the
    reference's round(|x|·D·in_mul / 2^(in_shift + k)) since SH − in_shift ≥ T > k).
    """

    def __init__(self, cfg: TileConfig, *, alpha_delay: int | None = None):
        check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        nx = self.nx = numerics(cfg)
        self.alpha_delay = IntRule(0, 64).check(
            "alpha_delay", nm_alpha_delay(cfg) if alpha_delay is None else alpha_delay)
        if nx.um_peak_frac < (1 << BM_K_BITS) - 1:
            raise ValueError("in_scale >> k is exact only for um_peak_frac ≥ the largest BM k")
        super().__init__({
            "start": In(1), "alpha": In(nx.value_bits), "mode": In(2), "out_scale": In(REG_BITS),
            "in_mul": Out(nx.in_mul_bits), "in_shift": Out(counter_range(nx.in_shift_max + 1)),
            "in_scale": Out(nx.in_scale_bits),
            "out_mul": Out(nx.out_mul_bits), "out_exp": Out(counter_range(nx.value_bits + 1)),
            "mode_error": Out(1), "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        V, R, SH, F = nx.value_bits, nx.recip_point, nx.gain_point, nx.frac_bits
        D, db = nx.dac_max, nx.dac_bits
        m.submodules.div = div = SeqDivider(R, V)
        alpha = Signal(V)
        mode = Signal(2)
        scale = Signal(REG_BITS)
        sample = Signal()                     # α is sampled (and the divider starts) now
        go = self.start & ~self.busy
        if self.alpha_delay == 0:
            m.d.comb += sample.eq(go)
        else:
            wait = Signal(counter_range(self.alpha_delay + 1))
            waiting = Signal()
            with m.If(go):
                m.d.sync += [wait.eq(self.alpha_delay - 1), waiting.eq(1)]
            with m.Elif(waiting):
                m.d.sync += wait.eq(wait - 1)
                with m.If(wait == 0):
                    m.d.sync += waiting.eq(0)
            m.d.comb += sample.eq(waiting & (wait == 0))
        m.d.comb += [div.start.eq(sample), div.num.eq((1 << R) - 1), div.den.eq(self.alpha)]
        m.d.sync += self.done.eq(0)
        with m.If(go):
            m.d.sync += [mode.eq(self.mode), scale.eq(self.out_scale), self.busy.eq(1)]
        with m.If(sample):
            m.d.sync += alpha.eq(self.alpha)

        # scale·α, two bits of α per cycle into an even and an odd accumulator
        steps = ceil_div(V, 2)
        acc_e, acc_o = Signal(nx.out_mul_bits), Signal(nx.out_mul_bits)
        mcand = Signal(nx.out_mul_bits)
        mplier = Signal(2 * steps)
        with m.If(sample):
            m.d.sync += [acc_e.eq(0), acc_o.eq(0), mcand.eq(scale), mplier.eq(self.alpha)]
        with m.Elif(self.busy):
            m.d.sync += [acc_e.eq(acc_e + Mux(mplier[0], mcand, 0)),
                         acc_o.eq(acc_o + Mux(mplier[1], mcand, 0)),
                         mcand.eq(mcand << 2), mplier.eq(mplier >> 2)]
        product = Signal(nx.out_mul_bits)
        m.d.sync += product.eq(acc_e + (acc_o << 1))

        # e = bit length of α − 1 (2^e ≥ α), and pow2's DAC scale D·2^(SH − e)
        am1 = Signal(V)
        e = Signal(counter_range(V + 1))
        m.d.sync += am1.eq(alpha - 1)
        for i in range(V):
            with m.If(am1[i]):
                m.d.comb += e.eq(i + 1)
        pow2_shift = Signal(counter_range(SH + 1))
        pow2_scale = Signal(nx.in_scale_bits)
        m.d.comb += pow2_shift.eq(SH - e)
        m.d.sync += pow2_scale.eq(Const(D, db) << pow2_shift)

        # divider done: in_mul = quotient + 1; one cycle later in_scale and done
        fin = Signal()
        m.d.sync += fin.eq(self.busy & div.done)
        with m.If(self.busy & div.done):
            m.d.sync += self.in_mul.eq(div.quo + 1)
        with m.If(fin):
            m.d.sync += [self.busy.eq(0), self.done.eq(1), self.mode_error.eq(mode == 3)]
            with m.If((mode == 0) | (mode == 3)):
                m.d.sync += [self.in_mul.eq(1), self.in_shift.eq(F),
                             self.in_scale.eq(D << (SH - F)),
                             self.out_mul.eq(scale), self.out_exp.eq(F)]
            with m.Elif(alpha == 0):
                m.d.sync += [self.in_mul.eq(0), self.in_shift.eq(0), self.in_scale.eq(0),
                             self.out_mul.eq(0), self.out_exp.eq(0)]
            with m.Elif(mode == 1):
                q1 = self.in_mul
                m.d.sync += [self.in_shift.eq(R),
                             self.in_scale.eq(((q1 << (db - 1)) - q1) << (SH - R)),
                             self.out_mul.eq(product), self.out_exp.eq(0)]
            with m.Else():
                m.d.sync += [self.in_mul.eq(1), self.in_shift.eq(e),
                             self.in_scale.eq(pow2_scale), self.out_mul.eq(scale),
                             self.out_exp.eq(e)]
        return m


class LaneScaler(wiring.Component):
    """Lanes of host values × one per-operation scale → signed codes
    ±min(limit, round(|v|·scale / 2^SH)) and ``clip`` = (round(…) > limit), pipelined: a beat
    every cycle, its codes :func:`~rpu.spec.timing.scaler_cycles` cycles later (input
    register, :class:`~rpu.rtl.arith.Multiplier` per lane, then rounding, limit and sign in
    one step).  ``scale`` and ``limit`` must hold while beats are in flight.

    A read's DAC codes: scale = in_scale >> k, limit = D (:class:`NoiseManager`); an
    update's probability codes: scale = the side's gain, limit = 2^P (the reference's
    ``input_codes``, ``prob_codes``).  ``codes`` lanes are ``code_bits`` wide (two's
    complement; a consumer takes the low bits it needs, the values fit).
    """

    def __init__(self, cfg: TileConfig, lanes: int):
        check_instance("cfg", cfg, TileConfig)
        check_lanes("lanes", lanes)
        self.cfg, self.lanes = cfg, lanes
        nx = self.nx = numerics(cfg)
        self.code_bits = max(nx.dac_bits, nx.prob_bits + 2)
        self.limit_bits = max(nx.dac_max, nx.prob_one).bit_length()
        self.latency = scaler_cycles(cfg)
        super().__init__({
            "values": In(lanes * nx.value_bits), "scale": In(nx.lane_scale_bits),
            "limit": In(self.limit_bits),
            "codes": Out(lanes * self.code_bits), "clip": Out(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        V, SH, cb = nx.value_bits, nx.gain_point, self.code_bits
        values = Signal(len(self.values), reset_less=True)
        m.d.sync += values.eq(self.values)
        limit = self.limit
        neg_limit = Signal(cb)
        m.d.comb += neg_limit.eq(-limit)
        for i in range(self.lanes):
            v = _lane(values, i, V)
            m.submodules[f"mul{i}"] = mul = Multiplier(V, nx.lane_scale_bits)
            m.d.comb += [mul.a.eq(magnitude(v)), mul.b.eq(self.scale)]
            sign = v < 0
            for k in range(mul.latency):                  # the sign travels with the product
                s = Signal(name=f"sign{i}_{k}", reset_less=True)
                m.d.sync += s.eq(sign)
                sign = s
            p = mul.p
            q = p[SH:]                                    # floor(n / 2^SH)
            half = p[SH - 1]                              # the rounding bit
            over = Signal(name=f"over{i}")
            # round(n / 2^SH) > limit  ⟺  n / 2^(SH−1) ≥ 2·limit + 1
            m.d.comb += over.eq(p[SH - 1:] >= Cat(C(1, 1), limit))
            up = Signal(cb, name=f"up{i}")
            down = Signal(cb, name=f"down{i}")
            m.d.comb += [up.eq(q[:cb] + half), down.eq(~q[:cb] + ~half)]   # ±(q + half)
            code = Signal(cb, name=f"code{i}", reset_less=True)
            clip = Signal(name=f"clip{i}", reset_less=True)
            m.d.sync += [code.eq(Mux(over, Mux(sign, neg_limit, limit), Mux(sign, down, up))),
                         clip.eq(over)]
            m.d.comb += [self.codes[i * cb:(i + 1) * cb].eq(code), self.clip[i].eq(clip)]
        return m


class BoundManager(wiring.Component):
    """Forward bound management: retry a saturated pass with the input halved, up to ``cap``.

    ``begin`` starts a read (k = 0). A ``pass_done`` pulse (with ``any_sat``) answers, one
    cycle later, with a ``retry`` pulse (``k`` already incremented) or an ``accept`` pulse
    (``gave_up`` set if still saturated at the cap). ``cap`` outside 1..16 sets
    ``cap_error`` and is clamped. Counters saturate at 2^32 − 1; ``clear_counters`` zeroes them.
    """

    def __init__(self, cfg: TileConfig):
        check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        super().__init__({
            "begin": In(1), "enable": In(1), "cap": In(5), "pass_done": In(1),
            "any_sat": In(1), "clear_counters": In(1),
            "k": Out(BM_K_BITS), "retry": Out(1), "accept": Out(1),
            "passes": Out(5), "gave_up": Out(1), "cap_error": Out(1),
            "passes_total": Out(32), "giveups_total": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cap = Signal(5)
        m.d.comb += [
            self.cap_error.eq((self.cap == 0) | (self.cap > BM_CAP_MAX)),
            cap.eq(Mux(self.cap == 0, 1, Mux(self.cap > BM_CAP_MAX, BM_CAP_MAX, self.cap))),
        ]
        m.d.sync += [self.retry.eq(0), self.accept.eq(0)]
        full = (1 << 32) - 1
        with m.If(self.begin):
            m.d.sync += [self.k.eq(0), self.passes.eq(0), self.gave_up.eq(0)]
        with m.Elif(self.pass_done):
            nxt = self.passes + 1
            m.d.sync += self.passes.eq(nxt)
            with m.If(self.enable & self.any_sat & (nxt < cap)):
                m.d.sync += [self.k.eq(self.k + 1), self.retry.eq(1)]
            with m.Else():
                m.d.sync += [self.accept.eq(1), self.gave_up.eq(self.enable & self.any_sat)]
                with m.If((self.enable & self.any_sat) & (self.giveups_total != full)):
                    m.d.sync += self.giveups_total.eq(self.giveups_total + 1)
            with m.If(self.passes_total != full):
                m.d.sync += self.passes_total.eq(self.passes_total + 1)
        with m.If(self.clear_counters):
            m.d.sync += [self.passes_total.eq(0), self.giveups_total.eq(0)]
        return m


class _Schedule:
    """Cycle-numbered steps of a sequencer: ``at(t)`` is a condition true in cycle ``t`` after
    ``start`` (``start`` = cycle 0) while the sequence runs."""

    def __init__(self, m: Module, length: int, go):
        self.length = length
        self.cyc = Signal(counter_range(length + 1), name="step")
        self.run = Signal(name="running")
        with m.If(go):
            m.d.sync += [self.cyc.eq(1), self.run.eq(1)]
        with m.Elif(self.run):
            m.d.sync += self.cyc.eq(self.cyc + 1)
            with m.If(self.cyc == length - 1):
                m.d.sync += self.run.eq(0)
        self.go = go

    def at(self, t: int):
        if not 0 <= t < self.length:
            raise ValueError(f"step {t} outside the schedule (0..{self.length - 1})")
        return self.go if t == 0 else self.run & (self.cyc == t)


class UpdateManager(wiring.Component):
    """Per-side probability gains and BL of an update (UM, dynamic BL, clipping).

    ``start`` samples the registers; the maxima are sampled ``max_delay`` cycles later
    (default :func:`~rpu.spec.timing.um_max_delay`).  Constant latency
    :func:`~rpu.spec.timing.um_cycles` from ``start`` to ``done``; the outputs hold until the
    next ``start``.  Bad ``bl``/``bl_max`` registers set ``bl_error`` and give zero gains
    (nothing fires).  Bit-exact with ``ref_management.um_gains``.

    Built for a 150 MHz clock: one :class:`~rpu.rtl.arith.Multiplier` (four 18×18 products
    on the default tile) runs every product of the sequence in turn (x_max·d_max,
    lr/dw·x_max·d_max for dynamic BL, C1/sqrt(BL), C·root, the gains, the clipped peak²);
    the square root and the two reciprocals are digit recurrences (root one bit per cycle,
    reciprocals two); C·root is split: the root's leading bits on the multiplier once C is
    known, the rest accumulated bit by bit as the root's digits come.  Operands wider than
    the multiplier are cut into pieces issued on consecutive cycles.  The cycle of every
    step is fixed at elaboration (:meth:`schedule`).
    """

    def __init__(self, cfg: TileConfig, *, max_delay: int | None = None):
        check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        nx = self.nx = numerics(cfg)
        self.max_delay = IntRule(0, 64).check(
            "max_delay", um_max_delay(cfg) if max_delay is None else max_delay)
        self.plan = um_plan(cfg, max_delay=self.max_delay)
        self.latency = self.plan.times["done"]
        super().__init__({
            "start": In(1), "x_max": In(nx.value_bits), "d_max": In(nx.value_bits),
            "um_enable": In(1), "dyn_bl": In(1), "bl": In(8), "bl_max": In(8),
            "um_c": In(REG_BITS), "um_c1": In(REG_BITS), "um_lr_dw": In(REG_BITS),
            "gain_x": Out(nx.gain_bits), "gain_d": Out(nx.gain_bits), "bl_out": Out(8),
            "bl_error": Out(1), "busy": Out(1), "done": Out(1),
        })

    def registers_bad(self):
        """``bl_error``'s condition on the registers (sampled at ``start``): bl_max 0 or over
        the configured maximum, or with static BL a bl of 0 or over bl_max."""
        return ((self.bl_max == 0) | (self.bl_max > self.nx.bl_max)
                | (~self.dyn_bl & ((self.bl == 0) | (self.bl > self.bl_max))))

    def elaborate(self, platform):
        m = Module()
        nx, plan = self.nx, self.plan
        t = plan.times
        V, P, T, S = nx.value_bits, nx.prob_bits, nx.um_peak_frac, nx.um_sqrt_frac
        MUL_B = plan.mul_b
        go = self.start & ~self.busy
        sch = _Schedule(m, t["done"], go)
        at = sch.at
        m.submodules.sqrt = sq = SeqSqrt(nx.sqrt_rad_bits, bits_per_cycle=1)
        m.submodules.div_x = dx = SeqDivider(nx.recip_point, V)
        m.submodules.div_d = dd = SeqDivider(nx.recip_point, V)
        m.submodules.mul = mul = Multiplier(plan.mul_a, MUL_B)
        L = plan.mul_lat

        # -- registers sampled at start --
        um, dyn, err = Signal(), Signal(), Signal()
        c_static, c1, lr_dw = Signal(REG_BITS), Signal(REG_BITS), Signal(REG_BITS)
        blm, bl_reg = Signal(8), Signal(8)
        bad = self.registers_bad()
        with m.If(go):
            m.d.sync += [um.eq(self.um_enable), dyn.eq(self.dyn_bl), err.eq(bad),
                         c_static.eq(self.um_c), c1.eq(self.um_c1), lr_dw.eq(self.um_lr_dw),
                         blm.eq(self.bl_max), bl_reg.eq(self.bl), self.busy.eq(1)]
        xm, dm = Signal(V), Signal(V)
        with m.If(at(t["sample"])):
            m.d.sync += [xm.eq(self.x_max), dm.eq(self.d_max)]
        m.d.comb += [dx.start.eq(at(t["sample"])), dx.num.eq((1 << nx.recip_point) - 1),
                     dx.den.eq(self.x_max),
                     dd.start.eq(at(t["sample"])), dd.num.eq((1 << nx.recip_point) - 1),
                     dd.den.eq(self.d_max)]
        rx, rd = Signal(plan.recip_bits), Signal(plan.recip_bits)
        with m.If(dx.done):
            m.d.sync += rx.eq(dx.quo + 1)
        with m.If(dd.done):
            m.d.sync += rd.eq(dd.quo + 1)

        # -- the shared multiplier: pieces of (a, b) issued in given cycles --
        issues = []                                      # (cycle, a value, b value)
        results = {}

        def product(name, t0, a, b):
            """Issue a·b (b cut into MUL_B-bit pieces, one per cycle) in cycle t0; returns
            the register holding it from cycle t0 + pieces − 1 + L + 1."""
            pieces = ceil_div(len(b), MUL_B)
            assert len(a) <= plan.mul_a and pieces == plan.pieces(name), (name, len(a), len(b))
            acc = Signal(len(a) + len(b), name=f"{name}_p")
            held = a
            if pieces > 1:                              # a holds while the pieces issue
                held = Signal(len(a), name=f"{name}_a")
                with m.If(at(t0)):
                    m.d.sync += held.eq(a)
            for k in range(pieces):
                issues.append((t0 + k, a if k == 0 else held, b[k * MUL_B:(k + 1) * MUL_B]))
                with m.If(at(t0 + k + L)):
                    if k == 0:
                        m.d.sync += acc.eq(mul.p)
                    else:
                        lo = k * MUL_B
                        m.d.sync += acc[lo:].eq(acc[lo:] + mul.p)
            results[name] = acc
            return acc

        # -- x_max·d_max and the square root of it · 2^(2S) --
        prod = product("prod", t["prod"], xm, dm)
        whole = mul.p[:2 * V] if plan.pieces("prod") == 1 else prod
        m.d.comb += [sq.start.eq(at(t["sqrt"])), sq.rad.eq(whole << (2 * S))]

        # -- dynamic BL: ceil(lr/dw·x_max·d_max / 2^(LRD+2F)), then C = C1/sqrt(BL) --
        lrd = product("lrd", t["lrd"], lr_dw, prod)
        den_bits = LRD_FRAC + 2 * nx.frac_bits
        lrd_up = Signal(len(lrd) + 1)
        with m.If(at(t["lrd_sum"])):
            m.d.sync += lrd_up.eq(lrd + ((1 << den_bits) - 1))
        kceil = lrd_up[den_bits:]
        bl_dyn = Signal(8)
        with m.If(at(t["bl"])):
            m.d.sync += bl_dyn.eq(Mux(kceil == 0, 1, Mux(kceil > blm, blm, kceil)))
        table = isq_table(nx.bl_max)
        isq_rom = Array(Const(v, ISQ_FRAC + 1) for v in table + (0,) * (256 - len(table)))
        isq = Signal(ISQ_FRAC + 1)
        with m.If(at(t["isq"])):
            m.d.sync += isq.eq(isq_rom[bl_dyn])
        cd = product("cd", t["cd"], isq, c1)
        cd_up = Signal(len(cd) + 1)
        with m.If(at(t["cd_sum"])):
            m.d.sync += cd_up.eq(cd + (1 << (ISQ_FRAC - 1)))
        c = Signal(plan.c_bits)
        with m.If(at(t["c"])):
            with m.If(dyn & ~err):
                m.d.sync += [c.eq(cd_up >> ISQ_FRAC), self.bl_out.eq(bl_dyn)]
            with m.Else():
                m.d.sync += [c.eq(c_static), self.bl_out.eq(bl_reg)]

        # -- C·root: leading digits on the multiplier, the rest one digit per cycle --
        hi, lo_bits = plan.hi_bits, plan.root_bits - plan.hi_bits
        crh = product("crh", t["crh"], sq.root[:hi], c) if hi else None
        acc_lo = Signal(plan.c_bits + lo_bits)
        with m.If(at(t["crh"])):
            m.d.sync += acc_lo.eq(0)
        if lo_bits:
            with m.If(sch.run & (sch.cyc >= t["mac_from"]) & (sch.cyc < t["root_done"])):
                m.d.sync += acc_lo.eq((acc_lo << 1) + Mux(sq.root[0], c, 0))
        cr = Signal(plan.c_bits + plan.root_bits)
        with m.If(at(t["cr"])):
            m.d.sync += cr.eq(((crh << lo_bits) if hi else 0) + acc_lo)
        pk = Signal(len(cr))
        m.d.comb += pk.eq(cr >> nx.peak_shift)
        clip, pkx, pkc = Signal(), Signal(P + T + 1), Signal(plan.pk_cap.bit_length())
        with m.If(at(t["clamp"])):
            one = 1 << (P + T)
            m.d.sync += [clip.eq(pk > one), pkx.eq(Mux(pk > one, one, pk)),
                         pkc.eq(Mux(pk > plan.pk_cap, plan.pk_cap, pk))]

        # -- gains: x side at the clipped peak, d side at pk (or pk² when clipped) --
        gx = product("gx", t["gx"], pkx, rx)
        pk2 = product("pk2", t["pk2"], pkc, pkc)
        pkd = Signal(plan.pkd_cap.bit_length())
        with m.If(at(t["pkd"])):
            sq_pk = pk2 >> (P + T)
            cap = plan.pkd_cap
            m.d.sync += pkd.eq(Mux(clip, Mux(sq_pk > cap, cap, sq_pk), Mux(pk > cap, cap, pk)))
        gd = product("gd", t["gd"], rd, pkd)

        # the multiplier's operands: an AND-OR of the pieces issued in each cycle
        a_in, b_in = Signal(plan.mul_a), Signal(MUL_B)
        for cyc, a, b in issues:
            hit = Signal(name=f"issue{cyc}")
            m.d.comb += hit.eq(at(cyc))
            a_in = a_in | Mux(hit, a, 0)
            b_in = b_in | Mux(hit, b, 0)
        m.d.comb += [mul.a.eq(a_in), mul.b.eq(b_in)]

        gmax = nx.gain_max

        def clamp(v):
            return Mux(v > gmax, gmax, v)
        gs = Signal(REG_BITS + 1 + nx.gain_point + nx.prob_bits)
        m.d.comb += gs.eq(c << (nx.gain_point + nx.prob_bits - C_FRAC - nx.frac_bits))
        m.d.sync += self.done.eq(0)
        with m.If(at(t["final"])):
            m.d.sync += [self.busy.eq(0), self.done.eq(1), self.bl_error.eq(err)]
            with m.If(err):
                m.d.sync += [self.gain_x.eq(0), self.gain_d.eq(0)]
            with m.Elif(~um):
                m.d.sync += [self.gain_x.eq(clamp(gs)), self.gain_d.eq(clamp(gs))]
            with m.Elif((xm == 0) | (dm == 0)):
                m.d.sync += [self.gain_x.eq(0), self.gain_d.eq(0)]
            with m.Else():
                m.d.sync += [self.gain_x.eq(clamp(gx)), self.gain_d.eq(clamp(gd))]
        return m


class FlagCounter(wiring.Component):
    """Counts the set ``flags`` of every ``valid`` beat (e.g. ``LaneScaler.clip`` while
    loading — the clipped lines —, or ``AdcInterface.res_clip`` on result transfers);
    saturates at 2^width − 1; ``clear`` zeroes it (a beat in the same cycle counts)."""

    def __init__(self, lanes: int, width: int = 32):
        check_lanes("lanes", lanes)
        IntRule(1, 64).check("width", width)
        self.lanes, self.width = lanes, width
        super().__init__({"clear": In(1), "valid": In(1), "flags": In(lanes),
                          "count": Out(width)})

    def elaborate(self, platform):
        m = Module()
        full = (1 << self.width) - 1
        base = Mux(self.clear, 0, self.count)
        total = Signal(self.width + 1)
        m.d.comb += total.eq(base + Mux(self.valid, tree_sum(self.flags[i] for i in range(self.lanes)), 0))
        m.d.sync += self.count.eq(Mux(total > full, full, total))
        return m
