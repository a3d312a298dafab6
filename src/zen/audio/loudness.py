"""Loudness and peak meters: integrated loudness (BS.1770-4 / EBU R128) and true peak.

Integrated loudness is measured by pyloudnorm (K-weighting, 400 ms blocks, absolute and relative
gates); zen does not re-derive it. pyloudnorm has no true-peak meter, so :func:`true_peak_dbtp`
implements BS.1770-4 Annex 2: over-sample to at least 176.4 kHz (4x at 44.1/48 kHz) with a
windowed-sinc interpolator (the one scipy's ``resample_poly`` designs, each phase at unit gain so
the samples pass unchanged) and take the largest absolute value; points that cannot exceed the
sample peak are not computed. The limiter's detector uses the same interpolator.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from scipy import signal

from zen.audio.pillars.limiter import between_sample_phases, true_peak_factor
from zen.errors import BackendUnavailable, DataError

GATING_BLOCK_S = 0.4
ABSOLUTE_GATE_LUFS = -70.0


@functools.lru_cache(maxsize=8)
def _meter(sample_rate: int) -> Any:
    try:
        import pyloudnorm
    except ImportError as error:
        raise BackendUnavailable(
            f"loudness metering needs pyloudnorm ({error}); pip install 'zen-neural[audio]'"
        ) from None
    return pyloudnorm.Meter(sample_rate)


def _frames(audio: np.ndarray, name: str) -> np.ndarray:
    data = np.asarray(audio, dtype=np.float64)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] > 5:
        raise DataError(
            f"{name}: expected shape (frames,) or (frames, channels <= 5), got {data.shape}"
        )
    return data


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (BS.1770-4), measured by pyloudnorm.

    Args:
        audio: (frames,) or (frames, channels), channels L, R[, C, Ls, Rs].
        sample_rate: in Hz.

    Returns:
        The loudness; ``-inf`` when every 400 ms block is below the -70 LUFS gate (silence).

    Raises:
        DataError: shorter than one gating block (400 ms), or a bad shape.
    """
    data = _frames(audio, "audio")
    if len(data) <= GATING_BLOCK_S * sample_rate:
        raise DataError(
            f"audio: {len(data)} frames ({len(data) / sample_rate:.3f} s) is too short to measure"
            f" integrated loudness; BS.1770 needs more than {GATING_BLOCK_S * 1000:.0f} ms"
        )
    return float(_meter(int(sample_rate)).integrated_loudness(data))


def true_peak_dbtp(audio: np.ndarray, sample_rate: int) -> float:
    """True peak in dBTP (BS.1770-4 Annex 2); ``-inf`` for digital silence.

    >>> t = np.arange(48000) / 48000
    >>> round(true_peak_dbtp(0.5 * np.sin(2 * np.pi * 997 * t), 48000), 1)  # 0.5 is -6.02 dB
    -6.0
    """
    data = _frames(audio, "audio")
    magnitude = np.abs(data).max(axis=1) if len(data) else np.zeros(0)
    peak = float(magnitude.max()) if len(data) else 0.0
    if peak == 0.0:
        return float("-inf")
    phases = between_sample_phases(true_peak_factor(int(sample_rate)))
    if len(phases):
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
                between = signal.oaconvolve(data, phase[::-1, None], mode="full", axes=0)
                peak = max(peak, float(np.abs(between).max()))
            return 20.0 * float(np.log10(peak))
        padded = np.concatenate(
            (np.zeros((length - 1, data.shape[1])), data, np.zeros((length - 1, data.shape[1])))
        )
        windows = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)
        for start in range(0, len(candidates), 65536):
            chosen = windows[candidates[start : start + 65536]]  # (points, channels, taps)
            between = np.einsum("kct,pt->kcp", chosen, phases)
            peak = max(peak, float(np.abs(between).max()))
    return 20.0 * float(np.log10(peak))


def sample_peak_dbfs(audio: np.ndarray) -> float:
    """Largest absolute sample value in dBFS; ``-inf`` for silence."""
    data = np.asarray(audio)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")
