"""Helper for fast block tests under Amaranth's own simulator."""

from __future__ import annotations

from amaranth.sim import Simulator

__all__ = ["simulate"]


def simulate(dut, *testbenches, vcd: str | None = None, period: float = 1e-8) -> None:
    """Run async ``testbenches(ctx)`` against ``dut`` with a ``sync`` clock."""
    sim = Simulator(dut)
    sim.add_clock(period)
    for tb in testbenches:
        sim.add_testbench(tb)
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
