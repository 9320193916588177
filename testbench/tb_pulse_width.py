"""cocotb bench of the pulse-width encoder bank (:class:`rpu.rtl.pulse_width.PulseWidthBank`)
against :mod:`rpu.models.ref_pulse_width`, slot by slot (:mod:`rpu.testbench.line_bench`)."""

import cocotb

from rpu.testbench.line_bench import run_bench


@cocotb.test(timeout_time=2000, timeout_unit="ms")
async def pulse_width_matches_reference(dut):
    await run_bench(dut, "pulse_width")
