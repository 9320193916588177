"""The regular install (`pip install .`, README command 1) ships every subpackage.

setuptools installs only the packages `pyproject.toml` lists; a new subpackage folder that
is not listed works in the editable install the tests use and breaks the regular one
(`No module named 'rpu.rtl.controller'`).  This test compares the list with the folders.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setuptools():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_folders():
    st = _setuptools()
    found = set()
    for package, folder in st["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "__pycache__" in rel.parts or any(p.startswith(".") for p in rel.parts):
                continue
            found.add(".".join((package, *rel.parts)))
    return found


def test_every_package_folder_is_listed_for_the_regular_install():
    listed = set(_setuptools()["packages"])
    missing = sorted(_package_folders() - listed)
    assert not missing, f"pyproject.toml [tool.setuptools] packages lacks {missing}"


def test_every_listed_package_exists():
    assert set(_setuptools()["packages"]) <= _package_folders()
