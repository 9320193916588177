"""Bit-exact reference of the emulated crossbar (:mod:`rpu.rtl.emulator`, a prototyping aid).

:class:`EmulatedCrossbarRef` has the crossbar interface :class:`~rpu.models.TileReference`
drives (``apply_phase_trains``, ``apply_slots``, ``read_forward_pulses``,
``read_backward_pulses``, ``weights``, ``set_weights``, ``pulse_counts``), in integers only,
so ``TileReference(cfg, crossbar=EmulatedCrossbarRef(cfg, ecfg))`` predicts the tile plus
emulator bit for bit: results, device states, pulse totals and the emulator's stall cycles.
It is not a :class:`~rpu.models.Crossbar`, so the tile takes its general (non-fused) path.
The semantics are :class:`rpu.config.EmulatorConfig`'s; formats, draw order and stall
formulas :mod:`rpu.spec.emulator`'s.
"""

from __future__ import annotations

import numpy as np

from rpu.config import EmulatorConfig, TileConfig, check_instance
from rpu.spec.emulator import (DRAW_BITS, DRAW_LEAP, EMU_LFSR_TAPS, EMU_LFSR_WIDTH, column_taps,
                               emu_format, emu_seed_state, read_stall, slot_stall)

from .crossbar import check_net_slots, check_slots, phase_slots
from .ref_stochastic import lfsr_states

__all__ = ["EmulatedCrossbarRef", "ColumnDraws", "weight_lsb"]


def weight_lsb(cfg: TileConfig, ecfg: EmulatorConfig) -> float:
    """The weight one state LSB stands for in the tile's float read convention (a code is
    ``adc_lsb`` of y = Σ w·v with v = net / dac_max): ``adc_lsb · dac_max / 2^read_shift``."""
    return cfg.adc_lsb * cfg.dac_max / (1 << ecfg.read_shift)


class ColumnDraws:
    """The emulator's random source: a 64-bit LFSR leaping 64 shifts per draw; a draw gives
    every column its 8-bit value (XOR of the column's state windows)."""

    def __init__(self, cols: int, state: int):
        taps = column_taps(cols)
        self.offsets = [np.array([t[k] if k < len(t) else 0 for t in taps], np.uint64)
                        for k in range(max(len(t) for t in taps))]
        self.used = [np.array([k < len(t) for t in taps]) for k in range(len(self.offsets))]
        self.state = state

    def take(self, count: int) -> np.ndarray:
        """The next ``count`` draws, (count, cols) int64 in 0..255, and advance."""
        if count == 0:
            return np.zeros((0, len(self.offsets[0])), np.int64)
        states, self.state = lfsr_states(self.state, EMU_LFSR_WIDTH, EMU_LFSR_TAPS, DRAW_LEAP, count)
        s = np.asarray(states, np.uint64)[:, None]
        mask = np.uint64((1 << DRAW_BITS) - 1)
        out = np.zeros((count, len(self.offsets[0])), np.uint64)
        for off, used in zip(self.offsets, self.used):
            out ^= np.where(used, (s >> off) & mask, np.uint64(0))
        return out.astype(np.int64)


def _spread(u: np.ndarray, bits: int) -> np.ndarray:
    return 2 * (u & ((1 << bits) - 1)) - ((1 << bits) - 1)


class EmulatedCrossbarRef:
    """``EmulatedCrossbarRef(cfg, ecfg=None)``: the emulator's array right after reset
    (initialised from ``ecfg.seed``).

    State: :attr:`states` (M, N) int64, :attr:`up`, :attr:`down` (the per-device steps).
    Counters (as the emulator's registers): :attr:`stall_update`, :attr:`stall_read`
    (frozen tile cycles), :attr:`slots` (slots that pulsed a row), :attr:`rows` (rows
    processed), :attr:`pulses_up`, :attr:`pulses_down`, :attr:`reads`.  (A host command
    freezes the tile for ``spec.emulator.HOST_STALL`` cycles, ``EMU_STALL_HOST``: the host
    counts its own commands.)
    """

    def __init__(self, cfg: TileConfig, ecfg: EmulatorConfig | None = None):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self.ecfg = check_instance("ecfg", EmulatorConfig() if ecfg is None else ecfg, EmulatorConfig)
        f = self.fmt = emu_format(cfg, self.ecfg)
        m, n = f.rows, f.cols
        self.draws = ColumnDraws(n, emu_seed_state(self.ecfg))
        u = self.draws.take(3 * m).reshape(m, 3, n)       # per row: init, gain, imbalance
        self.states = _spread(u[:, 0], f.init_bits)
        g, r = _spread(u[:, 1], f.gain_bits), _spread(u[:, 2], f.imbalance_bits)
        self.up = f.step + g + r
        self.down = f.step + g - r
        self._set = np.zeros((m, n), np.uint32)
        self._reset = np.zeros((m, n), np.uint32)
        self.stall_update = self.stall_read = 0
        self.slots = self.rows = self.pulses_up = self.pulses_down = self.reads = 0
        self.lsb = weight_lsb(cfg, self.ecfg)

    # -- weights -------------------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        """W (M, N) float32 = states · :func:`weight_lsb` (a copy)."""
        return (self.states * self.lsb).astype(np.float32)

    def set_weights(self, W) -> int:
        """States = round(W / weight_lsb), clipped to the state range; returns how many
        were clipped.  (The emulator itself is programmed through EMU_POKE.)"""
        W = np.asarray(W, dtype=np.float64)
        shape = (self.cfg.out_size, self.cfg.in_size)
        if W.shape != shape:
            raise ValueError(f"W must have shape {shape}, not {W.shape}")
        if not np.isfinite(W).all():
            raise ValueError("W must be finite (no NaN/inf)")
        s = np.rint(W / self.lsb)
        lim = self.fmt.state_max
        self.states = np.clip(s, -lim, lim).astype(np.int64)
        return int(np.count_nonzero(np.abs(s) > lim))

    def poke(self, row: int, col: int, value: int) -> None:
        """What ``EMU_POKE`` does to the states (clipped to the state range)."""
        lim = self.fmt.state_max
        self.states[row, col] = min(max(int(value), -lim), lim)

    @property
    def pulse_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """(potentiating, depressing) pulses per device (M, N) (model only: the gateware
        counts the totals, ``EMU_PULSES_UP`` / ``_DOWN``)."""
        return self._set.copy(), self._reset.copy()

    # -- update --------------------------------------------------------------------------
    def apply_phase_trains(self, trains) -> None:
        """An update's sign-phase trains, slot by slot in order (as the tile drives them)."""
        for t in trains:
            self.apply_slots(*phase_slots(t, self.cfg.in_size, self.cfg.out_size))

    def apply_slot(self, x_pos, x_neg, d_pos, d_neg) -> None:
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=False)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=False)
        self._slot(xp, xn, dp, dn)

    def apply_slots(self, x_pos, x_neg, d_pos, d_neg) -> None:
        """T update slots, bool (T, N), (T, N), (T, M), (T, M), in order."""
        xp, xn = check_slots(x_pos, x_neg, self.cfg.in_size, "x", slots=True)
        dp, dn = check_slots(d_pos, d_neg, self.cfg.out_size, "d", slots=True)
        if xp.shape[0] != dp.shape[0]:
            raise ValueError(f"x and d drives must cover the same number of slots, not "
                             f"{xp.shape[0]} and {dp.shape[0]}")
        for t in range(xp.shape[0]):
            self._slot(xp[t], xn[t], dp[t], dn[t])

    def _slot(self, xp, xn, dp, dn) -> None:
        """One slot: the rows with a coincidence, in ascending order, one draw each."""
        f = self.fmt
        rows = np.flatnonzero((dn & xp.any()) | (dp & xn.any()))
        k = rows.size
        self.stall_update += slot_stall(k)
        if not k:
            return
        noise = _spread(self.draws.take(k), f.noise_bits)            # (k, N)
        pu = dn[rows, None] & xp[None, :]
        pd = dp[rows, None] & xn[None, :]
        s = self.states[rows]
        delta = np.where(pu, self.up[rows] + noise, noise - self.down[rows])
        moved = np.clip(s + delta, -f.state_max, f.state_max)
        self.states[rows] = np.where(pu | pd, moved, s)
        self._set[rows] += pu.astype(np.uint32)
        self._reset[rows] += pd.astype(np.uint32)
        self.slots += 1
        self.rows += k
        self.pulses_up += int(pu.sum())
        self.pulses_down += int(pd.sum())

    # -- reads ---------------------------------------------------------------------------
    def _convert(self, acc: np.ndarray):
        f = self.fmt
        half = (1 << f.read_shift) >> 1
        codes = np.clip((acc + half) >> f.read_shift, -f.adc_max, f.adc_max)
        self.stall_read += read_stall(self.cfg, self.ecfg)
        self.reads += 1
        return codes.astype(np.int32), np.abs(codes) >= f.adc_max

    def read_forward_pulses(self, net_slots, **kw):
        """Forward read from the x-lines' net slots (N,): (codes (M,) int32, saturated)."""
        _no_part(kw)
        net = check_net_slots("net_slots", net_slots, self.cfg.in_size, self.cfg.dac_max)
        return self._convert(self.states @ net)

    def read_backward_pulses(self, net_slots, **kw):
        """Backward read from the d-lines' net slots (M,): (codes (N,) int32, saturated)."""
        _no_part(kw)
        net = check_net_slots("net_slots", net_slots, self.cfg.out_size, self.cfg.dac_max)
        return self._convert(self.states.T @ net)

    def counters(self) -> dict[str, int]:
        """The emulator's counter registers, by register name."""
        return {"EMU_STALL_UPDATE": self.stall_update, "EMU_STALL_READ": self.stall_read,
                "EMU_SLOTS": self.slots,
                "EMU_ROWS": self.rows, "EMU_PULSES_UP": self.pulses_up,
                "EMU_PULSES_DOWN": self.pulses_down, "EMU_READS": self.reads}


def _no_part(kw) -> None:
    part = kw.pop("part", "combined")
    if part != "combined" or kw:
        raise ValueError(f"part must be 'combined' for the emulated crossbar, not {part!r}")
