"""Loudness: input gain (the loudness target's) and a look-ahead true-peak limiter."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from zen.audio.pillars._stage import (
    SmoothedValue,
    Stage,
    check_range,
    one_pole_coefficient,
    release_hold,
)
from zen.errors import ConfigError
from zen.filters import nyquist_interpolator, polyphase

# The detector's interpolator is the true-peak meter's (zen.audio.loudness: the filter scipy's
# resample_poly designs at 4x, a Kaiser-windowed sinc, beta 5, 20 taps per phase), so both see
# the same waveform between samples: 4x per BS.1770-4 Annex 2 below 88.2 kHz, fewer points above.
INTERPOLATOR_TAPS = 20
INTERPOLATOR_BETA = 5.0
DETECTOR_DELAY = INTERPOLATOR_TAPS // 2
# The detector aims this far under the ceiling: the gain moves while the waveform between two
# samples forms, which the meter sees as an overshoot of up to ~0.0005 dB on heavy limiting.
SAFETY_DB = 0.05


@functools.lru_cache(maxsize=4)
def between_sample_phases(factor: int) -> np.ndarray:
    """The interpolator's phases 1 .. ``factor - 1`` (the points between samples), each a row of
    taps in dot-product (reversed) order with unit DC gain; no rows when ``factor`` is 1.

    Shared by this detector and :func:`zen.audio.loudness.true_peak_dbtp`. The filter is the one
    ``scipy.signal.resample_poly(x, factor, 1)`` designs (Kaiser-windowed sinc, beta 5,
    10 * factor taps each side); resample_poly scales the whole filter to unit DC gain, which
    leaves the phases 0.06 % apart, while scaling each phase keeps the samples exact. Read-only
    by convention: the array is cached and shared.
    """
    design = max(factor, 2)
    taps = nyquist_interpolator(design, INTERPOLATOR_TAPS, INTERPOLATOR_BETA)
    return np.ascontiguousarray(polyphase(taps, design)[1:factor])


def true_peak_factor(sample_rate: int) -> int:
    """Oversampling that puts the interpolated grid at >= 176.4 kHz (4x at 44.1 and 48 kHz)."""
    if sample_rate < 88_200:
        return 4
    return 2 if sample_rate < 176_400 else 1


@dataclass(frozen=True)
class LimiterParams:
    """Loudness settings.

    Args:
        ceiling_dbtp: highest true peak of the output (dBTP, 4x oversampled as in BS.1770-4).
        gain_db: gain before the limiter; :meth:`zen.audio.MasterChain.fit` sets it from
            ``target_lufs``; for a stream, compute it up front and keep it fixed.
        lookahead_ms: how early the gain starts to move before a peak (the latency);
            fixed for the life of a stage.
        release_ms: time constant of the recovery after a peak.
        target_lufs: integrated loudness the chain aims for (None: keep ``gain_db``).
    """

    ceiling_dbtp: float = -1.0
    gain_db: float = 0.0
    lookahead_ms: float = 5.0
    release_ms: float = 100.0
    target_lufs: float | None = -14.0

    def __post_init__(self) -> None:
        check_range("ceiling_dbtp", self.ceiling_dbtp, -30.0, 0.0, " dBTP")
        check_range("gain_db", self.gain_db, -60.0, 60.0, " dB")
        check_range("lookahead_ms", self.lookahead_ms, 0.1, 50.0, " ms")
        check_range("release_ms", self.release_ms, 1.0, 5000.0, " ms")
        if self.target_lufs is not None:
            check_range("target_lufs", self.target_lufs, -60.0, 0.0, " LUFS")


class Limiter(Stage[LimiterParams]):
    r"""Loudness pillar: gain, then a look-ahead limiter that holds true peaks under the ceiling.

    For each sample interval the detector estimates the true peak (the samples and 3 points
    interpolated between them with the true-peak meter's filter)
    and the required reduction :math:`q = \max(0, 20\log_{10} p - (C - 0.05))` dB. The reduction
    applied, :math:`\bar r[n] = \frac1W\sum_{j=n-W+1}^{n} r[j]` with
    :math:`r[j] = \max(h[j], \alpha_R\,r[j-1])` and :math:`h[j] = \max_{j-W \le k \le j} q[k]`,
    is never less than the requirement of the intervals on either side of the sample it scales,
    which is delayed by ``W - 1`` samples (:math:`W` = look-ahead) plus the detector's delay: the
    ramp down is a smooth W-sample average that ends exactly on the peak. That delay is
    ``latency_samples``. ``gain_db`` glides; the ceiling and release apply at once.
    """

    pillar = "loudness"
    params_class = LimiterParams

    @property
    def latency_samples(self) -> int:
        return self._delay

    def _configure(self, params: LimiterParams, initial: bool) -> None:
        window = max(1, round(params.lookahead_ms * self.sample_rate / 1000.0))
        if initial:
            factor = true_peak_factor(self.sample_rate)
            self._phases = between_sample_phases(factor)
            self._bound = float(np.abs(self._phases).sum(axis=1).max()) if factor > 1 else 1.0
            self._window = window
            self._delay = DETECTOR_DELAY + window - 1
            self._history = max(INTERPOLATOR_TAPS, self._delay)
            self._input_history = np.zeros((self.channels, self._history))
            self._required_history = np.zeros(window)
            self._release_history = np.zeros(window)
            self._release_state = np.zeros(1)
            self._since_loud = np.full(1, INTERPOLATOR_TAPS + 1, dtype=np.int64)
            self._gain = SmoothedValue(10.0 ** (params.gain_db / 20.0), self.ramp_samples)
            self.gain_reduction_db = np.zeros(0)
        else:
            if window != self._window:
                raise ConfigError(
                    f"lookahead_ms: cannot change from {self.params.lookahead_ms} to"
                    f" {params.lookahead_ms} while streaming (it sets the latency); build a new"
                    " Limiter"
                )
            self._gain.set_target(10.0 ** (params.gain_db / 20.0))
        self._threshold_db = params.ceiling_dbtp - SAFETY_DB
        self._alpha_release = one_pole_coefficient(params.release_ms, self.sample_rate)

    def _reset(self) -> None:
        self._input_history[:] = 0.0
        self._required_history[:] = 0.0
        self._release_history[:] = 0.0
        self._release_state[:] = 0.0
        self._since_loud[:] = INTERPOLATOR_TAPS + 1
        self._gain.snap()

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        frames, history, window = len(x), self._history, self._window
        ext_x = self._workspace.get("ext_x", (self.channels, history + frames))
        ext_x[:, :history] = self._input_history
        np.multiply(x.T, self._gain.next(frames), out=ext_x[:, history:])
        ext_required = self._workspace.get("ext_required", (window + frames,))
        ext_release = self._workspace.get("ext_release", (window + frames,))
        ext_required[:window] = self._required_history
        ext_release[:window] = self._release_history
        reduction = self._workspace.get("reduction", (frames,))
        out = np.empty_like(x)
        threshold = 10.0 ** (self._threshold_db / 20.0)
        if kernels is not None:
            kernels.peak_excess_db(
                ext_x,
                self._phases,
                DETECTOR_DELAY,
                history,
                threshold,
                self._bound,
                self._since_loud,
                ext_required[window:],
            )
            kernels.limiter_gain(
                ext_required,
                ext_release,
                window,
                self._alpha_release,
                self._release_state,
                reduction,
            )
            kernels.apply_reduction(ext_x, self._delay, reduction, out)
        else:
            ext_required[window:] = self._reference_excess(ext_x, threshold)
            self._reference_gain(ext_required, ext_release, reduction)
            start = history - self._delay
            out[...] = ext_x[:, start : start + frames].T * (10.0 ** (-reduction / 20.0))[:, None]
        self._input_history[:] = ext_x[:, frames : frames + history]
        self._required_history[:] = ext_required[frames : frames + window]
        self._release_history[:] = ext_release[frames : frames + window]
        self.gain_reduction_db = reduction
        return out

    def _reference_excess(self, ext_x: np.ndarray, threshold: float) -> np.ndarray:
        from scipy import signal  # the reference path only (slow to import)

        frames = ext_x.shape[1] - self._history
        start = self._history - DETECTOR_DELAY
        peak = np.abs(ext_x[:, start : start + frames]).max(axis=0)
        width = self._phases.shape[1]
        window = ext_x[:, self._history - width + 1 :]
        for row in self._phases:
            interpolated = signal.lfilter(row[::-1], [1.0], window, axis=1)[:, width - 1 :]
            np.maximum(peak, np.abs(interpolated).max(axis=0), out=peak)
        with np.errstate(divide="ignore"):
            excess = 20.0 * np.log10(peak / threshold)
        return np.where(peak > threshold, excess, 0.0)

    def _reference_gain(
        self, ext_required: np.ndarray, ext_release: np.ndarray, reduction: np.ndarray
    ) -> None:
        from scipy import ndimage  # the reference path only (slow to import)

        window = self._window
        # hold[n] = max(ext_required[n : n + window + 1]); the filter is centred, so shift it.
        size = window + 1
        held = ndimage.maximum_filter1d(ext_required, size=size, origin=-(size // 2))
        held = held[: len(ext_required) - window]
        released = release_hold(held, self._alpha_release, float(self._release_state[0]))
        ext_release[window:] = released
        self._release_state[0] = released[-1]
        # Window sums from running totals, restarted every 4096 frames to keep them small.
        for start in range(0, len(reduction), 4096):
            stop = min(start + 4096, len(reduction))
            span = ext_release[start + 1 : stop + window]
            sums = np.concatenate(([0.0], np.cumsum(span)))
            reduction[start:stop] = (sums[window:] - sums[: len(sums) - window]) / window
