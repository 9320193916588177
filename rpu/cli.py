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
import subprocess
import sys
from pathlib import Path

from .config import FLAT_GROUPS, ConfigError, TileConfig

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
        print("rpu sim: the regression needs a source checkout (tests/ beside rpu/); "
              "clone the repository and install it with `pip install -e .[test]`", file=sys.stderr)
        return 2
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


def _cmd_config(args) -> int:
    print(config_from_args(args).to_json())
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rpu", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write the tile's Verilog, params.json and register map")
    _add_config_options(g)
    g.add_argument("-o", "--output", required=True, metavar="DIR")
    g.add_argument("--no-lint", action="store_true", help="skip the verilator --lint-only check")
    g.set_defaults(func=_cmd_generate)

    s = sub.add_parser("sim", help="run the cocotb regression (pytest, marker cosim)")
    s.add_argument("--simulator", choices=("icarus", "verilator", "both"), default="both")
    s.add_argument("-k", metavar="EXPR", help="pytest -k expression")
    s.add_argument("-j", "--jobs", type=_int_in(0, 64), default=2, help="pytest-xdist workers (default 2)")
    s.add_argument("--waves", action="store_true", help="dump waveforms (build folders)")
    s.set_defaults(func=_cmd_sim)

    d = sub.add_parser("demo", help="generate the default tile and co-simulate it against the model")
    _add_config_options(d)
    d.add_argument("-o", "--output", default="build/demo", metavar="DIR")
    d.add_argument("--simulator", choices=("icarus", "verilator"), default="verilator")
    d.add_argument("--updates", type=_int_in(1, 100000), default=100,
                   help="updates to co-simulate (default 100)")
    d.add_argument("--waves", action="store_true")
    d.set_defaults(func=_cmd_demo)

    c = sub.add_parser("config", help="print the resolved configuration as JSON")
    _add_config_options(c)
    c.set_defaults(func=_cmd_config)
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"rpu {args.command}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a clean line for known user-facing failures
        from rpu.testbench.simulators import SimulatorError
        if isinstance(e, SimulatorError):
            print(f"rpu {args.command}: error: {e}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
