"""The conversion stage: a managed set's values through the input or probability scalers
into the banks' shadow registers."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import TileConfig
from rpu.spec.encodings import NM_BITS, OP_BITS, Op
from rpu.spec.formats import BL_LIMIT, BM_K_BITS, REG_BITS, bit_width, numerics

from rpu.spec.timing import scaler_cycles

from ..common import StateRegister, counter_range, pick
from ..management import LaneScaler, NoiseManager

__all__ = ["ConvertStage"]


class ConvertStage(wiring.Component):
    """Takes the sets in order (``set``) once they are managed and the banks' shadow is free:

    * an update latches the manager's gains and BL (``um_take``);
    * a read runs the :class:`~rpu.rtl.management.NoiseManager` on the set's abs-max (and
      ``bm_begin`` starts a read for the bound manager) — only while no read is running,
      since both are shared;

then rotates the set once through the pipelined :class:`~rpu.rtl.management.LaneScaler`
    of each side into the shadow chains (``rotate_x``/``rotate_d``; ``*_load``, the banks'
    load strobes, and the codes ``dac_*``/``prob_*`` follow :func:`~rpu.spec.timing.scaler_cycles`
    later) and frees the set (``release``, after its last beat was read) — except a forward
    under bound management, which keeps it (``mark_converted``) for retries and holds the
    stage until that forward completes.  The shadow is full once the last codes are in.  A
    retry (``run_reload``) converts the kept set ``run_set`` again with the new halving.
    ``shadow_full`` with ``shadow_op``/``shadow_hold``/``shadow_set``: what the shadow
    holds, until the run sequencer commits it (``run_take``)."""

    def __init__(self, cfg: TileConfig, sets: int, beats_x: int, beats_d: int, lanes: int):
        self.cfg, self.sets, self.beats_x, self.beats_d, self.lanes = cfg, sets, beats_x, beats_d, lanes
        nx = self.nx = numerics(cfg)
        idx = counter_range(sets)
        beat = lanes * nx.value_bits
        w_bl = bit_width(BL_LIMIT)
        super().__init__({
            "full": In(sets), "managed": In(sets), "converted": In(sets),
            "op": In(OP_BITS).array(sets),
            "max_x": In(nx.value_bits).array(sets), "max_d": In(nx.value_bits).array(sets),
            "head_x": In(beat), "head_d": In(beat),
            "um_valid": In(1), "um_take": Out(1), "gain_x": In(nx.gain_bits),
            "gain_d": In(nx.gain_bits), "um_bl": In(w_bl),
            "bm_k": In(BM_K_BITS), "bm_begin": Out(1),
            "bm_enable": In(1), "nm_mode": In(NM_BITS), "out_scale": In(REG_BITS),
            "run_reload": In(1), "run_set": In(idx), "run_take": In(1), "run_busy": In(1),
            "run_hold": In(1), "run_reading": In(1),
            "set": Out(idx), "rotate_x": Out(1), "rotate_d": Out(1), "mark_converted": Out(1),
            "release": Out(1), "busy": Out(1),
            "shadow_full": Out(1), "shadow_op": Out(OP_BITS), "shadow_hold": Out(1),
            "shadow_set": Out(idx),
            "pw_x_load": Out(1), "pw_d_load": Out(1), "upd_x_load": Out(1), "upd_d_load": Out(1),
            "dac_x": Out(lanes * nx.dac_bits), "dac_d": Out(lanes * nx.dac_bits),
            "prob_x": Out(lanes * (nx.prob_bits + 2)), "prob_d": Out(lanes * (nx.prob_bits + 2)),
            "bl": Out(w_bl),
            "out_mul": Out(nx.out_mul_bits), "out_exp": Out(counter_range(nx.value_bits + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, lanes, ns = self.cfg, self.lanes, self.sets
        nx = self.nx
        m.submodules.nm = nm = NoiseManager(cfg)
        m.submodules.scaler_x = scaler_x = LaneScaler(cfg, lanes)
        m.submodules.scaler_d = scaler_d = LaneScaler(cfg, lanes)
        lat = scaler_cycles(cfg)
        beats = max(self.beats_x, self.beats_d)

        ptr = Signal(counter_range(ns))    # next set to convert
        op = Signal(OP_BITS)
        hold = Signal()              # keep the set (forward under bound management)
        reload = Signal()            # a bound-management retry of the running forward
        cnt = Signal(counter_range(beats + lat + 1))
        last = Signal(counter_range(beats + 1))
        gain_x, gain_d = Signal.like(self.gain_x), Signal.like(self.gain_d)
        with m.If(self.run_take):
            m.d.sync += self.shadow_full.eq(0)
        fsm = StateRegister(m, "convert", ["IDLE", "NM", "CONV"])
        next_op = Signal(OP_BITS)
        m.d.comb += next_op.eq(pick(ptr, self.op))
        with m.If(fsm.ongoing("IDLE")):
            with m.If(self.run_reload):
                m.d.sync += [cnt.eq(0), reload.eq(1), self.set.eq(self.run_set)]
                fsm.goto("CONV")
            with m.Elif(pick(ptr, self.full) & pick(ptr, self.managed) & ~pick(ptr, self.converted)
                        & ~self.shadow_full & ~(self.run_busy & self.run_hold)):
                with m.If(next_op == Op.UPDATE):
                    with m.If(self.um_valid):
                        m.d.comb += self.um_take.eq(1)
                        m.d.sync += [self.set.eq(ptr), op.eq(next_op), cnt.eq(0),
                                     reload.eq(0), hold.eq(0), last.eq(beats),
                                     gain_x.eq(self.gain_x), gain_d.eq(self.gain_d),
                                     self.bl.eq(self.um_bl)]
                        fsm.goto("CONV")
                with m.Elif(~self.run_reading):
                    m.d.comb += [nm.start.eq(1), self.bm_begin.eq(1)]
                    m.d.sync += [self.set.eq(ptr), op.eq(next_op), cnt.eq(0), reload.eq(0),
                                 hold.eq((next_op == Op.FORWARD) & self.bm_enable),
                                 last.eq(Mux(next_op == Op.FORWARD, self.beats_x, self.beats_d))]
                    fsm.goto("NM")
        with m.If(fsm.ongoing("NM")):
            with m.If(nm.done):
                fsm.goto("CONV")
        # the banks' load strobes of a beat follow it through the scalers' pipeline
        strobes = Signal(4)                # pw_x, pw_d, upd_x, upd_d of the beat read now
        with m.If(fsm.ongoing("CONV")):
            in_x = Signal()
            in_d = Signal()
            m.d.comb += [
                in_x.eq((op != Op.BACKWARD) & (cnt < self.beats_x)),
                in_d.eq((op != Op.FORWARD) & (cnt < self.beats_d)),
                strobes.eq(Cat(in_x & (op == Op.FORWARD), in_d & (op == Op.BACKWARD),
                               in_x & (op == Op.UPDATE), in_d & (op == Op.UPDATE))),
                self.rotate_x.eq(in_x), self.rotate_d.eq(in_d),
            ]
            m.d.sync += cnt.eq(cnt + 1)
            with m.If((cnt == last - 1) & ~reload):      # the set's last beat is read
                m.d.sync += ptr.eq(Mux(ptr == ns - 1, 0, ptr + 1))
                with m.If(hold):
                    m.d.comb += self.mark_converted.eq(1)
                with m.Else():
                    m.d.comb += self.release.eq(1)
            with m.If(cnt == last + lat - 1):            # ... and its codes are in the shadow
                m.d.sync += self.shadow_full.eq(1)
                with m.If(~reload):
                    m.d.sync += [self.shadow_op.eq(op), self.shadow_hold.eq(hold),
                                 self.shadow_set.eq(self.set)]
                fsm.goto("IDLE")
        delayed = strobes
        for k in range(lat):
            d = Signal(4, name=f"strobes_{k + 1}")
            m.d.sync += d.eq(delayed)
            delayed = d
        m.d.comb += [self.pw_x_load.eq(delayed[0]), self.pw_d_load.eq(delayed[1]),
                     self.upd_x_load.eq(delayed[2]), self.upd_d_load.eq(delayed[3])]
        # a read's scale: the noise manager's in_scale halved k times by bound management
        read_scale = Signal(nx.in_scale_bits)
        m.d.sync += read_scale.eq(nm.in_scale >> self.bm_k)
        update = op == Op.UPDATE
        cb = scaler_x.code_bits
        for sc, head, gain, dac, prob in ((scaler_x, self.head_x, gain_x, self.dac_x, self.prob_x),
                                          (scaler_d, self.head_d, gain_d, self.dac_d, self.prob_d)):
            m.d.comb += [sc.values.eq(head), sc.scale.eq(Mux(update, gain, read_scale)),
                         sc.limit.eq(Mux(update, nx.prob_one, nx.dac_max))]
            for l in range(lanes):
                code = sc.codes[l * cb:(l + 1) * cb]
                m.d.comb += [dac[l * nx.dac_bits:(l + 1) * nx.dac_bits].eq(code),
                             prob[l * (nx.prob_bits + 2):(l + 1) * (nx.prob_bits + 2)].eq(code)]
        m.d.comb += [
            # NM's alpha: max|v| of the set being taken (sampled by NM at its start)
            nm.alpha.eq(Mux(next_op == Op.FORWARD, pick(ptr, self.max_x), pick(ptr, self.max_d))),
            nm.mode.eq(self.nm_mode), nm.out_scale.eq(self.out_scale),
            self.out_mul.eq(nm.out_mul), self.out_exp.eq(nm.out_exp),
            self.busy.eq(~fsm.ongoing("IDLE")),
        ]
        return m
