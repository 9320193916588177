"""The tile's bit-exact reference: the periphery (noise, bound and update management, random
streams, sign phases) around a behavioural crossbar.

It is what the co-simulation compares the generated tile against (the fixed-point calls,
in the host's format) and what training-scale experiments run on (the float calls): the
same configuration and seeds give the same weights either way.  A read is
:func:`~rpu.models.ref_management.read_path` with the array's pulse read as the analog read
(a pulse-width encoder's net slots equal the DAC codes); an update is
:func:`~rpu.models.ref_management.update_codes` → the RTL's streams and phases
(:class:`~rpu.models.ref_stochastic.UpdateStreamsModel`) → the array's
``apply_phase_trains``.  Its cycle formulas are :mod:`rpu.spec.timing`'s.
"""

from __future__ import annotations

import numpy as np

from rpu.config import TileConfig, UpdateConfig, check_instance
from rpu.spec.formats import numerics, registers_from_config
from rpu.spec.timing import UPDATE_FIXED, read_cycles, transfer_cycles, update_cycles

from .clipping import ClipCounts, warn_clipped
from .crossbar import Crossbar, check_batch, check_vector
from .fused import FUSED, FusedRead, FusedUpdate, fused_supported
from .multiconductance import MultiConductanceCrossbar, PairCrossbar
from .ref_management import ReadResult, UpdateCodes, read_path, to_fixed_counted, update_codes
from .ref_stochastic import SlotDrives, UpdateStreamsModel, active_phases
from .ref_transfer import TransferEvent, TransferReference

__all__ = ["TileReference"]

_F64 = np.dtype(np.float64)

_LR = UpdateConfig.field_rules()["lr"][0]
_INPUT_HINT = ("the host format holds |v| <= {lim:g}: scale the vectors, or give the format "
               "more integer bits (value_bits, value_frac_bits)")


class TileReference:
    """``TileReference(cfg, crossbar=None, *, seed=None)``: the periphery reference driving
    ``crossbar`` (default: a :class:`~rpu.models.Crossbar`, or a
    :class:`~rpu.models.MultiConductanceCrossbar` when ``cfg.mc.enabled``, whose updates go
    to the LSP), built with model seed ``seed`` (default ``cfg.model_seed``).

    The random generators start from ``cfg.update``'s seeds, as the tile after a seed load.

    On a multi-conductance crossbar, :attr:`transfers` is the transfer sequencer's
    reference: :meth:`transfer` runs one event (as ``CTRL.op`` 3), and with
    ``auto_transfer`` (``TRANSFER_CFG.auto``, default ``mc.auto_transfer``) one runs after
    every ``mc.transfer_every`` updates, as the tile does; each update also applies the
    LSP's leakage (``mc.lsp_leak``).
    """

    def __init__(self, cfg: TileConfig, crossbar=None, *, seed: int | None = None):
        self.cfg = check_instance("cfg", cfg, TileConfig)
        self._nx = numerics(cfg)
        if crossbar is None:
            crossbar = (Crossbar if not cfg.mc.enabled else PairCrossbar if cfg.mc.pair_only
                        else MultiConductanceCrossbar)(cfg, seed=seed)
        self.crossbar = crossbar
        self.regs = registers_from_config(cfg)
        self._regs_by_lr = {cfg.update.lr: self.regs}
        self._lr = cfg.update.lr
        self.streams = UpdateStreamsModel(cfg)
        self.last_read: ReadResult | None = None
        self._last_update: UpdateCodes | None = None
        self.clips = ClipCounts()
        #: the fused update (one compiled call per update or batch, no allocation), where
        #: it reproduces the general path (:func:`~rpu.models.fused.fused_supported`)
        self.fused = FusedUpdate(self) if fused_supported(cfg, crossbar) else None
        #: the fused read (compiled per-line steps on tile-owned buffers, the same bits) of
        #: a single-device crossbar; None: ``read_path`` over the crossbar's read
        self.fused_read = FusedRead(self) if type(crossbar) is Crossbar else None
        #: the multi-conductance transfer (None on a single-pair crossbar)
        self.transfers = (TransferReference(cfg, crossbar)
                          if isinstance(crossbar, MultiConductanceCrossbar)
                          and not isinstance(crossbar, PairCrossbar) else None)
        #: cells refreshed so far (the single-pair baseline, PairCrossbar)
        self.refreshes = 0
        self.auto_transfer = bool(cfg.mc.auto_transfer)
        self.updates_since_transfer = 0
        self.last_transfer: TransferEvent | None = None
        #: transfer cycles so far (spec.timing.transfer_cycles of every event)
        self.transfer_cycles = 0
        #: cycles of the operations so far by the timing formulas (reads with their passes,
        #: updates with their phases and BL), for the transfer's share of a training run
        self.op_cycles = 0

    # -- multi-conductance transfer ------------------------------------------------------
    def transfer(self, columns: int | None = None) -> TransferEvent:
        """One transfer event (``columns`` columns, default ``mc.columns_per_transfer``)."""
        if self.transfers is None:
            raise ValueError("transfer needs a multi-conductance crossbar (mc.enabled)")
        ev = self.transfers.event(columns)
        self.transfer_cycles += transfer_cycles(self.cfg, [(c.rounds, c.pulse_slots)
                                                           for c in ev.columns])
        self.last_transfer = ev
        return ev

    def _after_update(self) -> None:
        """LSP leakage, then the automatic transfer when it is due (as the tile)."""
        codes = self.last_update
        self.op_cycles += update_cycles(self.cfg, self.phases(codes), codes.bl)
        self.last_transfer = None
        if isinstance(self.crossbar, PairCrossbar):
            self.updates_since_transfer += 1
            if self.updates_since_transfer >= self.cfg.mc.transfer_every:
                self.updates_since_transfer = 0
                self.refreshes += self.crossbar.refresh()
            return
        if self.transfers is None:
            return
        self.crossbar.leak()
        self.updates_since_transfer += 1
        if self.updates_since_transfer >= self.cfg.mc.transfer_every:
            self.updates_since_transfer = 0
            if self.auto_transfer:
                self.transfer()

    @property
    def last_update(self) -> UpdateCodes | None:
        """The codes of the last update (of the last sample of a batch)."""
        codes = self._last_update
        return self.fused.codes() if codes is FUSED else codes

    @last_update.setter
    def last_update(self, codes: UpdateCodes | None) -> None:
        self._last_update = codes

    @property
    def last_read(self) -> ReadResult | None:
        """The result of the last read (of the last row of a batch)."""
        r = self._last_read
        return self.fused_read.result() if r is FUSED else r

    @last_read.setter
    def last_read(self, r: ReadResult | None) -> None:
        self._last_read = r

    # -- weights -------------------------------------------------------------------------
    @property
    def weights(self) -> np.ndarray:
        return self.crossbar.weights

    def set_weights(self, W) -> None:
        """Program W (clipped to each device's bounds: counted in ``clips.weights_set``)."""
        self.clips.weights_set += self.crossbar.set_weights(W)

    @property
    def lr(self) -> float:
        """Learning rate of the updates (the update-management registers follow it)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = _LR.check("lr", value)
        if value != self._lr:
            self.regs = self._regs_of_lr(value)
            self._lr = value

    def _regs_of_lr(self, value: float) -> dict:
        """The registers under learning rate ``value`` (checked), kept for the next time."""
        regs = self._regs_by_lr.get(value)
        if regs is None:                # a layer's lr over its error scales: a few values
            value = _LR.check("lr", value)
            if len(self._regs_by_lr) >= 64:
                self._regs_by_lr.clear()
            regs = self._regs_by_lr[value] = registers_from_config(self.cfg, lr=value)
        return regs

    # -- host format (what the tile's streams carry) ----------------------------------------
    def forward_fixed(self, x_fixed) -> ReadResult:
        """A forward of host fixed-point ``x_fixed`` (N,): NM, BM, ADC path, as the RTL."""
        self.last_read = read_path(self.cfg, x_fixed, self.crossbar.read_forward_pulses,
                                   regs=self.regs)
        self.op_cycles += read_cycles(self.cfg, passes=self.last_read.passes)
        return self.last_read

    def backward_fixed(self, d_fixed) -> ReadResult:
        """A backward of ``d_fixed`` (M,) (no bound management)."""
        self.last_read = read_path(self.cfg, d_fixed, self.crossbar.read_backward_pulses,
                                   backward=True, regs=self.regs)
        self.op_cycles += read_cycles(self.cfg, backward=True)
        return self.last_read

    def update_fixed(self, x_fixed, d_fixed) -> tuple[UpdateCodes, SlotDrives]:
        """An update of host fixed-point vectors: ``(codes, drives)``, the drives slot by
        slot as the tile's line ports show them; the pulses are applied to the crossbar."""
        codes = update_codes(self.cfg, x_fixed, d_fixed, regs=self.regs)
        trains = self.streams.phase_trains(codes.x_codes, codes.d_codes, codes.bl)
        self.crossbar.apply_phase_trains(trains)
        self.last_update = codes
        drives = self.streams.slot_drives(trains)
        self._after_update()
        return codes, drives

    def phases(self, codes: UpdateCodes) -> int:
        """Sign phases an update with ``codes`` runs (0 when BL is 0)."""
        return len(active_phases(codes.x_codes, codes.d_codes)) if codes.bl else 0

    # -- floats (training) ---------------------------------------------------------------
    def _host(self, name: str, v, size: int, *, batch: bool) -> np.ndarray:
        """Checked float input → host fixed point, counting (and warning about) saturation."""
        a = check_batch(name, v, size) if batch else check_vector(name, v, size)
        ints, saturated = to_fixed_counted(self.cfg, a, self._nx)
        self._count_input(name, saturated, a.size)
        return ints

    def _host_rows(self, name: str, a: np.ndarray) -> np.ndarray:
        """Rows already checked (finite float64, :func:`check_batch`) → host fixed point,
        counted: the analog layer's entry, which checks its inputs once."""
        ints, saturated = to_fixed_counted(self.cfg, a, self._nx)
        self._count_input(name, saturated, a.size)
        return ints

    def read_rows(self, A: np.ndarray, backward: bool) -> np.ndarray:
        """:meth:`forward_batch` (or :meth:`backward_batch`) of checked float64 rows
        (B, lines): the layers' call, without a second check."""
        return self._read_batch(self._host_rows("d" if backward else "x", A), backward)

    def update_rows(self, A: np.ndarray, E: np.ndarray) -> None:
        """:meth:`update_batch` of checked float64 rows of equal count."""
        if self.fused is not None:
            self._fused_update(np.ascontiguousarray(A), np.ascontiguousarray(E))
            return
        for x, d in zip(self._host_rows("x", A), self._host_rows("d", E)):
            self._update(x, d)

    def read_layer_rows(self, A: np.ndarray, kind: str, backward: bool, pad: float = 0.0,
                        gamma: float = 1.0) -> np.ndarray | None:
        """The analog layers' read entry (:meth:`FusedRead.read_layer`: float64 rows, the
        bias column or the error scaling done in compiled code, the results times
        ``gamma`` and, for error rows, over their scales), counted as :meth:`read_rows`
        counts: the result rows, or ``None`` — nothing changed — where the layer must take
        :meth:`read_rows` (the same bits either way)."""
        fr = self.fused_read
        got = None if fr is None else fr.read_layer(A, kind, pad, backward, gamma)
        if got is None:
            return None
        Y, saturated, total, sums = got
        self._count_input("d" if backward else "x", saturated, total)
        self._count_fused(Y.shape[1], *sums, reads=len(Y))
        return Y

    def update_layer_rows(self, A: np.ndarray, D: np.ndarray, pad: float, um_tab: np.ndarray,
                          um_regs: list, lr_of) -> tuple | None:
        """The analog layers' update entry (:meth:`FusedUpdate.run_layer`): float64 rows
        ``A`` (the bias column ``pad`` added; NaN: none) and error rows ``D``, each scaled
        by its power 16^k, each run of equal k under learning rate ``lr_of(k)`` (its
        registers kept in ``um_tab``, its lr and register set in ``um_regs``), counted as
        :meth:`update_rows` counts; the tile's ``lr`` ends at the last run's.  Returns
        ``(updates, lines clipped, lines)``, or ``None`` — nothing changed — where the layer
        must take its general path."""
        fu = self.fused
        if fu is None:
            return None
        k_max = (um_tab.shape[0] - 1) // 2

        def fill(row: int) -> bool:
            lr = lr_of(row - k_max)
            try:
                regs = self._regs_of_lr(lr)
            except ValueError:          # an lr out of range: the general path says so
                return False
            um_tab[row] = (1, regs["um_c"], regs["um_c1"], regs["um_lr_dw"])
            um_regs[row] = (_LR.check("lr", lr), regs)
            return True

        got = fu.run_layer(A, D, pad, um_tab, fill)
        if got is None:
            return None
        b, clipped, sx, sd, phases_bl, last_k = got
        n, m = A.shape[1] + (pad == pad), D.shape[1]
        self._count_updates(b, b * n, b * m, sx, sd, clipped, phases_bl)
        self._last_update = FUSED
        self._lr, self.regs = um_regs[last_k + k_max]
        fu._regs = self.regs            # (the workspace holds the last run's registers)
        return b, clipped, b * (n + m)

    def _count_input(self, name: str, saturated: int, total: int) -> None:
        self.clips.input_values += saturated
        self.clips.input_total += total
        if saturated:
            warn_clipped(saturated, total, f"{name} values", _INPUT_HINT.format(
                lim=numerics(self.cfg).value_max / (1 << self.cfg.host.value_frac_bits)))

    def _count_read(self, r: ReadResult) -> ReadResult:
        c = self.clips
        c.reads += 1
        c.read_lines += int(np.count_nonzero(r.saturated))
        c.read_total += r.saturated.size
        c.result_values += int(np.count_nonzero(r.clipped))
        c.bm_giveups += int(r.gave_up)
        return r

    def _count_update(self, codes: UpdateCodes) -> UpdateCodes:
        c = self.clips
        c.updates += 1
        c.update_lines += codes.clipped
        c.update_total += codes.x_codes.size + codes.d_codes.size
        return codes

    def forward(self, x) -> np.ndarray:
        """y = W·x through DAC/NM/BM/ADC (float (M,)); details in ``last_read``."""
        return self._read_batch(self._host("x", x, self.cfg.in_size, batch=False)[None], False)[0]

    def backward(self, d) -> np.ndarray:
        """z = Wᵀ·d (float (N,)); details in ``last_read``."""
        return self._read_batch(self._host("d", d, self.cfg.out_size, batch=False)[None], True)[0]

    def update(self, x, d, lr: float | None = None) -> UpdateCodes:
        """Stochastic update, E[ΔW] = −lr·d·xᵀ (``lr`` sets :attr:`lr` first); returns the
        codes (also in ``last_update``)."""
        if lr is not None:
            self.lr = lr
        if self.fused is not None:
            cfg = self.cfg
            self._fused_update(_vector("x", x, cfg.in_size), _vector("d", d, cfg.out_size))
            return self.fused.codes()
        xf = self._host("x", x, self.cfg.in_size, batch=False)
        df = self._host("d", d, self.cfg.out_size, batch=False)
        return self._update(xf, df)

    def _fused_update(self, X: np.ndarray, D: np.ndarray) -> None:
        """The rows of ``X``, ``D`` (or one vector each) through :attr:`fused`, counted as
        the general path counts them; the last sample's codes become :attr:`last_update`
        (built from the workspace only when read)."""
        b = 1 if X.ndim == 1 else X.shape[0]
        if not b:
            return
        _, sx, sd, lines = self.fused.run(X, D)
        self._count_updates(b, X.size, D.size, sx, sd, lines, int(self.fused.out[12]))
        self._last_update = FUSED

    def _count_updates(self, b: int, xs: int, ds: int, sx: int, sd: int, lines: int,
                       phases_bl: int) -> None:
        """Count ``b`` fused updates of ``xs`` x and ``ds`` d values (``sx``, ``sd`` of them
        saturated, ``lines`` clipped by UM, Σ phases·BL = ``phases_bl``): the clip
        counters and the cycles of ``update_cycles`` (Σ phases·BL slots, plus the fixed
        part per sample)."""
        c = self.clips
        if sx or sd:
            self._count_input("x", sx, xs)
            self._count_input("d", sd, ds)
        else:
            c.input_total += xs + ds
        c.updates += b
        c.update_lines += lines
        c.update_total += xs + ds
        self.op_cycles += phases_bl * self.cfg.converters.slot_cycles + b * UPDATE_FIXED

    def _update(self, x_fixed, d_fixed) -> UpdateCodes:
        codes = update_codes(self.cfg, x_fixed, d_fixed, regs=self.regs)
        self.crossbar.apply_phase_trains(
            self.streams.phase_trains(codes.x_codes, codes.d_codes, codes.bl))
        self.last_update = codes
        self._after_update()
        return self._count_update(codes)

    # -- batches: B samples, applied one after another as the hardware would ------------------
    def forward_batch(self, X) -> np.ndarray:
        """Forwards of the rows of ``X`` (B, N) → (B, M), one after another (``last_read``:
        the last row's)."""
        return self._read_batch(self._host("x", X, self.cfg.in_size, batch=True), False)

    def backward_batch(self, D) -> np.ndarray:
        """Backwards of the rows of ``D`` (B, M) → (B, N)."""
        return self._read_batch(self._host("d", D, self.cfg.out_size, batch=True), True)

    def _read_batch(self, V: np.ndarray, backward: bool) -> np.ndarray:
        """Reads of host fixed-point rows, counted: the fused read's batch where there is
        one (the same bits, draws, counts and cycles as one read per row)."""
        lines = self.cfg.in_size if backward else self.cfg.out_size
        Y = np.empty((len(V), lines))
        if not len(V):
            return Y
        if self.fused_read is None:
            for b, v in enumerate(V):
                Y[b] = self._count_read(self.backward_fixed(v) if backward else self.forward_fixed(v)).y
            return Y
        self._count_fused(lines, *self.fused_read.read_batch(V, backward, Y), reads=len(V))
        return Y

    def _count_fused(self, lines: int, sat_lines: int, clipped: int, giveups: int, *,
                     reads: int = 1) -> None:
        """:meth:`_count_read` from the fused read's sums over ``reads`` reads."""
        c = self.clips
        c.reads += reads
        c.read_lines += sat_lines
        c.read_total += reads * lines
        c.result_values += clipped
        c.bm_giveups += giveups

    def update_batch(self, X, D, lr: float | None = None) -> None:
        """Updates with the rows of ``X`` (B, N) and ``D`` (B, M), sample after sample: the
        same weights as B calls of :meth:`update`."""
        if lr is not None:
            self.lr = lr
        if self.fused is not None:
            X, D = _rows("x", X, self.cfg.in_size, batch=True), _rows("d", D, self.cfg.out_size, batch=True)
            _same_rows(X, D)
            self._fused_update(X, D)
            return
        xf = self._host("x", X, self.cfg.in_size, batch=True)
        df = self._host("d", D, self.cfg.out_size, batch=True)
        _same_rows(xf, df)
        for x, d in zip(xf, df):
            self._update(x, d)


def _same_rows(X, D) -> None:
    if len(X) != len(D):
        raise ValueError(f"X and D must have the same number of rows, not {len(X)} and {len(D)}")


def _vector(name: str, v, size: int) -> np.ndarray:
    """``v`` as a float64 vector (size,) for the fused update (:func:`_rows`' checks); a
    float64 array of that shape passes as it is."""
    if type(v) is np.ndarray and v.dtype is _F64 and v.shape == (size,) and v.flags.c_contiguous:
        return v
    return _rows(name, v, size, batch=False).reshape(size)


def _rows(name: str, v, size: int, *, batch: bool) -> np.ndarray:
    """``v`` as C-contiguous float64 rows (B, size) for the fused update: the checks of
    :func:`check_vector` / :func:`check_batch` but finiteness (the kernel checks it before
    changing anything), without a copy when ``v`` is already float64."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric {'array' if batch else 'vector'}, not dtype {a.dtype}")
    if batch:
        if a.ndim == 1:
            a = a[None, :]
        if a.ndim != 2 or a.shape[1] != size:
            raise ValueError(f"{name} must have shape (B, {size}), not {np.shape(v)}")
    elif a.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), not {a.shape}")
    if a.dtype != np.float64 or not a.flags.c_contiguous:
        a = np.ascontiguousarray(a, dtype=np.float64)
    return a.reshape(-1, size)
