"""The UART (rtl/uart.py) under Amaranth's simulator: the transmitter's frames bit by bit,
the receiver against lines driven at the edges of the baud tolerance, framing errors,
overruns, glitches, and the divisor rule of the contract (rpu/spec/serial.py)."""

import random

import pytest
from amaranth import Module
from amaranth.lib import wiring

from rpu.rtl.uart import UARTReceiver, UARTTransmitter
from rpu.spec.serial import BAUD_TOLERANCE, uart_divisor
from rpu.testbench.amsim import simulate


def test_divisor_rounds_and_refuses_rates_it_cannot_make():
    assert uart_divisor(25e6, 115200) == 217
    assert uart_divisor(12.5e6, 115200) == 109
    assert uart_divisor(12.5e6, 1.25e6) == 10
    with pytest.raises(ValueError, match=r"baud must give 4 to 65536 clock cycles per bit"):
        uart_divisor(12.5e6, 5e6)
    with pytest.raises(ValueError, match=r"baud must be within 2% .* off by 3.1%"):
        uart_divisor(12.5e6, 921600)
    with pytest.raises(TypeError, match="baud must be a number"):
        uart_divisor(12.5e6, "115200")
    assert BAUD_TOLERANCE == 0.02


def test_components_check_the_divisor():
    with pytest.raises(ValueError, match=r"divisor must be an integer in \[4, 65536\], not 3"):
        UARTReceiver(3)
    with pytest.raises(TypeError, match="divisor must be an integer"):
        UARTTransmitter(4.0)


async def _line_bits(ctx, line, divisor, count):
    """Sample ``line`` mid-bit for ``count`` bits after its next falling edge."""
    while ctx.get(line):
        await ctx.tick()
    await ctx.tick().repeat(divisor // 2)
    bits = []
    for k in range(count):
        if k:
            await ctx.tick().repeat(divisor)
        bits.append(ctx.get(line))
    return bits


@pytest.mark.parametrize("divisor", [4, 7])
def test_transmitter_sends_8n1_frames(divisor):
    dut = UARTTransmitter(divisor)
    sent = [0xA5, 0x00, 0xFF, 0x3C]
    seen = []

    async def feed(ctx):
        assert ctx.get(dut.tx) == 1
        for b in sent:
            ctx.set(dut.data.payload, b)
            ctx.set(dut.data.valid, 1)
            await ctx.tick().until(dut.data.ready)
            ctx.set(dut.data.valid, 0)

    async def watch(ctx):
        for _ in sent:
            bits = await _line_bits(ctx, dut.tx, divisor, 10)
            assert bits[0] == 0 and bits[9] == 1, bits
            seen.append(sum(b << i for i, b in enumerate(bits[1:9])))

    simulate(dut, feed, watch)
    assert seen == sent


async def drive_byte(ctx, line, value, bit_cycles, *, stop=1):
    """Drive one 8N1 frame on ``line``, ``bit_cycles`` (a float: a mismatched rate) per bit."""
    bits = [0] + [(value >> i) & 1 for i in range(8)] + [stop]
    t = 0.0
    done = 0
    for b in bits:
        t += bit_cycles
        ctx.set(line, b)
        n = round(t) - done
        await ctx.tick().repeat(n)
        done += n
    ctx.set(line, 1)


@pytest.mark.parametrize("divisor, rate", [(4, 1.0), (8, 1 - BAUD_TOLERANCE), (8, 1 + BAUD_TOLERANCE),
                                           (13, 1.03), (13, 0.97)])
def test_receiver_takes_bytes_at_the_tolerated_rates(divisor, rate):
    dut = UARTReceiver(divisor)
    rng = random.Random(divisor)
    sent = [rng.randrange(256) for _ in range(24)] + [0x00, 0xFF]
    got = []

    async def line(ctx):
        await ctx.tick().repeat(3)
        for b in sent:
            await drive_byte(ctx, dut.rx, b, divisor * rate)
        await ctx.tick().repeat(4 * divisor)

    async def sink(ctx):
        ctx.set(dut.data.ready, 1)
        while len(got) < len(sent):
            payload, err, over = await ctx.tick().sample(
                dut.data.payload, dut.frame_error, dut.overrun).until(dut.data.valid | dut.frame_error)
            assert not err and not over
            got.append(payload)

    simulate(dut, line, sink)
    assert got == sent


def test_receiver_flags_frame_errors_overruns_and_ignores_glitches():
    div = 6
    dut = UARTReceiver(div)
    events = []

    async def line(ctx):
        ctx.set(dut.rx, 0)                      # a glitch of one cycle: no start bit
        await ctx.tick()
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(2 * div)
        await drive_byte(ctx, dut.rx, 0x5A, div, stop=0)          # framing error
        await ctx.tick().repeat(2 * div)
        await drive_byte(ctx, dut.rx, 0x11, div)                  # held (nobody takes it)
        await drive_byte(ctx, dut.rx, 0x22, div)                  # overrun: dropped
        await ctx.tick().repeat(2 * div)

    async def watch(ctx):
        for _ in range(20 * div * 3):
            err, over, valid, payload = ctx.get(dut.frame_error), ctx.get(dut.overrun), \
                ctx.get(dut.data.valid), ctx.get(dut.data.payload)
            if err:
                events.append("frame_error")
            if over:
                events.append("overrun")
            if valid and ("byte", payload) not in events:
                events.append(("byte", payload))
            await ctx.tick()

    simulate(dut, line, watch)
    assert events == ["frame_error", ("byte", 0x11), "overrun"]


def test_transmitter_into_receiver_loopback():
    div = 5

    class Loop(wiring.Component):
        def __init__(self):
            self.tx, self.rx = UARTTransmitter(div), UARTReceiver(div)
            super().__init__({})

        def elaborate(self, platform):
            m = Module()
            m.submodules.tx, m.submodules.rx = self.tx, self.rx
            m.d.comb += self.rx.rx.eq(self.tx.tx)
            return m

    dut = Loop()
    sent = list(range(0, 256, 7))
    got = []

    async def feed(ctx):
        for b in sent:
            ctx.set(dut.tx.data.payload, b)
            ctx.set(dut.tx.data.valid, 1)
            await ctx.tick().until(dut.tx.data.ready)
        ctx.set(dut.tx.data.valid, 0)

    async def sink(ctx):
        ctx.set(dut.rx.data.ready, 1)
        while len(got) < len(sent):
            (payload,) = await ctx.tick().sample(dut.rx.data.payload).until(dut.rx.data.valid)
            got.append(payload)

    simulate(dut, feed, sink)
    assert got == sent
