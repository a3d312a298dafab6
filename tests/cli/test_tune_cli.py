"""``zen tune``: one model's Optuna study on the part of the data ``zen fit`` trains on."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import zen.orchestrator.tune as tuning
from zen.cli import app
from zen.orchestrator.jobs import tune_data

runner = CliRunner()


@pytest.fixture
def table_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["kind"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    return path


def tune_json(*argv: str) -> dict[str, Any]:
    result = runner.invoke(app, ["tune", *argv, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def recording(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Record the data the real ``tuning.<name>`` is given (it still runs)."""
    seen: list[Any] = []
    real = getattr(tuning, name)

    def record(data: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(tuning, name, record)
    return seen


def test_tune_a_table_continues_one_study_in_history(
    table_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short trials: the study's bookkeeping is under test, not what 100 epochs learn.
    monkeypatch.setattr(tuning, "tune_tabular", functools.partial(tuning.tune_tabular,
                                                                   max_epochs=8))  # fmt: skip
    first = tune_json(str(table_csv), "--target", "kind", "--trials", "3")
    assert first["family"] == "tabular classification"
    assert first["chosen_by"].startswith("the router's first choice")
    assert first["model"].startswith("MLP")
    assert first["n_trials"] == first["n_new_trials"] == first["n_complete"] == 3
    assert first["storage"].endswith("zen.db") and first["nodes"] == {}
    assert {"lr", "hidden_layers", "dropout"} <= set(first["best_hyperparameters"])
    again = tune_json(str(table_csv), "--target", "kind", "--trials", "2", "--model", "mlp")
    # The same data and settings name the same study: it goes on from its 3 trials.
    assert again["study_name"] == first["study_name"] and again["chosen_by"] == "you"
    assert (again["n_trials"], again["n_new_trials"]) == (5, 2)
    assert again["best_value"] <= first["best_value"]


def test_a_table_is_tuned_on_the_rows_fit_trains_on(
    table_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = recording(monkeypatch, "tune_tabular")
    tune_data(table_csv, "kind", model="MLP", n_trials=1, test_size=0.25, seed=4)
    (frame,) = seen
    from zen.orchestrator.jobs.tabular import table_job

    held_out = table_job(pd.read_csv(table_csv), "kind", test_size=0.25, seed=4).test
    assert len(frame) == 150 and not set(frame.index) & set(held_out.index)


@pytest.mark.slow  # one N-HiTS trial of 300 steps: ~15 s
def test_series_are_tuned_before_the_validation_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = np.arange(72)
    frame = pd.DataFrame({
        "unique_id": np.repeat(["a", "b"], 72),
        "ds": np.tile(pd.date_range("2021-01-01", periods=72, freq="h"), 2),
        "y": np.tile(10 + 3 * np.sin(2 * np.pi * t / 12), 2),
    })  # fmt: skip
    path = tmp_path / "series.csv"
    frame.to_csv(path, index=False)
    seen = recording(monkeypatch, "tune_forecaster")
    found = tune_data(path, horizon=6, model="nhits", n_trials=1)
    assert found["model"] == "NHITS" and found["family"] == "time series"
    (history,) = seen
    # Validation and test windows (6 steps each) never reach the study.
    assert history.lengths.tolist() == [60, 60]
    assert found["best_hyperparameters"]["input_size"] % 6 == 0


def test_a_graph_from_csvs_is_tuned_on_its_nodes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    features = rng.normal(size=(60, 3)) + labels[:, None]
    nodes = pd.DataFrame(features, columns=["f0", "f1", "f2"]).assign(id=range(60), y=labels)
    same = [(i, j) for i in range(60) for j in range(i + 1, 60) if labels[i] == labels[j]]
    picked = rng.choice(len(same), size=150, replace=False)
    edges = pd.DataFrame([same[k] for k in picked], columns=["source", "target"])
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    edges.to_csv(tmp_path / "edges.csv", index=False)
    found = tune_json("--edges", str(tmp_path / "edges.csv"), "--nodes",
                      str(tmp_path / "nodes.csv"), "--target", "y", "--model", "gcn",
                      "--trials", "2")  # fmt: skip
    assert found["model"] == "GCN" and found["direction"] == "maximize"
    assert found["n_trials"] == 2 and 0.5 < found["best_value"] <= 1.0


def test_sequences_are_tuned_on_the_training_part_fit_ranks_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(2)
    ramp = np.linspace(-1.0, 1.0, 10)
    lines = ["@problemName ramps", "@univariate true", "@equalLength true", "@seriesLength 10",
             "@classLabel true up down", "@data"]  # fmt: skip
    for case in range(40):
        label = "up" if case % 2 else "down"
        values = (ramp if label == "up" else -ramp) + rng.normal(scale=0.3, size=10)
        lines.append(",".join(f"{v:.4f}" for v in values) + f":{label}")
    path = tmp_path / "ramps.ts"
    path.write_text("\n".join(lines) + "\n")
    seen = recording(monkeypatch, "tune_sequence_classifier")
    # A trial runs until early stopping or the timeout (its time limit), whichever comes first.
    found = tune_json(str(path), "--model", "fcn", "--trials", "1", "--test-size", "0.25",
                      "--timeout", "3s")  # fmt: skip
    assert found["model"] == "FCN" and found["family"] == "sequence classification"
    assert found["n_trials"] == 1 and {"channels", "lr"} <= set(found["best_hyperparameters"])
    (x_fit,) = seen
    # 40 sequences: 10 held out for the test score, then a fifth of the rest for validation.
    assert x_fit.shape == (24, 1, 10)
    digits = tmp_path / "digits.csv"
    pixels = rng.integers(0, 16, size=(30, 16))
    frame = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(16)])
    frame.assign(digit=np.arange(30) % 2).to_csv(digits, index=False)
    found = tune_json(str(digits), "--target", "digit", "--as-image", "4x4", "--trials", "1",
                      "--timeout", "3s")  # fmt: skip
    assert found["family"] == "image classification" and found["n_trials"] == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--target", "kind", "--model", "NHITS"], "model: no search space for 'NHITS'"),
        (["--target", "kind", "--parallel", "2"], "parallel: 2 trials at once need a cluster"),
        (["--target", "kind", "--trials", "0"], "n_trials: expected a positive integer"),
        (["--target", "kind", "--timeout", "soon"], "soon"),
        ([], "target: name the column to predict"),
    ],
)
def test_bad_settings_get_one_line_naming_them(table_csv: Path, argv, message) -> None:
    result = runner.invoke(app, ["tune", str(table_csv), *argv])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
