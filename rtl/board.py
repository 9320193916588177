"""The board top (an FPGA prototyping aid): the emulated tile behind a serial link.

:class:`BoardCore` is everything but the board's pins and clocking — the emulated tile
(:class:`rpu.rtl.emulator.EmulatedTile`), the bridge (:class:`rpu.rtl.bridge.SerialBridge`)
and the UART, a result FIFO of one frame between them — with ports ``rx``, ``tx`` and
``leds`` (:data:`LEDS`); it is what the
end-to-end co-simulation runs.  :class:`BoardTop` puts it on an Amaranth platform (a board
of amaranth-boards): the oscillator through an ECP5 PLL (:func:`ecp5_pll`) to the design
clock, reset from a button and the PLL lock, the USB-serial pins, the LEDs.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Cat, ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import fifo, io, wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In, Out

from rpu.config import (ConfigValueError, EmulatorConfig, FloatRule, IntRule, TileConfig,
                         check_instance)
from rpu.spec.serial import FRAME_TIMEOUT_BITS, serial_format, uart_divisor
from rpu.spec.timing import stream_beats

from .bridge import SerialBridge
from .emulator import EmulatedTile
from .uart import UARTReceiver, UARTTransmitter

__all__ = ["BoardCore", "BoardTop", "LEDS", "BOARD_CORE_NAME", "BOARD_TOP_NAME", "PllParams",
           "ecp5_pll"]

BOARD_CORE_NAME = "rpu_board_core"
BOARD_TOP_NAME = "rpu_board"
#: ``leds`` bit by bit: clock alive (blinks), bytes received, bytes sent (each stretched to a
#: visible blink), a request in progress, a sticky link error not yet reported by INFO
LEDS = ("heartbeat", "rx", "tx", "busy", "error")


class BoardCore(wiring.Component):
    """``BoardCore(cfg, ecfg, divisor, *, blink_cycles=2**20, timeout_bits=FRAME_TIMEOUT_BITS)``:
    emulated tile + serial bridge + UART (``divisor`` clock cycles per bit).  Ports ``rx``
    (in, idle 1), ``tx`` (out, idle 1), ``leds`` (:data:`LEDS`)."""

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig, divisor: int, *,
                 blink_cycles: int = 1 << 20, timeout_bits: int = FRAME_TIMEOUT_BITS):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.ecfg = check_instance("ecfg", ecfg, EmulatorConfig)
        self.fmt = serial_format(cfg, ecfg)
        self.divisor = divisor
        self.timeout_bits = timeout_bits
        self.blink_cycles = IntRule(1, 1 << 30).check("blink_cycles", blink_cycles)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "leds": Out(len(LEDS))})

    def _blink(self, m, event, name):
        """``event`` stretched to ``blink_cycles`` cycles."""
        left = Signal(range(self.blink_cycles + 1), name=f"{name}_blink")
        with m.If(event):
            m.d.sync += left.eq(self.blink_cycles)
        with m.Elif(left != 0):
            m.d.sync += left.eq(left - 1)
        return left != 0

    def elaborate(self, platform):
        m = Module()
        m.submodules.tile = tile = EmulatedTile(self.cfg, self.ecfg)
        m.submodules.bridge = bridge = SerialBridge(self.fmt, self.divisor,
                                                    timeout_bits=self.timeout_bits)
        m.submodules.uart_rx = urx = UARTReceiver(self.divisor)
        m.submodules.uart_tx = utx = UARTTransmitter(self.divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx),
                     bridge.frame_error.eq(urx.frame_error), bridge.overrun.eq(urx.overrun)]
        wiring.connect(m, urx.data, bridge.rx)
        wiring.connect(m, bridge.tx, utx.data)
        wiring.connect(m, bridge.bus, tile.s_axil)
        wiring.connect(m, bridge.vectors, tile.s_axis)
        # results wait here (one frame; + 1: SyncFIFOBuffered takes back-to-back beats only below
        # its depth), so the tile streams a whole frame at its own pace, as to a fast
        # host (its cycle counters then match the formulas), and the host pulls it later
        frame = max(stream_beats(self.cfg.out_size, self.cfg.host.stream_width),
                    stream_beats(self.cfg.in_size, self.cfg.host.stream_width))
        m.submodules.results = results = fifo.SyncFIFOBuffered(width=self.fmt.out_beat_bits + 1,
                                                               depth=frame + 1)
        so, ri = tile.m_axis, bridge.results
        m.d.comb += [results.w_data.eq(Cat(so.tdata, so.tlast)), results.w_en.eq(so.tvalid),
                     so.tready.eq(results.w_rdy),
                     ri.tdata.eq(results.r_data[:-1]), ri.tlast.eq(results.r_data[-1]),
                     ri.tvalid.eq(results.r_rdy), results.r_en.eq(ri.tready)]

        beat = Signal(range(4 * self.blink_cycles))
        m.d.sync += beat.eq(beat + 1)
        leds = {"heartbeat": beat[-1],
                "rx": self._blink(m, urx.data.valid & urx.data.ready, "rx"),
                "tx": self._blink(m, utx.data.valid & utx.data.ready, "tx"),
                "busy": bridge.busy, "error": bridge.flags.any()}
        m.d.comb += self.leds.eq(sum(leds[n] << i for i, n in enumerate(LEDS)))
        return m


# -- ECP5 clocking ------------------------------------------------------------------------------

#: EHXPLLL limits (MHz), as Project Trellis' ecppll uses them
_PFD = (3.125, 400.0)
_VCO = (400.0, 800.0)
_OUT = (10.0, 400.0)


@dataclass(frozen=True)
class PllParams:
    """An EHXPLLL setting, CLKOP fed back: ``fout = fin / clki_div · clkfb_div``,
    ``fvco = fout · clkop_div``."""
    fin: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def fout(self) -> float:
        return self.fin / self.clki_div * self.clkfb_div

    @property
    def fvco(self) -> float:
        return self.fout * self.clkop_div


def ecp5_pll(fin: float, fout: float) -> PllParams:
    """The EHXPLLL setting nearest ``fout`` MHz from ``fin`` MHz (ties: VCO nearest 600 MHz),
    the search of Trellis' ``ecppll``; ``fout`` must be in [10, 400] MHz."""
    FloatRule(8.0, 400.0).check("fin", fin)
    FloatRule(*_OUT).check("fout", fout)
    best, key = None, None
    for ci in range(1, 129):
        pfd = fin / ci
        if not _PFD[0] <= pfd <= _PFD[1]:
            continue
        for fb in range(1, 81):
            for op in range(1, 129):
                vco = pfd * fb * op
                if not _VCO[0] <= vco <= _VCO[1]:
                    continue
                k = (abs(pfd * fb - fout), abs(vco - 600.0))
                if key is None or k < key:
                    best, key = PllParams(fin, ci, fb, op), k
    if best is None:
        raise ConfigValueError(f"fout must be reachable by an ECP5 PLL from {fin:g} MHz, not {fout:g}")
    return best


def _pll_instance(p: PllParams, clkin, clkout, locked) -> Instance:
    return Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{p.fin:g}", a_FREQUENCY_PIN_CLKOP=f"{p.fout:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
        a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
        p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
        p_CLKI_DIV=p.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p.clkop_div,
        p_CLKOP_CPHASE=p.clkop_div // 2 - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
        p_CLKFB_DIV=p.clkfb_div,
        i_RST=0, i_STDBY=0, i_CLKI=clkin, o_CLKOP=clkout, i_CLKFB=clkout,
        i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
        i_PLLWAKESYNC=0, i_ENCLKOP=0, o_LOCK=locked)


class BoardTop(Elaboratable):
    """``BoardTop(cfg, ecfg, *, clock_mhz, baud, reset_button=("button_fire", 0))``: the
    :class:`BoardCore` on an amaranth-boards ECP5 platform (elaborated by the platform):
    ``platform.default_clk`` through a PLL to ``clock_mhz``, reset while the button is
    pressed or the PLL not locked, the ``uart`` resource's rx/tx, the first LEDs."""

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig, *, clock_mhz: float, baud: float,
                 reset_button: tuple[str, int] = ("button_fire", 0)):
        self.cfg, self.ecfg = cfg, ecfg
        self.clock_mhz, self.baud = clock_mhz, baud
        self.divisor = uart_divisor(clock_mhz * 1e6, baud)
        self.reset_button = reset_button
        self.pll: PllParams | None = None

    def elaborate(self, platform):
        m = Module()
        clk_res = platform.request(platform.default_clk, dir="-")
        m.submodules.clk_buf = clk_buf = io.Buffer("i", clk_res)
        fin = platform.default_clk_frequency / 1e6
        self.pll = ecp5_pll(fin, self.clock_mhz)
        clk, locked = Signal(name="pll_clk"), Signal(name="pll_locked")
        m.submodules.pll = _pll_instance(self.pll, clk_buf.i, clk, locked)
        m.domains.sync = ClockDomain("sync")
        m.d.comb += ClockSignal("sync").eq(clk)
        m.submodules.btn = btn = io.Buffer("i", platform.request(*self.reset_button, dir="-"))
        m.submodules.reset_sync = ResetSynchronizer(btn.i | ~locked, domain="sync")

        m.submodules.core = core = BoardCore(self.cfg, self.ecfg, self.divisor,
                                             blink_cycles=int(self.pll.fout * 1e6) // 16)
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(rx.i), tx.o.eq(core.tx)]
        for i in range(len(LEDS)):
            m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request("led", i, dir="-"))
            m.d.comb += led.o.eq(core.leds[i])
        return m
