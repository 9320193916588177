"""Small building blocks of the formal wrappers: the previous cycle's values (Amaranth 0.5
has no ``Past``/``Stable``), free inputs, and named properties.

A wrapper adds its statements to one :class:`Props` object; each ``Assert``/``Assume``/
``Cover`` it makes carries its property's name as its source location (``prop.<slug>:<n>``,
which sby reports for a failed assertion or a reached cover), so a run's verdict is per
named property (:func:`slug`; the ``names`` dict maps back).
"""

from __future__ import annotations

import re

from amaranth import Module, Signal, ResetSignal
from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import Assert, Assume, Cover

__all__ = ["Props", "slug"]


def slug(name: str) -> str:
    """The identifier a property's name becomes in sby's report."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


class Props:
    """Property statements of a wrapper module ``m`` (sync domain ``sync``).

    ``past(x)`` is ``x`` one cycle ago (a register), ``stable(x)`` "x kept its value since
    the last cycle" and ``prev_valid`` "there is a last cycle since the last reset" — a
    reset clears it, so no property spans a reset.  ``resets``: False assumes ``rst`` only
    in the first cycle; True leaves it free afterwards (the reset property).
    """

    def __init__(self, m: Module, *, resets: bool = False):
        self.m = m
        self.names: dict[str, str] = {}          # slug → property name
        self.kinds: dict[str, str] = {}          # slug → "assert", "assume" or "cover"
        self.count = 0
        self.prev_valid = Signal(name="prev_valid")
        m.d.sync += self.prev_valid.eq(1)
        with m.If(Initial()):
            m.d.comb += Assume(ResetSignal("sync"))
        if not resets:
            with m.If(~Initial()):
                m.d.comb += Assume(~ResetSignal("sync"))

    # -- history --
    def past(self, expr, name: str | None = None, *, reset_less: bool = False) -> Signal:
        """``expr`` one cycle ago; 0 right after a reset unless ``reset_less`` (needed to
        remember the reset itself)."""
        if self.m.domain._depth:     # a register written under an If would hold stale values
            raise RuntimeError("Props.past must be called outside m.If/m.Switch blocks")
        s = Signal(len(expr), name=name or "past", reset_less=reset_less)
        self.m.d.sync += s.eq(expr)
        return s

    def stable(self, expr):
        return self.prev_valid & (expr == self.past(expr))

    # -- free inputs --
    def free(self, target):
        """Drive ``target`` from a fresh free input each cycle."""
        self.m.d.comb += target.eq(AnySeq(len(target)))

    def const(self, target):
        """Drive ``target`` from one free value for the whole run."""
        self.m.d.comb += target.eq(AnyConst(len(target)))

    # -- properties --
    def _add(self, kind, name: str, cond):
        key = slug(name)
        if self.names.setdefault(key, name) != name:
            raise ValueError(f"properties {name!r} and {self.names[key]!r} share a slug")
        stmt = kind(cond)
        self.count += 1              # the n of prop.<slug>:<n>: the statement's number
        stmt.src_loc = (f"prop.{key}", self.count)
        self.kinds[key] = stmt.kind.value
        self.m.d.comb += stmt

    def assert_(self, name: str, cond) -> None:
        self._add(Assert, name, cond)

    def assume(self, name: str, cond) -> None:
        self._add(Assume, name, cond)

    def cover(self, name: str, cond) -> None:
        self._add(Cover, name, cond)

    def implies(self, name: str, pre, post) -> None:
        """Assert ``post`` in every cycle ``pre`` holds."""
        with self.m.If(pre):
            self._add(Assert, name, post)

    def assume_implies(self, name: str, pre, post) -> None:
        with self.m.If(pre):
            self._add(Assume, name, post)
