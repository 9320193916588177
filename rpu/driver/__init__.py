"""Host-side drivers of the tile outside simulation: the tile's operations over any
register/stream access (:class:`TileOps`, also the base of the co-simulation host), the
emulator's register window (:class:`EmulatorWindow`), and the board's serial link
(:class:`SerialHost` over a byte link: :class:`SerialPortLink` for a real port, a cocotb
UART line in simulation).

This layer reads the configuration, the contract and numpy only (no Amaranth, no cocotb),
so a host that talks to a board needs neither (``tests/test_layering.py``).
"""

from .host import EmulatorWindow, TileOps
from .serial_host import LinkError, SerialHost, SerialPortLink

__all__ = ["TileOps", "EmulatorWindow", "SerialHost", "SerialPortLink", "LinkError"]
