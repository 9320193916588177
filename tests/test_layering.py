"""The layers depend one way: config → spec (contract) → {rtl, models} → testbench → CLI.

Checked three ways: the import statements of every module (AST walk), the modules a fresh
interpreter loads when importing a layer, and each layer working with the layers it must
not need made unimportable.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: folder → (package, packages and libraries it must not import)
RULES = {
    "rpu/spec": ("rpu.spec", ("rpu.rtl", "rpu.models", "rpu.testbench", "rpu.cli",
                              "amaranth", "numba", "numpy")),
    "rtl": ("rpu.rtl", ("rpu.models", "rpu.testbench", "rpu.cli", "numba")),
    "models": ("rpu.models", ("rpu.rtl", "rpu.testbench", "rpu.cli", "amaranth")),
    "rpu/driver": ("rpu.driver", ("rpu.rtl", "rpu.models", "rpu.testbench", "rpu.cli",
                                  "amaranth", "numba", "cocotb", "cocotbext")),
    "testbench": ("rpu.testbench", ("rpu.cli",)),
}
CONFIG_ALLOWED = ("rpu",)        # rpu/config.py: the standard library and itself only


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    pkg = package
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.rsplit(".", node.level - 1)[0] if node.level > 1 else pkg
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)
    return names


def _violations(folder: str) -> list[str]:
    package, banned = RULES[folder]
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        sub = path.relative_to(ROOT / folder).with_suffix("")
        pkg = ".".join([package, *sub.parts[:-1]])
        for name in sorted(_imports(path, pkg)):
            if any(name == b or name.startswith(b + ".") for b in banned):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


@pytest.mark.parametrize("folder", sorted(RULES))
def test_no_module_imports_a_layer_above_or_beside_it(folder):
    assert _violations(folder) == []


def test_the_config_imports_nothing_of_the_project():
    names = _imports(ROOT / "rpu" / "config.py", "rpu")
    assert not [n for n in names if n.startswith("rpu") or n in ("numpy", "amaranth", "numba")]


def test_the_ast_check_sees_a_forbidden_import(tmp_path, monkeypatch):
    """The walk finds what it is looking for (a deliberately layered-wrong module)."""
    bad = tmp_path / "rtl"
    bad.mkdir()
    (bad / "wrong.py").write_text("from rpu.models.ref_adc import adc_groups\nfrom . import x\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert _violations("rtl") == ["rtl/wrong.py imports rpu.models.ref_adc",
                                  "rtl/wrong.py imports rpu.models.ref_adc.adc_groups"]


_BLOCK = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError(f"{{name}} is unimportable in this test")
sys.meta_path.insert(0, _Block())
"""


def _run(code: str, blocked=(), cwd=None) -> subprocess.CompletedProcess:
    src = _BLOCK.format(blocked=set(blocked)) + code
    return subprocess.run([sys.executable, "-c", src], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_models_work_without_amaranth():
    res = _run("""
import numpy as np
import rpu.models
from rpu import TileConfig
from rpu.models import TileReference
t = TileReference(TileConfig(in_size=8, out_size=6))
t.update(np.linspace(-1, 1, 8), np.linspace(0.5, -0.5, 6))
y = t.forward(np.ones(8))
assert y.shape == (6,) and t.clips.updates == 1
assert not [m for m in sys.modules if m.startswith(("rpu.rtl", "rpu.testbench"))]
print("ok")
""", blocked=("amaranth",))
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_rtl_and_generate_work_without_numba(tmp_path):
    res = _run(f"""
import pkgutil, importlib
import rpu.rtl
for mod in pkgutil.walk_packages(rpu.rtl.__path__, "rpu.rtl."):
    importlib.import_module(mod.name)
from rpu.cli import main
code = main(["generate", "--in-size", "6", "--out-size", "5", "-o", {str(tmp_path)!r}])
assert code == 0, code
assert not [m for m in sys.modules if m.startswith("rpu.models")]
print("ok")
""", blocked=("numba",))
    assert res.returncode == 0 and res.stdout.strip().endswith("ok"), res.stderr
    assert (tmp_path / "rpu_tile.v").exists() and (tmp_path / "regmap.md").exists()


def test_the_contract_loads_no_library():
    res = _run("""
import rpu.spec, rpu.spec.registers, rpu.spec.timing, rpu.spec.streams
heavy = [m for m in sys.modules if m.split(".")[0] in ("numpy", "amaranth", "numba")]
assert not heavy, heavy
print("ok")
""")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_models_import_does_not_load_numba():
    """``import rpu.models`` is light: numba comes with the first model object."""
    res = _run("""
import rpu.models, rpu.models.ref_lfsr
assert "numba" not in sys.modules
from rpu.models import Crossbar
assert "numba" in sys.modules
print("ok")
""")
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_no_second_copy_of_the_package_is_importable():
    """The source checkout is not on a private __path__: ``rpu.rpu`` and ``rpu.docs`` do not
    exist, so a TileConfig is one class."""
    res = _run("""
import importlib
for name in ("rpu.rpu", "rpu.docs", "rpu.rpu.config"):
    try:
        importlib.import_module(name)
    except ModuleNotFoundError:
        continue
    raise SystemExit(f"{name} is importable")
print("ok")
""", cwd=str(ROOT))
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stdout + res.stderr


def test_the_board_driver_needs_neither_amaranth_nor_cocotb():
    """rpu.driver (a host talking to a real board) on a canned byte link, with Amaranth,
    cocotb and numba unimportable."""
    res = _run("""
import asyncio
from rpu import TileConfig
from rpu.config import EmulatorConfig
from rpu.driver import SerialHost
from rpu.spec.serial import Cmd, serial_format
cfg, ecfg = TileConfig(in_size=8, out_size=6), EmulatorConfig()
fmt = serial_format(cfg, ecfg)
class Canned:
    def __init__(self):
        self.out = bytearray()
    async def write(self, data):
        if data[0] == Cmd.INFO:
            self.out += bytes([0x10]) + fmt.info_data()
        elif data[0] == Cmd.READ:
            self.out += bytes([0x30]) + (0x52505531).to_bytes(4, "little")
    async def read(self, n):
        data = bytes(self.out[:n])
        del self.out[:n]
        return data
async def main():
    host = SerialHost(Canned(), cfg, ecfg)
    await host.connect()
    return await host.read("ID")
assert asyncio.run(main()) == 0x52505531
assert not [m for m in sys.modules if m.split(".")[0] in ("amaranth", "cocotb", "numba")]
print("ok")
""", blocked=("amaranth", "cocotb", "cocotbext", "numba"))
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr
