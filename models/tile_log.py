"""Operation logs of analog layers' tiles: what a co-simulation replays.

While a :class:`NetworkRecorder` is attached to a network's
:class:`~rpu.models.layers.AnalogLinear` layers, every batch operation of every tile is
logged in the host's fixed-point format (:class:`TileLog`): the vectors streamed in, the
results the reference returned, the learning rate of each update and the weights after it,
from the tile's initial weights on.  ``rpu.testbench.tb_train`` replays a log through the
tile's generated Verilog and checks the results, ADC codes, update drives and weights
against the reference and against the log, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rpu.config import IntRule, TileConfig
from rpu.spec.formats import numerics

from .ref_management import to_fixed

__all__ = ["TileLog", "NetworkRecorder"]

_OPS = ("forward", "backward", "update")


@dataclass
class TileLog:
    """One tile's configuration (seeds included), initial weights and operations; an op is
    ``{"op", "x" (B, N) int64 | None, "d" (B, M) int64 | None, "y" (B, lines) int64 | None
    (read results), "lr" (update) , "w" (M, N) float32 | None (weights after an update)}``."""

    name: str
    cfg: TileConfig
    init_weights: np.ndarray
    ops: list = field(default_factory=list)

    @property
    def samples(self) -> dict:
        """Vectors per operation kind."""
        out = dict.fromkeys(_OPS, 0)
        for op in self.ops:
            out[op["op"]] += len(op["x"] if op["x"] is not None else op["d"])
        return out

    def save(self, path) -> Path:
        """Write the log as one ``.npz`` (arrays ``op<k>_<key>``, the rest as JSON)."""
        arrays, meta = {"init_weights": self.init_weights}, []
        for k, op in enumerate(self.ops):
            entry = {"op": op["op"], "lr": op.get("lr")}
            for key in ("x", "d", "y", "w"):
                if op.get(key) is not None:
                    arrays[f"op{k}_{key}"] = op[key]
                    entry[key] = True
            meta.append(entry)
        head = dict(name=self.name, config=self.cfg.to_dict(), ops=meta)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, meta=np.array(json.dumps(head)), **arrays)
        return path

    @classmethod
    def load(cls, path) -> "TileLog":
        with np.load(path, allow_pickle=False) as f:
            head = json.loads(str(f["meta"]))
            ops = []
            for k, entry in enumerate(head["ops"]):
                op = {"op": entry["op"], "lr": entry["lr"]}
                for key in ("x", "d", "y", "w"):
                    op[key] = f[f"op{k}_{key}"] if entry.get(key) else None
                ops.append(op)
            return cls(head["name"], TileConfig.from_dict(head["config"]), f["init_weights"], ops)


class _LayerHook:
    """The ``recorder`` of one layer: logs its tiles' operations."""

    def __init__(self, layer, logs: dict):
        self.layer, self.logs = layer, logs
        for r, row in enumerate(layer.tiles):
            for c, tile in enumerate(row):
                if tile.clips.reads or tile.clips.updates:
                    raise ValueError(f"{layer.name}: a recording must start before the tile's "
                                     f"first operation")
                name = layer.name if len(layer.tiles) * len(row) == 1 else f"{layer.name} tile {r},{c}"
                logs[id(tile)] = TileLog(name, tile.cfg, tile.weights.copy())

    def weights_set(self, layer) -> None:
        """New initial weights (only before the first operation)."""
        for row in layer.tiles:
            for tile in row:
                log = self.logs[id(tile)]
                if log.ops:
                    raise ValueError(f"{layer.name}: weights set during a recording")
                log.init_weights = tile.weights.copy()

    def op(self, tile, op: str, arrays, out) -> None:
        cfg = tile.cfg
        entry = {"op": op, "x": None, "d": None, "y": None, "w": None, "lr": None}
        if op == "forward":
            entry["x"] = to_fixed(cfg, arrays[0])
        elif op == "backward":
            entry["d"] = to_fixed(cfg, arrays[0])
        else:
            entry["x"], entry["d"] = to_fixed(cfg, arrays[0]), to_fixed(cfg, arrays[1])
            entry["lr"] = tile.lr
            entry["w"] = tile.weights.copy()
        if out is not None:      # reads: the results, exact multiples of 2^-F
            entry["y"] = np.rint(np.asarray(out) * (1 << numerics(cfg).frac_bits)).astype(np.int64)
        self.logs[id(tile)].ops.append(entry)


class NetworkRecorder:
    """``NetworkRecorder(layers, samples)``: logs every tile operation of the analog
    ``layers`` until :meth:`on_batch` is told that ``samples`` training samples are done
    (the batch holding the last one is logged whole)."""

    def __init__(self, layers, samples: int):
        self.samples = IntRule(1, 1 << 30).check("samples", samples)
        self._logs: dict = {}
        self._order: list = []
        self.layers = [layer for layer in layers if hasattr(layer, "tiles")]
        for layer in self.layers:
            layer.recorder = _LayerHook(layer, self._logs)
            self._order += [id(t) for row in layer.tiles for t in row]
        self.samples_recorded = 0

    @property
    def recording(self) -> bool:
        return any(layer.recorder is not None for layer in self.layers)

    def on_batch(self, done: int) -> None:
        """After each training batch: ``done`` samples so far; stops at ``samples``."""
        if self.recording and done >= self.samples:
            self.stop(done)

    def stop(self, done: int) -> None:
        self.samples_recorded = done
        for layer in self.layers:
            layer.recorder = None

    def logs(self) -> list[TileLog]:
        """The tiles' logs, layer by layer."""
        return [self._logs[k] for k in self._order]
