"""master_file: files in, a master and a report out; bad inputs fail clearly and touch nothing."""

from __future__ import annotations

import hashlib
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from audio_signals import SAMPLE_RATE, programme, read_music

from zen.audio import Corrections, master_file
from zen.audio.loudness import integrated_lufs, true_peak_dbtp
from zen.errors import BackendUnavailable, ConfigError, DataError

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("pyloudnorm")
pytest.importorskip("numba")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE, **options) -> Path:
    soundfile.write(str(path), audio, sample_rate, **options)
    return path


@pytest.fixture
def mix(tmp_path: Path) -> Path:
    return write(tmp_path / "mix.wav", programme(3.0), subtype="PCM_24")


def test_master_file_writes_a_master_on_target_and_a_report(mix, tmp_path):
    before = digest(mix)
    dst = tmp_path / "out" / "master.wav"
    report = master_file(mix, dst, target_lufs=-14.0, ceiling_dbtp=-1.0)
    assert digest(mix) == before  # the input is only read
    audio, rate = soundfile.read(str(dst), always_2d=True)
    assert rate == SAMPLE_RATE and audio.shape == (3 * SAMPLE_RATE, 2)
    assert soundfile.info(str(dst)).subtype == "PCM_24"
    assert integrated_lufs(audio, rate) == pytest.approx(-14.0, abs=0.5)
    assert true_peak_dbtp(audio, rate) <= -1.0
    assert report["output"]["integrated_lufs"] == pytest.approx(
        integrated_lufs(audio, rate), abs=0.01
    )
    assert report["target"] == {
        "integrated_lufs": -14.0,
        "source": "argument",
        "ceiling_dbtp": -1.0,
        "loudness_error_lu": pytest.approx(report["output"]["integrated_lufs"] + 14.0, abs=0.011),
        "reached": True,
    }
    assert report["input"]["integrated_lufs"] < -14.0 and report["processing_time_s"] > 0
    assert report["chain"]["latency_samples"] > 0 and report["warnings"] == []
    saved = json.loads((tmp_path / "out" / "master.report.json").read_text())
    assert saved["output"] == report["output"]
    assert len(saved["curves"]["spectrum"]["freqs_hz"]) == len(
        saved["curves"]["spectrum"]["output_db"]
    )
    assert len(saved["curves"]["gain_reduction"]["limiter_db"]) == 3 * 20
    assert 0 < report["processing_time_s"] <= report["total_time_s"] == saved["total_time_s"]
    assert not (tmp_path / "out" / "master.report.png").exists()  # drawn only on request
    assert (dst.stat().st_mode & 0o777) != 0o600  # shared like any new file, not private


def test_the_picture_is_drawn_on_request_and_leaves_matplotlib_as_it_was(mix, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    before = matplotlib.get_backend()
    matplotlib.use("svg")  # the caller's choice, which drawing the report must not change
    try:
        report = master_file(mix, tmp_path / "master.wav", write_report=False, plot=True)
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(before)
    png = tmp_path / "master.report.png"
    assert report["report_png"] == str(png) and "report_json" not in report
    assert png.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "master.report.json").exists()


def test_each_quantity_is_measured_once_and_agrees_with_the_written_file(mix, tmp_path):
    """The output's loudness comes from the chain's last loudness pass, not a re-read of the
    file: the 24-bit file holds the same master, and the meters agree within 0.01 dB."""
    report = master_file(mix, tmp_path / "master.wav", write_report=False)
    audio, rate = soundfile.read(str(tmp_path / "master.wav"), always_2d=True)
    assert report["output"]["integrated_lufs"] == pytest.approx(
        integrated_lufs(audio, rate), abs=0.01
    )
    assert report["output"]["true_peak_dbtp"] == pytest.approx(
        true_peak_dbtp(audio, rate), abs=0.01
    )


@pytest.mark.parametrize(
    ("suffix", "sample_rate", "channels", "subtype"),
    [(".flac", 48000, 1, "PCM_16"), (".ogg", 22050, 2, "VORBIS"), (".wav", 96000, 2, "FLOAT")],
)
def test_any_format_rate_and_channel_count_is_mastered(
    tmp_path, suffix, sample_rate, channels, subtype
):
    audio = programme(2.0, sample_rate=sample_rate)[:, :channels]
    src = write(tmp_path / f"mix{suffix}", audio, sample_rate, subtype=subtype)
    dst = tmp_path / f"master{suffix}"
    report = master_file(src, dst, target_lufs=-16.0, ceiling_dbtp=-1.5, write_report=False)
    out, rate = soundfile.read(str(dst), always_2d=True)
    assert rate == sample_rate and out.shape[1] == channels
    tolerance = 0.5 if suffix != ".ogg" else 1.0  # Vorbis is lossy
    assert report["output"]["integrated_lufs"] == pytest.approx(-16.0, abs=tolerance)
    if suffix != ".ogg":
        assert report["output"]["true_peak_dbtp"] <= -1.5
    assert not (tmp_path / "master.report.json").exists()


def test_reference_mode_matches_the_references_loudness(mix, tmp_path):
    reference = write(tmp_path / "ref.flac", programme(3.0, seed=7) * 0.4)
    report = master_file(mix, tmp_path / "master.wav", reference=reference)
    reference_lufs = integrated_lufs(soundfile.read(str(reference))[0], SAMPLE_RATE)
    assert report["target"]["source"] == "reference"
    assert report["target"]["integrated_lufs"] == pytest.approx(reference_lufs, abs=0.01)
    assert report["output"]["integrated_lufs"] == pytest.approx(reference_lufs, abs=0.5)
    assert len(report["reference"]["match"]["correction_db"]) > 10
    assert "reference_db" in report["curves"]["spectrum"]


def test_presets_and_settings_are_recorded(mix, tmp_path):
    report = master_file(mix, tmp_path / "m.wav", preset="loud", write_report=False)
    assert report["chain"]["preset"] == "loud"
    assert list(report["chain"]["settings"]["compressor"]["crossovers_hz"]) == [150.0, 2500.0]
    with pytest.raises(ConfigError, match="preset: unknown value 'bright'"):
        master_file(mix, tmp_path / "m2.wav", preset="bright")


def test_clipping_input_is_reported_not_refused(tmp_path):
    audio = programme(2.0) * 8.0
    src = write(tmp_path / "hot.wav", np.clip(audio, -1.0, 1.0), subtype="PCM_16")
    report = master_file(src, tmp_path / "m.wav", write_report=False)
    assert report["input"]["clipped_samples"] > 0 and report["input"]["clipped_runs"] > 0
    assert any("input clips" in warning for warning in report["warnings"])


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF not really a wave file" * 10)
    nan_audio = programme(1.0)
    nan_audio[1234, 1] = np.nan
    return {
        "missing": (tmp_path / "nope.wav", "not found"),
        "unreadable": (garbage, "cannot read it as audio"),
        "empty": (write(tmp_path / "empty.wav", np.zeros((0, 2))), "has no samples"),
        "silent": (write(tmp_path / "silent.wav", np.zeros((SAMPLE_RATE, 2))), "is silent"),
        "nan": (write(tmp_path / "nan.wav", nan_audio, subtype="FLOAT"), "NaN or infinite"),
        "six channels": (
            write(tmp_path / "surround.wav", np.zeros((SAMPLE_RATE, 6)) + 0.1),
            "has 6 channels",
        ),
        "too short": (write(tmp_path / "short.wav", programme(0.2)), "too short"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "unreadable", "empty", "silent", "nan", "six channels", "too short"]
)
def test_bad_inputs_are_clear_errors_and_nothing_is_written(tmp_path, case):
    src, message = bad_inputs(tmp_path)[case]
    before = digest(src) if src.exists() else None
    dst = tmp_path / "master.wav"
    with pytest.raises(DataError, match=message):
        master_file(src, dst)
    assert not dst.exists() and not (tmp_path / "master.report.json").exists()
    assert (digest(src) if src.exists() else None) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".master")]  # no temporaries


def test_a_bad_reference_is_named_as_the_reference(mix, tmp_path):
    silent = write(tmp_path / "ref.wav", np.zeros((SAMPLE_RATE, 2)))
    with pytest.raises(DataError, match=r"reference .*is silent"):
        master_file(mix, tmp_path / "m.wav", reference=silent)


def test_arguments_are_checked_before_any_work(mix, tmp_path):
    before = digest(mix)
    with pytest.raises(ConfigError, match="is the input file"):
        master_file(mix, mix)
    with pytest.raises(ConfigError, match=r"unsupported extension '\.mp3'"):
        master_file(mix, tmp_path / "m.mp3")
    with pytest.raises(ConfigError, match="target_lufs"):
        master_file(mix, tmp_path / "m.wav", target_lufs=5.0)
    with pytest.raises(ConfigError, match="ceiling_dbtp"):
        master_file(mix, tmp_path / "m.wav", ceiling_dbtp=float("nan"))
    assert digest(mix) == before


def test_assistant_without_the_model_fails_and_with_it_corrects_the_preset(
    mix, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "zen.audio.assistant", None)
    with pytest.raises(BackendUnavailable, match="assistant"):
        master_file(mix, tmp_path / "m.wav", assistant=True)
    assert not (tmp_path / "m.wav").exists()
    module = types.ModuleType("zen.audio.assistant")
    module.suggest_corrections = lambda audio, rate: Corrections(width=0.0)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "zen.audio.assistant", module)
    report = master_file(mix, tmp_path / "m.wav", assistant=True, write_report=False)
    assert report["assistant"]["corrections"]["width"] == 0.0
    assert report["chain"]["settings"]["stereo"]["width"] == 0.0
    out, _ = soundfile.read(str(tmp_path / "m.wav"))
    np.testing.assert_allclose(out[:, 0], out[:, 1], atol=2**-22)  # width 0: mono


@pytest.mark.slow
@pytest.mark.parametrize("name", ["drascula-track1.flac", "drascula-track31.flac"])
@pytest.mark.parametrize("preset", ["transparent", "loud"])
def test_shared_music_lands_within_half_a_lu_under_the_ceiling(shared_data, tmp_path, name, preset):
    path = shared_data / "audio" / name
    if not path.is_file():
        pytest.skip(f"{path} not found")
    before = digest(path)
    report = master_file(path, tmp_path / "master.flac", preset=preset)
    assert digest(path) == before
    assert abs(report["target"]["loudness_error_lu"]) <= 0.5
    assert report["output"]["true_peak_dbtp"] <= -1.0
    audio, rate = read_music(tmp_path / "master.flac", seconds=30.0)
    assert rate == 44100 and len(audio) > 0
