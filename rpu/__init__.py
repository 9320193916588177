"""RPU tile periphery: Amaranth generators (rpu.rtl), behavioural and bit-exact models
(rpu.models), cocotb benches (rpu.testbench), one validated configuration (rpu.TileConfig)."""

import os as _os

# In a source checkout the sub-packages live in the top-level folders rtl/, models/ and
# testbench/ (installed, setuptools maps them under rpu/).  Let a checkout import too.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isdir(_os.path.join(_root, "rtl")) and _os.path.isfile(_os.path.join(_root, "pyproject.toml")):
    __path__.append(_root)  # noqa: F821  (package __path__)

from .config import (ConfigError, DeviceConfig, MultiConductanceConfig,  # noqa: E402
                     TileConfig)

__all__ = ["TileConfig", "DeviceConfig", "MultiConductanceConfig", "ConfigError"]
__version__ = "0.1.0"
