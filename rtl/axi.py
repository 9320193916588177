"""AXI4-Lite register slave built from the register map, and the AXI4 bus signatures.

Signatures are written from the *master's* side (``Out`` = driven by the master), so a
slave port is ``In(AXI4LiteSignature(...))``; in Verilog the members are
``<port>__awaddr`` etc. (Amaranth's ``__`` separator).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Signal
from amaranth.hdl import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from rpu.config import MAX_LINES, IntRule, check_instance
from rpu.spec.encodings import RESP_OKAY, RESP_SLVERR
from rpu.spec.formats import REG_BITS
from rpu.spec.registers import RegisterMap

from .common import counter_range

__all__ = ["register_layout", "AXI4LiteSignature", "AXI4StreamSignature", "AXILiteRegisters"]


def register_layout(register) -> data.FlexibleLayout:
    """The fields of a :class:`~rpu.spec.registers.Register` as a 32-bit layout, so a
    register's word is built and taken apart by field name (unnamed bits read 0)."""
    return data.FlexibleLayout(REG_BITS, {f.name: data.Field(unsigned(f.width), f.lsb)
                                          for f in register.fields})


class AXI4LiteSignature(wiring.Signature):
    """AXI4-Lite, 32-bit data, ``addr_width``-bit byte address (master's view)."""

    def __init__(self, addr_width: int):
        IntRule(3, 32).check("addr_width", addr_width)
        self.addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(32), "wstrb": Out(4), "wvalid": Out(1), "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata": In(32), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })


class AXI4StreamSignature(wiring.Signature):
    """AXI4-Stream with ``tdata``/``tvalid``/``tready``/``tlast`` (source's view)."""

    def __init__(self, data_width: int):
        IntRule(1, MAX_LINES).check("data_width", data_width)
        self.data_width = data_width
        super().__init__({"tdata": Out(data_width), "tvalid": Out(1), "tready": In(1),
                          "tlast": Out(1)})


def _port(name: str) -> str:
    return name.lower()


class AXILiteRegisters(wiring.Component):
    """AXI4-Lite slave decoding a :class:`~rpu.spec.registers.RegisterMap`.

    Members: ``bus`` (slave side) and, per register ``R`` (lower-case name ``r``):

    * ``rw``: ``r`` Out(32), the stored value (reset = the fields' resets);
    * ``ro``: ``r`` In(32); an array also has ``r_index`` Out(range(count)), the word being
      read (relative to the array's base), and ``r`` returns that word from the next cycle
      on while the index is held (it may be registered: the index is held for a cycle
      before the read is taken);
    * ``wo``: ``r`` Out(32) with ``r_stb`` Out(1), valid for the one cycle of the write;
    * ``rw1c``: ``r`` In(32) the flags, ``r_clr`` Out(32) a one-cycle clear mask.

    Byte strobes (``wstrb``): a rw write changes only the enabled bytes, and the field
    ranges are checked on that merged word; a wo word and a rw1c clear mask are 0 in the
    bytes not enabled.  ``illegal`` pulses when a write is refused (a merged rw word with
    a field outside its legal range, or a write to an unmapped / read-only address): the
    register keeps its value and the response is ``SLVERR``.  A read of an unmapped or
    write-only address answers ``SLVERR`` with data 0 (reads change nothing).  One write
    and one read are served at a time; a write takes its address and data in one cycle and
    answers in the next; a read is taken in the second cycle it is offered and answered in
    the next (``bvalid``/``rvalid`` held until accepted).
    """

    def __init__(self, regmap: RegisterMap):
        check_instance("regmap", regmap, RegisterMap)
        self.regmap = regmap
        members = {"bus": In(AXI4LiteSignature(regmap.addr_width)), "illegal": Out(1)}
        for r in regmap:
            n = _port(r.name)
            if r.access == "rw":
                members[n] = Out(32, init=r.reset)
            elif r.access == "ro":
                members[n] = In(32)
                if r.is_array:
                    members[n + "_index"] = Out(counter_range(r.count))
            elif r.access == "wo":
                members[n] = Out(32)
                members[n + "_stb"] = Out(1)
            else:
                members[n] = In(32)
                members[n + "_clr"] = Out(32)
        super().__init__(members)

    @staticmethod
    def _byte_mask(strb):
        return Cat(*(s.replicate(8) for s in strb))

    @staticmethod
    def _legal(r, value):
        ok = Const(1)
        for f in r.fields:
            if f.lo is None:
                continue
            v = value[f.lsb:f.lsb + f.width]
            if f.lo > 0:
                ok = ok & (v >= f.lo)
            if f.hi < (1 << f.width) - 1:
                ok = ok & (v <= f.hi)
        return ok

    def elaborate(self, platform):
        m = Module()
        bus, rm = self.bus, self.regmap
        word = lambda addr: addr[2:]          # noqa: E731  word index

        # -- write channel: take AW and W together, answer on B --
        bvalid = Signal()
        bresp = Signal(2)
        m.d.comb += [bus.bvalid.eq(bvalid), bus.bresp.eq(bresp)]
        take_w = Signal()
        m.d.comb += take_w.eq(bus.awvalid & bus.wvalid & ~bvalid)
        m.d.comb += [bus.awready.eq(take_w), bus.wready.eq(take_w)]
        with m.If(bvalid & bus.bready):
            m.d.sync += bvalid.eq(0)
        waddr = word(bus.awaddr)
        strobed = Signal(32)                  # wdata in the enabled bytes, 0 elsewhere
        m.d.comb += strobed.eq(bus.wdata & self._byte_mask(bus.wstrb))
        merged = {}                           # rw: the stored word with the enabled bytes
        for r in rm:
            n = _port(r.name)
            if r.access == "wo":
                m.d.comb += getattr(self, n).eq(strobed)
            elif r.access == "rw":
                merged[n] = Signal(32, name=f"{n}_merged")
                m.d.comb += merged[n].eq((getattr(self, n) & ~self._byte_mask(bus.wstrb))
                                         | strobed)
        with m.If(take_w):
            m.d.sync += [bvalid.eq(1), bresp.eq(RESP_SLVERR)]
            hit = Const(0)
            for r in rm:
                n = _port(r.name)
                sel = waddr == (r.offset >> 2)
                hit = hit | sel
                if r.access == "rw":
                    with m.If(sel):
                        with m.If(self._legal(r, merged[n])):
                            m.d.sync += [getattr(self, n).eq(merged[n]), bresp.eq(RESP_OKAY)]
                        with m.Else():
                            m.d.comb += self.illegal.eq(1)
                elif r.access == "wo":
                    with m.If(sel):
                        m.d.comb += getattr(self, n + "_stb").eq(1)
                        m.d.sync += bresp.eq(RESP_OKAY)
                elif r.access == "rw1c":
                    with m.If(sel):
                        m.d.comb += getattr(self, n + "_clr").eq(strobed)
                        m.d.sync += bresp.eq(RESP_OKAY)
                else:
                    hit = hit & ~sel
            with m.If(~hit):
                m.d.comb += self.illegal.eq(1)

        # -- read channel --
        rvalid = Signal()
        rdata = Signal(32)
        rresp = Signal(2)
        # a read is taken in the second cycle it is offered (``offered``: it was offered in
        # the last cycle and not taken), so an array's owner has a cycle between the index
        # and the word (the pulse counters' sum is registered there)
        offered = Signal()
        take_r = Signal()
        m.d.comb += take_r.eq(bus.arvalid & offered & ~rvalid)
        m.d.sync += offered.eq(bus.arvalid & ~take_r)
        m.d.comb += [bus.rvalid.eq(rvalid), bus.rdata.eq(rdata), bus.rresp.eq(rresp),
                     bus.arready.eq(offered & ~rvalid)]
        with m.If(rvalid & bus.rready):
            m.d.sync += rvalid.eq(0)
        raddr = word(bus.araddr)
        for r in rm:        # an array's index follows the address, ungated (a shorter read path)
            if r.access != "wo" and r.is_array:
                m.d.comb += getattr(self, _port(r.name) + "_index").eq(raddr - (r.offset >> 2))
        with m.If(take_r):
            m.d.sync += [rvalid.eq(1), rresp.eq(RESP_SLVERR), rdata.eq(0)]
            for r in rm:
                if r.access == "wo":
                    continue
                port = getattr(self, _port(r.name))
                base = r.offset >> 2
                if not r.is_array:
                    with m.If(raddr == base):
                        m.d.sync += [rdata.eq(port), rresp.eq(RESP_OKAY)]
                else:               # arrays: a range compare; the owner selects the word
                    with m.If((raddr >= base) & (raddr < base + r.count)):
                        m.d.sync += [rdata.eq(port), rresp.eq(RESP_OKAY)]
        return m
