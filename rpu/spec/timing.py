"""Cycle formulas of every block and of the tile (docs/spec.md §3), checked cycle-exactly by the
tests: the RTL must meet them, the reference and the benches predict with them.

Block latencies count from the cycle ``start`` is sampled to the cycle of ``done``; the
tile's ``CYC_*`` registers count from the cycle the run sequencer commits an operation
(cycle 1) to the cycle it finishes (inclusive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rpu.config import TileConfig

from .formats import ISQ_FRAC, REG_BITS, numerics

__all__ = [
    "ceil_div", "stream_beats", "ARITH_BITS_PER_CYCLE", "div_cycles", "sqrt_cycles",
    "MUL_CHUNK", "mul_cycles", "absmax_cycles", "nm_alpha_delay", "um_max_delay",
    "scaler_cycles", "ADC_DIGIT_BITS", "ADC_SAT_GROUP", "adc_table_entries", "adc_table_cycles", "adc_digits",
    "adc_stream_cycles", "sat_count_cycles", "UM_MUL_B", "UM_COPIES", "UmPlan", "um_plan", "um_interval",
    "nm_cycles", "um_cycles", "ADC_RESET_CYCLES", "adc_read_cycles", "adc_timeout_cycles",
    "window_cycles", "pulser_cycles", "VECTOR_SETS", "READ_FIXED", "UPDATE_FIXED",
    "read_cycles", "update_cycles", "vector_cycles", "update_period",
    "Stage", "command_stages", "command_cycles", "burst_stages",
    "TRANSFER_READ_FIXED", "TRANSFER_COLUMN_READS", "TRANSFER_COLUMN_FIXED", "TRANSFER_FIXED",
    "transfer_read_cycles", "transfer_column_cycles", "transfer_cycles",
]

ARITH_BITS_PER_CYCLE = 2   # result bits per cycle of the sequential divider and square root
ADC_RESET_CYCLES = 1       # integrator reset length of a read pass
VECTOR_SETS = 3            # vector buffer sets of the tile controller (see update_period)
READ_FIXED = 3             # a read's fixed cycles: accept decision, readout hand-over, drain
UPDATE_FIXED = 2           # an update's fixed cycles: commit/start cycle + done cycle
TRANSFER_READ_FIXED = 2    # a transfer read: start cycle + the cycle the ADC interface is idle again
TRANSFER_COLUMN_READS = 5  # reads of a column besides the verify reads: G⁺, G⁻, LSP, LSP after reset, first MSP
TRANSFER_COLUMN_FIXED = 3  # LSP reset (+ polarity flip), MSP refresh reset, column-done cycle
TRANSFER_FIXED = 1         # a transfer event's start (commit) cycle


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def stream_beats(lines: int, lanes: int) -> int:
    """Beats of a frame of ``lines`` values at ``lanes`` values per beat."""
    return ceil_div(lines, lanes)


MUL_CHUNK = 18             # operand piece of the pipelined multiplier (an 18×18 DSP product)


def mul_cycles(a_bits: int, b_bits: int) -> int:
    """Pipelined multiplier: the product of the operands of cycle c is valid in cycle
    c + mul_cycles: two registers around each 18×18 partial product, then one registered
    adder level per halving of the partial-product count."""
    n = ceil_div(a_bits, MUL_CHUNK) * ceil_div(b_bits, MUL_CHUNK)
    return 2 + (n - 1).bit_length()


def div_cycles(num_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """Sequential divider: ``done`` ceil(num_bits / bits_per_cycle) + 1 cycles after start."""
    return ceil_div(num_bits, bits_per_cycle) + 1


def sqrt_cycles(rad_bits: int, bits_per_cycle: int = ARITH_BITS_PER_CYCLE) -> int:
    """Sequential square root: ceil(ceil(rad_bits / 2) / bits_per_cycle) + 1 cycles."""
    return ceil_div((rad_bits + 1) // 2, bits_per_cycle) + 1


def absmax_cycles(lanes: int) -> int:
    """Abs-max unit: its ``max`` includes a beat this many cycles after the beat's ``valid``
    cycle (the lanes' running maxima, then one compare level per halving of the lanes)."""
    return 1 + (lanes - 1).bit_length()


def nm_alpha_delay(cfg: TileConfig) -> int:
    """Cycles after ``start`` at which the noise manager samples α: the conversion stage
    starts it two cycles after a set's last beat, when its abs-max may still be settling."""
    return max(0, absmax_cycles(cfg.host.stream_width) - 2)


def um_max_delay(cfg: TileConfig) -> int:
    """Cycles after ``start`` at which the update manager samples the maxima (the manager
    stage starts it one cycle after a set's last beat)."""
    return max(1, absmax_cycles(cfg.host.stream_width) - 1)


def scaler_cycles(cfg: TileConfig) -> int:
    """Lane scaler (host values → DAC or probability codes): a beat's codes come this many
    cycles after the beat (input register, pipelined multiplier, rounding and limit)."""
    nx = numerics(cfg)
    return 2 + mul_cycles(nx.value_bits, nx.lane_scale_bits)


def nm_cycles(cfg: TileConfig) -> int:
    """Noise manager: start → done, the same for every mode (the divider always runs): α
    sampled after :func:`nm_alpha_delay`, the radix-4 divider, then the reciprocal + 1 and
    the DAC scale D·(reciprocal + 1) in two registered steps."""
    return nm_alpha_delay(cfg) + div_cycles(numerics(cfg).recip_point) + 2


UM_MUL_B = 18              # wide operand of the update manager's multiplier (one 18-bit piece)
UM_COPIES = 2              # update managers the tile runs in turn (see um_interval)


@dataclass(frozen=True)
class UmPlan:
    """The update manager's fixed schedule and the widths it is built from.

    ``times``: cycle (after ``start``) of every step; ``products``: (a, b) operand widths of
    each product on the shared ``mul_a × mul_b`` multiplier (b in ``mul_b``-bit pieces, one
    per cycle); ``pk_cap``/``pkd_cap``: clamps of the peak and of the d side's peak that leave
    the gains unchanged (at or above them the d gain saturates) but bound the widths.
    """

    times: dict
    products: dict
    mul_a: int
    mul_b: int
    mul_lat: int
    root_bits: int
    hi_bits: int
    c_bits: int
    recip_bits: int
    pk_cap: int
    pkd_cap: int

    def pieces(self, name: str) -> int:
        return ceil_div(self.products[name][1], self.mul_b)


def um_plan(cfg: TileConfig, *, max_delay: int | None = None) -> UmPlan:
    """Schedule of the update manager (:class:`rpu.rtl.management.UpdateManager`): the maxima
    sampled at ``max_delay`` (default :func:`um_max_delay`); x_max·d_max on the shared
    multiplier, straight into the one-bit-per-cycle square root; meanwhile the dynamic-BL
    chain (lr/dw·x_max·d_max, the ceiling and clamp, 1/sqrt(BL), C1·it, rounding) gives C;
    C times the root's leading digits on the multiplier, the remaining digits accumulated one
    per cycle as the root produces them; then the peak and its clamps, the x gain, the
    clipped peak², the d gain, the final clamp.  A product issued in cycle t is in its
    register from cycle t + pieces − 1 + mul_cycles + 1."""
    nx = numerics(cfg)
    V, R, P, T = nx.value_bits, nx.recip_point, nx.prob_bits, nx.um_peak_frac
    max_delay = um_max_delay(cfg) if max_delay is None else max_delay
    root_bits = (nx.sqrt_rad_bits + 1) // 2
    one = 1 << (P + T)
    rd_min = ((1 << R) - 1) // (1 << (V - 1)) + 1           # reciprocal of the largest d_max
    pkd_cap = max(-(-nx.gain_max // rd_min), one)
    pk_cap = max(math.isqrt((pkd_cap << (P + T)) - 1) + 1, one + 1)
    recip_bits = R + 1
    products = {"prod": (V, V), "lrd": (REG_BITS, 2 * V), "cd": (ISQ_FRAC + 1, REG_BITS),
                "gx": (P + T + 1, recip_bits), "pk2": (pk_cap.bit_length(), pk_cap.bit_length()),
                "gd": (recip_bits, pkd_cap.bit_length())}
    mul_a = max(max(a for a, _ in products.values()), root_bits // 2)
    mul_b = UM_MUL_B
    L = mul_cycles(mul_a, mul_b)

    def pieces(name):
        return ceil_div(products[name][1], mul_b)
    t = {"sample": max_delay}
    t["prod"] = t["sample"] + 1
    # the product goes straight into the root (from the register if it came in pieces)
    t["sqrt"] = t["prod"] + pieces("prod") - 1 + L + (pieces("prod") > 1)
    t["lrd"] = t["sqrt"] + 1
    t["lrd_sum"] = t["lrd"] + pieces("lrd") - 1 + L + 1
    t["bl"] = t["lrd_sum"] + 1
    t["isq"] = t["bl"] + 1
    t["cd"] = t["isq"] + 1
    t["cd_sum"] = t["cd"] + pieces("cd") - 1 + L + 1
    t["c"] = t["cd_sum"] + 1
    t["crh"] = t["c"] + 1
    hi_bits = min(root_bits, mul_a, t["crh"] - t["sqrt"] - 1)   # root digit j: from sqrt + j + 2
    products["crh"] = (hi_bits, REG_BITS + 1)
    t["crh_in"] = t["crh"] + pieces("crh") - 1 + L
    t["mac_from"] = t["sqrt"] + hi_bits + 2
    t["root_done"] = t["sqrt"] + root_bits + 2
    t["cr"] = max(t["root_done"], t["crh_in"] + 1)
    t["clamp"] = t["cr"] + 1
    t["pk2"] = t["clamp"] + 1                       # the clipped peak² first: gd needs it
    t["gx"] = t["pk2"] + pieces("pk2")
    t["pk2_in"] = t["pk2"] + pieces("pk2") - 1 + L
    t["pkd"] = t["pk2_in"] + 1
    t["gd"] = t["pkd"] + 1
    t["gd_in"] = t["gd"] + pieces("gd") - 1 + L
    t["gx_in"] = t["gx"] + pieces("gx") - 1 + L
    t["final"] = max(t["gd_in"], t["gx_in"]) + 1
    t["done"] = t["final"] + 1
    issued = [t[n] + k for n in products for k in range(pieces(n))]
    if len(set(issued)) != len(issued):
        raise AssertionError(f"update manager schedule issues two products at once: {t}")
    return UmPlan(t, products, mul_a, mul_b, L, root_bits, hi_bits, REG_BITS + 1, recip_bits,
                  pk_cap, pkd_cap)


def um_cycles(cfg: TileConfig) -> int:
    """Update manager: start → done (constant), :func:`um_plan`'s last step."""
    return um_plan(cfg).times["done"]


def um_interval(cfg: TileConfig) -> int:
    """Least cycles between two update-manager starts: ``UM_COPIES`` managers run in turn,
    each busy :func:`um_cycles`; the manager stage spaces the starts evenly, so back-to-back
    updates bounded by it come exactly this far apart."""
    return ceil_div(um_cycles(cfg), UM_COPIES)


def adc_timeout_cycles(cfg: TileConfig) -> int:
    """Cycles the ADC interface waits for a conversion answer before flagging a timeout."""
    return 4 * cfg.converters.adc_latency + 16


ADC_DIGIT_BITS = 4         # the ADC result scaling adds table entries per hexadecimal digit
ADC_SAT_GROUP = 16         # codes OR-ed at once into the any-saturated flag


def adc_table_entries(cfg: TileConfig) -> int:
    """Entries of the ADC result table (0, 1, … × scale): one per value a multi-bit digit
    of a code's magnitude (at most 2^(adc_bits−1)) can take, so 16 from a 5-bit ADC up
    and fewer below (5 for a 3-bit ADC: magnitudes 0..4)."""
    top = 1 << (cfg.converters.adc_bits - 1)
    return max([min((1 << bits) - 1, top >> shift) + 1
                for shift, bits in adc_digits(cfg) if bits > 1] or [1])


def adc_table_cycles(cfg: TileConfig) -> int:
    """ADC interface: the pass's result table (:func:`adc_table_entries` multiples of the
    scale) is complete this many cycles after ``start`` (scale in three registered steps,
    then one entry per cycle); a pass shorter than that holds ``conv_done`` back until then."""
    return 4 + adc_table_entries(cfg)


def adc_digits(cfg: TileConfig) -> list[tuple[int, int]]:
    """(shift, bits) of the hexadecimal digits of an ADC code's magnitude (adc_bits bits,
    up to 2^(adc_bits−1))."""
    ab = cfg.converters.adc_bits
    return [(k, min(ADC_DIGIT_BITS, ab - k)) for k in range(0, ab, ADC_DIGIT_BITS)]


def adc_stream_cycles(cfg: TileConfig) -> int:
    """Stages of the ADC result pipeline: digit lookup, one adder level per halving of the
    digits, rounding/limit/sign."""
    return 2 + (len(adc_digits(cfg)) - 1).bit_length()


def sat_count_cycles(cfg: TileConfig, lines: int) -> int:
    """ADC interface: ``sat_valid`` comes this many cycles after ``conv_done`` rises (the
    saturated lines are counted by a registered tree of four-input sums)."""
    na = lines // cfg.converters.lines_per_adc
    depth, n = 0, na
    while n > 1:
        n, depth = ceil_div(n, 4), depth + 1
    return depth + 1


def adc_read_cycles(cfg: TileConfig, *, latency: int | None = None,
                    reset_cycles: int = ADC_RESET_CYCLES, window_cycles: int | None = None) -> int:
    """ADC interface, start → first cycle of ``conv_done``: reset_cycles + window +
    lines_per_adc·(latency + 1) + 1, ``latency`` the front-end's adc_start → adc_done delay
    (default ``adc_latency``), window = dac_max·slot_cycles; at least
    :func:`adc_table_cycles` (the result table must be ready)."""
    c = cfg.converters
    latency = c.adc_latency if latency is None else latency
    window = cfg.dac_max * c.slot_cycles if window_cycles is None else window_cycles
    return max(reset_cycles + window + c.lines_per_adc * (latency + 1) + 1, adc_table_cycles(cfg))


def window_cycles(dac_bits: int, slot_cycles: int) -> int:
    """Pulse-width bank: start → done, dac_max·slot_cycles + 1."""
    return ((1 << (dac_bits - 1)) - 1) * slot_cycles + 1


def pulser_cycles(phases: int, bl: int, slot_cycles: int) -> int:
    """Stochastic pulse bank: start → done, phases·BL·slot_cycles + 1."""
    return phases * bl * slot_cycles + 1


def read_cycles(cfg: TileConfig, *, backward: bool = False, passes: int = 1,
                latency: int | None = None) -> int:
    """Tile forward / backward: ``passes·A + (passes−1)·(2 + B_in + L_s) + B_out +
    READ_FIXED + L_r − 2``, A = :func:`adc_read_cycles`, B_in = beats of the driven side (a
    bound-management retry reloads the bank through the lane scalers, L_s =
    :func:`scaler_cycles`), B_out = result beats (one per cycle without back-pressure),
    L_r = :func:`adc_stream_cycles` (the result pipeline fills during the two cycles of the
    accept decision)."""
    lanes = cfg.host.stream_width
    n_in, n_out = (cfg.out_size, cfg.in_size) if backward else (cfg.in_size, cfg.out_size)
    a = adc_read_cycles(cfg, latency=latency)
    return (passes * a + (passes - 1) * (2 + stream_beats(n_in, lanes) + scaler_cycles(cfg))
            + stream_beats(n_out, lanes) + READ_FIXED + adc_stream_cycles(cfg) - 2)


def update_cycles(cfg: TileConfig, phases: int, bl: int) -> int:
    """Tile update: ``phases·BL·slot_cycles + UPDATE_FIXED``."""
    return phases * bl * cfg.converters.slot_cycles + UPDATE_FIXED


def vector_cycles(cfg: TileConfig, *, op: str = "update") -> int:
    """Vector load time when the frames stream without gaps: ``1 + B_x + B_d`` for an
    update (take the queued command, receive x then d), ``1 + B_in`` for a read."""
    lanes = cfg.host.stream_width
    bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
    if op == "update":
        return 1 + bx + bd
    if op not in ("forward", "backward"):
        raise ValueError(f"op must be 'update', 'forward' or 'backward', not {op!r}")
    return 1 + (bx if op == "forward" else bd)


def update_period(cfg: TileConfig, phases: int, bl: int) -> int:
    """Back-to-back updates (host keeping the stream full): one every
    ``max(update_cycles, vector_cycles, um_interval)`` cycles — pulse time, vector load time,
    update-manager spacing.  Needs ``VECTOR_SETS`` ≥ 3 for every shape: a set is held from its
    load through UM to its conversion, ``2 + B_x + B_d + L_um + max(B_x, B_d)`` cycles,
    under three load times."""
    return max(update_cycles(cfg, phases, bl), vector_cycles(cfg), um_interval(cfg))


# -- the schedule of a command on an idle tile ----------------------------------------------
#
# Cycle 0 is the cycle the host's CTRL write is accepted (AXI AW and W handshake); the
# stream is assumed to offer every beat as soon as the loader takes it and the front-end to
# answer each conversion ``latency`` cycles after its start.  The stage lengths are the
# terms of the formulas above; between two stages the hand-over cycles below.

LOAD_TAKE = 1      # the loader takes the queued command in the cycle after the CTRL write
READ_HANDOFF = 2   # a loaded read: marked by the manage stage, then NM started
UPDATE_HANDOFF = 1  # a loaded update: the manage stage starts UM


@dataclass(frozen=True)
class Stage:
    """One stage of a command's schedule: ``cycles`` cycles from cycle ``first`` (cycle 0
    = the CTRL write), the formula ``term`` its length is (e.g. ``"1 + B_x"``)."""

    name: str
    first: int
    cycles: int
    term: str

    @property
    def last(self) -> int:
        return self.first + self.cycles - 1

    @property
    def end(self) -> int:
        """The cycle after the stage."""
        return self.first + self.cycles


def _run_stages(cfg: TileConfig, op: str, commit: int, *, passes: int, latency: int,
                phases: int, bl: int) -> list[Stage]:
    """The run stage from its commit cycle: a read's passes or an update's phases."""
    c = cfg.converters
    out = [Stage("commit", commit, 1, "commit")]
    if op == "update":
        t = commit + 1
        for k in range(phases):
            out.append(Stage(f"phase {k + 1}/{phases}", t, bl * c.slot_cycles, "BL·slot_cycles"))
            t += bl * c.slot_cycles
        return out + [Stage("done", t, 1, "done")]
    lanes = cfg.host.stream_width
    n_in, n_out = (cfg.in_size, cfg.out_size) if op == "forward" else (cfg.out_size, cfg.in_size)
    b_in, b_out = stream_beats(n_in, lanes), stream_beats(n_out, lanes)
    window = cfg.dac_max * c.slot_cycles
    # conv_done comes adc_read_cycles after the pass's start: the conversions, or later when
    # the pass's result table is not complete yet (short read windows)
    conversion = adc_read_cycles(cfg, latency=latency) - ADC_RESET_CYCLES - window - 1
    conversion_term = "lines_per_adc·(L_a + 1)"
    if conversion > c.lines_per_adc * (latency + 1):
        conversion_term = "result table (adc_table_cycles)"
    t = commit + 1
    for p in range(passes):
        if p:
            out.append(Stage("reload", t, b_in + scaler_cycles(cfg), "B_in + L_s"))
            t += b_in + scaler_cycles(cfg)
            out.append(Stage("commit", t, 1, "commit"))
            t += 1
        for name, n, term in (("integrator reset", ADC_RESET_CYCLES, "reset"),
                              ("read window", window, "dac_max·slot_cycles"),
                              ("conversion", conversion, conversion_term),
                              ("decide", 2, "conv_done + BM decision")):
            out.append(Stage(name, t, n, term))
            t += n
    fill = adc_stream_cycles(cfg) - 2          # the result pipeline beyond the decision
    if fill > 0:
        out.append(Stage("result pipeline", t, fill, "L_r − 2"))
        t += fill
    return out + [Stage("results", t, b_out, "B_out"), Stage("done", t + b_out, 1, "done")]


def command_stages(cfg: TileConfig, op: str, *, passes: int = 1, latency: int | None = None,
                   phases: int = 4, bl: int | None = None) -> list[Stage]:
    """The schedule of one command ``op`` ("forward", "backward", "update") on an idle tile,
    from its CTRL write (cycle 0) to the cycle the operation is done (``ev_done``, the last
    cycle its ``CYC_*`` counts): CTRL write, load (``1 + B``), hand-over, NM or UM
    (``nm_cycles`` / ``um_cycles``), conversion into the shadow (``B_in`` / ``max(B_x, B_d)``),
    then the run (commit, per pass integrator reset, read window, conversion, decision; or
    per active phase ``BL·slot_cycles``).  ``latency`` defaults to ``adc_latency``, ``bl`` to
    ``cfg.update.bl``; ``phases`` are the update's active sign phases (0..4)."""
    latency = cfg.converters.adc_latency if latency is None else latency
    bl = cfg.update.bl if bl is None else bl
    lanes = cfg.host.stream_width
    bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
    out = [Stage("CTRL write", 0, 1, "CTRL write")]
    if op == "update":
        load = Stage("load", LOAD_TAKE, vector_cycles(cfg), "1 + B_x + B_d")
        hand = Stage("hand-over", load.end, UPDATE_HANDOFF, "UM start")
        mgmt = Stage("UM", hand.end, um_cycles(cfg), "um_cycles")
        conv = Stage("convert", mgmt.end, max(bx, bd) + scaler_cycles(cfg), "max(B_x, B_d) + L_s")
    elif op in ("forward", "backward"):
        b_in, name = (bx, "x") if op == "forward" else (bd, "d")
        load = Stage("load", LOAD_TAKE, vector_cycles(cfg, op=op), f"1 + B_{name}")
        hand = Stage("hand-over", load.end, READ_HANDOFF, "manage, NM start")
        mgmt = Stage("NM", hand.end, nm_cycles(cfg), "nm_cycles")
        conv = Stage("convert", mgmt.end, b_in + scaler_cycles(cfg), f"B_{name} + L_s")
    else:
        raise ValueError(f"op must be 'forward', 'backward' or 'update', not {op!r}")
    out += [load, hand, mgmt, conv]
    return out + _run_stages(cfg, op, conv.end, passes=passes, latency=latency,
                             phases=phases, bl=bl)


def command_cycles(cfg: TileConfig, op: str, **kw) -> int:
    """Cycles from a command's CTRL write (cycle 0) to its done cycle on an idle tile
    (:func:`command_stages`; the keywords are its)."""
    return command_stages(cfg, op, **kw)[-1].first


def burst_stages(cfg: TileConfig, count: int, *, phases: int = 4,
                 bl: int | None = None) -> list[list[Stage]]:
    """The schedules of ``count`` updates started by one CTRL write (``CTRL.count``), the
    stream offering every beat at once: each update's load, UM, conversion and run, as the
    pipeline overlaps them (load k+1 right after load k while a set is free, UM when the
    manager's last result was taken, conversion when the shadow is free, the run when the
    previous update is done).  The runs' starts are ``update_period`` apart once the
    pipeline is full."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    bl = cfg.update.bl if bl is None else bl
    lanes = cfg.host.stream_width
    bx, bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
    um, beats = um_cycles(cfg), max(bx, bd) + scaler_cycles(cfg)
    out: list[list[Stage]] = []
    take = LOAD_TAKE
    conv_ends: list[int] = []
    set_free: list[int] = []          # the cycle each update's set is free again
    um_starts: list[int] = []         # the cycle each update's manager was started
    um_takes: list[int] = []          # the cycle each update's UM result was taken
    prev_commit = commit_prev_done = None
    for k in range(count):
        if k >= VECTOR_SETS:             # the set is free once update k-3's beats are read
            take = max(take, set_free[k - VECTOR_SETS])
        load = Stage("load", take, 1 + bx + bd, "1 + B_x + B_d")
        # UM_COPIES managers in turn, started um_interval apart; a manager starts again in
        # the cycle its previous result is taken
        um_start = load.end
        if k:
            um_start = max(um_start, um_starts[-1] + um_interval(cfg))
        if k >= UM_COPIES:
            um_start = max(um_start, um_takes[k - UM_COPIES])
        mgmt = Stage("UM", um_start + 1, um, "um_cycles")
        done_um = mgmt.last
        take_um = done_um if not out else max(done_um, conv_ends[-1] + 1, prev_commit + 1)
        conv = Stage("convert", take_um + 1, beats, "max(B_x, B_d) + L_s")
        commit = conv.end if not out else max(conv.end, commit_prev_done + 1)
        stages = [load, Stage("hand-over", um_start, 1, "UM start"), mgmt]
        if take_um > done_um:
            stages.append(Stage("UM result held", done_um + 1, take_um - done_um, "wait"))
        stages.append(conv)
        run = _run_stages(cfg, "update", commit, passes=1, latency=0, phases=phases, bl=bl)
        out.append(stages + run)
        conv_ends.append(conv.last)
        set_free.append(conv.first + max(bx, bd))   # the lane scalers' latency follows
        um_starts.append(um_start)
        um_takes.append(take_um)
        prev_commit, commit_prev_done = commit, run[-1].first
        take = load.end
    return out


def transfer_read_cycles(cfg: TileConfig, *, latency: int | None = None) -> int:
    """One one-hot transfer read of a column: ``A + B_d + TRANSFER_READ_FIXED + L_r − 1``
    (start, integrate/convert, ``B_d`` result beats into the per-row registers, idle;
    L_r = :func:`adc_stream_cycles`: the readout follows ``conv_done`` at once, so the
    result pipeline fills during one HOLD cycle only)."""
    return (adc_read_cycles(cfg, latency=latency)
            + stream_beats(cfg.out_size, cfg.host.stream_width) + TRANSFER_READ_FIXED
            + adc_stream_cycles(cfg) - 1)


def transfer_column_cycles(cfg: TileConfig, rounds: int, pulse_slots: int, *,
                           latency: int | None = None) -> int:
    """One column's transfer, data dependent through the reference's ``rounds`` (programming
    iterations k, 0..max_iterations) and ``pulse_slots`` (Σ over the rounds of the up and
    down slots, each the largest pulse count of that direction):
    ``(5 + k)·R + 3 + pulse_slots·slot_cycles``, R = :func:`transfer_read_cycles` (three
    reads, the read after the reset, k + 1 verify reads)."""
    return ((TRANSFER_COLUMN_READS + rounds) * transfer_read_cycles(cfg, latency=latency)
            + TRANSFER_COLUMN_FIXED + pulse_slots * cfg.converters.slot_cycles)


def transfer_cycles(cfg: TileConfig, columns, *, latency: int | None = None) -> int:
    """A transfer event (``CYC_TRANSFER``): ``1 + Σ_columns transfer_column_cycles``;
    ``columns`` is ``[(rounds, pulse_slots), …]``; a full sweep is the sum over all N."""
    return TRANSFER_FIXED + sum(transfer_column_cycles(cfg, k, s, latency=latency)
                                for k, s in columns)
