import math
import random

import pytest

from rpu.spec.timing import div_cycles, sqrt_cycles
from rpu.rtl.arith import SeqDivider, SeqSqrt
from rpu.testbench.amsim import simulate, start_and_wait


async def _run(ctx, dut, operands, result):
    """Start with ``operands``, count cycles to ``done``, return (cycles, result)."""
    for sig, v in operands.items():
        ctx.set(getattr(dut, sig), v)
    cycles = await start_and_wait(ctx, dut, limit=1000)
    return cycles, result()


@pytest.mark.parametrize("num_bits,den_bits", [(26, 16), (9, 9), (40, 32)])
def test_divider_matches_integer_division(num_bits, den_bits):
    rng = random.Random(num_bits)
    dut = SeqDivider(num_bits, den_bits)
    cases = [((1 << num_bits) - 1, 1), ((1 << num_bits) - 1, (1 << den_bits) - 1), (0, 7), (5, 9)]
    cases += [(rng.randrange(1 << num_bits), rng.randrange(1, 1 << den_bits)) for _ in range(40)]

    async def tb(ctx):
        for num, den in cases:
            cycles, (q, r, z) = await _run(ctx, dut, dict(num=num, den=den),
                                           lambda: (ctx.get(dut.quo), ctx.get(dut.rem),
                                                    ctx.get(dut.div_zero)))
            assert (q, r, z) == (num // den, num % den, 0), (num, den)
            assert cycles == div_cycles(num_bits)
            # outputs hold after done
            await ctx.tick().repeat(3)
            assert ctx.get(dut.quo) == num // den
        # division by zero: flagged, all-ones quotient, still done in time
        cycles, (q, z) = await _run(ctx, dut, dict(num=123, den=0),
                                    lambda: (ctx.get(dut.quo), ctx.get(dut.div_zero)))
        assert z == 1 and q == (1 << num_bits) - 1 and cycles == div_cycles(num_bits)

    simulate(dut, tb)


@pytest.mark.parametrize("rad_bits", [8, 33, 80])
def test_sqrt_matches_isqrt(rad_bits):
    rng = random.Random(rad_bits)
    dut = SeqSqrt(rad_bits)
    cases = [0, 1, 2, 3, 4, (1 << rad_bits) - 1]
    cases += [rng.randrange(1 << rad_bits) for _ in range(40)]
    cases += [k * k for k in (rng.randrange(1 << (rad_bits // 2)) for _ in range(5))]

    async def tb(ctx):
        for rad in cases:
            cycles, root = await _run(ctx, dut, dict(rad=rad), lambda: ctx.get(dut.root))
            assert root == math.isqrt(rad), rad
            assert cycles == sqrt_cycles(rad_bits)

    simulate(dut, tb)


@pytest.mark.parametrize("cls,args,exc,message", [
    (SeqDivider, (0, 4), ValueError, r"^num_bits must be an integer in \[1, 512\], not 0$"),
    (SeqDivider, (4, "4"), TypeError, r"^den_bits must be an integer in \[1, 512\], not '4'$"),
    (SeqSqrt, (1,), ValueError, r"^rad_bits must be an integer in \[2, 512\], not 1$"),
    (SeqSqrt, (True,), TypeError, r"^rad_bits must be an integer"),
    (SeqDivider, (4, 4, 0), ValueError, r"^bits_per_cycle must be an integer in \[1, 8\], not 0$"),
    (SeqSqrt, (8, 2.0), TypeError, r"^bits_per_cycle must be an integer in \[1, 8\], not 2.0$"),
])
def test_bad_widths_rejected(cls, args, exc, message):
    with pytest.raises(exc, match=message):
        cls(*args)


@pytest.mark.parametrize("bits_per_cycle", [1, 3])
def test_bits_per_cycle_changes_latency_only(bits_per_cycle):
    """Other step counts per cycle (odd widths padded): same results, latency from the
    cycle functions."""
    rng = random.Random(bits_per_cycle)
    div = SeqDivider(9, 9, bits_per_cycle)
    sq = SeqSqrt(33, bits_per_cycle)
    pairs = [((1 << 9) - 1, 1), (0, 3)] + [(rng.randrange(1 << 9), rng.randrange(1, 1 << 9))
                                          for _ in range(20)]
    rads = [0, 1, (1 << 33) - 1] + [rng.randrange(1 << 33) for _ in range(20)]

    async def tb_div(ctx):
        for num, den in pairs:
            cycles, q = await _run(ctx, div, dict(num=num, den=den), lambda: ctx.get(div.quo))
            assert q == num // den and cycles == div_cycles(9, bits_per_cycle)

    async def tb_sqrt(ctx):
        for rad in rads:
            cycles, root = await _run(ctx, sq, dict(rad=rad), lambda: ctx.get(sq.root))
            assert root == math.isqrt(rad) and cycles == sqrt_cycles(33, bits_per_cycle)

    simulate(div, tb_div)
    simulate(sq, tb_sqrt)
