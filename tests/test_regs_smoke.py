"""Plain-Verilog (no cocotb) Icarus smoke bench of the generated tile's register
interface: testbench/verilog/tb_regs_smoke.v against a freshly generated rpu_tile.v."""

from rpu.config import TileConfig
from rpu.testbench.regs_smoke import PASS_LINE, bench_defaults, bench_params, run_regs_smoke


def test_plain_verilog_register_smoke(tmp_path):
    """Inputs constant from time 0: after reset ID, STATUS, ERROR, ERR_COUNT, CONFIG read
    their documented resets (no X), unmapped accesses SLVERR, byte-strobed CONFIG writes
    merge (an illegal merged word is refused, flagged and counted), ERROR clears."""
    res = run_regs_smoke(TileConfig(in_size=8, out_size=4, stream_width=2), tmp_path)
    assert res.returncode == 0 and PASS_LINE in res.stdout, res.stdout + res.stderr


def test_bench_defaults_fit_the_default_config():
    assert bench_defaults() == bench_params(TileConfig())
