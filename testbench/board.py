"""Co-simulation of the board core (emulated tile + serial bridge + UART, :mod:`rpu.rtl.board`):
its Verilog for the benches of :mod:`rpu.testbench.tb_board`, whose host talks to it only
through the ``rx``/``tx`` pins (:class:`rpu.testbench.serial_line.UartLine` under
:class:`rpu.driver.SerialHost`).  Simulation only."""

from __future__ import annotations

from rpu.config import EmulatorConfig, TileConfig

__all__ = ["board_core_sources"]


def board_core_sources(cfg: TileConfig, ecfg: EmulatorConfig, divisor: int, out_dir, *,
                       blink_cycles: int = 64) -> list:
    """Write ``rpu_board_core.v`` (short LED blinks, so they show in a trace) into
    ``out_dir``; the source list."""
    from rpu.rtl.board import BOARD_CORE_NAME, BoardCore
    from rpu.rtl.generate import write_verilog
    return [write_verilog(BoardCore(cfg, ecfg, divisor, blink_cycles=blink_cycles),
                          BOARD_CORE_NAME, out_dir)]
