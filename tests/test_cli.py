import json
import os
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
    (["sweep", "--points", "3"], "unrecognized arguments: --points 3 (rpu sweep --help lists"),
])
def test_run_options_validated_before_anything_runs(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"rpu {args[0]}: error: "), res.stderr
    assert message in lines[0] and "Traceback" not in res.stderr


def _one_line_error(res, command, message):
    """Non-zero exit, one line on stderr, the message in it, no traceback."""
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode != 0, res
    assert len(lines) == 1 and lines[0].startswith(f"rpu {command}: "), res.stderr
    assert message in lines[0] and "Traceback" not in res.stderr, res.stderr


def test_output_that_is_a_file_or_unwritable_is_one_line(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    _one_line_error(run_cli("generate", "-o", str(f)), "generate",
                    f"-o {f}: is a file, not a folder; give a folder to write into")
    # a folder that cannot be created, even by root (a read-only kernel file system)
    _one_line_error(run_cli("generate", "-o", "/proc/self/rpu-out"), "generate",
                    "-o /proc/self/rpu-out: cannot create the folder (")


def test_a_failing_lint_is_one_line(tmp_path, monkeypatch):
    """The lint of a broken file reports its first problem and the report's path."""
    from rpu.generate import LintError, lint_verilog
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(a); input a; wire [3:0] w = a + 5'd3; endmodule\nmodule bad2 garbage\n")
    with pytest.raises(LintError, match=r"^verilator --lint-only found \d+ problem\(s\) in .*bad.v; "
                       r"first: %Error.* \(report: .*bad.lint.log\)$"):
        lint_verilog(bad, "bad")


def test_multi_conductance_option_reaches_the_verilog(tmp_path):
    """--mc-enabled is not silently dropped: the generated tile gains the transfer ports."""
    args = ("generate", "--in-size", "4", "--out-size", "3", "-o")
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert run_cli(*args, str(single)).returncode == 0
    res = run_cli(*args, str(multi), "--mc-enabled", "true")
    assert res.returncode == 0, res.stderr
    assert "read_part" in (multi / "rpu_tile.v").read_text()
    assert "read_part" not in (single / "rpu_tile.v").read_text()


def test_closed_pipe_is_one_line():
    """As `rpu config | head -1` when head has gone: the read end is closed before the
    command writes (deterministic: a reader that is still there would let a short output
    through before it goes)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "rpu.cli", "config"], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode != 0
    assert proc.stderr.strip() == "rpu config: output closed early (broken pipe)", proc.stderr


def test_version_and_help_name_every_option():
    import rpu
    res = run_cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"rpu {rpu.__version__}"
    res = run_cli("demo", "--help")
    for option in ("-o DIR", "--simulator", "--updates K", "--waves", "--device-dw-min",
                   "device (behavioural model only", "in [1, 100000]"):
        assert option in res.stdout, option


def test_every_option_of_every_command_says_what_it_does():
    from rpu.cli import _parser
    bare = [(name, a.option_strings) for name, sub in _parser().commands.items()
            for a in sub._actions if a.option_strings and not a.help]
    assert not bare, bare


@pytest.mark.parametrize("made,removed", [
    ("train/train.json", True), ("sweep/results.jsonl", True), ("demo/params.json", True),
    ("notes/todo.txt", False)])
def test_clean_removes_only_rpus_outputs(tmp_path, monkeypatch, capsys, made, removed):
    """``rpu clean`` removes the simulator build folder and ./build when that holds a
    command's default outputs; any other ./build is left, and it says so."""
    cache = tmp_path / "cache"
    (cache / "x").mkdir(parents=True)
    monkeypatch.setenv("RPU_BUILD_DIR", str(cache))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build" / made).parent.mkdir(parents=True)
    (tmp_path / "build" / made).write_text("{}")
    assert main(["clean"]) == 0
    out = capsys.readouterr().out
    assert not cache.exists() and f"removed {cache}" in out
    assert (tmp_path / "build").exists() != removed
    assert ("left " in out) != removed, out


def test_model_only_options_are_marked():
    res = run_cli("generate", "--help")
    assert "--out-noise V" in res.stdout and "(model only)" in res.stdout


def test_device_preset_option(capsys):
    assert main(["config", "--device-preset", "ecram", "--device-dw-min", "0.003"]) == 0
    dev = json.loads(capsys.readouterr().out)["device"]
    assert dev["model"] == "linear_step" and dev["gamma_up"] == 0.1153 and dev["dw_min"] == 0.003
    res = run_cli("config", "--device-preset", "memristor")
    assert res.returncode == 2 and "device preset must be one of 'gokmen_vlasov'" in res.stderr
