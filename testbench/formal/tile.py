"""Formal wrapper of the whole tile: ``rpu_tile`` with a legal host and front-end around it
(:mod:`.environment`) and the controller's properties, observed at the tile's ports and at
the ports of the controller and of its pulse bank (found by name in the elaborated tile:
nothing is added to the RTL).

Properties, by check group (a group is one sby task: the solver then only sees the logic
its properties depend on):

``crossbar``
  * ``drive exclusive``: no x- or d-line at +V/2 and −V/2 together;
  * ``drive inside a window``: x-lines are driven only while the forward read window
    (``adc_d.integ_en``) or the update pulse bank runs, d-lines only in the backward window
    or an update;
  * ``phase order`` / ``phase length`` / ``phase polarity``: while the pulse bank runs the
    sign phase never goes back, each phase lasts BL·slot_cycles cycles, and the drives have
    the phase's polarities (phases 0, 2: x at +V/2, d at −V/2; 1, 3: the reverse);
  * ``ADC handshake``: a conversion is started only when the last one was answered.
``results`` (the sink stalls freely)
  * ``results held`` / ``results stable`` / ``results tlast``: the result stream keeps
    ``tvalid`` until ``tready`` and ``tdata``/``tlast`` while stalled, and ``tlast`` is high
    exactly on the last beat of each frame (``ceil(lines/stream_width)`` beats of the
    direction converted last).
``timing`` (the ideal environment of the formulas: beats offered at once, results taken at
once, ADC answers after ``adc_latency``; data and ADC codes free)
  * ``accepted``: a command started while the previous one is done is accepted;
  * ``cycles = formula``: its ``ev_done`` comes exactly
    :func:`rpu.spec.timing.command_cycles` cycles after its CTRL write, for the
    bound-management passes it made and the sign phases it ran, and never later than for
    every pass and phase;
  * ``CYC = formula``: the controller's ``op_cycles`` (``CYC_*``) equals
    :func:`~rpu.spec.timing.read_cycles` / :func:`~rpu.spec.timing.update_cycles`;
  * ``done is the accepted op`` / ``no completion without a command``.
``liveness`` (a slow environment: gaps of up to ``max_gap`` cycles before each beat, result
stalls of up to ``max_stall``, ADC answers 1 to ``max_wait`` cycles after the start)
  * ``completes in bound``: an accepted command is done within
    ``command_cycles(passes = cap, latency = max_wait)`` plus ``max_gap`` per input beat and
    ``max_stall`` per result beat (bounded liveness).
``reset`` (``rst`` free after the first cycle)
  * ``idle after reset``: a reset in any state reached leaves the tile idle in the next
    cycle: no command queued, nothing loading or running, no line driven, no integrator or
    ADC control, no AXI response or result pending.

Covers (``cover`` group): each operation completing, a forward with a bound-management
retry, an update running all four sign phases.
"""

from __future__ import annotations

from amaranth import Cat, Elaboratable, Fragment, Module, Mux, ResetSignal, Signal

from rpu.config import TileConfig, check_instance
from rpu.rtl.axi import register_layout
from rpu.rtl.tile import Tile
from rpu.spec.encodings import Op, tile_ops
from rpu.spec.registers import register_map
from rpu.spec.timing import command_cycles, read_cycles, stream_beats, update_cycles

from .abstract import free_arithmetic
from .environment import FrameSource, FrontEnd, ResultSink, axi_lite_master
from .props import Props

__all__ = ["TileFormal", "FORMAL_TILE", "formal_tile_config", "CHECKS", "bmc_depth",
           "completion_bounds", "SLOW_ENVIRONMENT"]

#: the check groups (one sby task each), see the module docstring
CHECKS = ("crossbar", "results", "timing", "liveness", "reset", "cover")


def formal_tile_config(**changes) -> TileConfig:
    """The tile the formal checks run on: 3 x-lines × 2 d-lines, one value per beat (frames
    of 3 and 2 beats, so a frame has a middle), 2-bit DAC (one read slot), 3-bit ADC, 2-bit
    probabilities, BL 2 of at most 2, ADC latency 1, two bound-management passes."""
    base = dict(in_size=3, out_size=2, stream_width=1, dac_bits=2, adc_bits=3, prob_bits=2,
                bl=2, bl_max=2, adc_latency=1, value_bits=8, value_frac_bits=4, result_bits=8,
                bm_max_passes=2)
    return TileConfig(**{**base, **changes})


FORMAL_TILE = formal_tile_config()


def _bm_passes(cfg: TileConfig) -> int:
    """Bound-management passes a forward may take on ``cfg``."""
    return cfg.io.bm_max_passes if cfg.io.bound_management else 1


#: the slow environment of the ``liveness`` group (see :class:`TileFormal`)
SLOW_ENVIRONMENT = dict(max_gap=1, max_stall=1, max_wait=2)


def completion_bounds(cfg: TileConfig, *, max_gap: int, max_stall: int, max_wait: int) -> dict:
    """Cycles within which an accepted command must be done in the slow environment (the
    ``completes in bound`` property): ``command_cycles`` of its longest case with ADC answers
    ``max_wait`` cycles late, plus ``max_gap`` per input beat and ``max_stall`` per result beat."""
    cap = _bm_passes(cfg)
    lanes = cfg.host.stream_width
    bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
    return {Op.UPDATE: command_cycles(cfg, "update", phases=4) + (bx + bd) * max_gap,
            Op.FORWARD: command_cycles(cfg, "forward", passes=cap, latency=max_wait)
            + bx * max_gap + bd * max_stall,
            Op.BACKWARD: command_cycles(cfg, "backward", latency=max_wait)
            + bd * max_gap + bx * max_stall}


def bmc_depth(cfg: TileConfig, check: str | None = None) -> int:
    """Steps that hold a whole update (four phases) and a whole forward with every
    bound-management pass, each from a CTRL write in the first cycle after the reset:
    step 0 is the reset, the write is in step 1, the done cycle ``command_cycles`` later,
    plus one step to see it.  For the ``liveness`` group the longest
    :func:`completion_bounds` in :data:`SLOW_ENVIRONMENT` instead (plus the same three
    steps), so that a command one cycle over its bound is seen."""
    if check == "liveness":
        return max(completion_bounds(cfg, **SLOW_ENVIRONMENT).values()) + 3
    cap = _bm_passes(cfg)
    longest = max(command_cycles(cfg, "update", phases=4),
                  command_cycles(cfg, "forward", passes=cap),
                  command_cycles(cfg, "backward"))
    return longest + 3


def _component(fragment: Fragment, *path: str):
    """The component a named submodule of an elaborated design was built from (through the
    ``orig`` layer of a deliberately broken top, :mod:`.mutants`)."""
    for name in path:
        names = [n for _f, n, _s in fragment.subfragments]
        if name not in names and "orig" in names:
            fragment = fragment.find_subfragment("orig")
        fragment = fragment.find_subfragment(name)
    return fragment.origins[0]


class TileFormal(Elaboratable):
    """``TileFormal(cfg, check, *, tile=None, max_gap=1, max_stall=1, max_wait=2)``: the
    properties of group ``check`` (one of :data:`CHECKS`) on ``tile`` (default
    ``Tile(cfg)``; a test passes a deliberately broken one).  ``free_codes``: the scalers'
    codes and the update managers' gains free (:mod:`.abstract`; the proofs then hold for
    any codes).  The slow
    environment's limits
    apply to the ``liveness`` group; the other groups use the ideal environment, except
    ``results`` (free sink stalls)."""

    def __init__(self, cfg: TileConfig, check: str, *, tile=None,
                 max_gap: int = SLOW_ENVIRONMENT["max_gap"],
                 max_stall: int = SLOW_ENVIRONMENT["max_stall"],
                 max_wait: int = SLOW_ENVIRONMENT["max_wait"], free_codes: bool = True):
        self.free_codes = free_codes
        self.cfg = check_instance("cfg", cfg, TileConfig)
        if check not in CHECKS:
            raise ValueError(f"check must be one of {', '.join(CHECKS)}, not {check!r}")
        self.check = check
        self.tile = Tile(cfg) if tile is None else tile
        self.max_gap, self.max_stall, self.max_wait = max_gap, max_stall, max_wait
        self.props: Props | None = None

    def elaborate(self, platform):
        cfg, tile, check = self.cfg, self.tile, self.check
        rm = register_map(cfg)
        m = Module()
        p = self.props = Props(m, resets=check == "reset")
        if self.free_codes:
            with free_arithmetic():
                frag = Fragment.get(tile, platform)
        else:
            frag = Fragment.get(tile, platform)
        m.submodules.tile = frag
        ctrl = _component(frag, "controller")
        upd = _component(frag, "controller", "upd")
        lanes, conv = cfg.host.stream_width, cfg.converters
        bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
        bl = cfg.update.bl
        slow = check == "liveness"

        # ---- environment ----
        axi_lite_master(m, p, tile.s_axil, write_words=[rm["CTRL"].offset >> 2],
                        reads=False, strobes=False)
        src = FrameSource(m, p, tile.s_axis, cfg, max_gap=self.max_gap if slow else 0)
        ResultSink(m, p, tile.m_axis, max_stall=self.max_stall if slow else
                   (None if check in ("results", "reset") else 0))
        lo, hi = (1, self.max_wait) if slow else (conv.adc_latency, conv.adc_latency)
        fe = {side: FrontEnd(m, p, getattr(tile, f"adc_{side}"), min_wait=lo, max_wait=hi,
                             name=f"adc_{side}") for side in ("d", "x")}

        # the CTRL command word as the register slave decodes it (its block proof: axi.py)
        bus = tile.s_axil
        cmd = Signal(register_layout(rm["CTRL"]))
        m.d.comb += cmd.eq(bus.wdata)
        start = Signal()             # a CTRL write with start, in its handshake cycle
        m.d.comb += start.eq(bus.awvalid & bus.awready & bus.wvalid & bus.wready & cmd.start)

        # ---- the sequential host: a command once the previous one is done ----
        outstanding = Signal()
        op = Signal(2)
        cap = _bm_passes(cfg)
        worst_env = (bx + bd) * self.max_gap + max(bx, bd) * self.max_stall
        longest = max(command_cycles(cfg, "update", phases=4),
                      command_cycles(cfg, "forward", passes=cap, latency=hi),
                      command_cycles(cfg, "backward", latency=hi)) + worst_env
        age = Signal(range(longest + 2))
        with m.If(outstanding & (age != longest + 1)):
            m.d.sync += age.eq(age + 1)
        p.assume_implies("host: one command at a time",
                         bus.awvalid & bus.wvalid & cmd.start, ~outstanding)
        p.assume_implies("host: one operation per command",
                         bus.awvalid & bus.wvalid & cmd.start, cmd.count <= 1)
        ops = tile_ops(cfg.mc.enabled)   # single-pair: TRANSFER refused (not a command)
        accept = start & (cmd.op <= max(ops))
        with m.If(accept):
            m.d.sync += [outstanding.eq(1), op.eq(cmd.op), age.eq(1), *src.arm(cmd.op),
                         *fe["d"].clear(), *fe["x"].clear()]
        done = outstanding & ctrl.ev_done
        with m.If(done):
            m.d.sync += outstanding.eq(0)
        passes = Mux(op == Op.FORWARD, fe["d"].resets, fe["x"].resets)
        phases_seen = Signal(4)
        with m.If(accept):
            m.d.sync += phases_seen.eq(0)
        with m.Elif(upd.busy):
            m.d.sync += phases_seen.eq(phases_seen | (1 << upd.phase))
        n_phases = Signal(3)
        m.d.comb += n_phases.eq(sum(phases_seen[i] for i in range(4)))

        x_pos, x_neg, d_pos, d_neg = tile.x_pos, tile.x_neg, tile.d_pos, tile.d_neg
        res = tile.m_axis

        if check == "crossbar":
            p.assert_("drive exclusive", ((x_pos & x_neg) == 0) & ((d_pos & d_neg) == 0))
            p.implies("drive inside a window", (x_pos | x_neg).any(),
                      tile.adc_d.integ_en | upd.busy)
            p.implies("drive inside a window", (d_pos | d_neg).any(),
                      tile.adc_x.integ_en | upd.busy)
            ph_cycles = Signal(range(bl * conv.slot_cycles + 2))
            same = upd.busy & p.past(upd.busy) & (upd.phase == p.past(upd.phase))
            m.d.sync += ph_cycles.eq(Mux(same, ph_cycles + 1, 1))
            # (ph_cycles: cycles the phase of the last cycle has run, up to the last cycle)
            running = p.prev_valid & upd.busy & p.past(upd.busy)
            phase_len = bl * conv.slot_cycles
            p.implies("phase order", running, upd.phase >= p.past(upd.phase))
            p.implies("phase length", running & (upd.phase != p.past(upd.phase)),
                      ph_cycles == phase_len)
            p.implies("phase length", upd.busy, ph_cycles <= phase_len)
            p.implies("phase length", p.prev_valid & p.past(upd.busy) & ~upd.busy,
                      ph_cycles == phase_len)
            even = ~upd.phase[0]
            p.implies("phase polarity", upd.busy & even, (x_neg == 0) & (d_pos == 0))
            p.implies("phase polarity", upd.busy & ~even, (x_pos == 0) & (d_neg == 0))
            for side in ("d", "x"):
                p.implies("ADC handshake", getattr(tile, f"adc_{side}").start,
                          ~fe[side].pending)

        if check == "results":
            stalled = p.past(res.tvalid & ~res.tready, name="res_stalled")
            p.implies("results held", p.prev_valid & stalled, res.tvalid)
            p.implies("results stable", p.prev_valid & stalled,
                      p.stable(res.tdata) & p.stable(res.tlast))
            side_d = Signal()        # the direction converted last: d (forward) or x
            with m.If(tile.adc_d.start):
                m.d.sync += side_d.eq(1)
            with m.Elif(tile.adc_x.start):
                m.d.sync += side_d.eq(0)
            beat = Signal(range(max(bx, bd) + 1))
            with m.If(res.tvalid & res.tready):
                m.d.sync += beat.eq(Mux(res.tlast, 0, beat + 1))
            p.implies("results tlast", res.tvalid, res.tlast == (beat == Mux(side_d, bd, bx) - 1))

        if check == "timing":
            exact, run = Signal.like(age), Signal(16)
            m.d.comb += [exact.eq(command_cycles(cfg, "backward")),
                         run.eq(read_cycles(cfg, backward=True))]
            with m.If(op == Op.FORWARD):
                for k in range(1, cap + 1):
                    with m.If(passes == k):
                        m.d.comb += [exact.eq(command_cycles(cfg, "forward", passes=k)),
                                     run.eq(read_cycles(cfg, passes=k))]
            with m.If(op == Op.UPDATE):
                for k in range(5):
                    with m.If(n_phases == k):
                        m.d.comb += [exact.eq(command_cycles(cfg, "update", phases=k)),
                                     run.eq(update_cycles(cfg, k, bl))]
            p.implies("accepted", accept, ctrl.cmd_ready & ~ctrl.ev_cmd_busy)
            p.implies("done is the accepted op", done, ctrl.done_op == op)
            p.implies("cycles = formula", done, age == exact)
            worst = Mux(op == Op.UPDATE, command_cycles(cfg, "update", phases=4),
                        Mux(op == Op.FORWARD, command_cycles(cfg, "forward", passes=cap),
                            command_cycles(cfg, "backward")))
            p.implies("cycles = formula", outstanding, age <= worst)
            p.implies("CYC = formula", done, ctrl.op_cycles == run)
            p.implies("no completion without a command", ctrl.ev_done, outstanding)

        if check == "liveness":
            bound = Signal.like(age)
            limit = completion_bounds(cfg, max_gap=self.max_gap, max_stall=self.max_stall,
                                      max_wait=self.max_wait)
            m.d.comb += bound.eq(Mux(op == Op.UPDATE, limit[Op.UPDATE],
                                     Mux(op == Op.FORWARD, limit[Op.FORWARD], limit[Op.BACKWARD])))
            p.implies("completes in bound", outstanding, age <= bound)

        if check == "reset":
            after = p.past(ResetSignal("sync"), name="was_reset", reset_less=True)
            idle = (~ctrl.busy & ~ctrl.loading & ctrl.cmd_ready & ~upd.busy
                    & ~(x_pos | x_neg | d_pos | d_neg).any() & ~tile.upd_slot
                    & ~res.tvalid & ~bus.bvalid & ~bus.rvalid
                    & ~Cat(tile.adc_d.integ_reset, tile.adc_d.integ_en, tile.adc_d.start,
                           tile.adc_x.integ_reset, tile.adc_x.integ_en, tile.adc_x.start).any())
            p.implies("idle after reset", after & ~ResetSignal("sync"), idle)
            p.cover("reset while running", ResetSignal("sync") & ctrl.busy)

        if check == "cover":
            for o in tile_ops(cfg.mc.enabled):
                p.cover(f"{o.name.lower()} completes", done & (op == o))
            p.cover("forward with a retry", done & (op == Op.FORWARD) & (passes == 2))
            p.cover("update with four phases", done & (op == Op.UPDATE) & (n_phases == 4))
        return m
