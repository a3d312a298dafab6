"""The `zen` command: fit, predict, info, and one clear line for every user error."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()


@pytest.fixture
def table_csv(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["kind"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def fit_run(table_csv, tmp_path, *extra):
    runs = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["fit", str(table_csv), "--target", "kind", "--epochs", "20", "--runs-dir", str(runs),
         "--no-progress", *extra],
    )  # fmt: skip
    return result, runs


def test_fit_prints_scores_next_to_a_baseline_and_saves_a_run(table_csv, tmp_path) -> None:
    result, runs = fit_run(table_csv, tmp_path)
    assert result.exit_code == 0, result.output
    assert "classification" in result.output and "labels" in result.output
    assert "majority class" in result.output and "accuracy" in result.output
    (run,) = runs.iterdir()
    # The HTML report, and a confusion matrix for classification, sit next to the JSON.
    assert sorted(p.name for p in run.iterdir()) == [
        "candidate_curves.png", "confusion_matrix.png", "leaderboard.png", "learning_curves.png",
        "model", "report.html", "report.json",
    ]  # fmt: skip
    report = json.loads((run / "report.json").read_text())
    assert report["task"]["kind"] == "classification"
    assert report["test_metrics"]["accuracy"] > report["baseline"]["test_metrics"]["accuracy"]
    assert (run / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_applies_a_saved_run(table_csv, tmp_path) -> None:
    _, runs = fit_run(table_csv, tmp_path)
    (run,) = runs.iterdir()
    output = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(run), str(table_csv), "-o", str(output)])
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(output)
    assert len(predictions) == 200 and set(predictions["prediction"]) <= {"yes", "no"}


def test_predict_to_stdout_is_plain_csv(table_csv, tmp_path) -> None:
    _, runs = fit_run(table_csv, tmp_path)
    (run,) = runs.iterdir()
    result = runner.invoke(app, ["predict", str(run), str(table_csv)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "a,b,kind,prediction"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["fit", "missing.csv", "--target", "y"], "error: data: file 'missing.csv' not found"),
        (["fit", "{csv}", "--target", "nope"], "error: target: column 'nope' not found"),
        (["fit", "{csv}", "--target", "kind", "--task", "ranking"], "task: unknown value"),
        (["fit", "{csv}", "--target", "kind", "--epochs", "0"], "max_epochs: expected a positive"),
        (["predict", "{dir}", "{csv}"], "config.json: not found"),
    ],
)
def test_user_errors_are_one_line_and_exit_1(arguments, message, table_csv, tmp_path) -> None:
    arguments = [a.format(csv=table_csv, dir=tmp_path) for a in arguments]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 1
    assert message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback(tmp_path) -> None:
    result = runner.invoke(app, ["--debug", "fit", "missing.csv", "--target", "y"])
    assert result.exit_code == 1
    assert result.exception is not None and "not found" in str(result.exception)


def test_empty_csv_is_a_clear_error(tmp_path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(app, ["fit", str(empty), "--target", "y"])
    assert result.exit_code == 1 and "is empty" in result.output


def test_info_lists_versions_devices_and_threads() -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    for word in ("torch", "device", "threads", "compile", "cpu"):
        assert word in result.output
