"""What the assistant hears: a few seconds of audio summarised as a fixed-length feature vector.

A window is resampled to :attr:`FeatureConfig.sample_rate`, split into mid
:math:`M = (L+R)/2` and side :math:`S = (L-R)/2`, and analysed with a Hann-windowed STFT
(``n_fft`` points, hop ``n_fft / 2``). The power of each frame is pooled into ``n_bands``
triangular bands spaced evenly in log frequency (a mel-like filterbank that keeps resolution
in the bass, where the assistant's 80 Hz band lives). Per window the vector holds:

==============  =====  ================================================================
group           size   what it measures (everything in dB)
==============  =====  ================================================================
balance         B      mean mid band level minus the mean over bands: EQ tilt, bands
band dynamics   B      standard deviation over frames of each mid band's level
side - mid      B      side level minus mid level per band: stereo width
frame levels    6      percentiles (5, 25, 50, 75, 95, 99) of frame level minus the median
crest           3      sample peak minus RMS; median and 90th percentile of the crest of
                       23 ms blocks: compression squashes peaks first
level           3      RMS of mid, RMS of both channels, sample peak (dBFS): level errors
correlation     1      L/R correlation coefficient
==============  =====  ================================================================

Everything is NumPy (``numpy.fft.rfft`` over strided frames); a 3 s window costs about a
millisecond at ``n_fft=1024``. The FFT size is a measured choice: see
``bench/bench_audio_assistant.py`` (the FFT-size study) and the shipped config.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import fft, signal, sparse

from zen.errors import ConfigError, DataError

FFT_SIZES = (256, 512, 1024, 2048)
FRAME_PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
CREST_BLOCK = 1024  # 23 ms at 44.1 kHz
_FLOOR = 1e-12  # power floor: -120 dB, far below 24-bit dither
_LOWEST_HZ = 30.0
_HIGHEST_HZ = 18_000.0


@dataclass(frozen=True)
class FeatureConfig:
    """How windows are cut and summarised.

    Args:
        sample_rate: analysis rate in Hz; other rates are resampled to it.
        window_s: length of one analysis window.
        n_fft: STFT size (hop is half of it).
        n_bands: log-spaced bands between 30 Hz and 18 kHz.
    """

    sample_rate: int = 44_100
    window_s: float = 3.0
    n_fft: int = 1024
    n_bands: int = 32

    def __post_init__(self) -> None:
        if not (
            isinstance(self.n_fft, int) and self.n_fft >= 64 and self.n_fft & (self.n_fft - 1) == 0
        ):
            raise ConfigError(f"n_fft: expected a power of two >= 64, got {self.n_fft!r}")
        if not 4 <= self.n_bands <= 128:
            raise ConfigError(f"n_bands: expected 4 to 128 bands, got {self.n_bands!r}")
        if not 0.5 <= self.window_s <= 30.0:
            raise ConfigError(f"window_s: expected 0.5 to 30 seconds, got {self.window_s!r}")
        if not 16_000 <= self.sample_rate <= 192_000:
            raise ConfigError(f"sample_rate: expected 16 to 192 kHz, got {self.sample_rate!r}")

    @property
    def hop(self) -> int:
        return self.n_fft // 2

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def n_features(self) -> int:
        return 3 * self.n_bands + len(FRAME_PERCENTILES) + 3 + 3 + 1

    def feature_names(self) -> list[str]:
        """One name per feature, in order (for reports and tests)."""
        bands = range(self.n_bands)
        return [
            *(f"balance_{b}" for b in bands),
            *(f"band_std_{b}" for b in bands),
            *(f"side_minus_mid_{b}" for b in bands),
            *(f"frame_p{p:g}" for p in FRAME_PERCENTILES),
            "crest_db",
            "block_crest_p50",
            "block_crest_p90",
            "mid_rms_db",
            "rms_db",
            "peak_db",
            "correlation",
        ]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@functools.lru_cache(maxsize=16)
def band_matrix(n_fft: int, sample_rate: int, n_bands: int) -> sparse.csr_array:
    """Triangular log-frequency filterbank, shape ``(n_fft // 2 + 1, n_bands)``.

    Band centres are spaced evenly in log frequency; each triangle spans its neighbours'
    centres. A band narrower than an FFT bin would be empty, so every band keeps at least the
    bin nearest its centre (small FFTs then repeat the lowest bins: that is the resolution
    they have). Columns sum to one: a band's value is a mean power.
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    top = min(_HIGHEST_HZ, 0.45 * sample_rate)
    edges = np.geomspace(_LOWEST_HZ, top, n_bands + 2)
    log_freqs = np.log(np.maximum(freqs, 1e-3))
    log_edges = np.log(edges)
    weights = np.zeros((len(freqs), n_bands))
    for band in range(n_bands):
        low, centre, high = log_edges[band : band + 3]
        rising = (log_freqs - low) / (centre - low)
        falling = (high - log_freqs) / (high - centre)
        weights[:, band] = np.clip(np.minimum(rising, falling), 0.0, None)
        if not weights[:, band].any():
            weights[int(np.argmin(np.abs(freqs - edges[band + 1]))), band] = 1.0
    weights /= weights.sum(axis=0, keepdims=True)
    # Sparse, transposed: (bands, bins) @ (bins, frames) without BLAS, whose threads cost more
    # than the product on a busy machine.
    return sparse.csr_array(weights.T.astype(np.float32))


def _frames(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Overlapping frames of ``x`` (channels, samples) as (channels, frames, n_fft), a view."""
    if x.shape[-1] < n_fft:
        x = np.pad(x, ((0, 0), (0, n_fft - x.shape[-1])))
    return np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[:, ::hop]


@functools.lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    window = signal.get_window("hann", n_fft).astype(np.float32)
    window /= np.sqrt(np.mean(window**2))  # frame power is then the signal's mean power
    window.setflags(write=False)
    return window


def _db(power: Any) -> Any:
    return 10.0 * np.log10(np.maximum(power, _FLOOR))


def window_features(window: np.ndarray, config: FeatureConfig) -> np.ndarray:
    """Features of one stereo window at ``config.sample_rate``: ``(n_features,)`` float32.

    Args:
        window: ``(samples, 2)`` float, already at the analysis rate; mono is given as two
            equal channels (its side is silent).
    """
    x = np.asarray(window, dtype=np.float32)
    mid = 0.5 * (x[:, 0] + x[:, 1])
    side = 0.5 * (x[:, 0] - x[:, 1])
    frames = _frames(np.stack((mid, side)), config.n_fft, config.hop) * _hann(config.n_fft)
    spectrum = fft.rfft(frames, axis=-1)
    power = np.abs(spectrum) ** 2 * np.float32(2.0 / config.n_fft**2)  # (2, frames, bins)
    matrix = band_matrix(config.n_fft, config.sample_rate, config.n_bands)
    bands = (matrix @ power.reshape(-1, power.shape[-1]).T).T.reshape(2, -1, config.n_bands)
    mid_db = _db(bands[0])  # (frames, bands)
    mid_mean_db = _db(bands[0].mean(axis=0))
    balance = mid_mean_db - mid_mean_db.mean()
    band_std = mid_db.std(axis=0)
    side_minus_mid = _db(bands[1].mean(axis=0)) - mid_mean_db

    frame_db = _db(power[0].sum(axis=-1) + power[1].sum(axis=-1))
    percentiles = np.percentile(frame_db, FRAME_PERCENTILES)
    frame_levels = percentiles - np.median(frame_db)

    squares = x * x
    rms_db = _db(np.mean(squares, dtype=np.float64))
    peak_db = _db(float(np.max(np.abs(x))) ** 2)
    usable = len(x) // CREST_BLOCK * CREST_BLOCK or len(x)
    block = min(CREST_BLOCK, usable)
    block_peak_db = _db(np.max(np.abs(x[:usable].reshape(-1, block * 2)), axis=1) ** 2)
    block_rms_db = _db(np.mean(squares[:usable].reshape(-1, block * 2), axis=1))
    block_crest = block_peak_db - block_rms_db
    loud = block_crest[block_rms_db > rms_db - 30.0]
    loud = loud if len(loud) else block_crest
    crest = [peak_db - rms_db, np.percentile(loud, 50.0), np.percentile(loud, 90.0)]

    level = [_db(np.mean(mid * mid, dtype=np.float64)), rms_db, peak_db]
    left, right = x[:, 0], x[:, 1]
    energy = np.asarray(np.sum(squares, axis=0, dtype=np.float64))
    norm = math.sqrt(float(energy[0]) * float(energy[1]))
    correlation = float(np.sum(left * right, dtype=np.float64)) / norm if norm > 0 else 1.0
    return np.concatenate(
        (balance, band_std, side_minus_mid, frame_levels, crest, level, [correlation])
    ).astype(np.float32)


def as_stereo(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """``audio`` as ``(frames, 2)`` float32; mono (1-D or one column) becomes two equal channels.

    Raises:
        DataError: more than two channels, not numeric, NaN or infinite samples, empty.
    """
    data = np.asarray(audio)
    if data.dtype.kind not in "fiu":
        raise DataError(f"{name}: expected numeric samples, got dtype {data.dtype}")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] not in (1, 2):
        raise DataError(
            f"{name}: expected shape (frames,) or (frames, 1 or 2 channels), got {data.shape};"
            " pass audio as soundfile reads it, one column per channel"
        )
    if data.shape[0] == 0:
        raise DataError(f"{name}: has no samples")
    if data.dtype.kind in "iu":  # integer PCM: scale to [-1, 1)
        data = data / float(np.iinfo(data.dtype).max + 1)
    data = data.astype(np.float32, copy=False)
    if not np.isfinite(data).all():
        raise DataError(f"{name}: contains NaN or infinite samples")
    if data.shape[1] == 1:
        data = np.repeat(data, 2, axis=1)
    return np.ascontiguousarray(data)


def resample(audio: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """``audio`` (frames, channels) at ``target_rate`` (polyphase, SciPy's Kaiser filter)."""
    if sample_rate == target_rate:
        return audio
    divisor = math.gcd(int(sample_rate), int(target_rate))
    up, down = target_rate // divisor, sample_rate // divisor
    return signal.resample_poly(audio, up, down, axis=0).astype(np.float32)


def window_starts(frames: int, window: int, max_windows: int) -> list[int]:
    """Start frames of up to ``max_windows`` windows spread evenly over ``frames``.

    Audio shorter than one window gives one window (the whole of it).

    >>> window_starts(10, 4, 3), window_starts(3, 4, 3)
    ([0, 3, 6], [0])
    """
    if frames <= window:
        return [0]
    count = min(max_windows, 1 + (frames - window) // (window // 2))
    return [round(position) for position in np.linspace(0, frames - window, count)]
