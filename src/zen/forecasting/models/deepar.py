r"""DeepAR: probabilistic forecasting with autoregressive recurrent networks (Salinas, Flunkert,
Gasthaus & Januschowski, International Journal of Forecasting 2020).

An LSTM reads the (scaled) series one value at a time; its state gives the parameters of the
distribution of the next value (paper eq. 1-2):

.. math::
    \mathbf h_t = \mathrm{LSTM}(\mathbf h_{t-1}, z_{t-1}), \quad
    \theta_t = \mathrm{decoder}(\mathbf h_t), \quad z_t \sim \ell(\cdot \mid \theta_t)

with :math:`\ell` a Normal, StudentT or NegativeBinomial
(:class:`~zen.forecasting.losses.DistributionLoss`).

* **Training** (teacher forcing): over the whole window of ``input_size + h`` values the network
  sees the true :math:`z_{t-1}` and is scored by :math:`-\log \ell(z_t \mid \theta_t)` at every
  step, input part included, as in the paper and GluonTS: the conditioning range is just as
  informative about one-step dynamics, and it multiplies the training signal per window.
* **Prediction** (ancestral sampling, paper sec. 3.1): the LSTM reads the input window, then
  ``trajectory_samples`` paths are drawn step by step, each draw fed back as the next input.
  Paths of many series run as one batch (up to 65 536 series x path rows); only the ``h``
  steps are a Python loop. The point
  forecast is the median of the paths (robust to heavy StudentT tails and always inside every
  interval), intervals are their empirical quantiles. Draws are seeded by ``random_seed``, so
  a fitted model predicts the same paths every time.
* **Scaling**: Normal and StudentT work in the space of the chosen ``scaler_type`` and paths are
  mapped back. A NegativeBinomial cannot live in a shifted, rescaled space (it is a law on
  counts), so it follows the paper (sec. 3.3): inputs are divided by
  :math:`\nu = 1 + \mathrm{mean}(z_{1:t_0})` and the likelihood of the raw counts uses
  :math:`\mu = \nu\,\tilde\mu,\ \alpha = \tilde\alpha / \sqrt{\nu}`; ``scaler_type`` must then be
  ``"identity"``.

Covariates (the paper's :math:`\mathbf x_t`): future variables at step :math:`t` and static
ones join :math:`z_{t-1}` as LSTM inputs, :math:`\mathbf h_t = \mathrm{LSTM}(\mathbf h_{t-1},
z_{t-1}, \mathbf x_t)`. Historic-only variables cannot be fed while sampling the horizon, so
DeepAR does not take them (as in neuralforecast).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from zen.errors import ConfigError, DataError
from zen.forecasting.candidate import (
    FORECAST_LR,
    WINDOWS_BATCH_SIZES,
    ForecastSettings,
    window_builder,
)
from zen.forecasting.covariates import Covariates, CovariateScaler
from zen.forecasting.data import SeriesData
from zen.forecasting.export import step_model_plan, step_network_plan
from zen.forecasting.losses import DistributionLoss, ForecastLoss, get_distribution_loss
from zen.forecasting.models.base import WindowModel
from zen.forecasting.scalers import WindowScaler
from zen.neural import StepOutput, private_rng
from zen.registry import ModelSpec, register

# Rows (series x paths) sampled at once: bounds the LSTM state memory at prediction.
_SAMPLING_ROWS = 65536


class DeepARNetwork(nn.Module):
    """LSTM + MLP decoder to distribution parameters, with its own scaling and sampling.

    ``training_loss`` scores a batch of windows ``(batch, input_size + h)``; ``forward`` maps
    raw input windows ``(batch, input_size)`` (and covariates) to sample paths
    ``(batch, h, trajectory_samples)`` in data units.
    """

    def __init__(
        self,
        loss: DistributionLoss,
        scaler: WindowScaler,
        h: int,
        lstm_n_layers: int,
        lstm_hidden_size: int,
        lstm_dropout: float,
        decoder_hidden_layers: int,
        decoder_hidden_size: int,
        trajectory_samples: int,
        seed: int,
        covariates: CovariateScaler,
    ) -> None:
        super().__init__()
        self.loss, self.scaler, self.h = loss, scaler, h
        self.covariates = covariates
        self.trajectory_samples, self.seed = trajectory_samples, seed
        self.count_scaling = loss.distribution == "NegativeBinomial"
        self.lstm = nn.LSTM(
            input_size=1 + covariates.n_futr + covariates.n_stat,
            hidden_size=lstm_hidden_size,
            num_layers=lstm_n_layers,
            dropout=lstm_dropout if lstm_n_layers > 1 else 0.0,  # torch drops between layers
            batch_first=True,
        )
        layers: list[nn.Module] = []
        fan_in = lstm_hidden_size
        for _ in range(decoder_hidden_layers):
            layers += [nn.Linear(fan_in, decoder_hidden_size), nn.ReLU()]
            fan_in = decoder_hidden_size
        layers.append(nn.Linear(fan_in, loss.outputs_per_step))
        self.decoder = nn.Sequential(*layers)

    def statistics(self, insample: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Location and scale ``(batch, 1)`` of each window, from its input part only."""
        if self.count_scaling:
            scale = 1 + insample.mean(dim=1, keepdim=True)
            return torch.zeros_like(scale), scale
        return self.scaler.statistics(insample)

    def unroll(
        self,
        inputs: torch.Tensor,
        features: torch.Tensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Raw distribution outputs ``(batch, steps, k)``, one per input step.

        ``features``: the covariates of the step each input predicts, ``(batch, steps, f)``.
        """
        inputs = inputs.unsqueeze(-1)
        if features is not None:
            inputs = torch.cat([inputs, features], dim=-1)
        hidden, state = self.lstm(inputs, state)
        return self.decoder(hidden), state

    @staticmethod
    def step_features(covariates: Covariates | None, start: int, stop: int) -> torch.Tensor | None:
        """Covariates of window positions ``start..stop-1``: future ones and the static ones
        repeated, ``(batch, stop - start, f)``; None without covariates."""
        if covariates is None:
            return None
        parts = []
        if covariates.futr is not None:
            parts.append(covariates.futr[:, start:stop])
        if covariates.static is not None:
            parts.append(covariates.static.unsqueeze(1).expand(-1, stop - start, -1))
        return torch.cat(parts, dim=-1)

    def training_loss(self, batch: dict[str, torch.Tensor], loss_fn: Any) -> StepOutput:
        window = batch["window"]
        location, scale = self.statistics(window[:, : -self.h])
        scaled = self.scaler.transform(window, location, scale)
        covariates = self.covariates.split(batch.get("exog"), batch.get("static"))
        # Input z_{t-1} predicts z_t, together with x_t: positions 1 .. end.
        features = self.step_features(covariates, 1, window.shape[1])
        outputs, _ = self.unroll(scaled[:, :-1], features)
        if self.count_scaling:
            log_likelihood = self.loss.log_likelihood(outputs, window[:, 1:], scale)
        else:
            log_likelihood = self.loss.log_likelihood(outputs, scaled[:, 1:])
        return StepOutput(-log_likelihood.mean(), size=len(window))

    def forward(
        self,
        insample: torch.Tensor,
        exog: torch.Tensor | None = None,
        static: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Sample paths ``(batch, h, trajectory_samples)`` in data units, seeded by ``seed``."""
        # A private copy of the generator state: predictions repeat and callers' RNG is untouched.
        # Each call restarts the stream, so calls on different chunks of series reuse the same
        # innovations; that couples far-apart series' paths, not the forecasts' distributions.
        with private_rng(self.seed, insample.device):
            rows = max(1, _SAMPLING_ROWS // self.trajectory_samples)
            paths = []
            for first in range(0, len(insample), rows):
                part = slice(first, first + rows)
                paths.append(
                    self._sample_paths(
                        insample[part],
                        None if exog is None else exog[part],
                        None if static is None else static[part],
                    )
                )
            return torch.cat(paths)

    def _sample_paths(
        self, insample: torch.Tensor, exog: torch.Tensor | None, static: torch.Tensor | None
    ) -> torch.Tensor:
        n_series, n_paths = len(insample), self.trajectory_samples
        input_size = insample.shape[1]
        location, scale = self.statistics(insample)
        # features[:, j] belongs to position j + 1: the input reads positions 1..input_size,
        # horizon step s feeds its draw to predict position input_size + s + 1.
        features = self.step_features(self.covariates.split(exog, static), 1, input_size + self.h)
        outputs, state = self.unroll(
            self.scaler.transform(insample, location, scale),
            None if features is None else features[:, :input_size],
        )
        path_features = None if features is None else features.repeat_interleave(n_paths, 0)
        # One row per (series, path): every path starts from its series' state after the input.
        state = (state[0].repeat_interleave(n_paths, 1), state[1].repeat_interleave(n_paths, 1))
        step_outputs = outputs[:, -1].repeat_interleave(n_paths, 0)
        row_scale = scale[:, 0].repeat_interleave(n_paths) if self.count_scaling else None
        draws = []
        for step in range(self.h):
            draw = self.loss.sample(step_outputs, row_scale)
            draws.append(draw)
            if step + 1 < self.h:
                fed_back = draw / row_scale if row_scale is not None else draw
                next_features = (
                    None
                    if path_features is None
                    else path_features[:, input_size + step : input_size + step + 1]
                )
                next_outputs, state = self.unroll(fed_back.reshape(-1, 1), next_features, state)
                step_outputs = next_outputs[:, -1]
        paths = torch.stack(draws, dim=1).reshape(n_series, n_paths, self.h).transpose(1, 2)
        if self.count_scaling:
            return paths
        return self.scaler.inverse(paths, location, scale)


class DeepAR(WindowModel):
    """DeepAR forecaster. Example: ``DeepAR(h=48, input_size=96, scaler_type="robust")``.

    Args (beyond :class:`~zen.forecasting.models.base.WindowModel`'s, with neuralforecast's
    names and defaults):
        lstm_n_layers: stacked LSTM layers.
        lstm_hidden_size: units per LSTM layer.
        lstm_dropout: dropout between LSTM layers (training only).
        decoder_hidden_layers: hidden ReLU layers of the MLP from the LSTM state to the
            distribution parameters (0: one linear map).
        decoder_hidden_size: width of those layers.
        trajectory_samples: sample paths drawn per series at prediction.
        loss: a :class:`~zen.forecasting.losses.DistributionLoss` (default
            ``DistributionLoss("StudentT", level=[80, 90])``) or a distribution name.

    Supports ``futr_exog_list`` and ``stat_exog_list``.

    ``predict`` gives the median path value per step, ``predict_interval`` the empirical
    quantiles of the paths, for any level.
    """

    EXOGENOUS = ("futr_exog_list", "stat_exog_list")
    loss_: DistributionLoss

    def __init__(
        self,
        h: int,
        input_size: int,
        lstm_n_layers: int = 2,
        lstm_hidden_size: int = 128,
        lstm_dropout: float = 0.1,
        decoder_hidden_layers: int = 0,
        decoder_hidden_size: int = 0,
        trajectory_samples: int = 100,
        loss: str | ForecastLoss | dict | None = None,
        **base: Any,
    ) -> None:
        self.lstm_n_layers = lstm_n_layers
        self.lstm_hidden_size = lstm_hidden_size
        self.lstm_dropout = lstm_dropout
        self.decoder_hidden_layers = decoder_hidden_layers
        self.decoder_hidden_size = decoder_hidden_size
        self.trajectory_samples = trajectory_samples
        # None stands for the default distribution (see _resolve_loss).
        super().__init__(h, input_size, loss=loss, **base)  # type: ignore[arg-type]

    def _resolve_loss(self) -> DistributionLoss:
        return get_distribution_loss(
            DistributionLoss("StudentT", level=(80, 90)) if self.loss is None else self.loss
        )

    def _check_params(self) -> None:
        super()._check_params()
        for name, minimum in (("lstm_n_layers", 1), ("lstm_hidden_size", 1),
                              ("decoder_hidden_layers", 0), ("decoder_hidden_size", 0),
                              ("trajectory_samples", 1)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
        if self.decoder_hidden_layers > 0 and self.decoder_hidden_size < 1:
            raise ConfigError(
                f"decoder_hidden_size: expected a positive integer with decoder_hidden_layers ="
                f" {self.decoder_hidden_layers}, got {self.decoder_hidden_size!r}"
            )
        if not 0 <= self.lstm_dropout < 1:
            raise ConfigError(
                f"lstm_dropout: expected a fraction in [0, 1), got {self.lstm_dropout!r}"
            )
        distribution = self._resolve_loss().distribution
        if distribution == "NegativeBinomial" and self.scaler_type != "identity":
            raise ConfigError(
                f"scaler_type: NegativeBinomial scales each window by 1 + its mean (DeepAR paper"
                f" sec. 3.3) and needs scaler_type='identity', got {self.scaler_type!r}"
            )

    def _new_network(self) -> DeepARNetwork:  # type: ignore[override]
        # Not build_network: DeepAR needs the targets inside the network and scales itself.
        return DeepARNetwork(
            loss=self.loss_,
            scaler=WindowScaler(self.scaler_type),
            h=self.h,
            lstm_n_layers=self.lstm_n_layers,
            lstm_hidden_size=self.lstm_hidden_size,
            lstm_dropout=self.lstm_dropout,
            decoder_hidden_layers=self.decoder_hidden_layers,
            decoder_hidden_size=self.decoder_hidden_size,
            trajectory_samples=self.trajectory_samples,
            seed=self.random_seed,
            covariates=self._covariate_scaler(),
        )

    def fit(self, data: SeriesData, val_size: int = 0) -> DeepAR:
        """Train on every series of ``data`` (see :meth:`WindowModel.fit`)."""
        distribution = self._resolve_loss().distribution
        if distribution == "NegativeBinomial" and bool((data.values < 0).any()):
            position = int(data.values.argmin())
            series = data.ids[np.searchsorted(data.indptr, position, side="right") - 1]
            raise DataError(
                f"df: NegativeBinomial models counts, but series {series!r} has the negative"
                f" value {float(data.values[position]):g}; use DistributionLoss('StudentT')"
                " or 'Normal'"
            )
        super().fit(data, val_size)
        return self

    def predict_interval(self, data: SeriesData, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounds ``(n_series, h)`` of the central ``level`` % interval of the sample paths."""
        outputs = self.predict_outputs(data)
        low, high = self.loss_.interval(outputs, level)
        return low.numpy().astype(np.float64), high.numpy().astype(np.float64)


def search_space(trial: Any) -> dict[str, Any]:
    """neuralforecast's ``AutoDeepAR`` space (its ``minmax1`` scaler is zen's ``minmax``)."""
    return {
        "lstm_hidden_size": trial.suggest_categorical("lstm_hidden_size", [32, 64, 128, 256]),
        "lstm_n_layers": trial.suggest_int("lstm_n_layers", 1, 4),
        "lstm_dropout": trial.suggest_float("lstm_dropout", 0.0, 0.5),
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "scaler_type": trial.suggest_categorical("scaler_type", ["robust", "minmax"]),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


def build(settings: ForecastSettings, options: Mapping[str, Any]) -> DeepAR:
    """DeepAR for a forecasting job, with the likelihood the router suggests (``distribution``:
    the rules pick a negative binomial for intermittent counts)."""
    chosen = dict(options)
    distribution = chosen.pop("distribution", None)
    if chosen.get("loss") == "DistributionLoss":
        chosen.pop("loss")
    if distribution is not None:
        chosen["loss"] = DistributionLoss(distribution, level=(80, 90))
        if distribution == "NegativeBinomial":
            # Counts are scaled by 1 + the window mean inside the model (paper sec. 3.3); the
            # job's per-window scaler would refuse to combine with it.
            chosen.setdefault("scaler_type", "identity")
    return window_builder(DeepAR)(settings, chosen)


# A probabilistic model behind the MLP forecasters on point accuracy (Challu et al. 2023), and
# the one with a count likelihood for sparse demand (Salinas et al. 2020).
SPEC = register(
    ModelSpec(
        "DeepAR",
        "forecast",
        model_class=DeepAR,
        prior=1.12,
        rule_factors={
            "short series": 1.25,
            "intermittent demand": 0.75,
            "many series": 0.95,
            "long horizon": 1.05,
        },
        rule_options={
            "intermittent demand": {"loss": "DistributionLoss", "distribution": "NegativeBinomial"}
        },
        build=build,
        search_space=search_space,
        export_plan=step_model_plan,
        reference="Salinas et al., IJF 2020",
    )
)
# The bare network (what DeepAR.model_ holds) exports as its LSTM step.
register(
    ModelSpec("DeepARNetwork", "network", model_class=DeepARNetwork, export_plan=step_network_plan)
)
