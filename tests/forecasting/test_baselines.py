"""Statistical baselines: each forecast rule on tiny series, Naive2 against R and M4's results."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zen import ConfigError, DataError, NotFittedError
from zen.forecasting import metrics
from zen.forecasting.data import SeriesData, from_long
from zen.forecasting.datasets import load_m4
from zen.forecasting.models.baselines import (
    HistoricAverage,
    Naive,
    Naive2,
    RandomWalkWithDrift,
    SeasonalNaive,
    autocorrelation,
    has_seasonality,
    seasonal_indices,
)

ALL_MODELS = [Naive, SeasonalNaive, HistoricAverage, RandomWalkWithDrift, Naive2]
SEASONAL_MODELS = (SeasonalNaive, Naive2)

# R: AirPassengers (Box & Jenkins), 1949-1960, monthly.
AIR_PASSENGERS = [
    112, 118, 132, 129, 121, 135, 148, 148, 136, 119, 104, 118,
    115, 126, 141, 135, 125, 149, 170, 170, 158, 133, 114, 140,
    145, 150, 178, 163, 172, 178, 199, 199, 184, 162, 146, 166,
    171, 180, 193, 181, 183, 218, 230, 242, 209, 191, 172, 194,
    196, 196, 236, 235, 229, 243, 264, 272, 237, 211, 180, 201,
    204, 188, 235, 227, 234, 264, 302, 293, 259, 229, 203, 229,
    242, 233, 267, 269, 270, 315, 364, 347, 312, 274, 237, 278,
    284, 277, 317, 313, 318, 374, 413, 405, 355, 306, 271, 306,
    315, 301, 356, 348, 355, 422, 465, 467, 404, 347, 305, 336,
    340, 318, 362, 348, 363, 435, 491, 505, 404, 359, 310, 337,
    360, 342, 406, 396, 420, 472, 548, 559, 463, 407, 362, 405,
    417, 391, 419, 461, 472, 535, 622, 606, 508, 461, 390, 432,
]  # fmt: skip
# R 4.x: round(decompose(AirPassengers, type = "multiplicative")$figure, 7)
AIR_PASSENGERS_FIGURE = [
    0.9102304, 0.8836253, 1.0073663, 0.9759060, 0.9813780, 1.1127758,
    1.2265555, 1.2199110, 1.0604919, 0.9217572, 0.8011781, 0.8988244,
]  # fmt: skip


def series_data(*series: list[float]) -> SeriesData:
    """SeriesData of the given series, named s0, s1, ..., with integer steps."""
    frame = pd.concat(
        pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(1, len(y) + 1), "y": y})
        for i, y in enumerate(series)
    )
    return from_long(frame)


@pytest.fixture
def two_series() -> SeriesData:
    return series_data([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [10.0, 8.0, 9.0, 4.0])


# ---------------------------------------------------------------------------- forecast rules
def test_naive_repeats_the_last_value(two_series) -> None:
    forecast = Naive(h=3).fit(two_series).predict(two_series)
    np.testing.assert_array_equal(forecast, [[6, 6, 6], [4, 4, 4]])


def test_seasonal_naive_repeats_the_last_season_beyond_one_cycle(two_series) -> None:
    forecast = SeasonalNaive(h=5, season_length=3).fit(two_series).predict(two_series)
    np.testing.assert_array_equal(forecast, [[4, 5, 6, 4, 5], [8, 9, 4, 8, 9]])


def test_historic_average_forecasts_the_mean(two_series) -> None:
    forecast = HistoricAverage(h=2).fit(two_series).predict(two_series)
    np.testing.assert_allclose(forecast, [[3.5, 3.5], [7.75, 7.75]])


def test_random_walk_with_drift_extends_the_line_through_first_and_last(two_series) -> None:
    forecast = RandomWalkWithDrift(h=3).fit(two_series).predict(two_series)
    # drift = (y_T - y_1) / (T - 1): (6 - 1) / 5 = 1 and (4 - 10) / 3 = -2
    np.testing.assert_allclose(forecast, [[7, 8, 9], [2, 0, -2]])


@pytest.mark.parametrize("model_class", ALL_MODELS)
def test_predict_returns_float64_of_shape_series_by_horizon(model_class, two_series) -> None:
    forecast = model_class(h=4).fit(two_series).predict(two_series)
    assert forecast.shape == (2, 4)
    assert forecast.dtype == np.float64


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.integers(1, 1000), min_size=9, max_size=30), min_size=1, max_size=5),
    st.sampled_from(ALL_MODELS),
)
def test_forecasting_many_series_at_once_equals_one_at_a_time(series, model_class) -> None:
    """The vectorised index arithmetic must not let series leak into each other."""
    model = model_class(h=7, **({"season_length": 3} if model_class in SEASONAL_MODELS else {}))
    together = model.fit(data := series_data(*series)).predict(data)
    alone = [model.predict(series_data(values))[0] for values in series]
    np.testing.assert_allclose(together, np.stack(alone), rtol=1e-12)


def test_predict_forecasts_from_the_end_of_the_data_it_is_given(two_series) -> None:
    model = Naive(h=1).fit(two_series)
    assert model.predict(series_data([1.0, 42.0]))[0, 0] == 42.0


# ---------------------------------------------------------------------------- API and errors
@pytest.mark.parametrize("h", [0, -1, 1.5, True, "3"])
def test_h_must_be_a_positive_integer(h) -> None:
    with pytest.raises(ConfigError, match=r"^h: expected a positive integer"):
        Naive(h=h)


@pytest.mark.parametrize("model_class", SEASONAL_MODELS)
@pytest.mark.parametrize("season_length", [0, -24, 2.0])
def test_season_length_must_be_a_positive_integer(model_class, season_length) -> None:
    with pytest.raises(ConfigError, match=r"^season_length: expected a positive integer"):
        model_class(h=2, season_length=season_length)


def test_fit_rechecks_hyperparameters_changed_after_construction(two_series) -> None:
    model = Naive(h=2)
    model.h = 0
    with pytest.raises(ConfigError, match=r"^h:"):
        model.fit(two_series)


def test_seasonal_naive_names_series_shorter_than_a_season(two_series) -> None:
    with pytest.raises(DataError, match=r"1 series .* fewer than the 5 values.*'s1', with 4"):
        SeasonalNaive(h=2, season_length=5).fit(two_series)


def test_random_walk_with_drift_needs_two_values() -> None:
    with pytest.raises(DataError, match=r"fewer than the 2 values .*'s1', with 1"):
        RandomWalkWithDrift(h=2).fit(series_data([1.0, 2.0], [3.0]))


def test_fit_rejects_a_data_frame_with_a_pointer_to_from_long() -> None:
    with pytest.raises(DataError, match=r"expected a SeriesData .*from_long"):
        Naive(h=2).fit(pd.DataFrame({"unique_id": ["a"], "ds": [1], "y": [1.0]}))


@pytest.mark.parametrize("model_class", ALL_MODELS)
def test_predict_before_fit_raises(model_class, two_series) -> None:
    with pytest.raises(NotFittedError, match=f"{model_class.__name__} is not fitted"):
        model_class(h=2).predict(two_series)


def test_alias_names_the_forecast_column() -> None:
    assert SeasonalNaive(h=2).alias == "SeasonalNaive"
    assert SeasonalNaive(h=2, alias="snaive24").alias == "snaive24"


@pytest.mark.parametrize("model_class", ALL_MODELS)
def test_hyperparameters_rebuild_an_equal_model(model_class) -> None:
    kwargs = {"h": 3, "alias": "x"}
    if model_class in SEASONAL_MODELS:
        kwargs["season_length"] = 12
    model = model_class(**kwargs)
    assert model.hyperparameters() == kwargs
    assert repr(model_class(**model.hyperparameters())) == repr(model)


def test_repr_shows_the_hyperparameters() -> None:
    assert repr(Naive2(h=48, season_length=24)) == "Naive2(h=48, season_length=24)"


# ---------------------------------------------------------------------------- Naive2
def test_autocorrelation_matches_numpy_for_lag_one() -> None:
    y = np.random.default_rng(0).normal(size=200).cumsum()
    centred = y - y.mean()
    expected = np.sum(centred[1:] * centred[:-1]) / np.sum(centred**2)
    assert autocorrelation(y, 3)[0] == pytest.approx(expected)


def test_seasonal_indices_match_r_decompose_on_air_passengers() -> None:
    figure = seasonal_indices(np.array(AIR_PASSENGERS, dtype=float), 12)
    np.testing.assert_allclose(figure, AIR_PASSENGERS_FIGURE, atol=5e-8)


def test_seasonal_indices_for_an_odd_season_use_a_plain_moving_average() -> None:
    pattern = np.array([0.5, 1.0, 1.5])
    y = 10.0 * np.tile(pattern, 5)
    np.testing.assert_allclose(seasonal_indices(y, 3), pattern)


@pytest.mark.parametrize(
    ("name", "y", "expected"),
    [
        ("daily cycle", 100 + 10 * np.sin(2 * np.pi * np.arange(24 * 5) / 24), True),
        ("white noise", np.random.default_rng(3).normal(size=24 * 5), False),
        ("too short: n < 3m", 100 + 10 * np.sin(2 * np.pi * np.arange(71) / 24), False),
        ("constant", np.full(24 * 5, 7.0), False),
    ],
)
def test_m4_seasonality_test(name, y, expected) -> None:
    assert has_seasonality(y, 24) is expected, name


def test_season_length_one_is_never_seasonal() -> None:
    assert not has_seasonality(np.sin(np.arange(100.0)), 1)


@pytest.mark.parametrize("length", [96, 100, 107])  # whole seasons, and phases that are not
def test_naive2_continues_a_purely_multiplicative_season_exactly(length) -> None:
    pattern = 1 + 0.5 * np.sin(2 * np.pi * np.arange(24) / 24)
    y = 200.0 * pattern[np.arange(length) % 24]
    data = series_data(y.tolist())
    forecast = Naive2(h=30, season_length=24).fit(data).predict(data)
    expected = 200.0 * pattern[np.arange(length, length + 30) % 24]
    np.testing.assert_allclose(forecast[0], expected, rtol=1e-5)


def test_naive2_is_naive_when_the_series_is_not_seasonal() -> None:
    noise = series_data((50 + np.random.default_rng(1).normal(size=120)).tolist())
    np.testing.assert_array_equal(
        Naive2(h=5, season_length=24).fit(noise).predict(noise),
        Naive(h=5).fit(noise).predict(noise),
    )


def test_naive2_does_not_deseasonalise_series_with_non_positive_values(caplog) -> None:
    y = 10 * np.sin(2 * np.pi * np.arange(24 * 5) / 24)  # seasonal, but crosses zero
    data = series_data(y.tolist())
    with caplog.at_level("INFO", logger="zen.forecasting.models.baselines"):
        forecast = Naive2(h=3, season_length=24).fit(data).predict(data)
    np.testing.assert_allclose(forecast[0], y[-1], rtol=1e-6)
    assert "1 seasonal series have values <= 0" in caplog.text


# ---------------------------------------------------------------------------- M4 Hourly, golden
# Published M4 Hourly results (Makridakis, Spiliotis & Assimakopoulos, IJF 2020, benchmarks
# table): sMAPE in %, MASE with m = 24.
M4_HOURLY_PUBLISHED = {
    "Naive2": (18.383, 2.395),
    "SeasonalNaive": (13.912, 1.193),
    "Naive": (43.003, 11.608),
}


@functools.cache
def m4_hourly_scores(directory: Path) -> dict[str, tuple[float, float]]:
    """(sMAPE, MASE) of each baseline on the M4 Hourly test set; computed once per session."""
    train, test = load_m4("Hourly", directory=directory)
    data = from_long(train)
    actual = test.set_index("unique_id").loc[data.ids, "y"].to_numpy().reshape(-1, 48)
    models = [Naive2(h=48, season_length=24), SeasonalNaive(h=48, season_length=24), Naive(h=48)]
    return {
        model.alias: (
            metrics.smape(actual, forecast := model.fit(data).predict(data)),
            metrics.mase(actual, forecast, data, season_length=24),
        )
        for model in models
    }


@pytest.mark.parametrize("alias", list(M4_HOURLY_PUBLISHED))
def test_m4_hourly_accuracy_matches_the_published_results(alias, shared_data) -> None:
    smape, mase = m4_hourly_scores(shared_data / "forecast")[alias]
    published_smape, published_mase = M4_HOURLY_PUBLISHED[alias]
    assert round(smape, 3) == published_smape
    assert round(mase, 3) == published_mase


def test_m4_hourly_owa_of_naive2_is_one_and_seasonal_naive_beats_it(shared_data) -> None:
    scores = m4_hourly_scores(shared_data / "forecast")
    assert metrics.owa(*scores["Naive2"], *scores["Naive2"]) == pytest.approx(1.0)
    # Published: 0.628 (0.5 * (13.912 / 18.383 + 1.193 / 2.395)).
    assert metrics.owa(*scores["SeasonalNaive"], *scores["Naive2"]) == pytest.approx(
        0.628, abs=5e-4
    )
