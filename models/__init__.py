"""rpu.models: the behavioural crossbar (devices, single- and multi-conductance arrays), the
tile's bit-exact reference (:class:`TileReference`), analog layers on tiles for training
(:class:`AnalogLinear`, :mod:`~rpu.models.layers`) and the references of the RTL blocks
(``ref_<block>``, twins of ``rpu.rtl.<block>``).

Names are imported on first use, so ``import rpu.models`` (or ``rpu.models.ref_lfsr``) does
not load numba.
"""

import importlib

__all__ = ["Crossbar", "Readout", "PHASE_DRIVES", "coincidences", "DeviceArray", "c2c_normal",
           "MultiConductanceCrossbar", "PairCrossbar", "TileReference", "set_threads", "get_threads",
           "AnalogLinear", "FloatLinear", "training_config"]

_WHERE = {"Crossbar": "crossbar", "Readout": "crossbar", "PHASE_DRIVES": "crossbar",
          "coincidences": "crossbar", "DeviceArray": "devices", "c2c_normal": "devices",
          "MultiConductanceCrossbar": "multiconductance", "PairCrossbar": "multiconductance",
          "TileReference": "ref_tile",
          "set_threads": "fused", "get_threads": "fused",
          "AnalogLinear": "layers", "FloatLinear": "layers", "training_config": "layers"}


def __getattr__(name):
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
