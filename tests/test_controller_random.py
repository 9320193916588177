"""Randomised command sequences on the pipelined tile controller (Amaranth simulator).

Random mixes of forward / backward / update commands (some as ``cmd_count`` bursts, some
with op code 3, some with wrong-length frames), a fresh random vector for every operation,
random ``tvalid`` gaps, random result back-pressure, random ADC answer delays and an eager
host (starts refused while the queue is full are retried) are checked against the
reference: command order, result frames (``read_path`` with the ADC codes the bench
answered), BM passes, the read pulse widths of every pass, no stray line drive, update
drives (``UpdateStreamsModel`` in command order), ``op_cycles`` against ``read_cycles`` /
``update_cycles`` (plus the cycles spent waiting for ``tready`` and ADC answers), nothing
running after the last operation, event counts.  All seeds fixed."""

import numpy as np
import pytest

from rpu.config import TileConfig
from rpu.models.ref_management import read_path, update_codes
from rpu.models.ref_stochastic import UpdateStreamsModel, active_phases
from rpu.spec.formats import registers_from_config
from rpu.spec.timing import read_cycles, update_cycles
from rpu.testbench.lanes import pack_lanes

from test_controller import _frame, run_controller

CONFIGS = {
    # defaults: bound management on (cap 5), one lane group, slot_cycles 1
    "8x4-l4": TileConfig(in_size=8, out_size=4, stream_width=4),
    # muxed ADCs, two-cycle slots, lanes not dividing the sizes, BM cap 3
    "12x20-l3-mux4-slot2": TileConfig(in_size=12, out_size=20, stream_width=3, lines_per_adc=4,
                                      slot_cycles=2, bl=4, bm_max_passes=3),
    # dynamic BL, pow2 noise management, UM off, one lane
    "6x5-l1-dynbl": TileConfig(in_size=6, out_size=5, stream_width=1, bl=3, bl_max=7,
                               dynamic_bl=True, noise_management="pow2",
                               update_management=False, lr=0.5, bm_max_passes=2),
    # no noise management (DAC codes clip), three-cycle slots, BL 2 (UM-bound updates)
    "16x8-l5-mux2-nmoff": TileConfig(in_size=16, out_size=8, stream_width=5, lines_per_adc=2,
                                     slot_cycles=3, bl=2, noise_management="off"),
}
ADC_LATENCY = 1     # the bench answers in the cycle after adc_start (done held high)
TAIL = 60           # cycles watched after the last expected op: nothing else may run


def _random_vector(cfg, rng, n):
    vmax = (1 << (cfg.host.value_bits - 1)) - 1
    kind = rng.choice(["uniform", "small", "full", "zero"], p=[0.6, 0.15, 0.15, 0.1])
    if kind == "zero":
        return np.zeros(n, np.int64)
    if kind == "full":                      # the whole fixed-point range, both ends
        v = rng.integers(-vmax - 1, vmax + 1, n)
        v[rng.integers(n)] = rng.choice([vmax, -vmax - 1])
        return v
    scale = 1 if kind == "uniform" else 1e-3
    return np.round(rng.uniform(-scale, scale, n) * (1 << cfg.host.value_frac_bits)).astype(np.int64)


def adc_codes(seed, cfg):
    """``(pass, n_adcs) -> codes``: per pass, all in range or (half the passes) one ADC at
    either end of the scale (saturated)."""
    amax = (1 << (cfg.converters.adc_bits - 1)) - 1

    def codes(n_pass, n):
        rng = np.random.default_rng([seed, n_pass, n])
        c = rng.integers(-amax + 1, amax, n)
        if rng.random() < 0.5:
            c[rng.integers(n)] = rng.choice([amax, -amax - 1])
        return c
    return codes


def random_program(cfg, rng, n_cmds, *, p_burst=0.25, p_bad=0.0, p_wrong=0.0):
    """Commands, the frames streamed, the operations expected to run ``(op, x, d)`` and the
    number of malformed frames."""
    commands, frames, expect, wrong = [], [], [], 0
    for _ in range(n_cmds):
        if rng.random() < p_bad:
            commands.append(("bad", 1))
        op = str(rng.choice(["forward", "backward", "update"], p=[0.3, 0.3, 0.4]))
        count = int(rng.integers(2, 5)) if rng.random() < p_burst else int(rng.integers(0, 2))
        commands.append((op, count))
        for _ in range(max(count, 1)):
            x = _random_vector(cfg, rng, cfg.in_size)
            d = _random_vector(cfg, rng, cfg.out_size)
            fr = {"forward": [_frame(cfg, x)], "backward": [_frame(cfg, d)],
                  "update": [_frame(cfg, x), _frame(cfg, d)]}[op]
            if rng.random() < p_wrong:      # one frame one beat short or long: op dropped
                k = int(rng.integers(len(fr)))
                short = len(fr[k]) > 1 and rng.random() < 0.5
                fr[k] = fr[k][:-1] if short else fr[k] + [fr[k][0]]
                fr = fr[:k + 1]             # an update whose x frame is dropped sends no d
                wrong += 1
            else:
                expect.append((op, x, d))
            frames += fr
    return commands, frames, expect, wrong


def reference(cfg, expect, codes):
    """Per expected op: result frame (reads), BM passes, drives (updates), cycle formula."""
    regs = registers_from_config(cfg)
    streams = UpdateStreamsModel(cfg)
    lanes, n_pass, ref = cfg.host.stream_width, 0, []
    for op, x, d in expect:
        if op == "update":
            c = update_codes(cfg, x, d, regs=regs)
            drv = streams.drives(c.x_codes, c.d_codes, c.bl)
            phases = len(active_phases(c.x_codes, c.d_codes)) if c.bl else 0
            ref.append(dict(op=op, cycles=update_cycles(cfg, phases, c.bl), drives=np.concatenate(
                [drv.x_pos, drv.x_neg, drv.d_pos, drv.d_neg], axis=1)))
            continue
        back = op == "backward"
        n_adcs = cfg.num_adcs_x if back else cfg.num_adcs_d

        def analog(dac):
            nonlocal n_pass
            c = codes(n_pass, n_adcs)
            n_pass += 1
            return np.tile(c, cfg.converters.lines_per_adc)     # line g·num_adcs + a ← ADC a
        r = read_path(cfg, d if back else x, analog, backward=back, regs=regs)
        y = np.asarray(r.y_fixed, np.int64)
        frame = [pack_lanes(y[i:i + lanes], cfg.host.result_bits) for i in range(0, len(y), lanes)]
        zero = np.zeros(cfg.in_size if back else cfg.out_size, np.int64)   # the other side
        nets = [np.concatenate([zero, dac] if back else [dac, zero]) * cfg.converters.slot_cycles
                for dac, _ in r.history]     # pulse widths of every pass, signed
        ref.append(dict(op=op, passes=r.passes, frame=frame, nets=nets,
                        cycles=read_cycles(cfg, backward=back, passes=r.passes,
                                           latency=ADC_LATENCY)))
    return ref


def check(out, ref, *, exact):
    assert out["done"] == [r["op"] for r in ref], "operations out of order, lost or doubled"
    assert out["extra"] == 0 and out["idle"], "more ran than was sent"
    reads = [r for r in ref if r["op"] != "update"]
    upds = [r for r in ref if r["op"] == "update"]
    assert len(out["results"]) == len(reads) and len(out["slots"]) == len(upds)
    assert out["stray"] == 0, "lines driven at both polarities or outside a pulse window"
    for k, (got, r) in enumerate(zip(out["results"], reads)):
        assert got == r["frame"], f"read {k} ({r['op']}) result frame"
    for k, (got, r) in enumerate(zip(out["read_drives"], reads)):
        assert len(got) == len(r["nets"]) and all(
            np.array_equal(a, b) for a, b in zip(got, r["nets"])), f"read {k} pulse widths"
    for k, (got, r) in enumerate(zip(out["slots"], upds)):
        assert np.array_equal(np.array(got, dtype=bool).reshape(-1, r["drives"].shape[1]),
                              r["drives"]), f"update {k} drives"
    for k, (r, passes, cyc, stall, wait) in enumerate(zip(ref, out["passes"], out["cycles"],
                                                          out["stalls"], out["adc_waits"])):
        if r["op"] == "update":
            assert cyc == r["cycles"], f"op {k} update: {cyc} cycles, formula {r['cycles']}"
            continue
        assert passes == r["passes"], f"op {k} {r['op']}: {passes} passes, ref {r['passes']}"
        # back-pressure and slower ADC answers add exactly the cycles waited
        assert cyc == r["cycles"] + stall + wait, \
            f"op {k} {r['op']}: {cyc} cycles, formula {r['cycles']} + {stall} stalled " \
            f"+ {wait} ADC waits"
        if exact:
            assert stall == wait == 0


SCENARIOS = [   # config, vector sets, seed, commands, stream gaps, result stalls,
    #             host waits / eager starts, faults (op code 3, wrong-length frames)
    ("8x4-l4", 3, 1, 24, 0.3, 0.0, 0.0, False),
    ("8x4-l4", 3, 2, 24, 0.2, 0.4, 0.3, True),
    ("8x4-l4", 2, 9, 24, 0.2, 0.4, 0.3, True),
    ("12x20-l3-mux4-slot2", 3, 4, 16, 0.3, 0.0, 0.0, False),
    ("12x20-l3-mux4-slot2", 3, 5, 16, 0.2, 0.5, 0.3, True),
    ("6x5-l1-dynbl", 3, 5, 24, 0.3, 0.0, 0.0, False),
    ("6x5-l1-dynbl", 3, 3, 24, 0.2, 0.4, 0.3, True),
    ("16x8-l5-mux2-nmoff", 3, 10, 20, 0.3, 0.0, 0.0, False),
    ("16x8-l5-mux2-nmoff", 3, 13, 20, 0.2, 0.4, 0.3, True),
]


@pytest.mark.parametrize("name,sets,seed,n_cmds,p_gap,p_stall,p_host,faults", SCENARIOS,
                         ids=[f"{s[0]}-sets{s[1]}-seed{s[2]}" + ("-pressure" if s[5] else "")
                              for s in SCENARIOS])
def test_random_command_sequences_amaranth_sim(name, sets, seed, n_cmds, p_gap, p_stall,
                                               p_host, faults):
    """Random command sequences finish in order with the reference's results, passes,
    drives and cycle counts (exact without back-pressure; with it and with ADC answers
    delayed by 0..2 cycles, formula + the cycles waited);
    with ``faults``, op-code-3 commands and wrong-length frames are dropped and counted."""
    cfg = CONFIGS[name]
    rng = np.random.default_rng(seed)
    commands, frames, expect, wrong = random_program(
        cfg, rng, n_cmds, p_bad=0.1 if faults else 0.0, p_wrong=0.1 if faults else 0.0)
    codes = adc_codes(seed, cfg)
    ref = reference(cfg, expect, codes)
    out = run_controller(cfg, commands, frames, adc_code=codes, vector_sets=sets,
                         seed=seed, p_gap=p_gap,
                         p_stall=p_stall, p_host_wait=p_host, p_eager=p_host,
                         adc_wait=2 if p_stall else 0,
                         expect_done=len(expect), limit=400 * len(frames) + 2000, tail=TAIL)
    check(out, ref, exact=p_stall == 0)
    assert out["events"]["stream_length"] == wrong
    assert out["events"]["bad_op"] == sum(op == "bad" for op, _ in commands)
    # the program exercised what it is meant to: bursts, BM retries, every op kind
    assert any(c > 1 for _, c in commands)
    assert {r["op"] for r in ref} == {"forward", "backward", "update"}
    assert any(r.get("passes", 1) > 1 for r in ref)
    if faults:
        assert wrong and out["events"]["bad_op"] and out["events"]["cmd_busy"]


@pytest.mark.parametrize("name,seed,saturate", [("8x4-l4", 7, False),
                                                ("12x20-l3-mux4-slot2", 8, True)])
def test_reset_mid_sequence_then_clean_ops_amaranth_sim(name, seed, saturate):
    """A reset at a random cycle of a random sequence (loads, conversions, pulses or reads in
    flight; stream gaps, back-pressure, eager host) leaves the controller clean: after
    reloading the seeds an update, a forward, a backward and another update match a fresh
    reference (ADCs answering a fixed code, full scale with ``saturate``: BM runs to its cap)."""
    cfg = CONFIGS[name]
    rng = np.random.default_rng(seed)
    commands, frames, expect, _ = random_program(cfg, rng, 10)
    code = (1 << (cfg.converters.adc_bits - 1)) - 1 if saturate else int(rng.integers(-100, 100))
    kw = dict(adc_code=code, seed=seed, p_gap=0.2, p_stall=0.3, p_host_wait=0.3, p_eager=0.3)
    first = run_controller(cfg, commands, frames, **kw)["done_at"]
    reset_at = int(rng.integers(first[0] + 1, first[-1]))      # after the first op finished
    vec = [(_random_vector(cfg, rng, cfg.in_size), _random_vector(cfg, rng, cfg.out_size))
           for _ in range(4)]
    after_ops = ["update", "forward", "backward", "update"]
    after_frames = [f for op, (x, d) in zip(after_ops, vec)
                    for f in {"forward": [_frame(cfg, x)], "backward": [_frame(cfg, d)],
                              "update": [_frame(cfg, x), _frame(cfg, d)]}[op]]
    out = run_controller(cfg, commands, frames, reset_at=reset_at, tail=TAIL,
                         after_reset=([(op, 0) for op in after_ops], after_frames), **kw)
    assert 0 < len(out["reset_done"]) < len(expect), "reset not in the middle of the sequence"
    assert out["reset_done"] == [op for op, _, _ in expect][:len(out["reset_done"])]
    ref = reference(cfg, [(op, x, d) for op, (x, d) in zip(after_ops, vec)],
                    lambda n_pass, n: np.full(n, code))
    check(out, ref, exact=False)
    if saturate:
        assert out["passes"][1] == cfg.io.bm_max_passes
