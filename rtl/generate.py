"""Write Verilog for Amaranth components (one module file per top)."""

from __future__ import annotations

from pathlib import Path

from amaranth.back import verilog

__all__ = ["write_verilog", "to_verilog"]


def to_verilog(component, name: str) -> str:
    return verilog.convert(component, name=name, emit_src=False)


def write_verilog(component, name: str, out_dir) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.v"
    text = to_verilog(component, name)
    if not path.exists() or path.read_text() != text:   # keep mtime for unchanged designs
        path.write_text(text)
    return path
