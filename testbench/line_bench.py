"""The bench shared by the two line-driver banks (``tb_pulse_width``, ``tb_stochastic``):
bit-exact against the references, slot by slot.

``RPU_PARAMS``: ``kind`` ("update" or "pulse_width"), the bank parameters, and ``updates``:
a list of ``{"x": codes, "d": codes, "bl": int}`` (update) or ``{"codes": codes}``
(pulse width), each optionally with ``"repeat": k`` (run it k times in a row).  Vectors are loaded while the previous one pulses (double buffering) and each
one is committed and started in the first idle cycle.  Every slot's drives are read once as
integers and unpacked with numpy; all slots go to ``drives.npz`` in the test folder for the
statistics tests, and per-operation cycle counts to the results.
"""

from pathlib import Path

import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from rpu.models.ref_pulse_width import pulse_width_drives
from rpu.models.ref_stochastic import UpdateStreamsModel, active_phases
from rpu.spec.timing import pulser_cycles, window_cycles
from rpu.testbench.lanes import unpack_bits
from rpu.testbench.layouts import CLOCK_NS
from rpu.testbench.report import bench_params, write_results

__all__ = ["run_bench"]


def beats(codes, lanes: int, cw: int) -> list[int]:
    mask, words = (1 << cw) - 1, []
    for k in range(-(-len(codes) // lanes)):
        word = 0
        for l, c in enumerate(codes[k * lanes:(k + 1) * lanes]):
            word |= (int(c) & mask) << (l * cw)
        words.append(word)
    return words


class Bench:
    def __init__(self, dut, p):
        p = dict(p, updates=[u for u in p["updates"] for _ in range(u.get("repeat", 1))])
        self.dut, self.p = dut, p
        self.update = p["kind"] == "update"
        lanes, sc = p["lanes"], p["slot_cycles"]
        self.sc = sc
        if self.update:
            cw = p["prob_bits"] + 2
            self.sides = ("x", "d")
            self.lines = {"x": p["x_lines"], "d": p["d_lines"]}
            self.words = [{"x": beats(u["x"], lanes, cw), "d": beats(u["d"], lanes, cw)}
                          for u in p["updates"]]
            self.outs = ("x_pos", "x_neg", "d_pos", "d_neg")
            self.widths = (p["x_lines"], p["x_lines"], p["d_lines"], p["d_lines"])
        else:
            self.sides = ("",)
            self.lines = {"": p["lines"]}
            self.words = [{"": beats(u["codes"], lanes, p["dac_bits"])} for u in p["updates"]]
            self.outs = ("pos", "neg")
            self.widths = (p["lines"], p["lines"])

    def port(self, side, name):
        return getattr(self.dut, f"{side}_{name}" if side else name)

    async def run(self):
        dut, p = self.dut, self.p
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        dut.rst.value = 1
        dut.start.value = 0
        dut.commit.value = 0
        for s in self.sides:
            self.port(s, "load_valid").value = 0
        if self.update:
            dut.seed_load.value = 0
            dut.bl.value = 0
        await RisingEdge(dut.clk)
        dut.rst.value = 0
        if self.update:
            dut.x_seed.value, dut.d_seed.value = p["seeds"]
            dut.seed_load.value = 1
            await RisingEdge(dut.clk)
            dut.seed_load.value = 0
        n_ops = len(self.words)
        ld, pos = 0, {s: 0 for s in self.sides}      # vector in the shadow, beats sent per side
        started = finished = 0
        slots, op_cycles, starts = [], [], []
        cycle = start_cycle = in_slot = 0
        while finished < n_ops:
            await RisingEdge(dut.clk)
            await ReadOnly()
            cycle += 1
            busy, done = int(dut.busy.value), int(dut.done.value)
            if busy:
                if in_slot == 0:
                    vals = [int(getattr(dut, o).value) for o in self.outs]
                    vals += [int(dut.phase.value) if self.update else 0, int(dut.slot.value)]
                    slots.append(vals)
                in_slot = (in_slot + 1) % self.sc
            if done:
                finished += 1
                op_cycles.append(cycle - start_cycle)
            assert cycle < 5_000_000, "bench runaway"
            await Timer(1, unit="ns")
            # inputs for this cycle, sampled at the next edge
            full = ld < n_ops and all(pos[s] == len(self.words[ld][s]) for s in self.sides)
            go = not busy and full and finished == started
            dut.commit.value = dut.start.value = int(go)
            if go:
                if self.update:
                    dut.bl.value = p["updates"][ld]["bl"]
                starts.append(cycle)
                start_cycle, in_slot = cycle, 0
                started, ld, pos = started + 1, ld + 1, {s: 0 for s in self.sides}
            for s in self.sides:      # the next vector shifts in while this one pulses
                words = self.words[ld][s] if ld < n_ops else []
                valid = pos[s] < len(words)
                self.port(s, "load_valid").value = int(valid)
                if valid:
                    self.port(s, "load_data").value = words[pos[s]]
                    pos[s] += 1
        return slots, op_cycles, starts

    def reference(self):
        """Expected per-slot drives and cycles of every operation, from the references."""
        p = self.p
        want, cycles = [], []
        if self.update:
            model = UpdateStreamsModel(x_lines=p["x_lines"], d_lines=p["d_lines"],
                                       prob_bits=p["prob_bits"], bl_max=p["bl_max"])
            model.load_seeds(*p["seeds"])
            for u in p["updates"]:
                r = model.drives(np.array(u["x"]), np.array(u["d"]), u["bl"])
                want.append((r.x_pos, r.x_neg, r.d_pos, r.d_neg, r.phase, r.slot))
                phases = len(active_phases(u["x"], u["d"])) if u["bl"] else 0
                cycles.append(pulser_cycles(phases, u["bl"], p["slot_cycles"]))
        else:
            for u in p["updates"]:
                pos_, neg_ = pulse_width_drives(np.array(u["codes"]), p["dac_bits"])
                t = len(pos_)
                want.append((pos_, neg_, np.zeros(t, int), np.arange(t)))
                cycles.append(window_cycles(p["dac_bits"], p["slot_cycles"]))
        cat = [np.concatenate(parts) for parts in zip(*want)]
        return cat, cycles


async def run_bench(dut, kind: str) -> None:
    """Run the bench of ``kind`` ("update" or "pulse_width") with ``RPU_PARAMS``."""
    p = bench_params()
    assert p["kind"] == kind, f"this bench runs {kind} banks, the parameters are for {p['kind']}"
    bench = Bench(dut, p)
    slots, op_cycles, starts = await bench.run()
    (want, want_cycles) = bench.reference()
    nb = len(bench.outs)
    got = [np.array([unpack_bits(v[k], w) for v in slots]).reshape(len(slots), w)
           for k, w in enumerate(bench.widths)]
    got += [np.array([v[nb] for v in slots], int), np.array([v[nb + 1] for v in slots], int)]
    assert len(slots) == len(want[0]), f"{len(slots)} slots driven, reference {len(want[0])}"
    names = bench.outs + ("phase", "slot")
    for name, g, w in zip(names, got, want):
        bad = np.argwhere(np.asarray(g) != np.asarray(w))
        assert bad.size == 0, f"{name}: first mismatch at slot {bad[0][0]}"
    assert op_cycles == want_cycles, f"cycles {op_cycles[:8]} != reference {want_cycles[:8]}"
    out = Path("drives.npz").resolve()
    np.savez_compressed(out, **{n: g for n, g in zip(names, got)})
    write_results(slots=len(slots), ops=len(op_cycles), op_cycles=op_cycles,
                  periods=np.diff(starts).tolist(), drives_file=str(out))
