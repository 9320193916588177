"""The model's compiled kernels (numba), apart from the physics that calls them.

Every kernel here is the only implementation of its step (``tests/test_model_kernels.py``
compares each with a slow oracle).  They use integer and correctly rounded IEEE arithmetic
only (+, ×, sqrt, floor; no FMA contraction, no fastmath); every transcendental (c2c log/cos,
exp_step's exp) stays numpy's in the callers, so the results do not depend on the compiler's
libm.  ``cache=True``: the first use in an environment compiles them (a few seconds), later
processes load the cache, which lives in a per-user folder (``$NUMBA_CACHE_DIR`` if set,
else ``$XDG_CACHE_HOME/rpu-periphery/numba`` or ``~/.cache/rpu-periphery/numba``) and never
inside the installed package.
"""

from __future__ import annotations

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

import numba  # noqa: E402
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.core import cgutils, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

numba.core.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]     # numba imported earlier

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

