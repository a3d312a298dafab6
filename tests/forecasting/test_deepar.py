"""DeepAR and DistributionLoss: likelihoods, sampling, learning, intervals, seeds, persistence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from forecast_checks import assert_round_trip, nested_intervals

from zen import ConfigError, DataError
from zen.forecasting.data import from_long
from zen.forecasting.losses import DistributionLoss, get_distribution_loss, sample_quantile
from zen.forecasting.models.deepar import DeepAR

TINY = {
    "lstm_n_layers": 1,
    "lstm_hidden_size": 16,
    "windows_batch_size": 64,
    "learning_rate": 5e-3,
    "val_check_steps": 50,
    "trajectory_samples": 200,
}


def tiny(distribution: str = "Normal", **settings) -> DeepAR:
    settings = {"h": 12, "input_size": 36, "max_steps": 150, "scaler_type": "standard",
                **TINY, **settings}  # fmt: skip
    return DeepAR(loss=DistributionLoss(distribution, level=[80, 95]), **settings)


def smape(y: np.ndarray, f: np.ndarray) -> float:
    return float(np.mean(200 * np.abs(y - f) / (np.abs(y) + np.abs(f))))


def holdout(frame: pd.DataFrame, h: int = 12):
    data = from_long(frame)
    train = data.head(data.lengths - h)
    truth = np.stack([data.series(i)[-h:].numpy() for i in range(data.n_series)])
    naive = np.repeat([[train.series(i)[-1].item()] for i in range(data.n_series)], h, axis=1)
    return train, truth, naive


def count_series(n_series: int = 4, length: int = 200, seed: int = 0) -> pd.DataFrame:
    """Poisson counts around a daily-like cycle of period 12, one level per series."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    frames = [
        pd.DataFrame({
            "unique_id": f"c{index}",
            "ds": t + 1,
            "y": rng.poisson((index + 1) * (6 + 4 * np.sin(2 * np.pi * t / 12))).astype(float),
        })
        for index in range(n_series)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- the distribution heads
def _inverse_softplus(value: float) -> float:
    return float(np.log(np.expm1(value)))


@pytest.mark.parametrize(
    ("distribution", "outputs", "y", "scale", "expected"),
    [  # golden numbers from scipy.stats (norm.logpdf, t.logpdf, nbinom.logpmf)
        ("Normal", [0.5, 0.3], 1.7, None, -1.747934772462754),
        ("StudentT", [0.5, 0.3, -0.2], 1.7, None, -1.872026217726173),
        ("NegativeBinomial", [1.2, -0.5], 3.0, None, -2.2870261626425425),
        ("NegativeBinomial", [1.2, -0.5], 11.0, 4.0, -3.439292006982465),
    ],
)
def test_log_likelihood_matches_golden_numbers(distribution, outputs, y, scale, expected) -> None:
    loss = DistributionLoss(distribution)
    value = loss.log_likelihood(
        torch.tensor([outputs], dtype=torch.float64),
        torch.tensor([y], dtype=torch.float64),
        None if scale is None else torch.tensor([scale], dtype=torch.float64),
    )
    assert value.item() == pytest.approx(expected, abs=1e-8)


def _torch_distribution(loss: DistributionLoss, outputs: torch.Tensor, scale: torch.Tensor):
    parameters = loss.parameters(outputs, scale)
    if loss.distribution == "Normal":
        return torch.distributions.Normal(*parameters)
    if loss.distribution == "StudentT":
        mu, sigma, df = parameters
        return torch.distributions.StudentT(df, mu, sigma)
    mu, alpha = parameters
    # torch's NegativeBinomial: mean total_count * p / (1 - p); the paper's: mu, variance
    # mu + alpha mu^2, i.e. total_count = 1 / alpha and p = alpha mu / (1 + alpha mu).
    return torch.distributions.NegativeBinomial(1 / alpha, probs=alpha * mu / (1 + alpha * mu))


@pytest.mark.parametrize("distribution", ["Normal", "StudentT", "NegativeBinomial"])
def test_log_likelihood_matches_torch_distributions(distribution) -> None:
    generator = torch.Generator().manual_seed(0)
    loss = DistributionLoss(distribution)
    outputs = torch.randn(4, 6, loss.outputs_per_step, generator=generator, dtype=torch.float64)
    scale = 1 + 10 * torch.rand(4, 1, generator=generator, dtype=torch.float64)
    reference = _torch_distribution(loss, outputs, scale)
    if distribution == "NegativeBinomial":
        y = torch.randint(0, 30, (4, 6), generator=generator).to(torch.float64)
    else:
        y = 3 * torch.randn(4, 6, generator=generator, dtype=torch.float64)
    torch.testing.assert_close(loss.log_likelihood(outputs, y, scale), reference.log_prob(y))
    assert loss(outputs, y).item() == pytest.approx(
        -_torch_distribution(loss, outputs, None).log_prob(y).mean().item()
    )


def test_negative_binomial_mean_and_dispersion_follow_the_paper() -> None:
    loss = DistributionLoss("NegativeBinomial")
    outputs = torch.tensor([[_inverse_softplus(2.0), _inverse_softplus(0.5)]]).expand(40000, 2)
    torch.manual_seed(0)
    draws = loss.sample(outputs, torch.full((40000,), 4.0))
    mu, alpha = 8.0, 0.25  # mu * 4 and alpha / sqrt(4)
    assert (draws >= 0).all() and (draws == draws.round()).all()
    assert draws.mean().item() == pytest.approx(mu, rel=0.03)
    assert draws.var().item() == pytest.approx(mu + alpha * mu**2, rel=0.06)


def test_sample_quantile_matches_torch_quantile() -> None:
    samples = torch.randn(3, 5, 101, generator=torch.Generator().manual_seed(1))
    for q in (0.025, 0.1, 0.5, 0.9):
        torch.testing.assert_close(sample_quantile(samples, q), samples.quantile(q, dim=-1))


def test_distribution_loss_configs_round_trip_and_validate() -> None:
    loss = DistributionLoss("NegativeBinomial", level=[95, 80])
    rebuilt = get_distribution_loss(loss.config())
    assert (rebuilt.distribution, rebuilt.level) == ("NegativeBinomial", (80.0, 95.0))
    assert get_distribution_loss("StudentT").outputs_per_step == 3
    with pytest.raises(ConfigError, match="distribution: unknown value 'Poisson'"):
        DistributionLoss("Poisson")
    with pytest.raises(ConfigError, match="level: expected percentages"):
        DistributionLoss("Normal", level=[100])


# ---------------------------------------------------------------- the model
def test_learns_seasonal_series_better_than_the_last_value(series_df) -> None:
    train, truth, naive = holdout(series_df)
    model = tiny("StudentT").fit(train)
    forecast = model.predict(train)
    assert forecast.shape == (3, 12)
    assert model.predict_outputs(train).shape == (3, 12, 200)
    assert smape(truth, forecast) < 0.6 * smape(truth, naive)


def test_intervals_are_nested_and_cover_held_out_data(series_factory) -> None:
    train, truth, _ = holdout(series_factory(n_series=8, seed=3))
    bands = nested_intervals(tiny("Normal").fit(train), train)
    assert ((truth >= bands["low95"]) & (truth <= bands["high95"])).mean() >= 0.8
    assert ((truth >= bands["low80"]) & (truth <= bands["high80"])).mean() >= 0.6
    # The noise has sd 0.3: honest intervals are a few units wide, not the whole range.
    assert (bands["high95"] - bands["low95"]).mean() < 4.0


def test_predictions_repeat_for_a_seed_and_leave_the_global_rng_alone(series_df) -> None:
    data = from_long(series_df)
    model = tiny(max_steps=10).fit(data)
    state = torch.get_rng_state()
    first = model.predict(data)
    assert torch.equal(torch.get_rng_state(), state)
    np.testing.assert_array_equal(first, model.predict(data))
    np.testing.assert_array_equal(first, tiny(max_steps=10).fit(data).predict(data))
    assert not np.array_equal(first, tiny(max_steps=10, random_seed=7).fit(data).predict(data))
    paths = model.predict_outputs(data)
    assert paths.std(dim=-1).min() > 0  # the paths really are different draws


def test_negative_binomial_forecasts_counts() -> None:
    train, truth, naive = holdout(count_series())
    model = tiny("NegativeBinomial", scaler_type="identity").fit(train)
    paths = model.predict_outputs(train)
    assert (paths >= 0).all() and (paths == paths.round()).all()
    forecast = model.predict(train)
    assert np.abs(truth - forecast).mean() < 0.8 * np.abs(truth - naive).mean()
    low, high = model.predict_interval(train, 95)
    assert ((truth >= low) & (truth <= high)).mean() >= 0.8


def test_negative_binomial_rejects_negative_values(series_df) -> None:
    frame = series_df.assign(y=series_df["y"] - 20)
    with pytest.raises(DataError, match="NegativeBinomial models counts, but series 's0'"):
        tiny("NegativeBinomial", scaler_type="identity", max_steps=1).fit(from_long(frame))


def test_save_and_load_through_forecaster(series_df, tmp_path) -> None:
    model = tiny("StudentT", max_steps=10, lstm_n_layers=2, decoder_hidden_layers=1,
                 decoder_hidden_size=8, scaler_type="revin")  # fmt: skip
    assert_round_trip(model, series_df, tmp_path / "fc", [80, 95])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"lstm_n_layers": 0}, "lstm_n_layers: expected an integer >= 1"),
        ({"lstm_hidden_size": 1.5}, "lstm_hidden_size"),
        ({"lstm_dropout": 1.0}, "lstm_dropout: expected a fraction"),
        ({"trajectory_samples": 0}, "trajectory_samples"),
        ({"decoder_hidden_layers": 1}, "decoder_hidden_size: expected a positive integer"),
        ({"loss": "mae"}, "loss: expected a DistributionLoss"),
        (
            {"loss": DistributionLoss("NegativeBinomial"), "scaler_type": "robust"},
            "scaler_type: NegativeBinomial scales each window",
        ),
    ],
)
def test_bad_hyperparameters(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        DeepAR(**{"h": 12, "input_size": 24, **settings})
