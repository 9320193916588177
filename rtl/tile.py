"""Tile top: AXI4-Lite registers + AXI4-Stream vectors around the tile controller, and the
crossbar-side port set an analog front-end (or an FPGA emulation of one) connects to."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out, flipped

from rpu.config import ConfigValueError, TileConfig, check_instance
from rpu.spec.encodings import READ_PART_BITS, ErrorFlag, tile_ops
from rpu.spec.registers import register_map

from .axi import AXI4LiteSignature, AXI4StreamSignature, AXILiteRegisters, register_layout
from .controller import AnalogReadSignature, TileController
from .counters import LineCounters

__all__ = ["Tile", "tile_signature"]


def tile_signature(cfg: TileConfig) -> wiring.Signature:
    """The top's ports (a testbench harness instantiating ``rpu_tile`` reads them here); a
    multi-conductance tile adds ``read_part``, ``pulse_pair``, ``cell_reset``, ``polarity``."""
    mc = {"read_part": Out(READ_PART_BITS), "pulse_pair": Out(1), "cell_reset": Out(1),
          "polarity": Out(cfg.in_size)} if cfg.mc.enabled else {}
    return wiring.Signature({
        **mc,
        "s_axil": In(AXI4LiteSignature(register_map(cfg).addr_width)),
        "s_axis": In(AXI4StreamSignature(cfg.host.stream_width * cfg.host.value_bits)),
        "m_axis": Out(AXI4StreamSignature(cfg.host.stream_width * cfg.host.result_bits)),
        "x_pos": Out(cfg.in_size), "x_neg": Out(cfg.in_size),
        "d_pos": Out(cfg.out_size), "d_neg": Out(cfg.out_size),
        "upd_slot": Out(1),
        "adc_d": Out(AnalogReadSignature(cfg.num_adcs_d, cfg.converters.adc_bits, cfg.converters.lines_per_adc)),
        "adc_x": Out(AnalogReadSignature(cfg.num_adcs_x, cfg.converters.adc_bits, cfg.converters.lines_per_adc)),
    })


class Tile(wiring.Component):
    """The generated tile top (module ``rpu_tile`` in ``rpu generate``).

    Host side: ``s_axil`` (AXI4-Lite slave, map in :func:`rpu.spec.registers.register_map`),
    ``s_axis`` (vectors in: ``stream_width`` values of ``value_bits`` per beat, lane 0 =
    lowest line), ``m_axis`` (results: ``stream_width`` values of ``result_bits``).
    Crossbar side: ``x_pos``/``x_neg``/``d_pos``/``d_neg`` line drives, ``upd_slot`` (first
    cycle of each update slot), and per read direction ``adc_d`` (forward: integrators and
    ADCs on the d-lines) and ``adc_x`` (backward): ``integ_reset``, ``integ_en``, ``start``,
    ``sel`` out; ``done``, ``codes`` in.  A multi-conductance tile (``mc.enabled``) adds
    the transfer (op TRANSFER) and the ports ``read_part``, ``pulse_pair``, ``cell_reset``,
    ``polarity`` (docs/architecture.md, "Multi-conductance transfer").
    """

    def __init__(self, cfg: TileConfig):
        check_instance("cfg", cfg, TileConfig)
        if cfg.mc.enabled and cfg.mc.pair_only:
            raise ConfigValueError("mc.pair_only must be false for the generated tile: the "
                                   "single-pair baseline is a behavioural model only")
        self.cfg = cfg
        self.regmap = register_map(cfg)
        super().__init__(tile_signature(cfg))

    def elaborate(self, platform):
        cfg, rm = self.cfg, self.regmap
        m = Module()
        m.submodules.regs = regs = AXILiteRegisters(rm)
        m.submodules.controller = ctrl = TileController(cfg)
        wiring.connect(m, flipped(self.s_axil), regs.bus)
        wiring.connect(m, flipped(self.s_axis), ctrl.s_axis)
        wiring.connect(m, ctrl.m_axis, flipped(self.m_axis))
        wiring.connect(m, ctrl.adc_d, flipped(self.adc_d))
        wiring.connect(m, ctrl.adc_x, flipped(self.adc_x))
        m.d.comb += [self.x_pos.eq(ctrl.x_pos), self.x_neg.eq(ctrl.x_neg),
                     self.d_pos.eq(ctrl.d_pos), self.d_neg.eq(ctrl.d_neg),
                     self.upd_slot.eq(ctrl.upd_slot)]

        def view(name):
            """Register ``name``'s port, taken apart by its fields."""
            return data.View(register_layout(rm[name]), getattr(regs, name.lower()))

        # ---- command, configuration ----
        cmd, config = view("CTRL"), view("CONFIG")
        clear = Signal()
        m.d.comb += [
            ctrl.cmd_start.eq(regs.ctrl_stb & cmd.start),
            ctrl.cmd_op.eq(cmd.op), ctrl.cmd_count.eq(cmd.count),
            ctrl.seed_load.eq(regs.ctrl_stb & cmd.load_seeds),
            clear.eq(regs.ctrl_stb & cmd.clear_counters),
            ctrl.clear_counters.eq(clear),
            ctrl.x_seed.eq(regs.seed_x), ctrl.d_seed.eq(regs.seed_d),
            ctrl.bl.eq(config.bl), ctrl.bl_max.eq(config.bl_max),
            ctrl.nm_mode.eq(config.nm_mode), ctrl.bm_enable.eq(config.bm_enable),
            ctrl.bm_cap.eq(config.bm_max_passes), ctrl.um_enable.eq(config.um_enable),
            ctrl.dyn_bl.eq(config.dynamic_bl),
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
        ev = Cat(*[events[flag.key] for flag in ErrorFlag])
        flags = Signal(len(ErrorFlag))
        m.d.sync += flags.eq((flags & ~regs.error_clr[:len(ErrorFlag)]) | ev)
        m.d.comb += regs.error.eq(flags)
        err_count = Signal(32)
        with m.If(clear):
            m.d.sync += err_count.eq(0)
        with m.Else():
            m.d.sync += err_count.eq(err_count + sum(ev[i] for i in range(len(ErrorFlag))))
        m.d.comb += regs.err_count.eq(err_count)

        # ---- status ----
        status = Signal(register_layout(rm["STATUS"]))
        m.d.comb += [status.busy.eq(ctrl.busy), status.loading.eq(ctrl.loading),
                     status.cmd_ready.eq(ctrl.cmd_ready), status.error.eq(flags.any()),
                     status.state.eq(ctrl.state), status.last_bm_passes.eq(ctrl.last_passes),
                     regs.status.eq(status.as_value())]

        # ---- operation counters ----
        def counter(reg, inc, amount=1):
            c = Signal(32, name=f"cnt_{reg.lower()}")
            with m.If(clear):
                m.d.sync += c.eq(0)
            with m.Elif(inc):
                m.d.sync += c.eq(c + amount)
            m.d.comb += getattr(regs, reg.lower()).eq(c)

        for op in tile_ops(cfg.mc.enabled):
            done = ctrl.ev_done & (ctrl.done_op == op)
            last = Signal(32, name=f"cyc_{op.name.lower()}")
            with m.If(done):
                m.d.sync += last.eq(ctrl.op_cycles)
            m.d.comb += getattr(regs, f"cyc_{op.name.lower()}").eq(last)
            counter(f"OPS_{op.name}", done)
        counter("SATURATIONS", ctrl.ev_pass, ctrl.pass_sat_lines)
        m.d.comb += [regs.bm_passes.eq(ctrl.bm_passes_total),
                     regs.bm_giveups.eq(ctrl.bm_giveups_total)]

        if cfg.mc.enabled:
            self._transfer(m, regs, ctrl, view)

        # ---- per-line update pulse counters (endurance), saturating ----
        # the slot's drives and the clear are registered before they count (a clock
        # boundary between the update pulser's random comparators and the counters' ripple,
        # the ECP5 critical path): every count and clear lands one cycle later, in order
        for reg, side, pos, neg in (("PULSES_X", "x", ctrl.x_pos, ctrl.x_neg),
                                    ("PULSES_D", "d", ctrl.d_pos, ctrl.d_neg)):
            m.submodules[f"pulse_counters_{side}"] = lc = LineCounters(rm[reg].count)
            inc = Signal(len(pos), name=f"pulse_inc_{side}")
            clr = Signal(name=f"pulse_clear_{side}")
            m.d.sync += [inc.eq(Mux(ctrl.upd_slot, pos | neg, 0)), clr.eq(clear)]
            m.d.comb += [lc.inc.eq(inc), lc.clear.eq(clr),
                         getattr(regs, reg.lower()).eq(lc.value)]
            m.d.comb += lc.index.eq(getattr(regs, reg.lower() + "_index"))
        return m

    def _transfer(self, m, regs, ctrl, view):
        """The multi-conductance registers and ports (rpu.spec.registers._transfer_registers)."""
        cfg_t = view("TRANSFER_CFG")
        m.d.comb += [
            self.read_part.eq(ctrl.read_part), self.pulse_pair.eq(ctrl.pulse_pair),
            self.cell_reset.eq(ctrl.cell_reset), self.polarity.eq(ctrl.polarity),
            ctrl.xfer_auto.eq(cfg_t.auto), ctrl.clt_max_iter.eq(cfg_t.max_iterations),
            ctrl.clt_max_pulses.eq(cfg_t.max_pulses),
            ctrl.xfer_columns.eq(view("TRANSFER_COLS").value),
            ctrl.xfer_every.eq(view("TRANSFER_EVERY").value),
            ctrl.clt_tol.eq(regs.clt_tol), ctrl.clt_inv_f.eq(regs.clt_inv_f),
            ctrl.clt_inv_step.eq(regs.clt_inv_step), ctrl.refresh_thr.eq(regs.refresh_thr),
            regs.transfer_columns.eq(ctrl.xfer_columns_done), regs.transfer_sweeps.eq(ctrl.xfer_sweeps),
            regs.clt_rounds.eq(ctrl.clt_rounds), regs.clt_rounds_max.eq(ctrl.clt_rounds_max),
            regs.clt_nonconverged.eq(ctrl.clt_nonconverged), regs.refreshes.eq(ctrl.refreshes),
        ]
        status = Signal(register_layout(self.regmap["TRANSFER_STATUS"]))
        m.d.comb += [status.state.eq(ctrl.xfer_state), status.pending.eq(ctrl.xfer_pending),
                     status.column.eq(ctrl.xfer_column), regs.transfer_status.eq(status.as_value())]
        words = self.regmap["POLARITY"].count           # read through one indexed port
        padded = Signal(32 * words)
        m.d.comb += [padded.eq(ctrl.polarity),
                     regs.polarity.eq(padded.word_select(regs.polarity_index, 32))]
