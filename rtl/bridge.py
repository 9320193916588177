"""The serial-to-host-bus bridge of the board top: requests of :mod:`rpu.spec.serial` (bytes
from a UART receiver) become AXI4-Lite transactions and AXI4-Stream beats towards the
tile; the answers go back as bytes (to a UART transmitter).

One request at a time, in order: its payload is collected, it is executed on the bus, its
response is sent, then the next command byte is taken.  The received bytes wait in a FIFO
(:attr:`rpu.spec.serial.SerialFormat.rx_fifo_depth` bytes, the host's window).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Signal, Value
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, check_instance
from rpu.spec.serial import (FRAME_TIMEOUT_BITS, INFO_BYTES, Cmd, LinkFlag, SerialFormat, Status,
                             status_byte)

from .axi import AXI4LiteSignature, AXI4StreamSignature
from .common import StateRegister
from .uart import check_divisor

__all__ = ["SerialBridge"]

_STATES = ("CMD", "PAYLOAD", "WRITE", "READ", "PUSH", "PULL", "INFO", "RESPOND")


class SerialBridge(wiring.Component):
    """``SerialBridge(fmt, divisor, *, timeout_bits=FRAME_TIMEOUT_BITS)``.

    Ports: ``rx`` (bytes in, stream sink), ``tx`` (bytes out, stream source), ``frame_error``
    and ``overrun`` (the receiver's pulses, kept as sticky :class:`~rpu.spec.serial.LinkFlag`
    s), ``bus`` (AXI4-Lite master, ``fmt.addr_width``), ``vectors`` (AXI4-Stream source, to
    the tile's ``s_axis``), ``results`` (AXI4-Stream sink, from the tile's ``m_axis``),
    ``busy`` (a request in progress or bytes waiting), ``flags`` (the sticky link flags,
    cleared by the INFO that reports them).  ``divisor`` (clock cycles per bit) times the
    payload gap that drops a request.
    """

    def __init__(self, fmt: SerialFormat, divisor: int, *, timeout_bits: int = FRAME_TIMEOUT_BITS):
        self.fmt = check_instance("fmt", fmt, SerialFormat)
        self.divisor = check_divisor(divisor)
        self.timeout_bits = IntRule(16, 1 << 20).check("timeout_bits", timeout_bits)
        super().__init__({
            "rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
            "frame_error": In(1), "overrun": In(1),
            "bus": Out(AXI4LiteSignature(fmt.addr_width)),
            "vectors": Out(AXI4StreamSignature(fmt.in_beat_bits)),
            "results": In(AXI4StreamSignature(fmt.out_beat_bits)),
            "busy": Out(1), "flags": Out(len(LinkFlag)),
        })

    def elaborate(self, platform):
        f = self.fmt
        m = Module()
        m.submodules.rx_fifo = rxq = fifo.SyncFIFOBuffered(width=8, depth=f.rx_fifo_depth)
        wiring.connect(m, wiring.flipped(self.rx), rxq.w_stream)
        byte = rxq.r_stream
        fsm = StateRegister(m, "bridge", _STATES)
        cmd = Signal(8)
        left = Signal(range(f.max_payload + 1))
        # payload: bytes shift in from the top, so request c's byte k ends up at byte
        # max_payload − request_length(c) + k (a constant per command)
        payload = Signal(8 * f.max_payload)
        resp = Signal(8 * f.max_response)
        resp_left = Signal(range(f.max_response + 1))
        flags = Signal(len(LinkFlag))
        set_flags = Signal(len(LinkFlag))

        def field(command, offset, nbytes):
            lo = 8 * (f.max_payload - f.request_length(command) + offset)
            return payload[lo:lo + 8 * nbytes]

        def respond(command, status, data=Const(0, 1), nbytes=0):
            code = status if isinstance(status, Value) else Const(int(status), 4)
            m.d.sync += [resp.eq(Cat(Const(status_byte(command, 0), 8) | code, data)),
                         resp_left.eq(1 + nbytes)]
            fsm.goto("RESPOND")

        def execute(command):
            """The state that executes ``command`` (a constant of :class:`Cmd`)."""
            fsm.goto(Cmd(command).name)

        m.d.comb += [self.busy.eq(~fsm.ongoing("CMD") | byte.valid), self.flags.eq(flags)]
        m.d.comb += set_flags.eq(Cat(self.overrun, self.frame_error))

        # ---- command byte, payload ----
        with m.If(fsm.ongoing("CMD")):
            m.d.comb += byte.ready.eq(1)
            with m.If(byte.valid):
                m.d.sync += cmd.eq(byte.payload)
                # If chains, not Switch: Yosys splits a Switch per signal, and a signal
                # that the default leaves alone becomes a casez Verilator's lint refuses
                with m.If(byte.payload == Cmd.NOP):
                    pass
                for c in (Cmd.INFO, Cmd.WRITE, Cmd.READ, Cmd.PUSH, Cmd.PULL):
                    with m.Elif(byte.payload == c):
                        n = f.request_length(c)
                        if n:
                            m.d.sync += left.eq(n)
                            fsm.goto("PAYLOAD")
                        else:
                            execute(c)
                with m.Else():
                    m.d.comb += set_flags[LinkFlag.BAD_CMD.bit_length() - 1].eq(1)
                    m.d.sync += [resp.eq(status_byte(0, Status.BAD_CMD) | (byte.payload[:4] << 4)),
                                 resp_left.eq(1)]
                    fsm.goto("RESPOND")

        gap = Signal(range(self.timeout_bits * self.divisor + 1))
        with m.If(fsm.ongoing("PAYLOAD")):
            m.d.comb += byte.ready.eq(1)
            with m.If(byte.valid):
                m.d.sync += [payload.eq(Cat(payload[8:], byte.payload)), left.eq(left - 1),
                             gap.eq(0)]
                for c in (Cmd.WRITE, Cmd.READ, Cmd.PUSH):
                    with m.If((left == 1) & (cmd == c)):
                        execute(c)
            with m.Elif(gap == self.timeout_bits * self.divisor):
                m.d.comb += set_flags[LinkFlag.FRAME_TIMEOUT.bit_length() - 1].eq(1)
                m.d.sync += gap.eq(0)
                fsm.goto("CMD")
            with m.Else():
                m.d.sync += gap.eq(gap + 1)

        # ---- execution ----
        bus = self.bus
        a_done, w_done = Signal(), Signal()
        m.d.comb += [bus.awaddr.eq(field(Cmd.WRITE, 0, f.addr_bytes)),
                     bus.wdata.eq(field(Cmd.WRITE, f.addr_bytes, 4)), bus.wstrb.eq(0xF),
                     bus.araddr.eq(field(Cmd.READ, 0, f.addr_bytes))]
        with m.If(fsm.ongoing("WRITE")):
            m.d.comb += [bus.awvalid.eq(~a_done), bus.wvalid.eq(~w_done), bus.bready.eq(1)]
            with m.If(bus.awvalid & bus.awready):
                m.d.sync += a_done.eq(1)
            with m.If(bus.wvalid & bus.wready):
                m.d.sync += w_done.eq(1)
            with m.If(bus.bvalid):
                m.d.sync += [a_done.eq(0), w_done.eq(0)]
                respond(Cmd.WRITE, bus.bresp)
        with m.If(fsm.ongoing("READ")):
            m.d.comb += [bus.arvalid.eq(~a_done), bus.rready.eq(1)]
            with m.If(bus.arvalid & bus.arready):
                m.d.sync += a_done.eq(1)
            with m.If(bus.rvalid):
                m.d.sync += a_done.eq(0)
                respond(Cmd.READ, bus.rresp, bus.rdata, 4)

        vec, res = self.vectors, self.results
        m.d.comb += [vec.tdata.eq(field(Cmd.PUSH, 1, f.in_beat_bytes)),
                     vec.tlast.eq(field(Cmd.PUSH, 0, 1)[0])]
        with m.If(fsm.ongoing("PUSH")):
            m.d.comb += vec.tvalid.eq(1)
            with m.If(vec.tready):
                respond(Cmd.PUSH, Status.OKAY)
        with m.If(fsm.ongoing("PULL")):
            m.d.comb += res.tready.eq(res.tvalid)
            with m.If(res.tvalid):
                respond(Cmd.PULL, Status.OKAY, Cat(res.tlast, Const(0, 7), res.tdata),
                        1 + f.out_beat_bytes)
            with m.Else():
                respond(Cmd.PULL, Status.EMPTY)
        with m.If(fsm.ongoing("INFO")):
            info = f.info_data()
            rest = Const(int.from_bytes(info[2:], "little"), 8 * (INFO_BYTES - 2))
            respond(Cmd.INFO, Status.OKAY,
                    Cat(Const(info[0], 8), flags | set_flags, Const(0, 8 - len(flags)), rest),
                    INFO_BYTES)

        # ---- sticky flags (an INFO reports and clears them) ----
        with m.If(fsm.ongoing("INFO")):
            m.d.sync += flags.eq(0)
        with m.Else():
            m.d.sync += flags.eq(flags | set_flags)

        # ---- response ----
        with m.If(fsm.ongoing("RESPOND")):
            m.d.comb += [self.tx.payload.eq(resp[:8]), self.tx.valid.eq(1)]
            with m.If(self.tx.ready):
                m.d.sync += [resp.eq(resp >> 8), resp_left.eq(resp_left - 1)]
                with m.If(resp_left == 1):
                    fsm.goto("CMD")
        return m
