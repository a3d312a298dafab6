"""Forecasting jobs choose on a validation window and report on a later test window."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from zen.forecasting import from_long
from zen.orchestrator import orchestration
from zen.orchestrator.forecast_eval import ENSEMBLE, hold_out, median_ensemble, rank
from zen.orchestrator.history import History
from zen.orchestrator.jobs.forecast import forecast
from zen.orchestrator.router import Candidate

HORIZON = 12


def seasonal_then_flat(length: int = 200, seed: int = 0) -> pd.DataFrame:
    """A daily cycle that stops in the last ``HORIZON`` hours: the seasonal naive forecast is
    right on every window but the last, where the historic average is."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    y = 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.1, length)
    y[-HORIZON:] = y[:-HORIZON].mean()
    ds = pd.date_range("2024-01-01", periods=length, freq="h")
    return pd.DataFrame({"unique_id": "meter", "ds": ds, "y": y})


@pytest.fixture
def baselines_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The router proposes three baselines (fast, and each wins somewhere)."""
    names = ["Naive", "SeasonalNaive", "HistoricAverage"]

    def routed(profile, budget_s, known, **options):
        return [Candidate(name, profile.family, 1.0, "chosen by the test") for name in names]

    monkeypatch.setattr(orchestration, "routed_candidates", routed)
    return names


def test_the_model_is_chosen_on_validation_not_on_the_reported_window(
    tmp_path, baselines_only
) -> None:
    result = forecast(seasonal_then_flat(), HORIZON, runs_dir=tmp_path, workers=1)
    rows = {row["model"]: row for row in result.leaderboard}
    # On the test window the flat average wins; choosing there would pick it.
    assert min(rows, key=lambda name: rows[name]["test"]["mase"]) == "HistoricAverage"
    assert result.best_model == "SeasonalNaive"
    assert result.separate_test
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["best"] == "SeasonalNaive"
    lowest = min(report["leaderboard"], key=lambda row: row["validation"]["mase"])
    assert lowest["model"] == report["best"]
    for row in report["leaderboard"]:
        assert set(row["validation"]) == set(row["test"]) == {"smape", "mase"}
    assert report["scores"] == rows["SeasonalNaive"]["test"]
    assert "validation window" in report["evaluation"]


def test_history_records_test_scores(tmp_path, baselines_only) -> None:
    result = forecast(seasonal_then_flat(), HORIZON, runs_dir=tmp_path, workers=1)
    rows = {row["model"]: row for row in result.leaderboard}
    with History() as history:
        runs = history.runs()
    parent = next(run for run in runs if run.id == result.history_id)
    assert parent.metrics["mase"] == pytest.approx(rows[result.best_model]["test"]["mase"])
    children = {run.model: run for run in runs if run.parent_id == result.history_id}
    for name in baselines_only:
        assert children[name].metrics["mase"] == pytest.approx(rows[name]["test"]["mase"])
        assert children[name].metrics["val_mase"] == pytest.approx(rows[name]["validation"]["mase"])


def test_the_ensemble_is_a_leaderboard_row_and_wins_only_on_validation(tmp_path) -> None:
    history = from_long(seasonal_then_flat())
    hold = hold_out(history, HORIZON, 24)
    truth = hold.validation_truth
    forecasts = {
        "low": {"validation": truth - 1.0, "test": hold.test_truth - 1.0},
        "high": {"validation": truth + 1.0, "test": hold.test_truth + 5.0},
        "exact": {"validation": truth + 0.1, "test": hold.test_truth + 9.0},
    }
    row = median_ensemble(forecasts, hold, 24)
    assert row is not None and row["model"] == ENSEMBLE
    assert row["members"] == ["exact", "high", "low"]
    singles = [{"model": name, **_scores(hold, windows)} for name, windows in forecasts.items()]
    board = sorted([*singles, row], key=rank)
    # The median is "exact" on validation: it ties that model, and neither beats the other.
    assert {board[0]["model"], board[1]["model"]} == {"exact", ENSEMBLE}


def _scores(hold, windows):
    from zen.orchestrator.forecast_eval import score_windows

    return score_windows(hold, windows, 24)


def test_short_series_fall_back_to_one_window_and_say_so(tmp_path, baselines_only) -> None:
    short = seasonal_then_flat(length=3 * HORIZON)  # too short for validation and test
    result = forecast(short, HORIZON, runs_dir=tmp_path, workers=1)
    assert not result.separate_test
    assert all(row["test"] is None for row in result.leaderboard)
    report = json.loads((result.run_dir / "report.json").read_text())
    assert "optimistic" in report["evaluation"] and report["separate_test"] is False
    scored = {key: value for key, value in result.best_row["validation"].items()
              if value is not None}  # fmt: skip
    assert report["scores"] == scored


def test_the_winner_is_refitted_on_the_whole_history(tmp_path, baselines_only) -> None:
    frame = seasonal_then_flat()
    result = forecast(frame, HORIZON, runs_dir=tmp_path, workers=1)
    assert result.final_model["refit"] is True
    written = pd.read_csv(result.forecast_path, parse_dates=["ds"])
    assert list(written.columns) == ["unique_id", "ds", "SeasonalNaive"]
    assert written["ds"].min() == frame["ds"].max() + pd.Timedelta(hours=1)
    assert len(written) == HORIZON
    # The seasonal naive forecast of the whole history repeats its last day, flat part included.
    expected = frame["y"].to_numpy()[-24 : -24 + HORIZON]
    np.testing.assert_allclose(written["SeasonalNaive"], expected, rtol=1e-5)
