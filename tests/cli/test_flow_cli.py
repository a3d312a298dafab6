"""`zen flow master`: end to end on a short synthesised mix."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from zen.cli import app

soundfile = pytest.importorskip("soundfile")
pytest.importorskip("pyloudnorm")
runner = CliRunner()
SAMPLE_RATE = 44100


@pytest.fixture
def mix(tmp_path: Path) -> Path:
    """Two seconds of stereo noise with a beat, about -26 LUFS."""
    rng = np.random.default_rng(0)
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    beat = 1 + 2 * (np.sin(2 * np.pi * 2 * t) > 0.6)
    audio = 0.03 * rng.normal(size=(len(t), 2)) * beat[:, None]
    path = tmp_path / "mix.wav"
    soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_24")
    return path


def test_flow_lists_master():
    result = runner.invoke(app, ["flow", "--help"])
    assert result.exit_code == 0 and "master" in result.output


def test_master_writes_the_master_and_its_report_and_prints_the_numbers(mix, tmp_path):
    before = hashlib.sha256(mix.read_bytes()).hexdigest()
    out = tmp_path / "master.wav"
    result = runner.invoke(app, ["flow", "master", str(mix), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "integrated loudness (LUFS)" in text and "true peak (dBTP)" in text
    assert "-14.0" in text and "preset transparent" in text
    assert f"master: {out}" in result.output
    report = json.loads((tmp_path / "master.report.json").read_text())
    assert abs(report["output"]["integrated_lufs"] + 14.0) <= 0.5
    assert report["output"]["true_peak_dbtp"] <= -1.0
    assert not (tmp_path / "master.report.png").exists()  # --plot draws it
    assert hashlib.sha256(mix.read_bytes()).hexdigest() == before


def test_plot_draws_the_report_picture(mix, tmp_path):
    out = tmp_path / "master.wav"
    result = runner.invoke(app, ["flow", "master", str(mix), "-o", str(out), "--plot"])
    assert result.exit_code == 0, result.output
    png = tmp_path / "master.report.png"
    assert png.read_bytes().startswith(b"\x89PNG") and str(png) in result.output


def test_json_prints_the_report_without_its_curves(mix, tmp_path):
    out = tmp_path / "master.wav"
    result = runner.invoke(app, ["flow", "master", str(mix), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    saved = json.loads((tmp_path / "master.report.json").read_text())
    assert "curves" not in summary and "curves" in saved
    assert summary["output"] == saved["output"] and summary["target"]["reached"] is True


def test_master_takes_preset_target_ceiling_and_reference(mix, tmp_path):
    reference = tmp_path / "ref.flac"
    soundfile.write(str(reference), soundfile.read(str(mix))[0] * 0.5, SAMPLE_RATE)
    out = tmp_path / "master.flac"
    arguments = [
        "flow",
        "master",
        str(mix),
        "-o",
        str(out),
        "--preset",
        "warm",
        "--target-lufs",
        "-16",
        "--ceiling",
        "-2",
        "--no-assistant",
    ]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "master.report.json").read_text())
    assert report["chain"]["preset"] == "warm"
    assert abs(report["output"]["integrated_lufs"] + 16.0) <= 0.5
    assert report["output"]["true_peak_dbtp"] <= -2.0
    result = runner.invoke(app, [*arguments[:7], "--reference", str(reference)])
    assert result.exit_code == 0, result.output
    assert "(reference)" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--preset", "shiny"], "preset: unknown value 'shiny'"),
        (["--ceiling", "3"], "ceiling_dbtp: expected a value in [-30, 0] dBTP"),
        (["--assistant"], "assistant"),
    ],
)
def test_bad_options_are_one_red_line(mix, tmp_path, monkeypatch, arguments, message):
    monkeypatch.setitem(sys.modules, "zen.audio.assistant", None)  # the model is not installed
    out = tmp_path / "master.wav"
    result = runner.invoke(app, ["flow", "master", str(mix), "-o", str(out), *arguments])
    assert result.exit_code == 2
    assert "error:" in result.output and message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not out.exists()


def test_a_broken_input_file_is_one_red_line(tmp_path):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio at all")
    result = runner.invoke(app, ["flow", "master", str(broken), "-o", str(tmp_path / "m.wav")])
    assert result.exit_code == 2
    assert "cannot read it as audio" in " ".join(result.output.split())
    assert broken.read_bytes() == b"not audio at all"


def test_output_option_is_required(mix):
    result = runner.invoke(app, ["flow", "master", str(mix)])
    assert result.exit_code == 2
