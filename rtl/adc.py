"""ADC interface: integrator control, muxed conversions, saturation, scaled result stream.

Reference: :mod:`rpu.models.ref_adc` (grouping, scaling); cycle formula
:func:`rpu.spec.timing.adc_read_cycles`; ports and timing
in docs/architecture.md (## ADC interface).
"""

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.spec.params import check_lines
from rpu.spec.formats import BM_K_BITS, numerics
from rpu.spec.timing import adc_timeout_cycles, stream_beats

from .common import StateRegister, counter_range, magnitude, round_shift_var, tree_sum
from .wide import group_ranges

__all__ = ["AdcInterface"]


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
        # result buffer: a shift register of lines codes, filled num_adcs codes at a time and
        # drained by beats of lanes, held in chunks of GROUP codes (one lines·adc_bits-wide
        # signal would make elaboration superlinear and its Verilog lines too long)
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
        grp = Signal(counter_range(self.lpa))
        beat = Signal(counter_range(self.beats))
        m.d.comb += self.adc_sel.eq(grp)

        # saturation of the codes arriving now: |c| >= adc_max iff c + adc_max - 1, modulo
        # 2**adc_bits, is above 2**adc_bits - 4 (two cells per ADC)
        sats = [(self.adc_codes[a * ab:(a + 1) * ab] + (nx.adc_max - 1))[:ab] > (1 << ab) - 4
                for a in range(na)]
        nsat = Signal(counter_range(na + 1))
        m.d.comb += nsat.eq(tree_sum(sats))

        fsm = StateRegister(m, "adc", ["IDLE", "RESET", "INTEG", "CONV", "WAIT", "HOLD", "STREAM"])

        def begin():
            m.d.sync += [cnt.eq(self.reset_cycles - 1), self.timeout.eq(0), self.any_sat.eq(0),
                         self.sat_lines.eq(0)]
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
                    m.d.sync += [self.sat_lines.eq(self.sat_lines + nsat),
                                 self.any_sat.eq(self.any_sat | (nsat != 0))]
                with m.Else():
                    m.d.sync += self.timeout.eq(1)
                with m.If(grp == self.lpa - 1):
                    fsm.goto("HOLD")
                with m.Else():
                    m.d.sync += grp.eq(grp + 1)
                    fsm.goto("CONV")
        with m.Elif(fsm.ongoing("HOLD")):
            m.d.comb += [self.conv_done.eq(1), self.busy.eq(1)]
            with m.If(self.start):
                begin()
            with m.Elif(self.readout):
                m.d.sync += beat.eq(0)
                fsm.goto("STREAM")
        with m.Else():                        # STREAM
            m.d.comb += [self.res_valid.eq(1), self.busy.eq(1),
                         self.res_last.eq(beat == self.beats - 1)]
            with m.If(self.res_ready):
                m.d.comb += drain.eq(1)
                m.d.sync += beat.eq(beat + 1)
                with m.If(beat == self.beats - 1):
                    fsm.goto("IDLE")

        # output scaling of the head of the buffer: ±sat(round(|c|·M·2^(E) / 2^Q))
        e = Signal(counter_range(nx.emax + 1))
        m.d.comb += e.eq(self.out_exp + self.bm_k)
        s = Signal(counter_range(nx.out_scale_frac + nx.emax + 1))
        m.d.comb += s.eq(nx.out_scale_frac + nx.emax - e)
        head = _entries(chunks, 0, self.lanes, ab)
        head = [head[i * ab:(i + 1) * ab] for i in range(self.lanes)]
        rb = nx.result_bits
        for i in range(self.lanes):
            c = head[i].as_signed()
            t = Signal(ab + nx.out_mul_bits, name=f"t{i}")
            y = Signal(len(t) + nx.emax + 1, name=f"y{i}")
            m.d.comb += [t.eq(magnitude(c) * self.out_mul),
                         y.eq(round_shift_var(t << nx.emax, s))]
            over = y > nx.result_max
            lim = Mux(over, nx.result_max, y[:rb])
            m.d.comb += [
                self.res_data[i * rb:(i + 1) * rb].eq(Mux(c < 0, -lim, lim)),
                self.res_sat[i].eq(magnitude(c) >= nx.adc_max),
                self.res_clip[i].eq(over),
            ]
        return m
