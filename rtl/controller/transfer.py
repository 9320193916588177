"""The multi-conductance transfer: the sequencer of one transfer event (column reads, LSP
reset and polarity flip, refresh, closed-loop MSP programming) and the trigger that makes
one due every ``TRANSFER_EVERY`` updates.  Reference: :mod:`rpu.models.ref_transfer`."""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import MAX_LINES, TileConfig, check_instance
from rpu.spec.encodings import READ_PART_BITS, PulsePair, ReadPart, TransferState
from rpu.spec.formats import (CARRY_FRAC, REG_BITS, STEP_FRAC, bit_width, numerics,
                              transfer_format, transfer_registers)
from rpu.spec.timing import stream_beats

from ..common import StateRegister, counter_range, lane, magnitude, tree_sum

__all__ = ["TransferSequencer", "TransferTrigger"]

#: what a read's results do to the per-row registers (the step of the column sequence)
STEPS = ("A", "B", "L", "R", "M")     # G⁺, G⁻, LSP, LSP after reset, MSP verify


class TransferTrigger(wiring.Component):
    """Counts finished updates (``update_done``); when ``every`` have finished it restarts
    and, with ``auto``, raises ``pending`` until ``grant``."""

    def __init__(self):
        super().__init__({"update_done": In(1), "every": In(20), "auto": In(1), "grant": In(1),
                          "pending": Out(1)})

    def elaborate(self, platform):
        m = Module()
        count = Signal(20)
        with m.If(self.grant):
            m.d.sync += self.pending.eq(0)
        with m.If(self.update_done):
            with m.If(count + 1 >= self.every):
                m.d.sync += [count.eq(0), self.pending.eq(self.auto)]
            with m.Else():
                m.d.sync += count.eq(count + 1)
        return m


class TransferSequencer(wiring.Component):
    """One transfer event per ``start``: ``columns`` columns from the next one (``column``),
    each as :mod:`rpu.models.ref_transfer` says — reads of G⁺, G⁻ and the LSP, RESET of the
    LSP column (its polarity flips) and of the MSP pairs to refresh, a read of the LSP
    again, then verify reads of the MSP and programming rounds (``PULSE_UP`` slots SET G⁺
    on the rows below their target, ``PULSE_DOWN`` slots SET G⁻ on the rows above) until
    every row is inside the tolerance or ``max_iter`` rounds were run.

    Reads use the forward ADC interface (``rd_start``, ``conv_done``, ``rd_readout``,
    results ``res_*`` into the per-row registers; the tile scales them with noise
    management off): x-line j is driven at +V/2 while the interface integrates
    (``integ_en``), i.e. the one-hot DAC code dac_max, with ``read_part`` telling the array
    what to sense.  The per-row registers (target t, refresh flag, direction and pulse
    count) form a chain of ``B_d`` beats that rotates by one beat per result beat, like the
    vector buffers, so a row's registers sit at a fixed place while its lines are driven.
    States :class:`~rpu.spec.encodings.TransferState`; ``done`` pulses in the last cycle.
    """

    def __init__(self, cfg: TileConfig):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        nx, fmt = numerics(cfg), transfer_format(cfg)
        self.nx, self.fmt = nx, fmt
        self.lanes = cfg.host.stream_width
        self.beats = stream_beats(cfg.out_size, self.lanes)
        w_cols = bit_width(MAX_LINES)
        n, mm = cfg.in_size, cfg.out_size
        super().__init__({
            "start": In(1), "clear_counters": In(1),
            # registers (docs/numerics.md, "Transfer")
            "tol": In(REG_BITS), "inv_f": In(REG_BITS), "inv_step": In(REG_BITS),
            "refresh_thr": In(REG_BITS), "max_iter": In(8), "max_pulses": In(8),
            "columns": In(w_cols),
            # the forward ADC interface
            "rd_start": Out(1), "rd_readout": Out(1), "conv_done": In(1), "integ_en": In(1),
            "rd_busy": In(1), "res_valid": In(1), "res_ready": Out(1),
            "res_data": In(self.lanes * nx.result_bits),
            # crossbar side
            "x_pos": Out(n), "x_neg": Out(n), "d_pos": Out(mm), "d_neg": Out(mm),
            "slot": Out(1), "read_part": Out(READ_PART_BITS), "pulse_pair": Out(1),
            "cell_reset": Out(1), "polarity": Out(n, init=transfer_registers(cfg)["polarity"]),
            # status and counters
            "busy": Out(1), "done": Out(1), "state": Out(4), "column": Out(counter_range(n)),
            "columns_done": Out(32), "sweeps": Out(32), "rounds_total": Out(32),
            "rounds_max": Out(8), "nonconverged": Out(32), "refreshes": Out(32),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, nx, fmt, lanes = self.cfg, self.nx, self.fmt, self.lanes
        n, mm = cfg.in_size, cfg.out_size
        rows = self.beats * lanes
        tv = fmt.value_bits
        fsm = StateRegister(m, "transfer", [s.name for s in TransferState])
        m.d.comb += [self.state.eq(fsm.state), self.busy.eq(~fsm.ongoing("IDLE"))]

        step = Signal(range(len(STEPS)))
        part = Signal(READ_PART_BITS)
        k = Signal(8)                                  # programming rounds of this column
        left = Signal(bit_width(MAX_LINES))            # columns left in this event
        s = Signal(8)                                  # slot of the pulse phase
        sc = Signal(counter_range(cfg.converters.slot_cycles))
        col = self.column

        # per-row registers, position p = row p (after whole rotations)
        t = [Signal(tv, name=f"t{i}", reset_less=True) for i in range(rows)]
        flag = [Signal(name=f"refresh{i}", reset_less=True) for i in range(rows)]
        up = [Signal(name=f"up{i}", reset_less=True) for i in range(rows)]
        cnt = [Signal(8, name=f"n{i}", reset_less=True) for i in range(rows)]
        # accumulators of a read
        any_up, any_dn = Signal(), Signal()
        n_up, n_dn = Signal(8), Signal(8)
        outside = Signal(counter_range(rows + 1))

        # -- one result beat: lanes l combine with the head rows l --
        beat = Signal()
        m.d.comb += beat.eq(fsm.ongoing("READ_STREAM") & self.res_valid)
        new_t, new_f, new_u, new_n, acts, ups, nus, nds, flags = [], [], [], [], [], [], [], [], []
        for l in range(lanes):
            y = Signal(signed(tv), name=f"y{l}")
            m.d.comb += y.eq(lane(self.res_data, l, nx.result_bits))
            ay = Signal(tv, name=f"ay{l}")
            m.d.comb += ay.eq(magnitude(y))
            cy = Signal(signed(tv + 1), name=f"carry{l}")
            cmag = (ay * self.inv_f[:CARRY_FRAC + 1] + (1 << (CARRY_FRAC - 1))) >> CARRY_FRAC
            m.d.comb += cy.eq(Mux(y < 0, -cmag[:tv], cmag[:tv]))
            th = t[l].as_signed()
            e = Signal(signed(tv + 1), name=f"e{l}")
            m.d.comb += e.eq(th - y)
            ae = Signal(tv + 1, name=f"ae{l}")
            m.d.comb += ae.eq(magnitude(e))
            act = Signal(name=f"act{l}")
            m.d.comb += act.eq(ae > self.tol)
            est = Signal(tv + 1 + REG_BITS - STEP_FRAC + 1, name=f"est{l}")
            m.d.comb += est.eq((ae * self.inv_step + (1 << STEP_FRAC) - 1) >> STEP_FRAC)
            npl = Signal(8, name=f"pulses{l}")
            m.d.comb += npl.eq(Mux(~act, 0, Mux(est > self.max_pulses, self.max_pulses,
                                                 Mux(est == 0, 1, est[:8]))))
            above = Signal(name=f"above{l}")
            m.d.comb += above.eq(y > self.refresh_thr)
            nt = Signal(tv, name=f"nt{l}")
            m.d.comb += nt.eq(Mux(step == 0, y,
                              Mux(step == 1, th - y,
                              Mux(step == 2, th + cy,
                              Mux(step == 3, th - cy, th)))))
            nf = Mux(step == 0, above, Mux(step == 1, flag[l] & above, flag[l]))
            is_m = step == 4
            new_t.append(nt)
            new_f.append(nf)
            new_u.append(Mux(is_m, e > 0, up[l]))
            new_n.append(Mux(is_m, npl, cnt[l]))
            acts.append(act)
            ups.append(act & (e > 0))
            nus.append(Mux(e > 0, npl, 0))
            nds.append(Mux(e > 0, 0, npl))
            flags.append(flag[l] & above)
        with m.If(beat):
            for regs, new in ((t, new_t), (flag, new_f), (up, new_u), (cnt, new_n)):
                for i in range(rows - lanes):
                    m.d.sync += regs[i].eq(regs[i + lanes])
                for l in range(lanes):
                    m.d.sync += regs[rows - lanes + l].eq(new[l])
            with m.If(step == 4):
                bmax_u = _max(nus)
                bmax_d = _max(nds)
                m.d.sync += [
                    any_up.eq(any_up | Cat(*ups).any()),
                    any_dn.eq(any_dn | Cat(*[a & ~u for a, u in zip(acts, ups)]).any()),
                    n_up.eq(Mux(bmax_u > n_up, bmax_u, n_up)),
                    n_dn.eq(Mux(bmax_d > n_dn, bmax_d, n_dn)),
                    outside.eq(outside + tree_sum(acts)),
                ]
            with m.If(step == 1):
                m.d.sync += self.refreshes.eq(self.refreshes + tree_sum(flags))

        # -- counters --
        counters = (self.columns_done, self.sweeps, self.rounds_total, self.rounds_max,
                    self.nonconverged, self.refreshes)
        with m.If(self.clear_counters):
            m.d.sync += [c.eq(0) for c in counters]

        def read(next_step, next_part):
            m.d.sync += [step.eq(next_step), part.eq(next_part)]
            fsm.goto("READ_START")

        last_col = col == n - 1
        with m.If(fsm.ongoing("IDLE")):
            with m.If(self.start):
                m.d.sync += [left.eq(Mux(self.columns == 0, 1, self.columns)), k.eq(0)]
                read(0, ReadPart.MSP_PLUS)
        with m.If(fsm.ongoing("READ_START")):
            m.d.comb += self.rd_start.eq(1)
            m.d.sync += [any_up.eq(0), any_dn.eq(0), n_up.eq(0), n_dn.eq(0), outside.eq(0)]
            fsm.goto("READ_WAIT")
        with m.If(fsm.ongoing("READ_WAIT")):
            with m.If(self.conv_done):
                m.d.comb += self.rd_readout.eq(1)
                fsm.goto("READ_STREAM")
        with m.If(fsm.ongoing("READ_STREAM")):
            m.d.comb += self.res_ready.eq(1)
            with m.If(~self.rd_busy):
                with m.If(step == 0):
                    read(1, ReadPart.MSP_MINUS)
                with m.Elif(step == 1):
                    read(2, ReadPart.LSP)
                with m.Elif(step == 2):
                    fsm.goto("RESET_LSP")
                with m.Elif(step == 3):
                    m.d.sync += k.eq(0)
                    read(4, ReadPart.MSP)
                with m.Elif(~(any_up | any_dn)):
                    fsm.goto("NEXT")
                with m.Elif(k == self.max_iter):
                    m.d.sync += self.nonconverged.eq(self.nonconverged + outside)
                    fsm.goto("NEXT")
                with m.Else():
                    m.d.sync += [s.eq(0), sc.eq(0)]
                    with m.If(any_up):
                        fsm.goto("PULSE_UP")
                    with m.Else():
                        fsm.goto("PULSE_DOWN")
        with m.If(fsm.ongoing("RESET_LSP")):
            m.d.sync += self.polarity.eq(self.polarity ^ (Const(1, n) << col)[:n])
            fsm.goto("RESET_MSP")
        with m.If(fsm.ongoing("RESET_MSP")):
            read(3, ReadPart.LSP)
        for name, nmax, other in (("PULSE_UP", n_up, any_dn), ("PULSE_DOWN", n_dn, Const(0))):
            with m.If(fsm.ongoing(name)):
                m.d.comb += self.slot.eq(sc == 0)
                with m.If(sc == cfg.converters.slot_cycles - 1):
                    m.d.sync += [sc.eq(0), s.eq(s + 1)]
                    with m.If(s == nmax - 1):
                        m.d.sync += s.eq(0)
                        if name == "PULSE_UP":
                            with m.If(other):
                                fsm.goto("PULSE_DOWN")
                            with m.Else():
                                m.d.sync += k.eq(k + 1)
                                read(4, ReadPart.MSP)
                        else:
                            m.d.sync += k.eq(k + 1)
                            read(4, ReadPart.MSP)
                with m.Else():
                    m.d.sync += sc.eq(sc + 1)
        with m.If(fsm.ongoing("NEXT")):
            m.d.sync += [self.columns_done.eq(self.columns_done + 1),
                         self.rounds_total.eq(self.rounds_total + k),
                         self.rounds_max.eq(Mux(k > self.rounds_max, k, self.rounds_max)),
                         col.eq(Mux(last_col, 0, col + 1)), left.eq(left - 1), k.eq(0)]
            with m.If(last_col):
                m.d.sync += self.sweeps.eq(self.sweeps + 1)
            with m.If(left == 1):
                m.d.comb += self.done.eq(1)
                fsm.goto("IDLE")
            with m.Else():
                read(0, ReadPart.MSP_PLUS)

        # -- drives --
        onehot = Signal(n)
        m.d.comb += onehot.eq((Const(1, n) << col)[:n])
        reading = fsm.ongoing("READ_START") | fsm.ongoing("READ_WAIT") | fsm.ongoing("READ_STREAM")
        r_lsp, r_msp = fsm.ongoing("RESET_LSP"), fsm.ongoing("RESET_MSP")
        p_up, p_dn = fsm.ongoing("PULSE_UP"), fsm.ongoing("PULSE_DOWN")
        x_on = (fsm.ongoing("READ_WAIT") & self.integ_en) | p_up | r_lsp | r_msp
        m.d.comb += [
            self.x_pos.eq(Mux(x_on, onehot, 0)), self.x_neg.eq(Mux(p_dn, onehot, 0)),
            self.read_part.eq(Mux(reading, part, ReadPart.COMBINED)),
            self.cell_reset.eq(r_lsp | r_msp),
            self.pulse_pair.eq(Mux(p_up | p_dn | r_msp, PulsePair.MSP, PulsePair.LSP)),
        ]
        fire = [cnt[i] > s for i in range(mm)]
        m.d.comb += [
            self.d_neg.eq(Cat(*[(p_up & up[i] & fire[i]) | r_lsp | (r_msp & flag[i])
                                for i in range(mm)])),
            self.d_pos.eq(Cat(*[p_dn & ~up[i] & fire[i] for i in range(mm)])),
        ]
        return m


def _max(values):
    """The largest of unsigned ``values`` (a Mux tree)."""
    level = list(values)
    while len(level) > 1:
        level = [Mux(level[i] > level[i + 1], level[i], level[i + 1]) if i + 1 < len(level)
                 else level[i] for i in range(0, len(level), 2)]
    return level[0]
