"""Co-simulation of the emulated tile (tile + gateware crossbar, :mod:`rpu.rtl.emulator`):
a harness around module ``rpu_emulated_tile`` and the host's access to the emulator window.

Simulation only.  :class:`EmulatorHarness` instantiates the emulated tile *by module name*
(its Verilog is written by :func:`emulator_sources`) and adds only the vector player of
:mod:`rpu.testbench.harness` on ``s_axis`` (so :class:`~rpu.testbench.host.Host` drives it
as it drives the tile's harness: registers over AXI4-Lite, vectors through the player,
results from ``m_axis``).  There is no front-end: the crossbar is in the gateware, so no
Python runs per cycle or per slot.  :class:`EmuHost` adds the emulator's registers (at
``emulator_window(cfg, ecfg).base``): its status and counters, the states read back row
by row, and pokes.
"""

from __future__ import annotations

from amaranth import ClockSignal, Instance, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from rpu.config import EmulatorConfig, TileConfig, check_instance
from rpu.rtl.axi import AXI4LiteSignature, AXI4StreamSignature
from rpu.rtl.common import counter_range
from rpu.driver.host import EmulatorWindow
from rpu.spec.emulator import emulator_window
from rpu.spec.timing import stream_beats
from rpu.testbench.harness import VectorPlayer

__all__ = ["EmulatorHarness", "EMU_HARNESS_NAME", "emulator_sources", "EmuHost", "run_emulated"]

EMU_HARNESS_NAME = "rpu_emulated_tile_harness"


class EmulatorHarness(wiring.Component):
    """``EmulatorHarness(cfg, ecfg)``: ``rpu_emulated_tile`` with the vector player on its
    vector stream (``vp_*`` ports as :class:`~rpu.testbench.harness.CosimHarness`);
    ``s_axil`` and ``m_axis`` pass through."""

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig, *, play_beats: int | None = None):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.ecfg = check_instance("ecfg", ecfg, EmulatorConfig)
        lanes, h = cfg.host.stream_width, cfg.host
        frames = stream_beats(cfg.in_size, lanes) + stream_beats(cfg.out_size, lanes)
        self.play_beats = frames + 2 if play_beats is None else play_beats
        self.beat_bits = lanes * h.value_bits
        super().__init__({
            "s_axil": In(AXI4LiteSignature(emulator_window(cfg, ecfg).addr_width)),
            "m_axis": Out(AXI4StreamSignature(lanes * h.result_bits)),
            "vp_data": In(self.play_beats * self.beat_bits),
            "vp_count": In(counter_range(self.play_beats + 1)), "vp_last": In(self.play_beats),
            "vp_go": In(1), "vp_busy": Out(1), "vp_sets": Out(8),
        })

    def elaborate(self, platform):
        from rpu.rtl.emulator import EMULATOR_TOP_NAME
        m = Module()
        axis = AXI4StreamSignature(self.beat_bits).flip().create(path=("emu_axis",))
        ports = {"i_clk": ClockSignal(), "i_rst": ResetSignal()}
        for name, bus in (("s_axil", self.s_axil), ("m_axis", self.m_axis), ("s_axis", axis)):
            for path, member in bus.signature.members.flatten():   # (the flows as seen here)
                ports[("i_" if member.flow == In else "o_") + f"{name}__{path[0]}"] = \
                    getattr(bus, path[0])
        m.submodules.emulated = Instance(EMULATOR_TOP_NAME, **ports)
        m.submodules.player = vp = VectorPlayer(self.play_beats, self.beat_bits)
        wiring.connect(m, vp.axis, axis)
        m.d.comb += [vp.data.eq(self.vp_data), vp.count.eq(self.vp_count),
                     vp.last.eq(self.vp_last), vp.go.eq(self.vp_go),
                     self.vp_busy.eq(vp.busy), self.vp_sets.eq(vp.sets)]
        return m


def emulator_sources(cfg: TileConfig, ecfg: EmulatorConfig, out_dir) -> list:
    """Write ``rpu_emulated_tile.v`` and the harness into ``out_dir``; the source list."""
    from rpu.rtl.emulator import EMULATOR_TOP_NAME, EmulatedTile
    from rpu.rtl.generate import write_verilog
    return [write_verilog(EmulatedTile(cfg, ecfg), EMULATOR_TOP_NAME, out_dir),
            write_verilog(EmulatorHarness(cfg, ecfg), EMU_HARNESS_NAME, out_dir)]


def run_emulated(cfg: TileConfig, ecfg: EmulatorConfig, *, sim: str, testcase: str,
                 out_dir=None, quiet: bool = True, **params):
    """Generate the emulated tile (into ``out_dir``, default a folder of the build root
    keyed by the two configurations) and run ``rpu.testbench.tb_emulator.<testcase>``
    under ``sim`` with ``params``; the :class:`~rpu.testbench.simulators.CosimResult`."""
    import hashlib
    import json
    from rpu.testbench.simulators import build_root, run_cocotb
    check_instance("cfg", cfg, TileConfig)
    check_instance("ecfg", ecfg, EmulatorConfig)
    if out_dir is None:
        key = hashlib.sha256((cfg.to_json() + json.dumps(ecfg.to_dict())).encode()).hexdigest()[:10]
        out_dir = build_root() / "emulator" / key
    files = emulator_sources(cfg, ecfg, out_dir)
    return run_cocotb(sim=sim, verilog=files, toplevel=EMU_HARNESS_NAME,
                      test_module="rpu.testbench.tb_emulator", name="emulator",
                      testcase=testcase, quiet=quiet,
                      params=dict(config=cfg.to_dict(), emulator=ecfg.to_dict(), **params))


#: the emulator's register window through a :class:`~rpu.testbench.host.Host` (the same class
#: serves the board's serial host: :class:`rpu.driver.host.EmulatorWindow`)
EmuHost = EmulatorWindow
