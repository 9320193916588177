"""Deliberately broken designs: each formal property must fail on one of them.

A mutant is a real block with one fault at its ports: :func:`broken` builds a subclass whose
``elaborate`` instantiates the original block, connects every port through, and lets a
``fault(m, outer, inner)`` override one or two of them from the original's values (an
Amaranth assignment later in the same module wins).  Blocks inside the tile are replaced
while the tile is elaborated (the class in the module that instantiates it is patched), so
the broken block sits exactly where the real one does.

:data:`MUTANTS` lists them: the property each must break, the check group (or ``"axi"``)
that holds the property, and what the fault is.
"""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring

from rpu.spec.encodings import RESP_OKAY

__all__ = ["broken", "Mutant", "MUTANTS", "mutant"]


def broken(cls, fault: Callable, name: str):
    """A subclass of component ``cls`` that wraps the original and applies ``fault``."""

    class Broken(cls):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            self._mutant_args = (args, kw)

        def elaborate(self, platform):
            m = Module()
            args, kw = self._mutant_args
            m.submodules.orig = inner = cls(*args, **kw)
            wiring.connect(m, wiring.flipped(self), inner)
            fault(m, self, inner)
            return m

    Broken.__name__ = Broken.__qualname__ = f"Broken{cls.__name__}_{name}"
    return Broken


def _past(m, value, name):
    s = Signal.like(value, name=name)
    m.d.sync += s.eq(value)
    return s


# ---- the faults: (m, outer, inner) -> None --------------------------------------------

def _spurious_b(m, o, i):
    boot = Signal(init=1, name="boot")
    m.d.sync += boot.eq(0)
    m.d.comb += o.bus.bvalid.eq(i.bus.bvalid | boot)


def _lost_b(m, o, i):
    m.d.comb += o.bus.bvalid.eq(i.bus.bvalid & (i.bus.bresp == RESP_OKAY))


def _r_not_held(m, o, i):
    waited = _past(m, i.bus.rvalid & ~o.bus.rready, "waited")
    m.d.comb += o.bus.rvalid.eq(i.bus.rvalid & ~waited)


def _lone_address(m, o, i):
    m.d.comb += o.bus.awready.eq(i.bus.awready | (o.bus.awvalid & ~o.bus.wvalid & ~i.bus.bvalid))


def _read_starved(m, o, i):
    m.d.comb += o.bus.arready.eq(i.bus.arready & ~o.bus.awvalid)


def _read_at_once(m, o, i):
    m.d.comb += o.bus.arready.eq(i.bus.arready | (o.bus.arvalid & ~i.bus.rvalid))


def _never_slverr(m, o, i):
    m.d.comb += o.bus.bresp.eq(RESP_OKAY)


def _x_neg_follows_x_pos(m, o, i):
    m.d.comb += o.x_neg.eq(i.x_neg | i.x_pos)


def _drive_stretched(m, o, i):
    m.d.comb += o.pos.eq(i.pos | _past(m, i.pos, "pos_before"))


def _phase_2_as_0(m, o, i):
    m.d.comb += o.phase.eq(Mux(i.phase == 2, 0, i.phase))


def _bl_minus_one(m, o, i):
    m.d.comb += i.bl.eq(o.bl - 1)


def _polarity_swapped(m, o, i):
    m.d.comb += [o.x_pos.eq(i.x_neg), o.x_neg.eq(i.x_pos)]


def _start_twice(m, o, i):
    m.d.comb += o.adc_start.eq(i.adc_start | _past(m, i.adc_start, "start_before"))


def _results_withdrawn(m, o, i):
    waited = _past(m, i.m_axis.tvalid & ~o.m_axis.tready, "waited")
    m.d.comb += o.m_axis.tvalid.eq(i.m_axis.tvalid & ~waited)


def _results_change(m, o, i):
    waited = _past(m, i.m_axis.tvalid & ~o.m_axis.tready, "waited")
    m.d.comb += o.m_axis.tdata.eq(i.m_axis.tdata ^ waited.replicate(len(i.m_axis.tdata)))


def _tlast_every_beat(m, o, i):
    m.d.comb += o.res_last.eq(i.res_valid)


def _nm_late(m, o, i):
    m.d.comb += o.done.eq(_past(m, i.done, "done_before"))


def _cyc_plus_one(m, o, i):
    m.d.comb += o.op_cycles.eq(i.op_cycles + 1)


def _refuses_single(m, o, i):
    single = o.start & (o.count == 1)
    m.d.comb += [i.start.eq(o.start & ~single), o.ev_cmd_busy.eq(i.ev_cmd_busy | single)]


def _wrong_done_op(m, o, i):
    m.d.comb += o.done_op.eq(i.done_op ^ 1)


def _done_twice(m, o, i):
    m.d.comb += o.ev_done.eq(i.ev_done | _past(m, i.ev_done, "done_before"))


def _no_done_after_phase_3(m, o, i):
    m.d.comb += o.done.eq(i.done & (i.phase != 3))


def _loader_forgets_reset(m, o, i):
    stuck = Signal(reset_less=True, name="stuck")
    with m.If(i.take):
        m.d.sync += stuck.eq(1)
    m.d.comb += o.busy.eq(i.busy | stuck)


@dataclass(frozen=True)
class Mutant:
    """``name``: the fault; ``target``: the property it must break; ``check``: the tile
    check group holding it, or ``"axi"`` (the register slave's wrapper); ``where``:
    ``"module:Class"`` the broken class replaces (``rpu.rtl.tile:Tile`` / ``rpu.rtl.axi:
    AXILiteRegisters``: the wrapped design itself)."""

    name: str
    target: str
    check: str
    where: str
    fault: Callable
    doc: str


_T = "rpu.rtl.controller.top"
MUTANTS = [
    Mutant("spurious_b", "no response without a request", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _spurious_b, "a write response in the first cycle after reset"),
    Mutant("lost_b", "every request answered", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _lost_b, "refused writes never answered (bvalid hidden when SLVERR)"),
    Mutant("r_not_held", "responses held", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _r_not_held, "rvalid withdrawn after one stalled cycle"),
    Mutant("lone_address", "address and data in either order", "axi",
           "rpu.rtl.axi:AXILiteRegisters", _lone_address,
           "an address taken without its data (and lost)"),
    Mutant("read_starved", "read accepted", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _read_starved, "reads refused while a write address is offered"),
    Mutant("read_at_once", "read accepted", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _read_at_once, "a read taken in the first cycle it is offered"),
    Mutant("never_slverr", "SLVERR as the map says", "axi", "rpu.rtl.axi:AXILiteRegisters",
           _never_slverr, "every write answered OKAY"),
    Mutant("x_neg_follows_x_pos", "drive exclusive", "crossbar", f"{_T}:UpdatePulser",
           _x_neg_follows_x_pos, "pulse bank: an x-line at +V/2 also at −V/2"),
    Mutant("drive_stretched", "drive inside a window", "crossbar", f"{_T}:PulseWidthBank",
           _drive_stretched, "read pulses one cycle past the read window"),
    Mutant("phase_2_as_0", "phase order", "crossbar", f"{_T}:UpdatePulser",
           _phase_2_as_0, "pulse bank: phase 2 runs as phase 0 (after phase 1)"),
    Mutant("bl_minus_one", "phase length", "crossbar", f"{_T}:UpdatePulser",
           _bl_minus_one, "pulse bank: BL − 1 slots per phase"),
    Mutant("polarity_swapped", "phase polarity", "crossbar", "rpu.rtl.tile:Tile",
           _polarity_swapped, "tile top: x_pos and x_neg swapped"),
    Mutant("start_twice", "ADC handshake", "crossbar", f"{_T}:AdcInterface",
           _start_twice, "ADC interface: a two-cycle conversion start"),
    Mutant("results_withdrawn", "results held", "results", "rpu.rtl.tile:Tile",
           _results_withdrawn, "result tvalid withdrawn after one stalled cycle"),
    Mutant("results_change", "results stable", "results", "rpu.rtl.tile:Tile",
           _results_change, "result tdata changes while stalled"),
    Mutant("tlast_every_beat", "results tlast", "results", f"{_T}:AdcInterface",
           _tlast_every_beat, "ADC interface: tlast on every result beat"),
    Mutant("nm_late", "cycles = formula", "timing", "rpu.rtl.controller.convert:NoiseManager",
           _nm_late, "noise manager: done one cycle late"),
    Mutant("cyc_plus_one", "CYC = formula", "timing", f"{_T}:RunSequencer",
           _cyc_plus_one, "run sequencer: op_cycles one too many"),
    Mutant("refuses_single", "accepted", "timing", f"{_T}:CommandQueue",
           _refuses_single, "command queue: a count-1 command refused as busy"),
    Mutant("wrong_done_op", "done is the accepted op", "timing", f"{_T}:RunSequencer",
           _wrong_done_op, "run sequencer: done_op with its low bit flipped"),
    Mutant("done_twice", "no completion without a command", "timing", f"{_T}:RunSequencer",
           _done_twice, "run sequencer: ev_done two cycles long"),
    Mutant("no_done_after_phase_3", "completes in bound", "liveness", f"{_T}:UpdatePulser",
           _no_done_after_phase_3, "pulse bank: no done for an update that ran phase 3"),
    Mutant("loader_forgets_reset", "idle after reset", "reset", f"{_T}:Loader",
           _loader_forgets_reset, "loader: a busy flag without reset"),
]


@contextmanager
def mutant(mut: Mutant):
    """While active, ``mut.where`` builds the broken class (elaborate the design inside).
    Yields the broken class (for the top-level designs, to build directly)."""
    module, name = mut.where.split(":")
    mod = importlib.import_module(module)
    original = getattr(mod, name)
    cls = broken(original, mut.fault, mut.name)
    setattr(mod, name, cls)
    try:
        yield cls
    finally:
        setattr(mod, name, original)
