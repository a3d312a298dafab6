"""Mix problems with known parameters, made with the master chain's own stages.

Self-supervised training needs audio whose correction is known. A :class:`Degradation` takes
well-mastered music and spoils it by a known amount; the assistant learns to predict the
inverse (:meth:`Degradation.corrections`), in the units of
:class:`~zen.audio.presets.Corrections`:

=============  =========================================================  ====================
problem        made by                                                    correction target
=============  =========================================================  ====================
spectral tilt  :class:`~zen.audio.pillars.Equalizer` shelves at 250 Hz    ``-tilt`` dB/octave
               and 4 kHz with :func:`~zen.audio.pillars.eq.tilt_gains_db`
band boosts    peaking bands (Q 1) at ``ASSISTANT_BANDS_HZ``              ``-gain`` per band
               exactly as :func:`~zen.audio.presets.apply_corrections`
               builds them: a peaking band of ``-g`` dB undoes one of
               ``+g`` dB exactly (RBJ peaking filters are reciprocal)
over-          :class:`~zen.audio.pillars.Compressor`, threshold and     ``-amount`` (less
compression    ratio moved as ``apply_corrections`` moves them             compression)
under-         an upward expander with the compressor's static curve     ``+amount`` (more
compression    inverted (ratio ``R`` becomes ``1/R`` above threshold)       compression)
width          :class:`~zen.audio.pillars.StereoImager` width ``w``       ``1 / w``
level          a gain of ``g`` dB after the rest                          ``-g`` dB
=============  =========================================================  ====================

Every problem but the level error keeps the window's RMS (a boosted band does not make the
window louder), so the loudness target depends on the level error alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage, signal

from zen.audio.pillars.compressor import Compressor, CompressorParams, static_reduction_db
from zen.audio.pillars.eq import EQParams, Equalizer, PeakBand, tilt_gains_db
from zen.audio.pillars.stereo import StereoImager, StereoParams
from zen.audio.presets import (
    ASSISTANT_BANDS_HZ,
    MAX_BAND_GAIN_DB,
    MAX_LOUDNESS_GAP_DB,
    MAX_TILT_DB_PER_OCTAVE,
    Corrections,
)
from zen.errors import ConfigError

MAX_WIDTH_OCTAVES = 1.0  # width factors from 1/2 to 2
# Compression of `amount` 1: threshold this far below the window's peak, ratio this much higher
# (apply_corrections moves the chain's threshold by 12 dB and its ratio by 2 per unit amount).
THRESHOLD_DROP_DB = 12.0
RATIO_RISE = 2.0
BASE_THRESHOLD_BELOW_PEAK_DB = 4.0
BASE_RATIO = 1.5
ATTACK_MS = 10.0
RELEASE_MS = 120.0
KNEE_DB = 6.0


@dataclass(frozen=True)
class Degradation:
    """One known mix problem (all zero / one: the audio unchanged).

    Args:
        tilt_db_per_octave: spectral tilt applied, pivoting at 1 kHz (+ brighter).
        band_gains_db: gains applied at ``ASSISTANT_BANDS_HZ``.
        compression: > 0 over-compressed by that amount (0..1), < 0 expanded (under-compressed).
        width: stereo width factor applied (1 unchanged).
        level_db: gain applied last.
    """

    tilt_db_per_octave: float = 0.0
    band_gains_db: tuple[float, ...] = field(default=(0.0,) * len(ASSISTANT_BANDS_HZ))
    compression: float = 0.0
    width: float = 1.0
    level_db: float = 0.0

    def __post_init__(self) -> None:
        if len(self.band_gains_db) != len(ASSISTANT_BANDS_HZ):
            raise ConfigError(
                f"band_gains_db: expected {len(ASSISTANT_BANDS_HZ)} gains, got {self.band_gains_db}"
            )
        object.__setattr__(self, "band_gains_db", tuple(float(g) for g in self.band_gains_db))
        if not -1.0 <= self.compression <= 1.0:
            raise ConfigError(f"compression: expected -1 to 1, got {self.compression!r}")
        if not 0.25 <= self.width <= 4.0:
            raise ConfigError(f"width: expected a factor in [0.25, 4], got {self.width!r}")

    def corrections(self) -> Corrections:
        """The corrections that undo this degradation (the training target)."""
        return Corrections(
            eq_tilt_db_per_octave=-self.tilt_db_per_octave,
            band_gains_db=tuple(-g for g in self.band_gains_db),
            compression_amount=-self.compression,
            width=1.0 / self.width,
            loudness_gap_db=-self.level_db,
        )

    def eq_params(self) -> EQParams:
        """The equaliser settings that make the spectral part of this degradation."""
        low_db, high_db = tilt_gains_db(self.tilt_db_per_octave, 250.0, 4000.0)
        bands = tuple(
            PeakBand(freq, gain, 1.0)
            for freq, gain in zip(ASSISTANT_BANDS_HZ, self.band_gains_db, strict=True)
            if gain != 0.0
        )
        return EQParams(
            low_shelf_hz=250.0,
            low_shelf_gain_db=low_db,
            high_shelf_hz=4000.0,
            high_shelf_gain_db=high_db,
            bands=bands,
        )

    def apply(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """The degraded copy of ``audio`` (frames, 2), float64; ``audio`` is not changed."""
        x = np.ascontiguousarray(audio, dtype=np.float64)
        reference_power = float(np.mean(x**2))
        options: dict[str, Any] = {"sample_rate": sample_rate, "channels": 2, "smoothing_ms": 0.0}
        if self.tilt_db_per_octave != 0.0 or any(self.band_gains_db):
            x = Equalizer(self.eq_params(), **options).process(x)
        if self.compression > 0.0:
            x = Compressor(compressor_params(self.compression, x), **options).process(x)
        elif self.compression < 0.0:
            x = expand(x, -self.compression, sample_rate)
        if self.width != 1.0:
            x = StereoImager(StereoParams(width=min(self.width, 2.0)), **options).process(x)
        power = float(np.mean(x**2))
        if power > 0.0 and reference_power > 0.0:
            x *= math.sqrt(reference_power / power)
        return x * 10.0 ** (self.level_db / 20.0)


def compressor_params(amount: float, audio: np.ndarray) -> CompressorParams:
    """Compressor settings for ``amount`` (0..1) of compression, relative to the audio's peak."""
    peak_db = 20.0 * math.log10(max(float(np.max(np.abs(audio))), 1e-9))
    threshold = peak_db - BASE_THRESHOLD_BELOW_PEAK_DB - THRESHOLD_DROP_DB * amount
    return CompressorParams(
        threshold_db=float(np.clip(threshold, -80.0, 0.0)),
        ratio=BASE_RATIO + RATIO_RISE * amount,
        attack_ms=ATTACK_MS,
        release_ms=RELEASE_MS,
        knee_db=KNEE_DB,
    )


def expand(audio: np.ndarray, amount: float, sample_rate: int) -> np.ndarray:
    r"""Upward expansion: the inverse static curve of :func:`compressor_params` (``amount`` 0..1).

    A compressor maps a level :math:`x` above threshold :math:`T` to :math:`T + (x - T)/R`; the
    expander maps it to :math:`T + R(x - T)`, a gain of :math:`R \cdot c(x)` dB where
    :math:`c` is the compressor's reduction (:func:`static_reduction_db`). The gain follows a
    peak-hold detector (release) smoothed by a one-pole (attack), like the compressor's.
    """
    params = compressor_params(amount, audio)
    peak = np.max(np.abs(audio), axis=1)
    with np.errstate(divide="ignore"):
        level_db = 20.0 * np.log10(peak)
    gain_db = params.ratio * static_reduction_db(
        level_db, params.threshold_db, params.ratio, params.knee_db
    )
    held = ndimage.maximum_filter1d(gain_db, size=max(1, round(RELEASE_MS * sample_rate / 2000)))
    alpha = math.exp(-1000.0 / (ATTACK_MS * sample_rate))
    smooth = signal.lfilter([1.0 - alpha], [1.0, -alpha], held)
    return audio * (10.0 ** (smooth / 20.0))[:, None]


@dataclass(frozen=True)
class DegradationSampler:
    """Draws random degradations; each problem is present with its own probability.

    Magnitudes are uniform within the ranges the chain can correct (tilt +-3 dB/octave, bands
    +-6 dB, compression +-1, width 1/2..2 log-uniform, level +-6 dB).
    """

    p_tilt: float = 0.6
    p_band: float = 0.3
    p_compression: float = 0.6
    p_width: float = 0.6
    p_level: float = 0.7

    def __call__(self, rng: np.random.Generator) -> Degradation:
        def maybe(probability: float, low: float, high: float) -> float:
            return float(rng.uniform(low, high)) if rng.random() < probability else 0.0

        tilt = maybe(self.p_tilt, -MAX_TILT_DB_PER_OCTAVE, MAX_TILT_DB_PER_OCTAVE)
        bands = tuple(
            maybe(self.p_band, -MAX_BAND_GAIN_DB, MAX_BAND_GAIN_DB) for _ in ASSISTANT_BANDS_HZ
        )
        compression = maybe(self.p_compression, -1.0, 1.0)
        width = 2.0 ** maybe(self.p_width, -MAX_WIDTH_OCTAVES, MAX_WIDTH_OCTAVES)
        level = maybe(self.p_level, -MAX_LOUDNESS_GAP_DB, MAX_LOUDNESS_GAP_DB)
        return Degradation(tilt, bands, compression, width, level)
