"""Sweeps on dask.distributed (rpu.sweep): points as tasks, results gathered, points already
done not re-run."""

import json

import pytest

pytest.importorskip("distributed")
pytest.importorskip("sklearn")

from rpu.sweep import (SWEEPS, device_sweep, load_results, point_key, run_points,  # noqa: E402
                       summarise, write_table)

TINY = dict(hidden=[2], epochs=1)


def test_device_sweep_points():
    pts = device_sweep(("dw_min", "bl"), seeds=(0, 1), settings=TINY)
    floats = [p for p in pts if p["kind"] == "float"]
    assert len(floats) == 2
    assert len(pts) == 2 + 2 * (len(SWEEPS["dw_min"]["values"]) + len(SWEEPS["bl"]["values"]))
    bl = [p for p in pts if p.get("sweep") == "bl"]
    assert all(p["config"]["dynamic_bl"] is False for p in bl)
    assert {p["config"]["device"]["dw_min"] for p in pts if p.get("sweep") == "dw_min"} == \
        set(SWEEPS["dw_min"]["values"])
    # labels are not part of a point's identity
    assert point_key({**bl[0], "sweep": "other"}) == point_key(bl[0])
    with pytest.raises(ValueError, match="sweep parameter must be one of"):
        device_sweep(("gamma",))


def test_run_points_gathers_and_skips_done(tmp_path):
    """Two points run on a one-worker LocalCluster; a second call with one more point runs
    only that one (the file then holds three lines) and returns all three in order."""
    path = tmp_path / "results.jsonl"
    a = dict(kind="float", settings={**TINY, "seed": 0})
    b = dict(kind="analog", settings={**TINY, "seed": 0}, config={"device": {"dw_min": 0.002}},
             sweep="dw_min", value=0.002)
    c = dict(kind="analog", settings={**TINY, "seed": 1}, config={"bl": 5, "dynamic_bl": False},
             sweep="bl", value=5)
    logs = []
    first = run_points([a, b], path, workers=1, progress=False, log=logs.append)
    assert [r["key"] for r in first] == [point_key(a), point_key(b)]
    assert all(0 <= r["test_error"] <= 1 and len(r["epochs"]) == 1 for r in first)
    second = run_points([a, b, c], path, workers=1, progress=False, log=logs.append)
    assert "2 already in" in logs[-2] and "1 to run" in logs[-2]
    assert len(path.read_text().splitlines()) == 3
    assert second[:2] == first and second[2]["point"]["config"]["bl"] == 5
    assert set(load_results(path)) == {point_key(p) for p in (a, b, c)}
    rows = summarise([a, b, c], second)
    assert [r["sweep"] for r in rows] == ["float", "dw_min", "bl"]
    table = write_table(rows, tmp_path / "t.csv").read_text().splitlines()
    assert table[0].startswith("sweep,value,runs,mean_error_pct") and len(table) == 4
    json.dumps(rows)
