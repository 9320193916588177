"""The one validated configuration of a tile: RTL, models, benches and register map read it.

:class:`TileConfig` holds the tile's shape and one parameter group per concern, after
aihwkit's configuration tree:

* ``converters`` (:class:`ConverterConfig`): DAC, ADC, ADC sharing, slot length;
* ``host`` (:class:`HostConfig`): the host's fixed-point vector and result formats;
* ``io`` (:class:`IOConfig`): forward/backward read path (noise and bound management,
  output noise and bound);
* ``update`` (:class:`UpdateConfig`): the stochastic update (BL, update management,
  learning rate, random-generator seeds);
* ``device`` (:class:`DeviceConfig`): the resistive device, with aihwkit's names, and named
  presets (:data:`DEVICE_PRESETS`);
* ``mc`` (:class:`MultiConductanceConfig`): the multi-conductance cell.

Every scalar field declares its type and range with a *rule*; construction checks each
field (``TypeError`` for a wrong type, ``ValueError`` for an illegal value, one wording:
``"<name> must be <allowed>, not <value>"``) and then the cross-field rules.  The same rules
validate the parameters of every block (:class:`IntRule` and friends).  Objects are
immutable; ``replace()`` makes a changed, re-validated copy; ``to_json()`` /
``from_json()`` give a lossless round trip, and ``from_dict`` also reads the flat files
(every field at top level) that earlier versions wrote (``params.json``).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ConfigError", "ConfigTypeError", "ConfigValueError",
    "IntRule", "FloatRule", "BoolRule", "EnumRule", "check_instance",
    "NoiseManagement", "DeviceModel",
    "ConverterConfig", "HostConfig", "IOConfig", "UpdateConfig", "DeviceConfig",
    "MultiConductanceConfig", "TileConfig", "DEVICE_PRESETS", "MAX_LINES", "TRAINING_DEFAULTS",
    "TRAINING_WEIGHT_SCALE",
]

MAX_LINES = 4096                  # lines per side the generator supports (docs/spec.md §6)
MAX_TOP_INPUT_BITS = 1 << 16      # Amaranth numbers a top module's input bits in 16 bits


class ConfigError(Exception):
    """Base of configuration errors; the message is one line naming field, value and range."""


class ConfigTypeError(ConfigError, TypeError):
    pass


class ConfigValueError(ConfigError, ValueError):
    pass


# -- rules: the one validation vocabulary -------------------------------------------------

class IntRule:
    """An integer in ``[lo, hi]``: Python or numpy integers, returned as ``int`` (``bool``
    is refused)."""

    def __init__(self, lo: int, hi: int):
        self.lo, self.hi = lo, hi

    def describe(self) -> str:
        return f"an integer in [{self.lo}, {self.hi}]"

    def check(self, name: str, value: Any) -> int:
        if isinstance(value, (bool, enum.Enum)) or not isinstance(value, numbers.Integral):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        value = int(value)
        if not self.lo <= value <= self.hi:
            raise ConfigValueError(f"{name} must be {self.describe()}, not {value!r}")
        return value

    def parse(self, name: str, text: str) -> int:
        try:
            return int(text, 0)
        except ValueError:
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {text!r}") from None


class FloatRule:
    """A finite real number in a range (Python or numpy, returned as ``float``);
    ``lo_open``/``hi_open`` exclude the ends."""

    def __init__(self, lo: float, hi: float, *, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def describe(self) -> str:
        return (f"a number in {'(' if self.lo_open else '['}{self.lo:g}, "
                f"{self.hi:g}{')' if self.hi_open else ']'}")

    def check(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
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
    """``True`` or ``False`` (numpy booleans too, returned as ``bool``)."""

    def describe(self) -> str:
        return "true or false"

    def check(self, name: str, value: Any) -> bool:
        numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
        if not isinstance(value, bool) and not numpy_bool:
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        return bool(value)

    def parse(self, name: str, text: str) -> bool:
        low = text.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigTypeError(f"{name} must be {self.describe()}, not {text!r}")


class EnumRule:
    """A member of a string enum, given as the member or its value."""

    def __init__(self, enum_cls: type[enum.Enum]):
        self.enum_cls = enum_cls

    def describe(self) -> str:
        return "one of " + ", ".join(repr(m.value) for m in self.enum_cls)

    def check(self, name: str, value: Any):
        if isinstance(value, self.enum_cls):
            return value
        if not isinstance(value, str):
            raise ConfigTypeError(f"{name} must be {self.describe()}, not {value!r}")
        try:
            return self.enum_cls(value)
        except ValueError:
            raise ConfigValueError(f"{name} must be {self.describe()}, not {value!r}") from None

    def parse(self, name: str, text: str):
        return text


def check_instance(name: str, value: Any, cls: type):
    """``value`` itself if it is a ``cls``, else ``TypeError`` in the rules' wording."""
    if not isinstance(value, cls):
        raise ConfigTypeError(f"{name} must be a {cls.__name__}, not {value!r}")
    return value


# -- modes ---------------------------------------------------------------------------------

class NoiseManagement(enum.StrEnum):
    """Input scaling before the DAC (Gokmen 2017): off, α = max|x|, α = next power of 2."""
    OFF = "off"
    ABS_MAX = "abs_max"
    POW2 = "pow2"


class DeviceModel(enum.StrEnum):
    """Per-pulse rule of a device (docs/spec.md §2; aihwkit's ConstantStep, LinearStep, SoftBounds;
    ``exp_step`` is a strongly saturating, unidirectional PCM-like rule)."""
    CONSTANT_STEP = "constant_step"
    LINEAR_STEP = "linear_step"
    SOFT_BOUNDS = "soft_bounds"
    EXP_STEP = "exp_step"


# -- the group machinery -------------------------------------------------------------------

def _f(default, rule, doc: str, *, model_only: bool = False):
    """A scalar field carrying its rule, a one-line description, and whether only the
    behavioural model reads it (``model_only``: nothing in the generated Verilog changes)."""
    return field(default=default, metadata={"rule": rule, "doc": doc, "model_only": model_only})


def _group(cls, doc: str):
    return field(default_factory=cls, metadata={"group": cls, "doc": doc})


class _Validated:
    """Mixin: per-field rule checks, cross-field checks, dict/JSON round trip."""

    _prefix = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule.check(self._prefix + f.name, value))
            elif "group" in f.metadata:
                check_instance(f.name, value, f.metadata["group"])
        self._check_cross()

    def _check_cross(self) -> None:
        pass

    def _bad(self, name: str, value: Any, allowed: str) -> ConfigValueError:
        return ConfigValueError(f"{self._prefix}{name} must be {allowed}, not {value!r}")

    def replace(self, **changes):
        """A re-validated copy with ``changes``."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.to_dict() if isinstance(v, _Validated) else (
                v.value if isinstance(v, enum.Enum) else v)
        return out

    @classmethod
    def from_dict(cls, data: dict):
        if not isinstance(data, dict):
            raise ConfigTypeError(f"{cls.__name__} must be built from a JSON object, not {data!r}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known) - set(cls._flat_names()))
        if unknown:
            raise ConfigValueError(
                f"unknown {cls.__name__} field {cls._prefix}{unknown[0]} "
                f"(known: {', '.join(sorted(known))})")
        kwargs = {}
        for name, value in data.items():
            group = known[name].metadata.get("group") if name in known else None
            kwargs[name] = group.from_dict(value) if group is not None else value
        return cls(**kwargs)

    @classmethod
    def _flat_names(cls) -> dict[str, str]:
        """Names of group fields the constructor also takes directly (TileConfig)."""
        return {}

    @classmethod
    def field_rules(cls) -> dict[str, tuple[Any, str, Any, bool]]:
        """``{name: (rule, doc, default, model_only)}`` of the scalar fields, in order."""
        return {f.name: (f.metadata["rule"], f.metadata["doc"], f.default, f.metadata["model_only"])
                for f in dataclasses.fields(cls) if "rule" in f.metadata}


# -- groups --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConverterConfig(_Validated):
    """Line drivers and converters: DAC and ADC resolution, ADC sharing, timing."""

    dac_bits: int = _f(7, IntRule(2, 12), "signed DAC code width (magnitude + sign)")
    adc_bits: int = _f(9, IntRule(2, 16), "signed ADC code width")
    lines_per_adc: int = _f(1, IntRule(1, MAX_LINES), "lines sharing one ADC through a mux")
    adc_latency: int = _f(4, IntRule(1, 255), "ADC conversion latency in cycles (start to done)")
    slot_cycles: int = _f(1, IntRule(1, 255), "clock cycles per pulse slot")


@dataclass(frozen=True)
class HostConfig(_Validated):
    """The host's formats: fixed-point vectors in, results out, values per stream beat."""

    stream_width: int = _f(4, IntRule(1, 64), "values per AXI4-Stream beat")
    value_bits: int = _f(16, IntRule(8, 32), "width of host fixed-point vector values")
    value_frac_bits: int = _f(12, IntRule(0, 31), "fraction bits of host fixed-point vector values")
    result_bits: int = _f(32, IntRule(8, 48),
                          "width of host fixed-point results (value_frac_bits fraction bits, saturating)")

    def _check_cross(self) -> None:
        if self.value_frac_bits >= self.value_bits:
            raise self._bad("value_frac_bits", self.value_frac_bits,
                            f"below value_bits ({self.value_bits})")
        if self.result_bits < self.value_bits:
            raise self._bad("result_bits", self.result_bits, f"at least value_bits ({self.value_bits})")


@dataclass(frozen=True)
class IOConfig(_Validated):
    """Forward/backward read path (aihwkit's IOParameters)."""

    noise_management: NoiseManagement = _f(NoiseManagement.ABS_MAX, EnumRule(NoiseManagement),
                                           "input scaling before the DAC")
    bound_management: bool = _f(True, BoolRule(), "repeat a saturated forward with halved input")
    bm_max_passes: int = _f(5, IntRule(1, 16), "cap of forward passes under bound management")
    out_noise: float = _f(0.06, FloatRule(0.0, 100.0), "additive output noise σ before the ADC",
                          model_only=True)
    out_bound: float = _f(12.0, FloatRule(0.0, 1e6, lo_open=True),
                          "integrator/ADC bound (saturation); sets the ADC step")
    w_noise: float = _f(0.0, FloatRule(0.0, 100.0), "additive read noise on the weights",
                        model_only=True)


@dataclass(frozen=True)
class UpdateConfig(_Validated):
    """The stochastic parallel update (aihwkit's UpdateParameters)."""

    bl: int = _f(10, IntRule(1, 255), "update pulse-train length BL (slots per phase)")
    bl_max: int = _f(31, IntRule(1, 255), "cap of BL under dynamic BL management")
    prob_bits: int = _f(8, IntRule(2, 16), "resolution of the pulse probabilities")
    update_management: bool = _f(True, BoolRule(), "balance x and d probabilities (C_x, C_d)")
    dynamic_bl: bool = _f(False, BoolRule(), "choose BL per update from lr·x_max·d_max/dw_min")
    lr: float = _f(0.01, FloatRule(0.0, 100.0, lo_open=True), "learning rate of the update")
    x_seed: int = _f(0x1234ABCD, IntRule(1, (1 << 32) - 1), "seed of the x-side random generator (non-zero)")
    d_seed: int = _f(0x0BADF00D, IntRule(1, (1 << 32) - 1), "seed of the d-side random generator (non-zero)")

    def _check_cross(self) -> None:
        if self.bl > self.bl_max:
            raise self._bad("bl", self.bl, f"at most bl_max ({self.bl_max})")
        if self.x_seed == self.d_seed:
            raise self._bad("d_seed", self.d_seed, "different from x_seed")


@dataclass(frozen=True)
class DeviceConfig(_Validated):
    """Resistive device parameters, with aihwkit's names and semantics (docs/spec.md §2).

    The defaults are Gokmen & Vlasov 2016's device specification (:data:`DEVICE_PRESETS`
    ``"gokmen_vlasov"``); ``DeviceConfig.preset(name)`` gives a named preset.
    """

    _prefix = "device."

    model: DeviceModel = _f(DeviceModel.CONSTANT_STEP, EnumRule(DeviceModel),
                            "per-pulse rule: constant step, linear step, soft bounds, or exponential "
                            "(PCM-like, unidirectional)", model_only=True)
    dw_min: float = _f(0.001, FloatRule(0.0, 1.0, lo_open=True), "mean weight step per coincidence")
    dw_min_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of the step (relative)",
                            model_only=True)
    dw_min_std: float = _f(0.3, FloatRule(0.0, 10.0), "cycle-to-cycle spread of each step (relative)",
                           model_only=True)
    up_down: float = _f(0.0, FloatRule(-1.0, 1.0), "mean up/down imbalance r (dw_up = (gain + r) dw_min)",
                        model_only=True)
    up_down_dtod: float = _f(0.01, FloatRule(0.0, 1.0), "device-to-device spread of the up/down imbalance",
                             model_only=True)
    w_max: float = _f(0.6, FloatRule(-100.0, 100.0), "mean upper weight bound", model_only=True)
    w_min: float = _f(-0.6, FloatRule(-100.0, 100.0), "mean lower weight bound", model_only=True)
    w_max_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of w_max (relative)",
                           model_only=True)
    w_min_dtod: float = _f(0.3, FloatRule(0.0, 10.0), "device-to-device spread of w_min (relative)",
                           model_only=True)
    gamma_up: float = _f(0.0, FloatRule(-10.0, 10.0), "linear_step: slope of the up step vs weight",
                         model_only=True)
    gamma_down: float = _f(0.0, FloatRule(-10.0, 10.0), "linear_step: slope of the down step vs weight",
                           model_only=True)
    exp_a: float = _f(5.0, FloatRule(0.0, 100.0, lo_open=True), "exp_step: saturation rate toward w_max",
                      model_only=True)
    reset_std: float = _f(0.01, FloatRule(0.0, 1.0), "exp_step: spread of the RESET (low) state",
                          model_only=True)
    stuck_prob: float = _f(0.0, FloatRule(0.0, 1.0), "probability a device is stuck at one of its bounds",
                           model_only=True)
    disturb: float = _f(0.0, FloatRule(0.0, 1.0), "half-select disturb per half-selected pulse, in units of dw_min",
                        model_only=True)

    def _check_cross(self) -> None:
        if not self.w_min < self.w_max:
            raise self._bad("w_min", self.w_min, f"below device.w_max ({self.w_max:g})")

    @classmethod
    def preset(cls, name: str) -> "DeviceConfig":
        """The named device preset (:data:`DEVICE_PRESETS`)."""
        if name not in DEVICE_PRESETS:
            raise ConfigValueError(f"device preset must be one of {', '.join(map(repr, DEVICE_PRESETS))}, "
                                   f"not {name!r}")
        return cls(**DEVICE_PRESETS[name][1])


#: ``{name: (what it is and the paper it was fitted to, DeviceConfig fields)}``.  Our device
#: rules apply c2c noise multiplicatively (1 + σ·ξ) and have no write noise or leakage, so
#: presets fitted with aihwkit's additive-noise variants keep only their step, range,
#: nonlinearity and spreads.
DEVICE_PRESETS: dict[str, tuple[str, dict]] = {
    "gokmen_vlasov": (
        "the RPU device specification of Gokmen & Vlasov, Front. Neurosci. 10:333 (2016): "
        "1200 states over ±0.6, 30 % device-to-device and cycle-to-cycle spread, ≈2 % "
        "up/down imbalance (the default)", {}),
    "idealized": (
        "a symmetric device with 10× the states of Gokmen & Vlasov 2016 (aihwkit's "
        "IdealizedPresetDevice, after Rasch, Gokmen & Haensch, IEEE Design & Test 2019)",
        dict(dw_min=0.0002, up_down_dtod=0.0, w_max=1.0, w_min=-1.0)),
    "capacitor": (
        "a capacitor-based cell, linear step fitted to Li et al., VLSI 2018 (aihwkit's "
        "CapacitorPresetDevice, leakage not modelled)",
        dict(model="linear_step", dw_min=0.005, dw_min_dtod=0.1, up_down_dtod=0.06, w_max=1.0,
             w_min=-1.0, w_max_dtod=0.07, w_min_dtod=0.07, gamma_up=0.05, gamma_down=0.05)),
    "ecram": (
        "Li-ion ECRAM, linear step fitted to Tang et al., IEDM 2018 (aihwkit's "
        "EcRamPresetDevice; range shifted so the symmetry point is 0)",
        dict(model="linear_step", dw_min=0.002, dw_min_dtod=0.1, w_max=1.1724, w_min=-0.8276,
             w_max_dtod=0.05, w_min_dtod=0.05, gamma_up=0.1153, gamma_down=0.5085)),
    "ecram_mo": (
        "metal-oxide ECRAM, linear step after Kim et al., IEDM 2019 (aihwkit's "
        "EcRamMOPresetDevice)",
        dict(model="linear_step", dw_min=2.8214e-4, dw_min_dtod=0.1, dw_min_std=2.0,
             w_max=1.1714, w_min=-0.8286, w_max_dtod=0.05, w_min_dtod=0.05,
             gamma_up=0.4152, gamma_down=0.7342)),
    "pcm": (
        "phase-change memory as a one-directional SET device with a RESET, exponential "
        "(saturating) step after Nandakumar et al., J. Appl. Phys. 124:152135 (2018) and "
        "Ambrogio et al., Nature 558:60 (2018): ~60 % cycle-to-cycle spread, a coarse step "
        "(the multi-conductance training's device, docs/training.md)",
        dict(model="exp_step", dw_min=0.004, dw_min_dtod=0.3, dw_min_std=0.6, exp_a=2.0,
             w_max=0.6, w_min=-0.6, reset_std=0.005)),
    "reram_sb": (
        "ReRAM, soft bounds loosely fitted to Gong et al., Nat. Commun. 9:2102 (2018) "
        "(aihwkit's ReRamSBPresetDevice, without its write noise)",
        dict(model="soft_bounds", dw_min=0.002, w_max=1.25, w_min=-0.75, w_max_dtod=0.24,
             w_min_dtod=0.4)),
}


@dataclass(frozen=True)
class MultiConductanceConfig(_Validated):
    """Multi-conductance cell W = F·(G⁺ − G⁻) + p·(g⁺ − g⁻) (Cristiano/Ambrogio)."""

    _prefix = "mc."

    enabled: bool = _f(False, BoolRule(), "tile cells are multi-conductance (MSP + LSP pairs)")
    significance: float = _f(3.0, FloatRule(1.0, 1000.0), "significance factor F of the MSP")
    msp_model: DeviceModel = _f(DeviceModel.EXP_STEP, EnumRule(DeviceModel),
                                "device model of the MSP pair G+/G- (PCM-like by default)", model_only=True)
    lsp_model: DeviceModel = _f(DeviceModel.CONSTANT_STEP, EnumRule(DeviceModel),
                                "device model of the LSP pair g+/g- (near-linear 3T1C by default)",
                                model_only=True)
    g_max: float = _f(0.2, FloatRule(0.0, 100.0, lo_open=True),
                      "mean upper bound of each pair device (lower bound 0; F*g_max = device.w_max by default)",
                      model_only=True)
    lsp_leak: float = _f(0.0, FloatRule(0.0, 1.0, hi_open=True),
                         "LSP leakage per update toward its zero point (3T1C capacitor): g <- g·(1 - leak)",
                         model_only=True)
    read_shift: int = _f(5, IntRule(0, 10),
                         "transfer reads of one pair or device sense with gain 2^read_shift "
                         "(integration gain, so one device spans the ADC)")
    transfer_every: int = _f(100, IntRule(1, (1 << 20) - 1), "updates between two automatic transfer events")
    auto_transfer: bool = _f(True, BoolRule(), "run a transfer event every transfer_every updates (reset of TRANSFER_CFG.auto)")
    columns_per_transfer: int = _f(1, IntRule(1, MAX_LINES), "columns transferred per transfer event")
    transfer_tolerance: float = _f(0.01, FloatRule(0.0, 1.0, lo_open=True),
                                   "closed-loop MSP programming tolerance, in weight units")
    max_iterations: int = _f(8, IntRule(1, 255), "closed-loop programming iterations per column")
    max_pulses: int = _f(8, IntRule(1, 255), "programming pulses per device and iteration at most")
    refresh_threshold: float = _f(0.9, FloatRule(0.0, 1.0, lo_open=True),
                                  "MSP refresh when both devices exceed this fraction of g_max")
    initial_polarity: int = _f(1, IntRule(-1, 1), "LSP polarity p after reset (+1 or -1)")
    pair_only: bool = _f(False, BoolRule(),
                         "model only: the single-pair baseline, W = F·(G+ - G-) of the MSP devices "
                         "pulsed directly, refreshed every transfer_every updates (no LSP, no transfer)",
                         model_only=True)

    def _check_cross(self) -> None:
        if self.initial_polarity == 0:
            raise self._bad("initial_polarity", 0, "+1 or -1")


# -- training ------------------------------------------------------------------------------

#: the update fields the training layers change from :class:`TileConfig`'s defaults (the
#: spec's demo tile: BL 10 fixed) so a default network trains within 1 % of floating point
#: (measurement: docs/training.md, "Defaults")
TRAINING_DEFAULTS = dict(dynamic_bl=True, bl_max=31)
#: the layers' default digital weight scale γ (layer weight = γ · device weight): the
#: devices' ±0.6 become ±1.2 in the layer (docs/training.md, "Defaults")
TRAINING_WEIGHT_SCALE = 2.0


# -- the tile --------------------------------------------------------------------------------

#: the groups whose field names are unique across groups: options and old flat files name
#: their fields without the group (``--bl``, ``"bl": 10``)
FLAT_GROUPS = ("converters", "host", "io", "update")


@dataclass(frozen=True, init=False)
class TileConfig(_Validated):
    """Every parameter of a tile (docs/spec.md §6 defaults: the 64 × 64 demo tile).

    ``TileConfig(in_size=48, bl=20, device=DeviceConfig(dw_min=0.002))``: besides its own
    fields, the constructor (and ``replace``) takes the fields of the flat groups
    (``converters``, ``host``, ``io``, ``update``) by name and applies them to that group.
    """

    in_size: int = _f(64, IntRule(1, MAX_LINES), "N, number of x-lines (input size)")
    out_size: int = _f(64, IntRule(1, MAX_LINES), "M, number of d-lines (output size)")
    converters: ConverterConfig = _group(ConverterConfig, "DAC, ADC, ADC sharing, slot length")
    host: HostConfig = _group(HostConfig, "host vector and result formats")
    io: IOConfig = _group(IOConfig, "forward/backward read path")
    update: UpdateConfig = _group(UpdateConfig, "stochastic update")
    device: DeviceConfig = _group(DeviceConfig, "device parameters")
    mc: MultiConductanceConfig = _group(MultiConductanceConfig, "multi-conductance cell and transfer")
    model_seed: int = _f(2016, IntRule(0, (1 << 63) - 1), "seed of the behavioural crossbar model",
                         model_only=True)

    def __init__(self, **kwargs):
        flat: dict[str, dict] = {}
        for name in [k for k in kwargs if k in _FLAT_FIELDS]:
            flat.setdefault(_FLAT_FIELDS[name], {})[name] = kwargs.pop(name)
        for f in dataclasses.fields(self):
            if f.name in kwargs:
                value = kwargs.pop(f.name)
            else:
                value = f.default_factory() if "group" in f.metadata else f.default
            if f.name in flat:
                value = check_instance(f.name, value, f.metadata["group"]).replace(**flat[f.name])
            object.__setattr__(self, f.name, value)
        if kwargs:
            raise ConfigTypeError(f"unknown TileConfig field {sorted(kwargs)[0]}")
        self.__post_init__()

    def _check_cross(self) -> None:
        for side, lines in (("in_size", self.in_size), ("out_size", self.out_size)):
            if lines % self.converters.lines_per_adc:
                raise self._bad("lines_per_adc", self.converters.lines_per_adc,
                                f"a divisor of {side} ({lines})")
        if self.mc.columns_per_transfer > self.in_size:
            raise self._bad("mc.columns_per_transfer", self.mc.columns_per_transfer,
                            f"at most in_size ({self.in_size})")
        top_in = self.top_input_bits
        if top_in > MAX_TOP_INPUT_BITS:
            raise self._bad("lines_per_adc", self.converters.lines_per_adc,
                            f"large enough for the tile's inputs to fit {MAX_TOP_INPUT_BITS} bits "
                            f"(a limit of Amaranth's netlist): (in_size + out_size) / lines_per_adc "
                            f"× adc_bits + stream_width × value_bits + 128 = {top_in}")

    @classmethod
    def _flat_names(cls) -> dict[str, str]:
        return _FLAT_FIELDS

    # -- derived quantities (one place, used by RTL, models and benches) --
    @property
    def dac_max(self) -> int:
        """Largest DAC code magnitude, also the read window length in slots."""
        return (1 << (self.converters.dac_bits - 1)) - 1

    @property
    def adc_max(self) -> int:
        """Largest ADC code magnitude; a code at either end counts as saturated."""
        return (1 << (self.converters.adc_bits - 1)) - 1

    @property
    def adc_lsb(self) -> float:
        """Normalised output units per ADC code (aihwkit: 2·bound/(2^bits − 2))."""
        return 2 * self.io.out_bound / (2 ** self.converters.adc_bits - 2)

    @property
    def prob_one(self) -> int:
        """Probability code meaning p = 1 (codes run 0 ..= prob_one)."""
        return 1 << self.update.prob_bits

    @property
    def c_scale(self) -> float:
        """C = sqrt(lr / (BL·dw_min)) so that E[Δw] = −lr·d·x."""
        return math.sqrt(self.update.lr / (self.update.bl * self.device.dw_min))

    @property
    def num_adcs_d(self) -> int:
        return self.out_size // self.converters.lines_per_adc

    @property
    def num_adcs_x(self) -> int:
        return self.in_size // self.converters.lines_per_adc

    @property
    def top_input_bits(self) -> int:
        """Upper bound of the tile top's input bits: ADC codes of both sides, the input
        stream's data, and 128 for the AXI4-Lite/stream control inputs (72 today)."""
        return ((self.num_adcs_x + self.num_adcs_d) * self.converters.adc_bits
                + self.host.stream_width * self.host.value_bits + 128)

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


#: field name → its group, for the flat groups
_FLAT_FIELDS = {name: group for group in FLAT_GROUPS
                for name in {f.name: f for f in dataclasses.fields(TileConfig)}[group]
                .metadata["group"].field_rules()}
