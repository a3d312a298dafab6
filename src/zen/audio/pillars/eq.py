"""Tone: a parametric equaliser of RBJ biquads (high-pass, low and high shelf, peaking bands)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from zen.audio.pillars._stage import CONTROL_INTERVAL, Stage, check_positive, check_range
from zen.filters import BUTTERWORTH_Q, clamp_frequency, rbj_biquad, sos_response

MAX_GAIN_DB = 24.0
_IDENTITY = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])


@dataclass(frozen=True)
class PeakBand:
    """One peaking band: ``gain_db`` at ``freq_hz``, bandwidth set by ``q``."""

    freq_hz: float
    gain_db: float
    q: float = 1.0

    def __post_init__(self) -> None:
        check_positive("freq_hz", self.freq_hz)
        check_range("gain_db", self.gain_db, -MAX_GAIN_DB, MAX_GAIN_DB, " dB")
        check_range("q", self.q, 0.05, 20.0)


@dataclass(frozen=True)
class EQParams:
    """Tone settings. Shelves at 0 dB and ``high_pass_hz=None`` cost nothing.

    Args:
        high_pass_hz: 12 dB/octave high-pass (RBJ, Q ``high_pass_q``) or None for none.
        low_shelf_hz, low_shelf_gain_db: low shelf (half the gain at the corner frequency).
        high_shelf_hz, high_shelf_gain_db: high shelf.
        shelf_q: Q of both shelves (1/sqrt(2): the steepest shelf without overshoot).
        bands: peaking bands.
    """

    high_pass_hz: float | None = None
    high_pass_q: float = BUTTERWORTH_Q
    low_shelf_hz: float = 100.0
    low_shelf_gain_db: float = 0.0
    high_shelf_hz: float = 8000.0
    high_shelf_gain_db: float = 0.0
    shelf_q: float = BUTTERWORTH_Q
    bands: tuple[PeakBand, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.high_pass_hz is not None:
            check_positive("high_pass_hz", self.high_pass_hz)
        check_range("high_pass_q", self.high_pass_q, 0.1, 10.0)
        check_positive("low_shelf_hz", self.low_shelf_hz)
        check_positive("high_shelf_hz", self.high_shelf_hz)
        for name in ("low_shelf_gain_db", "high_shelf_gain_db"):
            check_range(name, getattr(self, name), -MAX_GAIN_DB, MAX_GAIN_DB, " dB")
        check_range("shelf_q", self.shelf_q, 0.1, 10.0)
        bands = tuple(b if isinstance(b, PeakBand) else PeakBand(**b) for b in self.bands)
        object.__setattr__(self, "bands", bands)

    def sections(self) -> dict[tuple[Any, ...], tuple[str, float, float, float]]:
        """The biquads, keyed by their role: ``{key: (kind, freq_hz, gain_db, q)}``."""
        specs: dict[tuple[Any, ...], tuple[str, float, float, float]] = {}
        if self.high_pass_hz is not None:
            specs[("high_pass",)] = ("high_pass", self.high_pass_hz, 0.0, self.high_pass_q)
        specs[("low_shelf",)] = (
            "low_shelf",
            self.low_shelf_hz,
            self.low_shelf_gain_db,
            self.shelf_q,
        )
        specs[("high_shelf",)] = (
            "high_shelf",
            self.high_shelf_hz,
            self.high_shelf_gain_db,
            self.shelf_q,
        )
        for index, band in enumerate(self.bands):
            specs[("peak", index)] = ("peak", band.freq_hz, band.gain_db, band.q)
        return specs


def _coefficients(spec: tuple[str, float, float, float], sample_rate: int) -> np.ndarray:
    kind, freq_hz, gain_db, q = spec
    if kind != "high_pass" and gain_db == 0.0:
        return _IDENTITY.copy()  # exactly transparent, and skipped while its state is zero
    return rbj_biquad(kind, freq_hz, sample_rate, gain_db=gain_db, q=q)


def _between(start: tuple, end: tuple, fraction: float) -> tuple[str, float, float, float]:
    """Glide point: frequency and Q geometric, gain linear."""
    kind, f0, g0, q0 = start
    _, f1, g1, q1 = end
    return (
        kind,
        f0 * (f1 / f0) ** fraction,
        g0 + (g1 - g0) * fraction,
        q0 * (q1 / q0) ** fraction,
    )


class Equalizer(Stage[EQParams]):
    r"""Tone pillar: RBJ biquads in series (Audio EQ Cookbook), per channel.

    Sections whose coefficients are the identity and whose state is zero are skipped, so bands at
    0 dB are free. While parameters glide, coefficients are recomputed every
    :data:`~zen.audio.pillars._stage.CONTROL_INTERVAL` samples (frequency and Q move
    geometrically, gain linearly), which keeps the transposed direct form II free of clicks.

    >>> eq = Equalizer(EQParams(bands=(PeakBand(1000.0, 6.0),)), sample_rate=48000, channels=1)
    >>> round(float(eq.magnitude_db([1000.0])[0]), 6)
    6.0
    """

    pillar = "tone"
    params_class = EQParams
    _keys: list[tuple[Any, ...]]
    _zi: np.ndarray

    def _configure(self, params: EQParams, initial: bool) -> None:
        target = {
            key: (spec[0], clamp_frequency(spec[1], self.sample_rate), spec[2], spec[3])
            for key, spec in params.sections().items()
        }
        if initial or list(target) != self._keys:
            previous = {} if initial else dict(zip(self._keys, self._zi, strict=True))
            self._keys = list(target)
            self._zi = np.zeros((len(target), 2, self.channels))
            for index, key in enumerate(self._keys):
                if key in previous:
                    self._zi[index] = previous[key]
            self._start = dict(target)
            self._ramp_done = self.ramp_samples
        else:
            self._start = self._current_specs()
            self._ramp_done = 0 if self.ramp_samples > 0 else self.ramp_samples
        self._target = target
        self._set_coefficients(self._current_specs())

    def _current_specs(self) -> dict[tuple[Any, ...], tuple[str, float, float, float]]:
        if self._ramp_done >= self.ramp_samples:
            return dict(self._target)
        fraction = self._ramp_done / self.ramp_samples
        return {
            key: _between(self._start[key], spec, fraction) for key, spec in self._target.items()
        }

    def _set_coefficients(self, specs: dict) -> None:
        self._sos = np.stack([_coefficients(specs[key], self.sample_rate) for key in self._keys])
        self._identity = np.all(self._sos == _IDENTITY, axis=1)

    def _reset(self) -> None:
        self._zi[:] = 0.0
        self._ramp_done = self.ramp_samples
        self._set_coefficients(self._target)

    def magnitude_db(self, freqs_hz) -> np.ndarray:
        """Magnitude response (dB) of the current coefficients at ``freqs_hz``."""
        return 20.0 * np.log10(np.abs(sos_response(self._sos, freqs_hz, self.sample_rate)))

    def _process(self, x: np.ndarray, kernels: ModuleType | None) -> np.ndarray:
        out = np.empty_like(x)
        frames = len(x)
        position = 0
        while position < frames:
            if self._ramp_done < self.ramp_samples:
                # Glide: new coefficients on a fixed grid of the ramp, whatever the block size.
                length = min(
                    CONTROL_INTERVAL - self._ramp_done % CONTROL_INTERVAL,
                    frames - position,
                    self.ramp_samples - self._ramp_done,
                )
                self._filter(
                    x[position : position + length], out[position : position + length], kernels
                )
                self._ramp_done += length
                if self._ramp_done % CONTROL_INTERVAL == 0 or self._ramp_done >= self.ramp_samples:
                    self._set_coefficients(self._current_specs())
            else:
                length = frames - position
                self._filter(x[position:], out[position:], kernels)
            position += length
        return out

    def _filter(self, x: np.ndarray, out: np.ndarray, kernels: ModuleType | None) -> None:
        active = ~self._identity | np.any(self._zi != 0.0, axis=(1, 2))
        if not active.any():
            out[...] = x
            return
        if active.all():
            sos, zi = self._sos, self._zi
        else:
            sos, zi = np.ascontiguousarray(self._sos[active]), self._zi[active]
        if kernels is not None:
            kernels.biquad_cascade(x, sos, zi, out)
        else:
            from scipy import signal  # the reference path only (slow to import)

            filtered, zi = signal.sosfilt(sos, x, axis=0, zi=zi)
            out[...] = filtered
        if zi is not self._zi:
            self._zi[active] = zi


def tilt_gains_db(tilt_db_per_octave: float, low_hz: float = 250.0, high_hz: float = 4000.0):
    """Shelf gains that approximate a spectral tilt pivoting at 1 kHz: (low_gain_db, high_gain_db).

    A tilt of t dB/octave is t * log2(f / 1 kHz) dB at f; the shelves take the value the tilt has
    at their corner frequencies (-2t at 250 Hz, +2t at 4 kHz by default).

    >>> tilt_gains_db(1.0)
    (-2.0, 2.0)
    """
    return (
        round(tilt_db_per_octave * math.log2(low_hz / 1000.0), 9),
        round(tilt_db_per_octave * math.log2(high_hz / 1000.0), 9),
    )
