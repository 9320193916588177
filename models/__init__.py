"""rpu.models: behavioural crossbar (devices, single- and multi-conductance arrays, tile)
and the bit-exact references of the RTL blocks (``ref_*``)."""

from rpu.models.crossbar import PHASE_DRIVES, Crossbar, Readout, coincidences
from rpu.models.devices import DeviceArray, c2c_normal
from rpu.models.multiconductance import MultiConductanceCrossbar
from rpu.models.tile import Tile

__all__ = ["Crossbar", "Readout", "PHASE_DRIVES", "coincidences", "DeviceArray", "c2c_normal",
           "MultiConductanceCrossbar", "Tile"]
