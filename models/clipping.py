"""What the tile clips, counted: nothing is lost silently (docs/numerics.md, "Clipping").

:class:`ClipCounts` accumulates, per tile reference, every place where the periphery or the
array clips by design; :func:`warn_clipped` raises a :class:`ClipWarning` once per calling line
of the user's code naming the parameter that would avoid it.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass, fields

import rpu

__all__ = ["ClipWarning", "ClipCounts", "warn_clipped", "reset_warnings"]


class ClipWarning(UserWarning):
    """Values were clipped (counted; the message says which parameter to change)."""


@dataclass
class ClipCounts:
    """Counts since the last :meth:`reset` (each ``*_values`` / ``*_lines`` over its ``total``)."""

    input_values: int = 0        # host values saturated by the fixed-point format (±2^(V-F-1))
    input_total: int = 0         # host values converted
    update_lines: int = 0        # update lines whose probability was clipped at p = 1 (UM)
    update_total: int = 0        # update lines (x and d) of all updates
    read_lines: int = 0          # read lines whose ADC code saturated in the accepted pass
    read_total: int = 0          # read lines
    result_values: int = 0       # results saturated by the result format
    bm_giveups: int = 0          # forwards still saturated at the bound-management pass cap
    reads: int = 0
    updates: int = 0
    weights_set: int = 0         # devices clipped to their bounds by set_weights

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


#: folders whose frames are the project's own: a warning is attributed to the first caller
#: outside them (the user's line)
_OWN = tuple(os.path.dirname(os.path.abspath(m.__file__)) + os.sep for m in (rpu,)) + tuple(
    os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, d)) + os.sep
    for d in ("rtl", "models", "testbench"))
_seen: set = set()


def _caller() -> tuple[int, str, int]:
    """(stacklevel for warnings.warn from warn_clipped, file, line) of the first frame
    outside the project's folders."""
    frame, level = sys._getframe(2), 2
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_OWN):
        frame, level = frame.f_back, level + 1
    if frame is None:
        return 2, "", 0
    return level, frame.f_code.co_filename, frame.f_lineno


def warn_clipped(count: int, total: int, what: str, hint: str) -> None:
    """A :class:`ClipWarning` "count of total what were clipped; hint", once per calling
    line of the user's code (nothing when ``count`` is 0; the counts keep counting)."""
    if not count:
        return
    level, filename, line = _caller()
    key = (what, filename, line)
    if key in _seen:
        return
    _seen.add(key)
    warnings.warn(f"{count} of {total} {what} were clipped; {hint}", ClipWarning, stacklevel=level)


def reset_warnings() -> None:
    """Forget which lines were warned about (tests)."""
    _seen.clear()
