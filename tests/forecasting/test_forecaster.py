"""Forecaster: fit/predict frames, new history, cross-validation, save/load, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError, NotFittedError
from zen.forecasting import NHITS, Ensemble, Forecaster, MQLoss, Naive, SeasonalNaive

FAST = {
    "max_steps": 30,
    "val_check_steps": 10,
    "windows_batch_size": 64,
    "mlp_units": ((32, 32),) * 3,
}


def forecaster(**settings) -> Forecaster:
    return Forecaster(
        models=[
            NHITS(h=12, input_size=24, **{**FAST, **settings}),
            SeasonalNaive(h=12, season_length=12),
        ],
        freq="h",
    )


def test_predict_returns_one_column_per_model(series_df) -> None:
    fc = forecaster().fit(series_df)
    forecast = fc.predict()
    assert list(forecast.columns) == ["unique_id", "ds", "NHITS", "SeasonalNaive"]
    assert len(forecast) == 3 * 12
    assert forecast["ds"].iloc[0] == pd.Timestamp("2024-01-09 08:00")


def test_predict_with_levels_adds_interval_columns(series_df) -> None:
    fc = Forecaster([NHITS(h=12, input_size=24, loss=MQLoss(level=[80]), **FAST)]).fit(series_df)
    forecast = fc.predict(level=[80])
    assert {"NHITS-lo-80", "NHITS-hi-80"} <= set(forecast.columns)


def test_predict_on_new_history_forecasts_those_series(series_df, series_factory) -> None:
    fc = forecaster().fit(series_df)
    other = series_factory(n_series=2, seed=5)
    other["unique_id"] = other["unique_id"].map({"s0": "new-a", "s1": "new-b"})
    forecast = fc.predict(df=other)
    assert sorted(forecast["unique_id"].unique()) == ["new-a", "new-b"]


def test_cross_validation_windows_and_cutoffs(series_df) -> None:
    fc = forecaster()
    cv = fc.cross_validation(series_df, n_windows=3, step_size=12)
    assert list(cv.columns[:4]) == ["unique_id", "ds", "cutoff", "y"]
    assert cv["cutoff"].nunique() == 3 and len(cv) == 3 * 3 * 12
    # y is the real future value at ds
    merged = cv.merge(series_df, on=["unique_id", "ds"], suffixes=("", "_true"))
    np.testing.assert_allclose(merged["y"], merged["y_true"], rtol=1e-6)
    assert (cv["ds"] > cv["cutoff"]).all()


def test_cross_validation_of_naive_repeats_the_cutoff_value(series_df) -> None:
    cv = Forecaster([Naive(h=4)], freq="h").cross_validation(series_df, n_windows=2)
    first = cv[(cv.unique_id == "s0")].groupby("cutoff")["Naive"].nunique()
    assert (first == 1).all()


def test_save_and_load_predict_the_same(series_df, tmp_path) -> None:
    fc = forecaster().fit(series_df)
    fc.save(tmp_path / "fc")
    loaded = Forecaster.load(tmp_path / "fc")
    pd.testing.assert_frame_equal(loaded.predict(), fc.predict())


def test_errors(series_df) -> None:
    with pytest.raises(NotFittedError):
        forecaster().predict()
    with pytest.raises(ConfigError, match="same h"):
        Forecaster([Naive(h=3), Naive(h=4, alias="other")])
    with pytest.raises(ConfigError, match="aliases must be unique"):
        Forecaster([Naive(h=3), Naive(h=3)])
    with pytest.raises(DataError, match="too few for 20 windows"):
        forecaster().cross_validation(series_df, n_windows=20)


@pytest.mark.parametrize("method", ["mean", "median", "weighted"])
def test_ensemble_combines_members_and_reports_them(series_df, method) -> None:
    members = [NHITS(h=12, input_size=24, **FAST), SeasonalNaive(h=12, season_length=12)]
    forecast = Forecaster([Ensemble(members, method=method)], freq="h").fit(series_df).predict()
    assert list(forecast.columns) == ["unique_id", "ds", "NHITS", "SeasonalNaive", "Ensemble"]
    low = forecast[["NHITS", "SeasonalNaive"]].min(axis=1)
    high = forecast[["NHITS", "SeasonalNaive"]].max(axis=1)
    assert ((forecast["Ensemble"] >= low - 1e-9) & (forecast["Ensemble"] <= high + 1e-9)).all()


def test_weighted_ensemble_prefers_the_better_member(series_df) -> None:
    members = [SeasonalNaive(h=12, season_length=12), Naive(h=12)]
    fitted = Forecaster([Ensemble(members, method="weighted")], freq="h").fit(series_df)
    ensemble = fitted.models_[0]
    assert ensemble.weights_[0] > ensemble.weights_[1]
    assert ensemble.weights_.sum() == pytest.approx(1.0)


def test_ensemble_saves_and_loads(series_df, tmp_path) -> None:
    members = [NHITS(h=12, input_size=24, **FAST), SeasonalNaive(h=12, season_length=12)]
    fc = Forecaster([Ensemble(members, method="weighted")], freq="h").fit(series_df)
    fc.save(tmp_path / "fc")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "fc").predict(), fc.predict())


def test_ensemble_needs_two_models() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        Ensemble([Naive(h=3)])


def test_seed_applies_to_clones_and_leaves_the_given_models_alone(series_df) -> None:
    given = [
        NHITS(h=12, input_size=24, random_seed=1, **FAST),
        Ensemble([NHITS(h=12, input_size=24, alias="member", **FAST), Naive(h=12)]),
    ]
    before = [model.get_params() for model in given]
    fc = Forecaster(given, freq="h", seed=7).fit(series_df)
    assert [model.get_params() for model in given] == before
    assert not any(hasattr(model, "model_") for model in given)
    assert fc.models_[0].random_seed == 7 and fc.models_[0] is not given[0]
    assert fc.models_[1].models_[0].random_seed == 7  # ensemble members too
    # The same numbers as models built with that seed.
    seeded = NHITS(h=12, input_size=24, random_seed=7, **FAST)
    expected = Forecaster([seeded], freq="h").fit(series_df).predict()["NHITS"]
    np.testing.assert_array_equal(fc.predict()["NHITS"], expected)


def test_one_list_of_models_serves_two_forecasters(series_df, series_factory) -> None:
    models = [Naive(h=12)]
    first = Forecaster(models, freq="h").fit(series_df)
    second = Forecaster(models, freq="h").fit(series_factory(n_series=2, seed=5))
    assert first.models_[0] is not second.models_[0]
    assert len(first.predict()) == 3 * 12 and len(second.predict()) == 2 * 12
