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


async def start_and_wait(ctx, dut, limit: int = 10_000) -> int:
    """Pulse ``dut.start`` and wait for ``dut.done``; returns cycles from start to done."""
    ctx.set(dut.start, 1)
    await ctx.tick()
    ctx.set(dut.start, 0)
    cycles = 1
    while not ctx.get(dut.done):
        await ctx.tick()
        cycles += 1
        assert cycles < limit, "done never came"
    return cycles
