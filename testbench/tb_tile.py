"""End-to-end cocotb benches of the tile top: host driver on the AXI ports, analog
front-end + behavioural crossbar on the line drives, compared with the reference
(rpu.models.TileReference) bit for bit and cycle for cycle."""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from rpu.models import Crossbar, MultiConductanceCrossbar, TileReference
from rpu.models.ref_management import to_fixed
from rpu.spec.encodings import ErrorFlag
from rpu.spec.timing import (adc_read_cycles, nm_cycles, read_cycles, stream_beats, um_cycles,
                             update_cycles, update_period, vector_cycles)
from rpu.testbench.afe import AnalogFrontEnd
from rpu.testbench.host import Host
from rpu.testbench.layouts import CLOCK_NS, DriveRow, sim_cycles
from rpu.testbench.report import bench_config, bench_params, write_results

TIMEOUT = dict(timeout_time=20, timeout_unit="ms")   # simulated: 2M cycles


async def bringup(dut, cfg, *, seed=None):
    """Clock, reset, host driver, analog front-end (model seed ``seed``), seeds loaded."""
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    afe = AnalogFrontEnd(dut, cfg, array_of(cfg)(cfg, seed=seed))
    await ClockCycles(dut.clk, 2)
    host = Host(dut, cfg)           # after the outputs are defined (Icarus starts at X)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    afe.start()
    await host.write_fields("CTRL", load_seeds=1)
    return host, afe


def array_of(cfg):
    """The behavioural array class of ``cfg``."""
    return MultiConductanceCrossbar if cfg.mc.enabled else Crossbar


def vectors(cfg, rng, scale=1.0):
    """x, d in fixed point.  A side of two or more lines has both signs (x: ±scale at its
    ends, d: ±scale/2), so an update exercises all four sign quadrants; the one line of a
    one-line side gets that peak with a random sign."""
    x = rng.uniform(-scale, scale, cfg.in_size)
    d = rng.uniform(-scale, scale, cfg.out_size)
    for v, peak in ((x, scale), (d, scale / 2)):
        if len(v) > 1:
            v[0], v[-1] = peak, -peak
        else:
            v[0] = peak * rng.choice((-1, 1))
    return to_fixed(cfg, x), to_fixed(cfg, d)


def slots_of(drv):
    """The reference's slot drives as the harness's recorder rows."""
    return np.concatenate([getattr(drv, name) for name in DriveRow.FIELDS], axis=1)


@cocotb.test(**TIMEOUT)
async def ops_bit_exact(dut):
    """forward, backward, K updates, forward: results, drives, weights and cycle counts
    equal the reference."""
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 1))
    host, afe = await bringup(dut, cfg)
    ref = TileReference(cfg, Crossbar(cfg))
    fig = dict(forward_cycles=[], backward_cycles=[], update_cycles=[], passes=[],
               slots=0, phases=set())

    async def read(op, v):
        res = await (host.forward(v) if op == "forward" else host.backward(v))
        exp = ref.forward_fixed(v) if op == "forward" else ref.backward_fixed(v)
        assert len(res) == len(exp.y_fixed), f"{op}: {len(res)} results, expected {len(exp.y_fixed)}"
        if not np.array_equal(res, exp.y_fixed):
            cocotb.log.error("%s mismatch: ERROR=%#x reads=%s", op, await host.read("ERROR"),
                             [(r["side"], r["net"][:6], r["codes"][:6]) for r in afe.reads])
        assert np.array_equal(res, exp.y_fixed), \
            f"{op}: RTL {res[:8]}… != reference {exp.y_fixed[:8]}…"
        passes = [r for r in afe.reads[-exp.passes:]]
        for (dac, _adc), r in zip(exp.history, passes):
            assert np.array_equal(r["net"], dac), f"{op}: integrated pulses != DAC codes"
        await host.wait_idle()
        cyc = await host.read("CYC_FORWARD" if op == "forward" else "CYC_BACKWARD")
        want = read_cycles(cfg, backward=op == "backward", passes=exp.passes)
        assert cyc == want, f"{op}: {cyc} cycles, formula {want} ({exp.passes} passes)"
        fig[f"{op}_cycles"].append(cyc)
        fig["passes"].append(exp.passes)
        return res, exp

    for name in ("ID", "SHAPE", "FORMAT", "TIMING"):    # constants from the register map
        assert await host.read(name) == host.rm[name].reset, name
    x, d = vectors(cfg, rng)
    await read("forward", x)
    await read("backward", d)
    for k in range(p.get("updates", 3)):
        xk, dk = vectors(cfg, rng)
        before = len(afe.update_slots)
        await host.update(xk, dk)
        await host.wait_idle()
        afe.flush()
        batches = afe.update_slots[before:]
        codes, drv = ref.update_fixed(xk, dk)
        got = np.concatenate(batches) if batches else DriveRow.of(cfg).empty()
        n = len(got)
        assert n == len(drv.x_pos), f"update {k}: {n} slots driven, reference {len(drv.x_pos)}"
        assert len(batches) == 1, f"update {k}: applied in {len(batches)} batches, not one"
        assert np.array_equal(got, slots_of(drv)), f"update {k}: line drives differ from ref_streams"
        cyc = await host.read("CYC_UPDATE")
        want = update_cycles(cfg, ref.phases(codes), codes.bl)
        assert cyc == want, f"update {k}: {cyc} cycles, formula {want}"
        fig["update_cycles"].append(cyc)
        fig["slots"] += n
        fig["phases"] |= set(int(q) for q in np.unique(drv.phase))
    assert np.array_equal(afe.xb.weights, ref.crossbar.weights), "weights differ from reference"
    await read("forward", x)
    await read("backward", d)
    # a saturating forward: bound management retries with the input halved
    w_big = np.full((cfg.out_size, cfg.in_size), 0.5)
    afe.xb.set_weights(w_big)
    ref.crossbar.set_weights(w_big)
    _res, exp = await read("forward", to_fixed(cfg, np.ones(cfg.in_size)))
    assert exp.passes > 1, "the saturating forward must retry"
    fig["bm_passes"] = exp.passes
    ops = [await host.read(f"OPS_{o}") for o in ("FORWARD", "BACKWARD", "UPDATE")]
    assert ops == [3, 2, p.get("updates", 3)], f"operation counters {ops}"
    assert await host.read("SATURATIONS") > 0
    # endurance counters = update slots each line was driven (from the recorded drives)
    xp, xn, dp, dn = DriveRow.of(cfg).split(np.concatenate(afe.update_slots))
    pulses_x = await host.read_array("PULSES_X")
    pulses_d = await host.read_array("PULSES_D")
    assert np.array_equal(pulses_x, (xp | xn).sum(axis=0))
    assert np.array_equal(pulses_d, (dp | dn).sum(axis=0))
    assert pulses_x.sum() > 0
    err = await host.read("ERROR")
    assert err == 0, f"unexpected error flags {err:#x}"
    fig["phases"] = sorted(fig["phases"])
    write_results(**fig, pulses_x_total=int(pulses_x.sum()))


@cocotb.test(**TIMEOUT)
async def update_statistics(dut):
    """K updates with fixed x, d: returns the weight change for the statistical check."""
    cfg, p = bench_config(), bench_params()
    host, afe = await bringup(dut, cfg)
    x = to_fixed(cfg, np.array(p["x"]))
    d = to_fixed(cfg, np.array(p["d"]))
    w0 = afe.xb.weights.copy()
    for _ in range(p["updates"]):
        await host.update(x, d)
    await host.wait_idle()
    afe.flush()
    dw = afe.xb.weights - w0
    write_results(dw=dw.tolist(), slots=int(sum(len(b) for b in afe.update_slots)))


@cocotb.test(**TIMEOUT)
async def back_to_back_updates(dut):
    """Updates queued back to back: the slot starts of consecutive updates are exactly
    ``update_period`` cycles apart, and the pipelined updates still drive the reference's
    pulse streams and leave the reference's weights.  Then a mixed queue (update, forward,
    update, backward, update, each queued as soon as the previous frames are out): results
    and weights bit-exact, as the reference applies them in command order."""
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 3))
    host, afe = await bringup(dut, cfg)
    ref = TileReference(cfg, Crossbar(cfg))
    starts = []

    async def watch():
        prev = 0
        cyc = 0
        while True:
            await FallingEdge(dut.clk)
            cyc += 1
            cur = int(dut.upd_slot.value)
            if cur and not prev:
                starts.append(cyc)
            prev = cur

    w = cocotb.start_soon(watch())
    x, d = vectors(cfg, rng)
    n = p.get("updates", 6)
    runs = [ref.update_fixed(x, d) for _ in range(n)]
    codes = runs[0][0]
    for _ in range(n):
        await host.update(x, d)
    await host.wait_idle()
    w.cancel()
    afe.flush()
    got = np.concatenate(afe.update_slots) if afe.update_slots else np.zeros((0, 1), bool)
    exp = np.concatenate([slots_of(drv) for _c, drv in runs])
    assert np.array_equal(got, exp), f"drives differ from ref_streams ({len(got)} vs {len(exp)} slots)"
    assert np.array_equal(afe.xb.weights, ref.crossbar.weights), "weights differ from reference"
    # mixed queue: nothing waits for a result before the next command is queued
    x2, d2 = vectors(cfg, rng)
    expect = []
    for op in ("update", "forward", "update", "backward", "update"):
        if op == "update":
            await host.update(x2, d2)
            ref.update_fixed(x2, d2)
        else:
            await host.wait_sent()
            await host.start(op)
            await host.send(x2 if op == "forward" else d2)
            expect.append((ref.forward_fixed(x2) if op == "forward" else ref.backward_fixed(d2)).y_fixed)
    for k, want_y in enumerate(expect):
        got_y = await host.recv(len(want_y))
        assert np.array_equal(got_y, want_y), f"mixed queue: read {k} differs from reference"
    await host.wait_idle()
    afe.flush()
    assert np.array_equal(afe.xb.weights, ref.crossbar.weights), "mixed queue: weights differ"
    gaps = np.diff(starts).tolist()
    want = update_period(cfg, ref.phases(codes), codes.bl)
    # the first gaps include the pipeline fill; the steady state is the rest
    steady = gaps[2:]
    assert steady and all(g == want for g in steady), f"gaps {gaps}, formula {want}"
    # a burst: n updates from one CTRL write (CTRL.count), different vectors each
    ops0 = await host.read("OPS_UPDATE")
    pairs = [vectors(cfg, rng) for _ in range(n)]
    starts.clear()
    w = cocotb.start_soon(watch())
    await host.update_burst(pairs)
    await host.wait_idle()
    w.cancel()
    afe.flush()
    burst = [ref.update_fixed(xk, dk)[0] for xk, dk in pairs]
    assert await host.read("OPS_UPDATE") - ops0 == n, "burst: wrong number of updates"
    assert np.array_equal(afe.xb.weights, ref.crossbar.weights), "burst: weights differ"
    burst_gaps = np.diff(starts).tolist()
    # steady state: each gap is the previous update's period (its pulses end the slot run)
    burst_want = [update_period(cfg, ref.phases(c), c.bl) for c in burst[:-1]]
    assert burst_gaps[2:] == burst_want[2:], f"burst gaps {burst_gaps}, formula {burst_want}"
    write_results(gaps=gaps, period=want, vector_cycles=vector_cycles(cfg),
                  update_cycles=update_cycles(cfg, ref.phases(codes), codes.bl),
                  burst_gaps=burst_gaps, burst_period=burst_want)


@cocotb.test(**TIMEOUT)
async def robustness(dut):
    """Wrong-length frames, illegal register values, bad op codes, result back-pressure
    and reset in the middle of each operation: flagged and counted, nothing stuck, no
    result lost or duplicated."""
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 4))
    host, afe = await bringup(dut, cfg)
    rm = host.rm
    flag = {f.key: 1 << f for f in ErrorFlag}
    x, d = vectors(cfg, rng)

    # short frame, long frame: dropped, flagged, counted; the tile goes back to idle
    await host.start("forward")
    await host.send(x[:len(x) - cfg.host.stream_width])         # one beat short
    await host.wait_idle()
    await host.start("forward")
    await host.send(np.concatenate([x, x[:cfg.host.stream_width]]))
    await host.wait_idle()
    assert await host.read("ERROR") & flag["stream_length"]
    assert await host.read("ERR_COUNT") == 2
    assert await host.read("OPS_FORWARD") == 0
    # a good forward afterwards works
    y = await host.forward(x)
    assert len(y) == cfg.out_size

    # illegal register values: SLVERR, value kept, flagged, counted
    before = await host.read("CONFIG")
    for bad in (dict(bl=0), dict(bl=cfg.update.bl_max + 1), dict(nm_mode=3), dict(bm_max_passes=0)):
        resp = await host.write_fields("CONFIG", **{**rm.decode("CONFIG", before), **bad})
        assert resp == 2, f"{bad}: response {resp}"
    assert await host.read("CONFIG") == before
    assert await host.write("SEED_X", 0) == 2
    assert await host.read("ERROR") & flag["illegal_value"]
    # bad op code, a second command while one is queued
    await host.write_fields("CTRL", start=1, op=3)
    assert await host.read("ERROR") & flag["bad_op"]
    await host.start("backward")           # queued, waits for its frame
    await host.start("backward")           # loader busy + queue full? first is taken
    await host.start("backward")
    assert await host.read("ERROR") & flag["cmd_busy"]
    # clear the flags (write 1 to clear)
    await host.write("ERROR", (1 << len(ErrorFlag)) - 1)
    # feed the accepted backwards, keep the results
    await host.send(d)
    z1 = await host.recv(cfg.in_size)
    await host.send(d)
    z2 = await host.recv(cfg.in_size)
    assert len(z1) == len(z2) == cfg.in_size

    # back-pressure on the result stream: results wait, none lost or duplicated
    host.sink.pause = True
    await host.start("forward")
    await host.send(x)
    await ClockCycles(dut.clk, 2 * read_cycles(cfg) + 50)
    st = await host.status()
    assert st["busy"], "forward must wait for the result stream"
    host.sink.pause = False
    y2 = await host.recv(cfg.out_size)
    assert len(y2) == cfg.out_size
    await host.wait_idle()
    await ClockCycles(dut.clk, 20)
    assert host.sink.empty(), "a result frame was duplicated"

    # reset in the middle of each operation
    resets = 0
    states = []
    # delays (cycles after the frames are handed over): the middle of the forward's read
    # window, while the backward loads, the middle of the update pulses, at once — from the
    # stage latencies: load, NM/UM, conversion into the shadow (max beats + 2), then run
    conv = stream_beats(max(cfg.in_size, cfg.out_size), cfg.host.stream_width) + 2
    mid_read = vector_cycles(cfg, op="forward") + nm_cycles(cfg) + conv + adc_read_cycles(cfg) // 2
    mid_update = vector_cycles(cfg) + um_cycles(cfg) + conv + cfg.update.bl * cfg.converters.slot_cycles * 2
    for op, delay in (("forward", mid_read), ("backward", 4), ("update", mid_update),
                      ("update", 2)):
        if op == "update":
            await host.update(x, d)
        else:
            await host.start(op)
            await host.send(x if op == "forward" else d)
        await ClockCycles(dut.clk, delay)
        states.append((await host.status())["state"])
        dut.rst.value = 1
        await ClockCycles(dut.clk, 2)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        st = await host.status()
        assert not st["busy"] and not st["loading"] and st["cmd_ready"], f"after reset in {op}: {st}"
        resets += 1
        await host.write_fields("CTRL", load_seeds=1)
        y3 = await host.forward(x)
        assert len(y3) == cfg.out_size
        await host.wait_idle()
    assert await host.read("ERROR") == 0
    write_results(resets=resets, states=states)


@cocotb.test(**TIMEOUT)
async def demo(dut):
    """`rpu demo`: a forward, a backward and K updates with fixed x, d against the model.

    Returns the RTL results, the model's weights and the cycle counts; rpu/demo.py
    evaluates them (error vs W·x against the noise model, mean ΔW vs −lr·K·d·xᵀ)."""
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 5))
    host, afe = await bringup(dut, cfg)
    w0 = rng.uniform(-0.3, 0.3, (cfg.out_size, cfg.in_size))
    afe.xb.set_weights(w0)
    ref = TileReference(cfg, Crossbar(cfg))
    ref.crossbar.set_weights(w0)
    x, d = vectors(cfg, rng, scale=p.get("scale", 1.0))
    out = dict(w_read=afe.xb.weights.tolist(), x=x.tolist(), d=d.tolist())
    out["y"] = (await host.forward(x)).tolist()
    fwd = ref.forward_fixed(x)
    out["y_ref"], out["passes_forward"] = fwd.y_fixed.tolist(), fwd.passes
    out["z"] = (await host.backward(d)).tolist()
    out["z_ref"] = ref.backward_fixed(d).y_fixed.tolist()
    await host.wait_idle()
    out["cyc_forward"] = await host.read("CYC_FORWARD")
    out["cyc_backward"] = await host.read("CYC_BACKWARD")
    w1 = afe.xb.weights.copy()
    codes = None
    for _ in range(p.get("updates", 100)):
        await host.update(x, d)
        codes, _drv = ref.update_fixed(x, d)
    await host.wait_idle()
    afe.flush()
    out["dw"] = (afe.xb.weights - w1).tolist()
    out["weights_equal_ref"] = bool(np.array_equal(afe.xb.weights, ref.crossbar.weights))
    out["cyc_update"] = await host.read("CYC_UPDATE")
    out["phases"] = ref.phases(codes)
    out["bl"] = int(codes.bl)
    out["x_codes"] = codes.x_codes.tolist()
    out["d_codes"] = codes.d_codes.tolist()
    out["ops"] = [await host.read(f"OPS_{o}") for o in ("FORWARD", "BACKWARD", "UPDATE")]
    out["error_flags"] = await host.read("ERROR")
    out["sim_cycles"] = sim_cycles(get_sim_time("ns"))
    write_results(**out)


@cocotb.test(**TIMEOUT)
async def throughput(dut):
    """Wall-clock rate of forwards and of back-to-back updates, each update started by its
    own CTRL write and all started by one (``CTRL.count``), with the model applying every
    update's slots (benchmarks/cosim_throughput.py)."""
    import time
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 6))
    host, afe = await bringup(dut, cfg)
    x, d = vectors(cfg, rng, scale=0.3)
    n_fwd, n_upd = p.get("forwards", 20), p.get("updates", 200)
    await host.update(x, d)                 # warm-up: loads the model's compiled kernels
    await host.wait_idle()
    afe.flush()
    out = {}

    async def timed(name, run):
        slots = sum(len(b) for b in afe.update_slots)
        t, c = time.perf_counter(), sim_cycles(get_sim_time("ns"))
        await run()
        await host.wait_idle()
        afe.flush()                         # (the last update's slots, if not applied yet)
        out[name + "_s"] = time.perf_counter() - t
        out[name + "_cycles"] = sim_cycles(get_sim_time("ns")) - c
        out[name + "_slots"] = int(sum(len(b) for b in afe.update_slots) - slots)

    async def forwards():
        for _ in range(n_fwd):
            await host.forward(x)

    async def updates():
        for _ in range(n_upd):
            await host.update(x, d)

    async def burst():
        await host.update_burst([(x, d)] * n_upd)

    await timed("forward", forwards)
    await timed("update", updates)
    await timed("burst", burst)
    write_results(forwards=n_fwd, updates=n_upd, **out)


# -- multi-conductance transfer ---------------------------------------------------------------

async def mc_idle(host):
    """wait_idle, naming the run and transfer states when the tile does not get idle."""
    try:
        return await host.wait_idle(max_polls=3000)
    except TimeoutError:
        raise TimeoutError(f"tile did not return to idle: {await host.status()}, transfer "
                           f"{host.rm.decode('TRANSFER_STATUS', await host.read('TRANSFER_STATUS'))}") from None


def mc_state(cfg, rng, *arrays, lsp=0.1):
    """The same random MSP/LSP state on every array (a real carry in every column)."""
    shape = (cfg.out_size, cfg.in_size)
    parts = [rng.uniform(0, 0.12, shape), rng.uniform(0, 0.12, shape),
             rng.uniform(0, lsp, shape), rng.uniform(0, lsp, shape)]
    for xb in arrays:
        xb.set_pair("msp", parts[0], parts[1])
        xb.set_pair("lsp", parts[2], parts[3])


TRANSFER_COUNTERS = {"TRANSFER_COLUMNS": "columns", "TRANSFER_SWEEPS": "sweeps",
                     "CLT_ROUNDS": "rounds", "CLT_ROUNDS_MAX": "rounds_max",
                     "CLT_NONCONVERGED": "nonconverged", "REFRESHES": "refreshes",
                     "OPS_TRANSFER": "events"}


async def check_transfer_state(host, afe, ref, what):
    """Weights, polarity, pulse counts and every transfer counter equal the reference."""
    afe.flush()
    if not np.array_equal(afe.xb.weights, ref.crossbar.weights) and ref.last_transfer is not None:
        mine = [(r["part"], r["codes"].tolist()) for r in afe.reads[-40:]]
        theirs = [(int(p), c.tolist()) for col in ref.last_transfer.columns for p, c in col.reads]
        cocotb.log.error("front-end reads %s", mine)
        cocotb.log.error("reference reads %s", theirs)
        cocotb.log.error("ref drives %s", [col.drives for col in ref.last_transfer.columns])
        cocotb.log.error("afe resets %s", afe.resets[-6:])
        cocotb.log.error("status %s, OPS_TRANSFER %d, OPS_UPDATE %d, TRANSFER_STATUS %s, CFG %#x EVERY %d",
                         await host.status(), await host.read("OPS_TRANSFER"), await host.read("OPS_UPDATE"),
                         host.rm.decode("TRANSFER_STATUS", await host.read("TRANSFER_STATUS")),
                         await host.read("TRANSFER_CFG"), await host.read("TRANSFER_EVERY"))
    assert np.array_equal(afe.xb.weights, ref.crossbar.weights), f"{what}: weights differ"
    assert np.array_equal(afe.xb.polarity, ref.crossbar.polarity), f"{what}: polarity differs"
    for k, (s, r) in afe.xb.pulse_counts.items():
        rs, rr = ref.crossbar.pulse_counts[k]
        assert np.array_equal(s, rs) and np.array_equal(r, rr), f"{what}: {k} pulse counts differ"
    got = {reg: await host.read(reg) for reg in TRANSFER_COUNTERS}
    want = {reg: ref.transfers.counters[key] for reg, key in TRANSFER_COUNTERS.items()}
    assert got == want, f"{what}: counters {got} != reference {want}"
    pol = await host.read_array("POLARITY")
    bits = sum(int(p < 0) << j for j, p in enumerate(ref.crossbar.polarity))
    assert sum(int(w) << (32 * i) for i, w in enumerate(pol)) == bits, f"{what}: POLARITY"
    st = host.rm.decode("TRANSFER_STATUS", await host.read("TRANSFER_STATUS"))
    assert st["column"] == ref.transfers.column and st["state"] == 0, f"{what}: {st}"


async def check_transfer_cycles(host, ref, fig):
    from rpu.spec.timing import transfer_cycles
    ev = ref.last_transfer
    want = transfer_cycles(host.cfg, [(c.rounds, c.pulse_slots) for c in ev.columns])
    got = await host.read("CYC_TRANSFER")
    assert got == want, f"transfer: {got} cycles, formula {want} (rounds {ev.rounds})"
    fig["transfer_cycles"].append(got)
    fig["rounds"] += ev.rounds


@cocotb.test(**TIMEOUT)
async def mc_transfer(dut):
    """A multi-conductance tile: forward, updates with automatic transfers interleaved
    (TRANSFER_EVERY), a commanded transfer queued behind a forward whose results are held
    back (back-pressure), a forward again, then a reset in the middle of a transfer and a
    transfer after it: results, weights, polarity, pulse counts, counters and cycles
    bit-exact against the reference."""
    from copy import deepcopy
    cfg, p = bench_config(), bench_params()
    rng = np.random.default_rng(p.get("seed", 7))
    host, afe = await bringup(dut, cfg)
    ref = TileReference(cfg, MultiConductanceCrossbar(cfg))
    mc_state(cfg, rng, afe.xb, ref.crossbar)
    fig = dict(transfer_cycles=[], rounds=[], w_change=[], events=0)

    async def forward(x):
        y = await host.forward(x)
        want = ref.forward_fixed(x).y_fixed
        assert np.array_equal(y, want), f"forward: RTL {y} != reference {want}"
        return y

    x, d = vectors(cfg, rng, scale=0.5)
    await forward(x)
    # updates; a transfer event after every TRANSFER_EVERY-th, between the updates
    for k in range(p.get("updates", 2 * cfg.mc.transfer_every)):
        xk, dk = vectors(cfg, rng, scale=0.5)
        w_before = ref.crossbar.weights.copy()
        await host.update(xk, dk)
        ref.update_fixed(xk, dk)
        if ref.last_transfer is not None:
            await mc_idle(host)
            await check_transfer_state(host, afe, ref, f"automatic transfer after update {k}")
            await check_transfer_cycles(host, ref, fig)
            fig["events"] += 1
    await mc_idle(host)
    await check_transfer_state(host, afe, ref, "after the updates")
    assert fig["events"] >= 2, "the updates must trigger automatic transfers"
    # a forward with its results held back, a commanded transfer queued behind it: the
    # transfer waits for the forward (command order), the results come out intact
    host.sink.pause = True
    await host.start("forward")
    await host.send(x)
    await host.start("transfer")
    exp_y = ref.forward_fixed(x).y_fixed
    w_before = ref.crossbar.weights.astype(np.float64)
    ref.transfer()
    await ClockCycles(dut.clk, 3 * read_cycles(cfg))
    st = await host.status()
    assert st["busy"] and st["state"] != 7, f"the transfer must wait for the forward: {st}"
    host.sink.pause = False
    y = await host.recv(cfg.out_size)
    assert np.array_equal(y, exp_y), "forward under back-pressure differs"
    await mc_idle(host)
    await check_transfer_state(host, afe, ref, "commanded transfer")
    await check_transfer_cycles(host, ref, fig)
    fig["w_change"].append(float(np.abs(ref.crossbar.weights - w_before).max()))
    await forward(x)
    # reset in the middle of a transfer: everything idles, polarity and column restart
    await host.write_fields("TRANSFER_CFG", auto=0, max_iterations=cfg.mc.max_iterations,
                            max_pulses=cfg.mc.max_pulses)
    await host.start("transfer")
    await ClockCycles(dut.clk, 2 * read_cycles(cfg))
    st = host.rm.decode("TRANSFER_STATUS", await host.read("TRANSFER_STATUS"))
    assert st["state"] != 0, f"reset must hit a running transfer: {st}"
    fig["reset_state"] = st["state"]
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    st = await host.status()
    assert not st["busy"] and not st["loading"] and st["cmd_ready"], f"after reset: {st}"
    assert await host.read("TRANSFER_COLUMNS") == 0
    await host.write_fields("CTRL", load_seeds=1)
    afe.flush()
    afe.sync_polarity()                  # the periphery's polarity restarted
    # a fresh reference on the array as the aborted transfer left it
    ref = TileReference(cfg, deepcopy(afe.xb))
    await host.start("transfer")
    ref.transfer()
    await mc_idle(host)
    await check_transfer_state(host, afe, ref, "transfer after a reset")
    await check_transfer_cycles(host, ref, fig)
    await forward(x)
    err = await host.read("ERROR")
    assert err == 0, f"unexpected error flags {err:#x}"
    write_results(**fig)
