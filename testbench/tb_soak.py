"""cocotb soak bench: many updates interleaved with reads on one tile, against the reference.

``params``: ``updates`` (N), ``read_every`` (a forward and a backward after every R-th
update, queued behind it), ``checkpoints`` (K: after every N/K updates the tile is let idle,
the recorded slots applied, and the weights, the operation counters and the per-line pulse
counters compared with the reference, bit for bit), ``seed``; ``perturb`` (tests only) moves
one reference weight before the first checkpoint, which must then fail.  Every read's results are
compared as they come.  Each update has its own random vectors (both signs), so the weights
random-walk; the reference counts each line's pulses from its own slot drives.  Figures go
to the results file (wall time, simulated cycles, checkpoints)."""

from __future__ import annotations

import time

import numpy as np

import cocotb
from cocotb.utils import get_sim_time

from rpu.testbench.layouts import sim_cycles
from rpu.testbench.report import bench_config, bench_params, write_results
from rpu.testbench.tb_tile import bringup, twin_with_weights, vectors

TIMEOUT = dict(timeout_time=100, timeout_unit="sec")      # simulated: 10 G cycles


@cocotb.test(**TIMEOUT)
async def soak(dut):
    cfg, p = bench_config(), bench_params()
    n, every, k = p["updates"], p.get("read_every", 10), p.get("checkpoints", 10)
    rng = np.random.default_rng(p.get("seed", 21))
    host, afe = await bringup(dut, cfg)
    ref = twin_with_weights(cfg, afe, rng, 0.2)
    px, pd = np.zeros(cfg.in_size, np.int64), np.zeros(cfg.out_size, np.int64)
    ops = np.zeros(3, np.int64)                      # forward, backward, update
    marks = sorted({max(1, round(n * (j + 1) / k)) for j in range(k)})
    fig = dict(checkpoints=[], reads=0, slots=0)
    t_wall, c0 = time.perf_counter(), sim_cycles(get_sim_time("ns"))

    async def checkpoint(done):
        await host.wait_idle()
        afe.flush()
        if p.get("perturb") and not fig["checkpoints"]:     # (a test: the check must fail)
            ref.crossbar.devices.w[0, 0] = -ref.crossbar.devices.w[0, 0] - 0.01
        fig["slots"] += sum(len(b) for b in afe.update_slots)
        afe.update_slots.clear()                     # (memory: N updates' slot rows)
        assert np.array_equal(afe.xb.weights, ref.crossbar.weights), \
            f"after {done} updates: weights differ from the reference"
        got_ops = [await host.read(f"OPS_{o}") for o in ("FORWARD", "BACKWARD", "UPDATE")]
        assert got_ops == ops.tolist(), f"after {done} updates: OPS_* {got_ops}, reference {ops.tolist()}"
        got_x, got_d = await host.read_array("PULSES_X"), await host.read_array("PULSES_D")
        assert np.array_equal(got_x, px) and np.array_equal(got_d, pd), \
            f"after {done} updates: pulse counters differ from the reference"
        err = await host.read("ERROR")
        assert err == 0, f"after {done} updates: error flags {err:#x}"
        fig["checkpoints"].append(dict(updates=done, wall_s=time.perf_counter() - t_wall,
                                       cycles=sim_cycles(get_sim_time("ns")) - c0,
                                       pulses=int(px.sum() + pd.sum())))
        print(f"soak checkpoint: {fig['checkpoints'][-1]}", flush=True)   # (sim.log, live)

    for i in range(1, n + 1):
        x, d = vectors(cfg, rng, scale=0.3)
        x *= rng.choice((-1, 1))                     # (vectors fixes the ends' signs)
        await host.update(x, d)
        _codes, drv = ref.update_fixed(x, d)
        px += (drv.x_pos | drv.x_neg).sum(axis=0)
        pd += (drv.d_pos | drv.d_neg).sum(axis=0)
        ops[2] += 1
        if i % every == 0:
            xr, dr = vectors(cfg, rng, scale=0.5)
            y = await host.forward(xr)
            want = ref.forward_fixed(xr).y_fixed
            assert np.array_equal(y, want), f"forward after update {i} differs from the reference"
            z = await host.backward(dr)
            want = ref.backward_fixed(dr).y_fixed
            assert np.array_equal(z, want), f"backward after update {i} differs from the reference"
            ops[:2] += 1
            fig["reads"] += 2
        if i in marks:
            await checkpoint(i)
    write_results(updates=n, read_every=every, wall_s=time.perf_counter() - t_wall,
                  cycles=sim_cycles(get_sim_time("ns")) - c0, **fig)
