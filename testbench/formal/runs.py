"""One call per formal check: build the wrapper (optionally around a mutant), run sby,
return the verdict with the wrapper's property names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rpu.config import TileConfig
from rpu.spec.registers import register_map

from .axi import AxiLiteFormal
from .mutants import Mutant, mutant
from .sby import SbyResult, run_sby
from .tile import CHECKS, FORMAL_TILE, TileFormal, bmc_depth

__all__ = ["AXI_DEPTH", "CheckRun", "run_check", "ALL_CHECKS"]

#: k-induction depth of the register slave's proof (its state: one write and one read in
#: flight; a stalled response held for any number of cycles is covered by the induction)
AXI_DEPTH = 8
#: every check: the register slave's proof and covers, then the tile's groups
ALL_CHECKS = ("axi", "axi-cover") + CHECKS


@dataclass
class CheckRun:
    check: str
    depth: int
    mode: str
    result: SbyResult
    names: dict[str, str]          # property slug → name
    kinds: dict[str, str]          # property slug → assert / assume / cover

    @property
    def failed_names(self) -> list[str]:
        return [self.names.get(s, s) for s in self.result.failed]

    @property
    def asserted(self) -> set[str]:
        return {self.names[s] for s, k in self.kinds.items() if k == "assert"}

    @property
    def covers(self) -> set[str]:
        return {self.names[s] for s, k in self.kinds.items() if k == "cover"}


def run_check(check: str, workdir, *, cfg: TileConfig = FORMAL_TILE, depth: int | None = None,
              mut: Mutant | None = None, timeout: int | None = None) -> CheckRun:
    """Run check ``check`` (one of :data:`ALL_CHECKS`) in ``workdir``; with ``mut``, on that
    deliberately broken design (its ``check`` must be this one)."""
    if check not in ALL_CHECKS:
        raise ValueError(f"check must be one of {', '.join(ALL_CHECKS)}, not {check!r}")
    if mut is not None and mut.check != check.removesuffix("-cover"):
        raise ValueError(f"mutant {mut.name} breaks a {mut.check} property, not {check}")
    workdir = Path(workdir)
    if check.startswith("axi"):
        mode = "cover" if check == "axi-cover" else ("bmc" if mut else "prove")
        depth = depth or (6 if mut or mode == "cover" else AXI_DEPTH)
    else:
        mode = "cover" if check == "cover" else "bmc"
        depth = depth or bmc_depth(cfg, check)

    def build(cls=None):
        if check.startswith("axi"):
            rm = register_map(cfg)
            return AxiLiteFormal(rm, slave=None if cls is None else cls(rm))
        tile = cls(cfg) if cls is not None and mut.where.endswith(":Tile") else None
        return TileFormal(cfg, check, tile=tile)

    if mut is None:
        design = build()
        result = run_sby(design, workdir, mode=mode, depth=depth, timeout=timeout)
    else:
        with mutant(mut) as cls:
            top = mut.where.endswith((":Tile", ":AXILiteRegisters"))
            design = build(cls if top else None)
            result = run_sby(design, workdir, mode=mode, depth=depth, timeout=timeout)
    props = design.props
    return CheckRun(check, depth, mode, result, props.names, props.kinds)
