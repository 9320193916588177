"""Noise, bound and update management (docs/spec.md §3); formats in docs/numerics.md.

Bit-exact twin: :mod:`rpu.models.ref_management` (every formula below is written there
with Python ints; both take their widths from :func:`rpu.spec.formats.numerics`).
"""

from amaranth import Array, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.spec.params import check_lanes
from rpu.spec.formats import (BM_CAP_MAX, BM_K_BITS, C_FRAC, ISQ_FRAC, LRD_FRAC, REG_BITS,
                              isq_table, numerics)
from rpu.spec.timing import div_cycles, sqrt_cycles

from .arith import SeqDivider, SeqSqrt
from .common import counter_range, lane as _lane, magnitude, round_shift_var, tree_sum

__all__ = ["AbsMax", "NoiseManager", "InputScaler", "BoundManager", "UpdateManager",
           "ProbScaler", "FlagCounter"]


class AbsMax(wiring.Component):
    """Running max|x| over streamed lanes of signed ``width``-bit values.

    ``clear`` empties it (a ``valid`` beat in the same cycle is the first one counted);
    ``max`` includes a beat from the cycle after its ``valid``.
    """

    def __init__(self, lanes: int, width: int):
        check_lanes("lanes", lanes)
        IntRule(2, 64).check("width", width)
        self.lanes, self.width = lanes, width
        super().__init__({"clear": In(1), "valid": In(1), "data": In(lanes * width),
                          "max": Out(width)})

    def elaborate(self, platform):
        m = Module()
        best = Const(0, self.width)
        for i in range(self.lanes):
            a = Signal(self.width, name=f"abs{i}")
            m.d.comb += a.eq(magnitude(_lane(self.data, i, self.width)))
            best = Mux(a > best, a, best)
        base = Mux(self.clear, 0, self.max)
        with m.If(self.valid):
            m.d.sync += self.max.eq(Mux(best > base, best, base))
        with m.Elif(self.clear):
            m.d.sync += self.max.eq(0)
        return m


class NoiseManager(wiring.Component):
    """Read scale parameters from α = max|x| and the mode (0 off, 1 abs_max, 2 pow2).

    Constant latency ``ref_management.nm_cycles(cfg)`` (the divider always runs);
    mode 3 raises ``mode_error`` (held with the outputs) and acts as off.
    """

    def __init__(self, cfg: TileConfig):
        check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        nx = self.nx = numerics(cfg)
        super().__init__({
            "start": In(1), "alpha": In(nx.value_bits), "mode": In(2), "out_scale": In(REG_BITS),
            "in_mul": Out(nx.in_mul_bits), "in_shift": Out(counter_range(nx.in_shift_max + 1)),
            "out_mul": Out(nx.out_mul_bits), "out_exp": Out(counter_range(nx.value_bits + 1)),
            "mode_error": Out(1), "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        m.submodules.div = div = SeqDivider(nx.recip_point, nx.value_bits)
        alpha = Signal(nx.value_bits)
        mode = Signal(2)
        scale = Signal(REG_BITS)
        m.d.comb += [div.start.eq(self.start & ~self.busy), div.num.eq((1 << nx.recip_point) - 1),
                     div.den.eq(self.alpha)]
        m.d.sync += self.done.eq(0)
        with m.If(self.start & ~self.busy):
            m.d.sync += [alpha.eq(self.alpha), mode.eq(self.mode), scale.eq(self.out_scale),
                         self.busy.eq(1)]
        # e = bit length of alpha - 1 (2^e >= alpha)
        am1 = Signal(nx.value_bits)
        e = Signal(counter_range(nx.value_bits + 1))
        m.d.comb += am1.eq(alpha - 1)
        for i in range(nx.value_bits):
            with m.If(am1[i]):
                m.d.comb += e.eq(i + 1)
        with m.If(self.busy & div.done):
            m.d.sync += [self.busy.eq(0), self.done.eq(1), self.mode_error.eq(mode == 3)]
            with m.If((mode == 0) | (mode == 3)):
                m.d.sync += [self.in_mul.eq(1), self.in_shift.eq(nx.frac_bits),
                             self.out_mul.eq(scale), self.out_exp.eq(nx.frac_bits)]
            with m.Elif(alpha == 0):
                m.d.sync += [self.in_mul.eq(0), self.in_shift.eq(0),
                             self.out_mul.eq(0), self.out_exp.eq(0)]
            with m.Elif(mode == 1):
                m.d.sync += [self.in_mul.eq(div.quo + 1), self.in_shift.eq(nx.recip_point),
                             self.out_mul.eq(scale * alpha), self.out_exp.eq(0)]
            with m.Else():
                m.d.sync += [self.in_mul.eq(1), self.in_shift.eq(e),
                             self.out_mul.eq(scale), self.out_exp.eq(e)]
        return m


class InputScaler(wiring.Component):
    """Lanes of host values → signed DAC codes ±min(D, round(|x|·D·in_mul / 2^(in_shift+k))).

    Combinational (codes follow the inputs in the same cycle).
    """

    def __init__(self, cfg: TileConfig, lanes: int):
        check_instance("cfg", cfg, TileConfig)
        check_lanes("lanes", lanes)
        self.cfg, self.lanes = cfg, lanes
        nx = self.nx = numerics(cfg)
        super().__init__({
            "values": In(lanes * nx.value_bits), "in_mul": In(nx.in_mul_bits),
            "in_shift": In(counter_range(nx.in_shift_max + 1)), "bm_k": In(BM_K_BITS),
            "codes": Out(lanes * nx.dac_bits),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        s = Signal(counter_range(nx.in_shift_max + (1 << BM_K_BITS)))
        m.d.comb += s.eq(self.in_shift + self.bm_k)
        for i in range(self.lanes):
            x = _lane(self.values, i, nx.value_bits)
            n = Signal(nx.value_bits + nx.dac_bits + nx.in_mul_bits, name=f"n{i}")
            mag = Signal(len(n) + 1, name=f"mag{i}")
            code = Signal(nx.dac_bits, name=f"code{i}")
            m.d.comb += [
                n.eq(magnitude(x) * nx.dac_max * self.in_mul),
                mag.eq(round_shift_var(n, s)),
            ]
            lim = Mux(mag > nx.dac_max, nx.dac_max, mag[:nx.dac_bits])
            m.d.comb += code.eq(Mux(x < 0, -lim, lim))
            m.d.comb += self.codes[i * nx.dac_bits:(i + 1) * nx.dac_bits].eq(code)
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


class UpdateManager(wiring.Component):
    """Per-side probability gains and BL of an update (UM, dynamic BL, clipping).

    Constant latency ``ref_management.um_cycles(cfg)`` from ``start`` to ``done``; the
    outputs hold until the next ``start``. Bad ``bl``/``bl_max`` registers set
    ``bl_error`` and give zero gains (nothing fires).
    """

    def __init__(self, cfg: TileConfig):
        check_instance("cfg", cfg, TileConfig)
        self.cfg = cfg
        nx = self.nx = numerics(cfg)
        super().__init__({
            "start": In(1), "x_max": In(nx.value_bits), "d_max": In(nx.value_bits),
            "um_enable": In(1), "dyn_bl": In(1), "bl": In(8), "bl_max": In(8),
            "um_c": In(REG_BITS), "um_c1": In(REG_BITS), "um_lr_dw": In(REG_BITS),
            "gain_x": Out(nx.gain_bits), "gain_d": Out(nx.gain_bits), "bl_out": Out(8),
            "bl_error": Out(1), "busy": Out(1), "done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        go = self.start & ~self.busy
        m.submodules.sqrt = sq = SeqSqrt(nx.sqrt_rad_bits)
        m.submodules.div_x = dx = SeqDivider(nx.recip_point, nx.value_bits)
        m.submodules.div_d = dd = SeqDivider(nx.recip_point, nx.value_bits)
        prod = Signal(2 * nx.value_bits)
        m.d.comb += [
            prod.eq(self.x_max * self.d_max),
            sq.start.eq(go), sq.rad.eq(prod << (2 * nx.um_sqrt_frac)),
            dx.start.eq(go), dx.num.eq((1 << nx.recip_point) - 1), dx.den.eq(self.x_max),
            dd.start.eq(go), dd.num.eq((1 << nx.recip_point) - 1), dd.den.eq(self.d_max),
        ]
        # latched operands
        xm, dm = Signal(nx.value_bits), Signal(nx.value_bits)
        um, dyn, err = Signal(), Signal(), Signal()
        c_static, c1 = Signal(REG_BITS), Signal(REG_BITS)
        bl_dyn = Signal(8)
        blm = Signal(8)
        den_bits = LRD_FRAC + 2 * nx.frac_bits
        knum = Signal(REG_BITS + 2 * nx.value_bits + 1)
        kceil = Signal(len(knum))
        m.d.comb += [knum.eq(self.um_lr_dw * prod + ((1 << den_bits) - 1)),
                     kceil.eq(knum >> den_bits)]
        bad = ((self.bl_max == 0) | (self.bl_max > nx.bl_max)
               | (~self.dyn_bl & ((self.bl == 0) | (self.bl > self.bl_max))))
        latency = max(div_cycles(nx.recip_point), sqrt_cycles(nx.sqrt_rad_bits))
        cnt = Signal(counter_range(latency + 3))
        c = Signal(REG_BITS + 1)
        pk = Signal(REG_BITS + 1 + sq.root_bits)
        # 1/sqrt(BL) table, padded to all 256 indices (a full case for Verilator's lint)
        table = isq_table(nx.bl_max)
        isq = Array(Const(v, ISQ_FRAC + 1) for v in table + (0,) * (256 - len(table)))
        m.d.sync += self.done.eq(0)
        with m.If(go):
            m.d.sync += [
                xm.eq(self.x_max), dm.eq(self.d_max), um.eq(self.um_enable),
                dyn.eq(self.dyn_bl), err.eq(bad), c_static.eq(self.um_c), c1.eq(self.um_c1),
                blm.eq(self.bl_max), self.busy.eq(1), cnt.eq(1),
                bl_dyn.eq(Mux(kceil == 0, 1, Mux(kceil > self.bl_max, self.bl_max, kceil))),
                self.bl_out.eq(self.bl),
            ]
        with m.Elif(self.busy):
            m.d.sync += cnt.eq(cnt + 1)
            with m.If(cnt == 1):                  # C for the BL in use
                with m.If(dyn & ~err):
                    m.d.sync += [self.bl_out.eq(bl_dyn),
                                 c.eq((c1 * isq[bl_dyn] + (1 << (ISQ_FRAC - 1))) >> ISQ_FRAC)]
                with m.Else():
                    m.d.sync += c.eq(c_static)
            with m.If(cnt == latency):            # sqrt and dividers are done
                m.d.sync += pk.eq((c * sq.root) >> nx.peak_shift)
            with m.If(cnt == latency + 1):
                one = 1 << (nx.prob_bits + nx.um_peak_frac)
                pkd = Signal(2 * len(pk))
                gx = Signal(len(pk) + nx.recip_point + 1)
                gd = Signal(len(pkd) + nx.recip_point + 1)
                gs = Signal(REG_BITS + 1 + nx.gain_point + nx.prob_bits)
                m.d.comb += [
                    pkd.eq(Mux(pk > one, (pk * pk) >> (nx.prob_bits + nx.um_peak_frac), pk)),
                    gx.eq(Mux(pk > one, one, pk) * (dx.quo + 1)),
                    gd.eq(pkd * (dd.quo + 1)),
                    gs.eq(c << (nx.gain_point + nx.prob_bits - C_FRAC - nx.frac_bits)),
                ]
                gmax = nx.gain_max

                def clamp(v):
                    return Mux(v > gmax, gmax, v)
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


class ProbScaler(wiring.Component):
    """Lanes of host values × gain → signed probability codes ±min(2^P, round(|v|·gain/2^SH)).

    Combinational; ``clip`` marks lanes whose probability exceeded 1 (gradient clipping).
    """

    def __init__(self, cfg: TileConfig, lanes: int):
        check_instance("cfg", cfg, TileConfig)
        check_lanes("lanes", lanes)
        self.cfg, self.lanes = cfg, lanes
        nx = self.nx = numerics(cfg)
        self.code_bits = nx.prob_bits + 2
        super().__init__({
            "values": In(lanes * nx.value_bits), "gain": In(nx.gain_bits),
            "codes": Out(lanes * self.code_bits), "clip": Out(lanes),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        w = self.code_bits
        for i in range(self.lanes):
            v = _lane(self.values, i, nx.value_bits)
            n = Signal(nx.value_bits + nx.gain_bits + 1, name=f"n{i}")
            mag = Signal(len(n), name=f"mag{i}")
            m.d.comb += [n.eq(magnitude(v) * self.gain + (1 << (nx.gain_point - 1))),
                         mag.eq(n >> nx.gain_point)]
            over = mag > nx.prob_one
            lim = Mux(over, nx.prob_one, mag[:w])
            m.d.comb += [self.codes[i * w:(i + 1) * w].eq(Mux(v < 0, -lim, lim)),
                         self.clip[i].eq(over)]
        return m


class FlagCounter(wiring.Component):
    """Counts the set ``flags`` of every ``valid`` beat (e.g. ``ProbScaler.clip`` while
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
