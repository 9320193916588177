"""RPU tile periphery: one validated configuration (:class:`rpu.TileConfig`), the contract
every layer reads (:mod:`rpu.spec`), Amaranth generators (:mod:`rpu.rtl`), behavioural and
bit-exact models (:mod:`rpu.models`), cocotb benches (:mod:`rpu.testbench`) and the ``rpu``
command (:mod:`rpu.cli`).

The top-level folders ``rtl/``, ``models/`` and ``testbench/`` are mapped into this one
namespace by ``pyproject.toml``; a source checkout is used through ``pip install -e .``.
"""

from importlib import metadata as _metadata

from .config import (DEVICE_PRESETS, ConfigError, ConverterConfig, DeviceConfig, DeviceModel,
                     HostConfig, IOConfig, MultiConductanceConfig, NoiseManagement, TileConfig,
                     UpdateConfig)

__all__ = ["TileConfig", "ConverterConfig", "HostConfig", "IOConfig", "UpdateConfig",
           "DeviceConfig", "MultiConductanceConfig", "NoiseManagement", "DeviceModel",
           "DEVICE_PRESETS", "ConfigError", "__version__"]
__version__ = _metadata.version("rpu-periphery")
