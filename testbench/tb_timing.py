"""cocotb bench of ``rpu timing``: one operation on an idle tile, traced.

The bench brings the tile up, lets it idle, then runs ``params["op"]`` (``forward``,
``backward``, ``update``, ``burst``: ``count`` updates from one CTRL write, or ``transfer``
on a multi-conductance tile) and waits until the tile is idle again.  The waveform (VCD) is
the result; the bench reports the simulated times the operation's window starts and ends
(``t0_ns``, ``t1_ns``) and checks the results against the reference, so a diagram is
never drawn from a run that computed something else."""

from __future__ import annotations

import numpy as np

import cocotb
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from rpu.testbench.report import bench_config, bench_params, write_results
from rpu.testbench.tb_tile import TIMEOUT, bringup, twin_with_weights, vectors

#: idle cycles drawn before the CTRL write
LEAD = 3


@cocotb.test(**TIMEOUT)
async def timing(dut):
    cfg, p = bench_config(), bench_params()
    op, count = p["op"], p.get("count", 2)
    rng = np.random.default_rng(p.get("seed", 11))
    host, afe = await bringup(dut, cfg)
    ref = twin_with_weights(cfg, afe, rng, 0.3)
    await host.wait_idle()
    afe.flush()
    x, d = vectors(cfg, rng, scale=0.5)
    if op in ("update", "burst"):        # the frames wait in the player before the write
        pairs = [(x, d)] + [vectors(cfg, rng, scale=0.5) for _ in range(count - 1)]
        if op == "update":
            pairs = pairs[:1]
    await ClockCycles(dut.clk, LEAD)
    await RisingEdge(dut.clk)
    t0 = get_sim_time("ns")
    out = {}
    # the frames wait in the vector player before the CTRL write, so every beat is offered
    # as soon as the loader takes it (the formulas' stream)
    if op == "forward":
        await host.send(x)
        await host.start("forward")
        y = await host.recv(cfg.out_size)
        out["ok"] = bool(np.array_equal(y, ref.forward_fixed(x).y_fixed))
    elif op == "backward":
        await host.send(d)
        await host.start("backward")
        z = await host.recv(cfg.in_size)
        out["ok"] = bool(np.array_equal(z, ref.backward_fixed(d).y_fixed))
    elif op in ("update", "burst"):
        await host.send(*[v for pair in pairs for v in pair])    # one set (play_beats)
        await host.start("update", count=len(pairs))
        phases = []
        for xk, dk in pairs:
            codes, _drv = ref.update_fixed(xk, dk)
            phases.append(ref.phases(codes))
        out["phases"] = phases
    elif op == "transfer":
        await host.start("transfer")
        ev = ref.transfer()
        out["transfer_columns"] = [(int(c.rounds), int(c.pulse_slots)) for c in ev.columns]
    else:
        raise ValueError(f"unknown op {op!r}")
    await host.wait_idle()
    afe.flush()
    await ClockCycles(dut.clk, 2)
    t1 = get_sim_time("ns")
    if op in ("update", "burst", "transfer"):
        out["ok"] = bool(np.array_equal(afe.xb.weights, ref.crossbar.weights))
    assert out["ok"], f"{op}: the RTL's results differ from the reference"
    write_results(t0_ns=t0, t1_ns=t1, **out)
