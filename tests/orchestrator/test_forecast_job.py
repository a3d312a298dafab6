"""`zen fit --horizon`: time series are detected, models compared, the best one saved."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen import ConfigError, DataError, registry
from zen.cli import app
from zen.forecasting import Forecaster
from zen.forecasting.candidate import ForecastSettings
from zen.orchestrator import fit
from zen.orchestrator.jobs.forecast import (
    ENSEMBLE,
    _baseline_names,
    _candidate_names,
    _final_forecaster,
    forecast,
    season_length_for,
)
from zen.orchestrator.orchestration import routed_candidates
from zen.orchestrator.profile import is_time_series, profile_series


def hourly_long(n_series: int = 2, length: int = 240) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    t = np.arange(length)
    frames = [
        pd.DataFrame(
            {
                "unique_id": f"meter{i}",
                "ds": pd.date_range("2024-03-01", periods=length, freq="h"),
                "y": 50 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, length) + 5 * i,
            }
        )
        for i in range(n_series)
    ]
    return pd.concat(frames, ignore_index=True)


def test_time_series_are_detected_with_a_reason() -> None:
    assert is_time_series(hourly_long(), None) == (
        True,
        "the table has the long time-series columns unique_id, ds, y",
    )
    wide = pd.DataFrame({"date": pd.date_range("2024", periods=5, freq="D"), "a": range(5)})
    assert is_time_series(wide, None)[0] is False
    profile = profile_series(wide, horizon=2)
    assert profile.layout == "wide" and profile.numeric_features == ["a"]


@pytest.mark.parametrize(
    ("freq", "season"), [("h", 24), ("D", 7), ("W-SUN", 52), ("MS", 12), (1, 1)]
)
def test_season_length_follows_the_frequency(freq, season) -> None:
    assert season_length_for(freq) == season


def test_forecast_run_ranks_models_and_saves_the_best(tmp_path) -> None:
    result = forecast(hourly_long(), 24, runs_dir=tmp_path, max_steps=30)
    models = {row["model"] for row in result.leaderboard}
    assert models == {"NHITS", "NBEATS", "SeasonalNaive", ENSEMBLE}
    assert result.leaderboard[0]["model"] == result.best_model  # ranked by validation
    assert result.ensemble is not None
    assert result.ensemble["helps"] == (result.best_model == ENSEMBLE)
    for image in ("forecasts.png", "leaderboard.png", "learning_curves.png"):
        assert (result.run_dir / image).read_bytes()[:4] == b"\x89PNG", image
    assert result.season_length == 24
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["best_model"] == report["best"] == result.best_model
    future = Forecaster.load(result.model_dir).predict()
    assert future["ds"].min() == pd.Timestamp("2024-03-11 00:00")  # after the full history
    # An ensemble also reports its members' columns.
    assert list(future.columns[:2]) == ["unique_id", "ds"] and result.best_model in future


@pytest.mark.slow  # a whole orchestrated run (~20 s); the melt itself is checked in the fast suite
def test_wide_frames_are_forecast_per_column(tmp_path) -> None:
    long = hourly_long()
    wide = long.pivot(index="ds", columns="unique_id", values="y").reset_index()
    result = fit(wide, horizon=12, runs_dir=tmp_path, budget_s=5)
    assert result.profile.layout == "wide" and result.profile.n_series == 2


def test_long_series_without_horizon_ask_for_one(tmp_path) -> None:
    with pytest.raises(ConfigError, match="pass --horizon"):
        fit(hourly_long(), runs_dir=tmp_path)


def test_series_too_short_for_the_horizon(tmp_path) -> None:
    with pytest.raises(DataError, match="lower --horizon"):
        forecast(hourly_long(length=40), 24, runs_dir=tmp_path)


def test_cli_forecasts_a_csv(tmp_path) -> None:
    path = tmp_path / "meters.csv"
    hourly_long().to_csv(path, index=False)
    runs = str(tmp_path / "runs")
    arguments = ["fit", str(path), "--horizon", "12", "--budget", "3s", "--runs-dir", runs]
    result = CliRunner().invoke(app, [*arguments, "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "leaderboard" in result.output and "(best)" in result.output
    assert "sMAPE" in result.output and "MASE" in result.output


def test_cli_rejects_a_bad_budget(tmp_path) -> None:
    path = tmp_path / "meters.csv"
    hourly_long().to_csv(path, index=False)
    result = CliRunner().invoke(app, ["fit", str(path), "--horizon", "12", "--budget", "soon"])
    assert result.exit_code == 2 and "budget: expected a duration" in result.output


def test_every_router_candidate_of_the_family_can_be_built() -> None:
    from zen.orchestrator.router_rules import POOLS

    settings = ForecastSettings(horizon=12, input_size=24, season_length=24, max_steps=5)
    assert set(POOLS["time series"]) == set(_candidate_names())
    for spec in registry.candidates("forecast"):
        assert spec.create(settings, {}).h == 12, spec.name


def test_deepar_gets_the_likelihood_the_rules_ask_for() -> None:
    settings = ForecastSettings(horizon=6, input_size=12, max_steps=5)
    model = registry.get("DeepAR", "forecast").create(
        settings, {"loss": "DistributionLoss", "distribution": "NegativeBinomial"}
    )
    assert model.loss.distribution == "NegativeBinomial"


def test_a_baseline_is_always_among_the_candidates() -> None:
    profile = profile_series(hourly_long(length=400), 24)
    baselines = _baseline_names()
    assert set(baselines) == {"SeasonalNaive", "Naive", "HistoricAverage", "RandomWalkWithDrift"}
    known = _candidate_names()
    chosen = routed_candidates(profile, 300, known, policy="rules", floor=baselines)
    assert len(chosen) == 3 and sum(c.name in baselines for c in chosen) == 1
    unfloored = routed_candidates(profile, 300, known, policy="rules", limit=2)
    assert all(c.name not in baselines for c in unfloored)


def test_a_final_median_ensemble_predicts_the_median_of_its_members(tmp_path) -> None:
    from zen.forecasting import from_long

    history = from_long(hourly_long())
    settings = ForecastSettings(horizon=6, input_size=24, season_length=24, max_steps=5)
    task = {"history": history, "season": 24, "settings": settings}
    members = ["Naive", "SeasonalNaive", "HistoricAverage"]
    final, about = _final_forecaster(members, task, {}, tmp_path, remaining_s=60.0)
    assert about == {"models": members, "refit": True, "reason": "refitted on the whole history"}
    final.save(tmp_path / "ensemble")
    predicted = Forecaster.load(tmp_path / "ensemble").predict()
    expected = np.median(np.stack([predicted[name].to_numpy() for name in members]), axis=0)
    np.testing.assert_allclose(predicted[ENSEMBLE].to_numpy(), expected, rtol=1e-5)


def test_a_wide_series_column_may_be_called_y(tmp_path) -> None:
    """A two-column table ``ds,y`` is one wide series named ``y``; melting it used to collide
    with the long format's own ``y`` (an internal error from ``zen fit``)."""
    from zen.orchestrator.jobs.forecast import to_long

    long = hourly_long(n_series=1)
    wide = pd.DataFrame({"ds": long["ds"], "y": long["y"]})
    profile = profile_series(wide, 12)
    assert profile.layout == "wide" and profile.n_series == 1
    melted = to_long(wide, profile)
    assert list(melted.columns) == ["unique_id", "ds", "y"]
    assert (melted["unique_id"] == "y").all() and np.allclose(melted["y"], long["y"])
    result = forecast(wide, 12, runs_dir=tmp_path, max_steps=5, budget_s=20, workers=1)
    assert result.profile.n_series == 1
