"""PatchTST: patching, RevIN, shapes with every loss, learning, seeds, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from forecast_checks import assert_round_trip, nested_intervals

from zen import ConfigError
from zen.forecasting import MQLoss, PatchTST
from zen.forecasting.data import from_long
from zen.forecasting.models.patchtst import PatchTSTNetwork, RevIN, patch_count

TINY = {"hidden_size": 16, "n_heads": 2, "linear_hidden_size": 32, "encoder_layers": 2,
        "patch_len": 8, "stride": 4, "windows_batch_size": 64, "val_check_steps": 50,
        "learning_rate": 1e-3}  # fmt: skip


def tiny(**settings) -> PatchTST:
    return PatchTST(**{"h": 12, "input_size": 36, "max_steps": 150, **TINY, **settings})


def smape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def network(**settings) -> PatchTSTNetwork:
    options = {"patch_len": 8, "stride": 4, "hidden_size": 16, "n_heads": 2, "encoder_layers": 1,
               "linear_hidden_size": 32, "dropout": 0.0, "head_dropout": 0.0, "revin": True,
               "revin_affine": False, "revin_subtract_last": False, **settings}  # fmt: skip
    return PatchTSTNetwork(36, 12, 1, **options).eval()


def test_patches_cover_the_window_and_the_end_is_padded_with_the_last_value() -> None:
    assert patch_count(36, 8, 4) == 9 and patch_count(96, 16, 8) == 12
    net = network()
    assert net.n_patches == 9 and net.positions.shape == (9, 16)
    x = torch.randn(3, 36)
    # Only the last step changes the last patch: everything reaches the forecast through it.
    later = x.clone()
    later[:, -1] += 1.0
    assert not torch.allclose(net(later), net(x))


def test_revin_makes_the_forecast_follow_the_windows_level_and_scale() -> None:
    torch.manual_seed(0)
    net = network()
    x = torch.randn(4, 36)
    # Shift and stretch each window: RevIN forecasts shift and stretch with it.
    torch.testing.assert_close(net(3.0 * x + 10.0), 3.0 * net(x) + 10.0, rtol=1e-4, atol=1e-4)
    plain = network(revin=False)
    assert not torch.allclose(plain(x + 10.0), plain(x) + 10.0, atol=1e-3)
    revin = RevIN(affine=True, subtract_last=True)
    location, scale = revin.statistics(x)
    torch.testing.assert_close(location, x[:, -1:])
    back = revin.denormalise(revin.normalise(x, location, scale)[:, :, None], location, scale)
    torch.testing.assert_close(back[:, :, 0], x, rtol=1e-4, atol=1e-4)


def test_learns_seasonal_series_better_than_the_last_value(series_df) -> None:
    data = from_long(series_df)
    train = data.head(data.lengths - 12)
    forecast = tiny().fit(train).predict(train)
    truth = np.stack([data.series(i)[-12:].numpy() for i in range(data.n_series)])
    naive = np.repeat([[train.series(i)[-1].item()] for i in range(data.n_series)], 12, axis=1)
    assert forecast.shape == (3, 12)
    assert smape(truth, forecast) < 0.6 * smape(truth, naive)


@pytest.mark.parametrize("loss", ["mae", "mse", "huber", MQLoss(level=[80, 95])])
def test_every_loss_gives_finite_forecasts(series_df, loss) -> None:
    data = from_long(series_df)
    model = tiny(loss=loss, max_steps=3).fit(data)
    assert model.predict(data).shape == (3, 12) and np.isfinite(model.predict(data)).all()
    assert model.predict_outputs(data).shape == (3, 12, model.loss_.outputs_per_step)


def test_quantile_loss_gives_ordered_intervals(series_df) -> None:
    data = from_long(series_df)
    nested_intervals(tiny(loss=MQLoss(level=[80, 95]), max_steps=100).fit(data), data)


def test_same_seed_same_forecast_and_a_long_patch_is_shortened(series_df) -> None:
    data = from_long(series_df)
    first = tiny(max_steps=5).fit(data).predict(data)
    np.testing.assert_array_equal(first, tiny(max_steps=5).fit(data).predict(data))
    assert not np.array_equal(first, tiny(max_steps=5, random_seed=7).fit(data).predict(data))
    long_patch = tiny(max_steps=2, input_size=12, patch_len=24)
    assert long_patch.effective_patch_len == 16
    assert long_patch.fit(data).predict(data).shape == (3, 12)


def test_save_and_load_through_forecaster(series_df, tmp_path) -> None:
    model = tiny(max_steps=10, loss=MQLoss(level=[80]), revin_affine=True, dropout=0.1)
    assert_round_trip(model, series_df, tmp_path / "fc", [80])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"hidden_size": 0}, "hidden_size: expected a positive integer"),
        ({"n_heads": 3}, "n_heads: 3 heads must divide hidden_size=16"),
        ({"patch_len": 2.5}, "patch_len: expected a positive integer"),
        ({"stride": True}, "stride: expected a positive integer"),
        ({"dropout": 1.0}, "dropout: expected a fraction"),
        ({"head_dropout": -0.1}, "head_dropout: expected a fraction"),
        ({"revin": "yes"}, "revin: expected True or False"),
        ({"scaler_type": "log"}, "scaler_type: unknown value 'log'"),
    ],
)
def test_bad_hyperparameters(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        PatchTST(**{"h": 12, "input_size": 24, **TINY, **settings})
