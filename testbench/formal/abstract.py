"""Cut points for the tile's formal checks: the conversion stage's lane scalers replaced by
free codes.

The controller's properties (drives, phases, cycle counts, streams) depend on the codes
only through which lines fire and which sign phases run; the scalers' multipliers on free
data are what makes the solver slow.  :func:`free_scalers` gives the tile, while it is
elaborated, :class:`~rpu.rtl.management.LaneScaler` s whose codes are free in every cycle
(saturated into their legal range ``|code| ≤ limit``: ``dac_max`` for a read, ``2**prob_bits``
for an update), so the properties are proven for *any* codes the banks can be loaded
with — every value the real scalers give, at any latency, included.  The scalers' arithmetic is checked bit for bit against the
reference elsewhere (``tests/test_management.py``, the co-simulation).
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth import Module, Mux, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import signed

from rpu.rtl.management import LaneScaler

__all__ = ["free_scalers"]


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


@contextmanager
def free_scalers():
    """While active, the conversion stage builds :class:`FreeLaneScaler` s (elaborate the
    tile inside it)."""
    from rpu.rtl.controller import convert
    saved = convert.LaneScaler
    convert.LaneScaler = FreeLaneScaler
    try:
        yield
    finally:
        convert.LaneScaler = saved
