"""Co-simulation harness: the generated ``rpu_tile`` module plus two testbench transactors.

Simulation only (never part of what ``rpu generate`` ships).  The harness instantiates the
tile *by module name*, so co-simulation compiles exactly the ``rpu_tile.v`` the generator
writes, next to ``rpu_tile_harness.v``.  It passes every tile port through unchanged except
``s_axis``, and adds:

* **vector player** (``vp_*``): the host loads a whole set of frames in one write
  (``vp_data``: beat *k* in bits ``[k·W, (k+1)·W)``, ``vp_count`` beats, ``vp_last`` the
  beats that carry ``tlast``) and toggles ``vp_go``; the player then drives the tile's
  AXI4-Stream slave beat by beat, honouring ``tready`` (``tvalid`` held, data stable), and
  increments ``vp_sets`` when the set is out.  A per-beat Python stream source costs about
  20 µs per beat under Verilator (a wake-up and three VPI writes), i.e. most of an update's
  budget at 32 beats; the player costs one wake-up per set.
* **slot recorder** (``rec_*``): the drives of every update slot (cycles with
  ``upd_slot``) go into a ``depth``-row buffer; when it is full, or when the slot run ends,
  it is copied to ``rec_data``/``rec_count`` (``rec_end``: the slot run, i.e. the update,
  is over) and ``rec_pending`` rises until the bench toggles ``rec_ack``.  A snapshot needed while one is pending sets ``rec_overrun``
  (sticky; the front-end checks it), so no slot is ever lost silently.
* **monitor** ``mon``: the control bits and a drive row, ``wake`` the OR of the bits that
  need the front-end (layouts in :mod:`rpu.testbench.layouts`).  The front-end sleeps on
  ``wake``.
"""

from __future__ import annotations

from amaranth import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import IntRule, TileConfig, check_instance
from rpu.rtl.management import BoundManager, LaneScaler, NoiseManager, UpdateManager
from rpu.spec.params import check_lanes
from rpu.spec.timing import stream_beats
from rpu.testbench.layouts import MON_CTL, WAKE, DriveRow
from rpu.rtl.axi import AXI4StreamSignature
from rpu.rtl.blocks import TOP_NAME
from rpu.rtl.common import counter_range

__all__ = ["CosimHarness", "VectorPlayer", "SlotRecorder", "ManagementUnits", "HARNESS_NAME",
           "harness_sources"]

HARNESS_NAME = "rpu_tile_harness"



class CosimHarness(wiring.Component):
    """``CosimHarness(cfg, *, play_beats=None, rec_depth=None)`` around module ``rpu_tile``.

    ``play_beats`` (default: an update's two frames plus one spare beat each) bounds the
    beats of one player set; ``rec_depth`` is the recorder's rows per snapshot (default:
    64, fewer when 64 rows of drives would exceed 64 kbit).
    """

    def __init__(self, cfg: TileConfig, *, play_beats: int | None = None,
                 rec_depth: int | None = None):
        from rpu.rtl.tile import tile_signature
        if not isinstance(cfg, TileConfig):
            raise TypeError(f"cfg must be a TileConfig, not {cfg!r}")
        lanes = cfg.host.stream_width
        frames = stream_beats(cfg.in_size, lanes) + stream_beats(cfg.out_size, lanes)
        self.play_beats = IntRule(1, 4096).check(
            "play_beats", frames + 2 if play_beats is None else play_beats)
        self.cfg = cfg
        self.beat_bits = lanes * cfg.host.value_bits
        self.row_bits = DriveRow.of(cfg).width
        if rec_depth is None:           # a whole default update per snapshot, ≤ 64 kbit
            rec_depth = max(1, min(64, (1 << 16) // self.row_bits))
        self.rec_depth = IntRule(1, 256).check("rec_depth", rec_depth)
        self.tile_signature = tile_signature(cfg)
        members = {name: m for name, m in self.tile_signature.members.items() if name != "s_axis"}
        members.update({
            "vp_data": In(self.play_beats * self.beat_bits),
            "vp_count": In(counter_range(self.play_beats + 1)), "vp_last": In(self.play_beats),
            "vp_go": In(1), "vp_busy": Out(1), "vp_sets": Out(8),
            "rec_data": Out(self.rec_depth * self.row_bits),
            "rec_count": Out(counter_range(self.rec_depth + 1)), "rec_ack": In(1),
            "mon": Out(len(MON_CTL) + self.row_bits), "wake": Out(1),
        })
        super().__init__(members)

    def _drive_row(self):
        return Cat(*(getattr(self, name) for name in DriveRow.of(self.cfg).fields))

    def elaborate(self, platform):
        m = Module()
        axis = AXI4StreamSignature(self.beat_bits).flip().create(path=("tile_axis",))
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for path, member in self.tile_signature.members.flatten():
            if not member.is_port:
                continue
            obj = axis if path[0] == "s_axis" else self
            for key in path[1:] if path[0] == "s_axis" else path:
                obj = getattr(obj, key)
            ports[("i_" if member.flow == In else "o_") + "__".join(path)] = obj
        m.submodules.tile = Instance(TOP_NAME, **ports)
        m.submodules.player = vp = VectorPlayer(self.play_beats, self.beat_bits)
        wiring.connect(m, vp.axis, axis)
        m.d.comb += [vp.data.eq(self.vp_data), vp.count.eq(self.vp_count),
                     vp.last.eq(self.vp_last), vp.go.eq(self.vp_go),
                     self.vp_busy.eq(vp.busy), self.vp_sets.eq(vp.sets)]
        m.submodules.recorder = rec = SlotRecorder(self.rec_depth, self.row_bits)
        # a multi-conductance tile's RESETs are recorded in order with the slots
        valid = self.upd_slot | self.cell_reset if self.cfg.mc.enabled else self.upd_slot
        m.d.comb += [rec.valid.eq(valid), rec.ack.eq(self.rec_ack),
                     rec.row.eq(self._drive_row()),
                     self.rec_data.eq(rec.data), self.rec_count.eq(rec.count)]
        rec_pending, rec_overrun = rec.pending, rec.overrun
        bits = {"rec_pending": rec_pending, "rec_overrun": rec_overrun, "rec_end": rec.end}
        for side in ("adc_d", "adc_x"):
            for name in ("integ_reset", "integ_en", "start"):
                bits[f"{side}__{name}"] = getattr(getattr(self, side), name)
        ctl = Cat(*[bits[name] for name in MON_CTL])
        m.d.comb += [self.mon.eq(Cat(ctl, self._drive_row())),
                     self.wake.eq(Cat(*[bits[name] for name in WAKE]).any())]
        return m



class VectorPlayer(wiring.Component):
    """AXI4-Stream source in HDL: a set of up to ``beats`` beats loaded at once.

    A change of ``go`` while idle loads ``data`` (beat *k* in bits ``[k·width, (k+1)·width)``),
    ``count`` and ``last`` (``tlast`` per beat); the beats then go out on ``axis`` in order,
    ``tvalid`` held and data stable until ``tready``.  ``sets`` counts finished sets (mod
    256, an empty set finishes at once); ``busy`` is high from the ``go`` change to the
    last beat's handshake.
    """

    def __init__(self, beats: int, width: int):
        self.beats = IntRule(1, 4096).check("beats", beats)
        self.width = IntRule(1, 4096).check("width", width)
        super().__init__({
            "data": In(beats * width), "count": In(counter_range(beats + 1)), "last": In(beats),
            "go": In(1), "busy": Out(1), "sets": Out(8), "axis": Out(AXI4StreamSignature(width)),
        })

    def elaborate(self, platform):
        m = Module()
        n, w, axis = self.beats, self.width, self.axis
        # data registers need no reset (``left`` says what is valid): no reset mux in front
        # of them, which Verilator would otherwise re-evaluate on every eval (rst is an input)
        data = [Signal(w, name=f"beat{k}", reset_less=True) for k in range(n)]
        last = Signal(n)
        left = Signal(counter_range(n + 1))
        go_seen = Signal()
        m.d.comb += [axis.tvalid.eq(left != 0), axis.tdata.eq(data[0]), axis.tlast.eq(last[0]),
                     self.busy.eq((left != 0) | (self.go != go_seen))]
        with m.If(left == 0):
            with m.If(self.go != go_seen):
                m.d.sync += [go_seen.eq(self.go), left.eq(self.count), last.eq(self.last)]
                m.d.sync += [d.eq(self.data[k * w:(k + 1) * w]) for k, d in enumerate(data)]
                with m.If(self.count == 0):
                    m.d.sync += self.sets.eq(self.sets + 1)
        with m.Elif(axis.tready):
            m.d.sync += [left.eq(left - 1), last.eq(last >> 1)]
            m.d.sync += [data[k].eq(data[k + 1]) for k in range(n - 1)]
            with m.If(left == 1):
                m.d.sync += self.sets.eq(self.sets + 1)
        return m


class SlotRecorder(wiring.Component):
    """Rows of ``row`` captured on ``valid`` cycles, handed over ``depth`` at a time.

    When the buffer holds ``depth`` rows, or a run of ``valid`` cycles has ended, the rows
    are copied to ``data`` (row *i* in bits ``[i·width, (i+1)·width)``, rows past ``count``
    stale; ``end``: the run of ``valid`` cycles is over) and ``pending`` rises until ``ack``
    is toggled.  A hand-over while ``pending``
    sets ``overrun`` (sticky until reset): rows are never lost silently.
    """

    def __init__(self, depth: int, width: int):
        self.depth = IntRule(1, 256).check("depth", depth)
        self.width = IntRule(1, 1 << 16).check("width", width)
        super().__init__({
            "valid": In(1), "row": In(width), "ack": In(1),
            "data": Out(depth * width), "count": Out(counter_range(depth + 1)), "end": Out(1),
            "pending": Out(1), "overrun": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        k = self.depth
        rows = [Signal(self.width, name=f"row{i}", reset_less=True) for i in range(k)]
        snapshot = Signal(k * self.width, reset_less=True)
        m.d.comb += self.data.eq(snapshot)
        count = Signal(counter_range(k + 1))
        toggle = Signal()
        m.d.comb += self.pending.eq(toggle != self.ack)
        take = Signal()
        m.d.comb += take.eq((count == k) | (~self.valid & (count != 0)))
        with m.If(take):
            m.d.sync += [snapshot.eq(Cat(*rows)), self.count.eq(count), toggle.eq(~toggle),
                         self.end.eq(~self.valid)]
            with m.If(self.pending):
                m.d.sync += self.overrun.eq(1)
        index = Signal.like(count)
        m.d.comb += index.eq(Mux(take, 0, count))
        with m.If(self.valid):
            m.d.sync += count.eq(index + 1)
            for i, row in enumerate(rows):          # a decoder, not a case statement
                with m.If(index == i):
                    m.d.sync += row.eq(self.row)
        with m.Elif(take):
            m.d.sync += count.eq(0)
        return m


def harness_sources(cfg: TileConfig, out_dir, *, tile_verilog=None, **kw) -> list:
    """Write ``rpu_tile.v`` (unless ``tile_verilog`` gives the generator's file) and
    ``rpu_tile_harness.v`` into ``out_dir``; returns the source list for ``run_cocotb``."""
    from rpu.rtl.generate import write_verilog
    from rpu.rtl.tile import Tile
    tile = tile_verilog if tile_verilog is not None else write_verilog(Tile(cfg), TOP_NAME, out_dir)
    return [tile, write_verilog(CosimHarness(cfg, **kw), HARNESS_NAME, out_dir)]


class ManagementUnits(wiring.Component):
    """All management units side by side, ports prefixed ``nm__``, ``sc__`` (a lane
    scaler), ``bm__``, ``um__``: the co-simulation harness of ``tb_management`` (the tile
    controller wires the units itself)."""

    def __init__(self, cfg: TileConfig, lanes: int):
        check_instance("cfg", cfg, TileConfig)
        check_lanes("lanes", lanes)
        self._units = {"nm": NoiseManager(cfg), "sc": LaneScaler(cfg, lanes),
                       "bm": BoundManager(cfg), "um": UpdateManager(cfg)}
        super().__init__({name: Out(u.signature) for name, u in self._units.items()})

    def elaborate(self, platform):
        m = Module()
        for name, unit in self._units.items():
            m.submodules[name] = unit
            wiring.connect(m, wiring.flipped(getattr(self, name)), unit)
        return m
