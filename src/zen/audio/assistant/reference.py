"""The reference master: the corpus's average spectral balance and stereo width.

Game music is mixed every which way: between two tracks the long-term balance differs by more
than the EQ problems the assistant must hear, and the width (side level relative to mid) spans
20 dB. Trained on the tracks as they are, a network cannot tell a track's own character from a
problem, and learns nothing about EQ. So before any degradation, every training track is
brought to the *reference*: a linear-phase FIR gives it the corpus's mean long-term balance
(at 1/5-octave resolution, corrections limited to +-12 dB), and its side is scaled to the
corpus's median side-to-mid ratio. Its loudness is set to -14 LUFS as well
(:mod:`zen.audio.assistant.dataset`).

The assistant then learns, and suggests, the corrections that bring a mix to that reference:
the approach of reference-matching tools (matchering, the chain's own
:mod:`zen.audio.matching`), with the reference learned from the corpus and expressed in the
chain's parameters. The reference is stored in the weights' config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

from zen.audio.assistant.features import _HIGHEST_HZ, _LOWEST_HZ, band_matrix

ANALYSIS_N_FFT = 4096
FIR_TAPS = 4097  # linear phase; ~11 Hz resolution at 44.1 kHz
MAX_CORRECTION_DB = 12.0
MAX_WIDTH_CHANGE_DB = 12.0
_FLOOR = 1e-12


@dataclass(frozen=True)
class TrackBalance:
    """Long-term balance of one track: mid band levels (dB, mean over bands 0) and side-to-mid
    ratio (dB)."""

    balance_db: np.ndarray
    side_minus_mid_db: float


@dataclass(frozen=True)
class ReferenceBalance:
    """What every training track is brought to (see the module docstring)."""

    balance_db: tuple[float, ...]
    side_minus_mid_db: float

    def to_json(self) -> dict[str, Any]:
        return {
            "balance_db": [round(v, 3) for v in self.balance_db],
            "side_minus_mid_db": round(self.side_minus_mid_db, 3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferenceBalance:
        return cls(tuple(float(v) for v in data["balance_db"]), float(data["side_minus_mid_db"]))

    @classmethod
    def from_tracks(cls, balances: list[TrackBalance]) -> ReferenceBalance:
        """Mean balance and median width of ``balances``."""
        mean = np.mean([b.balance_db for b in balances], axis=0)
        width = float(np.median([b.side_minus_mid_db for b in balances]))
        return cls(tuple(float(v) for v in mean - mean.mean()), width)


def band_centres_hz(sample_rate: int, n_bands: int) -> np.ndarray:
    """Centre frequencies of the feature bands (as :func:`band_matrix` spaces them)."""
    top = min(_HIGHEST_HZ, 0.45 * sample_rate)
    return np.geomspace(_LOWEST_HZ, top, n_bands + 2)[1:-1]


def track_balance(audio: np.ndarray, sample_rate: int, n_bands: int) -> TrackBalance:
    """Long-term balance of ``audio`` (frames, 2): Welch-style mean power per band."""
    mid = 0.5 * (audio[:, 0] + audio[:, 1])
    side = 0.5 * (audio[:, 0] - audio[:, 1])
    _, mid_power = signal.welch(mid, nperseg=ANALYSIS_N_FFT)
    _, side_power = signal.welch(side, nperseg=ANALYSIS_N_FFT)
    matrix = band_matrix(ANALYSIS_N_FFT, sample_rate, n_bands)
    mid_bands = 10.0 * np.log10(np.maximum(matrix @ mid_power, _FLOOR))
    ratio = float(np.sum(side_power)) / max(float(np.sum(mid_power)), _FLOOR)
    return TrackBalance(mid_bands - mid_bands.mean(), 10.0 * np.log10(max(ratio, _FLOOR)))


def to_reference(
    audio: np.ndarray, sample_rate: int, balance: TrackBalance, reference: ReferenceBalance
) -> np.ndarray:
    """``audio`` (frames, 2) with the reference's balance and width."""
    correction = np.clip(
        np.asarray(reference.balance_db) - balance.balance_db, -MAX_CORRECTION_DB, MAX_CORRECTION_DB
    )
    correction = np.convolve(np.pad(correction, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    centres = band_centres_hz(sample_rate, len(correction))
    nyquist = sample_rate / 2.0
    freqs = np.concatenate(([0.0], centres, [nyquist]))
    gains_db = np.concatenate(([correction[0]], correction, [correction[-1]]))
    fir = signal.firwin2(FIR_TAPS, freqs, 10.0 ** (gains_db / 20.0), fs=sample_rate)
    shaped = signal.oaconvolve(audio, fir[:, None], mode="same", axes=0)
    change_db = np.clip(
        reference.side_minus_mid_db - balance.side_minus_mid_db,
        -MAX_WIDTH_CHANGE_DB,
        MAX_WIDTH_CHANGE_DB,
    )
    mid = 0.5 * (shaped[:, 0] + shaped[:, 1])
    side = 0.5 * (shaped[:, 0] - shaped[:, 1]) * 10.0 ** (change_db / 20.0)
    return np.stack((mid + side, mid - side), axis=1).astype(np.float32)
