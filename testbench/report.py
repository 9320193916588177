"""Bench side of the runner contract: read ``RPU_PARAMS``, write ``RPU_RESULTS``."""

from __future__ import annotations

import json
import os

__all__ = ["bench_params", "write_results", "bench_config"]


def bench_params() -> dict:
    return json.loads(os.environ.get("RPU_PARAMS", "{}"))


def bench_config():
    """The :class:`rpu.TileConfig` the runner passed as ``params["config"]`` (JSON)."""
    from rpu.config import TileConfig
    return TileConfig.from_dict(bench_params()["config"])


def write_results(**figures) -> None:
    """Merge ``figures`` into the results file the runner reads back after the run."""
    path = os.environ.get("RPU_RESULTS")
    if not path:
        return
    data = {}
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
    data.update(figures)
    with open(path, "w") as f:
        json.dump(data, f)
