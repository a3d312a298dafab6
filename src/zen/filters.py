"""Filter design shared by zen.audio's stages and zen.runtime's standard workload: RBJ biquads,
Linkwitz-Riley crossovers, windowed-sinc interpolators, and a biquad cascade that streams on
either DSP path (numba kernel or SciPy).

Biquads follow R. Bristow-Johnson, "Cookbook formulae for audio EQ biquad filter coefficients"
(the Audio EQ Cookbook). A section is stored as one row of a SciPy ``sos`` array,
``[b0, b1, b2, 1, a1, a2]``, and its state in the transposed direct form II that
:func:`scipy.signal.sosfilt` uses, so the numba kernel and SciPy can take over from each other.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Literal

import numpy as np

from zen.errors import ConfigError, expect_one_of

BiquadKind = Literal["peak", "low_shelf", "high_shelf", "high_pass", "low_pass", "all_pass"]
BIQUAD_KINDS: tuple[str, ...] = (
    "peak",
    "low_shelf",
    "high_shelf",
    "high_pass",
    "low_pass",
    "all_pass",
)
BUTTERWORTH_Q = 1.0 / math.sqrt(2.0)
# Filters are designed at most this close to Nyquist; the bilinear warp makes anything above
# useless, and presets written for 44.1 kHz must still work at 8 kHz.
MAX_FREQUENCY_FRACTION = 0.45


def clamp_frequency(freq_hz: float, sample_rate: int) -> float:
    """``freq_hz`` limited to [1 Hz, 0.45 * sample_rate]."""
    return float(min(max(freq_hz, 1.0), MAX_FREQUENCY_FRACTION * sample_rate))


def rbj_biquad(
    kind: str, freq_hz: float, sample_rate: int, gain_db: float = 0.0, q: float = BUTTERWORTH_Q
) -> np.ndarray:
    r"""One RBJ biquad as an ``sos`` row ``[b0, b1, b2, 1, a1, a2]``.

    With :math:`A = 10^{g/40}`, :math:`\omega_0 = 2\pi f_0/f_s`, :math:`\alpha = \sin\omega_0/2Q`,
    a peaking band is :math:`H(z) = \frac{(1+\alpha A) - 2\cos\omega_0 z^{-1} + (1-\alpha A)z^{-2}}
    {(1+\alpha/A) - 2\cos\omega_0 z^{-1} + (1-\alpha/A)z^{-2}}`, whose gain at :math:`f_0` is
    exactly ``gain_db``; shelves reach ``gain_db / 2`` at :math:`f_0` and ``gain_db`` far from it.

    >>> row = rbj_biquad("peak", 1000.0, 48000, gain_db=6.0, q=1.0)
    >>> round(float(20 * np.log10(abs(sos_response(row[None], [1000.0], 48000)[0]))), 6)
    6.0
    """
    if kind not in BIQUAD_KINDS:
        raise expect_one_of("kind", kind, BIQUAD_KINDS)
    if not q > 0:
        raise ConfigError(f"q: expected a positive quality factor, got {q!r}")
    freq_hz = clamp_frequency(freq_hz, sample_rate)
    big_a = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cos_w0 = math.cos(w0)
    alpha = math.sin(w0) / (2.0 * q)
    if kind == "peak":
        b = (1 + alpha * big_a, -2 * cos_w0, 1 - alpha * big_a)
        a = (1 + alpha / big_a, -2 * cos_w0, 1 - alpha / big_a)
    elif kind in ("low_shelf", "high_shelf"):
        sign = 1.0 if kind == "low_shelf" else -1.0
        root = 2.0 * math.sqrt(big_a) * alpha
        plus, minus = big_a + 1.0, big_a - 1.0
        b = (
            big_a * (plus - sign * minus * cos_w0 + root),
            sign * 2 * big_a * (minus - sign * plus * cos_w0),
            big_a * (plus - sign * minus * cos_w0 - root),
        )
        a = (
            plus + sign * minus * cos_w0 + root,
            -sign * 2 * (minus + sign * plus * cos_w0),
            plus + sign * minus * cos_w0 - root,
        )
    elif kind == "high_pass":
        b = ((1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2)
        a = (1 + alpha, -2 * cos_w0, 1 - alpha)
    elif kind == "low_pass":
        b = ((1 - cos_w0) / 2, 1 - cos_w0, (1 - cos_w0) / 2)
        a = (1 + alpha, -2 * cos_w0, 1 - alpha)
    else:  # all_pass
        b = (1 - alpha, -2 * cos_w0, 1 + alpha)
        a = (1 + alpha, -2 * cos_w0, 1 - alpha)
    a0 = a[0]
    return np.array([b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0])


def linkwitz_riley(kind: Literal["low_pass", "high_pass"], freq_hz: float, sample_rate: int):
    """A 4th-order Linkwitz-Riley filter (two Butterworth biquads) as a (2, 6) ``sos`` array.

    Low and high pass at the same frequency sum to the 2nd-order all-pass
    ``rbj_biquad("all_pass", f, fs, q=1/sqrt(2))``: the bands of a crossover add up flat.
    """
    row = rbj_biquad(kind, freq_hz, sample_rate, q=BUTTERWORTH_Q)
    return np.stack([row, row])


def sos_response(sos: np.ndarray, freqs_hz, sample_rate: int) -> np.ndarray:
    """Complex frequency response of a cascade at ``freqs_hz``."""
    freqs = np.atleast_1d(np.asarray(freqs_hz, dtype=float))
    if len(sos) == 0:
        return np.ones(freqs.shape, dtype=complex)
    from scipy import signal  # imported on use: scipy.signal alone takes ~0.7 s to import

    _, response = signal.sosfreqz(sos, worN=freqs, fs=sample_rate)
    return response


def nyquist_interpolator(factor: int, taps_per_phase: int, beta: float = 8.0) -> np.ndarray:
    """Kaiser-windowed sinc low-pass for ``factor``-times oversampling, ``factor * taps + 1`` long.

    The cut-off is the original Nyquist frequency, so every ``factor``-th tap except the centre is
    zero (a Nyquist filter): the original samples pass unchanged. Odd length and symmetric, so
    up- plus down-sampling delays by exactly ``taps_per_phase`` original samples. Gain is 1 at DC
    at the high rate (the up-sampler multiplies by ``factor``).
    """
    length = factor * taps_per_phase + 1
    centre = (length - 1) / 2
    t = (np.arange(length) - centre) / factor
    taps = np.sinc(t) * np.kaiser(length, beta)
    taps[(np.arange(length) % factor == 0) & (t != 0)] = 0.0  # sinc's zeros, exactly
    return taps / taps.sum()


def polyphase(taps: np.ndarray, factor: int) -> np.ndarray:
    """Split an up-sampling filter into ``factor`` phases, each scaled to unit DC gain, reversed.

    Row ``p``, column ``q`` is proportional to ``taps[factor * (Q - 1 - q) + p]`` (zero past the
    end), so the high-rate sample ``factor * n + p`` is the dot product of row ``p`` with the
    input samples ``x[n - Q + 1 : n + 1]`` in time order. Unit gain per phase keeps a constant
    input constant (no images of DC); for a Nyquist filter row 0 is then exactly a delay.
    """
    per_phase = -(-len(taps) // factor)
    padded = np.zeros(per_phase * factor)
    padded[: len(taps)] = taps
    phases = padded.reshape(per_phase, factor).T  # [p, q] = taps[factor*q + p]
    phases = phases / phases.sum(axis=1, keepdims=True)
    return np.ascontiguousarray(phases[:, ::-1])


class BiquadCascade:
    """Biquad sections applied in series to every channel, with state kept between blocks.

    ``process`` runs the numba kernel when given the kernel module, else
    :func:`scipy.signal.sosfilt`; both read and write the same state (``zi``, shape
    ``(sections, 2, channels)``). Changing coefficients keeps the state, which is safe for the
    small steps that parameter smoothing takes.
    """

    def __init__(self, sos: np.ndarray, channels: int) -> None:
        self.channels = channels
        self.sos = np.ascontiguousarray(np.asarray(sos, dtype=np.float64).reshape(-1, 6))
        self.zi = np.zeros((len(self.sos), 2, channels))

    def set_sos(self, sos: np.ndarray) -> None:
        """New coefficients; sections added get zero state, sections removed drop theirs."""
        sos = np.ascontiguousarray(np.asarray(sos, dtype=np.float64).reshape(-1, 6))
        if len(sos) != len(self.sos):
            zi = np.zeros((len(sos), 2, self.channels))
            keep = min(len(sos), len(self.sos))
            zi[:keep] = self.zi[:keep]
            self.zi = zi
        self.sos = sos

    def reset(self) -> None:
        self.zi[:] = 0.0

    def process(self, x: np.ndarray, kernels: ModuleType | None, out: np.ndarray | None = None):
        """Filter ``x`` (frames, channels) into ``out`` (may be ``x`` itself) and return it."""
        if out is None:
            out = np.empty_like(x)
        if len(self.sos) == 0:
            if out is not x:
                out[...] = x
            return out
        if kernels is not None:
            kernels.biquad_cascade(x, self.sos, self.zi, out)
        else:
            from scipy import signal  # the reference path only (slow to import)

            filtered, self.zi = signal.sosfilt(self.sos, x, axis=0, zi=self.zi)
            out[...] = filtered
        return out
