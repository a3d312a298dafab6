"""numba kernels of the five pillars: the sample loops, compiled once and cached on disk.

Every kernel releases the GIL (``nogil=True``) so that a real-time engine can run several tracks
on several threads, and has a vectorised NumPy/SciPy twin in its stage's module that computes the
same recursion; the tests hold the two to a stated tolerance. All arrays are float64 (indices
int64) and C-contiguous; states live in arrays the caller owns, in the layout the reference path
uses too, so a block boundary, or a switch of path, is invisible in the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

# Why the on-disk cache is off, when numba found no writable folder for it (see zen.audio._native).
UNCACHED: list[str] = []


def kernel(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit`` with ``nogil`` and numba's on-disk cache.

    numba picks the cache folder when it decorates; with no writable one it raises, and the
    kernel is then compiled in every process instead of the module failing to import.
    """

    def decorate(function: Callable[..., Any]) -> Any:
        try:
            return njit(nogil=True, cache=True, **options)(function)
        except RuntimeError as error:  # "cannot cache function ...: no locator available"
            UNCACHED.append(str(error))
            return njit(nogil=True, **options)(function)

    return decorate


_LN10_OVER_20 = math.log(10.0) / 20.0
_TINY = 1e-30  # envelopes below this (in dB) are zero: keeps the loops out of subnormal numbers
# FIR dot products may be reassociated (vectorised) and fused; recursions keep IEEE order.
_FIR_MATH = {"reassoc", "contract"}


@kernel()
def biquad_cascade(x, sos, zi, out):
    """Run ``x`` (frames, channels) through the ``sos`` sections into ``out`` (may alias ``x``).

    Transposed direct form II, state ``zi`` (sections, 2, channels) as in scipy.signal.sosfilt.
    Blocks of 2048 frames pass through all sections while they are in cache; stereo runs both
    channels in one loop so that their recursions overlap in the CPU.
    """
    frames, channels = x.shape
    sections = sos.shape[0]
    chunk = 2048
    for start in range(0, frames, chunk):
        stop = min(start + chunk, frames)
        for s in range(sections):
            b0, b1, b2 = sos[s, 0], sos[s, 1], sos[s, 2]
            a1, a2 = sos[s, 4], sos[s, 5]
            source = x if s == 0 else out
            if channels == 2:
                l0, l1 = zi[s, 0, 0], zi[s, 1, 0]
                r0, r1 = zi[s, 0, 1], zi[s, 1, 1]
                for i in range(start, stop):
                    vl = source[i, 0]
                    vr = source[i, 1]
                    yl = b0 * vl + l0
                    yr = b0 * vr + r0
                    l0 = b1 * vl - a1 * yl + l1
                    r0 = b1 * vr - a1 * yr + r1
                    l1 = b2 * vl - a2 * yl
                    r1 = b2 * vr - a2 * yr
                    out[i, 0] = yl
                    out[i, 1] = yr
                zi[s, 0, 0], zi[s, 1, 0] = l0, l1
                zi[s, 0, 1], zi[s, 1, 1] = r0, r1
            else:
                for c in range(channels):
                    z0, z1 = zi[s, 0, c], zi[s, 1, c]
                    for i in range(start, stop):
                        v = source[i, c]
                        y = b0 * v + z0
                        z0 = b1 * v - a1 * y + z1
                        z1 = b2 * v - a2 * y
                        out[i, c] = y
                    zi[s, 0, c], zi[s, 1, c] = z0, z1


@kernel(inline="always")
def _reduction_db(level_db, threshold_db, ratio, knee_db):
    """Gain reduction (dB, >= 0) of the soft-knee static curve (Giannoulis et al. 2012, eq. 4)."""
    over = level_db - threshold_db
    if 2.0 * over <= -knee_db:
        return 0.0
    if 2.0 * over < knee_db:
        bend = over + 0.5 * knee_db
        return (1.0 - 1.0 / ratio) * bend * bend / (2.0 * knee_db)
    return over * (1.0 - 1.0 / ratio)


# exp(y) for y <= 0 as plain arithmetic that vectorises: y = k ln2 + r (Cody-Waite split of ln2,
# fdlibm's constants), e^r by its Taylor polynomial to r^13 (error < 1e-17 for |r| <= ln2 / 2),
# and 2^k written straight into a float's exponent bits.
_LOG2_E = 1.4426950408889634
_LN2_HIGH = 6.93147180369123816490e-01
_LN2_LOW = 1.90821492927058770002e-10
_EXP_FLOOR = -708.0  # keeps 2^k a normal number; e^-708 is 3e-308


@kernel(inline="always")
def _exp_parts(v):
    """``exp(v) = p * 2^k`` for ``_EXP_FLOOR <= v <= 0``: ``p`` and the float bits of ``2^k``.

    The caller stores both in arrays and multiplies in a second sweep (viewing the bits as
    floats), which keeps each loop free of calls so that it vectorises.
    """
    k = np.floor(v * _LOG2_E + 0.5)
    r = (v - k * _LN2_HIGH) - k * _LN2_LOW
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p, (np.int64(k) + 1023) << 52


@kernel()
def exp_nonpositive(y, out, scale_bits):
    """``out[i] = exp(min(y[i], 0))`` (floored at e^-708), vectorised; ``scale_bits``: scratch."""
    n = y.shape[0]
    for i in range(n):
        v = min(max(y[i], _EXP_FLOOR), 0.0)
        out[i], scale_bits[i] = _exp_parts(v)
    scale = scale_bits[:n].view(np.float64)
    for i in range(n):
        out[i] *= scale[i]


@kernel()
def _shape_in_place(row, lo, hi, drive, shape, scratch, scale_bits):
    """``row[lo:hi] <- f(drive * row[lo:hi]) / drive``, f = tanh (shape 0) or the soft clip.

    tanh(u) = sign(u) (1 - e) / (1 + e) with e = exp(-2|u|) from :func:`_exp_parts`, in two
    sweeps (polynomial and exponent bits, then the quotient).
    """
    inverse_drive = 1.0 / drive
    values = row[lo:hi]
    n = hi - lo
    if shape != 0:
        for i in range(n):
            u = min(max(drive * values[i], -1.0), 1.0)
            values[i] = (u - u * u * u / 3.0) * inverse_drive
        return
    for i in range(n):
        v = max(-2.0 * abs(drive * values[i]), _EXP_FLOOR)
        scratch[i], scale_bits[i] = _exp_parts(v)
    scale = scale_bits[:n].view(np.float64)
    for i in range(n):
        e = scratch[i] * scale[i]
        magnitude = (1.0 - e) / (1.0 + e) * inverse_drive
        values[i] = magnitude if values[i] >= 0.0 else -magnitude


_CHUNK = 1024


_SQRT2 = math.sqrt(2.0)
_LN2 = math.log(2.0)
_DB_PER_LN = 20.0 / math.log(10.0)
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_EXPONENT = 0x3FF0000000000000


@kernel()
def level_db(values, out, scratch_bits):
    """``out[i] = 20 log10(values[i])`` for positive normal numbers, vectorised like the exp.

    x = 2^e m with m in [sqrt(1/2), sqrt(2)) read from the float's bits; ln m = 2 atanh(s),
    s = (m - 1) / (m + 1), |s| <= 0.172, by its series to s^19 (error < 1e-17).
    Zero or subnormal input gives a meaningless (finite) value: callers mask those.
    """
    n = values.shape[0]
    bits = values[:n].view(np.int64)
    for i in range(n):
        scratch_bits[i] = (bits[i] & _MANTISSA) | _ONE_EXPONENT
        out[i] = ((bits[i] >> 52) & 0x7FF) - 1023
    mantissas = scratch_bits[:n].view(np.float64)
    for i in range(n):
        m = mantissas[i]
        e = out[i]
        if m > _SQRT2:
            m *= 0.5
            e += 1.0
        s = (m - 1.0) / (m + 1.0)
        s2 = s * s
        q = 1.0 / 19.0
        q = q * s2 + 1.0 / 17.0
        q = q * s2 + 1.0 / 15.0
        q = q * s2 + 1.0 / 13.0
        q = q * s2 + 1.0 / 11.0
        q = q * s2 + 1.0 / 9.0
        q = q * s2 + 1.0 / 7.0
        q = q * s2 + 1.0 / 5.0
        q = q * s2 + 1.0 / 3.0
        q = q * s2 + 1.0
        out[i] = _DB_PER_LN * (e * _LN2 + 2.0 * s * q)


@kernel()
def compressor(
    bands, thresholds_db, ratios, knee_db, alpha_attack, alpha_release, state, out, reduction_db
):
    """Feed-forward compressor on ``bands`` (bands, frames, channels), summed into ``out``.

    Per band: stereo-linked peak level in dB, static curve, then a decoupled smooth peak detector
    on the gain reduction c: ``y1 = max(c, aR*y1)``, ``y = aA*y + (1-aA)*y1`` (state (bands, 2)
    holds y1, y). Output sample = sum over bands of band * 10^(-y/20); ``reduction_db`` gets the
    largest y over bands per frame. Each chunk goes through separate passes (levels, the
    recursion, gains, output) so that only the recursion runs one sample at a time.
    """
    n_bands, frames, channels = bands.shape
    floors = np.empty(n_bands)
    for b in range(n_bands):  # below this peak level a band is not compressed at all
        floors[b] = 10.0 ** ((thresholds_db[b] - 0.5 * knee_db) / 20.0)
    peaks = np.empty(_CHUNK)
    target = np.empty(_CHUNK)
    gains = np.empty(_CHUNK)
    bits = np.empty(_CHUNK, dtype=np.int64)
    flat_out = out.reshape(-1)
    for start in range(0, frames, _CHUNK):
        m = min(_CHUNK, frames - start)
        reduction_db[start : start + m] = 0.0
        for b in range(n_bands):
            threshold, ratio, floor = thresholds_db[b], ratios[b], floors[b]
            samples = bands[b].reshape(-1)[start * channels : (start + m) * channels]
            if channels == 2:
                for n in range(m):
                    peaks[n] = max(abs(samples[2 * n]), abs(samples[2 * n + 1]))
            else:
                for n in range(m):
                    peak = 0.0
                    for c in range(channels):
                        peak = max(peak, abs(samples[n * channels + c]))
                    peaks[n] = peak
            level_db(peaks[:m], target, bits)
            for n in range(m):
                level = target[n] if peaks[n] > floor else threshold - knee_db  # below: none
                target[n] = _reduction_db(level, threshold, ratio, knee_db)
            held, smooth = state[b, 0], state[b, 1]
            for n in range(m):
                held = max(target[n], alpha_release * held)
                if held < _TINY:
                    held = 0.0
                smooth = alpha_attack * smooth + (1.0 - alpha_attack) * held
                if smooth < _TINY:
                    smooth = 0.0
                gains[n] = -smooth * _LN10_OVER_20
                reduction_db[start + n] = max(reduction_db[start + n], smooth)
            state[b, 0], state[b, 1] = held, smooth
            exp_nonpositive(gains[:m], gains[:m], bits)
            destination = flat_out[start * channels : (start + m) * channels]
            if b == 0:
                destination[:] = 0.0
            if channels == 2:
                for n in range(m):
                    destination[2 * n] += samples[2 * n] * gains[n]
                    destination[2 * n + 1] += samples[2 * n + 1] * gains[n]
            else:
                for n in range(m):
                    for c in range(channels):
                        destination[n * channels + c] += samples[n * channels + c] * gains[n]


@kernel(fastmath=_FIR_MATH)
def oversampled_shaper(ext_x, up, shaped, down, drive, shape, mix, out):
    """Up-sample, shape, down-sample, mix: ``out[n, c] = d + mix[n] * (w - d)`` where
    w = LPF(f(drive * up(x)) / drive) and d = x, both at n - K.

    ``ext_x`` (channels, K + frames): K input samples of history, then the block. ``up``
    (factor, K + 1): polyphase rows from :func:`~zen.audio.pillars._filters.polyphase`; row 0
    of a Nyquist filter is a pure delay of K/2 and is not computed. ``shaped`` (channels,
    factor, K + frames): the high-rate signal by phase (sample ``factor * i + p`` at
    ``[p, i]``), the first K columns history; the rest is written here. ``down`` (factor * K
    + 1,): the reversed low-pass. Filters run tap by tap over chunks of samples, so every inner
    loop is a contiguous, vectorisable sweep. The caller keeps the histories.
    """
    channels = ext_x.shape[0]
    factor, width = up.shape
    history = width - 1
    centre = history // 2
    length = down.shape[0]
    frames = out.shape[0]
    acc = np.empty(_CHUNK)
    second = np.empty(_CHUNK)
    third = np.empty(_CHUNK)
    exps = np.empty(_CHUNK)
    bits = np.empty(_CHUNK, dtype=np.int64)
    # Inner loops run over 1-D slices: numba vectorises those, not 2-D indexing.
    for c in range(channels):
        source = ext_x[c]
        for start in range(0, frames, _CHUNK):
            m = min(_CHUNK, frames - start)
            shaped[c, 0, history + start : history + start + m] = source[
                start + centre : start + centre + m
            ]
            if factor == 4:  # phases 1-3 in one sweep share every load
                acc[:m] = 0.0
                second[:m] = 0.0
                third[:m] = 0.0
                for j in range(width):
                    tap1, tap2, tap3 = up[1, j], up[2, j], up[3, j]
                    window = source[start + j : start + j + m]
                    for n in range(m):
                        value = window[n]
                        acc[n] += tap1 * value
                        second[n] += tap2 * value
                        third[n] += tap3 * value
                shaped[c, 1, history + start : history + start + m] = acc[:m]
                shaped[c, 2, history + start : history + start + m] = second[:m]
                shaped[c, 3, history + start : history + start + m] = third[:m]
            else:
                for p in range(1, factor):
                    acc[:m] = 0.0
                    for j in range(width):
                        tap = up[p, j]
                        window = source[start + j : start + j + m]
                        for n in range(m):
                            acc[n] += tap * window[n]
                    shaped[c, p, history + start : history + start + m] = acc[:m]
            for p in range(factor):
                _shape_in_place(
                    shaped[c, p], history + start, history + start + m, drive, shape, exps, bits
                )
            acc[:m] = 0.0
            for j in range(length):
                tap = down[j]
                if tap == 0.0:
                    continue
                offset = start + j // factor
                window = shaped[c, j % factor][offset : offset + m]
                for n in range(m):
                    acc[n] += tap * window[n]
            dry = source[start : start + m]
            for n in range(m):
                out[start + n, c] = dry[n] + mix[start + n] * (acc[n] - dry[n])


@kernel(fastmath=_FIR_MATH)
def peak_excess_db(ext_x, phases, centre, history, threshold, bound, since_loud, excess_db):
    """How far (dB, >= 0) the true peak of each sample interval exceeds ``threshold`` (linear).

    The interval of frame n starts at sample n - centre; its peak is the stereo-linked maximum of
    |x| there and at the interpolated points after it (one per row of ``phases``, reversed
    polyphase rows reading ``ext_x[:, history - K + n : history + n + 1]``). ``ext_x``
    (channels, history + frames). Interpolation is skipped for chunks where no sample it reads
    exceeds ``threshold / bound`` (``bound`` = largest sum of |taps| of a row): the result could
    not reach the threshold. ``since_loud`` (1 item) carries frames since the last loud sample.
    """
    channels = ext_x.shape[0]
    n_phases, width = phases.shape
    frames = excess_db.shape[0]
    quiet_level = threshold / bound
    quiet_for = since_loud[0]
    peak = np.empty(_CHUNK)
    acc = np.empty(_CHUNK)
    second = np.empty(_CHUNK)
    third = np.empty(_CHUNK)
    bits = np.empty(_CHUNK, dtype=np.int64)
    for start in range(0, frames, _CHUNK):
        m = min(_CHUNK, frames - start)
        needed = False
        peak[:m] = 0.0
        for c in range(channels):
            newest = ext_x[c][history + start : history + start + m]
            for n in range(m):
                peak[n] = max(peak[n], abs(newest[n]))
        for n in range(m):
            quiet_for = 0 if peak[n] >= quiet_level else quiet_for + 1
            if quiet_for < width:
                needed = True
        peak[:m] = 0.0
        first = history - width + 1 + start
        for c in range(channels):
            source = ext_x[c]
            samples = source[history + start - centre : history + start - centre + m]
            for n in range(m):
                peak[n] = max(peak[n], abs(samples[n]))
            if not needed:
                continue
            if n_phases == 3:  # 4x: the three phases in one sweep share every load
                acc[:m] = 0.0
                second[:m] = 0.0
                third[:m] = 0.0
                for j in range(width):
                    tap0, tap1, tap2 = phases[0, j], phases[1, j], phases[2, j]
                    window = source[first + j : first + j + m]
                    for n in range(m):
                        value = window[n]
                        acc[n] += tap0 * value
                        second[n] += tap1 * value
                        third[n] += tap2 * value
                for n in range(m):
                    peak[n] = max(peak[n], abs(acc[n]), abs(second[n]), abs(third[n]))
                continue
            for p in range(n_phases):
                acc[:m] = 0.0
                for j in range(width):
                    tap = phases[p, j]
                    window = source[first + j : first + j + m]
                    for n in range(m):
                        acc[n] += tap * window[n]
                for n in range(m):
                    peak[n] = max(peak[n], abs(acc[n]))
        for n in range(m):
            acc[n] = max(peak[n], 1e-300) / threshold
        level_db(acc[:m], acc, bits)
        for n in range(m):
            excess_db[start + n] = acc[n] if peak[n] > threshold else 0.0
    since_loud[0] = quiet_for


@kernel()
def limiter_gain(ext_req, ext_release, window, alpha_release, release_state, reduction_db):
    """Look-ahead gain reduction from the required reduction per frame (dB, >= 0).

    ``ext_req`` (window + frames): the last ``window`` requirements, then this block's. For frame
    n: hold = max of the last window + 1 requirements; release ``r = max(hold, aR * r)``; the
    output is the mean of the last ``window`` values of r (``ext_release``, laid out like
    ``ext_req``, written here). That mean never falls short of the requirement ``window - 1``
    frames back, which is what makes the limiter exact after a delay of ``window - 1`` frames.
    """
    frames = reduction_db.shape[0]
    # A monotonic queue for the running maximum; indices only grow, so a straight array of
    # every index that could enter it needs no wrapping (no modulo in the loop).
    queue_index = np.empty(window + frames, dtype=np.int64)
    queue_value = np.empty(window + frames)
    head = 0
    tail = 0
    for k in range(window):  # the history: the last `window` requirements
        value = ext_req[k]
        while tail > head and queue_value[tail - 1] <= value:
            tail -= 1
        queue_index[tail] = k
        queue_value[tail] = value
        tail += 1
    total = 0.0
    nonzero = 0
    for k in range(1, window):
        total += ext_release[k]
        if ext_release[k] != 0.0:
            nonzero += 1
    released = release_state[0]
    for n in range(frames):
        k = window + n
        value = ext_req[k]
        while tail > head and queue_value[tail - 1] <= value:
            tail -= 1
        queue_index[tail] = k
        queue_value[tail] = value
        tail += 1
        while queue_index[head] < k - window:
            head += 1
        hold = queue_value[head]
        released = alpha_release * released
        if hold > released:
            released = hold
        if released < _TINY:
            released = 0.0
        ext_release[k] = released
        total += released
        if released != 0.0:
            nonzero += 1
        reduction_db[n] = total / window if nonzero > 0 else 0.0
        leaving = ext_release[n + 1]
        total -= leaving
        if leaving != 0.0:
            nonzero -= 1
        if nonzero == 0:
            total = 0.0
    release_state[0] = released


@kernel()
def apply_reduction(ext_x, delay, reduction_db, out):
    """``out[n, c] = ext_x[c, n + history - delay] * 10^(-reduction_db[n] / 20)``."""
    channels = ext_x.shape[0]
    frames = out.shape[0]
    history = ext_x.shape[1] - frames
    gains = np.empty(_CHUNK)
    bits = np.empty(_CHUNK, dtype=np.int64)
    for start in range(0, frames, _CHUNK):
        m = min(_CHUNK, frames - start)
        for n in range(m):
            gains[n] = -reduction_db[start + n] * _LN10_OVER_20
        exp_nonpositive(gains[:m], gains[:m], bits)
        first = start + history - delay
        for c in range(channels):
            source = ext_x[c][first : first + m]
            for n in range(m):
                out[start + n, c] = source[n] * gains[n]


@kernel()
def mid_side(x, width, mid_sos, mid_zi, side_sos, side_zi, out):
    """Stereo width with the low end made mono, in one pass.

    ``M = (L + R) / 2`` through the ``mid_sos`` sections, ``S = (L - R) / 2`` through the
    ``side_sos`` sections and scaled by ``width[n]``; ``out = (M + S, M - S)``. Sections as
    :func:`biquad_cascade` (states ``(sections, 2, 1)``); no sections: a plain mid/side matrix.
    """
    frames = x.shape[0]
    for i in range(frames):
        mid = 0.5 * (x[i, 0] + x[i, 1])
        side = 0.5 * (x[i, 0] - x[i, 1])
        for s in range(mid_sos.shape[0]):
            y = mid_sos[s, 0] * mid + mid_zi[s, 0, 0]
            mid_zi[s, 0, 0] = mid_sos[s, 1] * mid - mid_sos[s, 4] * y + mid_zi[s, 1, 0]
            mid_zi[s, 1, 0] = mid_sos[s, 2] * mid - mid_sos[s, 5] * y
            mid = y
        for s in range(side_sos.shape[0]):
            y = side_sos[s, 0] * side + side_zi[s, 0, 0]
            side_zi[s, 0, 0] = side_sos[s, 1] * side - side_sos[s, 4] * y + side_zi[s, 1, 0]
            side_zi[s, 1, 0] = side_sos[s, 2] * side - side_sos[s, 5] * y
            side = y
        side *= width[i]
        out[i, 0] = mid + side
        out[i, 1] = mid - side
