"""The model's compiled kernels (numba), apart from the physics that calls them.

Every kernel here is the only implementation of its step (``tests/test_model_kernels.py``
compares each with a slow oracle).  They use integer and correctly rounded IEEE arithmetic
only (+, ×, sqrt, floor, explicit single-rounding FMAs; no FMA contraction, no fastmath), so
the results do not depend on the compiler's libm: the general path leaves every
transcendental to numpy, the fused update uses exact copies of numpy's float32 log and cos
(equal on every input the c2c draw produces; exp_step's exp stays numpy's).  ``cache=True``: the first use in an environment compiles them (a few seconds), later
processes load the cache, which lives in a per-user folder (``$NUMBA_CACHE_DIR`` if set,
else ``$XDG_CACHE_HOME/rpu-periphery/numba`` or ``~/.cache/rpu-periphery/numba``) and never
inside the installed package.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path


def _cache_dir() -> str:
    """A writable per-user folder for numba's cache (first that works)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    for cand in (os.path.join(base, "rpu-periphery", "numba"),
                 os.path.join(tempfile.gettempdir(), f"rpu-periphery-numba-{os.getuid()}")):
        try:
            Path(cand).mkdir(parents=True, exist_ok=True)
            if os.access(cand, os.W_OK):
                return cand
        except OSError:
            continue
    return ""


# before numba reads its configuration: a user's own NUMBA_CACHE_DIR wins
os.environ.setdefault("NUMBA_CACHE_DIR", _cache_dir())
# the parallel kernels' thread pool: numba's own work queue degrades to about one thread's
# speed when other processes hold the cores, where OpenMP's spinning barriers took 2-4x
# longer than one thread (measured, 2 loaded cores); a user's own setting wins
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")

import numba  # noqa: E402
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.core import cgutils, types  # noqa: E402
from numba.extending import intrinsic, overload  # noqa: E402

numba.core.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]     # numba imported earlier
# numba does not launch its thread pool when it loads a cached kernel that calls a
# ``parallel=True`` one (numba issues #8578 and #9938): such a kernel, loaded first in a
# process, called address 0 (a cache of one process's 1-D update plus another's batch
# update, then a third process's batch update crashed).  Launch it before any kernel runs.
numba.get_num_threads()

__all__ = ["to_fixed", "abs_max", "prob_codes", "lfsr_states", "fire_bits", "span", "coincide",
           "uniforms_of", "xi_of", "pulse_plan", "apply_steps", "REC_FIELDS", "REC_SET"]

REC_FIELDS, REC_SET = 6, 4   # device record: 4 float32 parameters, then set and reset counters
_SET = REC_SET

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_GOLD, _ODD = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xD6E8FEB86659FD93)
_U24 = np.uint64(0xFFFFFF)
_F24 = np.float32(2.0 ** -24)
_TWO_PI = np.float32(2.0 * np.pi)
_AHEAD = 16     # prefetch distance (elements) of the sparse record and weight accesses


# -- host formats and management (ref_management) ------------------------------------------

@numba.njit(cache=True)
def to_fixed(a, scale, vmax):
    """±min(floor(|a·scale| + 0.5), vmax) as int64 (float64 steps, all exact but the + 0.5,
    which rounds as IEEE does everywhere); ok = False if an element is not finite; the number
    of elements saturated at ±vmax (beyond the format's range)."""
    out = np.empty(a.size, np.int64)
    ok = True
    saturated = 0
    for i in range(a.size):
        v = a[i] * scale
        ok &= np.isfinite(v)
        mag = np.floor(abs(v) + 0.5)
        if mag > vmax:
            saturated += 1
            mag = vmax
        out[i] = -np.int64(mag) if v < 0 else np.int64(mag)
    return out, ok, saturated


@numba.njit(cache=True)
def abs_max(v):
    """max |v| of an int64 vector (0 when empty)."""
    top = abs(v[0]) if v.size else 0
    for i in range(1, v.size):
        top = max(top, abs(v[i]))
    return top


@numba.njit(cache=True)
def scale_errors(D, peak_exp, base_exp, k_max, E, scales):
    """Per row of ``D`` (B, M), the power s = 2^(base_exp·k) (|k| ≤ ``k_max``) that puts
    max|d| into (2^(peak_exp − base_exp), 2^peak_exp] (s = 1 for a zero row), exactly (by
    the exponent of max|d|); writes ``E`` = s·D and ``scales``.  Returns False (nothing
    written past the row) at a non-finite value."""
    for b in range(D.shape[0]):
        top = 0.0
        for i in range(D.shape[1]):
            v = D[b, i]
            if not np.isfinite(v):
                return False
            top = max(top, abs(v))
        k = 0
        if top > 0.0:
            m, e = math.frexp(top)          # top = m·2^e, m in [0.5, 1)
            # the largest k with m·2^(e + base_exp·k) <= 2^peak_exp
            k = (peak_exp + (1 if m == 0.5 else 0) - e) // base_exp
            k = min(max(k, -k_max), k_max)
        s = math.ldexp(1.0, base_exp * k)
        scales[b] = s
        for i in range(D.shape[1]):
            E[b, i] = D[b, i] * s
    return True


@numba.njit(cache=True)
def pad_rows(a, pad, out):
    """``out[:, :N] = a``, ``out[:, N] = pad`` for float64 ``a`` (B, N); whether every
    element of ``a`` is finite (a layer's input rows with its bias column, checked)."""
    finite = True
    n = a.shape[1]
    for b in range(a.shape[0]):
        for i in range(n):
            v = a[b, i]
            finite &= np.isfinite(v)
            out[b, i] = v
        out[b, n] = pad
    return finite


@numba.njit(cache=True)
def row_abs_max(a):
    """max |a[b, :]| of each row of an int64 matrix (B,) (0 for empty rows)."""
    out = np.zeros(a.shape[0], np.int64)
    for b in range(a.shape[0]):
        top = 0
        for i in range(a.shape[1]):
            top = max(top, abs(a[b, i]))
        out[b] = top
    return out


@numba.njit(cache=True)
def prob_codes(v, gain, sh, one):
    """:func:`prob_codes` in int64, for 2·max|v|·gain + 2^sh < 2^63."""
    codes, clips = np.empty(v.size, np.int64), np.empty(v.size, np.bool_)
    half = np.int64(1) << sh
    for i in range(v.size):
        mag = (abs(v[i]) * gain * 2 + half) >> (sh + 1)
        clips[i] = mag > one
        mag = min(mag, one)
        codes[i] = -mag if v[i] < 0 else mag
    return codes, clips


# -- random streams (ref_stochastic) ---------------------------------------------------------

@numba.njit(cache=True)
def lfsr_states(state, table, count):
    out = np.empty(count, np.uint64)
    for n in range(count):
        out[n] = state
        nxt = np.uint64(0)
        for c in range(table.shape[0]):
            nxt ^= table[c, (state >> np.uint64(8 * c)) & np.uint64(0xFF)]
        state = nxt
    return out, state


@numba.njit(cache=True)
def fire_bits(states, offsets, masks, codes, block_signs):
    """``(T, lines)`` fire bits: line i fires in slot t iff its draw (XOR of its state windows
    ``(state >> o) & mask``, (o, mask) from :func:`_tap_columns`) is below ``codes[i]·s``, s
    the sign of the slot's block (blocks of T / len(block_signs) slots; s = 0: below
    ``codes[i]``).  The line loop is branch-free (vectorised)."""
    slots, lines = states.size, codes.size
    block = slots // block_signs.size
    lim = np.empty(lines, np.int64)
    out = np.empty((slots, lines), np.bool_)
    for t in range(slots):
        if t % block == 0:
            sign = block_signs[t // block]
            for i in range(lines):      # lim <= 0: never fires (draws are >= 0)
                lim[i] = codes[i] if sign == 0 else codes[i] * sign
        st = states[t]
        for i in range(lines):          # MAX_TERMS = 4 terms, unrolled
            r = (((st >> offsets[0, i]) & masks[0, i]) ^ ((st >> offsets[1, i]) & masks[1, i])
                 ^ ((st >> offsets[2, i]) & masks[2, i]) ^ ((st >> offsets[3, i]) & masks[3, i]))
            out[t, i] = np.int64(r) < lim[i]
    return out


@numba.njit(cache=True)
def span(a):
    """(min(0, min a), max(0, max a)) of an int64 vector."""
    lo = hi = 0
    for v in a:
        lo, hi = min(lo, v), max(hi, v)
    return lo, hi


# -- coincidences (crossbar) ----------------------------------------------------------------

@numba.njit(inline="always")
def _popcount(v):
    v = v - ((v >> np.uint64(1)) & np.uint64(0x5555555555555555))
    v = (v & np.uint64(0x3333333333333333)) + ((v >> np.uint64(2)) & np.uint64(0x3333333333333333))
    v = (v + (v >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (v * np.uint64(0x0101010101010101)) >> np.uint64(56)


@numba.njit(cache=True)
def coincide(a_events, b_events, slots, m, n):
    """:func:`coincidences` of one chunk of T <= 64 slots from its line events (flat indices
    t·M + i of the row trains, t·N + j of the column trains, ascending): (flat, k, t)."""
    rows_w, cols_w = np.zeros(m, np.uint64), np.zeros(n, np.uint64)     # packed trains
    a_start, b_start = np.zeros(slots + 1, np.intp), np.zeros(slots + 1, np.intp)
    for e in a_events:
        rows_w[e % m] |= np.uint64(1) << np.uint64(e // m)
        a_start[e // m + 1] += 1
    for e in b_events:
        cols_w[e % n] |= np.uint64(1) << np.uint64(e // n)
        b_start[e // n + 1] += 1
    total = 0
    for t in range(slots):
        total += a_start[t + 1] * b_start[t + 1]
        a_start[t + 1] += a_start[t]
        b_start[t + 1] += b_start[t]
    flat, k, ts = np.empty(total, np.intp), np.empty(total, np.uint8), np.empty(total, np.intp)
    p = 0
    for t in range(slots):
        before = (np.uint64(1) << np.uint64(t)) - np.uint64(1)
        lo, hi = b_start[t], b_start[t + 1]
        for e in range(a_start[t], a_start[t + 1]):
            i = a_events[e] - t * m
            base, earlier = i * n - t * n, rows_w[i] & before   # the row's earlier slots
            for q in range(lo, hi):                              # branch-free: vectorised
                j = b_events[q]                                  # = t·N + column
                flat[p + q - lo] = base + j
                k[p + q - lo] = _popcount(earlier & cols_w[j - t * n])
                ts[p + q - lo] = t
            p += hi - lo
    return flat, k, ts


# -- device pulses (devices) -------------------------------------------------------------

@intrinsic
def _prefetch(typingctx, arr, i):
    """Hint the CPU to fetch the cache line of ``arr[i]`` (row i of a 2-D array): LLVM's
    ``llvm.prefetch`` (read, keep in all levels), a hint that never faults or changes data."""
    if not isinstance(arr, types.Array) or not isinstance(i, types.Integer):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        inds = [context.cast(builder, args[1], sig.args[1], types.intp)]
        inds += [context.get_constant(types.intp, 0)] * (aryty.ndim - 1)
        ptr = cgutils.get_item_pointer2(context, builder, data=ary.data,
                                        shape=cgutils.unpack_tuple(builder, ary.shape),
                                        strides=cgutils.unpack_tuple(builder, ary.strides),
                                        layout=aryty.layout, inds=inds, wraparound=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen


@numba.njit(inline="always")
def _mix64(z):
    """splitmix64 finaliser (uint64, wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@numba.njit(inline="always")
def _uniforms(key, device, ordinal):
    """Box–Muller's inputs (float32) of one c2c draw: u1 in (0, 1) and θ = 2π·u2, u2 in
    [0, 1), from two 24-bit uniforms (exact in float32)."""
    z = _mix64(_mix64(np.uint64(device) * _GOLD + key) ^ (np.uint64(ordinal) * _ODD))
    u1 = (np.float32(z >> np.uint64(40)) + np.float32(0.5)) * _F24
    u2 = np.float32((z >> np.uint64(16)) & _U24) * _F24
    return u1, u2 * _TWO_PI


@numba.njit(inline="always")
def _xi(ln_u1, cos_theta):
    """Box–Muller's float32 sqrt(−2·ln u1)·cos θ from numpy's ln u1 and cos θ."""
    return np.sqrt(ln_u1 * np.float32(-2.0)) * cos_theta


@numba.njit(cache=True)
def uniforms_of(key, device, ordinal):
    u1 = np.empty(device.size, np.float32)
    theta = np.empty(device.size, np.float32)
    for e in range(device.size):
        u1[e], theta[e] = _uniforms(key, device[e], ordinal[e])
    return u1, theta


@numba.njit(cache=True)
def xi_of(ln_u1, cos_theta):
    out = np.empty(ln_u1.size, np.float32)
    for e in range(out.size):
        out[e] = _xi(ln_u1[e], cos_theta[e])
    return out


@numba.njit(cache=True)
def pulse_plan(rec, par, idx, k, up, unidirectional, stuck, key):
    """Prepare :meth:`DeviceArray.pulse_sequence`: count every pulse in ``rec`` (set/reset
    counters) and return the pulses that change w (not on stuck devices, not depressing a
    unidirectional one) grouped by round k: ``bounds`` (round r = [bounds[r], bounds[r+1])),
    device, direction, signed step (+dw_up / −dw_down), the device's bounds and the c2c
    inputs (u1, θ) of the pulse's ordinal (the device's pulse count before it; the elements
    come in time order, k[e] = the device's earlier elements)."""
    n = idx.size
    rounds = k.max() + 1
    bounds = np.zeros(rounds + 1, np.intp)     # round sizes (a sequential pass)
    for e in range(n):
        if (stuck.size == 0 or not stuck[idx[e]]) and (up[e] or not unidirectional):
            bounds[k[e] + 1] += 1
    for r in range(rounds):
        bounds[r + 1] += bounds[r]
    m = bounds[rounds]
    fill = bounds[:-1].copy()
    o_idx, o_up = np.empty(m, np.intp), np.empty(m, np.bool_)
    dw, lo, hi = np.empty(m, np.float32), np.empty(m, np.float32), np.empty(m, np.float32)
    u1, theta = np.empty(m, np.float32), np.empty(m, np.float32)
    for e in range(n):                         # one visit per record: count, then plan
        if e + _AHEAD < n:
            _prefetch(rec, idx[e + _AHEAD])
        i = idx[e]
        # the count read includes the device's k earlier pulses of this call
        count = np.uint64(rec[i, _SET]) + np.uint64(rec[i, _SET + 1])
        rec[i, _SET + (0 if up[e] else 1)] += 1
        if (stuck.size == 0 or not stuck[i]) and (up[e] or not unidirectional):
            q = fill[k[e]]
            fill[k[e]] += 1
            o_idx[q], o_up[q] = i, up[e]
            dw[q] = par[i, 0] if up[e] else -par[i, 1]
            lo[q], hi[q] = par[i, 2], par[i, 3]
            u1[q], theta[q] = _uniforms(key, i, count)
    return bounds, o_idx, o_up, dw, lo, hi, u1, theta


@numba.njit(cache=True)
def apply_steps(wf, idx, step, ln_u1, cos_theta, sigma, lo, hi):
    """wf[idx] = clip(wf[idx] + step·(1 + σ·ξ), lo, hi) in float32 (ξ = :func:`_xi`, the
    clip as numpy's maximum/minimum), element by element in order."""
    one = np.float32(1.0)
    for e in range(idx.size):
        if e + _AHEAD < idx.size:
            _prefetch(wf, idx[e + _AHEAD])
        i = idx[e]
        v = wf[i] + step[e] * (_xi(ln_u1[e], cos_theta[e]) * sigma + one)
        v = v if v > lo[e] else lo[e]
        wf[i] = v if v < hi[e] else hi[e]



# == the fused paths: one compiled entry per update (batch) and per read ==================
#
# Exact copies of numpy's float32 log and cos (the c2c noise's transcendentals), so the
# noise can be drawn inside the fused update: numpy's SIMD kernels on x86-64 with FMA
# (``loops_exponent_log.dispatch.c.src``: simd_log_FLOAT; ``loops_trigonometric.dispatch.cpp``:
# simd_sincos_f32, compiled with FP contraction, so its quadrant is one fused multiply-add).
# Both algorithms are re-implemented with explicit single-rounding FMAs (llvm.fma, never a
# contraction) and are bit-identical to numpy on *every* input the c2c draw can produce
# (2^24 values each; ``tests/test_model_fused.py`` checks all of them, and
# :func:`numpy_transcendentals_match` checks a sample at run time: where numpy computes
# differently, the fused path is not used).

@intrinsic
def _fma32(typingctx, a, b, c):
    """Single-rounding float32 a·b + c (LLVM's ``llvm.fma.f32``: the FMA instruction)."""
    sig = types.float32(types.float32, types.float32, types.float32)

    def codegen(context, builder, signature, args):
        f = ir.FloatType()
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f, [f, f, f]),
                                            "llvm.fma.f32")
        return builder.call(fn, args)

    return sig, codegen


@intrinsic
def _bits32(typingctx, a):
    """The uint32 bit pattern of a float32."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.uint32(types.float32), codegen


@intrinsic
def _float32_of(typingctx, a):
    """The float32 with bit pattern ``a`` (uint32)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.uint32), codegen


def _f32s(*values):
    return tuple(np.float32(float.fromhex(v) if isinstance(v, str) else v) for v in values)


_LOG_P = _f32s(0.0, 9.999999999999998702752e-01, 2.112677543073053063722e+00,
               1.480000633576506585156e+00, 3.808837741388407920751e-01, 2.589979117907922693523e-02)
_LOG_Q = _f32s(1.0, 2.612677543073109236779e+00, 2.453006071784736363091e+00,
               9.864942958519418960339e-01, 1.546476374983906719538e-01, 5.875095403124574342950e-03)
_LP0, _LP1, _LP2, _LP3, _LP4, _LP5 = _LOG_P
_LQ0, _LQ1, _LQ2, _LQ3, _LQ4, _LQ5 = _LOG_Q
_LN2, _SQRT1_2 = _f32s(0.693147180559945309417232121458176568, 0.707106781186547524400844362104849039)
_ONE32, _ZERO32 = np.float32(1.0), np.float32(0.0)
_TWO_OVER_PI, _RINT_MAGIC = _f32s("0x1.45f306p-1", "0x1.8p+23")
_PIO2_HI, _PIO2_MED, _PIO2_LO = _f32s("-0x1.921fb0p+00", "-0x1.5110b4p-22", "-0x1.846988p-48")
_COS8, _COS6, _COS4, _COS2, _COS0 = _f32s("0x1.98e616p-16", "-0x1.6c06dcp-10", "0x1.55553cp-05",
                                          "-0x1.000000p-01", "0x1.000000p+00")
_SIN9, _SIN7, _SIN5, _SIN3 = _f32s("0x1.7d3bbcp-19", "-0x1.a06bbap-13", "0x1.11119ap-07",
                                   "-0x1.555556p-03")
_MANT, _EXP_HALF = np.uint32(0x7FFFFF), np.uint32(126 << 23)
_U23, _I126 = np.uint32(23), np.int32(126)


@numba.njit(inline="always")
def log_pos32(x):
    """numpy's float32 ``log`` of a positive normal float32: mantissa in [½, 1) (doubled,
    exponent lowered, at or below √½), then P(x−1)/Q(x−1) + e·ln 2 (degree-5 rationals)."""
    b = _bits32(x)
    e = np.float32(np.int32(b >> _U23) - _I126)
    m = _float32_of((b & _MANT) | _EXP_HALF)
    if m <= _SQRT1_2:
        m = m + m
        e = e - _ONE32
    t = m - _ONE32
    num = _fma32(_fma32(_fma32(_fma32(_fma32(_LP5, t, _LP4), t, _LP3), t, _LP2), t, _LP1), t, _LP0)
    den = _fma32(_fma32(_fma32(_fma32(_fma32(_LQ5, t, _LQ4), t, _LQ3), t, _LQ2), t, _LQ1), t, _LQ0)
    return _fma32(e, _LN2, num / den)


@numba.njit(inline="always")
def cos_small32(x):
    """numpy's float32 ``cos`` for |x| <= 71476 (Cody–Waite reduction by π/2 in three
    parts, sine/cosine polynomials, quadrant select and sign)."""
    q = _fma32(x, _TWO_OVER_PI, _RINT_MAGIC) - _RINT_MAGIC
    r = _fma32(q, _PIO2_LO, _fma32(q, _PIO2_MED, _fma32(q, _PIO2_HI, x)))
    r2 = r * r
    c = _fma32(_fma32(_fma32(_fma32(_COS8, r2, _COS6), r2, _COS4), r2, _COS2), r2, _COS0)
    s = _fma32(_fma32(_fma32(_fma32(_fma32(_SIN9, r2, _SIN7), r2, _SIN5), r2, _SIN3), r2, _ZERO32), r, r)
    iq = np.int32(q) + np.int32(1)
    v = s if (iq & np.int32(1)) == 0 else c
    return _ZERO32 - v if (iq & np.int32(2)) == 2 else v


@numba.njit(cache=True, error_model="numpy")
def log_cos_of(u1, theta, ln_out, cos_out):
    """:func:`log_pos32` and :func:`cos_small32` element-wise (the tests' and the run-time
    check's entry)."""
    for e in range(u1.size):
        ln_out[e] = log_pos32(u1[e])
        cos_out[e] = cos_small32(theta[e])


def numpy_transcendentals_match() -> bool:
    """Whether this numpy's float32 log/cos equal :func:`log_pos32` / :func:`cos_small32`
    on a sample of the c2c inputs (every 61st of the 2^24 of each, and the quadrant ties)."""
    k = np.arange(0, 1 << 24, 61, dtype=np.float32)
    u1 = (k + np.float32(0.5)) * _F24
    theta = (k * _F24) * _TWO_PI
    theta = np.concatenate([theta, np.float32([3.926991, 0.7853982, 2.3561945, 5.497787])])
    u1 = np.resize(u1, theta.size)
    ln, cs = np.empty_like(u1), np.empty_like(theta)
    log_cos_of(u1, theta, ln, cs)
    return bool(np.array_equal(ln.view(np.uint32), np.log(u1).view(np.uint32))
                and np.array_equal(cs.view(np.uint32), np.cos(theta).view(np.uint32)))


# -- exact wide integers: unsigned 128-bit values as (hi, lo) uint64 pairs -----------------

_M32, _S32, _S64 = np.uint64(0xFFFFFFFF), np.uint64(32), np.uint64(64)
_U0, _U1 = np.uint64(0), np.uint64(1)


@numba.njit(inline="always")
def _mul_wide(a, b):
    """The full product of two uint64 as (hi, lo)."""
    a0, a1, b0, b1 = a & _M32, a >> _S32, b & _M32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32), (p00 & _M32) | (mid << _S32)


@numba.njit(inline="always")
def _shl_wide(hi, lo, s):
    """(hi, lo) << s, 0 <= s < 128 (bits above 128 dropped)."""
    s = np.uint64(s)
    if s == _U0:
        return hi, lo
    if s >= _S64:
        return lo << (s - _S64), _U0
    return (hi << s) | (lo >> (_S64 - s)), lo << s


@numba.njit(inline="always")
def _shr_wide(hi, lo, s):
    """(hi, lo) >> s, 0 <= s < 128."""
    s = np.uint64(s)
    if s == _U0:
        return hi, lo
    if s >= _S64:
        return _U0, hi >> (s - _S64)
    return hi >> s, (lo >> s) | (hi << (_S64 - s))


@numba.njit(inline="always")
def _add_wide(h1, l1, h2, l2):
    lo = l1 + l2
    return h1 + h2 + (_U1 if lo < l1 else _U0), lo


@numba.njit(inline="always")
def _cap_wide(hi, lo, cap):
    """min((hi, lo), cap) as int64 (cap < 2^63)."""
    return cap if hi != _U0 or lo > np.uint64(cap) else np.int64(lo)


@numba.njit(inline="always")
def _round_shift_mul(a, g, s):
    """round(a·g / 2^s), halves up (a, g >= 0): (2·a·g + 2^s) >> (s + 1), as (hi, lo)."""
    hi, lo = _mul_wide(np.uint64(a), np.uint64(g))
    hi, lo = _shl_wide(hi, lo, 1)
    h2, l2 = _shl_wide(_U0, _U1, s)
    hi, lo = _add_wide(hi, lo, h2, l2)
    return _shr_wide(hi, lo, s + 1)


@numba.njit(inline="always")
def _isqrt_wide(hi, lo):
    """floor(sqrt((hi, lo))) for a root below 2^52: float estimate, then exact correction."""
    r = np.uint64(np.sqrt(np.float64(hi) * 18446744073709551616.0 + np.float64(lo)))
    while True:                                  # r² > v: too large
        h, l = _mul_wide(r, r)
        if h > hi or (h == hi and l > lo):
            r -= _U1
        else:
            break
    while True:                                  # (r+1)² <= v: too small
        h, l = _mul_wide(r + _U1, r + _U1)
        if h < hi or (h == hi and l <= lo):
            r += _U1
        else:
            break
    return r


# -- update management in int64 / wide integers (ref_management.um_gains) --------------------

# integer parameters of a fused tile (one int64 array; TileEngine fills it)
(IP_N, IP_M, IP_P, IP_ONE, IP_SH, IP_GAIN_MAX, IP_R, IP_S, IP_T, IP_PEAK_SHIFT, IP_NX_BL_MAX,
 IP_DEN_BITS, IP_NOUM_SHIFT, IP_BL, IP_BL_MAX, IP_DYN, IP_UM, IP_UM_C, IP_UM_C1, IP_UM_LRDW,
 IP_MODEL, IP_TMAX, IP_BLOCKS, IP_NBLK, IP_MIN_WORK, IP_CU, IP_FP) = range(27)
#: float parameters (float64 bits at ``IP_FP``): host scale and saturation, c2c σ,
#: linear-step slopes (float32 values)
FP_SCALE, FP_VMAX, FP_SIGMA, FP_SLOPE_UP, FP_SLOPE_DOWN = range(5)
IP_ISQ = IP_FP + 5      # then the 1/sqrt(BL) table, then the stream constants at ``IP_CU``
#: fused step models (DeviceArray._step, exactly)
STEP_CONSTANT, STEP_LINEAR, STEP_SOFT = 0, 1, 2


@numba.njit(inline="always")
def _recip(ip, a):
    return ((np.int64(1) << ip[IP_R]) - 1) // a + 1


@numba.njit(inline="always")
def _gain(ip, pk, a):
    hi, lo = _mul_wide(np.uint64(pk), np.uint64(_recip(ip, a)))
    return _cap_wide(hi, lo, ip[IP_GAIN_MAX])


@numba.njit(cache=True)
def um_gains(xm, dm, ip):
    """:func:`rpu.models.ref_management.um_gains` in exact wide integers: (gain_x, gain_d,
    bl, bl_error), for the parameter ranges :func:`um_fits` accepts."""
    bl_max, bl = ip[IP_BL_MAX], ip[IP_BL]
    dyn, um = ip[IP_DYN] != 0, ip[IP_UM] != 0
    if not (1 <= bl_max <= ip[IP_NX_BL_MAX]) or (not dyn and not 1 <= bl <= bl_max):
        return np.int64(0), np.int64(0), bl, True
    if dyn:
        hi, lo = _mul_wide(np.uint64(ip[IP_UM_LRDW] * xm), np.uint64(dm))
        qh, ql = _shr_wide(hi, lo, ip[IP_DEN_BITS])
        bh, bl_ = _shl_wide(qh, ql, ip[IP_DEN_BITS])
        if bh != hi or bl_ != lo:                           # ceiling
            qh, ql = _add_wide(qh, ql, _U0, _U1)
        bl = max(_cap_wide(qh, ql, bl_max), 1)
        c = (ip[IP_UM_C1] * ip[IP_ISQ + bl] + (np.int64(1) << 23)) >> 24
    else:
        c = ip[IP_UM_C]
    if not um:
        k = ip[IP_NOUM_SHIFT]
        g = ip[IP_GAIN_MAX] if c > (ip[IP_GAIN_MAX] >> k) else min(c << k, ip[IP_GAIN_MAX])
        return g, g, bl, False
    if xm == 0 or dm == 0:
        return np.int64(0), np.int64(0), bl, False
    hi, lo = _mul_wide(np.uint64(xm), np.uint64(dm))
    hi, lo = _shl_wide(hi, lo, 2 * ip[IP_S])
    r = _isqrt_wide(hi, lo)
    hi, lo = _mul_wide(np.uint64(c), r)
    _, pk = _shr_wide(hi, lo, ip[IP_PEAK_SHIFT])
    pk = np.int64(pk)
    one = np.int64(1) << (ip[IP_P] + ip[IP_T])
    if pk > one:
        hi, lo = _mul_wide(np.uint64(pk), np.uint64(pk))
        hi, lo = _shr_wide(hi, lo, ip[IP_P] + ip[IP_T])
        # capped at gain_max: the gain min(pkd·recip, gain_max) is the same (recip >= 1)
        pkx, pkd = one, _cap_wide(hi, lo, ip[IP_GAIN_MAX])
    else:
        pkx = pkd = pk
    return _gain(ip, pkx, xm), _gain(ip, pkd, dm), bl, False


@numba.njit(inline="always")
def _prob_codes_into(v, gain, ip, codes, clips):
    """:func:`rpu.models.ref_management.prob_codes` into ``codes``/``clips``; returns the
    number clipped."""
    sh, one = ip[IP_SH], ip[IP_ONE]
    top = abs_max(v)
    if top == 0:
        gain = 0
    n = 0
    narrow = top == 0 or (gain < (np.int64(1) << 62) // top
                          and 2 * top * gain < (np.int64(1) << 62) - (np.int64(1) << sh))
    half = np.int64(1) << sh if sh < 62 else np.int64(0)
    for i in range(v.size):
        a = abs(v[i])
        if narrow:
            mag = (a * gain * 2 + half) >> (sh + 1)
        else:
            hi, lo = _round_shift_mul(a, gain, sh)
            mag = _cap_wide(hi, lo, one + 1)
        clip = mag > one
        mag = min(mag, one)
        codes[i] = -mag if v[i] < 0 else mag
        clips[i] = clip
        n += clip
    return n


@numba.njit(inline="always")
def _to_fixed_into(a, out, scale, vmax):
    """:func:`to_fixed` of one row into ``out``; returns the number saturated."""
    saturated = 0
    for i in range(a.size):
        v = a[i] * scale
        mag = np.floor(abs(v) + 0.5)
        if mag > vmax:
            saturated += 1
            mag = vmax
        out[i] = -np.int64(mag) if v < 0 else np.int64(mag)
    return saturated


@numba.njit(inline="always")
def _all_finite(a):
    for v in a.flat:
        if not np.isfinite(v):
            return False
    return True


# -- the fused update: codes → streams → coincidences → pulses, no allocation ----------------
#
# Every device receives the pulses of one update in one phase and one direction (a line
# fires only in the phases of its sign, and the four phases are the four sign pairs), so
# n_ij = popcount(A_i & B_j) over the packed fire words of its lines, and only the order
# of each device's own pulses matters (their c2c ordinals).  The array is therefore
# processed row by row, in blocks of rows that own disjoint devices: the same bits
# whatever the number of blocks or threads, and whatever order the blocks run in.
#
# A row is cut into chunks of at most ``_CHUNK`` pulsed devices (a list in the block's
# workspace, small enough to stay in L1).  A dense row's chunk is found by scanning
# ``_CHUNK`` consecutive columns (counts by popcount, a branch-free compaction: the devices'
# records are consecutive), a sparse row's by the columns that fire in the row's slots
# (records prefetched).  The pulsed devices of sparse rows, and of rows narrower than
# ``_CHUNK``, share a list with the next rows' until it is full (fewer, fuller rounds; the
# devices are distinct, so the bits stay the same).  A chunk is then pulsed in rounds: round k takes every listed
# device with more than k pulses, draws the c2c noise of its ordinal c0 + k in loops the
# compiler vectorises (hash, ln u1, cos θ), and applies the step, noise and clip; the
# devices with pulses left are compacted (branch-free) for the next round.

from rpu.spec.streams import D_TAPS as _D_TAPS, D_WIDTH as _D_WIDTH  # noqa: E402
from rpu.spec.streams import PHASES as _PHASES, X_TAPS as _X_TAPS, X_WIDTH as _X_WIDTH  # noqa: E402

_PH_X = np.array([p[0] for p in _PHASES], np.int64)      # sign of x that fires, per phase
_PH_D = np.array([p[1] for p in _PHASES], np.int64)
_ONEBIT = np.uint64(1)
_KEY, _TAPS = 0, 1                                        # layout of the constants ``cu``
_X_MASK = np.uint64((1 << _X_WIDTH) - 1)
_D_MASK = np.uint64((1 << _D_WIDTH) - 1)
_CHUNK = 256        # devices per pulse list (its arrays, ~14 KiB, stay in L1)
_EVENT_COST = 2     # a sparse row's candidate costs about this many dense columns (A/B: 2 beats 1 and 4)
_OUT = 13           # words of ``out``
_U40, _U16 = np.uint64(40), np.uint64(16)
_HALF32 = np.float32(0.5)


@numba.njit(inline="always")
def _ctz(v):
    """Index of the lowest set bit of a non-zero uint64."""
    return np.int64(_popcount((v & (~v + _ONEBIT)) - _ONEBIT))


@numba.njit(cache=True)
def ws_layout(n, m, tmax, blocks):
    """Offsets (int64 words) of the regions of :func:`update_batch`'s workspace ``ws``, the
    last entry its size: st (2), out, xf, df, xc, dc, xup, x_act, d_act, start, cost, parts,
    plist, lim, xclip/dclip/event (bytes), x_states, d_states, xw, dw, cols, rows, idx
    (int32), then ``blocks`` pulse-list blocks of :func:`_block_words` words."""
    nw = (tmax + 63) // 64
    o = np.empty(24, np.int64)
    sizes = (2, _OUT, n, m, n, m, n, n, m, tmax + 1, m, blocks + 1, 4, max(n, m),
             (n + 2 * m + 7) // 8, tmax, tmax, n * nw, m * nw, n * nw, m * nw,
             (max(1, tmax * n) + 1) // 2, blocks * _block_words())
    at = 0
    for k in range(len(sizes)):
        o[k] = at
        at += sizes[k]
    o[len(sizes)] = at
    return o


@numba.njit(inline="always")
def _block_words():
    return 6 * _CHUNK + (3 * _CHUNK) // 2


@numba.njit(inline="always")
def _phases_of(xc, dc):
    """Active phases as a bit mask (bit p: phase p has lines of both of its groups)."""
    xp = xn = dp = dn = False
    for v in xc:
        xp |= v > 0
        xn |= v < 0
    for v in dc:
        dp |= v > 0
        dn |= v < 0
    mask = 0
    for p in range(4):
        if (xp if _PH_X[p] > 0 else xn) and (dp if _PH_D[p] > 0 else dn):
            mask |= 1 << p
    return mask


@numba.njit(inline="always")
def _lfsr_leap(state, taps, mask, leap):
    """The state ``leap`` shifts on (:func:`rpu.spec.streams.leap_masks`' convention: shift
    left, the parity of the tap bits into bit 0), in chunks of at most ``min(taps)`` shifts:
    the feedback of the chunk's k-th shift is then ``XOR_t state[t-1-k]``, all old bits, so
    the chunk is ``(state << L) | (XOR_t state >> (t-L)) mod 2**L``.  Register arithmetic
    only, where a jump table's 2 KiB per byte would be cache-cold on every call."""
    low = taps[0]
    for t in taps:
        low = min(low, t)
    left = leap
    while left > 0:
        n = min(left, low)
        fb = np.uint64(0)
        for t in taps:
            fb ^= state >> np.uint64(t - n)
        state = ((state << np.uint64(n)) | (fb & ((_ONEBIT << np.uint64(n)) - _ONEBIT))) & mask
        left -= n
    return state


@numba.njit(inline="always")
def _lfsr_run(state, taps, mask, leap, count, out):
    """``count`` successive states (current first) into ``out``; returns the next one."""
    for n in range(count):
        out[n] = state
        state = _lfsr_leap(state, taps, mask, leap)
    return state


@numba.njit(cache=True)
def lfsr_leap_states(state, side, leap, count):
    """:func:`_lfsr_run` of the x (``side`` 0) or d (1) generator from Python (the tests
    hold it to the jump tables of :func:`rpu.models.ref_stochastic.lfsr_states`)."""
    out = np.empty(count, np.uint64)
    if side == 0:
        state = _lfsr_run(state, _X_TAPS, _X_MASK, leap, count, out)
    else:
        state = _lfsr_run(state, _D_TAPS, _D_MASK, leap, count, out)
    return out, state


@numba.njit(inline="always")
def _fire_words(states, slots, bl, plist, signs, codes, cu, taps, words, nw, lim):
    """Packed fire bits: bit t of ``words[i·nw + t//64]`` = line i fires in slot t
    (:func:`fire_bits`' rule, the slot's phase ``plist[t // bl]``); the line loops are
    branch-free (vectorised)."""
    lines = codes.size
    for q in range(lines * nw):
        words[q] = 0
    o0, o1 = cu[taps:taps + lines], cu[taps + lines:taps + 2 * lines]
    o2, o3 = cu[taps + 2 * lines:taps + 3 * lines], cu[taps + 3 * lines:taps + 4 * lines]
    m0, m1 = cu[taps + 4 * lines:taps + 5 * lines], cu[taps + 5 * lines:taps + 6 * lines]
    m2, m3 = cu[taps + 6 * lines:taps + 7 * lines], cu[taps + 7 * lines:taps + 8 * lines]
    lim = lim[:lines]
    for ph in range(slots // bl):
        sign = signs[plist[ph]]
        for i in range(lines):          # lim <= 0: never fires (draws are >= 0)
            lim[i] = codes[i] * sign
        for t in range(ph * bl, (ph + 1) * bl):
            st = states[t]
            bit = np.uint64(t & 63)
            if nw == 1:
                for i in range(lines):
                    r = (((st >> o0[i]) & m0[i]) ^ ((st >> o1[i]) & m1[i])
                         ^ ((st >> o2[i]) & m2[i]) ^ ((st >> o3[i]) & m3[i]))
                    words[i] |= np.uint64(np.int64(r) < lim[i]) << bit
            else:
                word = t >> 6
                for i in range(lines):
                    r = (((st >> o0[i]) & m0[i]) ^ ((st >> o1[i]) & m1[i])
                         ^ ((st >> o2[i]) & m2[i]) ^ ((st >> o3[i]) & m3[i]))
                    words[i * nw + word] |= np.uint64(np.int64(r) < lim[i]) << bit


@numba.njit(inline="always")
def _active(words, lines, nw, act, packed):
    """Lines with any fire bit into ``act`` (their words copied, compact, into ``packed``);
    branch-free."""
    n = 0
    for i in range(lines):
        on = np.uint64(0)
        for q in range(nw):
            v = words[i * nw + q]
            packed[n * nw + q] = v
            on |= v
        act[n] = i
        n += on != 0
    return n


@numba.njit(inline="always")
def _slot_lists(packed, act, n_act, nw, slots, start, idx, fill):
    """Per slot t, the number of active lines firing in it (``start[t+1] - start[t]``) and,
    if ``fill``, the lines: ``idx[start[t]:start[t+1]]``, ascending."""
    for t in range(slots + 1):
        start[t] = 0
    for q in range(n_act):
        for w in range(nw):
            v = packed[q * nw + w]
            while v:
                start[w * 64 + _ctz(v) + 1] += 1
                v &= v - _ONEBIT
    for t in range(slots):
        start[t + 1] += start[t]
    if not fill:
        return
    for q in range(n_act):                       # fill with a moving cursor per slot
        for w in range(nw):
            v = packed[q * nw + w]
            while v:
                t = w * 64 + _ctz(v)
                idx[start[t]] = act[q]
                start[t] += 1
                v &= v - _ONEBIT
    for t in range(slots, 0, -1):                # cursors → starts
        start[t] = start[t - 1]
    start[0] = 0


@numba.njit(inline="always")
def _row_costs(rows, n_rows, nw, n_cols, start, cost, event):
    """Method and work of each active row: the candidates of its slots (sparse: the columns
    firing in them, each ~``_EVENT_COST`` dense columns) or all ``n_cols`` active columns
    (dense), whichever is cheaper; returns the total work and whether any row is sparse."""
    total = 0
    any_event = False
    for r in range(n_rows):
        ev = 0
        for w in range(nw):
            v = rows[r * nw + w]
            while v:
                t = w * 64 + _ctz(v)
                ev += start[t + 1] - start[t]
                v &= v - _ONEBIT
        ev *= _EVENT_COST
        event[r] = ev < n_cols
        any_event |= ev < n_cols
        total += min(ev, n_cols) + 64
        cost[r] = total
    return total, any_event


@numba.njit(inline="always")
def _partition(cost, n_rows, total, blocks, parts):
    """Contiguous row ranges of about equal work, one per block."""
    r = 0
    parts[0] = 0
    for b in range(1, blocks):
        goal = total * b // blocks
        while r < n_rows and cost[r] <= goal:
            r += 1
        parts[b] = r
    parts[blocks] = n_rows


@numba.njit(inline="always")
def _noise(q, lh, lo, ua, ub, xi):
    """ξ of each listed device's next pulse (ordinal ``lo``, device hash ``lh``): the hash
    and uniforms, ln u1, cos θ and Box–Muller in three loops the compiler vectorises (the
    24-bit uniforms pass through int32, exact)."""
    for t in range(q):
        z = _mix64(lh[t] ^ (lo[t] * _ODD))
        ua[t] = (np.float32(np.int32(z >> _U40)) + _HALF32) * _F24
        ub[t] = (np.float32(np.int32((z >> _U16) & _U24)) * _F24) * _TWO_PI
    for t in range(q):
        ua[t] = log_pos32(ua[t])
    for t in range(q):
        xi[t] = _xi(ua[t], cos_small32(ub[t]))


@numba.njit(inline="always")
def _apply(q, le, lu, xi, par, w, stuck, model, sigma, s_up, s_down):
    """One pulse on each listed device (distinct): its step, noise and clip, as
    ``DeviceArray.pulse_sequence``; stuck devices keep w."""
    has_stuck = stuck.size != 0
    for t in range(q):
        e = le[t]
        if has_stuck and stuck[e]:
            continue
        up = lu[t] != 0
        dw_up, dw_down = par[e, 0], par[e, 1]    # both loaded: a select, not a branch on the sign
        dw = dw_up if up else -dw_down
        lo, hi = par[e, 2], par[e, 3]
        v = w[e]
        if model == STEP_CONSTANT:
            step = dw
        elif model == STEP_LINEAR:
            step = dw * (_ONE32 - (s_up if up else s_down) * v)
        else:
            step = dw * (_ONE32 - v / (hi if up else lo))
        v = v + step * (xi[t] * sigma + _ONE32)
        v = v if v > lo else lo
        w[e] = v if v < hi else hi


@numba.njit(inline="always")
def _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up, s_down, le, ln, lo, lh, lu,
                ua, ub, xi):
    """Pulse the ``q`` listed devices (flat index ``le``, pulses ``ln`` > 0, up flag ``lu``):
    count the pulses in their records, then rounds of one pulse per device (ordinal order)."""
    for t in range(q):
        e = le[t]
        lo[t] = np.uint64(rec[e, _SET]) + np.uint64(rec[e, _SET + 1])
        rec[e, _SET + 1 - lu[t]] += np.uint32(ln[t])
    for t in range(q):
        lh[t] = _mix64(np.uint64(le[t]) * _GOLD + key)
    while q:
        _noise(q, lh, lo, ua, ub, xi)
        _apply(q, le, lu, xi, par, w, stuck, model, sigma, s_up, s_down)
        k = 0
        for t in range(q):                       # devices with pulses left, compacted
            left = ln[t] - 1
            le[k], ln[k], lo[k], lh[k], lu[k] = le[t], left, lo[t] + _ONEBIT, lh[t], lu[t]
            k += left > 0
        q = k


@numba.njit(inline="always")
def _run_block(b, prm, ws, o, rec, w, stuck, nw, n_cols):
    """Pulse the devices of the active rows ``parts[b]:parts[b+1]`` (one block, one thread);
    a dense row scans the ``n_cols`` active columns (``x_act``, their words in ``cols``)."""
    n, m = prm[IP_N], prm[IP_M]
    fp = prm[IP_FP:IP_FP + 5].view(np.float64)
    cu = prm[prm[IP_CU]:].view(np.uint64)
    key = cu[_KEY]
    model = prm[IP_MODEL]
    sigma, s_up, s_down = np.float32(fp[FP_SIGMA]), np.float32(fp[FP_SLOPE_UP]), np.float32(fp[FP_SLOPE_DOWN])
    par = rec.view(np.float32)
    rflat = rec.reshape(-1)
    xup, x_act, d_act, start = ws[o[6]:o[6] + n], ws[o[7]:o[8]], ws[o[8]:o[9]], ws[o[9]:o[10]]
    parts = ws[o[11]:o[12]]
    dc = ws[o[5]:o[6]]
    event = ws[o[14]:o[15]].view(np.bool_)[n + m:n + 2 * m]
    xw = ws[o[17]:o[18]].view(np.uint64)
    cols, rows = ws[o[19]:o[20]].view(np.uint64), ws[o[20]:o[21]].view(np.uint64)
    idx = ws[o[21]:o[22]].view(np.int32)
    bw = o[22] + b * _block_words()
    le = ws[bw:bw + _CHUNK]
    ln = ws[bw + _CHUNK:bw + 2 * _CHUNK]
    lo = ws[bw + 2 * _CHUNK:bw + 3 * _CHUNK].view(np.uint64)
    lh = ws[bw + 3 * _CHUNK:bw + 4 * _CHUNK].view(np.uint64)
    lu = ws[bw + 4 * _CHUNK:bw + 5 * _CHUNK]
    cnt = ws[bw + 5 * _CHUNK:bw + 6 * _CHUNK]
    f32 = ws[bw + 6 * _CHUNK:bw + _block_words()].view(np.float32)
    ua, ub, xi = f32[:_CHUNK], f32[_CHUNK:2 * _CHUNK], f32[2 * _CHUNK:3 * _CHUNK]
    q = 0                                         # the list fills across rows (distinct devices)
    for r in range(parts[b], parts[b + 1]):
        i = d_act[r]
        base = i * n
        dpos = np.int64(dc[i] > 0)               # up = (x > 0) != (d > 0) = xup ^ dpos
        if event[r]:                              # via the columns of the row's slots
            for w0 in range(nw):
                v = rows[r * nw + w0]
                while v:
                    t = w0 * 64 + _ctz(v)
                    v &= v - _ONEBIT
                    for c in range(start[t], start[t + 1]):
                        j = np.int64(idx[c])
                        first, k = -1, np.uint64(0)
                        for s in range(nw):       # first common slot, and the count
                            both = rows[r * nw + s] & xw[j * nw + s]
                            if both:
                                if first < 0:
                                    first = s * 64 + _ctz(both)
                                k += _popcount(both)
                        if first == t:            # the device's first coincidence
                            e = base + j
                            _prefetch(rec, e)
                            _prefetch(rflat, e * REC_FIELDS + REC_FIELDS - 1)
                            _prefetch(w, e)
                            le[q], ln[q], lu[q] = e, np.int64(k), xup[j] ^ dpos
                            q += 1
                            if q == _CHUNK:
                                _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up,
                                            s_down, le, ln, lo, lh, lu, ua, ub, xi)
                                q = 0
        elif n_cols >= _CHUNK:                    # every active column, _CHUNK at a time
            if q:
                _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up, s_down, le, ln,
                            lo, lh, lu, ua, ub, xi)
            for j0 in range(0, n_cols, _CHUNK):
                j1 = min(n_cols, j0 + _CHUNK)
                if nw == 1:
                    a = rows[r]
                    for c in range(j0, j1):
                        cnt[c - j0] = np.int64(_popcount(a & cols[c]))
                else:
                    for c in range(j0, j1):
                        k = np.uint64(0)
                        for s in range(nw):
                            k += _popcount(rows[r * nw + s] & cols[c * nw + s])
                        cnt[c - j0] = np.int64(k)
                q = 0
                for c in range(j0, j1):           # branch-free compaction
                    k, j = cnt[c - j0], x_act[c]
                    le[q], ln[q], lu[q] = base + j, k, xup[j] ^ dpos
                    q += k != 0
                if q:
                    _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up, s_down,
                                le, ln, lo, lh, lu, ua, ub, xi)
            q = 0
        else:                                     # narrow rows share the list
            if q + n_cols > _CHUNK:
                _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up, s_down, le, ln,
                            lo, lh, lu, ua, ub, xi)
                q = 0
            if nw == 1:
                a = rows[r]
                for c in range(n_cols):
                    cnt[c] = np.int64(_popcount(a & cols[c]))
            else:
                for c in range(n_cols):
                    k = np.uint64(0)
                    for s in range(nw):
                        k += _popcount(rows[r * nw + s] & cols[c * nw + s])
                    cnt[c] = np.int64(k)
            for c in range(n_cols):               # branch-free compaction
                k, j = cnt[c], x_act[c]
                le[q], ln[q], lu[q] = base + j, k, xup[j] ^ dpos
                q += k != 0
    if q:
        _pulse_list(q, key, rec, par, w, stuck, model, sigma, s_up, s_down, le, ln, lo,
                    lh, lu, ua, ub, xi)


@numba.njit(cache=True, error_model="numpy", parallel=True)
def _blocks_parallel(nb, prm, ws, o, rec, w, stuck, nw, n_cols):
    for b in numba.prange(nb):
        _run_block(b, prm, ws, o, rec, w, stuck, nw, n_cols)


@numba.njit(cache=True, error_model="numpy")
def _blocks_serial(nb, prm, ws, o, rec, w, stuck, nw, n_cols):
    for b in range(nb):
        _run_block(b, prm, ws, o, rec, w, stuck, nw, n_cols)


def _samples(a):
    """Rows of a batch (B, L), 1 for a single vector (L,)."""


def _sample(a, s):
    """Row s of a batch, the vector itself for a single one."""


@overload(_samples)
def _samples_ov(a):
    return (lambda a: 1) if a.ndim == 1 else (lambda a: a.shape[0])


@overload(_sample)
def _sample_ov(a, s):
    return (lambda a, s: a) if a.ndim == 1 else (lambda a, s: a[s])


@numba.njit(cache=True, error_model="numpy")
def update_batch(X, D, prm, ws, rec, w, stuck):
    """Updates with the rows of ``X`` (B, N) and ``D`` (B, M) (float64 host values; or one
    update, X (N,) and D (M,)), one after another, exactly as ``to_fixed`` → ``update_codes`` → ``phase_trains`` →
    ``apply_phase_trains`` (constant, linear or soft-bounds step; no disturb): the LFSR
    states (``ws`` words 0, 1) and the device records and weights are updated in place.
    ``prm``: the tile's parameters (``IP_*``, float ``FP_*`` at ``IP_FP``, the 1/sqrt(BL)
    table at ``IP_ISQ``, the stream constants at ``prm[IP_CU]``); ``prm[IP_BLOCKS]`` > 1
    runs that many row blocks on numba's threads, for a sample whose row-scan work (the
    columns scanned, :func:`_row_costs`) is at least ``prm[IP_MIN_WORK]``.

    ``out`` (``ws`` region 1) = (error, x saturated, d saturated, lines clipped, then of the
    last sample: x_max, d_max, gain_x, gain_d, bl, bl_error, lines clipped, then samples
    and the sum over samples of active phases × BL, for the timing formulas); error 1 / 2 =
    X / D not finite (nothing changed).  Regions: :func:`ws_layout`.
    """
    n, m = prm[IP_N], prm[IP_M]
    tmax, blocks = prm[IP_TMAX], prm[IP_BLOCKS]
    o = ws_layout(n, m, tmax, prm[IP_NBLK])
    st = ws[0:2].view(np.uint64)
    out = ws[o[1]:o[2]]
    out[0] = 0 if _all_finite(X) else 1          # then nothing changes, not even ``out``
    if out[0] == 0 and not _all_finite(D):
        out[0] = 2
    if out[0]:
        return
    out[1:4] = 0
    out[12] = 0
    fp = prm[IP_FP:IP_FP + 5].view(np.float64)
    cu = prm[prm[IP_CU]:].view(np.uint64)
    xf, df, xc, dc = ws[o[2]:o[3]], ws[o[3]:o[4]], ws[o[4]:o[5]], ws[o[5]:o[6]]
    xup, x_act, d_act, start = ws[o[6]:o[7]], ws[o[7]:o[8]], ws[o[8]:o[9]], ws[o[9]:o[10]]
    cost, parts, plist, lim = ws[o[10]:o[11]], ws[o[11]:o[12]], ws[o[12]:o[13]], ws[o[13]:o[14]]
    flags = ws[o[14]:o[15]].view(np.bool_)
    xclip, dclip, event = flags[:n], flags[n:n + m], flags[n + m:n + 2 * m]
    x_states, d_states = ws[o[15]:o[16]].view(np.uint64), ws[o[16]:o[17]].view(np.uint64)
    xw, dw = ws[o[17]:o[18]].view(np.uint64), ws[o[18]:o[19]].view(np.uint64)
    cols, rows = ws[o[19]:o[20]].view(np.uint64), ws[o[20]:o[21]].view(np.uint64)
    idx = ws[o[21]:o[22]].view(np.int32)
    for s in range(_samples(X)):
        out[1] += _to_fixed_into(_sample(X, s), xf, fp[FP_SCALE], fp[FP_VMAX])
        out[2] += _to_fixed_into(_sample(D, s), df, fp[FP_SCALE], fp[FP_VMAX])
        xm, dm = abs_max(xf), abs_max(df)
        gx, gd, bl, err = um_gains(xm, dm, prm)
        clipped = _prob_codes_into(xf, gx, prm, xc, xclip) + _prob_codes_into(df, gd, prm, dc, dclip)
        out[3] += clipped
        out[4], out[5], out[6], out[7], out[8], out[9], out[10] = xm, dm, gx, gd, bl, err, clipped
        mask = _phases_of(xc, dc)
        if bl == 0 or mask == 0:
            continue
        out[12] += bl * ((mask & 1) + ((mask >> 1) & 1) + ((mask >> 2) & 1) + (mask >> 3))
        nph = 0
        for p in range(4):                       # the active phases, in order
            if mask & (1 << p):
                plist[nph] = p
                nph += 1
        slots = bl * nph
        nw = (slots + 63) // 64
        st[0] = _lfsr_run(st[0], _X_TAPS, _X_MASK, prm[IP_P], slots, x_states)
        st[1] = _lfsr_run(st[1], _D_TAPS, _D_MASK, prm[IP_P], slots, d_states)
        _fire_words(x_states, slots, bl, plist, _PH_X, xc, cu, _TAPS, xw, nw, lim)
        _fire_words(d_states, slots, bl, plist, _PH_D, dc, cu, _TAPS + 8 * n, dw, nw, lim)
        n_cols = _active(xw, n, nw, x_act, cols)
        n_rows = _active(dw, m, nw, d_act, rows)
        if n_cols == 0 or n_rows == 0:
            continue
        for j in range(n):
            xup[j] = np.int64(xc[j] > 0)
        _slot_lists(cols, x_act, n_cols, nw, slots, start, idx, False)
        total, any_event = _row_costs(rows, n_rows, nw, n_cols, start, cost, event)
        if any_event:
            _slot_lists(cols, x_act, n_cols, nw, slots, start, idx, True)
        nb = min(blocks, n_rows) if total >= prm[IP_MIN_WORK] else 1
        _partition(cost, n_rows, total, nb, parts)
        if nb > 1:
            _blocks_parallel(nb, prm, ws, o, rec, w, stuck, nw, n_cols)
        else:
            _blocks_serial(nb, prm, ws, o, rec, w, stuck, nw, n_cols)
    out[11] = _samples(X)


# -- read-path scaling (ref_management.input_codes / scale_results) --------------------------

@numba.njit(cache=True)
def input_codes_into(x, dac_max, in_mul, s, out):
    """``out[i]`` = ±min(D, round(|x_i|·D·in_mul / 2^s)) in exact wide integers."""
    for i in range(x.size):
        hi, lo = _round_shift_mul(abs(x[i]) * dac_max, in_mul, s)
        mag = _cap_wide(hi, lo, dac_max)
        out[i] = -mag if x[i] < 0 else mag


@numba.njit(cache=True)
def scale_results_into(codes, out_mul, e, q, result_max, y, clipped):
    """``y[i]`` = ±sat(round(|c_i|·out_mul·2^e / 2^q)) ((2·|c|·out_mul·2^e + 2^q) >> (q + 1)),
    ``clipped[i]`` where it saturated at ``result_max``."""
    for i in range(codes.size):
        hi, lo = _mul_wide(np.uint64(abs(codes[i])), np.uint64(out_mul))
        hi, lo = _shl_wide(hi, lo, e + 1)
        h2, l2 = _shl_wide(_U0, _U1, q)
        hi, lo = _add_wide(hi, lo, h2, l2)
        hi, lo = _shr_wide(hi, lo, q + 1)
        mag = _cap_wide(hi, lo, result_max + 1)
        clipped[i] = mag > result_max
        mag = min(mag, result_max)
        y[i] = -mag if codes[i] < 0 else mag


# -- numpy's PCG64 standard normals (fused.FusedRead's noise) --------------------------------
# numpy's algorithms, step for step: PCG64 (128-bit LCG, XSL-RR output after the step) and
# the ziggurat of ``random_standard_normal`` (numpy's tables, as numba's own Generator support
# carries them).  They run on a view of a live PCG64's state (fused.pcg64_state_view), so the
# generator is where numpy's ``standard_normal`` would have left it; fused.py checks the
# values against numpy's once before using them.  The tables are numba's private copy: a
# numba without them gets empty tables, fails that check, and the reads draw in numpy.
try:
    from numba.np.random._constants import (fi_double as _ZIG_F, ki_double as _ZIG_K,  # noqa: E402
                                            wi_double as _ZIG_W, ziggurat_nor_inv_r as _ZIG_INV_R,
                                            ziggurat_nor_r as _ZIG_R)
except ImportError:
    _ZIG_F, _ZIG_K, _ZIG_W = np.zeros(256), np.zeros(256, np.uint64), np.zeros(256)
    _ZIG_INV_R = _ZIG_R = 0.0

_PCG_MLO, _PCG_MHI = np.uint64(0x4385DF649FCCF645), np.uint64(0x2360ED051FC65DA4)
_U11, _U52 = np.uint64(11), np.uint64(0x000FFFFFFFFFFFFF)
_TO_DOUBLE = 1.0 / 9007199254740992.0


@numba.njit(inline="always")
def _pcg64_next(s):
    """The next uint64 of the PCG64 whose state is ``s`` = (state lo, hi, inc lo, hi)."""
    lo, hi = s[0], s[1]
    mh, ml = _mul_wide(lo, _PCG_MLO)
    hi = mh + lo * _PCG_MHI + hi * _PCG_MLO
    lo = ml + s[2]
    hi += s[3] + np.uint64(lo < ml)
    s[0], s[1] = lo, hi
    x = hi ^ lo
    rot = hi >> np.uint64(58)
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@numba.njit(inline="always")
def _pcg64_double(s):
    return np.float64(_pcg64_next(s) >> _U11) * _TO_DOUBLE


@numba.njit(cache=True)
def pcg64_normals(s, out, start, count):
    """``out[start:start+count]`` = the next ``count`` standard normals of the PCG64 ``s``,
    as ``Generator.standard_normal`` draws them."""
    for i in range(start, start + count):
        while True:
            r = _pcg64_next(s)
            idx = np.int64(r & np.uint64(0xFF))
            r >>= np.uint64(8)
            rabs = (r >> _ONEBIT) & _U52
            x = np.float64(rabs) * _ZIG_W[idx]
            if r & _ONEBIT:
                x = -x
            if rabs < _ZIG_K[idx]:
                break
            if idx == 0:                          # the tail
                while True:
                    xx = -_ZIG_INV_R * np.log1p(-_pcg64_double(s))
                    yy = -np.log1p(-_pcg64_double(s))
                    if yy + yy > xx * xx:
                        x = -(_ZIG_R + xx) if (rabs >> np.uint64(8)) & _ONEBIT else _ZIG_R + xx
                        break
                break
            if (_ZIG_F[idx - 1] - _ZIG_F[idx]) * _pcg64_double(s) + _ZIG_F[idx] < np.exp(-0.5 * x * x):
                break
        out[i] = x


# -- the fused read (fused.FusedRead: read_path and Readout.read on tile-owned buffers) -------

@numba.njit(cache=True, error_model="numpy")
def read_dac_into(x, dac_max, in_mul, s, dac, v):
    """One pass's DAC codes (:func:`input_codes_into`) and the crossbar's input
    ``v = code / D`` as float32 (``Readout.read``'s ``(net / dac_max).astype(float32)``)."""
    d = np.float64(dac_max)
    for i in range(x.size):
        hi, lo = _round_shift_mul(abs(x[i]) * dac_max, in_mul, s)
        mag = np.int64(_cap_wide(hi, lo, dac_max))
        c = -mag if x[i] < 0 else mag
        dac[i] = c
        v[i] = np.float32(np.float64(c) / d)


@numba.njit(cache=True, error_model="numpy")
def read_adc_into(y32, wn, nz_w, on, nz_o, bound, lsb, code_max, adc_max, adc, sat):
    """``Readout.read`` after the product, line by line in numpy's order: y = float64(W·v)
    (+ ``wn``·``nz_w``) (+ ``on``·``nz_o``) (an empty noise array: none), clipped to
    ±``bound``, code clip(rint(y / ``lsb``), ±``code_max``) as int32; ``sat``: |code| ≥
    ``adc_max`` (read_path's saturation).  Returns the number of saturated lines."""
    has_w, has_o = nz_w.size != 0, nz_o.size != 0
    n_sat = 0
    for i in range(y32.size):
        y = np.float64(y32[i])
        if has_w:
            y = y + wn * nz_w[i]
        if has_o:
            y = y + on * nz_o[i]
        y = min(max(y, -bound), bound)
        c = np.rint(y / lsb)
        c = min(max(c, -code_max), code_max)
        a = np.int64(np.int32(c))
        adc[i] = a
        s = abs(a) >= adc_max
        sat[i] = s
        n_sat += s
    return n_sat


@numba.njit(cache=True, error_model="numpy")
def read_results_into(codes, out_mul, e, q, result_max, frac, y, clipped, yf):
    """:func:`scale_results_into` and the results as floats, ``y / frac`` (``from_fixed``);
    returns the number clipped."""
    scale_results_into(codes, out_mul, e, q, result_max, y, clipped)
    n = 0
    for i in range(y.size):
        yf[i] = np.float64(y[i]) / frac
        n += clipped[i]
    return n



@numba.njit(cache=True)
def matvec_into(w, v, out):
    """``out = w·v`` by ``np.dot`` (BLAS ``sgemv`` for float32), as :func:`read_rows` does."""
    np.dot(w, v, out)


@numba.njit(cache=True, error_model="numpy")
def read_rows(X, w, noise, P, ip, fp, Y, dac, v, y32, nz_w, adc, sat, yfix, clip, hist_dac,
              hist_adc, passes, sums, at, cycles, scales, gamma):
    """The reads of the rows of ``X`` (B, lines) one after another, each as ``read_path``
    over ``Readout.read`` computes it without weight noise (``fused.FusedRead``'s per-row
    loop in one call): per pass the DAC step (:func:`read_dac_into`), ``W·v`` by ``np.dot``
    (BLAS ``sgemv``; the caller has checked it equals numpy's product for this shape), the
    output noise (the next M values of ``noise``, the crossbar generator's draws in order,
    when ``ip[6]``), the ADC step (:func:`read_adc_into`, ``nz_w`` empty) and bound
    management's retry decision; then the results (:func:`read_results_into`) into ``Y[b]``.

    ``P[b]`` = (in_mul, in_shift, out_mul, out_exp) of row b; ``ip`` = (dac_max, adc_max,
    out_scale_frac, result_max, BM on, BM cap, output noise on); ``fp`` = (out_noise, bound,
    lsb, code_max, frac).  ``at`` = (row, pass, noise used, noise drawn): where to start,
    and where it stopped when it returns False because a retry needs noise not drawn yet
    (the caller draws more and calls again).  The buffers hold the last row's accepted pass
    afterwards, ``hist_dac`` / ``hist_adc`` (cap, ·) its passes before that; ``passes[p]``
    counts the rows that ran p passes, ``sums`` = (saturated lines, clipped results, BM
    give-ups) of all rows, the last row's passes and give-up, then the rows' read cycles
    (Σ ``cycles[passes]``); both are zeroed first when ``at[4]`` is 1 (a fresh call: the
    kernel sets it back to 1, and ``at[:3]`` to 0, when it finishes, and to 0 at a retry).
    A finite ``gamma`` multiplies each result row by ``gamma`` (``scales`` empty) or by
    ``gamma / scales[b]``: the layers' weight scale and error scaling, as numpy would."""
    dac_max, adc_max, q, rmax, bm_on, cap = ip[0], ip[1], ip[2], ip[3], ip[4] != 0, ip[5]
    m = y32.size
    per = m if ip[6] != 0 else 0
    on, bound, lsb, code_max, frac = fp[0], fp[1], fp[2], fp[3], fp[4]
    last = X.shape[0] - 1
    b0, k, used, drawn = at[0], at[1], at[2], at[3]
    if at[4] == 1:
        passes[:] = 0
        sums[:6] = 0
    post = gamma == gamma
    per_row = scales.size != 0
    for b in range(b0, X.shape[0]):
        x = X[b]
        if b != b0:
            k = 0
        while True:
            if used + per > drawn:
                at[0], at[1], at[2], at[4] = b, k, used, 0
                return False
            read_dac_into(x, dac_max, P[b, 0], P[b, 1] + k, dac, v)
            np.dot(w, v, y32)
            n_sat = read_adc_into(y32, 0.0, nz_w, on, noise[used:used + per], bound, lsb,
                                  code_max, adc_max, adc, sat)
            used += per
            if bm_on and n_sat > 0 and k + 1 < cap:
                if b == last:
                    hist_dac[k, :] = dac
                    hist_adc[k, :] = adc
                k += 1
                continue
            break
        passes[k + 1] += 1
        gave_up = bm_on and n_sat > 0
        sums[0] += n_sat
        sums[2] += gave_up
        sums[1] += read_results_into(adc, P[b, 2], P[b, 3] + k, q, rmax, frac, yfix, clip, Y[b])
        sums[5] += cycles[k + 1]
        if post:
            g = gamma / scales[b] if per_row else gamma
            for i in range(Y.shape[1]):
                Y[b, i] = Y[b, i] * g
        if b == last:
            sums[3], sums[4] = k + 1, gave_up
    at[0], at[1], at[2], at[4] = 0, 0, 0, 1
    return True


# -- layer entries (layers.AnalogLinear): a layer's float rows in as few compiled calls as
# -- possible, the same bits as the per-step path ---------------------------------------------

#: ``prep_rows`` kinds: rows as they are, rows with a bias column, error rows scaled
PREP_PLAIN, PREP_PAD, PREP_ERRORS = 0, 1, 2


@numba.njit(inline="always")
def _copy_finite(A, F):
    """``F[:] = A`` (both (B, L)); whether every element is finite (stops at the first
    that is not)."""
    for b in range(A.shape[0]):
        for i in range(A.shape[1]):
            if not np.isfinite(A[b, i]):
                return False
            F[b, i] = A[b, i]
    return True


@numba.njit(inline="always")
def _bit_length(v):
    n = 0
    while v:
        n += 1
        v >>= 1
    return n


@numba.njit(cache=True, error_model="numpy")
def prep_rows(A, kind, hp, fhp, F, V, P, alphas, scales):
    """A layer's float rows ``A`` (B, L0) to a read's host rows, in one call: ``F`` (B, L)
    float64 = ``A`` (``PREP_PLAIN``), ``A`` with a last column of ``fhp[0]`` (``PREP_PAD``,
    ``check_batch``'s pad) or ``A`` scaled per row (``PREP_ERRORS``, :func:`scale_errors`
    with ``hp[4:7]`` = peak, base exponent, k max; ``scales`` written); ``V`` = host fixed
    point of ``F`` (:func:`to_fixed`, scale ``fhp[1]``, saturation ``fhp[2]``); per row
    ``alphas`` = max|V| and ``P`` = ``nm_params``' (in_mul, in_shift, out_mul, out_exp)
    for ``hp[0:4]`` = (NM mode, out_scale, frac bits, recip point).  Returns the number of
    saturated host values, or −1 (nothing meaningful written) at a non-finite value."""
    B = A.shape[0]
    if kind == PREP_ERRORS:
        if not scale_errors(A, hp[4], hp[5], hp[6], F, scales):
            return -1
    elif kind == PREP_PAD:
        if not pad_rows(A, fhp[0], F):
            return -1
    elif not _copy_finite(A, F):
        return -1
    mode, out_scale, frac_bits, rp = hp[0], hp[1], hp[2], hp[3]
    if mode != 1 and mode != 2:
        mode = 0                                  # (a mode error reads as mode 0)
    saturated = 0
    scale, vmax = fhp[1], fhp[2]
    for b in range(B):
        top = 0
        for i in range(F.shape[1]):
            v = F[b, i] * scale
            mag = np.floor(abs(v) + 0.5)
            if mag > vmax:
                saturated += 1
                mag = vmax
            c = -np.int64(mag) if v < 0 else np.int64(mag)
            V[b, i] = c
            top = max(top, abs(c))
        alphas[b] = top
        if mode == 0:
            P[b, 0], P[b, 1], P[b, 2], P[b, 3] = 1, frac_bits, out_scale, frac_bits
        elif top == 0:
            P[b, 0], P[b, 1], P[b, 2], P[b, 3] = 0, 0, 0, 0
        elif mode == 1:
            P[b, 0], P[b, 1] = ((np.int64(1) << rp) - 1) // top + 1, rp
            P[b, 2], P[b, 3] = out_scale * top, 0
        else:
            e = _bit_length(top - 1)
            P[b, 0], P[b, 1], P[b, 2], P[b, 3] = 1, e, out_scale, e
    return saturated


@numba.njit(cache=True, error_model="numpy")
def read_layer_rows(A, noise, Y, kind, hp, fhp, F, V, P, alphas, scales, w, ip, fp, dac, v, y32,
                    nz_w, adc, sat, yfix, clip, hist_dac, hist_adc, passes, sums, at, cycles,
                    gamma):
    """A layer's read in one call: on a fresh call (``at[4]`` = 1) :func:`prep_rows` of
    ``A`` into ``F``, ``V``, ``P``, ``alphas``, ``scales`` (its saturated count into
    ``sums[7]``, the last row's α into ``sums[6]``), then :func:`read_rows` of ``V`` with
    the results scaled by ``gamma`` (and ``1 / scales`` for error rows).  Returns 1 when
    done, 0 when a retry needs more noise (call again with more drawn: ``at``), −1 at a
    non-finite value (nothing else written)."""
    if at[4] == 1:
        saturated = prep_rows(A, kind, hp, fhp, F, V, P, alphas, scales)
        if saturated < 0:
            return -1
        sums[6], sums[7] = alphas[alphas.size - 1], saturated
    done = read_rows(V, w, noise, P, ip, fp, Y, dac, v, y32, nz_w, adc, sat, yfix, clip,
                     hist_dac, hist_adc, passes, sums, at, cycles,
                     scales if kind == PREP_ERRORS else scales[:0], gamma)
    return 1 if done else 0


@numba.njit(cache=True, error_model="numpy")
def update_rows_scaled(A, D, pad, hp, um_tab, F, E, scales, tot, prm, ws, rec, w, stuck):
    """A layer's update of float rows ``A`` (B, N − 1, the bias column ``pad`` added; or B ×
    N when ``pad`` is NaN) and ``D`` (B, M) in one call: ``D`` scaled per row
    (:func:`scale_errors`, ``hp`` = peak, base exponent, k max) into ``E``, then each run
    of equal consecutive scales as one :func:`update_batch` under that scale's
    update-management registers ``um_tab[k + k_max, 1:4]`` (um_c, um_c1, um_lr_dw;
    ``um_tab[·, 0]`` = 1 where filled).

    Returns 0 and ``tot`` = (updates, lines clipped, x saturated, d saturated, Σ
    phases·BL, the last run's k) summed over the runs; −1 at a non-finite value, or
    1 + (k + k_max) when a run's registers are missing — in both cases before anything
    changed."""
    B = A.shape[0]
    if not (pad_rows(A, pad, F) if pad == pad else _copy_finite(A, F)):
        return -1
    peak, base, k_max = hp[0], hp[1], hp[2]
    if not scale_errors(D, peak, base, k_max, E, scales):
        return -1
    for b in range(B):                            # every run's registers, first
        k = np.int64(round(math.log2(scales[b]))) // base
        if um_tab[k + k_max, 0] == 0:
            return 1 + k + k_max
    o = ws_layout(prm[IP_N], prm[IP_M], prm[IP_TMAX], prm[IP_NBLK])
    out = ws[o[1]:o[2]]
    a = 0
    tot[:] = 0
    while a < B:
        z = a + 1
        while z < B and scales[z] == scales[a]:
            z += 1
        k = np.int64(round(math.log2(scales[a]))) // base
        prm[IP_UM_C] = um_tab[k + k_max, 1]
        prm[IP_UM_C1] = um_tab[k + k_max, 2]
        prm[IP_UM_LRDW] = um_tab[k + k_max, 3]
        update_batch(F[a:z], E[a:z], prm, ws, rec, w, stuck)
        tot[0] += z - a
        tot[1] += out[3]
        tot[2] += out[1]
        tot[3] += out[2]
        tot[4] += out[12]
        tot[5] = k
        a = z
    return 0
