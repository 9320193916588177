"""cocotb benches of the emulated tile (tile + gateware crossbar, ``rpu_emulated_tile``):
only the host side is driven (AXI4-Lite registers, the vector player, the result stream),
no Python front-end; everything is compared with ``TileReference`` over
``EmulatedCrossbarRef``, bit for bit: results, device states (read back through the
emulator's window), the emulator's counters and stall cycles, the tile's cycle and pulse
counters.

``params``: ``config`` (the tile), ``emulator`` (``EmulatorConfig`` fields), ``updates``
(K), ``check_every`` (states and counters compared after every that many updates, and at
the end), ``read_every`` (a forward and a backward after every that many updates), ``seed``,
``bm`` (end with a saturating forward: bound management retries), ``perturb`` (tests
only: one reference state moved before the first check, which must then fail).
"""

from __future__ import annotations

import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from rpu.config import EmulatorConfig
from rpu.models import TileReference
from rpu.models.ref_emulator import EmulatedCrossbarRef
from rpu.models.ref_management import to_fixed
from rpu.spec.emulator import HOST_STALL
from rpu.spec.timing import read_cycles, update_cycles
from rpu.testbench.emulator import EmuHost
from rpu.testbench.host import Host
from rpu.testbench.layouts import CLOCK_NS, sim_cycles
from rpu.testbench.report import bench_config, bench_params, write_results
from rpu.testbench.tb_tile import throughput_workload, vectors

TIMEOUT = dict(timeout_time=2, timeout_unit="sec")     # simulated: 200 M cycles


def emulator_config(p) -> EmulatorConfig:
    return EmulatorConfig.from_dict(p.get("emulator", {}))


async def bringup(dut, cfg, ecfg):
    """Clock, reset, host driver; waits for the emulator's initialisation, loads the seeds."""
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    host = Host(dut, cfg)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    emu = EmuHost(host, cfg, ecfg)
    await emu.wait_ready()
    assert await emu.read("EMU_ID") == emu.rm["EMU_ID"].reset
    assert await host.read("ID") == host.rm["ID"].reset
    await host.write_fields("CTRL", load_seeds=1)
    return host, emu


class Checker:
    """Compares the emulated tile with the reference and keeps the figures."""

    def __init__(self, host, emu, ref, cfg, p):
        self.host, self.emu, self.ref, self.cfg, self.p = host, emu, ref, cfg, p
        self.px = np.zeros(cfg.in_size, np.int64)
        self.pd = np.zeros(cfg.out_size, np.int64)
        self.ops = np.zeros(3, np.int64)
        self.fig = dict(checks=0, reads=0, passes=[], read_cycles=0, stall_update=0,
                        stall_read=0, states_min=0, states_max=0, slots=0)
        self.phases = set()
        self.perturbed = False

    async def read(self, op, v):
        host, ref, cfg = self.host, self.ref, self.cfg
        res = await (host.forward(v) if op == "forward" else host.backward(v))
        exp = ref.forward_fixed(v) if op == "forward" else ref.backward_fixed(v)
        assert np.array_equal(res, exp.y_fixed), \
            f"{op}: emulated tile {res[:8]}… != reference {exp.y_fixed[:8]}…"
        await host.wait_idle()
        cyc = await host.read("CYC_FORWARD" if op == "forward" else "CYC_BACKWARD")
        want = read_cycles(cfg, backward=op == "backward", passes=exp.passes)
        assert cyc == want, f"{op}: {cyc} tile cycles, formula {want} ({exp.passes} passes)"
        self.ops[0 if op == "forward" else 1] += 1
        self.fig["reads"] += 1
        self.fig["passes"].append(exp.passes)
        self.fig["read_cycles"] += cyc
        return exp

    def updated(self, x, d):
        codes, drv = self.ref.update_fixed(x, d)
        self.phases |= {int(q) for q in np.unique(drv.phase)}
        self.fig["slots"] += len(drv.phase)
        self.px += (drv.x_pos | drv.x_neg).sum(axis=0)
        self.pd += (drv.d_pos | drv.d_neg).sum(axis=0)
        self.ops[2] += 1
        return codes

    async def check(self, done):
        """States, emulator counters (stalls included), tile counters, error flags."""
        host, emu, ref = self.host, self.emu, self.ref
        await host.wait_idle()
        if self.p.get("perturb") and not self.perturbed:      # (a test: the check must fail)
            ref.crossbar.states[0, 0] += 1
            self.perturbed = True
        got = await emu.states()
        assert np.array_equal(got, ref.crossbar.states), \
            f"after {done} updates: states differ from the reference at " \
            f"{np.argwhere(got != ref.crossbar.states)[:4].tolist()}"
        counters = await emu.counters()
        want = dict(ref.crossbar.counters(), EMU_STALL_HOST=HOST_STALL * emu.commands)
        assert counters == want, f"after {done} updates: emulator counters {counters}, reference {want}"
        ops = [await host.read(f"OPS_{o}") for o in ("FORWARD", "BACKWARD", "UPDATE")]
        assert ops == self.ops.tolist(), f"after {done} updates: OPS_* {ops}, reference {self.ops.tolist()}"
        gx, gd = await host.read_array("PULSES_X"), await host.read_array("PULSES_D")
        assert np.array_equal(gx, self.px) and np.array_equal(gd, self.pd), \
            f"after {done} updates: pulse counters differ from the reference"
        err = await host.read("ERROR")
        assert err == 0, f"after {done} updates: error flags {err:#x}"
        st = await emu.status()
        assert st["ready"] and not st["bad_cmd"], f"emulator status {st}"
        self.fig["checks"] += 1
        self.fig["stall_update"] = counters["EMU_STALL_UPDATE"]
        self.fig["stall_read"] = counters["EMU_STALL_READ"]
        self.fig["pulses_up"] = counters["EMU_PULSES_UP"]
        self.fig["pulses_down"] = counters["EMU_PULSES_DOWN"]
        self.fig["states_min"] = int(got.min())
        self.fig["states_max"] = int(got.max())


@cocotb.test(**TIMEOUT)
async def ops_bit_exact(dut):
    """Initial states, a forward and a backward, K updates with reads interleaved, a
    saturating forward (bound management): all bit-exact with the reference."""
    cfg, p = bench_config(), bench_params()
    ecfg = emulator_config(p)
    rng = np.random.default_rng(p.get("seed", 5))
    host, emu = await bringup(dut, cfg, ecfg)
    ref = TileReference(cfg, crossbar=EmulatedCrossbarRef(cfg, ecfg))
    chk = Checker(host, emu, ref, cfg, p)
    k, every, read_every = p.get("updates", 10), p.get("check_every", 5), p.get("read_every", 5)
    t0, c0 = time.perf_counter(), sim_cycles(get_sim_time("ns"))
    await chk.check(0)
    x, d = vectors(cfg, rng)
    await chk.read("forward", x)
    await chk.read("backward", d)
    upd_cycles = []
    for i in range(1, k + 1):
        xk, dk = vectors(cfg, rng, scale=0.6)
        xk *= rng.choice((-1, 1))
        await host.update(xk, dk)
        codes = chk.updated(xk, dk)
        if i % read_every == 0 or i == k:
            await host.wait_idle()
            cyc = await host.read("CYC_UPDATE")
            want = update_cycles(cfg, ref.phases(codes), codes.bl)
            assert cyc == want, f"update {i}: {cyc} tile cycles, formula {want}"
            upd_cycles.append(cyc)
            xr, dr = vectors(cfg, rng, scale=0.5)
            await chk.read("forward", xr)
            await chk.read("backward", dr)
        if i % every == 0 or i == k:
            await chk.check(i)
    if p.get("bm", True):                               # a saturating forward
        big = ecfg.step * 200
        for i in range(cfg.out_size):
            for j in range(cfg.in_size):
                await emu.poke(i, j, big)
                ref.crossbar.poke(i, j, big)
        exp = await chk.read("forward", to_fixed(cfg, np.ones(cfg.in_size)))
        assert exp.passes > 1, "the saturating forward must retry"
        await chk.check(k)
    wall_cycles = sim_cycles(get_sim_time("ns")) - c0
    write_results(updates=k, wall_s=time.perf_counter() - t0, wall_cycles=wall_cycles,
                  update_tile_cycles=upd_cycles, **chk.fig,
                  ops=chk.ops.tolist(), phases=sorted(chk.phases))


@cocotb.test(**TIMEOUT)
async def throughput(dut):
    """Wall-clock rate of forwards and of back-to-back updates (each by its own CTRL write,
    then all by one, ``CTRL.count``), the workload of ``tb_tile.throughput`` (the same
    vectors and seeds), no Python per cycle or slot and no check in the timed region;
    afterwards the states and the emulator's counters against the reference."""
    cfg, p = bench_config(), bench_params()
    ecfg = emulator_config(p)
    rng = np.random.default_rng(p.get("seed", 6))
    host, emu = await bringup(dut, cfg, ecfg)
    x, d = vectors(cfg, rng, scale=0.3)
    n_fwd, n_upd = p.get("forwards", 20), p.get("updates", 200)
    await host.update(x, d)                             # warm-up, as tb_tile's
    await host.wait_idle()
    out = {}

    async def timed(name, run):
        t, c = time.perf_counter(), sim_cycles(get_sim_time("ns"))
        await run()
        await host.wait_idle()
        out[name + "_s"] = time.perf_counter() - t
        out[name + "_cycles"] = sim_cycles(get_sim_time("ns")) - c

    await throughput_workload(host, x, d, n_fwd, n_upd, timed)
    ref = TileReference(cfg, crossbar=EmulatedCrossbarRef(cfg, ecfg))
    codes, _ = ref.update_fixed(x, d)
    y = None
    for _ in range(n_fwd):
        y = ref.forward_fixed(x).y_fixed
    for _ in range(2 * n_upd):
        ref.update_fixed(x, d)
    got = await emu.states()
    assert np.array_equal(got, ref.crossbar.states), "states differ from the reference"
    counters = await emu.counters()
    want = dict(ref.crossbar.counters(), EMU_STALL_HOST=HOST_STALL * emu.commands)
    assert counters == want, f"emulator counters {counters}, reference {want}"
    write_results(forwards=n_fwd, updates=n_upd, **out, stall_update=ref.crossbar.stall_update,
                  stall_read=ref.crossbar.stall_read, rows=ref.crossbar.rows,
                  slots=ref.crossbar.slots, last_forward=[int(v) for v in y],
                  update_tile_cycles=update_cycles(cfg, ref.phases(codes), codes.bl),
                  read_tile_cycles=read_cycles(cfg, passes=ref.last_read.passes))
