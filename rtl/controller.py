"""Tile controller: vector loader, update manager, conversion and run stages around the
line drivers, the management blocks and the two ADC interfaces (forward reads the d-lines,
backward the x-lines).  The register file and counters live in :class:`rpu.rtl.tile.Tile`.

Four stages form a pipeline over ``vector_sets`` buffer sets (x and d beat buffers with
their abs-max accumulators), all in command order, so update k+1 streams in and its update
manager runs while update k converts and update k−1 pulses:

* **load** (L): takes the queued command when the next set is free, then the frame(s) from
  ``s_axis`` into that set (x: ``ceil(N/lanes)`` beats, d: ``ceil(M/lanes)``), abs-max on
  the fly; an update takes two frames, x then d.  A frame whose ``tlast`` is not on its
  last beat is dropped and flagged (``ev_stream_length``); the set stays free.
* **manage** (M): starts the update manager on a loaded update set (reads pass through);
  its outputs hold until the conversion stage latches them, so UM starts on the next set
  in the same cycle.
* **convert** (C): when the banks' shadow is free, latches UM's gains and BL (update) or
  runs the noise manager (read; only while no read is running, as NM and BM state are
  shared), then rotates the set once through the probability / input scalers into the
  shadow chains and frees the set — except a forward under bound management, which keeps
  it for retries until the forward completes (nothing else converts meanwhile).
* **run** (R): commits the shadow and runs the pulse window + ADC pass (reads; a bound-
  management retry has C reload the kept set) or the update pulses, then streams the
  results (reads) on ``m_axis``.
"""

from __future__ import annotations

import enum

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig
from rpu.models.ref_tile import VECTOR_SETS
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
    """A rotating register of ``beats`` entries: ``push`` shifts ``data`` in at the top,
    ``rotate`` moves the head (``head``) back to the top.  After ``beats`` pushes the first
    pushed beat is at the head; ``beats`` rotations restore the order (so it can be read again).

    Built as a circular buffer: a memory of ``beats`` words (one write and one asynchronous
    read port) and a pointer to the head, which every push or rotation advances; a push
    writes the new beat over the head.  The memory keeps the per-bit logic of a shift chain
    out of the netlist (a tile's buffers hold up to 2·vector_sets·4096 values).
    """

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
        depth = max(2, self.beats)       # a 1-word memory's zero-width address fails lint
        m.submodules.beats = mem = Memory(shape=len(self.data), depth=depth, init=[])
        # the contents have no reset (every use follows a full load, whatever the pointer);
        # the pointer has one, or an X sampled before the first edge stays X in Icarus
        head = Signal(range(depth))
        rd, wr = mem.read_port(domain="comb"), mem.write_port()
        m.d.comb += [rd.addr.eq(head), self.head.eq(rd.data),
                     wr.addr.eq(head), wr.data.eq(self.data), wr.en.eq(self.push)]
        with m.If(self.push | self.rotate):
            m.d.sync += head.eq(Mux(head == self.beats - 1, 0, head + 1))
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


def _pick(index, items):
    """``items[index]`` as a Mux chain (an Array index emits a ``case`` that Verilator's
    lint flags as incomplete when the item count is not a power of two)."""
    items = list(items)
    out = items[-1]
    for i in range(len(items) - 2, -1, -1):
        out = Mux(index == i, items[i], out)
    return out


def _ceil_div(a, b):
    return -(-a // b)


class TileController(wiring.Component):
    """Datapath and sequencers of the tile (everything except the register file).

    ``TileController(cfg, *, adc_reset_cycles=1, vector_sets=VECTOR_SETS)``; ports are
    listed in docs/architecture.md ("Tile controller and host interface").
    ``vector_sets`` (2..8) is the number of vector buffer sets (x + d beat buffers and
    their abs-max accumulators) the loader, update manager and conversion rotate through.
    """

    def __init__(self, cfg: TileConfig, *, adc_reset_cycles: int = 1,
                 vector_sets: int = VECTOR_SETS):
        if not isinstance(cfg, TileConfig):
            raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
        IntRule(1, 255).check("adc_reset_cycles", adc_reset_cycles)
        IntRule(2, 8).check("vector_sets", vector_sets)
        self.cfg = cfg
        self.reset_cycles = adc_reset_cycles
        self.vector_sets = vector_sets
        lanes = cfg.stream_width
        self.lanes = lanes
        self.beats_x = _ceil_div(cfg.in_size, lanes)
        self.beats_d = _ceil_div(cfg.out_size, lanes)
        super().__init__({
            # host side
            "s_axis": In(AXI4StreamSignature(lanes * cfg.value_bits)),
            "m_axis": Out(AXI4StreamSignature(lanes * cfg.result_bits)),
            "cmd_start": In(1), "cmd_op": In(2), "cmd_count": In(16),
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
        buf_x, buf_d, max_x, max_d = [], [], [], []
        for i in range(self.vector_sets):           # one buffer + abs-max pair per set
            for lst, name, unit in ((buf_x, "buf_x", VectorBuffer(self.beats_x, lanes * vb)),
                                    (buf_d, "buf_d", VectorBuffer(self.beats_d, lanes * vb)),
                                    (max_x, "max_x", AbsMax(lanes, vb)),
                                    (max_d, "max_d", AbsMax(lanes, vb))):
                m.submodules[f"{name}{i}"] = unit
                lst.append(unit)
                m.d.comb += unit.data.eq(self.s_axis.tdata)
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
            pw_x.load_data.eq(scale_x.codes), pw_d.load_data.eq(scale_d.codes),
            upd.x_load_data.eq(prob_x.codes), upd.d_load_data.eq(prob_d.codes),
        ]
        m.d.comb += nm.out_scale.eq(self.out_scale)
        m.d.sync += self.ev_seed_zero.eq(self.seed_load & ((self.x_seed == 0) | (self.d_seed == 0)))

        # ---- vector buffer sets: loader → management (UM) → conversion, in command order ----
        ns = self.vector_sets
        s_full = [Signal(name=f"set{i}_full") for i in range(ns)]    # holds a whole vector
        s_op = [Signal(2, name=f"set{i}_op") for i in range(ns)]
        s_mgd = [Signal(name=f"set{i}_managed") for i in range(ns)]  # passed the UM stage
        s_conv = [Signal(name=f"set{i}_converted") for i in range(ns)]

        def nxt(ptr):
            return Mux(ptr == ns - 1, 0, ptr + 1)

        def release(idx):
            for i in range(ns):
                with m.If(idx == i):
                    m.d.sync += [s_full[i].eq(0), s_mgd[i].eq(0), s_conv[i].eq(0)]

        # ---- load sequencer ----
        l_ptr = Signal(range(ns))    # set being / next loaded
        l_op = Signal(2)
        l_side_d = Signal()          # receiving the d frame
        l_cnt = Signal(range(max(self.beats_x, self.beats_d) + 1))
        beat = Signal()
        m.d.comb += beat.eq(self.s_axis.tvalid & self.s_axis.tready)
        last_beat = Signal()
        m.d.comb += last_beat.eq(l_cnt == Mux(l_side_d, self.beats_d - 1, self.beats_x - 1))
        # one-deep command queue: CTRL.start is taken while the loader is still busy; a
        # command with count N > 1 stays queued until the loader has taken it N times
        q_valid = Signal()
        q_op = Signal(2)
        q_left = Signal(16)          # further takes after the next one
        q_take = Signal()
        m.d.comb += self.cmd_ready.eq(~q_valid)
        with m.If(q_take):
            with m.If(q_left == 0):
                m.d.sync += q_valid.eq(0)
            with m.Else():
                m.d.sync += q_left.eq(q_left - 1)
        with m.If(self.cmd_start):
            with m.If(self.cmd_op == 3):
                m.d.comb += self.ev_bad_op.eq(1)
            with m.Elif(~q_valid | (q_take & (q_left == 0))):
                m.d.sync += [q_valid.eq(1), q_op.eq(self.cmd_op),
                             q_left.eq(Mux(self.cmd_count == 0, 0, self.cmd_count - 1))]
            with m.Else():
                m.d.comb += self.ev_cmd_busy.eq(1)
        lfsm = _Fsm(m, "load", ['IDLE', 'RECV', 'DRAIN'])
        # (unconditional assignments: see ev_bl_error below)
        m.d.comb += q_take.eq(lfsm.ongoing("IDLE") & q_valid & ~_pick(l_ptr, s_full))
        for i in range(ns):
            m.d.comb += [max_x[i].clear.eq(q_take & (l_ptr == i)),
                         max_d[i].clear.eq(q_take & (l_ptr == i))]
        with m.If(lfsm.ongoing("IDLE")):
            with m.If(q_take):
                m.d.sync += [l_op.eq(q_op), l_cnt.eq(0), l_side_d.eq(q_op == Op.BACKWARD)]
                lfsm.goto("RECV")
        with m.If(lfsm.ongoing("RECV")):
            m.d.comb += self.s_axis.tready.eq(1)
            with m.If(beat):
                for i in range(ns):
                    here = l_ptr == i
                    m.d.comb += [buf_x[i].push.eq(here & ~l_side_d),
                                 buf_d[i].push.eq(here & l_side_d),
                                 max_x[i].valid.eq(here & ~l_side_d),
                                 max_d[i].valid.eq(here & l_side_d)]
                m.d.sync += l_cnt.eq(l_cnt + 1)
                with m.If(self.s_axis.tlast & last_beat):
                    with m.If((l_op == Op.UPDATE) & ~l_side_d):
                        m.d.sync += [l_side_d.eq(1), l_cnt.eq(0)]
                    with m.Else():
                        for i in range(ns):
                            with m.If(l_ptr == i):
                                m.d.sync += [s_full[i].eq(1), s_op[i].eq(l_op)]
                        m.d.sync += l_ptr.eq(nxt(l_ptr))
                        lfsm.goto("IDLE")
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

        # ---- management stage: the update manager, one set at a time, in order ----
        m_ptr = Signal(range(ns))
        um_pend = Signal()           # UM results not yet taken by the conversion stage
        um_valid = Signal()
        um_take = Signal()           # comb from the conversion stage
        # (unconditional: an event assigned under ``If(um.done)`` stays X in Icarus until
        # UM first finishes — its inputs never change — and would poison the sticky flags)
        m.d.comb += [um_valid.eq(um_pend | um.done), self.ev_bl_error.eq(um.done & um.bl_error)]
        with m.If(um.done):
            m.d.sync += um_pend.eq(1)
        with m.If(um_take):
            m.d.sync += um_pend.eq(0)
        m.d.comb += [um.x_max.eq(_pick(m_ptr, [b.max for b in max_x])),
                     um.d_max.eq(_pick(m_ptr, [b.max for b in max_d]))]
        with m.If(_pick(m_ptr, s_full) & ~_pick(m_ptr, s_mgd)):
            with m.If(_pick(m_ptr, s_op) != Op.UPDATE):
                for i in range(ns):
                    with m.If(m_ptr == i):
                        m.d.sync += s_mgd[i].eq(1)
                m.d.sync += m_ptr.eq(nxt(m_ptr))
            with m.Elif(~um.busy & (~um_valid | um_take)):
                m.d.comb += um.start.eq(1)
                for i in range(ns):
                    with m.If(m_ptr == i):
                        m.d.sync += s_mgd[i].eq(1)
                m.d.sync += m_ptr.eq(nxt(m_ptr))

        # ---- conversion stage: NM (reads), then one rotation of the set through the
        # scalers into the banks' shadow chains ----
        c_ptr = Signal(range(ns))    # next set to convert
        c_set = Signal(range(ns))    # set being converted
        c_op = Signal(2)
        c_hold = Signal()            # keep the set (forward under bound management)
        c_reload = Signal()          # a bound-management retry of the running forward
        c_cnt = Signal(range(max(self.beats_x, self.beats_d) + 1))
        c_beats = Signal(range(max(self.beats_x, self.beats_d) + 1))
        st_gx, st_gd, st_bl = Signal.like(um.gain_x), Signal.like(um.gain_d), Signal(8)
        shadow_full = Signal()
        shadow_op = Signal(2)
        shadow_hold = Signal()
        shadow_set = Signal(range(ns))
        r_reload = Signal()          # comb from R: reload the shadow (BM retry)
        r_take = Signal()            # comb from R: the shadow is committed
        r_set = Signal(range(ns))
        r_hold = Signal()
        run_busy = Signal()
        run_reading = Signal()
        with m.If(r_take):
            m.d.sync += shadow_full.eq(0)
        cfsm = _Fsm(m, "convert", ['IDLE', 'NM', 'CONV'])
        next_op = Signal(2)
        m.d.comb += next_op.eq(_pick(c_ptr, s_op))
        with m.If(cfsm.ongoing("IDLE")):
            with m.If(r_reload):
                m.d.sync += [c_cnt.eq(0), c_reload.eq(1), c_set.eq(r_set)]
                cfsm.goto("CONV")
            with m.Elif(_pick(c_ptr, s_full) & _pick(c_ptr, s_mgd) & ~_pick(c_ptr, s_conv)
                        & ~shadow_full & ~(run_busy & r_hold)):
                with m.If(next_op == Op.UPDATE):
                    with m.If(um_valid):
                        m.d.comb += um_take.eq(1)
                        m.d.sync += [c_set.eq(c_ptr), c_op.eq(next_op), c_cnt.eq(0),
                                     c_reload.eq(0), c_hold.eq(0),
                                     c_beats.eq(max(self.beats_x, self.beats_d)),
                                     st_gx.eq(um.gain_x), st_gd.eq(um.gain_d), st_bl.eq(um.bl_out)]
                        cfsm.goto("CONV")
                with m.Elif(~run_reading):
                    m.d.comb += [nm.start.eq(1), bm.begin.eq(1)]
                    m.d.sync += [c_set.eq(c_ptr), c_op.eq(next_op), c_cnt.eq(0),
                                 c_reload.eq(0),
                                 c_hold.eq((next_op == Op.FORWARD) & self.bm_enable),
                                 c_beats.eq(Mux(next_op == Op.FORWARD, self.beats_x, self.beats_d))]
                    cfsm.goto("NM")
        with m.If(cfsm.ongoing("NM")):
            with m.If(nm.done):
                cfsm.goto("CONV")
        with m.If(cfsm.ongoing("CONV")):
            in_x = Signal()
            in_d = Signal()
            m.d.comb += [
                in_x.eq((c_op != Op.BACKWARD) & (c_cnt < self.beats_x)),
                in_d.eq((c_op != Op.FORWARD) & (c_cnt < self.beats_d)),
                pw_x.load_valid.eq(in_x & (c_op == Op.FORWARD)),
                pw_d.load_valid.eq(in_d & (c_op == Op.BACKWARD)),
                upd.x_load_valid.eq(in_x & (c_op == Op.UPDATE)),
                upd.d_load_valid.eq(in_d & (c_op == Op.UPDATE)),
            ]
            for i in range(ns):
                m.d.comb += [buf_x[i].rotate.eq(in_x & (c_set == i)),
                             buf_d[i].rotate.eq(in_d & (c_set == i))]
            m.d.sync += c_cnt.eq(c_cnt + 1)
            with m.If(c_cnt == c_beats - 1):
                m.d.sync += shadow_full.eq(1)
                with m.If(~c_reload):
                    m.d.sync += [shadow_op.eq(c_op), shadow_hold.eq(c_hold),
                                 shadow_set.eq(c_set), c_ptr.eq(nxt(c_ptr))]
                    with m.If(c_hold):
                        for i in range(ns):
                            with m.If(c_set == i):
                                m.d.sync += s_conv[i].eq(1)
                    with m.Else():
                        release(c_set)
                cfsm.goto("IDLE")
        m.d.comb += [
            scale_x.values.eq(_pick(c_set, [b.head for b in buf_x])),
            scale_d.values.eq(_pick(c_set, [b.head for b in buf_d])),
            prob_x.values.eq(scale_x.values), prob_d.values.eq(scale_d.values),
            prob_x.gain.eq(st_gx), prob_d.gain.eq(st_gd),
        ]
        # NM's alpha: max|v| of the set being taken (sampled by NM at its start)
        m.d.comb += nm.alpha.eq(Mux(next_op == Op.FORWARD, _pick(c_ptr, [b.max for b in max_x]),
                                    _pick(c_ptr, [b.max for b in max_d])))
        m.d.comb += [scale_x.in_mul.eq(nm.in_mul), scale_x.in_shift.eq(nm.in_shift),
                     scale_d.in_mul.eq(nm.in_mul), scale_d.in_shift.eq(nm.in_shift),
                     scale_x.bm_k.eq(bm.k), scale_d.bm_k.eq(bm.k)]

        # ---- run sequencer ----
        r_op = Signal(2)
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
            with m.If(shadow_full):
                m.d.comb += r_take.eq(1)
                m.d.sync += [r_op.eq(shadow_op), r_hold.eq(shadow_hold), r_cycles.eq(1),
                             r_set.eq(shadow_set),
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
                    m.d.comb += [upd.commit.eq(1), upd.start.eq(1), upd.bl.eq(st_bl)]
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
            with m.If(shadow_full):
                m.d.comb += [r_take.eq(1), pw_x.commit.eq(is_fwd), pw_d.commit.eq(~is_fwd),
                             rd_d.start.eq(is_fwd), rd_x.start.eq(~is_fwd)]
                m.d.sync += r_delay.eq(self.reset_cycles - 1)
                rfsm.goto("READ_DELAY")
        with m.If(rfsm.ongoing("READ_STREAM")):
            with m.If(~rd_busy):
                m.d.comb += self.ev_done.eq(1)
                with m.If(r_hold):
                    release(r_set)
                rfsm.goto("IDLE")
        with m.If(rfsm.ongoing("UPDATE")):
            with m.If(upd.done):
                m.d.comb += self.ev_done.eq(1)
                rfsm.goto("IDLE")
        m.d.comb += [
            self.busy.eq(~rfsm.ongoing("IDLE")), self.state.eq(rfsm.state),
            # a command is queued, or its vector is loading / being prepared
            self.loading.eq(q_valid | lfsm.ongoing("RECV") | lfsm.ongoing("DRAIN")
                            | Cat(*(f & ~c for f, c in zip(s_full, s_conv))).any()
                            | ~cfsm.ongoing("IDLE") | shadow_full),
            run_busy.eq(~rfsm.ongoing("IDLE")),
            run_reading.eq(~rfsm.ongoing("IDLE") & ~rfsm.ongoing("UPDATE")),
        ]
        return m
