import json
import subprocess
import sys

import pytest

from rpu.cli import main


def run_cli(*args):
    """Run the real console entry point in a subprocess (what a user types)."""
    return subprocess.run([sys.executable, "-m", "rpu.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("args,message", [
    (["--in-size", "0"], "in_size must be an integer in [1, 4096], not 0"),
    (["--in-size", "4097"], "in_size must be an integer in [1, 4096], not 4097"),
    (["--out-size", "ten"], "out_size must be an integer in [1, 4096], not 'ten'"),
    (["--dac-bits", "13"], "dac_bits must be an integer in [2, 12], not 13"),
    (["--adc-bits", "1"], "adc_bits must be an integer in [2, 16], not 1"),
    (["--prob-bits", "0"], "prob_bits must be an integer in [2, 16], not 0"),
    (["--bl", "0"], "bl must be an integer in [1, 255], not 0"),
    (["--bl", "40"], "bl must be at most bl_max (31), not 40"),
    (["--bl-max", "5"], "bl must be at most bl_max (5), not 10"),
    (["--slot-cycles", "0"], "slot_cycles must be an integer in [1, 255], not 0"),
    (["--lines-per-adc", "5"], "lines_per_adc must be a divisor of in_size (64), not 5"),
    (["--noise-management", "maybe"], "noise_management must be one of 'off', 'abs_max', 'pow2', not 'maybe'"),
    (["--bound-management", "perhaps"], "bound_management must be true or false, not 'perhaps'"),
    (["--lr", "-1"], "lr must be a number in (0, 100], not -1.0"),
    (["--x-seed", "0"], "x_seed must be an integer in [1, 4294967295], not 0"),
    (["--device-dw-min", "0"], "device.dw_min must be a number in (0, 1], not 0.0"),
    (["--device-w-min", "1"], "device.w_min must be below device.w_max (0.6), not 1.0"),
    (["--stream-width", "65"], "stream_width must be an integer in [1, 64], not 65"),
])
def test_generate_bad_value_prints_one_line_and_fails(tmp_path, args, message):
    res = run_cli("generate", *args, "-o", str(tmp_path / "out"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines == [f"rpu generate: error: {message}"], res.stderr
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()


def test_generate_bad_config_file(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text('{"in_size": 0}')
    res = run_cli("generate", "--config", str(bad), "-o", str(tmp_path / "o"))
    assert res.returncode == 2
    assert res.stderr.strip() == "rpu generate: error: in_size must be an integer in [1, 4096], not 0"
    res = run_cli("generate", "--config", str(tmp_path / "missing.json"), "-o", str(tmp_path / "o"))
    assert res.returncode == 2 and "cannot read" in res.stderr and "Traceback" not in res.stderr


def test_config_file_then_options_override(tmp_path, capsys):
    f = tmp_path / "c.json"
    f.write_text(json.dumps({"in_size": 32, "out_size": 16, "device": {"dw_min": 0.002}}))
    assert main(["config", "--config", str(f), "--out-size", "8"]) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["in_size"], cfg["out_size"], cfg["device"]["dw_min"]) == (32, 8, 0.002)


def test_generate_writes_linted_verilog_and_params(tmp_path):
    out = tmp_path / "gen"
    res = run_cli("generate", "--in-size", "16", "--out-size", "8", "-o", str(out))
    assert res.returncode == 0, res.stderr
    params = json.loads((out / "params.json").read_text())
    assert params["in_size"] == 16 and params["out_size"] == 8
    verilog = sorted(out.glob("*.v"))
    assert verilog, "no Verilog written"
    for v in verilog:
        assert "module" in v.read_text()


@pytest.mark.parametrize("args,message", [
    (["demo", "--updates", "0"], "argument --updates: must be an integer in [1, 100000], not '0'"),
    (["sim", "-j", "x"], "argument -j/--jobs: must be an integer in [0, 64], not 'x'"),
    (["demo", "--simulator", "xsim"], "argument --simulator: invalid choice: 'xsim'"),
])
def test_run_options_validated_before_anything_runs(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
