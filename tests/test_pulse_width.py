"""Pulse-width encoder bank: reference semantics, bit-exact RTL (Amaranth sim and cocotb)."""

import numpy as np
import pytest

from rpu.models.ref_pulse_width import pulse_width_drives
from rpu.spec.timing import window_cycles
from rpu.rtl.generate import write_verilog
from rpu.rtl.pulse_width import PulseWidthBank
from rpu.testbench.amsim import simulate
from rpu.testbench.simulators import run_cocotb


def test_reference_pulse_counts_and_polarity():
    codes = np.array([0, 1, -1, 63, -63, -64, 17, -30])
    pos, neg = pulse_width_drives(codes, 7)
    assert pos.shape == neg.shape == (63, 8)
    assert not (pos & neg).any()
    np.testing.assert_array_equal(pos.sum(0), [0, 1, 0, 63, 0, 0, 17, 0])
    np.testing.assert_array_equal(neg.sum(0), [0, 0, 1, 0, 63, 63, 0, 30])  # -64 saturates
    # all lines start together: a pulse is slots 0 .. |c|-1
    assert pos[:17, 6].all() and not pos[17:, 6].any()


@pytest.mark.parametrize("bad,exc,match", [
    (dict(lines=0, dac_bits=7), ValueError, "lines"),
    (dict(lines=4097, dac_bits=7), ValueError, "lines"),
    (dict(lines=8, dac_bits=1), ValueError, "dac_bits"),
    (dict(lines=8, dac_bits=13), ValueError, "dac_bits"),
    (dict(lines=8, dac_bits=7, slot_cycles=0), ValueError, "slot_cycles"),
    (dict(lines=8, dac_bits=7, lanes=0), ValueError, "lanes"),
    (dict(lines=8.0, dac_bits=7), TypeError, "lines"),
    (dict(lines=8, dac_bits=True), TypeError, "dac_bits"),
])
def test_bad_parameters_rejected(bad, exc, match):
    with pytest.raises(exc, match=match):
        PulseWidthBank(**bad)


def test_reference_rejects_out_of_range_codes():
    with pytest.raises(ValueError, match="codes"):
        pulse_width_drives(np.array([64]), 7)
    with pytest.raises(TypeError, match="codes"):
        pulse_width_drives(np.array([0.5]), 7)


async def load(ctx, dut, codes, lanes, bits):
    ctx.set(dut.load_valid, 1)
    for k in range(-(-len(codes) // lanes)):
        ctx.set(dut.load_data, sum((int(c) & ((1 << bits) - 1)) << (l * bits)
                                   for l, c in enumerate(codes[k * lanes:(k + 1) * lanes])))
        await ctx.tick()
    ctx.set(dut.load_valid, 0)


@pytest.mark.parametrize("lines,dac_bits,sc,lanes", [(8, 7, 1, 1), (13, 4, 3, 5), (5, 2, 2, 2),
                                                     (33, 5, 1, 4), (3, 3, 1, 4)])
def test_bit_exact_amaranth(lines, dac_bits, sc, lanes):
    dut = PulseWidthBank(lines, dac_bits, slot_cycles=sc, lanes=lanes)
    half = 1 << (dac_bits - 1)
    rng = np.random.default_rng(lines)
    vectors = [rng.integers(-half, half, lines), np.resize([0, half - 1, -(half - 1), -half], lines),
               np.zeros(lines, int)]

    async def tb(ctx):
        for k, codes in enumerate(vectors):
            await load(ctx, dut, codes, lanes, dac_bits)
            if k % 2:                       # commit one cycle early, or with start
                ctx.set(dut.commit, 1)
                await ctx.tick()
            ctx.set(dut.commit, 1)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.commit, 0)
            ctx.set(dut.start, 0)
            got_pos, got_neg, cycles = [], [], 1
            while not ctx.get(dut.done):
                assert ctx.get(dut.busy)
                if (cycles - 1) % sc == 0:
                    assert ctx.get(dut.slot) == len(got_pos)
                    got_pos.append(ctx.get(dut.pos))
                    got_neg.append(ctx.get(dut.neg))
                else:
                    assert (ctx.get(dut.pos), ctx.get(dut.neg)) == (got_pos[-1], got_neg[-1])
                await ctx.tick()
                cycles += 1
            assert cycles == window_cycles(dac_bits, sc)
            assert ctx.get(dut.pos) == 0 and ctx.get(dut.neg) == 0
            pos, neg = pulse_width_drives(codes, dac_bits)
            weights = 1 << np.arange(lines, dtype=object)
            assert got_pos == [int((row * weights).sum()) for row in pos]
            assert got_neg == [int((row * weights).sum()) for row in neg]

    simulate(dut, tb)


def test_cosim_pulse_width_bit_exact(sim, tmp_path, waves):
    lines, dac_bits, lanes = 64, 7, 4
    path = write_verilog(PulseWidthBank(lines, dac_bits, lanes=lanes), "pulse_width64", tmp_path)
    rng = np.random.default_rng(7)
    updates = [dict(codes=rng.integers(-64, 64, lines).tolist()) for _ in range(4)]
    updates.append(dict(codes=np.resize([63, -63, -64, 0], lines).tolist()))
    res = run_cocotb(sim=sim, verilog=path, toplevel="pulse_width64", name="pulse_width64",
                     test_module="rpu.testbench.tb_pulse_width", waves=waves,
                     params=dict(kind="pulse_width", lines=lines, dac_bits=dac_bits,
                                 slot_cycles=1, lanes=lanes, updates=updates))
    assert res.results["slots"] == 5 * 63
    assert res.results["op_cycles"] == [window_cycles(dac_bits, 1)] * 5
    assert res.results["periods"] == [64] * 4        # back to back: window + 1 cycle
