"""Cut points for the tile's formal checks: the conversion stage's lane scalers replaced by
free codes, the update managers by free gains on the real schedule.

The controller's properties (drives, phases, cycle counts, streams) depend on the codes
only through which lines fire and which sign phases run; the scalers' multipliers on free
data are what makes the solver slow.  :func:`free_arithmetic` gives the tile, while it is
elaborated, :class:`~rpu.rtl.management.LaneScaler` s whose codes are free in every cycle
(saturated into their legal range ``|code| ≤ limit``: ``dac_max`` for a read, ``2**prob_bits``
for an update), so the properties are proven for *any* codes the banks can be loaded
with — every value the real scalers give, at any latency, included.  The scalers' arithmetic is checked bit for bit against the
reference elsewhere (``tests/test_management.py``, the co-simulation).

The update managers' arithmetic (multiplier, square root, two reciprocals: 39 cycles of it on
the formal tile) feeds only the gains, which only the (free) scalers read; the controller
depends on the managers through ``busy``/``done`` (a fixed latency), ``bl_out`` and
``bl_error``.  :class:`FreeUpdateManager` keeps exactly those — the same latency from the
same ``start``, the BL register (or, with dynamic BL, any BL in 1..bl_max) and the same
register check — and makes the gains free.
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth import Module, Mux, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import signed

from rpu.rtl.common import counter_range
from rpu.rtl.management import LaneScaler, UpdateManager

__all__ = ["free_arithmetic", "FreeLaneScaler", "FreeUpdateManager"]


class FreeLaneScaler(LaneScaler):
    """A :class:`~rpu.rtl.management.LaneScaler` whose codes (within ±``limit``) and clip
    flags are free in every cycle."""

    def elaborate(self, platform):
        m = Module()
        cb = self.code_bits
        limit = Signal(signed(cb + 1))
        m.d.comb += limit.eq(self.limit)
        for i in range(self.lanes):
            v = Signal(signed(cb), name=f"free_code{i}")
            m.d.comb += v.eq(AnySeq(cb))
            m.d.comb += self.codes[i * cb:(i + 1) * cb].eq(
                Mux(v > limit, limit, Mux(v < -limit, -limit, v)))
        m.d.comb += self.clip.eq(AnySeq(len(self.clip)))
        return m


class FreeUpdateManager(UpdateManager):
    """An :class:`~rpu.rtl.management.UpdateManager` with its schedule (``done`` exactly
    ``latency`` cycles after an accepted ``start``, ``busy`` in between), its register check
    (``bl_error``) and BL (the register; with dynamic BL and good registers any value in
    1..bl_max), and free gains."""

    def free(self, m: Module, width: int, name: str) -> Signal:
        """A value free in every cycle (the solver's ``AnySeq``; a test overrides this to
        simulate the block)."""
        v = Signal(width, name=name)
        m.d.comb += v.eq(AnySeq(width))
        return v

    def elaborate(self, platform):
        m = Module()
        go = self.start & ~self.busy
        cyc = Signal(counter_range(self.latency + 1))
        dyn, err, blm, bl_reg = Signal(), Signal(), Signal(8), Signal(8)
        bad = self.registers_bad()
        m.d.sync += self.done.eq(0)
        with m.If(go):
            m.d.sync += [dyn.eq(self.dyn_bl), err.eq(bad), blm.eq(self.bl_max),
                         bl_reg.eq(self.bl), self.busy.eq(1), cyc.eq(1)]
        with m.Elif(self.busy):
            m.d.sync += cyc.eq(cyc + 1)
            with m.If(cyc == self.latency - 1):
                free_bl = self.free(m, 8, "free_bl")
                m.d.sync += [self.busy.eq(0), self.done.eq(1), self.bl_error.eq(err),
                             self.bl_out.eq(Mux(~dyn | err, bl_reg,
                                                Mux((free_bl == 0) | (free_bl > blm), blm, free_bl))),
                             self.gain_x.eq(self.free(m, len(self.gain_x), "free_gain_x")),
                             self.gain_d.eq(self.free(m, len(self.gain_d), "free_gain_d"))]
        return m


@contextmanager
def free_arithmetic():
    """While active, the conversion stage builds :class:`FreeLaneScaler` s and the manager
    stage :class:`FreeUpdateManager` s (elaborate the tile inside it)."""
    from rpu.rtl.controller import convert, manage
    saved = convert.LaneScaler, manage.UpdateManager
    convert.LaneScaler, manage.UpdateManager = FreeLaneScaler, FreeUpdateManager
    try:
        yield
    finally:
        convert.LaneScaler, manage.UpdateManager = saved
