"""The formal environment of the tile: a host on the AXI buses and an analog front-end,
each a free input constrained by assumptions that say what a legal partner does.

Every assumption is documented here, since a proof is only as strong as them:

* **AXI4-Lite master** (:func:`axi_lite_master`): ``*valid`` held until its ``*ready``,
  address/data/strobes stable while waiting (AXI4 A3.2.1), no ``*valid`` in reset
  (A3.1.2); ``bready``/``rready`` free.
  Optionally restricted: the tile wrapper's master writes whole words to CTRL only and
  never reads, so the configuration registers keep their reset values (the register
  slave is proven on its own, with every address, strobe and read).
* **AXI4-Stream source** (:class:`FrameSource`): for each accepted command the frames it
  needs (``tlast`` on the last beat of each), nothing without a command, data free and
  stable while stalled; either every beat offered at once (the ideal host of the cycle
  formulas) or with gaps of at most ``max_gap`` cycles before a beat.
* **AXI4-Stream sink** (:class:`ResultSink`): always ready, or stalling at most
  ``max_stall`` cycles in a row.
* **ADC front-end** (:class:`FrontEnd`): per read direction, ``done`` only while a
  conversion is pending (after an ``adc_start``, once per start), ``min_wait`` to
  ``max_wait`` cycles after it (the ideal front-end: exactly ``adc_latency``; never later
  than the interface's timeout, whose path is not explored here: block tests and the
  co-simulation cover it); codes free in every cycle (any saturation, so
  bound-management retries are explored).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, ResetSignal, Signal

from rpu.spec.timing import stream_beats
from rpu.spec.encodings import Op

from .props import Props

__all__ = ["axi_lite_master", "FrameSource", "ResultSink", "FrontEnd"]


def axi_lite_master(m: Module, p: Props, bus, *, write_words=None, reads: bool = True,
                    strobes: bool = True) -> None:
    """Drive the slave port ``bus`` (an ``AXI4LiteSignature`` interface, master's signals
    as free inputs) as a legal AXI4-Lite master.  ``write_words``: word indices the master
    may write (None: any); ``reads``: False for a master that never reads; ``strobes``:
    False for one that writes whole words."""
    for name in ("awaddr", "awvalid", "wdata", "wvalid", "bready", "araddr", "rready"):
        p.free(getattr(bus, name))
    if strobes:
        p.free(bus.wstrb)
    else:
        m.d.comb += bus.wstrb.eq(0xF)
    if reads:
        p.free(bus.arvalid)
    for valid, ready, payload in (("awvalid", "awready", ("awaddr",)),
                                  ("wvalid", "wready", ("wdata", "wstrb")),
                                  ("arvalid", "arready", ("araddr",))):
        v, r = getattr(bus, valid), getattr(bus, ready)
        waiting = p.past(v & ~r, name=f"{valid}_waiting")
        p.assume_implies(f"master holds {valid}", p.prev_valid & waiting, v)
        for field in payload:
            p.assume_implies(f"master keeps {field}", p.prev_valid & waiting,
                             p.stable(getattr(bus, field)))
    p.assume_implies("master idle in reset", ResetSignal("sync"),
                     ~bus.awvalid & ~bus.wvalid & ~bus.arvalid)
    if write_words is not None:
        word = bus.awaddr[2:]
        p.assume_implies("master writes only the allowed registers", bus.awvalid,
                         Cat(*[word == w for w in write_words]).any())


class FrameSource:
    """The input stream of a host that sends, for each accepted command, its frames: a
    forward the x frame (``beats_x`` beats), a backward the d frame, an update x then d.

    ``arm(op)`` (statements) is added by the wrapper in the cycle a command is accepted.
    ``max_gap`` 0: every beat offered at once; else ``tvalid`` free but never low for more
    than ``max_gap`` cycles in a row while beats are due.  ``tdata`` is free (or each lane
    one of ``values``)."""

    def __init__(self, m: Module, p: Props, axis, cfg, *, max_gap: int = 0, values=None):
        lanes = cfg.host.stream_width
        self.bx, self.bd = stream_beats(cfg.in_size, lanes), stream_beats(cfg.out_size, lanes)
        top = self.bx + self.bd
        self.left = Signal(range(top + 1), name="src_left")        # beats still to send
        self.frame_end = Signal(range(top + 1), name="src_frame_end")   # left at a tlast
        p.free(axis.tdata)
        due = (self.left != 0) & ~ResetSignal("sync")     # (tvalid low in reset)
        if max_gap:
            want = Signal(name="src_want")
            p.free(want)
            m.d.comb += axis.tvalid.eq(want & due)
            gap = Signal(range(max_gap + 1), name="src_gap")
            m.d.sync += gap.eq(Mux(due & ~want, gap + 1, 0))
            p.assume_implies(f"source: gaps of at most {max_gap} cycles", due & (gap == max_gap),
                             want)
        else:
            m.d.comb += axis.tvalid.eq(due)
        m.d.comb += axis.tlast.eq((self.left == 1) | (self.left - 1 == self.frame_end))
        stalled = p.past(axis.tvalid & ~axis.tready, name="src_stalled")
        p.assume_implies("source keeps tdata", p.prev_valid & stalled, p.stable(axis.tdata))
        if values is not None:       # every lane one of ``values`` (two's complement)
            vb = cfg.host.value_bits
            for i in range(lanes):
                lane = axis.tdata[i * vb:(i + 1) * vb]
                p.assume("source values", Cat(*[lane == (v & ((1 << vb) - 1))
                                                for v in values]).any())
        with m.If(axis.tvalid & axis.tready):
            m.d.sync += self.left.eq(self.left - 1)

    def arm(self, op):
        """Statements: the frames of command ``op`` (a valid op code) are to be sent."""
        bx, bd = self.bx, self.bd
        return [self.left.eq(Mux(op == Op.UPDATE, bx + bd, Mux(op == Op.FORWARD, bx, bd))),
                # an update's x frame ends where bd beats are left; a read has one frame
                self.frame_end.eq(Mux(op == Op.UPDATE, bd, 0))]


class ResultSink:
    """The result stream's sink: always ready (``max_stall`` 0), ``tready`` free (None), or
    free but never low for more than ``max_stall`` cycles in a row while a result is
    offered."""

    def __init__(self, m: Module, p: Props, axis, *, max_stall: int | None = 0):
        if max_stall == 0:
            m.d.comb += axis.tready.eq(1)
            return
        p.free(axis.tready)
        if max_stall is None:
            return
        run = Signal(range(max_stall + 1), name="sink_stall")
        m.d.sync += run.eq(Mux(axis.tvalid & ~axis.tready, run + 1, 0))
        p.assume_implies(f"sink: stalls of at most {max_stall} cycles",
                         axis.tvalid & (run == max_stall), axis.tready)


class FrontEnd:
    """The integrators and ADCs of one read direction (``port``: the tile's ``adc_d`` or
    ``adc_x``): answers each ``start`` with one ``done`` ``min_wait`` to ``max_wait``
    cycles later (both ``adc_latency``: the ideal front-end the formulas assume), free
    codes.  ``resets`` counts integrator-reset pulses (one per pass)."""

    def __init__(self, m: Module, p: Props, port, *, min_wait: int, max_wait: int, name: str):
        self.pending = Signal(name=f"{name}_pending")
        age = Signal(range(max_wait + 1), name=f"{name}_age")
        self.resets = Signal(3, name=f"{name}_resets")
        p.free(port.done)
        p.free(port.codes)
        p.assume_implies(f"{name}: done only for a pending conversion", port.done,
                         self.pending & (age >= min_wait))
        p.assume_implies(f"{name}: done within {max_wait} cycles",
                         self.pending & (age == max_wait), port.done)
        with m.If(port.start):
            m.d.sync += [self.pending.eq(1), age.eq(1)]
        with m.Elif(port.done):
            m.d.sync += self.pending.eq(0)
        with m.Elif(self.pending):
            m.d.sync += age.eq(age + 1)
        rose = port.integ_reset & ~p.past(port.integ_reset)
        with m.If(rose & (self.resets != 7)):
            m.d.sync += self.resets.eq(self.resets + 1)

    def clear(self):
        return [self.resets.eq(0)]
