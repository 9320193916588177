"""Co-simulated slice of a training run: one tile's logged operations
(:class:`rpu.models.tile_log.TileLog`) replayed through its generated Verilog.

The bench starts the tile and the analog front-end from the log's configuration, model seed
and initial weights, then plays every operation in order, one vector at a time: forwards and
backwards (results, per-pass DAC codes and ADC codes), updates (the learning-rate registers
written whenever the host's lr changed, then every slot's line drives, and the weights after
each logged batch).  Each is compared bit for bit with :class:`rpu.models.TileReference`
replaying the same vectors *and* with what the training run logged.  The first mismatch
stops the replay; the figures (and the mismatch, if any) go to the results file.
"""

from __future__ import annotations

import numpy as np

import cocotb

from rpu.models import Crossbar, TileReference
from rpu.models.tile_log import TileLog
from rpu.testbench.report import bench_config, bench_params, write_results
from rpu.testbench.tb_tile import TIMEOUT, bringup, slots_of

#: the registers an lr change rewrites, and their registers_from_config names
LR_REGISTERS = (("UM_C", "um_c"), ("UM_C1", "um_c1"), ("UM_LR_DW", "um_lr_dw"))


class Mismatch(Exception):
    """The RTL, the reference or the log disagree (message: which op, sample and what)."""


class Replay:
    """The replay of one log on a started tile (``host``, ``afe``) against ``ref``."""

    def __init__(self, cfg, host, afe, ref):
        self.cfg, self.host, self.afe, self.ref = cfg, host, afe, ref
        self.written = {reg: ref.regs[key] for reg, key in LR_REGISTERS}   # reset values
        self.figures = dict(forwards=0, backwards=0, updates=0, passes=0, adc_codes=0, slots=0,
                            lr_writes=0, weight_checks=0)

    async def read(self, op: str, v, logged, where: str):
        host, ref, afe = self.host, self.ref, self.afe
        exp = ref.forward_fixed(v) if op == "forward" else ref.backward_fixed(v)
        got = await (host.forward(v) if op == "forward" else host.backward(v))
        lines = len(exp.y_fixed)
        if np.any(got[lines:]):
            raise Mismatch(f"{where}: non-zero padding lanes {got[lines:]}")
        got = got[:lines]
        passes = afe.reads[-exp.passes:] if exp.passes <= len(afe.reads) else []
        if len(passes) != exp.passes:
            raise Mismatch(f"{where}: {len(passes)} analog passes seen, reference ran {exp.passes}")
        for k, ((dac, adc), seen) in enumerate(zip(exp.history, passes)):
            if not np.array_equal(seen["net"], dac):
                raise Mismatch(f"{where}, pass {k}: integrated pulses {seen['net'][:8]}… != "
                               f"reference DAC codes {dac[:8]}…")
            if not np.array_equal(seen["codes"], adc):
                raise Mismatch(f"{where}, pass {k}: ADC codes {seen['codes'][:8]}… != reference {adc[:8]}…")
            self.figures["adc_codes"] += len(adc)
        if not np.array_equal(got, exp.y_fixed):
            raise Mismatch(f"{where}: RTL results {got[:8]}… != reference {exp.y_fixed[:8]}…")
        if logged is not None and not np.array_equal(exp.y_fixed, logged):
            raise Mismatch(f"{where}: reference results {exp.y_fixed[:8]}… != training log {logged[:8]}…")
        self.figures["forwards" if op == "forward" else "backwards"] += 1
        self.figures["passes"] += exp.passes

    async def set_lr(self, lr: float) -> None:
        """The host's lr for the next updates: the reference's registers follow, the tile's
        are written where they changed."""
        self.ref.lr = lr
        for reg, key in LR_REGISTERS:
            if self.ref.regs[key] != self.written[reg]:
                await self.host.wait_idle()          # registers change between operations
                resp = await self.host.write(reg, self.ref.regs[key])
                if resp != 0:
                    raise Mismatch(f"writing {reg} = {self.ref.regs[key]:#x}: response {resp}")
                self.written[reg] = self.ref.regs[key]
                self.figures["lr_writes"] += 1

    async def update(self, x, d, where: str) -> None:
        host, afe = self.host, self.afe
        before = len(afe.update_slots)
        await host.update(x, d)
        await host.wait_idle()
        afe.flush()
        _codes, drv = self.ref.update_fixed(x, d)
        batches = afe.update_slots[before:]
        width = 2 * (self.cfg.in_size + self.cfg.out_size)
        got = np.concatenate(batches) if batches else np.zeros((0, width), bool)
        want = slots_of(drv)
        if got.shape != want.shape or not np.array_equal(got, want):
            raise Mismatch(f"{where}: line drives of {len(got)} slots != reference's {len(want)} slots")
        self.figures["updates"] += 1
        self.figures["slots"] += len(got)

    def check_weights(self, logged, where: str) -> None:
        w_rtl, w_ref = self.afe.xb.weights, self.ref.weights
        if not np.array_equal(w_rtl, w_ref):
            n = int(np.count_nonzero(w_rtl != w_ref))
            raise Mismatch(f"{where}: {n} weights of the co-simulated crossbar differ from the reference")
        if logged is not None and not np.array_equal(w_ref, logged):
            n = int(np.count_nonzero(w_ref != logged))
            raise Mismatch(f"{where}: {n} reference weights differ from the training log")
        self.figures["weight_checks"] += 1

    async def run(self, log: TileLog) -> None:
        for k, op in enumerate(log.ops):
            kind = op["op"]
            rows = op["d"] if kind == "backward" else op["x"]
            if kind == "update":
                await self.set_lr(op["lr"])
            for b in range(len(rows)):
                where = f"op {k} ({kind}), vector {b}"
                if kind == "update":
                    await self.update(op["x"][b], op["d"][b], where)
                else:
                    logged = op["y"][b] if op["y"] is not None else None
                    await self.read(kind, rows[b], logged, where)
            if kind == "update":
                self.check_weights(op["w"], f"op {k} (update), after the batch")


@cocotb.test(**TIMEOUT)
async def replay(dut):
    """Replay ``params["log"]``; results: ``ok``, the figures, ``mismatch`` (or None)."""
    cfg, p = bench_config(), bench_params()
    log = TileLog.load(p["log"])
    host, afe = await bringup(dut, cfg, seed=cfg.model_seed)
    afe.xb.set_weights(log.init_weights)
    ref = TileReference(cfg, Crossbar(cfg, seed=cfg.model_seed))
    ref.set_weights(log.init_weights)
    rep = Replay(cfg, host, afe, ref)
    mismatch = None
    try:
        rep.check_weights(log.init_weights, "initial weights")
        await rep.run(log)
        await host.wait_idle()
        afe.flush()
        rep.check_weights(None, "end")
        err = await host.read("ERROR")
        if err:
            raise Mismatch(f"the tile flagged errors {err:#x}")
    except Mismatch as e:
        mismatch = str(e)
    write_results(ok=mismatch is None, mismatch=mismatch, ops=len(log.ops), **rep.figures)
