"""The multi-conductance transfer's reference: weight preservation, polarity, refresh,
non-convergence counting, the automatic interval, and the cycle formula's inputs."""

import numpy as np
import pytest

from rpu.config import DeviceConfig, MultiConductanceConfig, TileConfig
from rpu.models import MultiConductanceCrossbar, TileReference
from rpu.models.ref_transfer import TransferReference, carry, pulse_counts
from rpu.spec.formats import transfer_format, transfer_registers

#: a linear (constant-step) MSP so the closed loop converges in a few rounds; PCM-like
#: (exp_step) MSPs are exercised by the refresh and training tests
DEV = DeviceConfig(dw_min=0.002, dw_min_std=0.1, w_max_dtod=0.05)


def tile(m=6, n=4, *, noise=0.0, device=DEV, **mc):
    mc = {"msp_model": "constant_step", **mc}
    return TileConfig(in_size=n, out_size=m, device=device, out_noise=noise,
                      mc=MultiConductanceConfig(enabled=True, **mc))


def programmed(cfg, seed=0, lsp=0.1):
    xb = MultiConductanceCrossbar(cfg)
    rng = np.random.default_rng(seed)
    shape = (cfg.out_size, cfg.in_size)
    xb.set_pair("msp", rng.uniform(0, 0.12, shape), rng.uniform(0, 0.12, shape))
    xb.set_pair("lsp", rng.uniform(0, lsp, shape), rng.uniform(0, lsp, shape))
    return xb


def quantisation_bound(cfg):
    """Worst true-weight error of a converged cell beyond the tolerance: every read rounds
    to half an ADC step (adc_lsb / gain in device units), three MSP reads (G⁺, G⁻, the
    last verify) weigh F, two LSP reads (l, r) 1 (their carries are l/F: F·(1/F))."""
    lsb = cfg.adc_lsb / transfer_format(cfg).gain
    return (1.5 * cfg.mc.significance + 1.0) * lsb


def test_carry_and_pulse_count_rounding():
    assert carry(np.array([3, -3, 0, 5]), 1 << 15).tolist() == [2, -2, 0, 3]   # half away
    e = np.array([10, -10, 1, 0, 1000])
    n = pulse_counts(e, np.array([1, 1, 1, 0, 1], bool), inv_step=1 << 14, max_pulses=8)
    assert n.tolist() == [3, 3, 1, 0, 8]                                       # ceil, clamp


def test_a_full_sweep_keeps_the_weight_within_tolerance_noise_free():
    cfg = tile()
    xb = programmed(cfg)
    ref = TransferReference(cfg, xb)
    w0, lsp0 = xb.weights.astype(np.float64), xb.weights_lsp
    assert np.abs(lsp0).max() > 0.05                                           # a real carry
    ev = ref.event(columns=cfg.in_size)
    w1 = xb.weights.astype(np.float64)
    converged = np.ones_like(w0, bool)
    for c in ev.columns:
        outside = np.abs(c.error) > transfer_registers(cfg)["tolerance"]
        converged[:, c.column] = ~outside
    assert converged.all() and ref.counters["nonconverged"] == 0
    bound = cfg.mc.transfer_tolerance + quantisation_bound(cfg)
    assert np.abs(w1 - w0).max() <= bound, np.abs(w1 - w0).max()
    assert np.abs(xb.weights_lsp).max() < 0.05                                 # LSP reset
    assert np.all(xb.polarity == -1) and ev.sweeps_done == 1                   # every p flipped
    assert ref.counters["columns"] == cfg.in_size and ref.counters["rounds"] == sum(ev.rounds)
    assert max(ev.rounds) >= 1


def test_without_the_reset_residue_read_the_weight_moves():
    """The read after the reset is what keeps W through the polarity flip: the same sweep
    with the residue's carry left out moves some cell by more than the bound (reset_std
    0.05: a residue of several tolerances)."""
    cfg = tile(device=DEV.replace(reset_std=0.05))
    bound = cfg.mc.transfer_tolerance + quantisation_bound(cfg)
    errs = {}
    for broken in (False, True):
        xb = programmed(cfg, seed=3)
        ref = TransferReference(cfg, xb)
        if broken:
            real = ref._read
            ref._read = lambda j, part, rec: (0 * real(j, part, rec)
                                             if part == 2 and len(rec.reads) == 3 else real(j, part, rec))
        w0 = xb.weights.astype(np.float64)
        ref.event(columns=cfg.in_size)
        errs[broken] = np.abs(xb.weights - w0).max()
    assert errs[False] <= bound < errs[True], errs


def test_noisy_reads_keep_the_weight_within_tolerance_plus_read_noise():
    """With the default output noise (σ 0.06 before the ADC, σ/gain in device units) the
    loop verifies noisy reads: cells stay within tol + quantisation + 4 σ·(F·√3 + √2)/gain
    (five reads' noise, 4 σ over 24 cells)."""
    cfg = tile(noise=0.06)
    xb = programmed(cfg, seed=1)
    ref = TransferReference(cfg, xb)
    w0 = xb.weights.astype(np.float64)
    ref.event(columns=cfg.in_size)
    g = transfer_format(cfg).gain
    F = cfg.mc.significance
    bound = (cfg.mc.transfer_tolerance + quantisation_bound(cfg)
             + 4 * 0.06 * (F * np.sqrt(3) + np.sqrt(2)) / g)
    assert np.abs(xb.weights - w0).max() <= bound


def test_refresh_resets_a_pair_near_g_max_and_reprograms_the_difference():
    cfg = tile(msp_model="exp_step", device=DEV.replace(reset_std=0.002, w_max_dtod=0.0),
               max_iterations=16, max_pulses=32)
    xb = programmed(cfg, seed=2)
    gp, gm = xb.devices["G+"].w.copy(), xb.devices["G-"].w.copy()
    gp[:3, 1] = 0.195
    gm[:3, 1] = 0.19                                       # both above 0.9·g_max = 0.18
    xb.set_pair("msp", gp, gm)
    thr = transfer_registers(cfg)["refresh_thr"]
    ref = TransferReference(cfg, xb)
    w0 = xb.weights.astype(np.float64)
    ref.event(columns=2)
    assert ref.counters["refreshes"] == 3
    assert np.all(xb.devices["G+"].w[:3, 1] < 0.1) and np.all(xb.devices["G-"].w[:3, 1] < 0.1)
    assert xb.devices["G+"].reset_counts[:3, 1].tolist() == [1, 1, 1]
    assert xb.devices["G+"].reset_counts[3:, 1].sum() == 0
    bound = cfg.mc.transfer_tolerance + quantisation_bound(cfg)
    conv = ref.counters["nonconverged"] == 0
    assert conv and np.abs(xb.weights[:, :2] - w0[:, :2]).max() <= bound
    assert thr == round(0.9 * 0.2 * transfer_format(cfg).unit)


def test_rows_that_do_not_converge_are_counted():
    cfg = tile(max_iterations=1, max_pulses=1)
    xb = programmed(cfg, seed=4, lsp=0.2)
    ref = TransferReference(cfg, xb)
    ev = ref.event(columns=cfg.in_size)
    assert all(r == 1 for r in ev.rounds)
    assert ref.counters["nonconverged"] == sum(c.nonconverged for c in ev.columns) > 0


def test_events_walk_the_columns_and_count_sweeps():
    cfg = tile(n=5, columns_per_transfer=2)
    ref = TransferReference(cfg, programmed(cfg))
    cols = [c.column for _ in range(3) for c in ref.event().columns]
    assert cols == [0, 1, 2, 3, 4, 0] and ref.counters["sweeps"] == 1


def test_tile_reference_transfers_every_interval():
    cfg = tile(transfer_every=3)
    ref = TileReference(cfg)
    rng = np.random.default_rng(5)
    events = []
    for k in range(7):
        ref.update(rng.uniform(-1, 1, cfg.in_size), rng.uniform(-1, 1, cfg.out_size))
        events.append(ref.last_transfer is not None)
    assert events == [False, False, True, False, False, True, False]
    assert ref.transfers.counters["events"] == 2 and ref.transfer_cycles > 0
    off = TileReference(cfg.replace(mc=cfg.mc.replace(auto_transfer=False)))
    for k in range(4):
        off.update(rng.uniform(-1, 1, cfg.in_size), rng.uniform(-1, 1, cfg.out_size))
    assert off.transfers.counters["events"] == 0
    with pytest.raises(ValueError, match="multi-conductance"):
        TileReference(TileConfig(in_size=4, out_size=4)).transfer()
