"""Failures a user can act on: each has a one-line message saying what is wrong and what to
do; the ``rpu`` command prints it and exits non-zero, never a traceback."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

__all__ = ["RpuError", "OutputError", "MissingExtraError", "output_dir", "require_extra"]


class RpuError(Exception):
    """A failure with a one-line message for the user."""


class OutputError(RpuError, OSError):
    """An output folder that cannot be used."""


class MissingExtraError(RpuError, ImportError):
    """An optional dependency (a ``pip install 'rpu-periphery[extra]'``) is missing."""


def output_dir(path, option: str = "-o") -> Path:
    """``path`` as a folder that exists and can be written (created if needed), else
    :class:`OutputError` naming ``option``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{option} {path}: is a file, not a folder; give a folder to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{option} {path}: cannot create the folder ({e.strerror}); "
                          "give a folder you can write to") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {path}: cannot write there (permission denied); "
                          "give a folder you can write to")
    return path


def require_extra(module: str, extra: str, purpose: str):
    """Import ``module`` or raise :class:`MissingExtraError` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(f"{purpose} needs {module}, part of the [{extra}] extra: "
                                f"pip install 'rpu-periphery[{extra}]'") from None
