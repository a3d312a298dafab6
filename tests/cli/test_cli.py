"""The `zen` command: fit, predict, info, and one clear line for every user error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()


def write_table(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["kind"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    path = folder / "table.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def table_csv(tmp_path):
    return write_table(tmp_path)


def fit_run(table_csv, tmp_path, *extra):
    runs = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["fit", str(table_csv), "--target", "kind", "--epochs", "20", "--runs-dir", str(runs),
         "--no-progress", *extra],
    )  # fmt: skip
    return result, runs


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> tuple[Path, Path]:
    """One run of `zen fit` on the table, shared by the tests that only apply it."""
    folder = tmp_path_factory.mktemp("table-run")
    table = write_table(folder)
    result, runs = fit_run(table, folder)
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    return run, table


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


def test_predict_applies_a_saved_run(table_run, tmp_path) -> None:
    run, table_csv = table_run
    output = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(run), str(table_csv), "-o", str(output)])
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(output)
    assert len(predictions) == 200 and set(predictions["prediction"]) <= {"yes", "no"}


def test_predict_to_stdout_is_plain_csv(table_run) -> None:
    run, table_csv = table_run
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
        (["predict", "{dir}", "{csv}"], "no config.json in it"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(arguments, message, table_csv, tmp_path) -> None:
    arguments = [a.format(csv=table_csv, dir=tmp_path) for a in arguments]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
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
    assert result.exit_code == 2 and "is empty" in result.output


def test_info_lists_versions_devices_and_threads() -> None:
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0
    for word in ("torch", "device", "threads", "compile", "cpu"):
        assert word in result.output


def test_info_json_parses() -> None:
    result = runner.invoke(app, ["info", "--json"])
    assert result.exit_code == 0
    facts = json.loads(result.stdout)
    assert facts["device"]["device"] == "cpu" and facts["threads"] >= 1


def test_fit_json_prints_only_the_runs_summary(table_csv, tmp_path) -> None:
    result, runs = fit_run(table_csv, tmp_path, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # nothing but the JSON document on stdout
    (run,) = runs.iterdir()
    assert summary["run_dir"] == str(run.resolve()) and summary["run_id"] == run.name
    assert summary["kind"] == "tabular" and summary["task"] == "classification"
    report = json.loads((run / "report.json").read_text())
    assert summary["best_model"] == report["best_model"]
    assert summary["scores"]["test_accuracy"] == report["test_metrics"]["accuracy"]
    assert summary["baseline"] == report["baseline"]
    assert Path(summary["files"]["model"]).is_dir() and Path(summary["files"]["report"]).is_file()


def test_fit_explain_json_lists_the_profile_and_candidates(table_csv) -> None:
    result = runner.invoke(app, ["fit", str(table_csv), "--target", "kind", "--explain", "--json"])
    assert result.exit_code == 0, result.output
    explained = json.loads(result.stdout)
    assert explained["profile"]["kind"] == "classification"
    assert [c["name"] for c in explained["candidates"]] and explained["explain"][0]["reason"]


def test_predict_json_summary_holds_the_scores(table_run, tmp_path) -> None:
    run, table_csv = table_run
    output = tmp_path / "predictions.csv"
    result = runner.invoke(app, ["predict", str(run), str(table_csv), "-o", str(output), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kind"] == "tabular" and summary["rows"] == 200
    assert summary["target"] == "kind" and summary["scores"]["accuracy"] > 0.8
    assert summary["output"] == str(output.resolve()) and "predictions" not in summary
    assert summary["columns"] == ["a", "b", "kind", "prediction"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["{run}", "{short}"], "missing feature column(s) ['b'] that the model needs"),
        (["{run}"], "holds a table model; pass a CSV of rows"),
        (["{run}", "--edges", "{csv}", "--nodes", "{csv}"], "only graph models read --edges"),
    ],
)
def test_predict_on_a_table_run_refuses_mismatched_data(
    arguments, message, table_run, tmp_path
) -> None:
    run, table_csv = table_run
    short = tmp_path / "short.csv"
    pd.read_csv(table_csv).drop(columns=["b"]).to_csv(short, index=False)
    arguments = [a.format(run=run, short=short, csv=table_csv) for a in arguments]
    result = runner.invoke(app, ["predict", *arguments])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")
