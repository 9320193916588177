"""Register map of the tile: ONE description drives the RTL decoder
(:class:`rpu.rtl.axi.AXILiteRegisters`), the tile's wiring, the host drivers and the JSON /
Markdown / C-header files ``rpu generate`` writes.

Registers are 32 bits wide at byte offsets that are multiples of 4.  Access kinds:

* ``rw``   read/write configuration; a write whose field value is outside the field's
  legal range ``[lo, hi]`` is refused (register unchanged, ``SLVERR``, ``illegal`` error
  flag set and counted);
* ``ro``   read-only status / counter (arrays: ``count`` consecutive words);
* ``wo``   write-only command: the written word is presented for one cycle with a strobe;
* ``rw1c`` read-only flags, writing 1 to a bit clears it.

Bus rules (:data:`BUS_RULES`, also written into the Markdown and the C header): byte
strobes, unmapped and wrong-direction accesses, reset values, latency.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from rpu.config import (MAX_LINES, ConverterConfig, HostConfig, MultiConductanceConfig,
                        TileConfig, UpdateConfig, check_instance)

from .encodings import (ID_MAGIC, NM_BITS, OP_BITS, ErrorFlag, NmCode, RunState,
                        TransferState, tile_ops)
from .formats import (BL_LIMIT, BM_CAP_MAX, REG_BITS, bit_width, registers_from_config,
                      transfer_registers)

__all__ = ["Field", "Register", "RegisterMap", "register_map", "write_register_map",
           "ACCESS", "COUNT_BITS", "PULSES_BASE", "BUS_RULES"]

ACCESS = ("rw", "ro", "wo", "rw1c")
COUNT_BITS = 16          # CTRL.count: operations per command
PULSES_BASE = 0x1000     # first per-line pulse counter


def _width(group, name: str) -> int:
    """Bits of a register field holding every legal value of config field ``name``."""
    return bit_width(group.field_rules()[name][0].hi)

#: how the slave (rpu.rtl.axi.AXILiteRegisters) answers, as the documents state it
BUS_RULES = (
    "Reset: every register reads its `reset` value after reset (ro status and counters "
    "included: the value the hardware reports then).",
    "Byte strobes (`wstrb`): a rw write changes only the enabled bytes; the legal ranges "
    "are checked on the merged word (an illegal merged word is refused whole). A wo "
    "command word and a rw1c clear mask are 0 in the bytes not enabled, so a write with "
    "`wstrb` 0 changes nothing.",
    "Refused writes answer SLVERR (`bresp` 2), change nothing, set ERROR.illegal_value and "
    "count in ERR_COUNT: an illegal field value, an unmapped address, a ro register.",
    "Reads of an unmapped address or of a wo register answer SLVERR (`rresp` 2) with data "
    "0; reads never change state and flag nothing.",
    "One read and one write in flight: a write's address and data taken together, a read "
    "taken in the second cycle it is offered; the response registered in the next cycle "
    "and held until accepted.",
)


@dataclass(frozen=True)
class Field:
    name: str
    lsb: int
    width: int
    doc: str
    reset: int = 0
    lo: int | None = None          # legal range of a rw field (None: any value fits)
    hi: int | None = None

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def to_dict(self) -> dict:
        d = {"name": self.name, "lsb": self.lsb, "width": self.width, "reset": self.reset,
             "doc": self.doc}
        if self.lo is not None:
            d["legal"] = [self.lo, self.hi]
        return d


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    access: str
    doc: str
    fields: tuple[Field, ...] = ()
    count: int | None = None       # an array of `count` consecutive words (ro only), even of 1

    def __post_init__(self):
        if self.access not in ACCESS:
            raise ValueError(f"register {self.name}: access must be one of {ACCESS}, not {self.access!r}")
        if self.offset % 4:
            raise ValueError(f"register {self.name}: offset must be a multiple of 4, not {self.offset:#x}")
        if self.count is not None:
            if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
                raise ValueError(f"register {self.name}: count must be a positive integer, "
                                 f"not {self.count!r}")
            if self.access != "ro":
                raise ValueError(f"register {self.name}: only ro registers may be arrays")
        if not self.fields:
            object.__setattr__(self, "fields", (Field("value", 0, 32, self.doc),))
        used = 0
        for f in self.fields:
            if f.lsb < 0 or f.width < 1 or f.lsb + f.width > 32 or used & f.mask:
                raise ValueError(f"register {self.name}: field {f.name} overlaps or exceeds 32 bits")
            used |= f.mask

    @property
    def reset(self) -> int:
        return sum(f.reset << f.lsb for f in self.fields)

    @property
    def is_array(self) -> bool:
        return self.count is not None

    @property
    def words(self) -> int:
        return 1 if self.count is None else self.count

    @property
    def size(self) -> int:
        return 4 * self.words

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"register {self.name} has no field {name!r}")

    def to_dict(self) -> dict:
        return {"name": self.name, "offset": self.offset, "access": self.access,
                "count": self.words, "reset": self.reset, "doc": self.doc,
                "fields": [f.to_dict() for f in self.fields]}


@dataclass
class RegisterMap:
    registers: list[Register]
    addr_width: int
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        spans = sorted((r.offset, r.offset + r.size, r.name) for r in self.registers)
        for (a0, a1, n0), (b0, _b1, n1) in zip(spans, spans[1:]):
            if b0 < a1:
                raise ValueError(f"registers {n0} and {n1} overlap")
        if spans and spans[-1][1] > (1 << self.addr_width):
            raise ValueError("register map exceeds the address space")
        self._by_name = {r.name: r for r in self.registers}

    def __getitem__(self, name: str) -> Register:
        return self._by_name[name]

    def __iter__(self):
        return iter(self.registers)

    def addr(self, name: str, index: int = 0) -> int:
        r = self[name]
        if not 0 <= index < r.words:
            raise IndexError(f"{name}[{index}] out of range (count {r.words})")
        return r.offset + 4 * index

    def encode(self, name: str, **values) -> int:
        """Pack field values of register ``name`` into a word (unnamed fields: reset)."""
        r = self[name]
        word = r.reset
        for k, v in values.items():
            f = r.field(k)
            word = (word & ~f.mask) | ((int(v) << f.lsb) & f.mask)
        return word

    def decode(self, name: str, word: int) -> dict[str, int]:
        return {f.name: (word >> f.lsb) & ((1 << f.width) - 1) for f in self[name].fields}

    # -- documents --
    def to_json(self) -> str:
        return json.dumps({"addr_width": self.addr_width, "data_width": 32, "info": self.info,
                           "registers": [r.to_dict() for r in self.registers]}, indent=2) + "\n"

    def to_markdown(self) -> str:
        out = ["# RPU tile register map", "",
               "Generated by `rpu generate` from `rpu/spec/registers.py` (the same description "
               "the RTL decoder is built from). AXI4-Lite, 32-bit data, "
               f"{self.addr_width}-bit byte addresses.", ""]
        out += [f"- {k}: {v}" for k, v in self.info.items()] + [""]
        out += ["## Bus rules", ""] + [f"- {rule}" for rule in BUS_RULES] + [""]
        out += ["| offset | name | access | count | reset | description |",
                "|---|---|---|---|---|---|"]
        for r in self.registers:
            out.append(f"| `{r.offset:#06x}` | {r.name} | {r.access} | {r.words} | "
                       f"`{r.reset:#x}` | {r.doc} |")
        out.append("")
        for r in self.registers:
            if len(r.fields) == 1 and r.fields[0].name == "value":
                continue
            out += [f"## {r.name}", "", "| bits | field | reset | legal | description |",
                    "|---|---|---|---|---|"]
            for f in r.fields:
                bits = f"{f.lsb + f.width - 1}:{f.lsb}" if f.width > 1 else f"{f.lsb}"
                legal = f"{f.lo}..{f.hi}" if f.lo is not None else "any"
                out.append(f"| {bits} | {f.name} | {f.reset} | {legal} | {f.doc} |")
            out.append("")
        return "\n".join(out)

    def to_c_header(self) -> str:
        g = "RPU_TILE_REGS_H"
        out = ["/* RPU tile register map: generated by `rpu generate` from rpu/spec/registers.py. */",
               "/* Bus rules:", *(f" * - {rule}" for rule in BUS_RULES), " */",
               f"#ifndef {g}", f"#define {g}", "", "#include <stdint.h>", ""]
        for k, v in self.info.items():
            if isinstance(v, int):
                out.append(f"#define RPU_{k.upper()} {v}u")
        out.append("")
        for r in self.registers:
            p = f"RPU_{r.name}"
            out.append(f"/* {r.doc} ({r.access}) */")
            out.append(f"#define {p}_OFFSET 0x{r.offset:04X}u")
            if r.is_array:
                out.append(f"#define {p}_COUNT {r.count}u")
                out.append(f"#define {p}_ADDR(i) ({p}_OFFSET + 4u * (uint32_t)(i))")
            out.append(f"#define {p}_RESET 0x{r.reset:08X}u")
            if not (len(r.fields) == 1 and r.fields[0].name == "value"):
                for f in r.fields:
                    q = f"{p}_{f.name.upper()}"
                    out.append(f"#define {q}_SHIFT {f.lsb}u")
                    out.append(f"#define {q}_MASK 0x{f.mask:08X}u")
            out.append("")
        out += [f"#endif /* {g} */", ""]
        return "\n".join(out)


def register_map(cfg: TileConfig) -> RegisterMap:
    """The tile's register map for ``cfg`` (array sizes and legal ranges follow it)."""
    check_instance("cfg", cfg, TileConfig)
    values = registers_from_config(cfg)
    conv, host, upd = cfg.converters, cfg.host, cfg.update
    R, F = Register, Field
    w_bl = bit_width(BL_LIMIT)
    w_passes = bit_width(BM_CAP_MAX)
    regs = [
        # constant registers: their "reset" is the value they always read
        R("ID", 0x000, "ro", f"magic {ID_MAGIC:#010x} ('RPU1')",
          (F("value", 0, 32, "magic", ID_MAGIC),)),
        R("SHAPE", 0x004, "ro", "tile shape", (
            F("in_size", 0, 16, "N, x-lines", cfg.in_size),
            F("out_size", 16, 16, "M, d-lines", cfg.out_size))),
        R("FORMAT", 0x008, "ro", "converter and stream formats", _packed((
            ("dac_bits", ConverterConfig, "DAC code width", conv.dac_bits),
            ("adc_bits", ConverterConfig, "ADC code width", conv.adc_bits),
            ("prob_bits", UpdateConfig, "probability resolution", upd.prob_bits),
            ("value_bits", HostConfig, "host value width", host.value_bits),
            ("value_frac_bits", HostConfig, "host value fraction bits", host.value_frac_bits),
            ("stream_width", HostConfig, "values per stream beat", host.stream_width)))),
        R("TIMING", 0x00C, "ro", "timing parameters", _packed((
            ("slot_cycles", ConverterConfig, "clock cycles per slot", conv.slot_cycles),
            ("adc_latency", ConverterConfig, "ADC conversion latency", conv.adc_latency),
            ("lines_per_adc", ConverterConfig, "lines per ADC", conv.lines_per_adc)))),
        R("CTRL", 0x010, "wo", "command: start an operation (its vector then streams in)", (
            F("start", 0, 1, "start the operation `op`"),
            F("op", 1, OP_BITS, ", ".join(f"{op.value} {op.name.lower()}" for op in tile_ops(cfg.mc.enabled))
              + "; other codes are refused (ERROR.bad_op)"),
            F("load_seeds", 4, 1, "load SEED_X / SEED_D into the random generators"),
            F("clear_counters", 5, 1, "zero all counters"),
            F("count", 8, COUNT_BITS, "operations to run (0 or 1: one); the command stays queued "
              "until all have taken their vectors, so their frames stream back to back"))),
        R("STATUS", 0x014, "ro", "controller status", (
            F("busy", 0, 1, "an operation is running (pulses, ADC passes, result stream)"),
            F("loading", 1, 1, "a command is queued, or an operation's vectors are being "
              "received, prepared or wait to run"),
            F("cmd_ready", 2, 1, "a new CTRL.start is accepted (the command queue is empty)", 1),
            F("error", 3, 1, "some ERROR flag is set (read ERROR, write 1s to clear)"),
            F("state", 4, 4, "run sequencer state: " + ", ".join(
                f"{s.value} {s.name.lower()}" for s in RunState
                if cfg.mc.enabled or s != RunState.TRANSFER)),
            F("last_bm_passes", 8, w_passes, "analog passes of the last read (> 1: bound "
              "management retried with the input halved)"))),
        R("ERROR", 0x018, "rw1c", "error flags (write 1 to clear)", tuple(
            F(flag.key, flag.value, 1, flag.doc) for flag in ErrorFlag)),
        R("ERR_COUNT", 0x01C, "ro", "errors flagged since the counters were cleared"),
        R("CONFIG", 0x020, "rw", "operation configuration", (
            F("bl", 0, w_bl, "update pulse-train length BL", upd.bl, 1, upd.bl_max),
            F("nm_mode", 8, NM_BITS, "noise management: " + ", ".join(
                f"{c.value} {c.name.lower()}" for c in NmCode), values["nm_mode"], 0, max(NmCode)),
            F("bm_enable", 10, 1, "bound management", values["bm_enable"], 0, 1),
            F("um_enable", 11, 1, "update management", values["um_enable"], 0, 1),
            F("dynamic_bl", 12, 1, "dynamic BL", values["dyn_bl"], 0, 1),
            F("bm_max_passes", 16, w_passes, "cap of bound-management passes",
              values["bm_max_passes"], 1, BM_CAP_MAX),
            F("bl_max", 24, w_bl, "cap of BL under dynamic BL", upd.bl_max, 1, upd.bl_max))),
        R("SEED_X", 0x024, "rw", "x-side generator seed (non-zero)",
          (F("value", 0, 32, "seed", upd.x_seed, 1, (1 << 32) - 1),)),
        R("SEED_D", 0x028, "rw", "d-side generator seed (non-zero)",
          (F("value", 0, 32, "seed", upd.d_seed, 1, (1 << 32) - 1),)),
        R("OUT_SCALE", 0x02C, "rw", "ADC code -> result scale (docs/numerics.md)",
          (F("value", 0, REG_BITS, "out_scale", values["out_scale"]),)),
        R("UM_C", 0x030, "rw", "update C, UQ12.20 (docs/numerics.md)",
          (F("value", 0, REG_BITS, "um_c", values["um_c"]),)),
        R("UM_C1", 0x034, "rw", "sqrt(lr/dw_min), UQ12.20 (dynamic BL)",
          (F("value", 0, REG_BITS, "um_c1", values["um_c1"]),)),
        R("UM_LR_DW", 0x038, "rw", "lr/dw_min, UQ20.12 (dynamic BL)",
          (F("value", 0, REG_BITS, "um_lr_dw", values["um_lr_dw"]),)),
        R("CYC_FORWARD", 0x040, "ro", "cycles of the last forward (commit to last result, inclusive)"),
        R("CYC_BACKWARD", 0x044, "ro", "cycles of the last backward"),
        R("CYC_UPDATE", 0x048, "ro", "cycles of the last update (commit to done, inclusive)"),
        R("OPS_FORWARD", 0x04C, "ro", "forwards completed"),
        R("OPS_BACKWARD", 0x050, "ro", "backwards completed"),
        R("OPS_UPDATE", 0x054, "ro", "updates completed"),
        R("SATURATIONS", 0x058, "ro", "saturated ADC conversions"),
        R("BM_PASSES", 0x05C, "ro", "analog read passes of all reads (bound-management retries included)"),
        R("BM_GIVEUPS", 0x060, "ro", "forwards that still saturated at the pass cap"),
        R("PULSES_X", PULSES_BASE, "ro", "update slots each x-line was driven (endurance)",
          count=cfg.in_size),
        R("PULSES_D", PULSES_BASE + 4 * cfg.in_size, "ro", "update slots each d-line was driven",
          count=cfg.out_size),
    ]
    end = PULSES_BASE + 4 * (cfg.in_size + cfg.out_size)
    if cfg.mc.enabled:
        regs += _transfer_registers(cfg, end)
        end += 4 * _polarity_words(cfg)
    info = {"in_size": cfg.in_size, "out_size": cfg.out_size, "value_bits": host.value_bits,
            "value_frac_bits": host.value_frac_bits, "stream_width": host.stream_width,
            "stream_tdata_bits": host.stream_width * host.value_bits}
    return RegisterMap(regs, bit_width(end - 1), info)


TRANSFER_BASE = 0x064    # first multi-conductance register (a superset: nothing before moves)


def _polarity_words(cfg: TileConfig) -> int:
    return -(-cfg.in_size // REG_BITS)


def _transfer_registers(cfg: TileConfig, polarity_offset: int) -> list[Register]:
    """The multi-conductance tile's registers (docs/programming.md, "Transfer"); formats:
    :func:`rpu.spec.formats.transfer_registers`."""
    R, F = Register, Field
    v = transfer_registers(cfg)
    rules = MultiConductanceConfig.field_rules()
    w_cols = bit_width(MAX_LINES)
    names = [
        R("CYC_TRANSFER", 0, "ro", "cycles of the last transfer event (commit to done, inclusive)"),
        R("OPS_TRANSFER", 0, "ro", "transfer events completed (commanded and automatic)"),
        R("TRANSFER_CFG", 0, "rw", "transfer configuration", (
            F("auto", 0, 1, "run a transfer event every TRANSFER_EVERY updates", v["auto"], 0, 1),
            F("max_iterations", 8, 8, "closed-loop iterations per column", v["max_iterations"],
              1, rules["max_iterations"][0].hi),
            F("max_pulses", 16, 8, "programming pulses per device and iteration at most",
              v["max_pulses"], 1, rules["max_pulses"][0].hi))),
        R("TRANSFER_COLS", 0, "rw", "columns per transfer event",
          (F("value", 0, w_cols, "columns", v["columns"], 1, cfg.in_size),)),
        R("TRANSFER_EVERY", 0, "rw", "updates between automatic transfer events",
          (F("value", 0, 20, "updates", v["transfer_every"], 1, rules["transfer_every"][0].hi),)),
        R("CLT_TOL", 0, "rw", "closed-loop tolerance, MSP result LSBs (docs/numerics.md)",
          (F("value", 0, REG_BITS, "tolerance", v["tolerance"]),)),
        R("CLT_INV_F", 0, "rw", "round(2^16 / F): carry = y / F (docs/numerics.md)",
          (F("value", 0, REG_BITS, "inv_f", v["inv_f"]),)),
        R("CLT_INV_STEP", 0, "rw", "round(2^16 / step): pulses = ceil(|e| / step)",
          (F("value", 0, REG_BITS, "inv_step", v["inv_step"]),)),
        R("REFRESH_THR", 0, "rw", "refresh when both MSP devices read above this (result LSBs)",
          (F("value", 0, REG_BITS, "threshold", v["refresh_thr"]),)),
        R("TRANSFER_STATUS", 0, "ro", "transfer sequencer status", (
            F("state", 0, 4, "state: " + ", ".join(f"{s.value} {s.name.lower()}" for s in TransferState)),
            F("pending", 4, 1, "an automatic transfer event is due"),
            F("column", 16, w_cols, "next column to transfer"))),
        R("TRANSFER_COLUMNS", 0, "ro", "columns transferred"),
        R("TRANSFER_SWEEPS", 0, "ro", "full sweeps over all columns"),
        R("CLT_ROUNDS", 0, "ro", "closed-loop programming iterations, all columns"),
        R("CLT_ROUNDS_MAX", 0, "ro", "most iterations one column took"),
        R("CLT_NONCONVERGED", 0, "ro", "cells still outside the tolerance after max_iterations"),
        R("REFRESHES", 0, "ro", "MSP pairs refreshed (both devices above REFRESH_THR)"),
    ]
    out = [dataclasses.replace(r, offset=TRANSFER_BASE + 4 * i) for i, r in enumerate(names)]
    word0 = v["polarity"] & ((1 << REG_BITS) - 1)       # all words alike but a short last one
    out.append(R("POLARITY", polarity_offset, "ro", "LSP polarity per column (1: p = -1)",
                 (F("value", 0, REG_BITS, "bit j % 32 of word j / 32: column j", word0),),
                 count=_polarity_words(cfg)))
    return out


def _packed(fields) -> tuple[Field, ...]:
    """Consecutive fields, each as wide as its config field's largest legal value needs."""
    out, lsb = [], 0
    for name, group, doc, value in fields:
        width = _width(group, name)
        out.append(Field(name, lsb, width, doc, value))
        lsb += width
    return tuple(out)


def write_register_map(cfg: TileConfig, out_dir) -> dict[str, Path]:
    """Write ``regmap.json``, ``regmap.md`` and ``rpu_regs.h`` into ``out_dir``."""
    rm = register_map(cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"regmap_json": out_dir / "regmap.json", "regmap_md": out_dir / "regmap.md",
             "regmap_h": out_dir / "rpu_regs.h"}
    paths["regmap_json"].write_text(rm.to_json())
    paths["regmap_md"].write_text(rm.to_markdown())
    paths["regmap_h"].write_text(rm.to_c_header())
    return paths
