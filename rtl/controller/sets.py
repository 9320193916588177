"""The vector buffer sets the controller's stages pass along: beat buffers, abs-max units
and each set's progress flags."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule
from rpu.spec.encodings import OP_BITS
from rpu.spec.timing import absmax_cycles

from ..common import counter_range, pick
from ..management import AbsMax

__all__ = ["VectorBuffer", "VectorSets"]

class VectorBuffer(wiring.Component):
    """A rotating register of ``beats`` entries: ``push`` shifts ``data`` in at the top,
    ``rotate`` moves the head (``head``) back to the top.  After ``beats`` pushes the first
    pushed beat is at the head; ``beats`` rotations restore the order (so it can be read again).

    Built as a circular buffer: a memory of ``beats`` words (one write and one asynchronous
    read port) and a pointer to the head, which every push or rotation advances; a push
    writes the new beat over the head.  The memory keeps the per-bit logic of a shift chain
    out of the netlist (a tile's buffers hold up to 2·vector_sets·4096 values).
    """

    def __init__(self, beats: int, width: int):
        self.beats = IntRule(1, 1 << 16).check("beats", beats)
        IntRule(1, 1 << 16).check("width", width)
        super().__init__({"push": In(1), "rotate": In(1), "data": In(width), "head": Out(width)})

    def elaborate(self, platform):
        m = Module()
        depth = max(2, self.beats)       # a 1-word memory's zero-width address fails lint
        m.submodules.beats = mem = Memory(shape=len(self.data), depth=depth, init=[])
        # the contents have no reset (every use follows a full load, whatever the pointer);
        # the pointer has one, or an X sampled before the first edge stays X in Icarus
        head = Signal(range(depth))
        rd, wr = mem.read_port(domain="comb"), mem.write_port()
        m.d.comb += [rd.addr.eq(head), self.head.eq(rd.data),
                     wr.addr.eq(head), wr.data.eq(self.data), wr.en.eq(self.push)]
        with m.If(self.push | self.rotate):
            m.d.sync += head.eq(Mux(head == self.beats - 1, 0, head + 1))
        return m


class VectorSets(wiring.Component):
    """``sets`` buffer sets — an x and a d :class:`VectorBuffer` each and their maxima
    (:meth:`_maxima`) — and per set the flags the stages move it through: ``full`` (loaded, with its
    ``op``), ``managed`` (past the update-manager stage), ``converted`` (kept after
    conversion: a forward under bound management, for retries).

    Each stage addresses one set: the loader ``load_set`` (``take`` clears its abs-max,
    ``push_x``/``push_d`` shift a beat of ``data`` in, ``fill`` marks it full with
    ``fill_op``), the manager ``manage_set`` (``mark_managed``), the conversion
    ``conv_set`` (``rotate_x``/``rotate_d`` turn its buffers once, showing ``head_x``/
    ``head_d``; ``mark_converted``; ``release_conv``), the run sequencer ``run_set``
    (``release_run``).  A release clears all three flags; it is applied last.
    """

    def __init__(self, sets: int, beats_x: int, beats_d: int, beat_bits: int, lanes: int,
                 value_bits: int):
        self.sets = IntRule(2, 8).check("sets", sets)
        self.beats_x, self.beats_d, self.lanes, self.value_bits = beats_x, beats_d, lanes, value_bits
        idx = counter_range(sets)
        super().__init__({
            "data": In(beat_bits),
            "load_set": In(idx), "take": In(1), "push_x": In(1), "push_d": In(1),
            "fill": In(1), "fill_op": In(OP_BITS),
            "manage_set": In(idx), "mark_managed": In(1),
            "conv_set": In(idx), "rotate_x": In(1), "rotate_d": In(1), "mark_converted": In(1),
            "release_conv": In(1),
            "run_set": In(idx), "release_run": In(1),
            "full": Out(sets), "managed": Out(sets), "converted": Out(sets),
            "op": Out(OP_BITS).array(sets),
            "head_x": Out(beat_bits), "head_d": Out(beat_bits),
            "max_x": Out(value_bits).array(sets), "max_d": Out(value_bits).array(sets),
        })

    def elaborate(self, platform):
        m = Module()
        ns = self.sets
        bufs = {"x": [], "d": []}
        for i in range(ns):                      # one buffer per side and set
            for side, beats in (("x", self.beats_x), ("d", self.beats_d)):
                buf = VectorBuffer(beats, len(self.data))
                m.submodules[f"buf_{side}{i}"] = buf
                push = getattr(self, f"push_{side}") & (self.load_set == i)
                m.d.comb += [buf.data.eq(self.data), buf.push.eq(push),
                             buf.rotate.eq(getattr(self, f"rotate_{side}") & (self.conv_set == i))]
                bufs[side].append(buf)
        self._maxima(m)
        m.d.comb += [self.head_x.eq(pick(self.conv_set, [b.head for b in bufs["x"]])),
                     self.head_d.eq(pick(self.conv_set, [b.head for b in bufs["d"]]))]
        for i in range(ns):
            with m.If(self.fill & (self.load_set == i)):
                m.d.sync += [self.full[i].eq(1), self.op[i].eq(self.fill_op)]
            with m.If(self.mark_managed & (self.manage_set == i)):
                m.d.sync += self.managed[i].eq(1)
            with m.If(self.mark_converted & (self.conv_set == i)):
                m.d.sync += self.converted[i].eq(1)
            with m.If((self.release_conv & (self.conv_set == i))
                      | (self.release_run & (self.run_set == i))):
                m.d.sync += [self.full[i].eq(0), self.managed[i].eq(0), self.converted[i].eq(0)]
        return m

    def _maxima(self, m):
        """``max_x``/``max_d``: one :class:`AbsMax` per side, shared by the sets (the loader
        fills one set at a time, from its ``take`` to its ``fill``), and per set a register
        keeping the set's maximum once the shared unit has moved on.  The unit's output
        belongs to the set its lanes held ``absmax_cycles − 1`` cycles earlier (a pipeline
        of set indices follows it); that set reads the output itself, every other set its
        register: cycle for cycle the values of one abs-max unit per set and side, for the
        logic of one per side."""
        ns, idx = self.sets, counter_range(self.sets)
        lanes_set = Signal(idx)                  # the set the lanes' running maxima belong to
        with m.If(self.take):
            m.d.sync += lanes_set.eq(self.load_set)
        owner = lanes_set
        for k in range(absmax_cycles(self.lanes) - 1):
            nxt = Signal(idx, name=f"max_owner{k + 1}")
            m.d.sync += nxt.eq(owner)
            owner = nxt
        for side in ("x", "d"):
            mx = AbsMax(self.lanes, self.value_bits)
            m.submodules[f"max_{side}"] = mx
            m.d.comb += [mx.data.eq(self.data), mx.valid.eq(getattr(self, f"push_{side}")),
                         mx.clear.eq(self.take)]
            for i in range(ns):
                kept = Signal(self.value_bits, name=f"max_{side}{i}")
                with m.If(owner == i):
                    m.d.sync += kept.eq(mx.max)
                m.d.comb += getattr(self, f"max_{side}")[i].eq(Mux(owner == i, mx.max, kept))
