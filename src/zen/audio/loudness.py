"""Loudness and peak meters: integrated loudness (BS.1770-4 / EBU R128) and true peak.

Integrated loudness follows ITU-R BS.1770-4: K-weighting (a +4 dB high shelf above ~1.7 kHz,
then a 38 Hz high-pass, :func:`k_weighting`), mean squares over 400 ms blocks that start every
100 ms, channel weights 1, 1, 1, 1.41, 1.41 (L, R, C, Ls, Rs), an absolute gate at -70 LUFS and
a relative gate 10 LU under the loudness of the blocks that pass it. Only complete blocks count
(eq. 3). The tests hold the meter to pyloudnorm's ``filter_class="DeMan"`` (the same filter) and
to the standard's 997 Hz calibration; pyloudnorm's default filter is an RBJ approximation that
reads music about 0.05 LU lower. The filter runs on the numba biquad kernel when the native DSP
path is on (see :mod:`zen.audio._native`), five times faster than pyloudnorm, and the meter
imports neither pyloudnorm nor scipy (whose import alone takes longer than mastering a track).

:func:`true_peak_dbtp` implements BS.1770-4 Annex 2: over-sample to at least 176.4 kHz (4x at
44.1/48 kHz) with a windowed-sinc interpolator (the one scipy's ``resample_poly`` designs, each
phase at unit gain so the samples pass unchanged) and take the largest absolute value; points
that cannot exceed the sample peak are not computed. The limiter's detector uses the same
interpolator (and, on the native path, the same kernel).
"""

from __future__ import annotations

import functools
import logging
import math
from types import ModuleType

import numpy as np

from zen.audio._native import announce_once, compile_notice, resolve_kernels
from zen.audio.io import frame_peaks
from zen.audio.pillars.limiter import between_sample_phases, true_peak_factor
from zen.errors import DataError
from zen.filters import BiquadCascade

GATING_BLOCK_S = 0.4
BLOCK_STEP = 0.25  # blocks start every quarter block (75 % overlap)
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs (BS.1770-4 table 3)
LOUDNESS_OFFSET = -0.691  # makes a 997 Hz sine at 0 dBFS on one channel read -3.01 LUFS


# The analogue prototypes of BS.1770-4's two K-weighting stages, fitted to its 48 kHz table by
# B. De Man ("Evaluation of implementations of the EBU R128 loudness measurement", AES 2018);
# libebur128 designs its filters from the same values.
SHELF_HZ, SHELF_GAIN_DB, SHELF_Q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
SHELF_BANDWIDTH_EXPONENT = 0.4996667741545416
HIGH_PASS_HZ, HIGH_PASS_Q = 38.13547087602444, 0.5003270373238773


@functools.lru_cache(maxsize=16)
def k_weighting(sample_rate: int) -> np.ndarray:
    r"""BS.1770-4's K-weighting at ``sample_rate`` as an ``sos`` array: the shelf, the high-pass.

    Both stages are the bilinear transforms of analogue prototypes, with
    :math:`K = \tan(\pi f_0 / f_s)`: the shelf
    :math:`H(z) = \frac{(V_h + V_b K/Q + K^2) + 2(K^2 - V_h) z^{-1} + (V_h - V_b K/Q + K^2) z^{-2}}
    {(1 + K/Q + K^2) + 2(K^2 - 1) z^{-1} + (1 - K/Q + K^2) z^{-2}}`, :math:`V_h = 10^{G/20}`,
    :math:`V_b = V_h^{0.49967}`, and a second-order high-pass with numerator
    :math:`1 - 2z^{-1} + z^{-2}`. At 48 kHz this reproduces the standard's table to 1e-8.
    Read-only by convention: the array is cached and shared.
    """
    k = math.tan(math.pi * SHELF_HZ / sample_rate)
    high = 10.0 ** (SHELF_GAIN_DB / 20.0)
    band = high**SHELF_BANDWIDTH_EXPONENT
    norm = 1.0 + k / SHELF_Q + k * k
    shelf = [
        (high + band * k / SHELF_Q + k * k) / norm,
        2.0 * (k * k - high) / norm,
        (high - band * k / SHELF_Q + k * k) / norm,
        1.0,
        2.0 * (k * k - 1.0) / norm,
        (1.0 - k / SHELF_Q + k * k) / norm,
    ]
    k = math.tan(math.pi * HIGH_PASS_HZ / sample_rate)
    norm = 1.0 + k / HIGH_PASS_Q + k * k
    high_pass = [
        1.0,
        -2.0,
        1.0,
        1.0,
        2.0 * (k * k - 1.0) / norm,
        (1.0 - k / HIGH_PASS_Q + k * k) / norm,
    ]
    return np.array([shelf, high_pass])


def _frames(audio: np.ndarray, name: str) -> np.ndarray:
    data = np.asarray(audio, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] > 5:
        raise DataError(
            f"{name}: expected shape (frames,) or (frames, channels <= 5), got {data.shape}"
        )
    return np.ascontiguousarray(data)


def _k_weighted(data: np.ndarray, sample_rate: int) -> np.ndarray:
    """``data`` through the K-weighting filter, from silence (a new array)."""
    sos = k_weighting(int(sample_rate))
    kernels = resolve_kernels(None)
    if kernels is not None:
        try:
            with compile_notice():
                return BiquadCascade(sos, data.shape[1]).process(data, kernels)
        except Exception as error:  # numba failing to compile; the reference path still works
            announce_once(
                "kernel-failure:loudness",
                "loudness meter: the numba kernel failed (%s: %s); using SciPy",
                type(error).__name__,
                error,
                level=logging.WARNING,
            )
    return BiquadCascade(sos, data.shape[1]).process(data, None)


def block_energies(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    r"""Mean square of the K-weighted signal per gating block and channel, shape (blocks, channels).

    Block :math:`j` covers samples :math:`[\lfloor 0.1 j f_s \rfloor,
    \lfloor (0.1 j + 0.4) f_s \rfloor)` (BS.1770-4 eq. 1 and 3); only complete blocks count.
    The squares are summed per 100 ms hop, then four hops per block, so silence sums to exactly 0.

    Raises:
        DataError: shorter than one gating block, or a bad shape.
    """
    data = _frames(audio, "audio")
    if len(data) <= GATING_BLOCK_S * sample_rate:
        raise DataError(
            f"audio: {len(data)} frames ({len(data) / sample_rate:.3f} s) is too short to measure"
            f" integrated loudness; BS.1770 needs more than {GATING_BLOCK_S * 1000:.0f} ms"
        )
    hops_per_block = round(1.0 / BLOCK_STEP)
    # Hop k starts at floor(0.4 * (k * 0.25) * fs), the expression pyloudnorm uses too, so that
    # both meters cut a file at the same samples at any rate; block j is hops j .. j + 3, and it
    # counts when it ends at or before the last sample.
    most = int(len(data) / (GATING_BLOCK_S * BLOCK_STEP * sample_rate)) + 1
    hop_starts_s = GATING_BLOCK_S * (np.arange(most + hops_per_block) * BLOCK_STEP)
    starts = (hop_starts_s * sample_rate).astype(np.int64)
    blocks = int(np.count_nonzero(starts[hops_per_block:] <= len(data)))
    starts = starts[: blocks + hops_per_block]
    squares = _k_weighted(data, sample_rate)
    np.square(squares, out=squares)
    hops = np.add.reduceat(squares[: starts[-1]], starts[:-1], axis=0)
    hops[starts[:-1] == starts[1:]] = 0.0  # reduceat returns the element itself for empty hops
    sums = hops[:blocks].copy()
    for k in range(1, hops_per_block):
        sums += hops[k : k + blocks]
    return sums / (GATING_BLOCK_S * sample_rate)


def gated_loudness(energies: np.ndarray) -> float:
    r"""Integrated loudness (LUFS) from :func:`block_energies`: the two gates of BS.1770-4.

    :math:`l_j = -0.691 + 10\log_{10}\sum_i G_i z_{ij}`; blocks with :math:`l_j > -70` give
    :math:`\Gamma_r = -0.691 + 10\log_{10}\sum_i G_i \bar z_i - 10`; the loudness is
    :math:`-0.691 + 10\log_{10}\sum_i G_i \bar z_i` over blocks above both gates (eq. 4-7).
    ``-inf`` when no block passes the absolute gate.
    """
    weights = np.asarray(CHANNEL_WEIGHTS[: energies.shape[1]])
    weighted = energies @ weights
    with np.errstate(divide="ignore"):
        block_lufs = LOUDNESS_OFFSET + 10.0 * np.log10(weighted)
    loud = block_lufs > ABSOLUTE_GATE_LUFS
    if not loud.any():
        return float("-inf")
    relative_gate = LOUDNESS_OFFSET + 10.0 * np.log10(weighted[loud].mean()) + RELATIVE_GATE_LU
    kept = loud & (block_lufs > relative_gate)
    return float(LOUDNESS_OFFSET + 10.0 * np.log10(weighted[kept].mean()))


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4, EBU R128).

    Args:
        audio: (frames,) or (frames, channels), channels L, R[, C, Ls, Rs].
        sample_rate: in Hz.

    Returns:
        The loudness; ``-inf`` when every 400 ms block is below the -70 LUFS gate (silence).

    Raises:
        DataError: shorter than one gating block (400 ms), or a bad shape.

    >>> t = np.arange(48000 * 2) / 48000
    >>> round(integrated_lufs(np.sin(2 * np.pi * 997 * t), 48000), 2)  # BS.1770-4: -3.01
    -3.01
    """
    return gated_loudness(block_energies(audio, sample_rate))


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP (BS.1770-4 Annex 2); ``-inf`` for digital silence.

    >>> t = np.arange(48000) / 48000
    >>> round(true_peak_dbtp(0.5 * np.sin(2 * np.pi * 997 * t), 48000), 1)  # 0.5 is -6.02 dB
    -6.0
    """
    data = _frames(audio, "audio")
    peak = max(float(data.max()), -float(data.min())) if data.size else 0.0
    if peak == 0.0:
        return float("-inf")
    phases = between_sample_phases(true_peak_factor(int(sample_rate)))
    if len(phases):
        kernels = resolve_kernels(None)
        if kernels is not None:
            peak = _between_samples_native(data, phases, peak, kernels)
        else:
            peak = _between_samples(data, phases, peak)
    return 20.0 * math.log10(peak)


def _between_samples_native(
    data: np.ndarray, phases: np.ndarray, peak: float, kernels: ModuleType
) -> float:
    """The largest of ``peak`` and every interpolated point, by the limiter's detector kernel.

    The kernel reports how far (dB) each sample interval's true peak exceeds a threshold, and
    skips stretches whose samples are too low to exceed it; with the sample peak as threshold
    that is exactly the meter's search. Zeros around the signal let the interpolator ring out
    past both ends, as a converter would.
    """
    width = phases.shape[1]
    history = width - 1
    frames = len(data) + width - 1
    padded = np.zeros((data.shape[1], history + frames))
    padded[:, history : history + len(data)] = data.T
    excess_db = np.zeros(frames)
    bound = float(np.abs(phases).sum(axis=1).max())
    since_loud = np.full(1, width + 1, dtype=np.int64)
    with compile_notice():
        kernels.peak_excess_db(padded, phases, 0, history, peak, bound, since_loud, excess_db)
    return peak * 10.0 ** (float(excess_db.max()) / 20.0)


def _between_samples(data: np.ndarray, phases: np.ndarray, peak: float) -> float:
    """NumPy version of :func:`_between_samples_native`."""
    magnitude = frame_peaks(data)
    length = phases.shape[1]
    # An interpolated point exceeds the sample peak only near samples above peak / bound
    # (bound: the largest sum of |taps| of a phase); only those points are computed.
    bound = float(np.abs(phases).sum(axis=1).max())
    near = np.zeros(len(data) + length - 1, dtype=bool)
    loud = np.flatnonzero(magnitude * bound >= peak)
    for offset in range(length):
        near[loud + offset] = True
    candidates = np.flatnonzero(near)
    if len(candidates) > len(data) // 8:  # most points: convolve everything at once
        for phase in phases:
            for channel in data.T:
                peak = max(peak, float(np.abs(np.convolve(channel, phase[::-1])).max()))
        return peak
    padded = np.concatenate(
        (np.zeros((length - 1, data.shape[1])), data, np.zeros((length - 1, data.shape[1])))
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)
    for start in range(0, len(candidates), 65536):
        chosen = windows[candidates[start : start + 65536]]  # (points, channels, taps)
        between = np.einsum("kct,pt->kcp", chosen, phases)
        peak = max(peak, float(np.abs(between).max()))
    return peak


def sample_peak_dbfs(audio: np.ndarray) -> float:
    """Largest absolute sample value in dBFS; ``-inf`` for silence."""
    data = np.asarray(audio)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")
