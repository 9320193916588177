"""Parameter checks of the blocks that the RTL and its reference share (the config's rules,
so every block's message reads like the config's)."""

from __future__ import annotations

from rpu.config import MAX_LINES, ConverterConfig, IntRule

__all__ = ["check_lines", "check_lanes", "check_dac_params"]

_CONV = ConverterConfig.field_rules()


def check_lines(name: str, value) -> int:
    return IntRule(1, MAX_LINES).check(name, value)


def check_lanes(name: str, value) -> int:
    return IntRule(1, MAX_LINES).check(name, value)


def check_dac_params(lines, dac_bits, slot_cycles=1, lanes=1) -> None:
    """Pulse-width bank: lines, DAC width, slot length, lanes per load beat."""
    check_lines("lines", lines)
    _CONV["dac_bits"][0].check("dac_bits", dac_bits)
    _CONV["slot_cycles"][0].check("slot_cycles", slot_cycles)
    check_lanes("lanes", lanes)
