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


async def start_and_wait(ctx, dut, limit: int = 10_000, *, at=None) -> int:
    """Pulse ``dut.start`` and wait for ``dut.done``; returns cycles from start to done.
    ``at``: ``{cycle: {port: value}}`` set in that cycle after the start (cycle 0), e.g. the
    operands a block samples later than its start."""
    at = at or {}
    ctx.set(dut.start, 1)
    for port, value in at.get(0, {}).items():
        ctx.set(getattr(dut, port), value)
    await ctx.tick()
    ctx.set(dut.start, 0)
    cycles = 1
    while not ctx.get(dut.done):
        for port, value in at.get(cycles, {}).items():
            ctx.set(getattr(dut, port), value)
        await ctx.tick()
        cycles += 1
        assert cycles < limit, "done never came"
    return cycles
