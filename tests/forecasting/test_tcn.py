"""TCN: causality, shapes with every scaler and loss, learning, seeds, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from forecast_checks import assert_round_trip, nested_intervals

from zen import ConfigError
from zen.forecasting import MQLoss
from zen.forecasting.data import from_long
from zen.forecasting.models.tcn import TCN, TCNNetwork, TemporalBlock
from zen.forecasting.scalers import SCALER_TYPES

TINY = {
    "encoder_hidden_size": 16,
    "decoder_hidden_size": 16,
    "dilations": [1, 2, 4, 8],
    "windows_batch_size": 64,
    "val_check_steps": 50,
}


def tiny(**settings) -> TCN:
    return TCN(**{"h": 12, "input_size": 36, "max_steps": 150, **TINY, **settings})


def smape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def test_temporal_block_is_causal() -> None:
    torch.manual_seed(0)
    block = TemporalBlock(1, 4, kernel_size=2, dilation=4, activation="relu", dropout=0.0)
    x = torch.randn(2, 1, 30)
    changed = x.clone()
    changed[..., 20] += 5.0
    before, after = block(x), block(changed)
    torch.testing.assert_close(before[..., :20], after[..., :20])
    assert not torch.allclose(before[..., 20:], after[..., 20:])


def test_forecast_depends_on_exactly_the_receptive_field() -> None:
    torch.manual_seed(0)
    network = TCNNetwork(3, 1, 2, [1, 2, 4], 8, "relu", 0.0, 4, 8, 2)
    assert network.receptive_field == 1 + 2 * (1 + 2 + 4)
    x = torch.randn(2, 40)
    outside, inside = x.clone(), x.clone()
    outside[:, -network.receptive_field - 1] += 5.0
    inside[:, -network.receptive_field] += 5.0
    torch.testing.assert_close(network(outside), network(x))
    assert not torch.allclose(network(inside), network(x))


def test_learns_seasonal_series_better_than_the_last_value(series_df) -> None:
    data = from_long(series_df)
    train = data.head(data.lengths - 12)
    forecast = tiny().fit(train).predict(train)
    truth = np.stack([data.series(i)[-12:].numpy() for i in range(data.n_series)])
    naive = np.repeat([[train.series(i)[-1].item()] for i in range(data.n_series)], 12, axis=1)
    assert forecast.shape == (3, 12)
    assert smape(truth, forecast) < 0.6 * smape(truth, naive)


@pytest.mark.parametrize(
    ("scaler_type", "loss"),
    [(scaler, "mae") for scaler in SCALER_TYPES]
    + [("robust", loss) for loss in ("mse", "huber", MQLoss(level=[80, 95]))],
)
def test_every_scaler_and_loss_gives_finite_forecasts(series_df, scaler_type, loss) -> None:
    data = from_long(series_df)
    model = tiny(scaler_type=scaler_type, loss=loss, max_steps=3).fit(data)
    forecast = model.predict(data)
    assert forecast.shape == (3, 12) and np.isfinite(forecast).all()
    outputs = model.predict_outputs(data)
    assert outputs.shape == (3, 12, model.loss_.outputs_per_step)


def test_quantile_loss_gives_ordered_intervals(series_df) -> None:
    data = from_long(series_df)
    nested_intervals(tiny(loss=MQLoss(level=[80, 95]), max_steps=100).fit(data), data)


def test_same_seed_same_forecast(series_df) -> None:
    data = from_long(series_df)
    first = tiny(max_steps=10).fit(data).predict(data)
    second = tiny(max_steps=10).fit(data).predict(data)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, tiny(max_steps=10, random_seed=7).fit(data).predict(data))


def test_save_and_load_through_forecaster(series_df, tmp_path) -> None:
    model = tiny(max_steps=10, loss=MQLoss(level=[80]), dilations=[1, 2], encoder_dropout=0.1)
    assert_round_trip(model, series_df, tmp_path / "fc", [80])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"kernel_size": 0}, "kernel_size: expected a positive integer"),
        ({"dilations": []}, "dilations: expected one or more positive integers"),
        ({"dilations": [1, 0]}, "dilations"),
        ({"encoder_hidden_size": 2.5}, "encoder_hidden_size"),
        ({"decoder_layers": 0}, "decoder_layers"),
        ({"encoder_dropout": 1.0}, "encoder_dropout: expected a fraction"),
        ({"encoder_activation": "nope"}, "activation: unknown value 'nope'"),
        ({"scaler_type": "log"}, "scaler_type: unknown value 'log'"),
    ],
)
def test_bad_hyperparameters(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        TCN(**{"h": 12, "input_size": 24, **settings})
