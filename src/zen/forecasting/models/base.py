"""WindowModel: what every window-based neural forecaster shares, written once.

A subclass only builds its network (``build_network``): a module mapping scaled inputs
``(batch, input_size)`` to outputs ``(batch, h, outputs_per_step)``, and, for a model whose
paper uses exogenous variables (``EXOGENOUS``), taking scaled
:class:`~zen.forecasting.covariates.Covariates` as a second argument. Windowing, scaling, the
loss, covariates, training with :class:`zen.neural.Trainer`, early stopping on a validation
window, seeding, prediction and persistence live here. Hyperparameter names follow neuralforecast
(``h``, ``input_size``, ``max_steps``, ``learning_rate``, ``windows_batch_size``,
``scaler_type``, ``early_stop_patience_steps``, ``val_check_steps``, ``random_seed``) so code
moves over unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zen.errors import ConfigError, NotFittedError
from zen.estimator import Estimator
from zen.forecasting.covariates import Covariates, CovariateScaler, exogenous_lists
from zen.forecasting.data import SeriesData, check_min_length
from zen.forecasting.export import network_plan, window_model_plan
from zen.forecasting.losses import ForecastLoss, get_loss
from zen.forecasting.scalers import WindowScaler
from zen.forecasting.windows import WindowSampler, last_windows, validation_index
from zen.neural import StepOutput, TimeLimit, Trainer, activations, private_rng
from zen.neural.strategy import check_strategy
from zen.registry import ModelSpec, register

_PREDICT_CHUNK = 8192


def block_mlp(
    fan_in: int, mlp_units: Sequence[int], fan_out: int, activation: str, dropout: float
) -> nn.Sequential:
    """The MLP of an N-BEATS/N-HiTS block: ``Linear -> activation [-> Dropout]`` per hidden
    width, then a linear layer to the ``fan_out`` expansion coefficients."""
    layers: list[nn.Module] = []
    for width_in, width_out in zip([fan_in, *mlp_units[:-1]], mlp_units, strict=True):
        layers += [nn.Linear(width_in, width_out), activations.get(activation)]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(mlp_units[-1], fan_out))
    return nn.Sequential(*layers)


class DoublyResidualStack(nn.Module):
    """Blocks chained doubly residually (N-BEATS sec. 3.2): the input loses each block's
    backcast, the forecast adds each block's forecast, starting from the last value.

    Blocks map a residual ``(batch, input_size)`` to ``(backcast, forecast)`` with the forecast
    shaped ``(batch, h, outputs_per_step)`` and expose ``h`` and ``outputs_per_step``.
    """

    def __init__(self, blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        first: Any = blocks[0]
        self.h, self.outputs_per_step = int(first.h), int(first.outputs_per_step)

    def forward(self, insample: torch.Tensor, covariates: Covariates | None = None) -> torch.Tensor:
        # Reference implementation's convention: blocks see the input newest-first.
        residual = insample.flip(dims=(-1,))
        level = insample[:, -1:].unsqueeze(-1)
        forecast = level.expand(-1, self.h, self.outputs_per_step)
        extra = None if covariates is None else covariates.flat()
        for block in self.blocks:
            backcast, block_forecast = block(residual) if extra is None else block(residual, extra)
            residual = residual - backcast
            forecast = forecast + block_forecast
        return forecast


class WindowNetwork(nn.Module):
    """Scalers + network + loss as one module the Trainer can fit (``training_loss`` hook)."""

    def __init__(
        self,
        network: nn.Module,
        scaler: WindowScaler,
        loss: ForecastLoss,
        h: int,
        covariates: CovariateScaler,
    ):
        super().__init__()
        self.network = network
        self.scaler = scaler
        self.loss = loss
        self.h = h
        self.covariates = covariates

    def forward(
        self,
        insample: torch.Tensor,
        exog: torch.Tensor | None = None,
        static: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Forecast outputs in data units, ``(batch, h, outputs_per_step)``, from raw inputs
        ``(batch, input_size)`` and raw covariates (see :class:`CovariateScaler`)."""
        location, scale = self.scaler.statistics(insample)
        scaled = self._network(self.scaler.transform(insample, location, scale), exog, static)
        return self.scaler.inverse(scaled, location, scale)

    def _network(
        self, scaled: torch.Tensor, exog: torch.Tensor | None, static: torch.Tensor | None
    ) -> torch.Tensor:
        covariates = self.covariates.split(exog, static)
        return self.network(scaled) if covariates is None else self.network(scaled, covariates)

    def training_loss(self, batch: dict[str, torch.Tensor], loss_fn: Any) -> StepOutput:
        window = batch["window"]
        insample, target = window[:, : -self.h], window[:, -self.h :]
        location, scale = self.scaler.statistics(insample)
        # The loss is taken in each window's own scale, so every series weighs the same.
        outputs = self._network(
            self.scaler.transform(insample, location, scale),
            batch.get("exog"),
            batch.get("static"),
        )
        loss = self.loss(outputs, self.scaler.transform(target, location, scale))
        return StepOutput(loss, size=len(window))


class WindowModel(Estimator):
    """Base class of N-HiTS, N-BEATS and the other window models.

    Args:
        h: forecast horizon (steps ahead), >= 1.
        input_size: length of the input window, >= 1.
        loss: ``"mae"`` (default), ``"mse"``, ``"huber"``, an ``MQLoss(level=[80, 95])`` for
            intervals, or a :class:`~zen.forecasting.losses.ForecastLoss`.
        scaler_type: per-window scaling (:mod:`zen.forecasting.scalers`).
        max_steps: optimisation steps.
        learning_rate: Adam's learning rate; it halves ``num_lr_decays`` times during training.
        windows_batch_size: windows per step.
        val_check_steps: steps between validation checks (one Trainer "epoch").
        early_stop_patience_steps: validation checks without improvement before stopping;
            ``-1`` disables early stopping (and validation, unless ``val_size`` is given).
        random_seed: makes the initial weights and the window draws repeatable.
        alias: the forecast column name (default: the class name).
        progress: show a progress bar while training.
        max_time_s: stop training after this many seconds (checked every
            ``val_check_steps``); ``None``: no limit.
        futr_exog_list: columns of ``df`` known in advance (also needed in ``futr_df``).
        hist_exog_list: columns of ``df`` known only up to the forecast origin.
        stat_exog_list: columns of ``static_df`` (one row per series).
        callbacks: extra :class:`zen.neural.Callback` objects for the Trainer (e.g. Optuna
            pruning); not part of the model, so not saved (``unsaved_params``).
        strategy: ``local`` or ``ddp``: train on ``num_workers`` Ray Train workers, each
            drawing its own disjoint ``windows_batch_size`` windows per step
            (:meth:`~zen.forecasting.windows.WindowSampler.shard`); how a model is trained,
            not part of it, so not saved.
        num_workers: workers for ``ddp``.

    The constructor stores the arguments as given (:class:`~zen.estimator.Estimator`: settings
    come from the signatures, subclasses pass the ones above through ``**base``) and checks
    them; :meth:`fit` checks them again (``set_params`` may have changed them) and keeps the
    resolved ones: ``loss_`` (the loss object), ``futr_exog_``, ``hist_exog_``, ``stat_exog_``
    (lists of column names). Subclasses name the exogenous kinds their paper supports in
    ``EXOGENOUS``.
    """

    EXOGENOUS: tuple[str, ...] = ()
    unsaved_params = ("callbacks", "strategy", "num_workers")

    def __init__(
        self,
        h: int,
        input_size: int,
        loss: str | ForecastLoss | dict = "mae",
        scaler_type: str = "identity",
        max_steps: int = 1000,
        learning_rate: float = 1e-3,
        num_lr_decays: int = 3,
        windows_batch_size: int = 1024,
        val_check_steps: int = 100,
        early_stop_patience_steps: int = -1,
        random_seed: int = 1,
        alias: str | None = None,
        progress: bool = False,
        max_time_s: float | None = None,
        futr_exog_list: Sequence[str] | None = None,
        hist_exog_list: Sequence[str] | None = None,
        stat_exog_list: Sequence[str] | None = None,
        callbacks: Sequence[Any] = (),
        strategy: str = "local",
        num_workers: int = 1,
    ) -> None:
        self.h = h
        self.input_size = input_size
        self.loss = loss
        self.scaler_type = scaler_type
        self.max_steps = max_steps
        self.learning_rate = learning_rate
        self.num_lr_decays = num_lr_decays
        self.windows_batch_size = windows_batch_size
        self.val_check_steps = val_check_steps
        self.early_stop_patience_steps = early_stop_patience_steps
        self.random_seed = random_seed
        self._alias = alias
        self.progress = progress
        self.max_time_s = max_time_s
        self.futr_exog_list = futr_exog_list
        self.hist_exog_list = hist_exog_list
        self.stat_exog_list = stat_exog_list
        self.callbacks = callbacks
        self.strategy = strategy
        self.num_workers = num_workers
        self._check_params()

    # ------------------------------------------------------------------ to override
    def build_network(self) -> nn.Module:
        """The network: scaled ``(batch, input_size)`` -> ``(batch, h, outputs_per_step)``.

        Called by :meth:`fit` (and :meth:`load_weights`) after the settings are resolved, so
        it reads ``loss_`` and the ``*_exog_`` lists."""
        raise NotImplementedError

    def _check_params(self) -> None:
        """Raise :class:`ConfigError` for invalid settings; subclasses extend it."""
        for name, value in (("h", self.h), ("input_size", self.input_size),
                            ("max_steps", self.max_steps),
                            ("windows_batch_size", self.windows_batch_size),
                            ("val_check_steps", self.val_check_steps)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if not self.learning_rate > 0:
            raise ConfigError(
                f"learning_rate: expected a positive number, got {self.learning_rate!r}"
            )
        check_strategy(self.strategy, self.num_workers)
        self._resolve_loss()
        WindowScaler(self.scaler_type)
        self._exogenous()

    def _resolve_loss(self) -> ForecastLoss:
        """The loss object the ``loss`` setting names."""
        return get_loss(self.loss)

    def _exogenous(self) -> dict[str, list[str]]:
        return exogenous_lists(
            type(self).__name__,
            self.EXOGENOUS,
            {
                "futr_exog_list": self.futr_exog_list,
                "hist_exog_list": self.hist_exog_list,
                "stat_exog_list": self.stat_exog_list,
            },
        )

    def _resolve(self) -> None:
        """Check the settings and keep their resolved forms (fitted state: ``loss_``,
        ``futr_exog_``, ``hist_exog_``, ``stat_exog_``)."""
        self._check_params()
        self.loss_ = self._resolve_loss()
        exogenous = self._exogenous()
        self.futr_exog_ = exogenous["futr_exog_list"]
        self.hist_exog_ = exogenous["hist_exog_list"]
        self.stat_exog_ = exogenous["stat_exog_list"]

    # ------------------------------------------------------------------ estimator API
    @property
    def alias(self) -> str:
        """Name of this model's forecast column (the ``alias`` setting, or the class name)."""
        return self._alias or type(self).__name__

    def fit(self, data: SeriesData, val_size: int = 0) -> WindowModel:
        """Train on every series of ``data``; the last ``val_size`` points of each validate.

        Training windows end before the validation part; validation scores every window whose
        targets lie in it (:func:`~zen.forecasting.windows.validation_index`). With
        ``early_stop_patience_steps > 0`` and no ``val_size``, the last ``h`` points are held
        out for validation.
        """
        self._resolve()
        early_stopping = self.early_stop_patience_steps > 0
        if early_stopping and val_size == 0:
            val_size = self.h
        if val_size and val_size < self.h:
            raise ConfigError(f"val_size: expected 0 or at least h={self.h}, got {val_size}")
        check_min_length(data, self.input_size, self.h + val_size)

        exog, static = self._covariate_inputs(data)
        with private_rng(self.random_seed):  # initial weights, without reseeding the caller's torch
            self.model_ = self._new_network()
        self.model_.covariates.fit(exog, static)
        generator = torch.Generator().manual_seed(self.random_seed)
        sampler = WindowSampler(
            data,
            self.input_size,
            self.h,
            self.windows_batch_size,
            generator,
            end_trim=val_size,
            exog=exog,
            static=static,
        )
        validation = None
        if val_size:
            index, series = validation_index(data, self.input_size, self.h, val_size)
            batch = {"window": data.values[index]}
            if exog is not None:
                batch["exog"] = exog[index]
            if static is not None:
                batch["static"] = static[series]
            validation = _chunks(batch)
        epochs = math.ceil(self.max_steps / self.val_check_steps)
        decay_every = max(
            1, round(self.max_steps / max(self.num_lr_decays, 1) / self.val_check_steps)
        )
        self.trainer_ = Trainer(
            max_epochs=epochs,
            max_steps=self.max_steps,
            steps_per_epoch=self.val_check_steps,
            optimizer="adam",
            lr=self.learning_rate,
            loss=self.loss_,
            metrics=[],
            scheduler="step" if self.num_lr_decays > 0 else None,
            scheduler_options={"step_size": decay_every, "gamma": 0.5},
            early_stopping=self.early_stop_patience_steps if early_stopping else None,
            seed=self.random_seed,
            progress=self.progress,
            strategy=self.strategy,
            num_workers=self.num_workers,
            callbacks=[
                *([TimeLimit(self.max_time_s)] if self.max_time_s else []),
                *self.callbacks,
            ],
        )
        self.result_ = self.trainer_.fit(self.model_, sampler, validation)
        self.model_.eval()
        return self

    def _new_network(self) -> WindowNetwork:
        return WindowNetwork(
            self.build_network(),
            WindowScaler(self.scaler_type),
            self.loss_,
            self.h,
            self._covariate_scaler(),
        )

    def _covariate_scaler(self) -> CovariateScaler:
        return CovariateScaler(
            len(self.hist_exog_),
            len(self.futr_exog_),
            len(self.stat_exog_),
            self.input_size,
        )

    def _covariate_inputs(
        self, data: SeriesData
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """This model's temporal covariates ``(total_points, n_hist + n_futr)`` and static
        ones ``(n_series, n_stat)`` from ``data`` (None where it uses none)."""
        exog = static = None
        if self.hist_exog_ or self.futr_exog_:
            exog = torch.cat(
                [
                    data.exog_columns(self.hist_exog_, f"{self.alias}'s hist_exog_list"),
                    data.exog_columns(self.futr_exog_, f"{self.alias}'s futr_exog_list"),
                ],
                dim=1,
            )
        if self.stat_exog_:
            static = data.static_columns(self.stat_exog_, f"{self.alias}'s stat_exog_list")
        return exog, static

    def weights(self) -> dict[str, torch.Tensor]:
        """The fitted network's state (for saving with safetensors)."""
        return self._fitted().state_dict()

    def load_weights(self, state: dict[str, torch.Tensor]) -> WindowModel:
        """Make this model fitted with saved :meth:`weights`, without training."""
        self._resolve()
        network = self._new_network()
        network.load_state_dict(state)
        self.model_ = network.eval()
        return self

    @torch.inference_mode()  # cheaper than no_grad: no version counters on the outputs
    def predict_outputs(self, data: SeriesData) -> torch.Tensor:
        """Raw outputs ``(n_series, h, outputs_per_step)`` in data units."""
        model = self._fitted()
        check_min_length(data, self.input_size, 0)
        batch = {"window": last_windows(data, self.input_size)}
        exog, static = self._covariate_inputs(data)
        if exog is not None:
            batch["exog"] = self._prediction_exog(data, exog)
        if static is not None:
            batch["static"] = static
        device = next(model.parameters()).device
        outputs = []
        for chunk in _chunks(batch):
            on_device = {key: value.to(device) for key, value in chunk.items()}
            outputs.append(
                model(on_device["window"], on_device.get("exog"), on_device.get("static")).cpu()
            )
        return torch.cat(outputs)

    def _prediction_exog(self, data: SeriesData, exog: torch.Tensor) -> torch.Tensor:
        """Covariates ``(n_series, input_size + h, k)``: the input's from the history, the
        horizon's future variables from ``data.future`` (historic ones are unknown there and
        never read)."""
        past = last_windows(data, self.input_size, values=exog)
        ahead = past.new_zeros(data.n_series, self.h, exog.shape[1])
        if self.futr_exog_:
            ahead[..., len(self.hist_exog_) :] = data.future_columns(
                self.futr_exog_, f"{self.alias}'s futr_exog_list"
            )
        return torch.cat([past, ahead], dim=1)

    def predict(self, data: SeriesData) -> np.ndarray:
        """Point forecasts ``(n_series, h)`` continuing each series of ``data``."""
        outputs = self.predict_outputs(data)
        return self.loss_.point(outputs).numpy().astype(np.float64)

    def predict_interval(self, data: SeriesData, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of the ``level`` % interval; needs a quantile loss (``MQLoss``)."""
        outputs = self.predict_outputs(data)
        if not hasattr(self.loss_, "interval"):
            raise ConfigError(
                f"level: {self.alias} was trained with loss={self.loss_.name!r}, which gives no"
                " intervals; train it with loss=MQLoss(level=[...])"
            )
        low, high = self.loss_.interval(outputs, level)
        return low.numpy().astype(np.float64), high.numpy().astype(np.float64)

    def _fitted(self) -> WindowNetwork:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"{self.alias} is not fitted; call fit() first")
        return self.model_

    def __repr__(self) -> str:
        return f"{type(self).__name__}(h={self.h}, input_size={self.input_size})"


def _chunks(batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    """``batch`` cut into parts of at most ``_PREDICT_CHUNK`` windows (bounded memory)."""
    parts = {key: value.split(_PREDICT_CHUNK) for key, value in batch.items()}
    return [dict(zip(parts, chunk, strict=True)) for chunk in zip(*parts.values(), strict=True)]


# Any window model exports through its network, and a bare window network (what
# WindowModel.model_ holds) as itself: a user's subclass exports like the built-in models
# without registering an export plan of its own.
register(
    ModelSpec(
        "WindowModel",
        "forecast",
        model_class=WindowModel,
        export_plan=window_model_plan,
        candidate=False,
    )
)
register(ModelSpec("WindowNetwork", "network", model_class=WindowNetwork, export_plan=network_plan))
