"""The tile controller: the four pipelined stages around the line drivers, the management
blocks and the two ADC interfaces (forward reads the d-lines, backward the x-lines).  The
register file and the counters are the tile's (:class:`rpu.rtl.tile.Tile`)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.config import MAX_LINES
from rpu.spec.encodings import NM_BITS, OP_BITS, READ_PART_BITS, Op, RunState, tile_ops
from rpu.spec.formats import BL_LIMIT, BM_CAP_MAX, REG_BITS, bit_width, numerics
from rpu.spec.registers import COUNT_BITS
from rpu.spec.streams import SEED_BITS
from rpu.spec.timing import ADC_RESET_CYCLES, VECTOR_SETS, stream_beats

from ..adc import AdcInterface
from ..axi import AXI4StreamSignature
from ..common import counter_range
from ..management import BoundManager
from ..pulse_width import PulseWidthBank
from ..stochastic import UpdatePulser
from .convert import ConvertStage
from .loader import Loader
from .manage import ManageStage
from .queue import CommandQueue
from .run import RunSequencer
from .sets import VectorSets
from .transfer import TransferSequencer, TransferTrigger

__all__ = ["AnalogReadSignature", "TileController"]


class AnalogReadSignature(wiring.Signature):
    """Integrator + ADC side of one read direction (controller's view, Out = to analog)."""

    def __init__(self, num_adcs: int, adc_bits: int, lines_per_adc: int):
        super().__init__({
            "integ_reset": Out(1), "integ_en": Out(1), "start": Out(1),
            "sel": Out(counter_range(lines_per_adc)), "done": In(1),
            "codes": In(num_adcs * adc_bits),
        })


class TileController(wiring.Component):
    """Datapath and sequencers of the tile (everything except the register file).

    ``TileController(cfg, *, adc_reset_cycles=1, vector_sets=VECTOR_SETS)``.  Four stages in
    command order over ``vector_sets`` buffer sets (:class:`VectorSets`): **load**
    (:class:`Loader`, fed by the :class:`CommandQueue`), **manage** (:class:`ManageStage`,
    the update manager), **convert** (:class:`ConvertStage`: noise manager and scalers into
    the banks' shadow registers) and **run** (:class:`RunSequencer`), so update k+1 streams
    in and is managed while update k converts and update k−1 pulses.  Ports:
    docs/architecture.md ("Tile controller and host interface").
    """

    def __init__(self, cfg: TileConfig, *, adc_reset_cycles: int = ADC_RESET_CYCLES,
                 vector_sets: int = VECTOR_SETS):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.reset_cycles = IntRule(1, 255).check("adc_reset_cycles", adc_reset_cycles)
        self.vector_sets = IntRule(2, 8).check("vector_sets", vector_sets)
        lanes = self.lanes = cfg.host.stream_width
        self.beats_x = stream_beats(cfg.in_size, lanes)
        self.beats_d = stream_beats(cfg.out_size, lanes)
        conv, w_bl = cfg.converters, bit_width(BL_LIMIT)
        mc = {
            # transfer registers (docs/numerics.md, "Transfer") and the crossbar's MC ports
            "xfer_auto": In(1), "xfer_every": In(20), "xfer_columns": In(bit_width(MAX_LINES)),
            "clt_tol": In(REG_BITS), "clt_inv_f": In(REG_BITS), "clt_inv_step": In(REG_BITS),
            "refresh_thr": In(REG_BITS), "clt_max_iter": In(8), "clt_max_pulses": In(8),
            "read_part": Out(READ_PART_BITS), "pulse_pair": Out(1), "cell_reset": Out(1),
            "polarity": Out(cfg.in_size),
            "xfer_state": Out(4), "xfer_pending": Out(1),
            "xfer_column": Out(counter_range(cfg.in_size)),
            "xfer_columns_done": Out(32), "xfer_sweeps": Out(32), "clt_rounds": Out(32),
            "clt_rounds_max": Out(8), "clt_nonconverged": Out(32), "refreshes": Out(32),
        } if cfg.mc.enabled else {}
        super().__init__({
            **mc,
            # host side
            "s_axis": In(AXI4StreamSignature(lanes * cfg.host.value_bits)),
            "m_axis": Out(AXI4StreamSignature(lanes * cfg.host.result_bits)),
            "cmd_start": In(1), "cmd_op": In(OP_BITS), "cmd_count": In(COUNT_BITS),
            "seed_load": In(1), "x_seed": In(SEED_BITS), "d_seed": In(SEED_BITS),
            "clear_counters": In(1),
            # configuration registers (formats: docs/numerics.md)
            "bl": In(w_bl), "bl_max": In(w_bl), "nm_mode": In(NM_BITS), "bm_enable": In(1),
            "bm_cap": In(bit_width(BM_CAP_MAX)), "um_enable": In(1), "dyn_bl": In(1),
            "out_scale": In(REG_BITS), "um_c": In(REG_BITS), "um_c1": In(REG_BITS),
            "um_lr_dw": In(REG_BITS),
            # crossbar side
            "x_pos": Out(cfg.in_size), "x_neg": Out(cfg.in_size),
            "d_pos": Out(cfg.out_size), "d_neg": Out(cfg.out_size),
            "upd_slot": Out(1),
            "adc_d": Out(AnalogReadSignature(cfg.num_adcs_d, conv.adc_bits, conv.lines_per_adc)),
            "adc_x": Out(AnalogReadSignature(cfg.num_adcs_x, conv.adc_bits, conv.lines_per_adc)),
            # status and events (one-cycle pulses) for the register file / counters
            "cmd_ready": Out(1), "loading": Out(1), "busy": Out(1),
            "state": Out(counter_range(len(RunState))), "last_passes": Out(bit_width(BM_CAP_MAX)),
            "ev_cmd_busy": Out(1), "ev_bad_op": Out(1), "ev_stream_length": Out(1),
            "ev_seed_zero": Out(1), "ev_timeout": Out(1), "ev_bl_error": Out(1),
            "ev_gave_up": Out(1),
            "ev_done": Out(1), "done_op": Out(OP_BITS), "op_cycles": Out(32),
            "ev_pass": Out(1),
            "pass_sat_lines": Out(counter_range(max(cfg.in_size, cfg.out_size) + 1)),
            "bm_passes_total": Out(32), "bm_giveups_total": Out(32),
        })

    def elaborate(self, platform):
        cfg, lanes, ns = self.cfg, self.lanes, self.vector_sets
        conv = cfg.converters
        m = Module()
        # -- the stages --
        m.submodules.queue = queue = CommandQueue(max(tile_ops(cfg.mc.enabled)))
        m.submodules.sets = sets = VectorSets(ns, self.beats_x, self.beats_d, len(self.s_axis.tdata),
                                              lanes, cfg.host.value_bits)
        m.submodules.load = load = Loader(ns, self.beats_x, self.beats_d)
        m.submodules.manage = manage = ManageStage(cfg, ns)
        m.submodules.convert = cvt = ConvertStage(cfg, ns, self.beats_x, self.beats_d, lanes)
        m.submodules.run = run = RunSequencer(cfg, ns, reset_cycles=self.reset_cycles,
                                              transfer=cfg.mc.enabled)
        # -- what they drive --
        m.submodules.bm = bm = BoundManager(cfg)
        m.submodules.pw_x = pw_x = PulseWidthBank(cfg.in_size, conv.dac_bits, conv.slot_cycles, lanes)
        m.submodules.pw_d = pw_d = PulseWidthBank(cfg.out_size, conv.dac_bits, conv.slot_cycles, lanes)
        m.submodules.upd = upd = UpdatePulser(cfg.in_size, cfg.out_size, cfg.update.prob_bits,
                                              cfg.update.bl_max, conv.slot_cycles, lanes)
        m.submodules.rd_d = rd_d = AdcInterface(cfg, cfg.out_size, lanes=lanes,
                                                reset_cycles=self.reset_cycles)
        m.submodules.rd_x = rd_x = AdcInterface(cfg, cfg.in_size, lanes=lanes,
                                                reset_cycles=self.reset_cycles)

        # the multi-conductance transfer: a queued TRANSFER waits in the queue until the
        # pipeline ahead of it is empty; an automatic one runs as soon as it is due
        xfer_cmd, xfer_take, xfer_due = Signal(), Signal(), Signal()
        if cfg.mc.enabled:
            xfer = self._transfer(m, run, queue, load, sets, cvt, xfer_cmd, xfer_take)
            m.d.comb += xfer_due.eq(self.xfer_pending)
        # command queue and loader
        m.d.comb += [
            queue.start.eq(self.cmd_start), queue.op.eq(self.cmd_op), queue.count.eq(self.cmd_count),
            queue.take.eq(load.take | xfer_take), self.cmd_ready.eq(queue.ready),
            self.ev_bad_op.eq(queue.ev_bad_op), self.ev_cmd_busy.eq(queue.ev_cmd_busy),
            load.tvalid.eq(self.s_axis.tvalid), load.tlast.eq(self.s_axis.tlast),
            self.s_axis.tready.eq(load.tready), load.queue_valid.eq(queue.valid & ~xfer_cmd),
            load.queue_op.eq(queue.queued_op), load.full.eq(sets.full),
            self.ev_stream_length.eq(load.ev_stream_length),
        ]
        # the sets, as each stage addresses them
        m.d.comb += [
            sets.data.eq(self.s_axis.tdata),
            sets.load_set.eq(load.load_set), sets.take.eq(load.take), sets.push_x.eq(load.push_x),
            sets.push_d.eq(load.push_d), sets.fill.eq(load.fill), sets.fill_op.eq(load.fill_op),
            sets.manage_set.eq(manage.set), sets.mark_managed.eq(manage.mark),
            sets.conv_set.eq(cvt.set), sets.rotate_x.eq(cvt.rotate_x), sets.rotate_d.eq(cvt.rotate_d),
            sets.mark_converted.eq(cvt.mark_converted), sets.release_conv.eq(cvt.release),
            sets.run_set.eq(run.set), sets.release_run.eq(run.release),
        ]
        for stage in (manage, cvt):
            m.d.comb += [stage.full.eq(sets.full), stage.managed.eq(sets.managed)]
            m.d.comb += [stage.op[i].eq(sets.op[i]) for i in range(ns)]
            m.d.comb += [stage.max_x[i].eq(sets.max_x[i]) for i in range(ns)]
            m.d.comb += [stage.max_d[i].eq(sets.max_d[i]) for i in range(ns)]
        # update manager stage
        m.d.comb += [
            manage.um_enable.eq(self.um_enable), manage.dyn_bl.eq(self.dyn_bl),
            manage.bl_reg.eq(self.bl), manage.bl_max.eq(self.bl_max), manage.um_c.eq(self.um_c),
            manage.um_c1.eq(self.um_c1), manage.um_lr_dw.eq(self.um_lr_dw),
            manage.take.eq(cvt.um_take), self.ev_bl_error.eq(manage.ev_bl_error),
        ]
        # conversion stage
        m.d.comb += [
            cvt.converted.eq(sets.converted), cvt.head_x.eq(sets.head_x), cvt.head_d.eq(sets.head_d),
            cvt.um_valid.eq(manage.valid), cvt.gain_x.eq(manage.gain_x),
            cvt.gain_d.eq(manage.gain_d), cvt.um_bl.eq(manage.bl),
            cvt.bm_k.eq(bm.k), cvt.bm_enable.eq(self.bm_enable), cvt.nm_mode.eq(self.nm_mode),
            cvt.out_scale.eq(self.out_scale),
            cvt.run_reload.eq(run.reload), cvt.run_set.eq(run.set), cvt.run_take.eq(run.take),
            cvt.run_busy.eq(run.busy), cvt.run_hold.eq(run.hold), cvt.run_reading.eq(run.reading),
            pw_x.load_valid.eq(cvt.pw_x_load), pw_d.load_valid.eq(cvt.pw_d_load),
            upd.x_load_valid.eq(cvt.upd_x_load), upd.d_load_valid.eq(cvt.upd_d_load),
            pw_x.load_data.eq(cvt.dac_x), pw_d.load_data.eq(cvt.dac_d),
            upd.x_load_data.eq(cvt.prob_x), upd.d_load_data.eq(cvt.prob_d),
            bm.begin.eq(cvt.bm_begin),
        ]
        # run sequencer, banks and ADC interfaces
        fwd = run.forward
        m.d.comb += [
            run.shadow_full.eq(cvt.shadow_full), run.shadow_op.eq(cvt.shadow_op),
            run.shadow_hold.eq(cvt.shadow_hold), run.shadow_set.eq(cvt.shadow_set),
            run.shadow_bl.eq(cvt.bl), run.nm_out_mul.eq(cvt.out_mul), run.nm_out_exp.eq(cvt.out_exp),
            pw_x.commit.eq(run.pw_x_commit), pw_x.start.eq(run.pw_x_start),
            pw_d.commit.eq(run.pw_d_commit), pw_d.start.eq(run.pw_d_start),
            upd.commit.eq(run.upd_commit), upd.start.eq(run.upd_start), upd.bl.eq(run.upd_bl),
            run.upd_done.eq(upd.done),
            rd_x.start.eq(run.rd_x_start), rd_x.readout.eq(run.rd_x_readout),
            run.conv_done.eq(Mux(fwd, rd_d.conv_done, rd_x.conv_done)),
            run.any_sat.eq(Mux(fwd, rd_d.any_sat, rd_x.any_sat)),
            run.reading_busy.eq(Mux(fwd, rd_d.busy, rd_x.busy)),
            bm.enable.eq(run.bm_enable), bm.pass_done.eq(run.bm_pass_done),
            bm.any_sat.eq(run.bm_any_sat), run.bm_retry.eq(bm.retry), run.bm_accept.eq(bm.accept),
            run.bm_gave_up.eq(bm.gave_up),
            bm.cap.eq(self.bm_cap), bm.clear_counters.eq(self.clear_counters),
        ]
        m.d.comb += [rd_x.out_mul.eq(run.out_mul), rd_x.out_exp.eq(run.out_exp), rd_x.bm_k.eq(bm.k)]
        # the forward interface also serves the transfer's reads (noise management off, k 0)
        if cfg.mc.enabled:
            xr = xfer.busy
            m.d.comb += [
                rd_d.start.eq(run.rd_d_start | xfer.rd_start),
                rd_d.readout.eq(run.rd_d_readout | xfer.rd_readout),
                rd_d.out_mul.eq(Mux(xr, self.out_scale, run.out_mul)),
                rd_d.out_exp.eq(Mux(xr, numerics(cfg).frac_bits, run.out_exp)),
                rd_d.bm_k.eq(Mux(xr, 0, bm.k)),
                xfer.conv_done.eq(rd_d.conv_done), xfer.integ_en.eq(rd_d.integ_en),
                xfer.rd_busy.eq(rd_d.busy), xfer.res_valid.eq(rd_d.res_valid),
                xfer.res_data.eq(rd_d.res_data),
            ]
            drives = [getattr(xfer, name) for name in ("x_pos", "x_neg", "d_pos", "d_neg")]
        else:
            m.d.comb += [rd_d.start.eq(run.rd_d_start), rd_d.readout.eq(run.rd_d_readout),
                         rd_d.out_mul.eq(run.out_mul), rd_d.out_exp.eq(run.out_exp),
                         rd_d.bm_k.eq(bm.k)]
            drives = [0, 0, 0, 0]

        # crossbar side: drives are the OR of the banks (never active together)
        m.d.comb += [
            self.x_pos.eq(pw_x.pos | upd.x_pos | drives[0]), self.x_neg.eq(pw_x.neg | upd.x_neg | drives[1]),
            self.d_pos.eq(pw_d.pos | upd.d_pos | drives[2]), self.d_neg.eq(pw_d.neg | upd.d_neg | drives[3]),
        ]
        for rd, port in ((rd_d, self.adc_d), (rd_x, self.adc_x)):
            m.d.comb += [port.integ_reset.eq(rd.integ_reset), port.integ_en.eq(rd.integ_en),
                         port.start.eq(rd.adc_start), port.sel.eq(rd.adc_sel),
                         rd.adc_done.eq(port.done), rd.adc_codes.eq(port.codes)]
        # first cycle of every update slot (slot counter restarts with the pulser)
        xfer_slot = xfer.slot if cfg.mc.enabled else 0
        if conv.slot_cycles == 1:
            m.d.comb += self.upd_slot.eq(upd.busy | xfer_slot)
        else:
            sc = Signal(counter_range(conv.slot_cycles))
            with m.If(upd.start & ~upd.busy):
                m.d.sync += sc.eq(0)
            with m.Elif(upd.busy):
                m.d.sync += sc.eq(Mux(sc == conv.slot_cycles - 1, 0, sc + 1))
            m.d.comb += self.upd_slot.eq((upd.busy & (sc == 0)) | xfer_slot)

        # seeds
        m.d.comb += [upd.x_seed.eq(self.x_seed), upd.d_seed.eq(self.d_seed),
                     upd.seed_load.eq(self.seed_load)]
        m.d.sync += self.ev_seed_zero.eq(self.seed_load & ((self.x_seed == 0) | (self.d_seed == 0)))

        # results: the direction being read drives m_axis
        m.d.comb += rd_x.res_ready.eq(~fwd & self.m_axis.tready)
        if cfg.mc.enabled:
            m.d.comb += rd_d.res_ready.eq(Mux(xfer.busy, xfer.res_ready, fwd & self.m_axis.tready))
        else:
            m.d.comb += rd_d.res_ready.eq(fwd & self.m_axis.tready)
        t_prev = Signal(2)
        m.d.sync += t_prev.eq(Cat(rd_d.timeout, rd_x.timeout))
        m.d.comb += [
            self.m_axis.tdata.eq(Mux(fwd, rd_d.res_data, rd_x.res_data)),
            self.m_axis.tvalid.eq(Mux(fwd, rd_d.res_valid, rd_x.res_valid)),   # (op TRANSFER: rd_x, idle)
            self.m_axis.tlast.eq(Mux(fwd, rd_d.res_last, rd_x.res_last)),
            self.ev_timeout.eq((Cat(rd_d.timeout, rd_x.timeout) & ~t_prev).any()),
            # a pass's saturated lines, counted a few cycles after it (sat_valid)
            self.pass_sat_lines.eq(Mux(rd_d.sat_valid, rd_d.sat_lines, rd_x.sat_lines)),
            self.last_passes.eq(bm.passes),
            self.bm_passes_total.eq(bm.passes_total), self.bm_giveups_total.eq(bm.giveups_total),
            # status and events
            # (an automatic transfer due is busy too: no idle cycle between its update and it)
            self.busy.eq(run.busy | (xfer_due if cfg.mc.enabled else 0)), self.state.eq(run.state), self.done_op.eq(run.done_op),
            self.op_cycles.eq(run.op_cycles), self.ev_done.eq(run.ev_done),
            self.ev_pass.eq(rd_d.sat_valid | rd_x.sat_valid), self.ev_gave_up.eq(run.ev_gave_up),
            # a command is queued, or its vector is loading / being prepared
            self.loading.eq(queue.valid | load.busy | (sets.full & ~sets.converted).any()
                            | cvt.busy | cvt.shadow_full),
        ]
        return m

    def _transfer(self, m, run, queue, load, sets, cvt, xfer_cmd, xfer_take):
        """The transfer sequencer and its trigger, wired to the run stage and the queue."""
        m.submodules.transfer = xfer = TransferSequencer(self.cfg)
        m.submodules.trigger = trig = TransferTrigger()
        empty = ~load.busy & ~sets.full.any() & ~cvt.busy & ~cvt.shadow_full & ~run.busy
        m.d.comb += [
            xfer_cmd.eq(queue.valid & (queue.queued_op == Op.TRANSFER)),
            trig.update_done.eq(run.ev_done & (run.done_op == Op.UPDATE)),
            trig.every.eq(self.xfer_every), trig.auto.eq(self.xfer_auto),
            run.xfer_request.eq(trig.pending | (xfer_cmd & empty)),
            trig.grant.eq(run.xfer_start),
            xfer_take.eq(run.xfer_start & ~trig.pending),
            xfer.start.eq(run.xfer_start), run.xfer_done.eq(xfer.done),
            xfer.clear_counters.eq(self.clear_counters),
            xfer.tol.eq(self.clt_tol), xfer.inv_f.eq(self.clt_inv_f),
            xfer.inv_step.eq(self.clt_inv_step), xfer.refresh_thr.eq(self.refresh_thr),
            xfer.max_iter.eq(self.clt_max_iter), xfer.max_pulses.eq(self.clt_max_pulses),
            xfer.columns.eq(self.xfer_columns),
            self.read_part.eq(xfer.read_part), self.pulse_pair.eq(xfer.pulse_pair),
            self.cell_reset.eq(xfer.cell_reset), self.polarity.eq(xfer.polarity),
            self.xfer_state.eq(xfer.state), self.xfer_pending.eq(trig.pending),
            self.xfer_column.eq(xfer.column),
            self.xfer_columns_done.eq(xfer.columns_done), self.xfer_sweeps.eq(xfer.sweeps),
            self.clt_rounds.eq(xfer.rounds_total), self.clt_rounds_max.eq(xfer.rounds_max),
            self.clt_nonconverged.eq(xfer.nonconverged), self.refreshes.eq(xfer.refreshes),
        ]
        return xfer
