"""Tile controller: vector loader, prepare and run sequencers around the line drivers,
the management blocks and the two ADC interfaces (forward reads the d-lines, backward the
x-lines).  The register file and counters live in :class:`rpu.rtl.tile.Tile`.

Three small FSMs form a pipeline, so the next vector loads while the current one pulses:

* **load** (L): after ``cmd_start`` takes the vector frame(s) from ``s_axis`` into a
  rotating beat buffer (x: ``ceil(N/lanes)`` beats, d: ``ceil(M/lanes)``), with the
  abs-max accumulators watching; an update takes two frames, x then d.  A frame whose
  ``tlast`` is not on its last beat is dropped and flagged (``ev_stream_length``).
* **prepare** (P): noise manager (reads) or update manager (updates), then the buffer is
  rotated once through the input / probability scalers into the banks' shadow chains.
  The buffer is released at the end, except for a forward under bound management, which
  keeps it for a retry until the forward completes.
* **run** (R): commits the shadow and runs the pulse window + ADC pass (reads; bound
  management retries re-enter P for a reload) or the update pulses, then streams the
  results (reads) on ``m_axis``.
"""

from __future__ import annotations

import enum

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import TileConfig
from .axi import AXI4StreamSignature

__all__ = ["AnalogReadSignature", "VectorBuffer", "TileController", "Op", "RunState"]


class Op(enum.IntEnum):
    FORWARD = 0
    BACKWARD = 1
    UPDATE = 2


class RunState(enum.IntEnum):
    """``STATUS.state`` codes (the run sequencer)."""
    IDLE = 0
    READ_DELAY = 1
    READ_WAIT = 2
    READ_DECIDE = 3
    READ_RELOAD = 4
    READ_STREAM = 5
    UPDATE = 6


class AnalogReadSignature(wiring.Signature):
    """Integrator + ADC side of one read direction (controller's view, Out = to analog)."""

    def __init__(self, num_adcs: int, adc_bits: int, lines_per_adc: int):
        super().__init__({
            "integ_reset": Out(1), "integ_en": Out(1), "start": Out(1),
            "sel": Out(range(max(2, lines_per_adc))), "done": In(1),
            "codes": In(num_adcs * adc_bits),
        })


class VectorBuffer(wiring.Component):
    """Chain of ``beats`` registers: ``push`` shifts ``data`` in at the top, ``rotate``
    moves the head (``head``) back to the top.  After ``beats`` pushes the first pushed
    beat is at the head; ``beats`` rotations restore the order (so it can be read again)."""

    def __init__(self, beats: int, width: int):
        for name, v in (("beats", beats), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name} must be a positive integer, not {v!r}")
            if v < 1:
                raise ValueError(f"{name} must be a positive integer, not {v!r}")
        self.beats = beats
        super().__init__({"push": In(1), "rotate": In(1), "data": In(width), "head": Out(width)})

    def elaborate(self, platform):
        m = Module()
        regs = [Signal(len(self.data), name=f"beat{i}") for i in range(self.beats)]
        m.d.comb += self.head.eq(regs[0])
        with m.If(self.push | self.rotate):
            m.d.sync += regs[-1].eq(Mux(self.push, self.data, regs[0]))
            for i in range(self.beats - 1):
                m.d.sync += regs[i].eq(regs[i + 1])
        return m


class _Fsm:
    """A state register with ``ongoing``/``goto``, decoded with ``If`` chains (Amaranth's
    ``m.FSM`` emits single-case ``casez`` blocks that Verilator's lint flags)."""

    def __init__(self, m, name, states):
        self.m, self.states = m, list(states)
        self.state = Signal(range(max(2, len(self.states))), name=f"{name}_state")

    def ongoing(self, name):
        return self.state == self.states.index(name)

    def goto(self, name):
        self.m.d.sync += self.state.eq(self.states.index(name))


def _ceil_div(a, b):
    return -(-a // b)


class TileController(wiring.Component):
    """Datapath and sequencers of the tile (everything except the register file).

    ``TileController(cfg, *, adc_reset_cycles=1)``; ports are listed in
    docs/architecture.md ("Tile controller and host interface").
    """

    def __init__(self, cfg: TileConfig, *, adc_reset_cycles: int = 1):
        if not isinstance(cfg, TileConfig):
            raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
        if isinstance(adc_reset_cycles, bool) or not isinstance(adc_reset_cycles, int):
            raise TypeError(f"adc_reset_cycles must be an integer in [1, 255], not {adc_reset_cycles!r}")
        if not 1 <= adc_reset_cycles <= 255:
            raise ValueError(f"adc_reset_cycles must be an integer in [1, 255], not {adc_reset_cycles!r}")
        self.cfg = cfg
        self.reset_cycles = adc_reset_cycles
        lanes = cfg.stream_width
        self.lanes = lanes
        self.beats_x = _ceil_div(cfg.in_size, lanes)
        self.beats_d = _ceil_div(cfg.out_size, lanes)
        super().__init__({
            # host side
            "s_axis": In(AXI4StreamSignature(lanes * cfg.value_bits)),
            "m_axis": Out(AXI4StreamSignature(lanes * cfg.result_bits)),
            "cmd_start": In(1), "cmd_op": In(2),
            "seed_load": In(1), "x_seed": In(32), "d_seed": In(32), "clear_counters": In(1),
            # configuration registers (formats: docs/numerics.md)
            "bl": In(8), "bl_max": In(8), "nm_mode": In(2), "bm_enable": In(1),
            "bm_cap": In(5), "um_enable": In(1), "dyn_bl": In(1),
            "out_scale": In(32), "um_c": In(32), "um_c1": In(32), "um_lr_dw": In(32),
            # crossbar side
            "x_pos": Out(cfg.in_size), "x_neg": Out(cfg.in_size),
            "d_pos": Out(cfg.out_size), "d_neg": Out(cfg.out_size),
            "upd_slot": Out(1),
            "adc_d": Out(AnalogReadSignature(cfg.num_adcs_d, cfg.adc_bits, cfg.lines_per_adc)),
            "adc_x": Out(AnalogReadSignature(cfg.num_adcs_x, cfg.adc_bits, cfg.lines_per_adc)),
            # status and events (one-cycle pulses) for the register file / counters
            "cmd_ready": Out(1), "loading": Out(1), "busy": Out(1), "state": Out(4),
            "last_passes": Out(5),
            "ev_cmd_busy": Out(1), "ev_bad_op": Out(1), "ev_stream_length": Out(1),
            "ev_seed_zero": Out(1), "ev_timeout": Out(1), "ev_bl_error": Out(1),
            "ev_gave_up": Out(1),
            "ev_done": Out(1), "done_op": Out(2), "op_cycles": Out(32),
            "ev_pass": Out(1), "pass_sat_lines": Out(range(max(cfg.in_size, cfg.out_size) + 1)),
            "bm_passes_total": Out(32), "bm_giveups_total": Out(32),
        })

    def elaborate(self, platform):
        from .adc import AdcInterface
        from .management import (AbsMax, BoundManager, InputScaler, NoiseManager,
                                 ProbScaler, UpdateManager)
        from .pulse_width import PulseWidthBank
        from .stochastic import UpdatePulser

        cfg, lanes = self.cfg, self.lanes
        m = Module()
        vb = cfg.value_bits
        m.submodules.buf_x = buf_x = VectorBuffer(self.beats_x, lanes * vb)
        m.submodules.buf_d = buf_d = VectorBuffer(self.beats_d, lanes * vb)
        m.submodules.max_x = max_x = AbsMax(lanes, vb)
        m.submodules.max_d = max_d = AbsMax(lanes, vb)
        m.submodules.nm = nm = NoiseManager(cfg)
        m.submodules.scale_x = scale_x = InputScaler(cfg, lanes)
        m.submodules.scale_d = scale_d = InputScaler(cfg, lanes)
        m.submodules.bm = bm = BoundManager(cfg)
        m.submodules.um = um = UpdateManager(cfg)
        m.submodules.prob_x = prob_x = ProbScaler(cfg, lanes)
        m.submodules.prob_d = prob_d = ProbScaler(cfg, lanes)
        m.submodules.pw_x = pw_x = PulseWidthBank(cfg.in_size, cfg.dac_bits, cfg.slot_cycles, lanes)
        m.submodules.pw_d = pw_d = PulseWidthBank(cfg.out_size, cfg.dac_bits, cfg.slot_cycles, lanes)
        m.submodules.upd = upd = UpdatePulser(cfg.in_size, cfg.out_size, cfg.prob_bits,
                                              cfg.bl_max, cfg.slot_cycles, lanes)
        m.submodules.rd_d = rd_d = AdcInterface(cfg, cfg.out_size, lanes=lanes,
                                                reset_cycles=self.reset_cycles)
        m.submodules.rd_x = rd_x = AdcInterface(cfg, cfg.in_size, lanes=lanes,
                                                reset_cycles=self.reset_cycles)

        # ---- crossbar side: drives are the OR of the banks (never active together) ----
        m.d.comb += [
            self.x_pos.eq(pw_x.pos | upd.x_pos), self.x_neg.eq(pw_x.neg | upd.x_neg),
            self.d_pos.eq(pw_d.pos | upd.d_pos), self.d_neg.eq(pw_d.neg | upd.d_neg),
        ]
        for rd, port in ((rd_d, self.adc_d), (rd_x, self.adc_x)):
            m.d.comb += [port.integ_reset.eq(rd.integ_reset), port.integ_en.eq(rd.integ_en),
                         port.start.eq(rd.adc_start), port.sel.eq(rd.adc_sel),
                         rd.adc_done.eq(port.done), rd.adc_codes.eq(port.codes)]
        # first cycle of every update slot (slot counter restarts with the pulser)
        if cfg.slot_cycles == 1:
            m.d.comb += self.upd_slot.eq(upd.busy)
        else:
            sc = Signal(range(cfg.slot_cycles))
            with m.If(upd.start & ~upd.busy):
                m.d.sync += sc.eq(0)
            with m.Elif(upd.busy):
                m.d.sync += sc.eq(Mux(sc == cfg.slot_cycles - 1, 0, sc + 1))
            m.d.comb += self.upd_slot.eq(upd.busy & (sc == 0))

        # ---- seeds, static configuration ----
        m.d.comb += [
            upd.x_seed.eq(self.x_seed), upd.d_seed.eq(self.d_seed),
            upd.seed_load.eq(self.seed_load),
            nm.mode.eq(self.nm_mode), bm.cap.eq(self.bm_cap),
            bm.clear_counters.eq(self.clear_counters),
            um.um_enable.eq(self.um_enable), um.dyn_bl.eq(self.dyn_bl), um.bl.eq(self.bl),
            um.bl_max.eq(self.bl_max), um.um_c.eq(self.um_c), um.um_c1.eq(self.um_c1),
            um.um_lr_dw.eq(self.um_lr_dw),
            um.x_max.eq(max_x.max), um.d_max.eq(max_d.max),
            scale_x.values.eq(buf_x.head), scale_d.values.eq(buf_d.head),
            prob_x.values.eq(buf_x.head), prob_d.values.eq(buf_d.head),
            prob_x.gain.eq(um.gain_x), prob_d.gain.eq(um.gain_d),
            pw_x.load_data.eq(scale_x.codes), pw_d.load_data.eq(scale_d.codes),
            upd.x_load_data.eq(prob_x.codes), upd.d_load_data.eq(prob_d.codes),
            max_x.data.eq(self.s_axis.tdata), max_d.data.eq(self.s_axis.tdata),
            buf_x.data.eq(self.s_axis.tdata), buf_d.data.eq(self.s_axis.tdata),
        ]
        m.d.comb += nm.out_scale.eq(self.out_scale)
        m.d.sync += self.ev_seed_zero.eq(self.seed_load & ((self.x_seed == 0) | (self.d_seed == 0)))

        # ---- load sequencer ----
        l_op = Signal(2)
        l_side_d = Signal()          # receiving the d frame
        l_cnt = Signal(range(max(self.beats_x, self.beats_d) + 1))
        l_taken = Signal()           # P has taken the full buffer
        l_release = Signal()         # comb: free the buffer (from P or R)
        beat = Signal()
        m.d.comb += beat.eq(self.s_axis.tvalid & self.s_axis.tready)
        last_beat = Signal()
        m.d.comb += last_beat.eq(l_cnt == Mux(l_side_d, self.beats_d - 1, self.beats_x - 1))
        # one-deep command queue: CTRL.start is taken while the loader is still busy
        q_valid = Signal()
        q_op = Signal(2)
        q_take = Signal()
        m.d.comb += self.cmd_ready.eq(~q_valid)
        with m.If(q_take):
            m.d.sync += q_valid.eq(0)
        with m.If(self.cmd_start):
            with m.If(self.cmd_op == 3):
                m.d.comb += self.ev_bad_op.eq(1)
            with m.Elif(~q_valid | q_take):
                m.d.sync += [q_valid.eq(1), q_op.eq(self.cmd_op)]
            with m.Else():
                m.d.comb += self.ev_cmd_busy.eq(1)
        lfsm = _Fsm(m, "load", ['IDLE', 'RECV', 'DRAIN', 'FULL'])
        with m.If(lfsm.ongoing("IDLE")):
            with m.If(q_valid):
                m.d.comb += [q_take.eq(1), max_x.clear.eq(1), max_d.clear.eq(1)]
                m.d.sync += [l_op.eq(q_op), l_cnt.eq(0), l_taken.eq(0),
                             l_side_d.eq(q_op == Op.BACKWARD)]
                lfsm.goto("RECV")
        with m.If(lfsm.ongoing("RECV")):
            m.d.comb += self.s_axis.tready.eq(1)
            with m.If(beat):
                m.d.comb += [buf_x.push.eq(~l_side_d), buf_d.push.eq(l_side_d),
                             max_x.valid.eq(~l_side_d), max_d.valid.eq(l_side_d)]
                m.d.sync += l_cnt.eq(l_cnt + 1)
                with m.If(self.s_axis.tlast & last_beat):
                    with m.If((l_op == Op.UPDATE) & ~l_side_d):
                        m.d.sync += [l_side_d.eq(1), l_cnt.eq(0)]
                    with m.Else():
                        lfsm.goto("FULL")
                with m.Elif(self.s_axis.tlast):
                    m.d.comb += self.ev_stream_length.eq(1)
                    lfsm.goto("IDLE")
                with m.Elif(last_beat):
                    m.d.comb += self.ev_stream_length.eq(1)
                    lfsm.goto("DRAIN")
        with m.If(lfsm.ongoing("DRAIN")):
            m.d.comb += self.s_axis.tready.eq(1)
            with m.If(beat & self.s_axis.tlast):
                lfsm.goto("IDLE")
        with m.If(lfsm.ongoing("FULL")):
            with m.If(l_release):
                lfsm.goto("IDLE")
        l_full = Signal()
        m.d.comb += l_full.eq(lfsm.ongoing("FULL"))

        # ---- prepare sequencer ----
        p_op = Signal(2)
        p_hold = Signal()            # keep the buffer (forward under bound management)
        shadow_full = Signal()
        shadow_op = Signal(2)
        shadow_bl = Signal(8)
        shadow_hold = Signal()
        r_reload = Signal()          # comb from R: reload the shadow (BM retry)
        r_take = Signal()            # comb from R: the shadow is committed
        p_cnt = Signal(range(max(self.beats_x, self.beats_d) + 1))
        p_beats = Signal(range(max(self.beats_x, self.beats_d) + 1))
        with m.If(r_take):
            m.d.sync += shadow_full.eq(0)
        pfsm = _Fsm(m, "prepare", ['IDLE', 'NM', 'UM', 'LOAD'])
        with m.If(pfsm.ongoing("IDLE")):
            with m.If(r_reload):
                m.d.sync += p_cnt.eq(0)
                pfsm.goto("LOAD")
            with m.Elif(l_full & ~l_taken & ~shadow_full):
                m.d.sync += [l_taken.eq(1), p_op.eq(l_op), p_cnt.eq(0),
                             p_hold.eq((l_op == Op.FORWARD) & self.bm_enable)]
                with m.If(l_op == Op.UPDATE):
                    m.d.comb += um.start.eq(1)
                    m.d.sync += p_beats.eq(max(self.beats_x, self.beats_d))
                    pfsm.goto("UM")
                with m.Else():
                    m.d.comb += [nm.start.eq(1), bm.begin.eq(1)]
                    m.d.sync += p_beats.eq(Mux(l_op == Op.FORWARD, self.beats_x, self.beats_d))
                    pfsm.goto("NM")
        with m.If(pfsm.ongoing("NM")):
            with m.If(nm.done):
                pfsm.goto("LOAD")
        with m.If(pfsm.ongoing("UM")):
            with m.If(um.done):
                m.d.sync += shadow_bl.eq(um.bl_out)
                m.d.comb += self.ev_bl_error.eq(um.bl_error)
                pfsm.goto("LOAD")
        with m.If(pfsm.ongoing("LOAD")):
            in_x = Signal()
            in_d = Signal()
            m.d.comb += [
                in_x.eq((p_op != Op.BACKWARD) & (p_cnt < self.beats_x)),
                in_d.eq((p_op != Op.FORWARD) & (p_cnt < self.beats_d)),
                buf_x.rotate.eq(in_x), buf_d.rotate.eq(in_d),
                pw_x.load_valid.eq(in_x & (p_op == Op.FORWARD)),
                pw_d.load_valid.eq(in_d & (p_op == Op.BACKWARD)),
                upd.x_load_valid.eq(in_x & (p_op == Op.UPDATE)),
                upd.d_load_valid.eq(in_d & (p_op == Op.UPDATE)),
            ]
            m.d.sync += p_cnt.eq(p_cnt + 1)
            with m.If(p_cnt == p_beats - 1):
                m.d.sync += [shadow_full.eq(1), shadow_op.eq(p_op), shadow_hold.eq(p_hold)]
                with m.If(~p_hold):
                    m.d.comb += l_release.eq(1)
                pfsm.goto("IDLE")
        # NM's alpha: the op being taken (IDLE: l_op) or being prepared (p_op)
        alpha_op = Mux(pfsm.ongoing("IDLE"), l_op, p_op)
        m.d.comb += nm.alpha.eq(Mux(alpha_op == Op.FORWARD, max_x.max, max_d.max))
        m.d.comb += [scale_x.in_mul.eq(nm.in_mul), scale_x.in_shift.eq(nm.in_shift),
                     scale_d.in_mul.eq(nm.in_mul), scale_d.in_shift.eq(nm.in_shift),
                     scale_x.bm_k.eq(bm.k), scale_d.bm_k.eq(bm.k)]

        # ---- run sequencer ----
        r_op = Signal(2)
        r_hold = Signal()
        r_bm_en = Signal()
        r_cycles = Signal(32)
        r_delay = Signal(range(self.reset_cycles + 1))
        r_out_mul = Signal.like(nm.out_mul)
        r_out_exp = Signal.like(nm.out_exp)
        for rd in (rd_d, rd_x):
            m.d.comb += [rd.out_mul.eq(r_out_mul), rd.out_exp.eq(r_out_exp), rd.bm_k.eq(bm.k)]
        m.d.comb += bm.enable.eq(r_bm_en)
        is_fwd = Signal()
        m.d.comb += is_fwd.eq(r_op == Op.FORWARD)
        rd_busy = Signal()
        m.d.comb += rd_busy.eq(Mux(is_fwd, rd_d.busy, rd_x.busy))
        conv_done = Signal()
        m.d.comb += conv_done.eq(Mux(is_fwd, rd_d.conv_done, rd_x.conv_done))
        any_sat = Signal()
        m.d.comb += any_sat.eq(Mux(is_fwd, rd_d.any_sat, rd_x.any_sat))
        m.d.comb += self.pass_sat_lines.eq(Mux(is_fwd, rd_d.sat_lines, rd_x.sat_lines))
        t_prev = Signal(2)
        m.d.sync += t_prev.eq(Cat(rd_d.timeout, rd_x.timeout))
        m.d.comb += self.ev_timeout.eq((Cat(rd_d.timeout, rd_x.timeout) & ~t_prev).any())
        # results: the direction being read drives m_axis
        for rd, sel in ((rd_d, is_fwd), (rd_x, ~is_fwd)):
            m.d.comb += rd.res_ready.eq(sel & self.m_axis.tready)
        m.d.comb += [
            self.m_axis.tdata.eq(Mux(is_fwd, rd_d.res_data, rd_x.res_data)),
            self.m_axis.tvalid.eq(Mux(is_fwd, rd_d.res_valid, rd_x.res_valid)),
            self.m_axis.tlast.eq(Mux(is_fwd, rd_d.res_last, rd_x.res_last)),
            self.last_passes.eq(bm.passes),
            self.bm_passes_total.eq(bm.passes_total),
            self.bm_giveups_total.eq(bm.giveups_total),
            self.done_op.eq(r_op), self.op_cycles.eq(r_cycles + 1),
        ]
        m.d.sync += r_cycles.eq(r_cycles + 1)

        rfsm = _Fsm(m, "run", [s.name for s in RunState])
        with m.If(rfsm.ongoing("IDLE")):
            with m.If(shadow_full & ~pfsm.ongoing("LOAD")):
                m.d.comb += r_take.eq(1)
                m.d.sync += [r_op.eq(shadow_op), r_hold.eq(shadow_hold), r_cycles.eq(1),
                             r_bm_en.eq(shadow_hold),
                             r_out_mul.eq(nm.out_mul), r_out_exp.eq(nm.out_exp),
                             r_delay.eq(self.reset_cycles - 1)]
                with m.If(shadow_op == Op.FORWARD):
                    m.d.comb += [pw_x.commit.eq(1), rd_d.start.eq(1)]
                    rfsm.goto("READ_DELAY")
                with m.Elif(shadow_op == Op.BACKWARD):
                    m.d.comb += [pw_d.commit.eq(1), rd_x.start.eq(1)]
                    rfsm.goto("READ_DELAY")
                with m.Else():
                    m.d.comb += [upd.commit.eq(1), upd.start.eq(1), upd.bl.eq(shadow_bl)]
                    rfsm.goto("UPDATE")
        with m.If(rfsm.ongoing("READ_DELAY")):
            # the bank's first slot must coincide with the ADC's first integrate cycle
            with m.If(r_delay == 0):
                m.d.comb += [pw_x.start.eq(is_fwd), pw_d.start.eq(~is_fwd)]
                rfsm.goto("READ_WAIT")
            with m.Else():
                m.d.sync += r_delay.eq(r_delay - 1)
        with m.If(rfsm.ongoing("READ_WAIT")):
            with m.If(conv_done):
                m.d.comb += [bm.pass_done.eq(1), bm.any_sat.eq(any_sat), self.ev_pass.eq(1)]
                rfsm.goto("READ_DECIDE")
        with m.If(rfsm.ongoing("READ_DECIDE")):
            with m.If(bm.retry):
                m.d.comb += r_reload.eq(1)
                rfsm.goto("READ_RELOAD")
            with m.Elif(bm.accept):
                m.d.comb += [rd_d.readout.eq(is_fwd), rd_x.readout.eq(~is_fwd),
                             self.ev_gave_up.eq(bm.gave_up)]
                rfsm.goto("READ_STREAM")
        with m.If(rfsm.ongoing("READ_RELOAD")):
            with m.If(shadow_full & ~pfsm.ongoing("LOAD")):
                m.d.comb += [r_take.eq(1), pw_x.commit.eq(is_fwd), pw_d.commit.eq(~is_fwd),
                             rd_d.start.eq(is_fwd), rd_x.start.eq(~is_fwd)]
                m.d.sync += r_delay.eq(self.reset_cycles - 1)
                rfsm.goto("READ_DELAY")
        with m.If(rfsm.ongoing("READ_STREAM")):
            with m.If(~rd_busy):
                m.d.comb += [self.ev_done.eq(1), l_release.eq(r_hold)]
                rfsm.goto("IDLE")
        with m.If(rfsm.ongoing("UPDATE")):
            with m.If(upd.done):
                m.d.comb += self.ev_done.eq(1)
                rfsm.goto("IDLE")
        m.d.comb += [
            self.busy.eq(~rfsm.ongoing("IDLE")), self.state.eq(rfsm.state),
            # a command is queued, or its vector is loading / being prepared
            self.loading.eq(q_valid | lfsm.ongoing("RECV") | lfsm.ongoing("DRAIN")
                            | (l_full & ~l_taken) | ~pfsm.ongoing("IDLE") | shadow_full),
        ]
        return m
