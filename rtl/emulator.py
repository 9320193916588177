"""Emulated crossbar in gateware: a prototyping aid for FPGA boards, **not part of the tile**.

:class:`CrossbarEmulator` connects to the tile's crossbar side exactly as the tile is
generated (line drives, ``upd_slot``, the two ``AnalogReadSignature`` ports) and plays the
analog array digitally: device states in block RAM, a constant-step device with per-device
gain and imbalance, saturating bounds, per-pulse noise from an on-chip LFSR, integrators
and ADCs as integer accumulators and quantisers (semantics :class:`rpu.config.
EmulatorConfig`, formats and formulas :mod:`rpu.spec.emulator`, bit-exact reference
:class:`rpu.models.ref_emulator.EmulatedCrossbarRef`).

An analog array updates every device of a slot at once and integrates a read in its
window; one block-RAM row (all N devices of a d-line) per cycle cannot, so the emulator
**freezes the tile** while it works: its ``tile_en`` output is the clock enable of the
tile's domain (:class:`EmulatedTile` wraps the tile in Amaranth's ``EnableInserter``), low
from the cycle after the tile shows an update slot (or the first conversion of a read)
until the rows are done.  A frozen tile holds every register, so what it does per slot and
per read cycle, and its own cycle counts, are those of the tile against an analog array;
only wall-clock cycles grow (counted in ``EMU_STALL_*``).  The emulator samples the tile's
outputs only in enabled cycles and answers conversions ``adc_latency`` enabled cycles after
their start, as the Python front-end does.

:class:`EmulatedTile` is tile + emulator with only host ports (AXI4-Lite, AXI4-Stream in
and out), clock and reset: one address space, the tile's registers below
``emulator_window(cfg, ecfg).base`` and the emulator's window (status, counters, a row
read-out and a state write) above.  The host channels are held while the tile is frozen
(ready low towards a master; a beat the tile offers stays valid, and one taken while frozen
is completed inside the tile when it runs again), so the AXI rules hold on the outside.
"""

from __future__ import annotations

from amaranth import Cat, Const, EnableInserter, Module, Mux, Signal
from amaranth.hdl import signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out, flipped

from rpu.config import EmulatorConfig, TileConfig, check_instance
from rpu.spec.emulator import (DRAW_BITS, DRAW_LEAP, EMU_LFSR_TAPS, EMU_LFSR_WIDTH,
                               ENGINE_STATES, column_taps, emu_format, emu_seed_state,
                               emulator_register_map, emulator_window, read_chunks, read_lanes)
from rpu.spec.registers import register_map

from .axi import AXI4LiteSignature, AXI4StreamSignature, AXILiteRegisters, register_layout
from .common import StateRegister, counter_range, pick, tree_sum
from .controller import AnalogReadSignature
from .lfsr import LFSR
from .tile import Tile

__all__ = ["CrossbarEmulator", "EmulatedTile", "EMULATOR_TOP_NAME", "column_draws"]

EMULATOR_TOP_NAME = "rpu_emulated_tile"


def column_draws(state, cols: int) -> list:
    """Each column's 8-bit draw from the LFSR ``state``: XOR of its state windows."""
    out = []
    for taps in column_taps(cols):
        acc = state[taps[0]:taps[0] + DRAW_BITS]
        for o in taps[1:]:
            acc = acc ^ state[o:o + DRAW_BITS]
        out.append(acc)
    return out


def _spread(u, bits: int):
    """Odd spread 2u − (2^bits − 1) of the low ``bits`` bits of ``u`` (signed)."""
    if bits == 0:
        return Const(0, 2).as_signed()
    return (Cat(Const(0, 1), u[:bits]).as_unsigned() - ((1 << bits) - 1)).as_signed()


def _clip(v, lim: int):
    return Mux(v > lim, lim, Mux(v < -lim, -lim, v))


class CrossbarEmulator(wiring.Component):
    """``CrossbarEmulator(cfg, ecfg=None)``: the array behind the tile's crossbar ports.

    Ports: ``x_pos``/``x_neg`` (N), ``d_pos``/``d_neg`` (M), ``upd_slot`` in; ``adc_d``,
    ``adc_x`` (the tile's ``AnalogReadSignature``, flipped: ``done``/``codes`` out);
    ``tile_en`` out (the tile's clock enable); ``bus`` (AXI4-Lite slave of the emulator's
    register window, :func:`rpu.spec.emulator.emulator_register_map`).
    """

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig | None = None):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.ecfg = check_instance("ecfg", EmulatorConfig() if ecfg is None else ecfg, EmulatorConfig)
        if cfg.mc.enabled:
            raise ValueError("mc.enabled must be false: the emulator models a single-device array")
        self.fmt = emu_format(cfg, self.ecfg)
        self.regmap = emulator_register_map(cfg, self.ecfg)
        conv = cfg.converters
        super().__init__({
            "x_pos": In(cfg.in_size), "x_neg": In(cfg.in_size),
            "d_pos": In(cfg.out_size), "d_neg": In(cfg.out_size), "upd_slot": In(1),
            "adc_d": In(AnalogReadSignature(cfg.num_adcs_d, conv.adc_bits, conv.lines_per_adc)),
            "adc_x": In(AnalogReadSignature(cfg.num_adcs_x, conv.adc_bits, conv.lines_per_adc)),
            "tile_en": Out(1),
            "bus": In(AXI4LiteSignature(self.regmap.addr_width)),
        })

    # -- the tile-time front: integrators and conversion answers (enabled cycles only) --
    def _integrators(self, m, en, side, pos, neg, lines):
        cfg, f = self.cfg, self.fmt
        nets = [Signal(f.net_bits, name=f"net_{side}{j}") for j in range(lines)]
        sc = cfg.converters.slot_cycles
        first = Const(1)
        port = getattr(self, "adc_d" if side == "x" else "adc_x")  # forward reads x-lines
        if sc > 1:
            phase = Signal(range(sc), name=f"phase_{side}")
            with m.If(en & port.integ_reset):
                m.d.sync += phase.eq(0)
            with m.Elif(en & port.integ_en):
                m.d.sync += phase.eq(Mux(phase == sc - 1, 0, phase + 1))
            first = phase == 0
        values = [n.as_signed() for n in nets]
        with m.If(en & port.integ_reset):
            m.d.sync += [n.eq(0) for n in nets]
        with m.Elif(en & port.integ_en & first):
            m.d.sync += [n.eq(v + pos[j] - neg[j]) for j, (n, v) in enumerate(zip(nets, values))]
        return values

    def _answer(self, m, en, port, codes_packed, num_adcs, name):
        """``done`` ``adc_latency`` enabled cycles after each ``start``, with group ``sel``."""
        cfg = self.cfg
        lat = cfg.converters.adc_latency
        groups = cfg.converters.lines_per_adc
        cnt = Signal(range(lat + 1), name=f"{name}_cnt")
        grp = Signal(counter_range(groups), name=f"{name}_grp")
        with m.If(en):
            with m.If(port.start):
                m.d.sync += [cnt.eq(lat), grp.eq(port.sel)]
            with m.Elif(cnt != 0):
                m.d.sync += cnt.eq(cnt - 1)
        width = num_adcs * cfg.converters.adc_bits
        m.d.comb += [port.done.eq(cnt == 1),
                     port.codes.eq(pick(grp, [codes_packed[g * width:(g + 1) * width]
                                              for g in range(groups)]))]

    def elaborate(self, platform):
        cfg, f, e = self.cfg, self.fmt, self.ecfg
        M, N, D, B, P = f.rows, f.cols, f.device_bits, f.state_bits, f.step_bits
        m = Module()
        fsm = StateRegister(m, "emu", ENGINE_STATES)
        idle = fsm.ongoing("IDLE")
        en = Signal()
        m.d.comb += [en.eq(idle), self.tile_en.eq(en)]

        # ---- registers (the host window) ----
        m.submodules.regs = regs = AXILiteRegisters(self.regmap)
        wiring.connect(m, flipped(self.bus), regs.bus)
        for name in ("EMU_ID", "EMU_FORMAT", "EMU_STEP", "EMU_SEED"):
            m.d.comb += getattr(regs, name.lower()).eq(self.regmap[name].reset)

        # ---- memory: one row of N devices per word (at least two words: a one-word
        # memory has a zero-width address, which Verilator's lint refuses) ----
        m.submodules.mem = mem = Memory(shape=unsigned(f.row_bits), depth=max(M, 2), init=[])
        rp, wp = mem.read_port(), mem.write_port()

        # ---- random source ----
        m.submodules.lfsr = lfsr = LFSR(EMU_LFSR_WIDTH, EMU_LFSR_TAPS, DRAW_LEAP)
        m.d.comb += lfsr.seed.eq(emu_seed_state(e))
        draws = column_draws(lfsr.state, N)

        # ---- tile-time front ----
        net_x = self._integrators(m, en, "x", self.x_pos, self.x_neg, N)   # forward
        net_d = self._integrators(m, en, "d", self.d_pos, self.d_neg, M)   # backward
        res_d = Signal(M * f.adc_bits)                  # forward codes, row 0 lowest
        codes_x = Signal(N * f.adc_bits)                # backward codes
        self._answer(m, en, self.adc_d, res_d, cfg.num_adcs_d, "ans_d")
        self._answer(m, en, self.adc_x, codes_x, cfg.num_adcs_x, "ans_x")

        # ---- requests (sampled in enabled cycles) ----
        xp, xn, dp, dn = self.x_pos, self.x_neg, self.d_pos, self.d_neg
        row_mask = Signal(M)
        m.d.comb += row_mask.eq((dn & xp.any().replicate(M)) | (dp & xn.any().replicate(M)))
        upd_req = self.upd_slot & row_mask.any()
        fwd_req = self.adc_d.start & (self.adc_d.sel == 0)
        bwd_req = self.adc_x.start & (self.adc_x.sel == 0)

        # host commands
        row_cmd = regs.emu_row[:16]
        poke_col, poke_val = regs.emu_poke[:16], regs.emu_poke[16:32].as_signed()
        host_row = Signal(range(max(M, 2)))
        pend_load, pend_poke, bad = Signal(), Signal(), Signal()
        p_col = Signal(range(max(N, 2)))
        p_val = Signal(signed(B))
        with m.If(regs.emu_row_stb):
            with m.If(row_cmd < M):
                m.d.sync += [host_row.eq(row_cmd), pend_load.eq(1)]
            with m.Else():
                m.d.sync += bad.eq(1)
        with m.If(regs.emu_poke_stb):
            with m.If(poke_col < N):
                m.d.sync += [p_col.eq(poke_col), p_val.eq(_clip(poke_val, f.state_max)),
                             pend_poke.eq(1)]
            with m.Else():
                m.d.sync += bad.eq(1)

        # ---- the engine ----
        lat_xp, lat_xn, lat_dp, lat_dn = (Signal(len(s), name=f"lat_{n}") for s, n in
                                          ((xp, "xp"), (xn, "xn"), (dp, "dp"), (dn, "dn")))
        rem = Signal(M)                                 # rows left to issue (update)
        row_ctr = Signal(range(max(M, 2)))              # next row to issue (read)
        C, L = read_chunks(cfg, e), read_lanes(cfg, e)  # a read: C cycles per row, L products each
        chunk_ctr = Signal(range(max(C, 2)))            # next chunk of that row to issue
        last = Signal()                                 # read: the last row was issued
        fwd = Signal()                                  # read direction latched
        issue = Signal()
        issue_row = Signal(range(max(M, 2)))
        b_valid, b_row = Signal(), Signal(range(max(M, 2)))
        issue_chunk, b_chunk = Signal(range(max(C, 2))), Signal(range(max(C, 2)))
        m.d.comb += [rp.addr.eq(issue_row), rp.en.eq(1)]

        # the lowest row left: of the slot's rows when a job is accepted (its first read is
        # issued in that cycle), of the remaining ones during the job
        enc = Signal(M)
        lowest = Signal(M)
        m.d.comb += [enc.eq(Mux(idle, row_mask, rem)), lowest.eq(enc & (~enc + 1))]
        low_idx = Cat(*[Cat(*[lowest[i] for i in range(M) if (i >> k) & 1]).any()
                        for k in range(len(issue_row))])

        with m.If(fsm.ongoing("UPDATE")):
            m.d.comb += [issue.eq(rem != 0), issue_row.eq(low_idx)]
            m.d.sync += rem.eq(rem & ~lowest)
        with m.Elif(fsm.ongoing("READ")):
            m.d.comb += [issue.eq(~last), issue_row.eq(row_ctr), issue_chunk.eq(chunk_ctr)]
            with m.If(~last):
                with m.If(chunk_ctr == C - 1):
                    m.d.sync += [chunk_ctr.eq(0), row_ctr.eq(row_ctr + 1),
                                 last.eq(row_ctr == M - 1)]
                with m.Else():
                    m.d.sync += chunk_ctr.eq(chunk_ctr + 1)
        m.d.sync += [b_valid.eq(issue), b_row.eq(issue_row), b_chunk.eq(issue_chunk)]

        # stage B: the row read last cycle
        data = rp.data
        s = [data[j * D:j * D + B].as_signed() for j in range(N)]
        ups = [data[j * D + B:j * D + B + P] for j in range(N)]
        downs = [data[j * D + B + P:j * D + B + 2 * P] for j in range(N)]
        b_dp, b_dn = lat_dp.bit_select(b_row, 1), lat_dn.bit_select(b_row, 1)
        pu = Cat(*[lat_xp[j] & b_dn for j in range(N)])
        pd = Cat(*[lat_xn[j] & b_dp for j in range(N)])
        new_s = []
        for j in range(N):
            n_j = _spread(draws[j], f.noise_bits)
            delta = Mux(pu[j], ups[j] + n_j, n_j - downs[j])
            moved = _clip(s[j] + delta, f.state_max)
            new_s.append(Mux(pu[j] | pd[j], moved, s[j]))
        poke_row = [Mux(p_col == j, p_val, s[j]) for j in range(N)]

        def row_word(states):
            return Cat(*[Cat(states[j][:B], ups[j], downs[j]) for j in range(N)])

        # read products: forward Σ_j s_ij·net_j, backward acc_j += s_ij·net_i; a row in C
        # cycles (chunks), L products in each: lane l works on column b_chunk·L + l
        b_net = Cat(*net_d).word_select(b_row, f.net_bits).as_signed()
        cols = [[c * L + lane for c in range(C)] for lane in range(L)]
        lane_s = [pick(b_chunk, [s[j] if j < N else Const(0, signed(B)) for j in cs])
                  for cs in cols]
        lane_n = [pick(b_chunk, [net_x[j] if j < N else Const(0, signed(f.net_bits)) for j in cs])
                  for cs in cols]
        prods = [a * Mux(fwd, n, b_net) for a, n in zip(lane_s, lane_n)]
        partial = tree_sum(prods)
        dot_acc = Signal(signed(f.acc_bits))            # forward: the row's earlier chunks
        dot = Signal(signed(f.acc_bits))
        m.d.comb += dot.eq(Mux(b_chunk == 0, 0, dot_acc) + partial)
        half = (1 << f.read_shift) >> 1

        def convert(acc):
            return _clip((acc + half) >> f.read_shift, f.adc_max)[:f.adc_bits]

        accs = [Signal(signed(f.acc_bits), name=f"acc{j}") for j in range(N)]
        m.d.comb += codes_x.eq(Cat(*[convert(a) for a in accs]))
        buf = [Signal(signed(B), name=f"buf{j}") for j in range(N)]
        m.d.comb += regs.emu_states.eq(pick(regs.emu_states_index,
                                            [b.as_signed() for b in buf]))

        cnt = {name: Signal(32, name=name.lower()) for name in (
            "EMU_STALL_UPDATE", "EMU_STALL_READ", "EMU_STALL_HOST", "EMU_SLOTS", "EMU_ROWS",
            "EMU_PULSES_UP", "EMU_PULSES_DOWN", "EMU_READS")}
        for name, c in cnt.items():
            m.d.comb += getattr(regs, name.lower()).eq(c)
        with m.If(b_valid):
            with m.If(fsm.ongoing("UPDATE")):
                m.d.comb += [wp.addr.eq(b_row), wp.data.eq(row_word(new_s)), wp.en.eq(1),
                             lfsr.advance.eq(1)]
                m.d.sync += [cnt["EMU_ROWS"].eq(cnt["EMU_ROWS"] + 1),
                             cnt["EMU_PULSES_UP"].eq(cnt["EMU_PULSES_UP"] + tree_sum(list(pu))),
                             cnt["EMU_PULSES_DOWN"].eq(cnt["EMU_PULSES_DOWN"] + tree_sum(list(pd)))]
            with m.Elif(fsm.ongoing("READ")):
                with m.If(fwd):
                    m.d.sync += dot_acc.eq(dot)
                    with m.If(b_chunk == C - 1):
                        m.d.sync += res_d.eq(Cat(res_d[f.adc_bits:], convert(dot)))
                with m.Else():
                    for j, a in enumerate(accs):
                        with m.If(b_chunk == j // L):
                            m.d.sync += a.eq(Mux(b_row == 0, 0, a) + prods[j % L])
            with m.Elif(fsm.ongoing("LOAD")):
                m.d.sync += [b.eq(v) for b, v in zip(buf, s)]
            with m.Elif(fsm.ongoing("POKE")):
                m.d.comb += [wp.addr.eq(b_row), wp.data.eq(row_word(poke_row)), wp.en.eq(1)]
                m.d.sync += [b.eq(v) for b, v in zip(buf, poke_row)]

        # ---- initialisation after reset: seed, then three draws per row ----
        init_ph = Signal(range(3))
        init_row = Signal(range(max(M, 2)))
        init_s = [Signal(signed(B), name=f"init_s{j}") for j in range(N)]
        init_g = [Signal(signed(f.gain_bits + 2), name=f"init_g{j}") for j in range(N)]
        loaded = Signal()

        # ---- sequencing ----
        with m.If(fsm.ongoing("INIT")):
            with m.If(~loaded):
                m.d.comb += lfsr.load.eq(1)
                m.d.sync += loaded.eq(1)
            with m.Else():
                m.d.comb += lfsr.advance.eq(1)
                m.d.sync += init_ph.eq(Mux(init_ph == 2, 0, init_ph + 1))
                with m.If(init_ph == 0):
                    m.d.sync += [v.eq(_spread(draws[j], f.init_bits)) for j, v in enumerate(init_s)]
                with m.Elif(init_ph == 1):
                    m.d.sync += [v.eq(_spread(draws[j], f.gain_bits)) for j, v in enumerate(init_g)]
                with m.Else():
                    word = []
                    for j in range(N):
                        r = _spread(draws[j], f.imbalance_bits)
                        word.append(Cat(init_s[j][:B], (f.step + init_g[j] + r)[:P],
                                        (f.step + init_g[j] - r)[:P]))
                    m.d.comb += [wp.addr.eq(init_row), wp.data.eq(Cat(*word)), wp.en.eq(1)]
                    m.d.sync += init_row.eq(init_row + 1)
                    with m.If(init_row == M - 1):
                        fsm.goto("IDLE")
        with m.Elif(idle):                              # accept a job, issue its first read
            m.d.sync += [last.eq(0), row_ctr.eq(0)]
            with m.If(upd_req):
                fsm.goto("UPDATE")
                m.d.comb += [issue.eq(1), issue_row.eq(low_idx)]
                m.d.sync += [lat_xp.eq(xp), lat_xn.eq(xn), lat_dp.eq(dp), lat_dn.eq(dn),
                             rem.eq(row_mask & ~lowest), cnt["EMU_SLOTS"].eq(cnt["EMU_SLOTS"] + 1)]
            with m.Elif(fwd_req | bwd_req):
                fsm.goto("READ")
                m.d.comb += [issue.eq(1), issue_row.eq(0), issue_chunk.eq(0)]
                m.d.sync += [fwd.eq(fwd_req), cnt["EMU_READS"].eq(cnt["EMU_READS"] + 1),
                             row_ctr.eq(0 if C > 1 else 1), chunk_ctr.eq(1 if C > 1 else 0),
                             last.eq((M == 1) & (C == 1))]
            with m.Elif(pend_load & ~regs.emu_row_stb):
                fsm.goto("LOAD")
                m.d.comb += [issue.eq(1), issue_row.eq(host_row)]
                m.d.sync += pend_load.eq(0)
            with m.Elif(pend_poke & ~regs.emu_poke_stb):
                fsm.goto("POKE")
                m.d.comb += [issue.eq(1), issue_row.eq(host_row)]
                m.d.sync += pend_poke.eq(0)
        with m.Else():                                  # a job: done when nothing is left
            with m.If(~issue & b_valid):
                fsm.goto("IDLE")
        for state, name in (("UPDATE", "EMU_STALL_UPDATE"), ("READ", "EMU_STALL_READ"),
                            ("LOAD", "EMU_STALL_HOST"), ("POKE", "EMU_STALL_HOST")):
            with m.If(fsm.ongoing(state)):
                m.d.sync += cnt[name].eq(cnt[name] + 1)

        status = Signal(register_layout(self.regmap["EMU_STATUS"]))
        m.d.comb += [status.ready.eq(~fsm.ongoing("INIT")), status.busy.eq(~idle),
                     status.pending.eq(pend_load | pend_poke), status.bad_cmd.eq(bad),
                     status.state.eq(fsm.state), regs.emu_status.eq(status.as_value()),
                     regs.emu_loaded.eq(host_row)]
        return m


def _hold_master(m, en, valid, ready, name):
    """A master channel of the frozen tile (B, R, the result stream): its beat stays valid
    while frozen; if the outside takes it then, it is hidden until the tile runs again and
    completes the handshake inside (``taken``).  Returns (valid outside, ready inside)."""
    taken = Signal(name=f"{name}_taken")
    out_valid = Signal(name=f"{name}_valid")
    m.d.comb += out_valid.eq(valid & ~taken)
    with m.If(en):
        m.d.sync += taken.eq(0)
    with m.Elif(out_valid & ready):
        m.d.sync += taken.eq(1)
    return out_valid, ready | taken


class EmulatedTile(wiring.Component):
    """``EmulatedTile(cfg, ecfg=None)``: the generated tile and the crossbar emulator, with
    only host ports (module :data:`EMULATOR_TOP_NAME`; a prototyping top, not the tile).

    Ports: ``s_axil`` (AXI4-Lite, ``emulator_window(cfg, ecfg).addr_width``-bit address: the
    tile's register map below ``base``, the emulator's window at ``base`` +
    :func:`~rpu.spec.emulator.emulator_register_map` offsets), ``s_axis`` and ``m_axis``
    (the tile's vector and result streams).  The tile runs under the emulator's clock
    enable (``EnableInserter``); its host channels are held while it is frozen.
    """

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig | None = None):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.ecfg = check_instance("ecfg", EmulatorConfig() if ecfg is None else ecfg, EmulatorConfig)
        if cfg.mc.enabled:
            raise ValueError("mc.enabled must be false: the emulator models a single-device array")
        self.window = emulator_window(cfg, self.ecfg)
        h = cfg.host
        super().__init__({
            "s_axil": In(AXI4LiteSignature(self.window.addr_width)),
            "s_axis": In(AXI4StreamSignature(h.stream_width * h.value_bits)),
            "m_axis": Out(AXI4StreamSignature(h.stream_width * h.result_bits)),
        })

    def elaborate(self, platform):
        cfg, win = self.cfg, self.window
        m = Module()
        tile = Tile(cfg)
        emu = CrossbarEmulator(cfg, self.ecfg)
        en = emu.tile_en
        m.submodules.tile = EnableInserter({"sync": en})(tile)
        m.submodules.emulator = emu

        # ---- crossbar side, exactly the tile's ports ----
        m.d.comb += [emu.x_pos.eq(tile.x_pos), emu.x_neg.eq(tile.x_neg),
                     emu.d_pos.eq(tile.d_pos), emu.d_neg.eq(tile.d_neg),
                     emu.upd_slot.eq(tile.upd_slot)]
        wiring.connect(m, tile.adc_d, emu.adc_d)
        wiring.connect(m, tile.adc_x, emu.adc_x)

        # ---- one AXI4-Lite space: the top address bit selects tile or emulator ----
        s, t, e = self.s_axil, tile.s_axil, emu.bus
        top = win.addr_width - 1
        wsel, rsel = s.awaddr[top], s.araddr[top]
        t_bvalid, t_bready = _hold_master(m, en, t.bvalid, s.bready, "tile_b")
        t_rvalid, t_rready = _hold_master(m, en, t.rvalid, s.rready, "tile_r")
        b_busy = t_bvalid | e.bvalid | t.bvalid         # one write in flight in the space
        r_busy = t_rvalid | e.rvalid | t.rvalid
        m.d.comb += [
            t.awaddr.eq(s.awaddr[:win.tile_addr_width]), e.awaddr.eq(s.awaddr[:win.emu_addr_width]),
            t.araddr.eq(s.araddr[:win.tile_addr_width]), e.araddr.eq(s.araddr[:win.emu_addr_width]),
            t.wdata.eq(s.wdata), e.wdata.eq(s.wdata), t.wstrb.eq(s.wstrb), e.wstrb.eq(s.wstrb),
            t.awvalid.eq(s.awvalid & ~wsel & ~b_busy), e.awvalid.eq(s.awvalid & wsel & ~b_busy),
            t.wvalid.eq(s.wvalid & ~wsel & ~b_busy), e.wvalid.eq(s.wvalid & wsel & ~b_busy),
            t.arvalid.eq(s.arvalid & ~rsel & ~r_busy), e.arvalid.eq(s.arvalid & rsel & ~r_busy),
            # slave channels of the tile: ready only while it runs; a ready is also gated
            # by its valid, so no address bit is looked at while the master is idle (an
            # idle master's address may be undefined)
            s.awready.eq(s.awvalid & Mux(wsel, e.awready, t.awready & en) & ~b_busy),
            s.wready.eq(s.wvalid & Mux(wsel, e.wready, t.wready & en) & ~b_busy),
            s.arready.eq(s.arvalid & Mux(rsel, e.arready, t.arready & en) & ~r_busy),
            # master channels: held while frozen
            s.bvalid.eq(t_bvalid | e.bvalid), s.bresp.eq(Mux(e.bvalid, e.bresp, t.bresp)),
            t.bready.eq(t_bready), e.bready.eq(s.bready),
            s.rvalid.eq(t_rvalid | e.rvalid), s.rresp.eq(Mux(e.rvalid, e.rresp, t.rresp)),
            s.rdata.eq(Mux(e.rvalid, e.rdata, t.rdata)),
            t.rready.eq(t_rready), e.rready.eq(s.rready),
        ]

        # ---- streams ----
        si, so = self.s_axis, self.m_axis
        m.d.comb += [tile.s_axis.tdata.eq(si.tdata), tile.s_axis.tlast.eq(si.tlast),
                     tile.s_axis.tvalid.eq(si.tvalid), si.tready.eq(tile.s_axis.tready & en)]
        o_valid, o_ready = _hold_master(m, en, tile.m_axis.tvalid, so.tready, "res")
        m.d.comb += [so.tdata.eq(tile.m_axis.tdata), so.tlast.eq(tile.m_axis.tlast),
                     so.tvalid.eq(o_valid), tile.m_axis.tready.eq(o_ready)]
        return m
