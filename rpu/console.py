"""Status lines for long steps: on a terminal they say what is running; in logs and CI
(stderr not a terminal) they stay quiet."""

from __future__ import annotations

import sys

__all__ = ["status"]


def status(message: str) -> None:
    """Print ``rpu: message`` to stderr when it is a terminal."""
    if sys.stderr.isatty():
        print(f"rpu: {message}", file=sys.stderr, flush=True)
