"""Write Verilog for Amaranth components (one module file per top)."""

from __future__ import annotations

import re
from pathlib import Path

from amaranth.back import verilog

__all__ = ["write_verilog", "to_verilog"]

# Amaranth 0.5 writes combinational logic under an ``If`` (and every register's next-state
# logic) as ``always @*`` blocks through Yosys's ``write_verilog``, which gives each module
# a register ``reg \$auto$verilog_backend.cc:N:dump_module$K = 0;`` read by every such
# block, so that the blocks run at time 0: under Verilog-2001 a declaration initialiser is
# an assignment at time 0, an event.  Under IEEE 1800 (``iverilog -g2012``, simulators in
# SystemVerilog mode) it is applied before time 0 without an event, so a block whose
# inputs never change is never evaluated and its outputs stay X (STATUS, ERROR, ERR_COUNT
# after reset in a plain testbench with constant inputs).  An ``initial`` assignment is
# an event in both (it assumes, as Yosys's form does, that the ``always`` blocks have
# started when it runs; ``#0`` would order it, but Verilator without --timing rejects it).
_TIME0_TRIGGER = re.compile(
    r"^(?P<indent>[ \t]*)reg (?P<name>\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+) += 0;$",
    re.MULTILINE)


def evaluate_comb_at_time_zero(text: str) -> str:
    """Yosys's time-0 trigger of ``always @*`` blocks as an ``initial`` assignment (above);
    raises if a module with ``always @*`` blocks has no trigger to rewrite."""
    modules = re.split(r"^(?=module )", text, flags=re.MULTILINE)
    for mod in modules:
        if "always @*" in mod and len(_TIME0_TRIGGER.findall(mod)) != 1:
            name = mod.split("(", 1)[0].removeprefix("module ").strip()
            raise RuntimeError(f"Yosys output changed: module {name} has `always @*` blocks "
                               "but not the one time-0 trigger register evaluate_comb_at_"
                               "time_zero rewrites")
    return _TIME0_TRIGGER.sub(
        lambda mt: f"{mt['indent']}reg {mt['name']} ;\n"
                   f"{mt['indent']}initial {mt['name']} = 1'h0;", text)


def to_verilog(component, name: str, *, platform=None) -> str:
    """Verilog of ``component`` as module ``name``; ``platform`` is passed to every
    ``elaborate`` (``None``: generic logic; an object with ``family = "ecp5"``: blocks that
    know ECP5 instantiate its primitives, see :class:`rpu.rtl.arith.Multiplier`)."""
    return evaluate_comb_at_time_zero(verilog.convert(component, name=name, emit_src=False,
                                                      platform=platform))


def write_verilog(component, name: str, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.v"
    text = to_verilog(component, name)
    if not path.exists() or path.read_text() != text:   # keep mtime for unchanged designs
        path.write_text(text)
    return path
