"""`zen flow play`: the summary it prints, its JSON, the files it writes, one-line errors.

Runs are short renders of synthesised tracks to the null device or a file; what is checked is
what is printed and written, never how fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zen.cli import app

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("numba")

runner = CliRunner()
SAMPLE_RATE = 44100
SUMMARY_KEYS = {
    "blocks",
    "xruns",
    "underruns",
    "deadline_misses",
    "p50_block_ms",
    "p99_block_ms",
    "max_block_ms",
    "assistant",
    "assistant_analyses",
    "trace",
    "output",
    "complete",
}
SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "data" / "audio"


def write_track(path: Path, seconds: float, freq_hz: float, rate: int = SAMPLE_RATE) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    tone = 0.2 * np.sin(2 * np.pi * freq_hz * t)
    soundfile.write(str(path), np.stack([tone, 0.5 * tone], axis=1), rate)
    return path


@pytest.fixture
def tracks(tmp_path: Path) -> list[str]:
    return [
        str(write_track(tmp_path / "a.wav", 0.6, 220.0)),
        str(write_track(tmp_path / "b.flac", 0.4, 330.0, rate=48000)),  # resampled at load
    ]


def test_play_json_has_the_summary_keys_and_writes_the_trace(tracks, tmp_path) -> None:
    trace = tmp_path / "play.json"
    arguments = ["flow", "play", *tracks, "--device", "null", "--seconds", "0.5", "--block",
                 "256", "--no-assistant", "--trace", str(trace), "--json"]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= SUMMARY_KEYS
    assert report["output"] == "null" and report["assistant"] == "off"
    assert report["tracks"] == 2 and report["block_size"] == 256 and report["complete"]
    assert report["programme_s"] == pytest.approx(0.5)
    assert report["blocks"] >= 0.5 * SAMPLE_RATE / 256
    assert isinstance(report["xruns"], int) and 0 < report["p50_block_ms"] <= report["p99_block_ms"]
    assert report["trace"] == str(trace)
    events = json.loads(trace.read_text())["traceEvents"]
    assert sum(e["ph"] == "X" and e["name"] == "mix block" for e in events) == report["blocks"]


def test_play_renders_to_a_file_as_long_as_the_longest_track(tracks, tmp_path) -> None:
    out = tmp_path / "mix.wav"
    arguments = ["flow", "play", *tracks, "--device", f"file:{out}", "--fast",
                 "--no-assistant", "--trace", str(tmp_path / "t.json"), "--json"]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["file"] == str(out) and report["xruns"] == 0
    audio, rate = soundfile.read(str(out), always_2d=True)
    assert rate == SAMPLE_RATE and audio.shape == (round(0.6 * SAMPLE_RATE), 2)
    assert np.abs(audio).max() > 0.1


def test_play_prints_a_summary_table_and_where_the_trace_went(tracks, tmp_path) -> None:
    trace = tmp_path / "summary.json"
    arguments = ["flow", "play", tracks[0], "--device", "null", "--seconds", "0.3",
                 "--no-assistant", "--trace", str(trace)]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    for words in ("blocks", "xruns", "deadline misses", "p50 block time", "p99 block time",
                  "max block time", "assistant analyses", "trace:"):  # fmt: skip
        assert words in output
    assert str(trace) in result.output.replace("\n", "")


def test_play_without_the_assistant_installed_says_so(tracks, tmp_path, monkeypatch) -> None:
    from zen.audio.realtime import session
    from zen.errors import BackendUnavailable

    def missing():
        raise BackendUnavailable("the mastering assistant is not part of this installation")

    monkeypatch.setattr(session, "load_analysis", missing)
    arguments = ["flow", "play", tracks[0], "--device", "null", "--seconds", "0.2", "--fast",
                 "--trace", str(tmp_path / "t.json")]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "assistant unavailable: the mastering assistant is not part" in " ".join(
        result.output.split()
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--block", "8"], "block_size: expected 16 to 16384 frames"),
        (["--seconds", "-2"], "seconds: expected a positive number"),
        (["--preset", "shiny"], "preset: unknown value 'shiny'"),
        (["--device", "file:mix.mp3"], "unsupported extension '.mp3'"),
        (["--device", "Studio Monitor", "--fast"], "fast: rendering faster than real time"),
    ],
)
def test_bad_options_are_one_line_errors(tracks, tmp_path, extra, message) -> None:
    arguments = ["flow", "play", tracks[0], "--no-assistant", "--trace",
                 str(tmp_path / "t.json"), *extra]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert message in result.output


def test_a_missing_track_is_a_one_line_error(tmp_path) -> None:
    result = runner.invoke(app, ["flow", "play", str(tmp_path / "nope.wav"), "--device", "null"])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: track {tmp_path / 'nope.wav'}: not found"


def test_plays_the_shared_music(tmp_path) -> None:
    music = sorted(SHARED_AUDIO.glob("drascula-track*.flac"))
    if not music:
        pytest.skip(f"no shared music in {SHARED_AUDIO}")
    arguments = ["flow", "play", *map(str, music), "--device", "null", "--seconds", "0.5",
                 "--preset", "warm", "--no-assistant", "--trace", str(tmp_path / "t.json"),
                 "--json"]  # fmt: skip
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["tracks"] == len(music) and report["complete"]
