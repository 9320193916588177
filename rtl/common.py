"""Helpers every RTL block shares: shapes that never go zero-width, the one FSM idiom,
multiplexers that lint cleanly, and small arithmetic on signed lanes."""

from __future__ import annotations

from amaranth import Module, Mux, Signal

from rpu.config import IntRule

__all__ = ["counter_range", "StateRegister", "pick", "tree_sum", "magnitude", "round_shift_var",
           "lane"]


def counter_range(values: int) -> range:
    """Shape of a counter or index taking the values ``0 .. values-1``, never zero-width.

    ``range(1)`` (a counter of one value, e.g. the beat of a one-beat frame) is a 0-bit
    shape, which Amaranth writes as ``wire [-1:0]`` (Verilator: ASCRANGE); this gives one
    bit instead.  Any other count keeps the width ``range(values)`` has.
    """
    IntRule(1, 1 << 32).check("values", values)
    return range(max(2, values))


class StateRegister:
    """A state register with named states, decoded with ``If`` chains.

    ``fsm = StateRegister(m, "run", ["IDLE", ...])``; ``fsm.ongoing("IDLE")`` is a condition,
    ``fsm.goto("WAIT")`` a synchronous assignment; ``fsm.state`` holds the index of the state
    in the list (its encoding, e.g. ``STATUS.state``).  Amaranth's ``m.FSM`` emits single-
    case ``casez`` blocks that Verilator's lint flags as incomplete, so every sequencer of the
    project uses this instead.
    """

    def __init__(self, m: Module, name: str, states):
        self.m, self.states = m, list(states)
        if len(set(self.states)) != len(self.states) or not self.states:
            raise ValueError(f"states must be distinct names, not {self.states!r}")
        self.state = Signal(counter_range(len(self.states)), name=f"{name}_state")

    def ongoing(self, name: str):
        return self.state == self.states.index(name)

    def goto(self, name: str) -> None:
        self.m.d.sync += self.state.eq(self.states.index(name))


def pick(index, items):
    """``items[index]`` as a Mux chain (an Array index emits a ``case`` that Verilator's
    lint flags as incomplete when the item count is not a power of two)."""
    items = list(items)
    out = items[-1]
    for i in range(len(items) - 2, -1, -1):
        out = Mux(index == i, items[i], out)
    return out


def tree_sum(values):
    """Sum as a balanced adder tree (log depth; a linear chain of 4096 terms also overflows
    Python's recursion when Amaranth walks it)."""
    level = list(values)
    while len(level) > 1:
        level = [level[i] + level[i + 1] if i + 1 < len(level) else level[i]
                 for i in range(0, len(level), 2)]
    return level[0]


def magnitude(v):
    """|v| of a signed value, as an unsigned value of the same width (|−2^(w−1)| fits)."""
    return Mux(v < 0, -v, v)[:len(v)]


def round_shift_var(n, s):
    """round(n / 2^s) halves up, for unsigned ``n`` and a variable ``s`` ≥ 0."""
    return (n >> s) + (((n << 1) >> s) & 1)


def lane(sig, i: int, width: int):
    """Lane ``i`` (``width`` bits) of a packed port, as a signed value."""
    return sig[i * width:(i + 1) * width].as_signed()
