"""The plain-Verilog register smoke bench (``testbench/verilog/tb_regs_smoke.v``, no
cocotb): its parameters for a configuration, and a run under Icarus against a freshly
generated ``rpu_tile.v``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from rpu.config import TileConfig
from rpu.spec.encodings import ErrorFlag
from rpu.spec.registers import register_map

__all__ = ["BENCH", "BENCH_TOP", "PASS_LINE", "bench_params", "bench_defaults", "run_regs_smoke"]

BENCH = Path(__file__).parent / "verilog" / "tb_regs_smoke.v"
BENCH_TOP = "tb_regs_smoke"
PASS_LINE = "TB_REGS_SMOKE PASS"
UNMAPPED = 0x03C                 # between UM_LR_DW and CYC_FORWARD


def bench_params(cfg: TileConfig) -> dict[str, int]:
    """The bench's parameters for ``cfg``, from its register map."""
    rm = register_map(cfg)
    config = rm["CONFIG"]
    bl, nm = config.field("bl"), config.field("nm_mode")
    if not (bl.lsb == 0 and bl.width == 8 and nm.lsb == 8):
        raise ValueError("the bench writes CONFIG.bl as byte 0 and CONFIG.nm_mode in byte 1")
    if any(r.offset <= UNMAPPED < r.offset + r.size for r in rm):
        raise ValueError(f"{UNMAPPED:#x} is mapped")
    new_bl = bl.lo if config.reset & bl.mask != bl.lo else bl.lo + 1
    params = {
        "AW": rm.addr_width, "TDATA_W": cfg.host.stream_width * cfg.host.value_bits,
        "CODES_D_W": cfg.num_adcs_d * cfg.converters.adc_bits, "CODES_X_W": cfg.num_adcs_x * cfg.converters.adc_bits,
        "UNMAPPED_ADDR": UNMAPPED, "ILLEGAL_FLAG": 1 << ErrorFlag.ILLEGAL_VALUE,
        # byte 0 (bl) legal; the other bytes of wdata must be ignored
        "PARTIAL_WDATA": 0xFFFFFF00 | new_bl, "PARTIAL_WSTRB": 0b0001,
        "PARTIAL_EXPECT": (config.reset & ~bl.mask) | new_bl,
        # byte 1 with nm_mode above its legal range
        "ILLEGAL_WDATA": 0xFFFF00FF | (nm.hi + 1) << nm.lsb, "ILLEGAL_WSTRB": 0b0010,
    }
    for name in ("ID", "STATUS", "ERROR", "ERR_COUNT", "CONFIG"):
        params[f"{name}_ADDR"] = rm.addr(name)
        params[f"{name}_RESET"] = rm[name].reset
    return params


def bench_defaults() -> dict[str, int]:
    """The parameter defaults written in the bench (they fit the default TileConfig)."""
    out = {}
    for decl in re.findall(r"^\s*parameter\s+(?:\[[^\]]*\]\s*)?([^;]*);", BENCH.read_text(),
                           re.MULTILINE):
        for name, value in re.findall(r"(\w+)\s*=\s*([0-9]+'[hb][0-9A-Fa-f_]+|[0-9]+)", decl):
            size, _, digits = value.partition("'")
            out[name] = int(digits[1:], 16 if digits[0] == "h" else 2) if digits else int(size)
    return out


def run_regs_smoke(cfg: TileConfig, out_dir) -> subprocess.CompletedProcess:
    """Generate ``cfg``'s Verilog into ``out_dir`` and run the bench with ``iverilog -g2012``
    / ``vvp``; returns vvp's completed process (exit 0 and :data:`PASS_LINE` on success)."""
    from rpu.generate import generate
    from rpu.rtl.blocks import TOP_NAME
    for tool in ("iverilog", "vvp"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found: install Icarus Verilog >= 11 "
                               "(apt-get install iverilog)")
    out_dir = Path(out_dir)
    tile = generate(cfg, out_dir, lint=False)[TOP_NAME]
    exe = out_dir / f"{BENCH_TOP}.vvp"
    defs = [f"-P{BENCH_TOP}.{k}={v}" for k, v in bench_params(cfg).items()]
    subprocess.run(["iverilog", "-g2012", "-o", str(exe), "-s", BENCH_TOP, *defs, str(BENCH),
                    str(tile)], check=True, capture_output=True, text=True)
    return subprocess.run(["vvp", "-n", str(exe)], capture_output=True, text=True, timeout=600)
