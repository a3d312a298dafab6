"""N-HiTS / N-BEATS: shapes, learning, scalers, losses, seeds and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from forecast_checks import nested_intervals

from zen import ConfigError, DataError, NotFittedError
from zen.forecasting import NBEATS, NHITS, MQLoss
from zen.forecasting.data import from_long
from zen.forecasting.losses import get_loss
from zen.forecasting.scalers import SCALER_TYPES, WindowScaler

SMALL = {"max_steps": 150, "val_check_steps": 50, "windows_batch_size": 128}


def small(cls, **settings):
    units = settings.pop("mlp_units", ((64, 64),) * 3)
    return cls(h=12, input_size=36, mlp_units=units, **{**SMALL, **settings})


def smape(y, f):
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


@pytest.mark.parametrize("cls", [NHITS, NBEATS])
def test_learns_seasonal_series_better_than_the_last_value(cls, series_df) -> None:
    data = from_long(series_df)
    train = data.head(data.lengths - 12)
    model = small(cls, scaler_type="robust").fit(train)
    forecast = model.predict(train)
    truth = np.stack([data.series(i)[-12:].numpy() for i in range(data.n_series)])
    naive = np.repeat([[train.series(i)[-1].item()] for i in range(data.n_series)], 12, axis=1)
    assert forecast.shape == (3, 12)
    assert smape(truth, forecast) < 0.6 * smape(truth, naive)


@pytest.mark.parametrize("scaler_type", SCALER_TYPES)
def test_scalers_round_trip(scaler_type) -> None:
    scaler = WindowScaler(scaler_type)
    x = torch.randn(4, 20) * 50 + 100
    location, scale = scaler.statistics(x)
    torch.testing.assert_close(
        scaler.inverse(scaler.transform(x, location, scale), location, scale),
        x,
        rtol=1e-4,
        atol=1e-3,
    )


def test_flat_windows_scale_without_dividing_by_zero() -> None:
    scaler = WindowScaler("standard")
    x = torch.full((2, 10), 5.0)
    location, scale = scaler.statistics(x)
    assert torch.isfinite(scaler.transform(x, location, scale)).all()


def test_same_seed_same_forecast(series_df) -> None:
    data = from_long(series_df)
    first = small(NHITS, max_steps=20).fit(data).predict(data)
    second = small(NHITS, max_steps=20).fit(data).predict(data)
    np.testing.assert_array_equal(first, second)
    third = small(NHITS, max_steps=20, random_seed=7).fit(data).predict(data)
    assert not np.array_equal(first, third)


def test_quantile_loss_gives_ordered_intervals(series_df) -> None:
    data = from_long(series_df)
    model = small(NHITS, loss=MQLoss(level=[80, 95]), scaler_type="robust").fit(data)
    bands = nested_intervals(model, data)
    assert (bands["high95"] - bands["low95"]).mean() > 0
    with pytest.raises(ConfigError, match="level: 50 was not trained"):
        model.predict_interval(data, 50)


def test_point_loss_has_no_intervals(series_df) -> None:
    data = from_long(series_df)
    model = small(NHITS, max_steps=5).fit(data)
    with pytest.raises(ConfigError, match="gives no intervals"):
        model.predict_interval(data, 80)


def test_early_stopping_uses_a_validation_window(series_df) -> None:
    data = from_long(series_df)
    model = small(NHITS, max_steps=2000, val_check_steps=10, early_stop_patience_steps=2)
    model.fit(data)
    assert "val_loss" in model.result_.history
    assert model.result_.steps < 2000


def test_trend_and_seasonality_stacks(series_df) -> None:
    data = from_long(series_df)
    model = small(NBEATS, stack_types=["trend", "seasonality"], n_blocks=[1, 1],
                  mlp_units=[[32, 32], [32, 32]], max_steps=20)  # fmt: skip
    assert model.fit(data).predict(data).shape == (3, 12)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"h": 0}, "h: expected a positive integer"),
        ({"input_size": -1}, "input_size"),
        ({"scaler_type": "log"}, "scaler_type: unknown value 'log'"),
        ({"loss": "mape"}, "loss: unknown value 'mape'"),
        ({"n_pool_kernel_size": [2, 2]}, "n_pool_kernel_size: expected 3 entries"),
        ({"learning_rate": 0}, "learning_rate"),
    ],
)
def test_bad_hyperparameters(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        NHITS(**{"h": 12, "input_size": 24, **settings})


def test_series_too_short_for_the_window(series_df) -> None:
    with pytest.raises(DataError, match="shorter than input_size"):
        NHITS(h=100, input_size=150).fit(from_long(series_df))


def test_predict_before_fit(series_df) -> None:
    with pytest.raises(NotFittedError):
        NHITS(h=12, input_size=24).predict(from_long(series_df))


def test_loss_configs_round_trip() -> None:
    loss = MQLoss(level=[90])
    assert get_loss(loss.config()).quantiles == loss.quantiles
