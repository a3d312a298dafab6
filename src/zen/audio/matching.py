"""Reference matching: give a mix the spectral balance of a reference track.

The approach of reference mastering tools such as matchering: compare the long-term average
spectra of the mix and the reference, smoothed to 1/3 octave, and correct the difference with a
linear-phase FIR whose gains are limited (default +-12 dB); loudness is matched afterwards by the
chain's loudness stage. Both spectra are normalised to the same total power first, so the filter
changes balance, not level.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from zen.audio.pillars._stage import Stage
from zen.errors import DataError

SMOOTHING_OCTAVES = 1.0 / 3.0
MAX_CORRECTION_DB = 12.0
LOWEST_HZ = 30.0
HIGHEST_HZ = 16_000.0
FILTER_SECONDS = 0.09  # FIR length: ~11 Hz resolution, 45 ms of latency


def average_spectrum(
    audio: np.ndarray, sample_rate: int, freqs_hz: np.ndarray, octaves: float = SMOOTHING_OCTAVES
) -> np.ndarray:
    """Long-term power spectrum (dB), averaged over channels, smoothed to ``octaves`` bands.

    Welch's method (Hann, ~2.7 Hz bins, :func:`welch_psd`), then for each of ``freqs_hz`` the
    mean power of the bins within ``octaves / 2`` of it on either side.
    """
    data = np.asarray(audio, dtype=np.float64)
    data = data[:, None] if data.ndim == 1 else data
    segment = min(len(data), 1 << int(np.ceil(np.log2(sample_rate / 2.7))))
    if segment < 256:
        raise DataError(f"audio: {len(data)} frames are too few for a spectrum (need 256)")
    freqs, power = welch_psd(data, sample_rate, segment)
    power = power.mean(axis=1)
    cumulative = np.concatenate(([0.0], np.cumsum(power)))
    half = 2.0 ** (octaves / 2.0)
    low = np.searchsorted(freqs, freqs_hz / half, side="left")
    high = np.searchsorted(freqs, freqs_hz * half, side="right")
    high = np.maximum(high, low + 1)
    mean = (cumulative[high] - cumulative[low]) / (high - low)
    return 10.0 * np.log10(np.maximum(mean, 1e-30))


def welch_psd(data: np.ndarray, sample_rate: int, segment: int) -> tuple[np.ndarray, np.ndarray]:
    r"""One-sided power spectral density of each column by Welch's method: (freqs_hz, power).

    Segments of ``segment`` frames without overlap (a trailing partial one is dropped), periodic
    Hann window :math:`w`, no detrending: :math:`P = \frac{2}{f_s \sum w^2}
    \overline{|\mathrm{rfft}(w x)|^2}` (not doubled at DC and Nyquist), the density
    ``scipy.signal.welch(data, fs, nperseg=segment, noverlap=0, detrend=False, axis=0)`` returns.
    NumPy only: importing scipy.signal would cost more than the whole spectrum.

    Args:
        data: (frames, channels), frames >= ``segment``.
        sample_rate: in Hz.
        segment: frames per segment.
    """
    count = len(data) // segment
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(segment) / segment)
    power = np.zeros((segment // 2 + 1, data.shape[1]))
    for index in range(count):  # one segment at a time: no copy of the whole programme
        spectrum = np.fft.rfft(
            data[index * segment : (index + 1) * segment] * window[:, None], axis=0
        )
        power += spectrum.real**2 + spectrum.imag**2
    power /= count * sample_rate * float(np.sum(window**2))
    power[1 : None if segment % 2 else -1] *= 2.0
    return np.fft.rfftfreq(segment, 1.0 / sample_rate), power


@dataclass(frozen=True)
class ReferenceMatch:
    """The result of :func:`match_spectrum`: the correction and the FIR that applies it.

    Attributes:
        freqs_hz: analysis frequencies (1/12 octave, 20 Hz to ~Nyquist).
        mix_db, reference_db: smoothed spectra, normalised to the same total power.
        correction_db: reference minus mix, limited and held constant outside
            [``LOWEST_HZ``, ``HIGHEST_HZ``].
        taps: the linear-phase FIR (odd length) at the mix's sample rate.
    """

    freqs_hz: np.ndarray
    mix_db: np.ndarray
    reference_db: np.ndarray
    correction_db: np.ndarray
    taps: np.ndarray

    def to_json(self) -> dict:
        """Curves for the report, thinned to 1/3 octave."""
        keep = slice(None, None, 4)
        return {
            "freqs_hz": np.round(self.freqs_hz[keep], 2).tolist(),
            "mix_db": np.round(self.mix_db[keep], 2).tolist(),
            "reference_db": np.round(self.reference_db[keep], 2).tolist(),
            "correction_db": np.round(self.correction_db[keep], 2).tolist(),
        }


def analysis_frequencies(sample_rate: int) -> np.ndarray:
    """1/12-octave grid from 20 Hz to 0.45 * sample_rate."""
    top = 0.45 * sample_rate
    count = int(np.floor(12 * np.log2(top / 20.0))) + 1
    return 20.0 * 2.0 ** (np.arange(count) / 12.0)


def match_spectrum(
    mix: np.ndarray,
    reference: np.ndarray,
    sample_rate: int,
    reference_sample_rate: int | None = None,
    max_correction_db: float = MAX_CORRECTION_DB,
) -> ReferenceMatch:
    """Design the FIR that moves the mix's average spectrum onto the reference's.

    Args:
        mix, reference: (frames, channels) or (frames,); any channel counts.
        sample_rate: of the mix (and of the FIR).
        reference_sample_rate: of the reference (default: the mix's).
        max_correction_db: the correction is clipped to +- this.
    """
    reference_rate = reference_sample_rate or sample_rate
    freqs = analysis_frequencies(min(sample_rate, reference_rate))
    mix_db = average_spectrum(mix, sample_rate, freqs)
    reference_db = average_spectrum(reference, reference_rate, freqs)
    band = (freqs >= LOWEST_HZ) & (freqs <= HIGHEST_HZ)
    # Same total power in the band: the filter then shapes balance, loudness comes later.
    mix_db = mix_db - 10.0 * np.log10(np.sum(10.0 ** (mix_db[band] / 10.0)))
    reference_db = reference_db - 10.0 * np.log10(np.sum(10.0 ** (reference_db[band] / 10.0)))
    correction = np.clip(reference_db - mix_db, -max_correction_db, max_correction_db)
    inside = np.flatnonzero(band)
    correction[: inside[0]] = correction[inside[0]]
    correction[inside[-1] + 1 :] = correction[inside[-1]]
    numtaps = 2 * round(FILTER_SECONDS * sample_rate / 2) + 1
    nyquist = sample_rate / 2.0
    grid = np.concatenate(([0.0], freqs[freqs < nyquist], [nyquist]))
    gains_db = np.concatenate(([correction[0]], correction[freqs < nyquist], [correction[-1]]))
    from scipy import signal  # imported on use: reference mode only, and slow to import

    taps = signal.firwin2(numtaps, grid, 10.0 ** (gains_db / 20.0), fs=sample_rate, window="hann")
    return ReferenceMatch(freqs, mix_db, reference_db, correction, np.ascontiguousarray(taps))


@dataclass(frozen=True)
class FIRParams:
    """A fixed FIR filter (odd length, linear phase): its taps."""

    taps: tuple[float, ...] = (1.0,)

    def __post_init__(self) -> None:
        taps = tuple(float(t) for t in self.taps)
        if len(taps) % 2 == 0 or not np.all(np.isfinite(taps)):
            raise DataError(f"taps: expected an odd number of finite values, got {len(taps)}")
        object.__setattr__(self, "taps", taps)


class FIRFilter(Stage[FIRParams]):
    """A linear-phase FIR per channel, streamed by FFT convolution; latency (taps - 1) / 2.

    Both DSP paths use SciPy's FFT convolution here (it is native code already).
    """

    pillar = "tone"
    params_class = FIRParams
    _taps: np.ndarray

    @property
    def latency_samples(self) -> int:
        return (len(self._taps) - 1) // 2

    def _configure(self, params: FIRParams, initial: bool) -> None:
        if not initial and len(params.taps) != len(self._taps):
            raise DataError(
                "taps: the FIR length sets the latency and cannot change while streaming"
            )
        self._taps = np.asarray(params.taps)
        if initial:
            self._history = np.zeros((len(self._taps) - 1, self.channels))

    def _reset(self) -> None:
        self._history[:] = 0.0

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        from scipy import signal  # imported on use: reference mode only, and slow to import

        extended = np.concatenate((self._history, x))
        out = signal.oaconvolve(extended, self._taps[:, None], mode="valid", axes=0)
        if len(self._history):
            self._history[:] = extended[len(x) :]
        return np.ascontiguousarray(out)
