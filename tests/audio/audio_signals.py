"""Signals for the audio tests: synthesised ones that always exist, and the shared music."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SAMPLE_RATE = 44100
MUSIC_SECONDS = 6.0


def sine(
    freq_hz: float,
    seconds: float,
    amplitude: float = 0.5,
    sample_rate: int = SAMPLE_RATE,
    channels: int = 1,
    phase: float = 0.0,
) -> np.ndarray:
    """A sine of shape (frames, channels)."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    wave = amplitude * np.sin(2 * np.pi * freq_hz * t + phase)
    return np.repeat(wave[:, None], channels, axis=1)


def programme(seconds: float = 3.0, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> np.ndarray:
    """A music-like stereo test signal: pink-ish noise with a beat and a bass line, -20 dBFS RMS."""
    rng = np.random.default_rng(seed)
    frames = round(seconds * sample_rate)
    white = rng.normal(size=(frames, 2))
    spectrum = np.fft.rfft(white, axis=0)
    freqs = np.fft.rfftfreq(frames, 1 / sample_rate)
    spectrum /= np.sqrt(np.maximum(freqs, 20.0))[:, None]  # 1/f power
    noise = np.fft.irfft(spectrum, n=frames, axis=0)
    t = np.arange(frames) / sample_rate
    beat = (np.sin(2 * np.pi * 2 * t) > 0.6)[:, None]  # a loud accent twice a second
    bass = 0.5 * np.sin(2 * np.pi * 55 * t)[:, None]
    mix = noise / noise.std() * (1 + 2 * beat) + bass
    return 0.1 * mix / mix.std()


def read_music(path: Path, seconds: float = MUSIC_SECONDS) -> tuple[np.ndarray, int]:
    soundfile = pytest.importorskip("soundfile")
    audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    start = len(audio) // 3  # past the intro
    return np.ascontiguousarray(audio[start : start + round(seconds * rate)]), int(rate)
