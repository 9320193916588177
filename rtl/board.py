"""Board tops for FPGA prototyping (a prototyping aid, not part of the tile): the tile, the
emulated crossbar (:mod:`rpu.rtl.emulator`) and a UART bridge (:mod:`rpu.rtl.uart`) on an
open ECP5 board from ``amaranth-boards`` (the ``[fpga]`` extra)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BoardInfo", "BOARDS"]


@dataclass(frozen=True)
class BoardInfo:
    """A supported board: its amaranth-boards platform and the FPGA on it."""

    platform: str          # "module:Class" in amaranth_boards
    device: str            # key of rpu.synth.DEVICES


BOARDS = {
    "ulx3s-85f": BoardInfo("amaranth_boards.ulx3s:ULX3S_85F_Platform", "ecp5-85k"),
    "ulx3s-45f": BoardInfo("amaranth_boards.ulx3s:ULX3S_45F_Platform", "ecp5-45k"),
    "ulx3s-25f": BoardInfo("amaranth_boards.ulx3s:ULX3S_25F_Platform", "ecp5-25k"),
}
