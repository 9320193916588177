"""A GTKWave save file for a co-simulation's waveform: the host bus, the controller's
sequencer states, the line drives and the ADC handshakes, each in its own group."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_save_file"]

_AXIL = ("awvalid", "awready", "awaddr", "wvalid", "wready", "wdata", "wstrb", "bvalid",
         "bready", "bresp", "arvalid", "arready", "araddr", "rvalid", "rready", "rdata", "rresp")
_AXIS = ("tvalid", "tready", "tlast", "tdata")
_ADC = ("integ_reset", "integ_en", "start", "sel", "done", "codes")


def _groups(cfg) -> dict[str, list[str]]:
    """Signals (harness-level paths) per group."""
    return {
        "host bus (AXI4-Lite)": [f"s_axil__{n}" for n in _AXIL],
        "vectors in (AXI4-Stream)": [f"tile_axis__{n}" for n in _AXIS],
        "results out (AXI4-Stream)": [f"m_axis__{n}" for n in _AXIS],
        "controller": ["tile.ctrl.load_state", "tile.ctrl.convert_state", "tile.ctrl.run_state",
                       "upd_slot"],
        "line drives": ["x_pos", "x_neg", "d_pos", "d_neg"],
        "ADC, forward (d-lines)": [f"adc_d__{n}" for n in _ADC],
        "ADC, backward (x-lines)": [f"adc_x__{n}" for n in _ADC],
    }


def write_save_file(path, wave_file, cfg, *, top: str, simulator: str) -> Path:
    """Write ``path`` (``.gtkw``) opening ``wave_file`` with the signals of a harness whose
    top module is ``top`` (Verilator nests it under ``TOP``)."""
    scope = f"TOP.{top}" if simulator == "verilator" else top
    out = [f'[dumpfile] "{Path(wave_file).resolve()}"', f'[savefile] "{Path(path).resolve()}"',
           "[timestart] 0"]
    for title, signals in _groups(cfg).items():
        out += ["@800200", f"-{title}", "@28"]
        out += [f"{scope}.{s}" for s in signals]
        out += ["@1000200", f"-{title}"]
    Path(path).write_text("\n".join(out) + "\n")
    return Path(path)
