"""Formal wrapper of the AXI4-Lite register slave (:class:`rpu.rtl.axi.AXILiteRegisters`)
on a register map, with a legal master (:func:`.environment.axi_lite_master`, every
address and strobe allowed) and free values on every ro / rw1c input.

Properties:

* ``no response without a request``: ``bvalid`` only while an accepted write (its address
  *and* its data) is unanswered, ``rvalid`` only for an accepted read;
* ``every request answered``: an accepted write (read) is answered from the next cycle on
  (the slave answers from a register in the next cycle), exactly once: after the
  response's handshake nothing is owed, so a second response fails the first property;
* ``responses held``: ``bvalid``/``bresp`` and ``rvalid``/``rdata``/``rresp`` unchanged
  until ``bready``/``rready``;
* ``address and data in either order``: the slave never takes an address without its data
  or data without its address (no write half lost or duplicated), and a write whose address
  and data are both offered is taken at once when no response is owed, so a master that
  offers AW first, or W first, and holds it (AXI's rule) is served; the covers show both
  orders served;
* ``read accepted``: a read is taken in the second cycle it is offered (never in the first:
  an array's owner sees the held index a cycle before the word is taken), or as soon as no
  response is owed after that;
* ``SLVERR as the map says``: a write answers SLVERR exactly when its address is unmapped or
  read-only, or a rw register's merged word (the enabled bytes of ``wdata`` over the stored
  word) has a field outside its legal range; ``illegal`` pulses exactly then; an accepted rw
  write stores the merged word, a refused one keeps the value; a read answers SLVERR with
  data 0 exactly at an unmapped or write-only address, else OKAY with the register's value
  at acceptance.
"""

from __future__ import annotations

from amaranth import Cat, Const, Elaboratable, Module, Mux, Signal

from rpu.rtl.axi import AXILiteRegisters
from rpu.spec.encodings import RESP_OKAY, RESP_SLVERR
from rpu.spec.registers import RegisterMap

from .environment import axi_lite_master
from .props import Props

__all__ = ["AxiLiteFormal"]


def _legal(reg, word):
    """Every field of rw register ``reg`` within its legal range, for the 32-bit ``word``
    (from the register description, not from the slave)."""
    ok = Const(1)
    for f in reg.fields:
        if f.lo is not None:
            v = word[f.lsb:f.lsb + f.width]
            ok = ok & (v >= f.lo) & (v <= f.hi)
    return ok


class AxiLiteFormal(Elaboratable):
    """``AxiLiteFormal(regmap, *, slave=None)``: the checks above on ``slave`` (default
    ``AXILiteRegisters(regmap)``; a test passes a deliberately broken one)."""

    def __init__(self, regmap: RegisterMap, *, slave=None):
        self.regmap = regmap
        self.slave = AXILiteRegisters(regmap) if slave is None else slave
        self.props: Props | None = None

    def elaborate(self, platform):
        rm, dut = self.regmap, self.slave
        m = Module()
        p = self.props = Props(m)
        m.submodules.slave = dut
        bus = dut.bus
        axi_lite_master(m, p, bus)
        for r in rm:
            n = r.name.lower()
            if r.access in ("ro", "rw1c"):
                p.free(getattr(dut, n))

        aw = bus.awvalid & bus.awready
        w = bus.wvalid & bus.wready
        b = bus.bvalid & bus.bready
        ar = bus.arvalid & bus.arready
        r_ = bus.rvalid & bus.rready

        # requests accepted and not answered yet (saturating at 3)
        def owed(name, take, answer):
            n = Signal(2, name=name)
            with m.If(take & ~answer & (n != 3)):
                m.d.sync += n.eq(n + 1)
            with m.Elif(answer & ~take & (n != 0)):
                m.d.sync += n.eq(n - 1)
            return n
        aw_owed, w_owed, ar_owed = owed("aw_owed", aw, b), owed("w_owed", w, b), owed("ar_owed", ar, r_)

        p.implies("no response without a request", bus.bvalid, (aw_owed != 0) & (w_owed != 0))
        p.implies("no response without a request", bus.rvalid, ar_owed != 0)
        p.assert_("every request answered", (aw_owed <= 1) & (w_owed <= 1) & (ar_owed <= 1))
        p.implies("every request answered", (aw_owed != 0) & (w_owed != 0), bus.bvalid)
        p.implies("every request answered", ar_owed != 0, bus.rvalid)

        for valid, ready, payload in ((bus.bvalid, bus.bready, (bus.bresp,)),
                                      (bus.rvalid, bus.rready, (bus.rdata, bus.rresp))):
            stalled = p.past(valid & ~ready, name="resp_stalled")
            p.implies("responses held", p.prev_valid & stalled,
                      valid & Cat(*[p.stable(x) for x in payload]).all())

        p.assert_("address and data in either order", (aw == w) & (aw_owed == w_owed))
        p.implies("address and data in either order",
                  bus.awvalid & bus.wvalid & ~bus.bvalid, bus.awready & bus.wready)
        # a read is taken in the second cycle it is offered, when no response is owed (so an
        # array's owner sees the index a cycle before the word is taken), never in the first
        waited = p.past(bus.arvalid & ~bus.arready, name="ar_waited")
        p.implies("read accepted", p.prev_valid & waited & bus.arvalid & ~bus.rvalid, bus.arready)
        p.implies("read accepted", ar, p.prev_valid & waited)
        # both orders happen and are served
        aw_first = Signal()
        w_first = Signal()
        m.d.sync += [aw_first.eq(bus.awvalid & ~bus.wvalid & ~aw),
                     w_first.eq(bus.wvalid & ~bus.awvalid & ~w)]
        p.cover("address before data", aw & aw_first)
        p.cover("data before address", w & w_first)

        # ---- responses as the register map says ----
        word = bus.awaddr[2:]
        mask = Cat(*(s.replicate(8) for s in bus.wstrb))
        want_b = Signal(2)
        illegal = Signal()
        m.d.comb += [want_b.eq(RESP_SLVERR), illegal.eq(1)]     # unmapped or ro
        for r in rm:
            if r.access == "ro":
                continue
            sel = word == r.offset >> 2
            if r.access == "rw":
                stored = getattr(dut, r.name.lower())
                merged = Signal(32, name=f"{r.name.lower()}_merged_exp")
                m.d.comb += merged.eq((stored & ~mask) | (bus.wdata & mask))
                ok = _legal(r, merged)
                took, refused = p.past(aw & sel & ok), p.past(aw & sel & ~ok)
                p.implies("SLVERR as the map says", p.prev_valid & took, stored == p.past(merged))
                p.implies("SLVERR as the map says", p.prev_valid & refused, p.stable(stored))
                with m.If(sel):
                    m.d.comb += [want_b.eq(Mux(ok, RESP_OKAY, RESP_SLVERR)), illegal.eq(~ok)]
            else:
                with m.If(sel):
                    m.d.comb += [want_b.eq(RESP_OKAY), illegal.eq(0)]
        p.implies("SLVERR as the map says", aw, dut.illegal == illegal)
        p.implies("SLVERR as the map says", ~aw, ~dut.illegal)
        exp_b = Signal(2)
        with m.If(aw):
            m.d.sync += exp_b.eq(want_b)
        p.implies("SLVERR as the map says", bus.bvalid, bus.bresp == exp_b)
        # a rw register changes only by a write to it
        for r in rm:
            if r.access == "rw":
                stored = getattr(dut, r.name.lower())
                p.implies("SLVERR as the map says",
                          p.prev_valid & ~p.past(aw & (word == r.offset >> 2)), p.stable(stored))

        rword = bus.araddr[2:]
        want_r, want_d = Signal(2), Signal(32)
        m.d.comb += want_r.eq(RESP_SLVERR)
        for r in rm:
            if r.access == "wo":
                continue
            port = getattr(dut, r.name.lower())
            for i in range(r.words):
                with m.If(rword == (r.offset >> 2) + i):
                    m.d.comb += [want_r.eq(RESP_OKAY), want_d.eq(port)]
            if r.is_array:          # one indexed port: the word asked for at acceptance
                base = r.offset >> 2
                index = getattr(dut, r.name.lower() + "_index")
                p.implies("SLVERR as the map says",
                          ar & (rword >= base) & (rword < base + r.count), index == rword - base)
        exp_r, exp_d = Signal(2), Signal(32)
        with m.If(ar):
            m.d.sync += [exp_r.eq(want_r), exp_d.eq(want_d)]
        p.implies("SLVERR as the map says", bus.rvalid, (bus.rresp == exp_r) & (bus.rdata == exp_d))
        p.cover("a write refused", b & (bus.bresp == RESP_SLVERR))
        p.cover("a read refused", r_ & (bus.rresp == RESP_SLVERR))
        return m
