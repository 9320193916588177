import dataclasses
import json

import pytest

import numpy as np

from rpu import DEVICE_PRESETS, DeviceConfig, DeviceModel, NoiseManagement, TileConfig, UpdateConfig
from rpu.config import ConfigTypeError, ConfigValueError


def test_defaults_are_spec_demo_tile():
    c = TileConfig()
    cv, u = c.converters, c.update
    assert (c.in_size, c.out_size, cv.dac_bits, cv.adc_bits, u.prob_bits) == (64, 64, 7, 9, 8)
    assert (u.bl, u.bl_max, cv.slot_cycles, cv.lines_per_adc) == (10, 31, 1, 1)
    assert c.io.noise_management == "abs_max" and c.io.bound_management and u.update_management
    d = c.device
    assert (d.dw_min, d.dw_min_dtod, d.dw_min_std, d.up_down_dtod) == (0.001, 0.3, 0.3, 0.01)
    assert (d.w_max, d.w_min, d.w_max_dtod, d.w_min_dtod) == (0.6, -0.6, 0.3, 0.3)
    assert c.dac_max == 63 and c.adc_max == 255
    assert c.prob_one == 256
    assert c.c_scale == pytest.approx((0.01 / (10 * 0.001)) ** 0.5)
    assert c.adc_lsb == pytest.approx(24 / 510)


def test_json_round_trip_is_lossless():
    c = TileConfig(in_size=48, out_size=80, lines_per_adc=4, lr=0.0375,
                   device=DeviceConfig(model="soft_bounds", dw_min=0.002))
    back = TileConfig.from_json(c.to_json())
    assert back == c and isinstance(back.device, DeviceConfig)
    assert json.loads(c.to_json())["device"]["model"] == "soft_bounds"
    assert json.loads(c.to_json())["converters"]["lines_per_adc"] == 4


def test_flat_files_of_earlier_versions_still_read():
    """params.json before the grouping had every field at top level."""
    flat = {"in_size": 4096, "out_size": 4096, "lines_per_adc": 2, "bl": 7, "lr": 0.02,
            "noise_management": "pow2", "stream_width": 8, "device": {"dw_min": 0.002}}
    c = TileConfig.from_dict(flat)
    assert (c.converters.lines_per_adc, c.update.bl, c.update.lr) == (2, 7, 0.02)
    assert c.io.noise_management is NoiseManagement.POW2 and c.host.stream_width == 8
    assert TileConfig.from_json(c.to_json()) == c


def test_flat_names_in_the_constructor_and_replace_reach_their_group():
    c = TileConfig(in_size=48, bl=20, lines_per_adc=4, update=UpdateConfig(lr=0.5))
    assert (c.update.bl, c.update.lr, c.converters.lines_per_adc) == (20, 0.5, 4)
    assert c.replace(bl=5).update == UpdateConfig(bl=5, lr=0.5)
    with pytest.raises(ConfigTypeError, match="^unknown TileConfig field blx$"):
        TileConfig(blx=3)


def test_numpy_numbers_are_accepted_as_python_ones():
    c = TileConfig(in_size=np.int64(32), lr=np.float32(0.25), bound_management=np.bool_(False),
                   device=DeviceConfig(dw_min=np.float64(0.002)))
    assert type(c.in_size) is int and c.in_size == 32
    assert type(c.update.lr) is float and c.update.lr == 0.25
    assert c.io.bound_management is False and type(c.device.dw_min) is float


def test_modes_are_enums_and_strings_are_accepted():
    c = TileConfig(noise_management="off", device=DeviceConfig(model="exp_step"))
    assert c.io.noise_management is NoiseManagement.OFF
    assert c.device.model is DeviceModel.EXP_STEP and c.device.model == "exp_step"


def test_device_presets_are_valid_and_named_after_their_paper():
    for name, (doc, fields) in DEVICE_PRESETS.items():
        d = DeviceConfig.preset(name)
        assert all(getattr(d, k) == v for k, v in fields.items())
        assert any(str(year) in doc for year in range(2010, 2030)), name
    assert DeviceConfig.preset("gokmen_vlasov") == DeviceConfig()
    with pytest.raises(ConfigValueError, match="^device preset must be one of"):
        DeviceConfig.preset("memristor")


def test_immutable_and_replace_revalidates():
    c = TileConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.in_size = 3
    assert c.replace(in_size=128).in_size == 128
    with pytest.raises(ConfigValueError, match=r"^in_size must be an integer in \[1, 4096\], not 5000$"):
        c.replace(in_size=5000)


@pytest.mark.parametrize("kwargs,exc,message", [
    (dict(in_size=0), ConfigValueError, r"^in_size must be an integer in \[1, 4096\], not 0$"),
    (dict(out_size=4097), ConfigValueError, r"^out_size must be an integer in \[1, 4096\], not 4097$"),
    (dict(in_size=64.0), ConfigTypeError, r"^in_size must be an integer in \[1, 4096\], not 64.0$"),
    (dict(in_size=True), ConfigTypeError, r"^in_size must be an integer"),
    (dict(dac_bits=1), ConfigValueError, r"^dac_bits must be an integer in \[2, 12\], not 1$"),
    (dict(prob_bits=17), ConfigValueError, r"^prob_bits must be an integer in \[2, 16\], not 17$"),
    (dict(bl=0), ConfigValueError, r"^bl must be an integer in \[1, 255\], not 0$"),
    (dict(bl=32), ConfigValueError, r"^bl must be at most bl_max \(31\), not 32$"),
    (dict(lines_per_adc=3), ConfigValueError, r"^lines_per_adc must be a divisor of in_size \(64\), not 3$"),
    (dict(in_size=64, out_size=48, lines_per_adc=32), ConfigValueError, r"^lines_per_adc must be a divisor of out_size \(48\)"),
    (dict(noise_management="max"), ConfigValueError, r"^noise_management must be one of 'off', 'abs_max', 'pow2', not 'max'$"),
    (dict(bound_management=1), ConfigTypeError, r"^bound_management must be true or false, not 1$"),
    (dict(lr=0.0), ConfigValueError, r"^lr must be a number in \(0, 100\], not 0.0$"),
    (dict(lr=float("inf")), ConfigValueError, r"^lr must be a number in \(0, 100\], not inf$"),
    (dict(x_seed=0), ConfigValueError, r"^x_seed must be an integer in \[1, 4294967295\], not 0$"),
    (dict(x_seed=5, d_seed=5), ConfigValueError, r"^d_seed must be different from x_seed, not 5$"),
    (dict(value_bits=16, value_frac_bits=16), ConfigValueError, r"^value_frac_bits must be below value_bits \(16\), not 16$"),
    (dict(device={"dw_min": 0.01}), ConfigTypeError, r"^device must be a DeviceConfig"),
])
def test_bad_values_name_field_value_and_range(kwargs, exc, message):
    with pytest.raises(exc, match=message):
        TileConfig(**kwargs)


def test_device_field_errors():
    with pytest.raises(ConfigValueError, match=r"^device.dw_min must be a number in \(0, 1\], not -0.1$"):
        DeviceConfig(dw_min=-0.1)
    with pytest.raises(ConfigValueError, match=r"^device.model must be one of"):
        DeviceConfig(model="memristor")
    with pytest.raises(ConfigValueError, match=r"^device.w_min must be below device.w_max \(0.6\), not 0.7$"):
        DeviceConfig(w_min=0.7)


def test_from_json_rejects_unknown_and_malformed():
    with pytest.raises(ConfigValueError, match="unknown TileConfig field in_sise"):
        TileConfig.from_json('{"in_sise": 3}')
    with pytest.raises(ConfigValueError, match="not valid JSON"):
        TileConfig.from_json("{")
    with pytest.raises(ConfigValueError, match="unknown DeviceConfig field device.dwmin"):
        TileConfig.from_json('{"device": {"dwmin": 1}}')


def test_exceptions_are_builtin_types():
    with pytest.raises(TypeError):
        TileConfig(in_size="8")
    with pytest.raises(ValueError):
        TileConfig(in_size=-1)


def test_largest_tile_is_valid():
    c = TileConfig(in_size=4096, out_size=4096, lines_per_adc=64)
    assert c.num_adcs_x == 64 and c.num_adcs_d == 64
    assert TileConfig(in_size=4096, out_size=4096, lines_per_adc=2).top_input_bits <= 1 << 16


def test_tile_inputs_must_fit_the_netlist_limit():
    # 2 x 4096 ADCs x 9 bits = 73728 input bits: more than Amaranth can number
    with pytest.raises(ConfigValueError, match=r"^lines_per_adc must be large enough for the tile's "
                       r"inputs to fit 65536 bits .* = 73920, not 1$"):
        TileConfig(in_size=4096, out_size=4096)
