"""The tile's fused update: one compiled call per update (or per batch of updates) on
workspaces the tile owns, and the thread-count setting of the model's parallel kernels.

:class:`FusedUpdate` runs :func:`rpu.models.kernels.update_batch`, which does what
``to_fixed`` → ``update_codes`` → ``UpdateStreamsModel.phase_trains`` →
``Crossbar.apply_phase_trains`` do, bit for bit, without allocating anything: the c2c noise
keyed by (array key, device, pulse ordinal) makes the order in which devices are pulsed
free, so rows are pulsed device-major in blocks that own disjoint devices, one block per
thread (the same bits whatever the thread count).  A tile uses it when it can
(:func:`fused_supported`); otherwise it takes the general path.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import weakref

import numba
import numpy as np

from rpu.config import DeviceModel, IntRule, TileConfig
from rpu.spec.formats import C_FRAC, LRD_FRAC, isq_table, numerics
from rpu.spec.timing import read_cycles

from . import kernels as K
from .crossbar import Crossbar
from .ref_management import BoundState, ReadResult, UpdateCodes, nm_params, read_path

#: ``TileReference.last_update`` / ``last_read``: the fused engine's last result (built when used)
FUSED = object()
#: batches of at least this many rows are read in one compiled call
COMPILED_READ_ROWS = 2
_NONE = np.empty(0)         # no per-row result scales
_DOT_EQUAL: dict = {}       # (M, N, backward) -> the compiled product equals numpy's

__all__ = ["FUSED", "FusedUpdate", "FusedRead", "fused_supported", "set_threads", "get_threads",
           "PARALLEL_MIN_WORK"]

_STEP_MODELS = {DeviceModel.CONSTANT_STEP: K.STEP_CONSTANT, DeviceModel.LINEAR_STEP: K.STEP_LINEAR,
                DeviceModel.SOFT_BOUNDS: K.STEP_SOFT}
#: a sample whose row scan covers fewer columns than this is updated on one thread (a
#: parallel launch costs more than it saves): measured on the 2-core machine after other
#: numpy work (as in training), two threads were no faster than one at 512² (dense
#: ≈ 2¹⁷·1.7 columns, sparse ≈ 2¹⁵) and 2048² sparse (≈ 2¹⁸·1.6); small tiles never reach it
PARALLEL_MIN_WORK = 1 << 19
_MAX_THREADS = numba.config.NUMBA_NUM_THREADS
_threads = _MAX_THREADS
_exact_transcendentals: bool | None = None


def set_threads(n: int) -> None:
    """Threads of the model's parallel kernels (default: all cores, ``NUMBA_NUM_THREADS``;
    also numba's own count, ``numba.set_num_threads``, for the calling thread).  Results do
    not depend on it."""
    global _threads
    _threads = IntRule(1, _MAX_THREADS).check("threads", n)
    numba.set_num_threads(_threads)


def get_threads() -> int:
    """The thread count :func:`set_threads` set."""
    return _threads


def _transcendentals_exact() -> bool:
    """Whether the compiled log/cos equal this numpy's (checked once per process)."""
    global _exact_transcendentals
    if _exact_transcendentals is None:
        _exact_transcendentals = K.numpy_transcendentals_match()
    return _exact_transcendentals


def _um_fits(cfg: TileConfig) -> bool:
    """Whether every intermediate of the update management fits the kernel's wide integers
    (worst case: full-scale x_max, d_max, 32-bit registers)."""
    nx = numerics(cfg)
    vmax, reg = nx.value_max, (1 << 32) - 1
    c_max = max(reg, (reg * max(isq_table(nx.bl_max)) + (1 << 23)) >> 24)
    r_max = math.isqrt((vmax * vmax) << (2 * nx.um_sqrt_frac))
    pk_max = (c_max * r_max) >> nx.peak_shift
    pkd_max = (pk_max * pk_max) >> (nx.prob_bits + nx.um_peak_frac)
    recip_max = (1 << nx.recip_point)
    return (nx.gain_point + nx.prob_bits + 2 < 62 and 2 * vmax.bit_length() + 2 * nx.um_sqrt_frac < 127
            and r_max < (1 << 52) and (c_max * r_max).bit_length() < 127 and pk_max < (1 << 62)
            and (pk_max * pk_max).bit_length() < 127
            and (max(min(pkd_max, nx.gain_max), 1) * recip_max).bit_length() < 127
            and reg * vmax < (1 << 63) and LRD_FRAC + 2 * nx.frac_bits < 127
            and nx.gain_point + nx.prob_bits - C_FRAC - nx.frac_bits < 62)


def fused_supported(cfg: TileConfig, crossbar) -> bool:
    """The fused update reproduces the general path for a single-device
    :class:`~rpu.models.Crossbar` of a constant-step, linear-step or soft-bounds device
    without half-select disturb (exp_step's exp and the disturb stay on the general path),
    when this numpy's log/cos are the compiled ones and the UM integers fit."""
    return (type(crossbar) is Crossbar and cfg.device.model in _STEP_MODELS
            and cfg.device.disturb == 0 and _um_fits(cfg) and _transcendentals_exact())


_PREP = {"plain": K.PREP_PLAIN, "pad": K.PREP_PAD, "errors": K.PREP_ERRORS}
_SCALE_HP: list = []        # the layers' error scaling (peak, base exponent, k max), once


def _scale_hp() -> np.ndarray:
    if not _SCALE_HP:
        from .layers import _BASE_EXP, _K_MAX, _PEAK_EXP
        _SCALE_HP.append(np.array([_PEAK_EXP, _BASE_EXP, _K_MAX], np.int64))
    return _SCALE_HP[0]


#: bit generators :func:`_step_back` can step back (a 128-bit LCG: ``advance`` modulo 2^128)
_STEPS_BACK = (np.random.PCG64, np.random.PCG64DXSM)


_PCG_CHECKED: list = []      # the compiled normals equal numpy's (checked once)


def _pcg_normals_equal() -> bool:
    """Whether :func:`~rpu.models.kernels.pcg64_normals` draws what numpy's PCG64
    ``standard_normal`` draws (values and the state after), on 20,000 draws (about 60
    reach the ziggurat's tail or wedges' slow path)."""
    if not _PCG_CHECKED:
        ok = False
        try:
            ours, theirs = np.random.PCG64(20_000), np.random.PCG64(20_000)
            view = pcg64_state_view(ours)
            got = np.empty(20_000)
            K.pcg64_normals(view, got, 0, got.size)
            ok = (np.array_equal(got, np.random.Generator(theirs).standard_normal(got.size))
                  and ours.state == theirs.state)
        except Exception:           # noqa: BLE001 — a layout not as expected: numpy draws
            ok = False
        _PCG_CHECKED.append(ok)
    return _PCG_CHECKED[0]


def pcg64_state_view(bg) -> np.ndarray | None:
    """A uint64 view (state lo, hi, inc lo, hi) of the live state of the PCG64 ``bg``
    (numpy's ``pcg64_state`` points to its ``pcg128_t`` state and increment), or ``None``
    where ``bg`` is not a PCG64 or the memory does not hold its state as expected.  The
    view is only valid while ``bg`` lives (keep both)."""
    import ctypes
    if type(bg) is not np.random.PCG64:
        return None
    ptr = ctypes.c_void_p.from_address(bg.ctypes.state_address).value
    if not ptr:
        return None
    view = np.ctypeslib.as_array((ctypes.c_uint64 * 4).from_address(ptr))
    st = bg.state["state"]
    if (int(view[0]) | int(view[1]) << 64, int(view[2]) | int(view[3]) << 64) != (st["state"], st["inc"]):
        return None
    return view


def _step_back(rng: np.random.Generator, drawn: np.ndarray) -> None:
    """Return ``rng`` to its state before it drew ``drawn`` (its latest
    ``standard_normal`` values): the bit generator stepped back by the raw draws they took
    (one each, plus the ziggurat's rare rejections), found by drawing them again."""
    bg = rng.bit_generator
    after = bg.state
    for k in range(drawn.size, 2 * drawn.size + 64):
        trial = type(bg)()
        trial.state = after
        trial.advance((1 << 128) - k)
        before = trial.state
        if np.array_equal(np.random.Generator(trial).standard_normal(drawn.size), drawn) \
                and trial.state["state"] == after["state"]:
            bg.state = {**before, "has_uint32": after["has_uint32"], "uinteger": after["uinteger"]}
            return
    raise RuntimeError("the read's noise draws could not be stepped back")


class FusedUpdate:
    """``FusedUpdate(tile)``: the fused update of a :class:`~rpu.models.TileReference` whose
    configuration :func:`fused_supported` accepts.  It owns the workspace (one int64 array
    sized at construction, :func:`~rpu.models.kernels.ws_layout`: O(M + N + BL·N +
    threads·chunk), nothing of matrix size) and keeps the tile's stream states and registers
    in step."""

    def __init__(self, tile):
        cfg, dev = tile.cfg, tile.crossbar.devices
        nx = numerics(cfg)
        n, m = cfg.in_size, cfg.out_size
        self.tile, self.n, self.m = tile, n, m
        self.tmax = 4 * tile.streams.bl_max
        c = cfg.device
        s = tile.streams
        cu = np.concatenate([
            np.array([dev.key], np.uint64),
            s._x_cols[0].reshape(-1), s._x_cols[1].reshape(-1),
            s._d_cols[0].reshape(-1), s._d_cols[1].reshape(-1)]).astype(np.uint64)
        assert cu.size == K._TAPS + 8 * (n + m)
        at_cu = K.IP_ISQ + nx.bl_max + 1
        ip = np.zeros(at_cu + cu.size, np.int64)
        ip[[K.IP_N, K.IP_M, K.IP_P, K.IP_ONE, K.IP_SH, K.IP_GAIN_MAX, K.IP_R, K.IP_S, K.IP_T,
            K.IP_PEAK_SHIFT, K.IP_NX_BL_MAX, K.IP_DEN_BITS, K.IP_NOUM_SHIFT]] = [
            n, m, nx.prob_bits, nx.prob_one, nx.gain_point, nx.gain_max, nx.recip_point,
            nx.um_sqrt_frac, nx.um_peak_frac, nx.peak_shift, nx.bl_max, LRD_FRAC + 2 * nx.frac_bits,
            nx.gain_point + nx.prob_bits - C_FRAC - nx.frac_bits]
        ip[K.IP_MODEL] = _STEP_MODELS[c.model]
        ip[K.IP_TMAX], ip[K.IP_BLOCKS], ip[K.IP_NBLK], ip[K.IP_CU] = self.tmax, 1, _MAX_THREADS, at_cu
        f32 = np.float32
        from .devices import _ratio
        ip[K.IP_FP:K.IP_FP + 5] = np.array(
            [float(1 << nx.frac_bits), float(nx.value_max), f32(c.dw_min_std),
             f32(_ratio(c.gamma_up, c.w_max)), f32(_ratio(c.gamma_down, c.w_min))],
            np.float64).view(np.int64)
        ip[K.IP_ISQ:at_cu] = isq_table(nx.bl_max)
        ip[at_cu:] = cu.view(np.int64)
        self.ip = ip
        o = K.ws_layout(n, m, self.tmax, _MAX_THREADS)
        self.ws = ws = np.zeros(o[-1], np.int64)
        self._st = ws[0:2].view(np.uint64)
        self.out = ws[o[1]:o[2]]
        self._head = ws[o[1]:o[1] + 4]
        self._xc, self._dc = ws[o[4]:o[4] + n], ws[o[5]:o[5] + m]
        flags = ws[o[14]:o[15]].view(np.bool_)
        self._xclip, self._dclip = flags[:n], flags[n:n + m]
        self._stuck = (dev.stuck.reshape(-1) if dev.stuck is not None else np.zeros(0, np.bool_))
        self._dev = dev
        self._w_of, self._w = None, None
        self._regs = None
        self._pending = None        # weak reference to the codes object of the last update
        self._layer_bufs = {}       # rows -> run_layer's row buffers
        self._tot = np.zeros(6, np.int64)
        self._parallel = None       # (threads, minimum work) set in ``ip``

    def _load_regs(self, regs: dict) -> None:
        ip = self.ip
        ip[[K.IP_BL, K.IP_BL_MAX, K.IP_DYN, K.IP_UM, K.IP_UM_C, K.IP_UM_C1, K.IP_UM_LRDW]] = [
            regs["bl"], regs["bl_max"], regs["dyn_bl"], regs["um_enable"], regs["um_c"],
            regs["um_c1"], regs["um_lr_dw"]]
        self._regs = regs

    def run(self, X: np.ndarray, D: np.ndarray) -> list:
        """Apply the updates of float64 ``X`` (B, N), ``D`` (B, M) (or one of each, (N,) and
        (M,)); returns ``[error, x saturated, d saturated, lines clipped]`` (the start of the
        kernel's ``out``, see :func:`~rpu.models.kernels.update_batch`)."""
        self._enter()
        K.update_batch(X, D, self.ip, self.ws, self._dev._rec, self._w, self._stuck)
        head = self._head.tolist()
        if head[0]:
            raise ValueError(f"{'x' if head[0] == 1 else 'd'} must be finite (no NaN/inf)")
        self._leave()
        return head

    def run_layer(self, A: np.ndarray, D: np.ndarray, pad: float, um_tab: np.ndarray,
                  fill) -> list | None:
        """The analog layers' update (:func:`~rpu.models.kernels.update_rows_scaled`):
        float64 rows ``A`` (B, N − 1 and the bias ``pad``, or B × N with ``pad`` NaN) and
        error rows ``D`` (B, M), scaled per row, each run of equal scales one
        :func:`~rpu.models.kernels.update_batch` under the registers of its scale's lr
        (``um_tab``, rows filled by ``fill(row)`` when the kernel asks; ``fill`` returns
        False where the lr is not allowed).  Returns the kernel's totals over the runs
        (updates, lines clipped, x saturated, d saturated, Σ phases·BL, the last run's k),
        or ``None`` — nothing changed — at a non-finite value or an lr not allowed."""
        B = A.shape[0]
        self._enter()
        bufs = self._layer_bufs.get(B)
        if bufs is None:
            if len(self._layer_bufs) >= 8:
                self._layer_bufs.clear()
            bufs = self._layer_bufs[B] = (np.empty((B, self.n)), np.empty((B, self.m)), np.empty(B))
        F, E, scales = bufs
        tot = self._tot
        while True:
            status = K.update_rows_scaled(A, D, pad, _scale_hp(), um_tab, F, E, scales, tot,
                                          self.ip, self.ws, self._dev._rec, self._w, self._stuck)
            if status <= 0:
                break
            if not fill(status - 1):
                return None
        if status < 0:
            return None
        self._leave()
        return tot.tolist()

    def _enter(self) -> None:
        """Before a kernel call: the registers, the last codes settled, the weights' flat
        view, the stream states and the thread setting in the workspace."""
        tile = self.tile
        if tile.regs is not self._regs:
            self._load_regs(tile.regs)
        if self._pending is not None:           # the last update's codes, if still held
            codes = self._pending()
            if codes is not None:
                codes._fill()
            self._pending = None
        dev = self._dev
        if dev.w is not self._w_of:
            self._w_of, self._w = dev.w, dev.w.reshape(-1)
        s, st = tile.streams, self._st
        st[0], st[1] = s.x_state, s.d_state
        if self._parallel != (_threads, PARALLEL_MIN_WORK):
            self._parallel = (_threads, PARALLEL_MIN_WORK)
            self.ip[K.IP_BLOCKS], self.ip[K.IP_MIN_WORK] = self._parallel

    def _leave(self) -> None:
        s, st = self.tile.streams, self._st
        s.x_state, s.d_state = int(st[0]), int(st[1])

    def codes(self) -> UpdateCodes:
        """The :class:`UpdateCodes` of the last sample, copied out of the workspace when
        first used (or before the next update, if still referenced)."""
        codes = self._pending() if self._pending is not None else None
        if codes is None:
            codes = _FusedCodes(_engine=self)
            self._pending = weakref.ref(codes)
        return codes

    def _fields(self) -> dict:
        xm, dm, gx, gd, bl, err, clipped = self.out[4:11].tolist()
        return dict(x_codes=self._xc.copy(), d_codes=self._dc.copy(), bl=bl, clipped=clipped,
                    x_clip=self._xclip.copy(), d_clip=self._dclip.copy(), x_max=xm, d_max=dm,
                    gain_x=gx, gain_d=gd, bl_error=bool(err))

    def last_codes(self):
        """(x_codes, d_codes, x_clip, d_clip) of the last sample, as copies."""
        return self._xc.copy(), self._dc.copy(), self._xclip.copy(), self._dclip.copy()


class _Deferred:
    """Mixin of a result dataclass (``_base``) whose fields are copied out of an engine's
    buffers on first access (``engine._fields()``; the engine fills it before it overwrites
    them), so a result nobody reads copies nothing.  Fields set at creation stay."""

    _base: type

    def __init__(self, *args, _engine=None, **kw):
        if _engine is None:
            self._base.__init__(self, *args, **kw)
        else:
            self.__dict__["_engine"] = _engine

    def _fill(self) -> None:
        engine = self.__dict__.pop("_engine", None)
        if engine is not None:
            self.__dict__.update(engine._fields())

    def __getattr__(self, name):        # only for attributes not set yet: the fields
        if name.startswith("__") or "_engine" not in self.__dict__:
            raise AttributeError(name)
        self._fill()
        return getattr(self, name)

    def __reduce__(self):
        self._fill()
        return self._base, tuple(getattr(self, f.name) for f in dataclasses.fields(self._base))


class _FusedCodes(_Deferred, UpdateCodes):
    """The :class:`UpdateCodes` of a :class:`FusedUpdate`'s last sample."""

    _base = UpdateCodes


class FusedRead:
    """``FusedRead(tile)``: the forward and backward of a :class:`~rpu.models.TileReference`
    on a single-device :class:`~rpu.models.Crossbar`, as ``read_path`` over
    ``Readout.read`` computes them, bit for bit: the per-line steps (DAC codes and the
    float32 input, noise, bound, ADC and saturation, result scaling) in compiled loops on
    buffers the tile owns, the product ``W·v`` by numpy's own matmul into a buffer, the
    noise by the crossbar's own generator into a buffer (the same draws); the arrays kept
    in ``last_read`` (O(M + N) each) are the only allocation, nothing of matrix size.
    Where an intermediate could pass the compiled kernels' 128 bits it defers to
    ``read_path``."""

    def __init__(self, tile):
        cfg = tile.cfg
        self.tile, self.cfg, self.nx = tile, cfg, numerics(cfg)
        self._xb = tile.crossbar
        n, m = cfg.in_size, cfg.out_size
        io = cfg.io
        self._v = {False: np.empty(n, np.float32), True: np.empty(m, np.float32)}
        self._y = {False: np.empty(m, np.float32), True: np.empty(n, np.float32)}
        self._nz_w = {b: np.empty(k if io.w_noise > 0 else 0) for b, k in ((False, m), (True, n))}
        self._nz_o = {b: np.empty(k if io.out_noise > 0 else 0) for b, k in ((False, m), (True, n))}
        self._w_noise, self._out_noise = float(io.w_noise), float(io.out_noise)
        self._bound, self._lsb = float(io.out_bound), float(cfg.adc_lsb)
        self._code_max = float(cfg.adc_max)
        self._frac = float(1 << self.nx.frac_bits)
        self._cycles = {}
        lines = {False: m, True: n}
        self._dac = {b: np.empty(n if not b else m, np.int64) for b in (False, True)}
        self._adc = {b: np.empty(lines[b], np.int64) for b in (False, True)}
        self._sat = {b: np.empty(lines[b], np.bool_) for b in (False, True)}
        self._yfix = {b: np.empty(lines[b], np.int64) for b in (False, True)}
        self._clip = {b: np.empty(lines[b], np.bool_) for b in (False, True)}
        self._regs_of, self._read_regs, self._param_cache = None, None, {}
        self._bm_on, self._cap = False, 1     # of the registers ``_regs_of``
        self._dot_ok = [None, None]     # forward, backward: :meth:`_dot_equal`, once
        self._rows_of = {}          # (backward, BM on, cap) -> the compiled batch's arrays
        self._rows_sums = np.zeros(8, np.int64)
        self._rows_at = np.array([0, 0, 0, 0, 1], np.int64)    # (row, pass, used, drawn, fresh)
        self._plans = {}            # read_layer's arguments per (direction, kind, pad, rows, …)
        self._noise_buf = np.empty(0)
        self._pcg = None            # (bit generator, its state view or None): _normals
        self._read_fp = np.array([self._out_noise, self._bound, self._lsb, self._code_max,
                                  self._frac])
        self._bufs = {b: (self._v[b], self._y[b], self._nz_w[b], self._nz_o[b], self._dac[b],
                          self._adc[b], self._sat[b], self._yfix[b], self._clip[b])
                      for b in (False, True)}
        #: the last read: (backward, passes, gave up, α, nm_params or None, regs, history)
        self._last = None
        self._held = None           # weak reference to its ReadResult, once built
        self._prep_of, self._prep_fps = {}, {}  # read registers -> prep_rows' parameters; pad -> floats

    def _read_cycles(self, backward: bool, passes: int) -> int:
        key = (backward, passes)
        c = self._cycles.get(key)
        if c is None:
            c = self._cycles[key] = read_cycles(self.cfg, backward=backward, passes=passes)
        return c

    def _params_cache(self, regs: dict) -> dict:
        """alpha → (nm_params, whether the compiled steps hold every intermediate) under
        ``regs`` (kept while the read registers stay: an lr change does not clear it)."""
        if regs is not self._regs_of:
            read_regs = (regs["nm_mode"], regs["out_scale"], regs["bm_max_passes"])
            if read_regs != self._read_regs:
                self._read_regs, self._param_cache = read_regs, {}
            self._regs_of = regs
            self._bm_on = bool(regs["bm_enable"])
            self._cap = BoundState.clamp(regs["bm_max_passes"])
        return self._param_cache

    def _params(self, alpha: int, regs: dict) -> tuple[dict, bool]:
        """The entry of :meth:`_params_cache` for ``alpha``, computed and kept."""
        nx = self.nx
        p = nm_params(nx, alpha, regs["nm_mode"], regs["out_scale"])
        cap = BoundState.clamp(regs["bm_max_passes"])
        ok = not ((nx.value_max * nx.dac_max).bit_length() + max(p["in_mul"], 1).bit_length() >= 126
                  or p["in_shift"] + cap >= 126 or p["out_mul"] >= (1 << 63)
                  or nx.out_scale_frac >= 126
                  or nx.adc_max.bit_length() + max(p["out_mul"], 1).bit_length() + p["out_exp"]
                  + cap + 1 >= 127)
        got = self._param_cache[alpha] = (p, ok, (p["in_mul"], p["in_shift"], p["out_mul"],
                                                   p["out_exp"]) if ok else None)
        return got

    def _dot_equal(self, backward: bool) -> bool:
        """Whether the compiled ``np.dot`` gives numpy's float32 product for this tile's
        shape and direction, bit for bit (both call BLAS ``sgemv``; checked once per shape
        on random data, as the fused update checks its log and cos)."""
        m, n = self.cfg.out_size, self.cfg.in_size
        key = (m, n, backward)
        got = _DOT_EQUAL.get(key)
        if got is None:
            rng = np.random.default_rng(key)
            w = rng.standard_normal((m, n)).astype(np.float32)
            w = w.T if backward else w
            v = rng.uniform(-1, 1, (8, w.shape[1])).astype(np.float32)
            mine = np.empty(w.shape[0], np.float32)
            got = True
            for row in v:
                K.matvec_into(w, row, mine)
                got = got and np.array_equal(mine.view(np.uint32), np.matmul(w, row).view(np.uint32))
            _DOT_EQUAL[key] = got
        return got

    def _rows_arrays(self, backward: bool, bm_on: bool, cap: int) -> tuple:
        """:func:`~rpu.models.kernels.read_rows`' integer parameters, pass histories, pass
        counts and cycles per pass count for a direction and BM setting (made once)."""
        key = (backward, bm_on, cap)
        arrays = self._rows_of.get(key)
        if arrays is None:
            nx, dac, adc = self.nx, self._dac[backward], self._adc[backward]
            arrays = self._rows_of[key] = (
                np.array([nx.dac_max, nx.adc_max, nx.out_scale_frac, nx.result_max, bm_on, cap,
                          self._nz_o[backward].size != 0], np.int64),
                np.empty((cap, dac.size), np.int64), np.empty((cap, adc.size), np.int64),
                np.empty(cap + 1, np.int64),
                np.array([0] + [self._read_cycles(backward, p) for p in range(1, cap + 1)], np.int64))
        return arrays

    def _normals(self, rng, noise: np.ndarray, start: int, count: int) -> None:
        """``noise[start:start+count]`` = ``rng.standard_normal(count)``: compiled on the
        generator's own state where it is a PCG64 (:func:`pcg64_state_view`; about 2× as
        fast at a read's few hundred draws), else numpy's."""
        bg = rng.bit_generator
        pcg = self._pcg
        if pcg is None or pcg[0] is not bg:
            view = pcg64_state_view(bg) if _pcg_normals_equal() else None
            pcg = self._pcg = (bg, view)
        if pcg[1] is None:
            rng.standard_normal(out=noise[start:start + count])
        else:
            K.pcg64_normals(pcg[1], noise, start, count)

    def _draw(self, rng, per: int, B: int) -> np.ndarray:
        """The noise buffer with the draws of ``B`` rows of one pass each at its start."""
        noise = self._noise_buf
        if B * per > noise.size:
            noise = self._noise(B * per, 0, 0)
        self._normals(rng, noise, 0, B * per)
        self._rows_at[3] = B * per
        return noise

    def _retry(self, rng, per: int, B: int) -> np.ndarray:
        """After a compiled read stopped for noise (``_rows_at``): the unused draws moved to
        the buffer's start and exactly the draws of the passes now certain to run added."""
        at = self._rows_at
        b, _, used, drawn, _ = at.tolist()
        more = per * (B - b) - (drawn - used)
        noise = self._noise(more, used, drawn)
        at[2], at[3] = 0, drawn - used + more
        self._normals(rng, noise, drawn - used, more)
        return noise

    def _finish(self, backward: bool, hist_dac, hist_adc, alpha: int, params) -> tuple:
        """The last read's record and the tile's cycles after a compiled read; returns
        (saturated lines, clipped results, BM give-ups)."""
        sat_lines, clipped, giveups, last_passes, gave_up, cycles, _, _ = self._rows_sums.tolist()
        tile = self.tile
        tile.op_cycles += cycles
        tile.last_read = FUSED
        self._last = (backward, last_passes, gave_up != 0, alpha, params, tile.regs,
                      [(hist_dac[j].copy(), hist_adc[j].copy()) for j in range(last_passes - 1)]
                      if last_passes > 1 else [])
        return sat_lines, clipped, giveups

    def _read_rows(self, X, backward, Y, w, rng, P, last_params, alpha_last, bm_on, cap):
        """:meth:`read_batch` in one compiled call (:func:`~rpu.models.kernels.read_rows`).
        The output noise is drawn ahead in numpy, exactly the draws the rows are sure to
        use (one pass each), and topped up, again exactly, when a retry needs more: the
        values and the generator's state end as with one draw per pass."""
        v, y32, nz_w, nz_o, dac, adc, sat, yfix, clip = self._bufs[backward]
        ip, hist_dac, hist_adc, passes, cycles = self._rows_arrays(backward, bm_on, cap)
        sums, at = self._rows_sums, self._rows_at
        B, per = len(P), nz_o.size
        noise = self._draw(rng, per, B)
        while not K.read_rows(X, w, noise, P, ip, self._read_fp, Y, dac, v, y32, nz_w, adc, sat,
                              yfix, clip, hist_dac, hist_adc, passes, sums, at, cycles, _NONE,
                              math.nan):
            noise = self._retry(rng, per, B)
        return self._finish(backward, hist_dac, hist_adc, alpha_last, last_params)

    def _noise(self, more: int, used: int, drawn: int) -> np.ndarray:
        """The noise buffer with the unused draws ``[used, drawn)`` moved to its start and
        room for ``more`` after them."""
        keep = drawn - used
        buf = self._noise_buf
        if keep + more > buf.size:
            grown = np.empty(max(keep + more, 2 * buf.size))
            grown[:keep] = buf[used:drawn]
            self._noise_buf = grown
            return grown
        if keep:
            buf[:keep] = buf[used:drawn].copy()
        return buf

    def read(self, x: np.ndarray, backward: bool) -> ReadResult:
        """The read of host fixed-point ``x`` (int64, within the value format), as
        ``TileReference.forward_fixed`` / ``backward_fixed``: sets ``last_read`` and counts
        the cycles (not the clip counters: :meth:`read_batch` returns them)."""
        y = np.empty((1, self._y[backward].size))
        self.read_batch(x.reshape(1, -1), backward, y)
        return self.tile.last_read

    def read_batch(self, X: np.ndarray, backward: bool, Y: np.ndarray) -> tuple[int, int, int]:
        """The reads of the rows of host fixed-point ``X`` (B ≥ 1, int64) one after another
        into the float rows of ``Y``: the same bits, generator draws and cycles as one
        ``read_path`` per row, one compiled step per pass and line loop on reused buffers.
        Sets ``last_read`` to the last row's :class:`ReadResult` (its arrays copied out of
        the buffers when first used, or before the next read) and returns the saturated
        lines, clipped results and BM give-ups of all rows (the tile's counters)."""
        tile, nx = self.tile, self.nx
        self._settle()
        regs = tile.regs
        params = self._params_cache(regs)
        bm_on, cap = self._bm_on and not backward, self._cap
        alphas = K.row_abs_max(X).tolist()
        v, y32, nz_w, nz_o, dac, adc, sat, yfix, clip = self._bufs[backward]
        w = self._xb.devices.w
        w = w.T if backward else w
        rng = self._xb._readout.rng
        has_w, has_o = nz_w.size != 0, nz_o.size != 0
        dac_max, q, rmax, frac = nx.dac_max, nx.out_scale_frac, nx.result_max, self._frac
        sat_lines = clipped = giveups = cycles = 0
        last = X.shape[0] - 1
        cycles_of = self._cycles
        dot_ok = self._dot_ok[backward]
        if dot_ok is None:
            dot_ok = self._dot_ok[backward] = self._dot_equal(backward)
        if len(alphas) >= COMPILED_READ_ROWS and not has_w and dot_ok:
            # (the weight noise needs the norm of v numpy's way: it stays per row below)
            rows = [params.get(a) or self._params(a, regs) for a in alphas]
            packed = [r[2] for r in rows]             # None: a wide intermediate
            if None not in packed:
                P = np.fromiter(itertools.chain.from_iterable(packed), np.int64,
                                4 * len(packed)).reshape(-1, 4)
                return self._read_rows(X, backward, Y, w, rng, P, rows[-1][0], alphas[-1],
                                       bm_on, cap)
        for b, alpha in enumerate(alphas):
            got = params.get(alpha)
            p, ok, _ = got if got is not None else self._params(alpha, regs)
            if not ok:                  # a wide intermediate: the general path
                xb = self._xb
                r = read_path(self.cfg, X[b], xb.read_backward_pulses if backward
                              else xb.read_forward_pulses, backward=backward, regs=regs)
                Y[b] = r.y
                sat_lines += int(np.count_nonzero(r.saturated))
                clipped += int(np.count_nonzero(r.clipped))
                giveups += int(r.gave_up)
                cycles += self._read_cycles(backward, r.passes)
                if b == last:
                    tile.last_read = r
                continue
            x, in_mul, in_shift = X[b], p["in_mul"], p["in_shift"]
            k, history = 0, []
            while True:
                K.read_dac_into(x, dac_max, in_mul, in_shift + k, dac, v)
                np.matmul(w, v, out=y32)
                wn = 0.0
                if has_w:
                    wn = self._w_noise * float(np.linalg.norm(v))
                    rng.standard_normal(out=nz_w)
                if has_o:
                    rng.standard_normal(out=nz_o)
                n_sat = K.read_adc_into(y32, wn, nz_w, self._out_noise, nz_o, self._bound,
                                        self._lsb, self._code_max, nx.adc_max, adc, sat)
                if bm_on and n_sat and k + 1 < cap:
                    if b == last:
                        history.append((dac.copy(), adc.copy()))
                    k += 1
                    continue
                break
            gave_up = bool(bm_on and n_sat)
            sat_lines += n_sat
            giveups += gave_up
            clipped += K.read_results_into(adc, p["out_mul"], p["out_exp"] + k, q, rmax, frac,
                                           yfix, clip, Y[b])
            c = cycles_of.get((backward, k + 1))
            cycles += c if c is not None else self._read_cycles(backward, k + 1)
            if b == last:
                self._last = (backward, k + 1, gave_up, alpha, p, regs, history)
                tile.last_read = FUSED
        tile.op_cycles += cycles
        return sat_lines, clipped, giveups

    def read_layer(self, A: np.ndarray, kind: str, pad: float, backward: bool, gamma: float):
        """The analog layers' read: float64 rows ``A`` (C-contiguous) prepared and read in
        one compiled call (:func:`~rpu.models.kernels.read_layer_rows`: the bias column or
        the error scaling, host fixed point, noise-management parameters, then the rows
        read as :meth:`read_batch` reads them, the results times ``gamma`` — and over the
        rows' error scales): the same bits, draws and cycles as the layer's per-step path.
        Returns ``(Y, saturated inputs, inputs, (saturated lines, clipped results, BM
        give-ups))``, or ``None`` — before anything changed — where it does not apply
        (weight noise, a product that is not numpy's, an intermediate that could pass the
        compiled kernels' 128 bits, a non-finite value, no rows): the caller takes its
        general path."""
        B = A.shape[0]
        key = (backward, kind, pad, B, A.shape[1], gamma)
        plan = self._plans.get(key)
        if plan is None or plan[0] is not self.tile.regs or plan[1] is not self._xb.devices.w:
            plan = self._plan(key, plan)
            if plan is None:
                return None
        if self._held is not None:
            self._settle()
        _, _, args, rng, per, y_lines, hist_dac, hist_adc, inputs, _ = plan
        Y = np.empty((B, y_lines))
        # The rows' noise is drawn before the call that checks them; a non-finite row then
        # steps the generator back (it must end as if nothing was read).  A generator that
        # cannot step back gets a first call that only checks and prepares.
        first = type(rng.bit_generator) not in _STEPS_BACK
        if first:
            noise, self._rows_at[3] = self._noise_buf, 0
        else:
            noise = self._draw(rng, per, B)
        while True:
            done = K.read_layer_rows(A, noise, Y, *args)
            if done:
                break
            noise = self._draw(rng, per, B) if first else self._retry(rng, per, B)
            first = False
        sums = self._rows_sums
        if done < 0:
            if self._rows_at[3]:
                _step_back(rng, noise[:self._rows_at[3]])
            return None
        counts = self._finish(backward, hist_dac, hist_adc, int(sums[6]), None)
        return Y, int(sums[7]), inputs, counts

    def _plan(self, key: tuple, plan: list | None) -> list | None:
        """:meth:`read_layer`'s arguments for ``key`` (direction, kind, pad, rows, width,
        gamma) under the tile's registers and weights: ``plan`` (the last ones) where the
        weights and the read registers are the same, else made anew; ``None`` where the
        compiled read does not apply."""
        regs = self.tile.regs
        self._params_cache(regs)
        read_regs = (self._read_regs, self._bm_on, self._cap)
        if plan is not None and plan[1] is self._xb.devices.w and plan[9] == read_regs:
            plan[0] = regs              # (another lr: the read is the same)
            return plan
        backward, kind, pad, B, width, gamma = key
        if not B or self._nz_w[backward].size:
            return None
        dot_ok = self._dot_ok[backward]
        if dot_ok is None:
            dot_ok = self._dot_ok[backward] = self._dot_equal(backward)
        if not dot_ok:
            return None
        hp = self._prep_of.get(self._read_regs)
        if hp is None:
            hp = self._prep_of[self._read_regs] = self._prep_params(regs)
        if hp is False:
            return None
        lines = self._v[backward].size
        F, V = np.empty((B, lines)), np.empty((B, lines), np.int64)
        P, alphas, scales = np.empty((B, 4), np.int64), np.empty(B, np.int64), np.empty(B)
        v, y32, nz_w, nz_o, dac, adc, sat, yfix, clip = self._bufs[backward]
        ip, hist_dac, hist_adc, passes, cycles = self._rows_arrays(backward, self._bm_on and not backward,
                                                                   self._cap)
        w_src = self._xb.devices.w
        w = w_src.T if backward else w_src
        args = (_PREP[kind], hp, self._prep_fp(pad), F, V, P, alphas, scales, w, ip, self._read_fp,
                dac, v, y32, nz_w, adc, sat, yfix, clip, hist_dac, hist_adc, passes,
                self._rows_sums, self._rows_at, cycles, gamma)
        if len(self._plans) >= 16:
            self._plans.clear()
        plan = self._plans[key] = [regs, w_src, args, self._xb._readout.rng, nz_o.size,
                                   self._y[backward].size, hist_dac, hist_adc, F.size, read_regs]
        return plan

    def _prep_params(self, regs: dict):
        """:func:`~rpu.models.kernels.prep_rows`' integer parameters under ``regs``, or
        ``False`` where some α's noise-management parameters would not fit the compiled
        read (checked at the extremes α = 1 and α = value_max: each parameter is monotone
        in α) or the reciprocal does not fit 63 bits."""
        nx = self.nx
        if nx.recip_point > 62 or not all(
                (self._param_cache.get(a) or self._params(a, regs))[1] for a in (1, nx.value_max)):
            return False
        return np.concatenate([np.array([regs["nm_mode"], regs["out_scale"], nx.frac_bits,
                                         nx.recip_point], np.int64), _scale_hp()])

    def _prep_fp(self, pad: float) -> np.ndarray:
        fp = self._prep_fps.get(pad)
        if fp is None:
            fp = self._prep_fps[pad] = np.array([pad, self._frac, float(self.nx.value_max)])
        return fp

    def _settle(self) -> None:
        """Copy the last read's arrays into its ReadResult, if one is still held."""
        r = self._held() if self._held is not None else None
        if r is not None:
            r._fill()
        self._held = None

    def result(self) -> ReadResult:
        """The :class:`ReadResult` of the last read (its arrays copied out of the buffers
        when first used, or before the next read, if still referenced)."""
        r = self._held() if self._held is not None else None
        if r is None:
            r = _DeferredRead(_engine=self)
            _, passes, gave_up, alpha, params, regs, _ = self._last
            if params is None:          # (a layer read: its α's parameters, as computed then)
                params = nm_params(self.nx, alpha, regs["nm_mode"], regs["out_scale"])
            r.__dict__.update(passes=passes, gave_up=gave_up, alpha=alpha, k=passes - 1,
                              params=dict(params))
            self._held = weakref.ref(r)
        return r

    def _fields(self) -> dict:
        backward, history = self._last[0], self._last[6]
        dac, adc = self._dac[backward].copy(), self._adc[backward].copy()
        yfix = self._yfix[backward].copy()
        return dict(y_fixed=yfix, y=yfix / self._frac, saturated=self._sat[backward].copy(),
                    clipped=self._clip[backward].copy(), adc_codes=adc, dac_codes=dac,
                    history=history + [(dac, adc)])


class _DeferredRead(_Deferred, ReadResult):
    """The :class:`ReadResult` of a :class:`FusedRead`'s last read."""

    _base = ReadResult
