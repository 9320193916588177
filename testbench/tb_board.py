"""cocotb bench of the board core (``rpu_board_core``): the host is
:class:`rpu.driver.SerialHost` over the simulated serial line (:class:`~rpu.testbench.
serial_line.UartLine` on ``rx``/``tx``, nothing else of the design is touched), and every
result, device state, emulator counter and tile counter is compared with ``TileReference``
over ``EmulatedCrossbarRef`` bit for bit (the emulator bench's :class:`~rpu.testbench.
tb_emulator.Checker`).

``params``: ``config``, ``emulator`` (``EmulatorConfig`` fields), ``divisor`` (clock cycles
per bit of the design), ``updates`` (K), ``seed``, ``perturb`` (tests only: one reference
state moved before the first check, which must then fail).
"""

from __future__ import annotations

import time

import numpy as np

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time

from rpu.driver import SerialHost
from rpu.models import TileReference
from rpu.models.ref_emulator import EmulatedCrossbarRef
from rpu.spec.serial import BITS_PER_BYTE, LinkFlag
from rpu.testbench.layouts import CLOCK_NS, sim_cycles
from rpu.testbench.report import bench_config, bench_params, write_results
from rpu.testbench.serial_line import UartLine
from rpu.testbench.tb_emulator import Checker, emulator_config
from rpu.testbench.tb_tile import vectors

TIMEOUT = dict(timeout_time=500, timeout_unit="ms")     # simulated: 50 M cycles


class Meter:
    """Bytes on the line and simulated cycles of each timed step."""

    def __init__(self, host, divisor):
        self.host, self.divisor, self.steps = host, divisor, {}

    def start(self):
        self.mark = (self.host.bytes_sent, self.host.bytes_received, sim_cycles(get_sim_time("ns")))

    def stop(self, name):
        s0, r0, c0 = self.mark
        sent, recv = self.host.bytes_sent - s0, self.host.bytes_received - r0
        cycles = sim_cycles(get_sim_time("ns")) - c0
        self.steps[name] = dict(sent=sent, received=recv, cycles=cycles,
                                line_cycles=max(sent, recv) * BITS_PER_BYTE * self.divisor)


@cocotb.test(**TIMEOUT)
async def ops_over_serial(dut):
    """Bring-up over the line (INFO, IDs, seeds), the initial states, a forward and a
    backward, K updates, the states and counters, a forward and a backward again."""
    cfg, p = bench_config(), bench_params()
    ecfg, divisor = emulator_config(p), p["divisor"]
    rng = np.random.default_rng(p.get("seed", 5))
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    dut.rst.value = 1
    line = UartLine(dut.rx, dut.tx, divisor)
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    t0 = time.perf_counter()
    host = SerialHost(line, cfg, ecfg)
    meter = Meter(host, divisor)
    info = await host.connect()
    assert info["flags"] == 0, f"link flags after reset: {LinkFlag(info['flags'])!r}"
    await host.emu.wait_ready()
    assert await host.emu.read("EMU_ID") == host.emu.rm["EMU_ID"].reset
    assert await host.read("ID") == host.rm["ID"].reset
    await host.write_fields("CTRL", load_seeds=1)

    ref = TileReference(cfg, crossbar=EmulatedCrossbarRef(cfg, ecfg))
    chk = Checker(host, host.emu, ref, cfg, p)
    meter.start()
    await chk.check(0)
    meter.stop("check")
    x, d = vectors(cfg, rng)
    meter.start()
    await chk.read("forward", x)
    meter.stop("forward")
    meter.start()
    await chk.read("backward", d)
    meter.stop("backward")
    k = p.get("updates", 3)
    meter.start()
    for _ in range(k):
        xk, dk = vectors(cfg, rng, scale=0.6)
        xk *= rng.choice((-1, 1))
        await host.update(xk, dk)
        chk.updated(xk, dk)
    await host.wait_idle()
    meter.stop("updates")
    await chk.check(k)
    xr, dr = vectors(cfg, rng, scale=0.5)
    await chk.read("forward", xr)
    await chk.read("backward", dr)
    info = await host.info()
    assert info["flags"] == 0 and line.frame_errors == 0, "link errors during the run"
    write_results(updates=k, wall_s=time.perf_counter() - t0, steps=meter.steps,
                  bytes_sent=host.bytes_sent, bytes_received=host.bytes_received,
                  cycles=sim_cycles(get_sim_time("ns")), reads=chk.fig["reads"],
                  checks=chk.fig["checks"], phases=sorted(chk.phases))
