"""Bad input raises a clear error naming the argument; nothing is silently broadcast."""

import numpy as np
import pytest

from rpu.config import MultiConductanceConfig, TileConfig
from rpu.models import Crossbar, MultiConductanceCrossbar

CFG = TileConfig(in_size=6, out_size=4)


@pytest.fixture
def cb():
    return Crossbar(CFG)


@pytest.mark.parametrize("v,exc,msg", [
    (np.ones(5), ValueError, r"shape \(6,\)"),
    (np.ones((1, 6)), ValueError, r"shape \(6,\)"),
    (1.0, ValueError, r"shape \(6,\)"),                        # a scalar is not broadcast
    (np.array([0, 0, np.nan, 0, 0, 0]), ValueError, "finite"),
    (np.array([0, 0, np.inf, 0, 0, 0]), ValueError, "finite"),
    (np.array(["a"] * 6), TypeError, "numeric"),
    (np.ones(6, bool), TypeError, "numeric"),
])
def test_bad_read_vectors(cb, v, exc, msg):
    with pytest.raises(exc, match=msg):
        cb.read_forward(v)


@pytest.mark.parametrize("codes,exc,msg", [
    (np.full(6, 64), ValueError, r"\[-63, 63\]"),
    (np.full(6, -64), ValueError, r"\[-63, 63\]"),
    (np.full(6, 1.0), TypeError, "integer"),
    (np.ones(4, int), ValueError, r"shape \(6,\)"),
])
def test_bad_pulse_codes(cb, codes, exc, msg):
    with pytest.raises(exc, match=msg):
        cb.read_forward_pulses(codes)


def test_backward_sizes_are_the_d_side(cb):
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        cb.read_backward(np.ones(6))
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        cb.read_backward_pulses(np.ones(6, int))


def test_bad_slot_drives(cb):
    x, d = np.zeros(6, bool), np.zeros(4, bool)
    with pytest.raises(TypeError, match="x_pos must be a bool"):
        cb.apply_slot(np.zeros(6, int), x, d, d)
    with pytest.raises(ValueError, match=r"d_neg must have shape \(4,\)"):
        cb.apply_slot(x, x, d, np.zeros(6, bool))                  # x and d swapped
    with pytest.raises(ValueError, match=r"x_pos must have shape \(6,\)"):
        cb.apply_slot(np.zeros((1, 6), bool), x, d, d)             # a slot array, not a slot
    both = x.copy()
    both[1] = True
    with pytest.raises(ValueError, match="cannot be at \\+V/2 and -V/2"):
        cb.apply_slot(both, both, d, d)
    with pytest.raises(ValueError, match="same number of slots"):
        cb.apply_slots(np.zeros((3, 6), bool), np.zeros((3, 6), bool),
                       np.zeros((2, 4), bool), np.zeros((2, 4), bool))
    with pytest.raises(ValueError, match="same shape"):
        cb.apply_slots(np.zeros((3, 6), bool), np.zeros((2, 6), bool),
                       np.zeros((3, 4), bool), np.zeros((3, 4), bool))


def test_bad_weights(cb):
    with pytest.raises(ValueError, match=r"shape \(4, 6\)"):
        cb.set_weights(np.zeros((6, 4)))
    with pytest.raises(ValueError, match=r"shape \(4, 6\)"):
        cb.set_weights(0.1)
    with pytest.raises(ValueError, match="finite"):
        cb.set_weights(np.full((4, 6), np.nan))


def test_bad_constructor_arguments():
    with pytest.raises(TypeError, match="cfg"):
        Crossbar({"in_size": 6})
    with pytest.raises(TypeError, match="seed"):
        Crossbar(CFG, seed=1.5)
    with pytest.raises(ValueError, match="seed"):
        Crossbar(CFG, seed=-1)


def test_bad_multiconductance_arguments():
    mc = MultiConductanceCrossbar(CFG.replace(mc=MultiConductanceConfig(enabled=True)))
    x, d = np.zeros(6, bool), np.zeros(4, bool)
    with pytest.raises(ValueError, match="pair"):
        mc.apply_slot(x, x, d, d, pair="both")
    with pytest.raises(ValueError, match="part"):
        mc.read_forward(np.zeros(6), part="g")
    with pytest.raises(ValueError, match="column"):
        mc.reset_lsp_column(6)
    with pytest.raises(TypeError, match="column"):
        mc.reset_lsp_column(1.0)
    with pytest.raises(ValueError, match="finite"):
        mc.set_weights(np.full((4, 6), np.inf))
    with pytest.raises(ValueError, match="part"):
        Crossbar(CFG).read_forward(np.zeros(6), part="msp")


def test_bad_config_fields_are_rejected():
    with pytest.raises(ValueError, match="mc.msp_model"):
        MultiConductanceConfig(msp_model="pcm")
    with pytest.raises(ValueError, match="mc.g_max"):
        MultiConductanceConfig(g_max=0.0)
