"""ADC interface: integrator control, muxed conversions, saturation, scaled result stream.

Reference: :mod:`rpu.models.ref_adc` (grouping, scaling); cycle formulas
:func:`rpu.spec.timing.adc_read_cycles`, :func:`~rpu.spec.timing.adc_table_cycles`,
:func:`~rpu.spec.timing.adc_stream_cycles`; ports and timing in docs/architecture.md
(## ADC interface).
"""

from amaranth import C, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.spec.params import check_lines
from rpu.spec.formats import BM_K_BITS, numerics
from rpu.spec.timing import (ADC_DIGIT_BITS, ADC_SAT_GROUP, adc_digits, adc_table_entries, adc_stream_cycles, ceil_div,
                             adc_timeout_cycles, sat_count_cycles, stream_beats)

from .common import StateRegister, counter_range, magnitude, tree_sum
from .wide import group_ranges

__all__ = ["AdcInterface"]


def _saturated(code):
    """|code| ≥ 2^(bits−1) − 1 for a two's complement code, as bit patterns (no negation):
    the largest positive code, or the two most negative ones."""
    b = len(code)
    top, mid = code[b - 1], code[1:b - 1]
    return Mux(top, mid == 0, (mid == (1 << (b - 2)) - 1) & code[0]) if b > 2 else \
        Mux(top, 1, code[0])


def _entries(pieces, lo, hi, width):
    """Entries ``lo .. hi-1`` of the concatenation of ``pieces`` (values of whole
    ``width``-bit entries), zeros past its end."""
    parts, at = [], 0
    for p in pieces:
        n = len(p) // width
        a, b = max(lo, at), min(hi, at + n)
        if a < b:
            parts.append(p[(a - at) * width:(b - at) * width])
        at += n
    if hi > max(lo, at):
        parts.append(Const(0, (hi - max(lo, at)) * width))
    return Cat(*parts)


def _shifted(chunks, by, enter, width):
    """Assignments shifting the entries of ``chunks`` down by ``by``: entry *i* takes entry
    *i + by*, the top ones take the entries of ``enter``, then zeros."""
    out, at = [], 0
    for c in chunks:
        n = len(c) // width
        out.append(c.eq(_entries(chunks + enter, at + by, at + by + n, width)))
        at += n
    return out


class AdcInterface(wiring.Component):
    """Integrate for the read window, convert ``lines`` through shared ADCs, stream results.

    Parameters
    ----------
    cfg : TileConfig
        adc_bits, lines_per_adc, read window, result format.
    lines : int
        Lines read (``cfg.out_size`` forward, ``cfg.in_size`` backward); a multiple of
        ``cfg.converters.lines_per_adc``.
    lanes : int
        Results per stream beat (default ``cfg.host.stream_width``).
    reset_cycles, window_cycles, timeout_cycles : int
        Integrator reset length, integration window (default dac_max·slot_cycles),
        cycles to wait for ``adc_done`` before flagging ``timeout`` (default 4·adc_latency+16).

    Output scaling, built for a 150 MHz clock without multipliers: at every pass start the
    scale M = out_mul·2^(out_exp + k) (clamped where every non-zero code clips) is computed
    and the multiples 0..15·M written into a 16-entry table (fewer entries for an ADC
    of fewer than 5 bits, :func:`~rpu.spec.timing.adc_table_entries`; LUT RAM, one copy per
    lane and digit); a result is then the sum of its code's hexadecimal digits' table entries
    (a top digit of one bit adds M itself), rounded, limited and signed:
    ``y = ±sat(round(|c|·M / 2^Q))``, the reference's ``scale_results`` exactly.  The result
    stream is a stalling pipeline of :func:`~rpu.spec.timing.adc_stream_cycles` stages that
    starts filling in HOLD (a retry flushes it), so the first beat follows ``readout`` by
    that many cycles less the HOLD cycles; a one-beat skid register at its output takes a
    beat not taken, so the pipeline's enables are registered (no added latency).
    ``sat_lines`` is counted by a pipelined tree:
    ``sat_valid`` pulses when it holds the pass's count, :func:`~rpu.spec.timing.sat_count_cycles`
    after ``conv_done`` rises; ``any_sat`` is valid with ``conv_done``.
    """

    def __init__(self, cfg: TileConfig, lines: int, *, lanes: int | None = None,
                 reset_cycles: int = 1, window_cycles: int | None = None,
                 timeout_cycles: int | None = None):
        check_instance("cfg", cfg, TileConfig)
        check_lines("lines", lines)
        if lines % cfg.converters.lines_per_adc:
            raise ValueError(f"lines must be a multiple of lines_per_adc "
                             f"({cfg.converters.lines_per_adc}), not {lines}")
        self.cfg, self.lines = cfg, lines
        self.lanes = IntRule(1, 64).check("lanes", cfg.host.stream_width if lanes is None else lanes)
        self.reset_cycles = IntRule(1, 255).check("reset_cycles", reset_cycles)
        self.window_cycles = IntRule(1, 1 << 20).check(
            "window_cycles",
            cfg.dac_max * cfg.converters.slot_cycles if window_cycles is None else window_cycles)
        self.timeout_cycles = IntRule(1, 1 << 20).check(
            "timeout_cycles", adc_timeout_cycles(cfg) if timeout_cycles is None else timeout_cycles)
        self.lpa = cfg.converters.lines_per_adc
        self.num_adcs = lines // self.lpa
        nx = self.nx = numerics(cfg)
        self.beats = stream_beats(lines, self.lanes)
        super().__init__({
            "start": In(1), "readout": In(1),
            "integ_reset": Out(1), "integ_en": Out(1),
            "adc_start": Out(1), "adc_sel": Out(counter_range(self.lpa)), "adc_done": In(1),
            "adc_codes": In(self.num_adcs * nx.adc_bits),
            "conv_done": Out(1), "any_sat": Out(1), "sat_lines": Out(counter_range(lines + 1)),
            "sat_valid": Out(1),
            "timeout": Out(1), "busy": Out(1),
            "out_mul": In(nx.out_mul_bits), "out_exp": In(counter_range(nx.value_bits + 1)), "bm_k": In(BM_K_BITS),
            "res_valid": Out(1), "res_ready": In(1), "res_data": Out(self.lanes * nx.result_bits),
            "res_sat": Out(self.lanes), "res_clip": Out(self.lanes), "res_last": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        nx = self.nx
        ab = nx.adc_bits
        na = self.num_adcs
        lanes = self.lanes
        # result buffer: a shift register of lines codes, filled num_adcs codes at a time and
        # drained by beats of lanes (the drain's enable is a function of registers: the
        # result pipeline's skid register keeps the stream's ready off it), held in chunks
        # of GROUP codes (one lines·adc_bits-wide signal would make elaboration superlinear
        # and its Verilog lines too long)
        chunks = [Signal(len(r) * ab, name=f"codes{k}")
                  for k, r in enumerate(group_ranges(self.lines))]
        arriving = [Mux(self.adc_done, self.adc_codes[r.start * ab:r.stop * ab], 0)
                    for r in group_ranges(na)]             # a late group reads as code 0
        fill, drain = Signal(), Signal()
        with m.If(fill):
            m.d.sync += _shifted(chunks, na, arriving, ab)
        with m.Elif(drain):
            m.d.sync += _shifted(chunks, self.lanes, [], ab)
        longest = max(self.window_cycles, self.reset_cycles, self.timeout_cycles)
        cnt = Signal(counter_range(longest + 1))
        table_ready = Signal()
        grp = Signal(counter_range(self.lpa))
        m.d.comb += self.adc_sel.eq(grp)

        # -- saturation: per arriving code, OR-ed by groups at once, counted by a tree --
        # (held in chunks of GROUP flags, so no Verilog line grows with the ADC count)
        chunks_sat = []
        for k, r in enumerate(group_ranges(na)):
            c = Signal(len(r), name=f"sats{k}")
            m.d.comb += c.eq(Cat(*(_saturated(self.adc_codes[a * ab:(a + 1) * ab]) for a in r)))
            chunks_sat.append(c)
        # any_sat: sticky flags of ADC_SAT_GROUP codes each, one signal per chunk
        part_sat = [Signal(ceil_div(len(c), ADC_SAT_GROUP), name=f"part_sat{k}")
                    for k, c in enumerate(chunks_sat)]
        m.d.comb += self.any_sat.eq(Cat(*(p.any() for p in part_sat)).any())
        got = Signal()                                    # a code arrived now (counted)

        fsm = StateRegister(m, "adc", ["IDLE", "RESET", "INTEG", "CONV", "WAIT", "HOLD", "STREAM"])
        flush = Signal()

        def begin():
            m.d.sync += [cnt.eq(self.reset_cycles - 1), self.timeout.eq(0)]
            m.d.sync += [p.eq(0) for p in part_sat]
            m.d.comb += flush.eq(1)
            fsm.goto("RESET")

        with m.If(fsm.ongoing("IDLE")):
            with m.If(self.start):
                begin()
        with m.Elif(fsm.ongoing("RESET")):
            m.d.comb += [self.integ_reset.eq(1), self.busy.eq(1)]
            m.d.sync += cnt.eq(cnt - 1)
            with m.If(cnt == 0):
                m.d.sync += cnt.eq(self.window_cycles - 1)
                fsm.goto("INTEG")
        with m.Elif(fsm.ongoing("INTEG")):
            m.d.comb += [self.integ_en.eq(1), self.busy.eq(1)]
            m.d.sync += cnt.eq(cnt - 1)
            with m.If(cnt == 0):
                m.d.sync += grp.eq(0)
                fsm.goto("CONV")
        with m.Elif(fsm.ongoing("CONV")):
            m.d.comb += [self.adc_start.eq(1), self.busy.eq(1)]
            m.d.sync += cnt.eq(0)
            fsm.goto("WAIT")
        with m.Elif(fsm.ongoing("WAIT")):
            m.d.comb += self.busy.eq(1)
            m.d.sync += cnt.eq(cnt + 1)
            late = (cnt == self.timeout_cycles - 1) & ~self.adc_done
            with m.If(self.adc_done | late):
                m.d.comb += fill.eq(1)
                with m.If(self.adc_done):
                    m.d.comb += got.eq(1)
                    m.d.sync += [p.eq(p | Cat(*(c[lo:lo + ADC_SAT_GROUP].any()
                                                for lo in range(0, len(c), ADC_SAT_GROUP))))
                                 for p, c in zip(part_sat, chunks_sat)]
                with m.Else():
                    m.d.sync += self.timeout.eq(1)
                with m.If(grp == self.lpa - 1):
                    fsm.goto("HOLD")
                with m.Else():
                    m.d.sync += grp.eq(grp + 1)
                    fsm.goto("CONV")
        with m.Elif(fsm.ongoing("HOLD")):
            # the result table must be ready: HOLD (conv_done) waits for it
            m.d.comb += [self.conv_done.eq(table_ready), self.busy.eq(1)]
            with m.If(table_ready):
                with m.If(self.start):
                    begin()
                with m.Elif(self.readout):
                    fsm.goto("STREAM")
        with m.Else():                        # STREAM
            m.d.comb += self.busy.eq(1)

        # -- the pass's saturated lines: a registered adder tree over the arriving flags --
        count_cycles = sat_count_cycles(self.cfg, self.lines)
        # (the flags are registered as they arrive and masked by the registered `got` in
        # the tree's first level: the state register reaches one flip-flop, not the flags)
        got_last = Signal()
        m.d.sync += got_last.eq(got)
        level = []
        for k, c in enumerate(chunks_sat):
            flags = Signal(len(c), name=f"sat_flags{k}")
            m.d.sync += flags.eq(c)
            level += [flags[i] & got_last for i in range(len(c))]
        depth = 0
        while len(level) > 1:
            nxt = []
            for n in range(0, len(level), 4):
                s = Signal(counter_range(na + 1), name=f"satsum{depth}_{n}")
                m.d.sync += s.eq(tree_sum(level[n:n + 4]))
                nxt.append(s)
            level, depth = nxt, depth + 1
        with m.If(flush):
            m.d.sync += self.sat_lines.eq(0)
        with m.Else():
            m.d.sync += self.sat_lines.eq(self.sat_lines + level[0])
        # sat_valid: count_cycles after the cycle HOLD's conv_done first rises
        rise = Signal()
        was = Signal()
        m.d.sync += was.eq(self.conv_done)
        m.d.comb += rise.eq(self.conv_done & ~was)
        pulse = rise
        for k in range(count_cycles):
            p = Signal(name=f"sat_valid_{k + 1}")
            m.d.sync += p.eq(pulse & ~flush)
            pulse = p
        m.d.comb += self.sat_valid.eq(pulse)

        self._scaling(m, chunks, fsm, flush, drain, table_ready)
        return m

    def _scaling(self, m, chunks, fsm, flush, drain, table_ready):
        """The result table and the stalling result pipeline (see the class docstring)."""
        nx, lanes = self.nx, self.lanes
        ab, Q, RB = nx.adc_bits, nx.out_scale_frac, nx.result_bits
        mw = Q + RB                                # M clamped at 2^(Q+RB-1): every |c| ≥ 1 clips
        cap = 1 << (Q + RB - 1)
        digits = adc_digits(self.cfg)              # (shift, bits) of each magnitude digit
        tw = mw + ADC_DIGIT_BITS                   # a table entry j·M, j < 16
        # -- the scale of this pass and its multiples --
        e = Signal(counter_range(nx.emax + 1))
        m.d.comb += e.eq(self.out_exp + self.bm_k)
        wide = Signal(nx.out_mul_bits + nx.emax)
        coarse = Signal(len(wide))
        m.d.sync += coarse.eq(self.out_mul << Cat(C(0, 3), e[3:]))
        fine = Signal(len(wide))
        e_lo = Signal(3)
        m.d.sync += [e_lo.eq(e[:3]), fine.eq(coarse << e_lo)]
        scale = Signal(mw)
        m.d.sync += scale.eq(Mux(fine >= cap, cap, fine))
        entries = adc_table_entries(self.cfg)
        table = Memory(shape=tw, depth=entries, init=[])
        m.submodules.table = table
        wr = table.write_port()
        acc = Signal(tw)
        step = Signal(counter_range(entries))
        filling = Signal()
        # age counts from the start; the scale is final three cycles later (e, coarse, fine,
        # clamp), then the entries 0, M, 2M, … go in one per cycle
        age = Signal(counter_range(4))
        with m.If(flush):
            m.d.sync += [age.eq(0), filling.eq(0), step.eq(0)]
        with m.Elif(age != 3):
            m.d.sync += age.eq(age + 1)
            with m.If(age == 2):
                m.d.sync += [filling.eq(1), acc.eq(0), step.eq(0)]
        with m.If(filling):
            m.d.comb += [wr.en.eq(1), wr.addr.eq(step), wr.data.eq(acc)]
            m.d.sync += [acc.eq(acc + scale), step.eq(step + 1)]
            with m.If(step == entries - 1):
                m.d.sync += filling.eq(0)
        m.d.comb += table_ready.eq((age == 3) & ~filling)

        # -- the result pipeline: feed (digits, table reads), adder tree, round/limit/sign --
        fed = Signal(counter_range(self.beats + 1))
        head = _entries(chunks, 0, lanes, ab)
        head = [head[i * ab:(i + 1) * ab] for i in range(lanes)]
        out_valid = Signal()
        streaming = fsm.ongoing("STREAM")
        # the pipeline advances unless the skid register holds a beat (a registered
        # condition: the stream's ready reaches only the skid and the beat count, not the
        # enables of the pipeline's registers); a beat not taken goes into the skid
        held = Signal()
        advance = Signal()
        m.d.comb += advance.eq(~held)
        can_feed = (fsm.ongoing("HOLD") & self.conv_done) | streaming
        feed = Signal()
        m.d.comb += [feed.eq(can_feed & (fed != self.beats) & advance), drain.eq(feed)]
        with m.If(flush):
            m.d.sync += fed.eq(0)
        with m.Elif(feed):
            m.d.sync += fed.eq(fed + 1)
        stages = adc_stream_cycles(self.cfg)
        valid = [feed]
        lane_terms = []
        for i in range(lanes):
            c = head[i].as_signed()
            mag = Signal(ab, name=f"mag{i}")
            m.d.comb += mag.eq(magnitude(c))
            terms = []
            for d, (shift, bits) in enumerate(digits):
                v = Signal(tw, name=f"t{i}_{d}", reset_less=True)
                dig = mag[shift:shift + bits]
                if bits == 1:
                    val = Mux(dig, scale, 0)
                else:
                    rp = table.read_port(domain="comb")
                    m.d.comb += rp.addr.eq(dig)
                    val = rp.data
                with m.If(advance):
                    m.d.sync += v.eq(val)
                terms.append((shift, v))
            side = []
            for name, val in (("neg", c < 0), ("sat", _saturated(head[i]))):
                r = Signal(name=f"{name}{i}_0", reset_less=True)
                with m.If(advance):
                    m.d.sync += r.eq(val)
                side.append(r)
            lane_terms.append((terms, side))
        # adder tree: one registered level per halving of the terms
        for level in range(stages - 2):
            nxt_lanes = []
            for i, (terms, side) in enumerate(lane_terms):
                terms = sorted(terms, key=lambda t: t[0])
                nxt = []
                for n in range(0, len(terms), 2):
                    pair = terms[n:n + 2]
                    s0, v0 = pair[0]
                    r = Signal(tw + ab, name=f"sum{i}_{level}_{n}", reset_less=True)
                    val = v0 if len(pair) == 1 else v0 + (pair[1][1] << (pair[1][0] - s0))
                    with m.If(advance):
                        m.d.sync += r.eq(val)
                    nxt.append((s0, r))
                new_side = []
                for k, sv in enumerate(side):
                    r = Signal(name=f"side{i}_{k}_{level + 1}", reset_less=True)
                    with m.If(advance):
                        m.d.sync += r.eq(sv)
                    new_side.append(r)
                nxt_lanes.append((nxt, new_side))
            lane_terms = nxt_lanes
        # valid bits of the stages
        v = feed
        for k in range(stages):
            r = Signal(name=f"valid{k + 1}")
            with m.If(flush):
                m.d.sync += r.eq(0)
            with m.Elif(advance):
                m.d.sync += r.eq(v)
            v = r
        m.d.comb += out_valid.eq(v)
        rmax = nx.result_max
        outs = []                                  # each lane's registered output
        for i, (terms, (neg, sat)) in enumerate(lane_terms):
            (s0, t), = terms
            t = t << s0
            q = t[Q:]
            half = t[Q - 1] if Q >= 1 else C(0, 1)
            over = Signal(name=f"over{i}")
            m.d.comb += over.eq(t[Q - 1:] >= (1 << RB) - 1)          # round(t/2^Q) > 2^(RB-1) - 1
            up, down = Signal(RB, name=f"up{i}"), Signal(RB, name=f"down{i}")
            m.d.comb += [up.eq(q[:RB] + half), down.eq(~q[:RB] + ~half)]
            y, clip, sat_o = (Signal(RB, name=f"y{i}", reset_less=True),
                              Signal(name=f"clip{i}", reset_less=True),
                              Signal(name=f"sat{i}", reset_less=True))
            with m.If(advance):
                m.d.sync += [y.eq(Mux(over, Mux(neg, -rmax, rmax), Mux(neg, down, up))),
                             clip.eq(over), sat_o.eq(sat)]
            outs.append(Cat(y, clip, sat_o))
        # the skid register: the output beat when it holds one, else the pipeline's
        lane_bits = RB + 2
        skid = Signal(lanes * lane_bits, reset_less=True)
        beat = Signal(len(skid))
        m.d.comb += beat.eq(Mux(held, skid, Cat(*outs)))
        for i in range(lanes):
            lane = beat[i * lane_bits:(i + 1) * lane_bits]
            m.d.comb += [self.res_data[i * RB:(i + 1) * RB].eq(lane[:RB]),
                         self.res_clip[i].eq(lane[RB]), self.res_sat[i].eq(lane[RB + 1])]
        taken = Signal()
        m.d.comb += [self.res_valid.eq(streaming & (held | out_valid)),
                     taken.eq(self.res_valid & self.res_ready)]
        with m.If(flush):
            m.d.sync += held.eq(0)
        with m.Elif(held):
            with m.If(taken):
                m.d.sync += held.eq(0)
        with m.Elif(out_valid & ~taken):
            m.d.sync += [held.eq(1), skid.eq(beat)]
        # beats delivered; the last one ends the stream
        sent = Signal(counter_range(self.beats))
        m.d.comb += self.res_last.eq(sent == self.beats - 1)
        with m.If(fsm.ongoing("IDLE") | flush):
            m.d.sync += sent.eq(0)
        with m.If(self.res_valid & self.res_ready):
            m.d.sync += sent.eq(sent + 1)
            with m.If(sent == self.beats - 1):
                fsm.goto("IDLE")
