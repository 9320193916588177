"""The model's bits do not change: recomputed digests equal the recorded ones
(scripts/golden.py; re-record only for an intended change of the model's numbers)."""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("golden", ROOT / "scripts" / "golden.py")
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
RECORDED = json.loads(golden.GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(golden._cases()))
def test_model_digests_unchanged(name):
    assert golden.run_case(golden._cases()[name]) == RECORDED[name]


@pytest.mark.parametrize("threads", [2])
@pytest.mark.parametrize("name", ["default_32x24", "stuck", "soft_bounds", "dynamic_bl", "big_200x130"])
def test_model_digests_unchanged_on_parallel_kernels(name, threads, monkeypatch):
    """The same digests with the fused update's parallel kernels (row blocks with one
    owner thread each, even on these small tiles)."""
    from rpu.models import fused
    threads = min(threads, fused._MAX_THREADS)
    monkeypatch.setattr(fused, "PARALLEL_MIN_WORK", 0)
    monkeypatch.setattr(fused, "_threads", fused._threads)
    fused.set_threads(threads)
    assert golden.run_case(golden._cases()[name]) == RECORDED[name]


def test_demo_replay_digest_unchanged():
    assert golden.demo_case()["demo"] == RECORDED["demo"]


_MORE_THREADS = textwrap.dedent("""
    import importlib.util, json, sys
    import numba
    spec = importlib.util.spec_from_file_location("golden", sys.argv[1])
    golden = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(golden)
    from rpu.models import fused
    fused.PARALLEL_MIN_WORK = 0              # every tile takes the parallel kernels
    out = {}
    for t in (1, 3, 4):
        fused.set_threads(t)
        out[t] = {n: golden.run_case(golden._cases()[n]) for n in sys.argv[2:]}
        out[t]["numba threads"] = numba.get_num_threads()
    print(json.dumps(out))
""")


def test_model_digests_unchanged_with_more_threads_than_cores():
    """A fresh process with NUMBA_NUM_THREADS=4 (more threads than this machine's cores, so
    row blocks interleave arbitrarily): the recorded digests at 1, 3 and 4 threads."""
    names = ["default_32x24", "stuck", "soft_bounds", "big_200x130"]
    env = dict(os.environ, NUMBA_NUM_THREADS="4")
    res = subprocess.run([sys.executable, "-c", _MORE_THREADS, str(golden.__file__), *names],
                         env=env, capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    for t in ("1", "3", "4"):
        threads = got[t].pop("numba threads")
        assert t == "1" or threads == int(t)          # the pool really had that many
        assert got[t] == {n: RECORDED[n] for n in names}, t
