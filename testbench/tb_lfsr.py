"""cocotb smoke bench: the generated LFSR follows its Python reference bit for bit."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from rpu.models.ref_lfsr import LFSRModel
from rpu.testbench.layouts import CLOCK_NS
from rpu.testbench.report import bench_params, write_results


@cocotb.test(timeout_time=10, timeout_unit="ms")
async def lfsr_matches_reference(dut):
    p = bench_params()
    model = LFSRModel(p["width"], tuple(p["taps"]), p["leap"], seed=p["seed"])
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    dut.rst.value = 1
    dut.load.value = 0
    dut.advance.value = 0
    dut.seed.value = p["seed"]
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    dut.load.value = 1
    await RisingEdge(dut.clk)
    dut.load.value = 0
    dut.advance.value = 1
    await ReadOnly()
    assert int(dut.state.value) == p["seed"]
    for step in range(p["steps"]):
        await RisingEdge(dut.clk)
        await ReadOnly()
        expect = model.advance()
        got = int(dut.state.value)
        assert got == expect, f"step {step}: RTL {got:#x} != reference {expect:#x}"
    write_results(steps=p["steps"], final_state=int(dut.state.value))
