"""The meters master_file reports: BS.1770-4 loudness, true peak, spectra, peaks and clipping."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, sine
from scipy import signal

from zen.audio.io import clipping, frame_peaks
from zen.audio.loudness import (
    block_energies,
    integrated_lufs,
    k_weighting,
    true_peak_dbtp,
)
from zen.audio.matching import welch_psd
from zen.errors import DataError

pyloudnorm = pytest.importorskip("pyloudnorm")

# ITU-R BS.1770-4, tables 1 and 2: the two K-weighting stages at 48 kHz.
STANDARD_48K = np.array(
    [
        [1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241,
         0.73248077421585],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)  # fmt: skip


@pytest.fixture(params=["native", "reference"])
def dsp_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the meters on the numba kernels and on NumPy/SciPy (``ZEN_AUDIO_NATIVE``)."""
    if request.param == "native":
        pytest.importorskip("numba")
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "1" if request.param == "native" else "0")
    return str(request.param)


def test_k_weighting_at_48k_is_the_standards_table():
    np.testing.assert_allclose(k_weighting(48000), STANDARD_48K, atol=1e-10)


@pytest.mark.parametrize(
    ("sample_rate", "tolerance"), [(44100, 0.005), (48000, 0.001), (96000, 0.02)]
)
def test_a_997_hz_sine_at_full_scale_in_one_channel_reads_minus_3_01_lufs(
    dsp_path, sample_rate, tolerance
):
    """BS.1770-4's calibration: 0 dBFS at 997 Hz on the left channel only is -3.01 LKFS. The
    filter is the standard's at 48 kHz; elsewhere the same analogue design (libebur128's) is
    warped a little differently by the bilinear transform: -3.028 at 96 kHz."""
    tone = sine(997.0, 3.0, amplitude=1.0, sample_rate=sample_rate, channels=2)
    tone[:, 1] = 0.0
    assert integrated_lufs(tone, sample_rate) == pytest.approx(-3.01, abs=tolerance)


@pytest.mark.parametrize("sample_rate", [8000, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 5])
@pytest.mark.parametrize("seconds", [0.5, 2.0, 7.3])
def test_integrated_loudness_agrees_with_pyloudnorm(dsp_path, sample_rate, channels, seconds):
    """pyloudnorm with the standard's filter ("DeMan") is the reference implementation; these
    lengths end on a complete block, where both meters cut the same blocks."""
    audio = np.tile(programme(seconds, sample_rate=sample_rate, seed=channels), (1, 3))
    audio = audio[:, :channels] * np.linspace(0.2, 1.5, channels)
    meter = pyloudnorm.Meter(sample_rate, filter_class="DeMan")
    expected = meter.integrated_loudness(audio)
    assert integrated_lufs(audio, sample_rate) == pytest.approx(expected, abs=1e-6)


def test_quiet_passages_are_gated_like_pyloudnorm(dsp_path):
    """Loud, silent and -40 dB stretches: the absolute and relative gates drop the last two."""
    loud = programme(3.0)
    audio = np.concatenate([loud, np.zeros_like(loud), loud * 0.01, loud])
    expected = pyloudnorm.Meter(SAMPLE_RATE, filter_class="DeMan").integrated_loudness(audio)
    assert integrated_lufs(audio, SAMPLE_RATE) == pytest.approx(expected, abs=1e-6)
    # Ungated, the silent and quiet halves would take 3 dB off; gated, only the blocks that
    # straddle a boundary count a little.
    loud_only = integrated_lufs(np.concatenate([loud, loud]), SAMPLE_RATE)
    assert loud_only - 0.3 < integrated_lufs(audio, SAMPLE_RATE) <= loud_only


def test_only_complete_blocks_count():
    """A tail shorter than a block step adds no block (pyloudnorm rounds one up past the end)."""
    quiet = programme(2.0) * 0.1
    tail = programme(0.06, seed=3) * 10.0  # 60 ms, far louder
    with_tail = np.concatenate([quiet, tail])
    assert len(block_energies(with_tail, SAMPLE_RATE)) == len(block_energies(quiet, SAMPLE_RATE))
    assert integrated_lufs(with_tail, SAMPLE_RATE) == pytest.approx(
        integrated_lufs(quiet, SAMPLE_RATE), abs=1e-9
    )


def test_silence_is_minus_infinity_and_too_short_is_an_error():
    assert integrated_lufs(np.zeros((SAMPLE_RATE, 2)), SAMPLE_RATE) == float("-inf")
    assert integrated_lufs(np.full((SAMPLE_RATE, 2), 1e-6), SAMPLE_RATE) == float("-inf")
    with pytest.raises(DataError, match="too short"):
        integrated_lufs(np.ones((SAMPLE_RATE // 4, 2)), SAMPLE_RATE)
    with pytest.raises(DataError, match="channels <= 5"):
        integrated_lufs(np.ones((SAMPLE_RATE, 6)), SAMPLE_RATE)


@pytest.mark.parametrize(
    "name", ["programme", "hot programme", "clipped", "intersample", "impulse", "mono"]
)
def test_true_peak_is_the_same_on_both_dsp_paths(monkeypatch, name):
    pytest.importorskip("numba")
    t = np.arange(SAMPLE_RATE // 5) / SAMPLE_RATE
    audio = {
        "programme": programme(2.0),
        "hot programme": programme(2.0) * 8.0,
        "clipped": np.clip(programme(2.0) * 8.0, -1.0, 1.0),
        "intersample": np.sin(2 * np.pi * SAMPLE_RATE / 4 * t + np.pi / 4)[:, None] * [1.0, 0.5],
        "impulse": np.pad(np.array([[0.0, 0.5], [0.9, -0.2]]), ((500, 500), (0, 0))),
        "mono": programme(1.0)[:, 0],
    }[name]
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "1")
    native = true_peak_dbtp(audio, SAMPLE_RATE)
    monkeypatch.setenv("ZEN_AUDIO_NATIVE", "0")
    reference = true_peak_dbtp(audio, SAMPLE_RATE)
    assert native == pytest.approx(reference, abs=1e-9)
    assert native >= 20 * np.log10(np.abs(audio).max())


@pytest.mark.parametrize(("frames", "segment"), [(100_000, 16384), (5000, 5000), (4999, 4999)])
def test_welch_psd_is_scipys(frames, segment):
    audio = np.random.default_rng(frames).normal(size=(frames, 2))
    freqs, power = signal.welch(
        audio, fs=SAMPLE_RATE, nperseg=segment, noverlap=0, axis=0, detrend=False
    )
    ours_freqs, ours = welch_psd(audio, SAMPLE_RATE, segment)
    np.testing.assert_array_equal(ours_freqs, freqs)
    np.testing.assert_allclose(ours, power, rtol=1e-10)


def test_frame_peaks_and_clipping_count_frames_across_channels():
    rng = np.random.default_rng(0)
    audio = rng.normal(scale=0.6, size=(10_000, 3))
    np.testing.assert_array_equal(frame_peaks(audio), np.abs(audio).max(axis=1))
    loud = np.abs(audio).max(axis=1)
    assert clipping(audio)["over_full_scale"] == int((loud > 1.0).sum())
    assert clipping(np.zeros((10, 2))) == {
        "clipped_samples": 0,
        "clipped_runs": 0,
        "over_full_scale": 0,
    }


def test_mastering_a_file_imports_neither_scipy_signal_nor_pyloudnorm_nor_plotting(tmp_path):
    """Start-up time is part of mastering a file: scipy.signal alone takes longer to import
    than the whole master of a 30 s track, and matplotlib or torch are not needed at all."""
    pytest.importorskip("numba")
    soundfile = pytest.importorskip("soundfile")
    source = tmp_path / "mix.wav"
    soundfile.write(str(source), programme(2.0), SAMPLE_RATE, subtype="PCM_24")
    script = (
        "import sys\n"
        "from zen.audio import master_file\n"
        f"master_file({str(source)!r}, {str(tmp_path / 'master.wav')!r})\n"
        "heavy = ('scipy.signal', 'pyloudnorm', 'matplotlib', 'torch')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    environment = {**os.environ, "ZEN_AUDIO_NATIVE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert Path(tmp_path / "master.report.json").is_file()
