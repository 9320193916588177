"""`rpu demo` end to end (both simulators), shortened to 30 updates."""

import pytest

from rpu.config import TileConfig
from rpu.demo import run_demo


def test_demo_runs_and_passes(sim, tmp_path, capsys):
    code = run_demo(TileConfig(), tmp_path, simulator=sim, updates=30)
    out = capsys.readouterr().out
    assert "bit-exact vs reference yes" in out
    assert "result  : PASS" in out and code == 0, out


def test_demo_rejects_bad_updates(tmp_path):
    with pytest.raises(ValueError, match="updates"):
        run_demo(TileConfig(), tmp_path, updates=0)
