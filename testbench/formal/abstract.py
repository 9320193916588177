"""Cut points for the tile's formal checks: the conversion stage's combinational scalers
replaced by free codes.

The controller's properties (drives, phases, cycle counts, streams) depend on the codes
only through which lines fire and which sign phases run; the scalers' multipliers on free
data are what makes the solver slow.  :func:`free_scalers` gives the tile, while it is
elaborated, an ``InputScaler`` and a ``ProbScaler`` whose codes are free in every cycle
(saturated into their legal range: ``|code| ≤ dac_max``, ``|code| ≤ 2**prob_bits``), so
the properties are proven for *any* codes the banks can be loaded with — every value the
real scalers give included.  The scalers' arithmetic is checked bit for bit against the
reference elsewhere (``tests/test_management.py``, the co-simulation).
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth import Module, Mux, Signal
from amaranth.asserts import AnySeq
from amaranth.hdl import signed

from rpu.rtl.management import InputScaler, ProbScaler

__all__ = ["free_scalers"]


def _free_lanes(m: Module, codes, lanes: int, width: int, limit: int) -> None:
    for i in range(lanes):
        v = Signal(signed(width), name=f"free_code{i}")
        m.d.comb += v.eq(AnySeq(width))
        m.d.comb += codes[i * width:(i + 1) * width].eq(
            Mux(v > limit, limit, Mux(v < -limit, -limit, v)))


class FreeInputScaler(InputScaler):
    """An :class:`~rpu.rtl.management.InputScaler` whose DAC codes are free."""

    def elaborate(self, platform):
        m = Module()
        width = len(self.codes) // self.lanes
        _free_lanes(m, self.codes, self.lanes, width, (1 << (width - 1)) - 1)
        return m


class FreeProbScaler(ProbScaler):
    """A :class:`~rpu.rtl.management.ProbScaler` whose probability codes (and clip flags)
    are free."""

    def elaborate(self, platform):
        m = Module()
        width = len(self.codes) // self.lanes
        _free_lanes(m, self.codes, self.lanes, width, 1 << (width - 2))
        m.d.comb += self.clip.eq(AnySeq(len(self.clip)))
        return m


@contextmanager
def free_scalers():
    """While active, the conversion stage builds :class:`FreeInputScaler` and
    :class:`FreeProbScaler` (elaborate the tile inside it)."""
    from rpu.rtl.controller import convert
    saved = convert.InputScaler, convert.ProbScaler
    convert.InputScaler, convert.ProbScaler = FreeInputScaler, FreeProbScaler
    try:
        yield
    finally:
        convert.InputScaler, convert.ProbScaler = saved
