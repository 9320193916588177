"""Tile top: AXI4-Lite registers + AXI4-Stream vectors around the tile controller, and the
crossbar-side port set an analog front-end (or an FPGA emulation of one) connects to."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out, flipped

from rpu.config import TileConfig
from .axi import AXI4LiteSignature, AXI4StreamSignature, AXILiteRegisters
from .controller import AnalogReadSignature, Op, TileController
from .counters import LineCounters
from .regmap import ERRORS, register_map

__all__ = ["Tile", "tile_signature"]


def tile_signature(cfg: TileConfig) -> wiring.Signature:
    """The top's ports (a testbench harness instantiating ``rpu_tile`` reads them here)."""
    return wiring.Signature({
        "s_axil": In(AXI4LiteSignature(register_map(cfg).addr_width)),
        "s_axis": In(AXI4StreamSignature(cfg.stream_width * cfg.value_bits)),
        "m_axis": Out(AXI4StreamSignature(cfg.stream_width * cfg.result_bits)),
        "x_pos": Out(cfg.in_size), "x_neg": Out(cfg.in_size),
        "d_pos": Out(cfg.out_size), "d_neg": Out(cfg.out_size),
        "upd_slot": Out(1),
        "adc_d": Out(AnalogReadSignature(cfg.num_adcs_d, cfg.adc_bits, cfg.lines_per_adc)),
        "adc_x": Out(AnalogReadSignature(cfg.num_adcs_x, cfg.adc_bits, cfg.lines_per_adc)),
    })


class Tile(wiring.Component):
    """The generated tile top (module ``rpu_tile`` in ``rpu generate``).

    Host side: ``s_axil`` (AXI4-Lite slave, map in :func:`rpu.rtl.regmap.register_map`),
    ``s_axis`` (vectors in: ``stream_width`` values of ``value_bits`` per beat, lane 0 =
    lowest line), ``m_axis`` (results: ``stream_width`` values of ``result_bits``).
    Crossbar side: ``x_pos``/``x_neg``/``d_pos``/``d_neg`` line drives, ``upd_slot`` (first
    cycle of each update slot), and per read direction ``adc_d`` (forward: integrators and
    ADCs on the d-lines) and ``adc_x`` (backward): ``integ_reset``, ``integ_en``, ``start``,
    ``sel`` out; ``done``, ``codes`` in.
    """

    def __init__(self, cfg: TileConfig):
        if not isinstance(cfg, TileConfig):
            raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
        self.cfg = cfg
        self.regmap = register_map(cfg)
        super().__init__(tile_signature(cfg))

    def elaborate(self, platform):
        cfg, rm = self.cfg, self.regmap
        m = Module()
        m.submodules.regs = regs = AXILiteRegisters(rm)
        m.submodules.ctrl = ctrl = TileController(cfg)
        wiring.connect(m, flipped(self.s_axil), regs.bus)
        wiring.connect(m, flipped(self.s_axis), ctrl.s_axis)
        wiring.connect(m, ctrl.m_axis, flipped(self.m_axis))
        wiring.connect(m, ctrl.adc_d, flipped(self.adc_d))
        wiring.connect(m, ctrl.adc_x, flipped(self.adc_x))
        m.d.comb += [self.x_pos.eq(ctrl.x_pos), self.x_neg.eq(ctrl.x_neg),
                     self.d_pos.eq(ctrl.d_pos), self.d_neg.eq(ctrl.d_neg),
                     self.upd_slot.eq(ctrl.upd_slot)]

        def field(reg, name):
            f = rm[reg].field(name)
            return getattr(regs, reg.lower())[f.lsb:f.lsb + f.width]

        # ---- command, configuration ----
        cmd = regs.ctrl
        f_ctrl = {f.name: f for f in rm["CTRL"].fields}
        bit = lambda n: cmd[f_ctrl[n].lsb]          # noqa: E731
        clear = Signal()
        m.d.comb += [
            ctrl.cmd_start.eq(regs.ctrl_stb & bit("start")),
            ctrl.cmd_op.eq(cmd[f_ctrl["op"].lsb:f_ctrl["op"].lsb + 2]),
            ctrl.cmd_count.eq(cmd[f_ctrl["count"].lsb:f_ctrl["count"].lsb + 16]),
            ctrl.seed_load.eq(regs.ctrl_stb & bit("load_seeds")),
            clear.eq(regs.ctrl_stb & bit("clear_counters")),
            ctrl.clear_counters.eq(clear),
            ctrl.x_seed.eq(regs.seed_x), ctrl.d_seed.eq(regs.seed_d),
            ctrl.bl.eq(field("CONFIG", "bl")), ctrl.bl_max.eq(field("CONFIG", "bl_max")),
            ctrl.nm_mode.eq(field("CONFIG", "nm_mode")),
            ctrl.bm_enable.eq(field("CONFIG", "bm_enable")),
            ctrl.bm_cap.eq(field("CONFIG", "bm_max_passes")),
            ctrl.um_enable.eq(field("CONFIG", "um_enable")),
            ctrl.dyn_bl.eq(field("CONFIG", "dynamic_bl")),
            ctrl.out_scale.eq(regs.out_scale), ctrl.um_c.eq(regs.um_c),
            ctrl.um_c1.eq(regs.um_c1), ctrl.um_lr_dw.eq(regs.um_lr_dw),
        ]

        # ---- identification: constant registers read their documented value ----
        for name in ("ID", "SHAPE", "FORMAT", "TIMING"):
            m.d.comb += getattr(regs, name.lower()).eq(rm[name].reset)

        # ---- errors: sticky flags (write 1 to clear) and a counter ----
        events = {
            "stream_length": ctrl.ev_stream_length, "cmd_busy": ctrl.ev_cmd_busy,
            "illegal_value": regs.illegal, "bad_op": ctrl.ev_bad_op,
            "seed_zero": ctrl.ev_seed_zero, "adc_timeout": ctrl.ev_timeout,
            "bl_error": ctrl.ev_bl_error, "bm_gave_up": ctrl.ev_gave_up,
        }
        ev = Cat(*[events[name] for name in ERRORS])
        flags = Signal(len(ERRORS))
        m.d.sync += flags.eq((flags & ~regs.error_clr[:len(ERRORS)]) | ev)
        m.d.comb += regs.error.eq(flags)
        err_count = Signal(32)
        with m.If(clear):
            m.d.sync += err_count.eq(0)
        with m.Else():
            m.d.sync += err_count.eq(err_count + sum(ev[i] for i in range(len(ERRORS))))
        m.d.comb += regs.err_count.eq(err_count)

        # ---- status ----
        m.d.comb += regs.status.eq(rm.encode("STATUS") | Cat(
            ctrl.busy, ctrl.loading, ctrl.cmd_ready, flags.any(), ctrl.state,
            ctrl.last_passes))

        # ---- operation counters ----
        def counter(reg, inc, amount=1):
            c = Signal(32, name=f"cnt_{reg.lower()}")
            with m.If(clear):
                m.d.sync += c.eq(0)
            with m.Elif(inc):
                m.d.sync += c.eq(c + amount)
            m.d.comb += getattr(regs, reg.lower()).eq(c)

        for op in Op:
            done = ctrl.ev_done & (ctrl.done_op == op)
            last = Signal(32, name=f"cyc_{op.name.lower()}")
            with m.If(done):
                m.d.sync += last.eq(ctrl.op_cycles)
            m.d.comb += getattr(regs, f"cyc_{op.name.lower()}").eq(last)
            counter(f"OPS_{op.name}", done)
        counter("SATURATIONS", ctrl.ev_pass, ctrl.pass_sat_lines)
        m.d.comb += [regs.bm_passes.eq(ctrl.bm_passes_total),
                     regs.bm_giveups.eq(ctrl.bm_giveups_total)]

        # ---- per-line update pulse counters (endurance), saturating ----
        for reg, pos, neg in (("PULSES_X", ctrl.x_pos, ctrl.x_neg),
                              ("PULSES_D", ctrl.d_pos, ctrl.d_neg)):
            m.submodules[reg.lower()] = lc = LineCounters(rm[reg].count)
            m.d.comb += [lc.inc.eq(Mux(ctrl.upd_slot, pos | neg, 0)), lc.clear.eq(clear),
                         getattr(regs, reg.lower()).eq(lc.value)]
            if rm[reg].count > 1:
                m.d.comb += lc.index.eq(getattr(regs, reg.lower() + "_index"))
        return m
