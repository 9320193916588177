"""The one validated configuration of a tile: RTL, models, benches and register map read it.

Every field declares its type and allowed range with a *rule*; construction checks each
field (``TypeError`` for a wrong type, ``ValueError`` for an illegal value, both naming the
field, the value and the allowed range) and then the cross-field rules.  Objects are
immutable; ``replace()`` makes a changed copy (validated again), and ``to_json()`` /
``from_json()`` give a lossless round trip.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConfigError", "ConfigTypeError", "ConfigValueError",
    "IntRule", "FloatRule", "BoolRule", "ChoiceRule",
    "DeviceConfig", "MultiConductanceConfig", "TileConfig",
]


class ConfigError(Exception):
    """Base of configuration errors; the message is one line naming field, value and range."""


class ConfigTypeError(ConfigError, TypeError):
    pass


class ConfigValueError(ConfigError, ValueError):
    pass


# -- field rules -------------------------------------------------------------------------

class IntRule:
    """An integer in ``[lo, hi]`` (``bool`` is refused)."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"an integer in [{self.lo}, {self.hi}]"

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        if not self.lo <= value <= self.hi:
            raise ConfigValueError(f"{name} must be {self.describe()}, not {value!r}")
        return value

    def parse(self, name: str, text: str) -> int:
        try:
            return int(text, 0)
        except ValueError:
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {text!r}") from None


class FloatRule:
    """A finite real number in a range; ``lo_open``/``hi_open`` exclude the ends."""

    def __init__(self, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def describe(self) -> str:
        return (f"a number in {'(' if self.lo_open else '['}{self.lo:g}, "
                f"{self.hi:g}{')' if self.hi_open else ']'}")

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        value = float(value)
        ok = (math.isfinite(value)
              and (value > self.lo if self.lo_open else value >= self.lo)
              and (value < self.hi if self.hi_open else value <= self.hi))
        if not ok:
            raise ConfigValueError(f"{name} must be {self.describe()}, not {value!r}")
        return value

    def parse(self, name: str, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {text!r}") from None


class BoolRule:
    def describe(self) -> str:
        return "true or false"

    def check(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        return value

    def parse(self, name: str, text: str) -> bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigTypeError(f"{name} must be {self.describe()}, not {text!r}")


class ChoiceRule:
    def __init__(self, *choices: str):
        self.choices = choices

    def describe(self) -> str:
        return "one of " + ", ".join(repr(c) for c in self.choices)

    def check(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        if value not in self.choices:
            raise ConfigValueError(f"{name} must be {self.describe()}, not {value!r}")
        return value

    def parse(self, name: str, text: str) -> str:
        return text


def _f(default, rule, doc: str):
    """A dataclass field carrying its rule and a one-line description."""
    return field(default=default, metadata={"rule": rule, "doc": doc})


def _sub(factory, doc: str):
    return field(default_factory=factory, metadata={"doc": doc})


class _Validated:
    """Mixin: per-field rule checks, cross-field checks, JSON round trip."""

    _prefix = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule.check(self._prefix + f.name, value))
        self._check_cross()

    def _check_cross(self) -> None:
        pass

    def _bad(self, name: str, value: Any, allowed: str) -> ConfigValueError:
        return ConfigValueError(f"{self._prefix}{name} must be {allowed}, not {value!r}")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        if not isinstance(data, dict):
            raise ConfigTypeError(f"{cls.__name__} must be built from a JSON object, not {data!r}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ConfigValueError(
                f"unknown {cls.__name__} field {cls._prefix}{unknown[0]} "
                f"(known: {', '.join(sorted(known))})")
        kwargs = {}
        for name, value in data.items():
            sub = _SUBCONFIGS.get((cls.__name__, name))
            kwargs[name] = sub.from_dict(value) if sub is not None else value
        return cls(**kwargs)

    @classmethod
    def field_rules(cls) -> dict[str, tuple[Any, str, Any]]:
        """``{name: (rule, doc, default)}`` of the scalar fields, in declaration order."""
        out = {}
        for f in dataclasses.fields(cls):
            if "rule" in f.metadata:
                out[f.name] = (f.metadata["rule"], f.metadata["doc"], f.default)
        return out


# -- device ------------------------------------------------------------------------------

DEVICE_MODELS = ("constant_step", "linear_step", "soft_bounds", "exp_step")


@dataclass(frozen=True)
class DeviceConfig(_Validated):
    """Resistive device parameters, with aihwkit's names and semantics (SPEC §2)."""

    _prefix = "device."

    model: str = _f("constant_step", ChoiceRule(*DEVICE_MODELS),
                    "per-pulse rule: constant step, linear step, soft bounds, or exponential (PCM-like, unidirectional)")
    dw_min: float = _f(0.001, FloatRule(0.0, 1.0, lo_open=True), "mean weight step per coincidence")
    dw_min_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of the step (relative)")
    dw_min_std: float = _f(0.3, FloatRule(0.0, 10.0), "cycle-to-cycle spread of each step (relative)")
    up_down: float = _f(0.0, FloatRule(-1.0, 1.0), "mean up/down imbalance r (dw_up = (gain + r) dw_min)")
    up_down_dtod: float = _f(0.01, FloatRule(0.0, 1.0), "device-to-device spread of the up/down imbalance")
    w_max: float = _f(0.6, FloatRule(-100.0, 100.0), "mean upper weight bound")
    w_min: float = _f(-0.6, FloatRule(-100.0, 100.0), "mean lower weight bound")
    w_max_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of w_max (relative)")
    w_min_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of w_min (relative)")
    gamma_up: float = _f(0.0, FloatRule(-10.0, 10.0), "linear_step: slope of the up step vs weight")
    gamma_down: float = _f(0.0, FloatRule(-10.0, 10.0), "linear_step: slope of the down step vs weight")
    exp_a: float = _f(5.0, FloatRule(0.0, 100.0, lo_open=True), "exp_step: saturation rate toward w_max")
    reset_std: float = _f(0.01, FloatRule(0.0, 1.0), "exp_step: spread of the RESET (low) state")
    stuck_prob: float = _f(0.0, FloatRule(0.0, 1.0), "probability a device is stuck at one of its bounds")
    disturb: float = _f(0.0, FloatRule(0.0, 1.0), "half-select disturb per half-selected pulse, in units of dw_min")

    def _check_cross(self) -> None:
        if not self.w_min < self.w_max:
            raise self._bad("w_min", self.w_min, f"below device.w_max ({self.w_max:g})")


@dataclass(frozen=True)
class MultiConductanceConfig(_Validated):
    """Multi-conductance cell W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻) (Cristiano/Ambrogio)."""

    _prefix = "mc."

    enabled: bool = _f(False, BoolRule(), "tile cells are multi-conductance (MSP + LSP pairs)")
    significance: float = _f(3.0, FloatRule(1.0, 1000.0), "significance factor F of the MSP")
    msp_model: str = _f("exp_step", ChoiceRule(*DEVICE_MODELS),
                        "device model of the MSP pair G+/G- (PCM-like by default)")
    lsp_model: str = _f("constant_step", ChoiceRule(*DEVICE_MODELS),
                        "device model of the LSP pair g+/g- (near-linear 3T1C by default)")
    g_max: float = _f(0.2, FloatRule(0.0, 100.0, lo_open=True),
                      "mean upper bound of each pair device (lower bound 0; F*g_max = device.w_max by default)")
    transfer_every: int = _f(100, IntRule(1, 1 << 20), "updates between two column transfers")
    transfer_tolerance: float = _f(0.01, FloatRule(0.0, 1.0, lo_open=True), "closed-loop MSP programming tolerance")
    max_iterations: int = _f(8, IntRule(1, 255), "closed-loop programming iterations per device")
    refresh_threshold: float = _f(0.9, FloatRule(0.0, 1.0, lo_open=True), "MSP refresh when both devices exceed this fraction of w_max")


# -- tile --------------------------------------------------------------------------------

MAX_LINES = 4096
MAX_TOP_INPUT_BITS = 1 << 16      # Amaranth numbers a top module's input bits in 16 bits
NM_MODES = ("off", "abs_max", "pow2")


@dataclass(frozen=True)
class TileConfig(_Validated):
    """Every parameter of a tile (SPEC §6 defaults: the 64 × 64 demo tile)."""

    in_size: int = _f(64, IntRule(1, MAX_LINES), "N, number of x-lines (input size)")
    out_size: int = _f(64, IntRule(1, MAX_LINES), "M, number of d-lines (output size)")
    dac_bits: int = _f(7, IntRule(2, 12), "signed DAC code width (magnitude + sign)")
    adc_bits: int = _f(9, IntRule(2, 16), "signed ADC code width")
    prob_bits: int = _f(8, IntRule(2, 16), "resolution of the pulse probabilities")
    bl: int = _f(10, IntRule(1, 255), "update pulse-train length BL (slots per phase)")
    bl_max: int = _f(31, IntRule(1, 255), "cap of BL under dynamic BL management")
    slot_cycles: int = _f(1, IntRule(1, 255), "clock cycles per pulse slot")
    lines_per_adc: int = _f(1, IntRule(1, MAX_LINES), "lines sharing one ADC through a mux")
    adc_latency: int = _f(4, IntRule(1, 255), "ADC conversion latency in cycles (start to done)")
    stream_width: int = _f(4, IntRule(1, 64), "values per AXI4-Stream beat")
    value_bits: int = _f(16, IntRule(8, 32), "width of host fixed-point vector values")
    value_frac_bits: int = _f(12, IntRule(0, 31), "fraction bits of host fixed-point vector values")
    result_bits: int = _f(32, IntRule(8, 48), "width of host fixed-point results (value_frac_bits fraction bits, saturating)")
    noise_management: str = _f("abs_max", ChoiceRule(*NM_MODES), "input scaling before the DAC")
    bound_management: bool = _f(True, BoolRule(), "repeat a saturated forward with halved input")
    bm_max_passes: int = _f(5, IntRule(1, 16), "cap of forward passes under bound management")
    update_management: bool = _f(True, BoolRule(), "balance x and d probabilities (C_x, C_d)")
    dynamic_bl: bool = _f(False, BoolRule(), "choose BL per update from lr·x_max·d_max/dw_min")
    lr: float = _f(0.01, FloatRule(0.0, 100.0, lo_open=True), "learning rate of the update")
    out_noise: float = _f(0.06, FloatRule(0.0, 100.0), "additive output noise σ before the ADC")
    out_bound: float = _f(12.0, FloatRule(0.0, 1e6, lo_open=True), "integrator/ADC bound (saturation)")
    w_noise: float = _f(0.0, FloatRule(0.0, 100.0), "additive read noise on the weights")
    x_seed: int = _f(0x1234ABCD, IntRule(1, (1 << 32) - 1), "seed of the x-side random generator (non-zero)")
    d_seed: int = _f(0x0BADF00D, IntRule(1, (1 << 32) - 1), "seed of the d-side random generator (non-zero)")
    model_seed: int = _f(2016, IntRule(0, (1 << 63) - 1), "seed of the behavioural crossbar model")
    device: DeviceConfig = _sub(DeviceConfig, "device parameters")
    mc: MultiConductanceConfig = _sub(MultiConductanceConfig, "multi-conductance cell and transfer")

    def __post_init__(self):
        for name, cls in (("device", DeviceConfig), ("mc", MultiConductanceConfig)):
            if not isinstance(getattr(self, name), cls):
                raise ConfigTypeError(f"{name} must be a {cls.__name__}, not {getattr(self, name)!r}")
        super().__post_init__()

    def _check_cross(self) -> None:
        if self.bl > self.bl_max:
            raise self._bad("bl", self.bl, f"at most bl_max ({self.bl_max})")
        if self.value_frac_bits >= self.value_bits:
            raise self._bad("value_frac_bits", self.value_frac_bits,
                            f"below value_bits ({self.value_bits})")
        if self.result_bits < self.value_bits:
            raise self._bad("result_bits", self.result_bits, f"at least value_bits ({self.value_bits})")
        for side, lines in (("in_size", self.in_size), ("out_size", self.out_size)):
            if lines % self.lines_per_adc:
                raise self._bad("lines_per_adc", self.lines_per_adc,
                                f"a divisor of {side} ({lines})")
        top_in = self.top_input_bits
        if top_in > MAX_TOP_INPUT_BITS:
            raise self._bad("lines_per_adc", self.lines_per_adc,
                            f"large enough for the tile's inputs to fit {MAX_TOP_INPUT_BITS} bits "
                            f"(a limit of Amaranth's netlist): (in_size + out_size) / lines_per_adc "
                            f"× adc_bits + stream_width × value_bits + 128 = {top_in}")
        if self.x_seed == self.d_seed:
            raise self._bad("d_seed", self.d_seed, "different from x_seed")

    # -- derived quantities (one place, used by RTL, models and benches) --
    @property
    def dac_max(self) -> int:
        """Largest DAC code magnitude, also the read window length in slots."""
        return (1 << (self.dac_bits - 1)) - 1

    @property
    def read_window_slots(self) -> int:
        return self.dac_max

    @property
    def adc_max(self) -> int:
        return (1 << (self.adc_bits - 1)) - 1

    @property
    def adc_lsb(self) -> float:
        """Normalised output units per ADC code (aihwkit: 2·bound/(2^bits − 2))."""
        return 2 * self.out_bound / (2 ** self.adc_bits - 2)

    @property
    def prob_one(self) -> int:
        """Probability code meaning p = 1 (codes run 0 ..= prob_one)."""
        return 1 << self.prob_bits

    @property
    def c_scale(self) -> float:
        """C = sqrt(lr / (BL·dw_min)) so that E[Δw] = −lr·d·x."""
        return math.sqrt(self.lr / (self.bl * self.device.dw_min))

    @property
    def top_input_bits(self) -> int:
        """Upper bound of the tile top's input bits: ADC codes of both sides, the input
        stream's data, and 128 for the AXI4-Lite/stream control inputs (72 today)."""
        return ((self.num_adcs_x + self.num_adcs_d) * self.adc_bits
                + self.stream_width * self.value_bits + 128)

    @property
    def num_adcs_d(self) -> int:
        return self.out_size // self.lines_per_adc

    @property
    def num_adcs_x(self) -> int:
        return self.in_size // self.lines_per_adc

    # -- JSON --
    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), indent=kw.pop("indent", 2), **kw)

    @classmethod
    def from_json(cls, text: str) -> "TileConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigValueError(f"config is not valid JSON: {e}") from None
        return cls.from_dict(data)

    @classmethod
    def from_file(cls, path) -> "TileConfig":
        with open(path) as f:
            return cls.from_json(f.read())


_SUBCONFIGS = {("TileConfig", "device"): DeviceConfig, ("TileConfig", "mc"): MultiConductanceConfig}
