"""The model's bits do not change: recomputed digests equal the recorded ones
(scripts/golden.py; re-record only for an intended change of the model's numbers)."""

import importlib.util
import json
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
    monkeypatch.setattr(fused, "PARALLEL_MIN_DEVICES", 0)
    monkeypatch.setattr(fused, "_threads", fused._threads)
    fused.set_threads(threads)
    assert golden.run_case(golden._cases()[name]) == RECORDED[name]


def test_demo_replay_digest_unchanged():
    assert golden.demo_case()["demo"] == RECORDED["demo"]
