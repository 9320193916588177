"""numba's on-disk cache of the model's kernels, used across processes as a user does:
a cached kernel that calls a parallel one must run when it is the first thing a process
loads (numba itself does not launch its thread pool then: issues #8578, #9938)."""

import os
import subprocess
import sys

_SCRIPT = """
import numpy as np, warnings
warnings.simplefilter("ignore")
from rpu.models import TileReference, training_config
tile = TileReference(training_config(in_size=16, out_size=8, lr=0.05))
rng = np.random.default_rng(0)
if "{call}" == "vector":
    tile.update(rng.uniform(0, 1, 16), rng.normal(0, 0.05, 8))
else:
    tile.update_batch(rng.uniform(0, 1, (3, 16)), rng.normal(0, 0.05, (3, 8)))
print(float(tile.weights.sum()))
"""


def _process(call: str, cache) -> subprocess.CompletedProcess:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-c", _SCRIPT.format(call=call)], env=env,
                          capture_output=True, text=True, timeout=600)


def test_cached_batch_update_loaded_first_in_a_process(tmp_path):
    """One process caches the vector update, a second compiles and caches the batch update,
    a third loads the batch update first: without the fix the third called address 0."""
    first = _process("vector", tmp_path)
    assert first.returncode == 0, first.stderr
    compiled = _process("batch", tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    loaded = _process("batch", tmp_path)
    assert loaded.returncode == 0, f"exit {loaded.returncode} (-11: segfault)\n{loaded.stderr}"
    assert loaded.stdout == compiled.stdout          # the cached kernel gives the same weights
