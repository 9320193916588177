"""cocotb bench: the generated AdcInterface against rpu.models.ref_adc.

A front-end coroutine answers each ``adc_start`` with ``adc_done`` and that group's codes
``cfg.converters.adc_latency`` cycles later (one pass has a silent group to exercise the timeout);
the bench checks the conversion time, saturation flags and the scaled result stream.
All driving and sampling happens at falling edges (registered outputs settled).
"""

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from rpu.models import ref_adc
from rpu.models import ref_management as rm
from rpu.spec.timing import sat_count_cycles, stream_beats
from rpu.testbench.lanes import pack_lanes, unpack_lanes
from rpu.testbench.layouts import CLOCK_NS
from rpu.testbench.report import bench_config, bench_params, write_results


@cocotb.test(timeout_time=50, timeout_unit="ms")
async def adc_interface_matches_reference(dut):
    p = bench_params()
    cfg = bench_config()
    nx = rm.numerics(cfg)
    lines, lanes = p["lines"], p["lanes"]
    rng = np.random.default_rng(p["seed"])
    groups = ref_adc.adc_groups(lines, cfg.converters.lines_per_adc)
    regs = rm.registers_from_config(cfg)
    Clock(dut.clk, CLOCK_NS, unit="ns").start()
    for name in ("start", "readout", "adc_done", "adc_codes", "out_mul", "out_exp", "bm_k",
                 "res_ready"):
        getattr(dut, name).value = 0
    dut.rst.value = 1
    await FallingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    state = {"codes": None, "silent": None}

    async def frontend():
        await FallingEdge(dut.clk)
        while True:
            if not int(dut.adc_start.value):
                await FallingEdge(dut.clk)
                continue
            sel = int(dut.adc_sel.value)
            for _ in range(cfg.converters.adc_latency):
                await FallingEdge(dut.clk)
            if sel == state["silent"]:
                continue
            dut.adc_codes.value = pack_lanes(state["codes"][groups[sel]], nx.adc_bits)
            dut.adc_done.value = 1
            await FallingEdge(dut.clk)
            dut.adc_done.value = 0

    cocotb.start_soon(frontend())
    cycles_seen, timeouts, checked = set(), 0, 0
    for i in range(p["passes"]):
        codes = rng.integers(-nx.adc_max - 1, nx.adc_max + 1, lines)
        kind = rng.integers(0, 5, lines)
        codes[kind == 0] = 0
        codes[kind == 1] = rng.choice([nx.adc_max, -nx.adc_max, -nx.adc_max - 1], lines)[kind == 1]
        silent = int(rng.integers(0, cfg.converters.lines_per_adc)) if i == p["passes"] // 2 else None
        state["codes"], state["silent"] = codes, silent
        alpha = int(rng.integers(0, nx.value_max + 2))
        nm = rm.nm_params(nx, alpha, int(rng.integers(0, 3)), regs["out_scale"])
        k = int(rng.integers(0, 16))
        dut.out_mul.value = nm["out_mul"]
        dut.out_exp.value = nm["out_exp"]
        dut.bm_k.value = k
        dut.start.value = 1
        await FallingEdge(dut.clk)
        dut.start.value = 0
        cycles = 1
        trace = []
        while not int(dut.conv_done.value):
            trace.append((int(dut.integ_reset.value), int(dut.integ_en.value)))
            await FallingEdge(dut.clk)
            cycles += 1
            assert cycles < 100_000, "conv_done never came"
        window = cfg.dac_max * cfg.converters.slot_cycles
        assert trace[:1 + window] == [(1, 0)] + [(0, 1)] * window, "integrator timing"
        assert all(t == (0, 0) for t in trace[1 + window:]), "integrator must hold"
        seen = codes.copy()
        if silent is not None:
            seen[groups[silent]] = 0
            assert int(dut.timeout.value) == 1, "silent ADC group not flagged"
            timeouts += 1
        else:
            assert int(dut.timeout.value) == 0
            cycles_seen.add(cycles)
        y, sat, clip = ref_adc.adc_readout(cfg, seen, nm["out_mul"], nm["out_exp"], k)
        assert int(dut.any_sat.value) == int(sat.any())
        wait = 0
        while not int(dut.sat_valid.value):         # the count settles sat_count_cycles later
            await FallingEdge(dut.clk)
            wait += 1
        assert wait == sat_count_cycles(cfg, lines)
        assert int(dut.sat_lines.value) == int(sat.sum())
        dut.readout.value = 1
        await FallingEdge(dut.clk)
        dut.readout.value = 0
        got_y, got_s, got_c = [], [], []
        beats = 0
        # sample at the falling edge; the transfer happens at the next rising edge if ready
        while True:
            valid = int(dut.res_valid.value)
            ready = int(rng.random() < 0.7)
            if valid and ready:
                data, s, c = int(dut.res_data.value), int(dut.res_sat.value), int(dut.res_clip.value)
                last = int(dut.res_last.value)
                for lane in range(lanes):
                    got_y.append(int(unpack_lanes(data >> (lane * nx.result_bits), nx.result_bits, 1)[0]))
                    got_s.append(bool((s >> lane) & 1))
                    got_c.append(bool((c >> lane) & 1))
                beats += 1
            dut.res_ready.value = ready
            await FallingEdge(dut.clk)
            if valid and ready and last:
                break
            assert beats <= stream_beats(lines, lanes)
        dut.res_ready.value = 0
        assert beats == stream_beats(lines, lanes)
        assert got_y[:lines] == y.tolist(), f"pass {i}: results differ"
        assert got_s[:lines] == sat.tolist() and got_c[:lines] == clip.tolist()
        assert all(v == 0 for v in got_y[lines:])
        assert not int(dut.busy.value)
        checked += 1
    assert len(cycles_seen) == 1
    write_results(passes=checked, cycles=cycles_seen.pop(), timeouts=timeouts)
