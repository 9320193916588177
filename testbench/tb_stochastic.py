"""cocotb bench of the stochastic pulse bank (:class:`rpu.rtl.stochastic.UpdatePulser`)
against :mod:`rpu.models.ref_stochastic`, slot by slot (:mod:`rpu.testbench.line_bench`)."""

import cocotb

from rpu.testbench.line_bench import run_bench


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def stochastic_matches_reference(dut):
    await run_bench(dut, "update")
