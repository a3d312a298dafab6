"""Ensemble: combine several forecasting models into one forecast.

Combining forecasts is among the most reliable ways to reduce error (the M4 competition's top
entries were combinations; Makridakis et al. 2020). Three rules:

* ``mean``: the average of the members;
* ``median``: the per-step median (robust to one member going wrong);
* ``weighted``: weights proportional to 1 / validation MAE. Each member is first fitted without
  the last ``h`` points of every series and scored on them, then refitted on all the data, so
  training costs twice as much.

Intervals combine the members' bounds with the same rule (quantile averaging).
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from zen.errors import ConfigError, NotFittedError
from zen.estimator import Estimator, clone
from zen.forecasting.data import SeriesData

METHODS = ("mean", "median", "weighted")


class Ensemble(Estimator):
    """A model made of other models; the Forecaster also reports each member's column.

    Like scikit-learn's ensembles, :meth:`fit` trains clones of the members
    (:func:`zen.estimator.clone`), kept in ``models_``; the models given stay as they are.

    Args:
        models: the members, all with the same ``h``.
        method: ``"mean"``, ``"median"`` or ``"weighted"``.
        alias: the forecast column name.

    Example:
        >>> from zen.forecasting import NBEATS, NHITS
        >>> ensemble = Ensemble([NHITS(h=48, input_size=96), NBEATS(h=48, input_size=96)])
    """

    def __init__(
        self, models: Sequence[Any], method: str = "mean", alias: str | None = None
    ) -> None:
        self.models = models
        self.method = method
        self._alias = alias
        self._check_params()

    def _check_params(self) -> None:
        if len(self.models) < 2:
            raise ConfigError(
                f"models: an ensemble needs at least 2 models, got {len(self.models)}"
            )
        if self.method not in METHODS:
            raise ConfigError(f"method: unknown value {self.method!r}; expected one of {METHODS}")
        horizons = {model.h for model in self.models}
        if len(horizons) != 1:
            raise ConfigError(f"models: members need the same h, got {sorted(horizons)}")

    @property
    def h(self) -> int:
        """The members' forecast horizon."""
        return int(self.models[0].h)

    @property
    def alias(self) -> str:
        return self._alias or "Ensemble"

    def fit(self, data: SeriesData, val_size: int = 0) -> Ensemble:
        """Fit clones of the members (and, for ``weighted``, score them on a held-out last
        window first)."""
        self._check_params()
        if self.method == "weighted":
            train = data.head(data.lengths - self.h, horizon=self.h)
            truth = np.stack(
                [data.series(i)[-self.h :].numpy() for i in range(data.n_series)]
            ).astype(np.float64)
            errors = []
            for model in self.models:
                scored = fit_model(clone(model), train, val_size)
                errors.append(float(np.mean(np.abs(scored.predict(train) - truth))))
            inverse = 1.0 / np.maximum(errors, 1e-12)
            self.weights_ = inverse / inverse.sum()
        else:
            self.weights_ = np.full(len(self.models), 1.0 / len(self.models))
        self.models_ = [fit_model(clone(model), data, val_size) for model in self.models]
        return self

    def member_forecasts(self, data: SeriesData) -> dict[str, np.ndarray]:
        """Each fitted member's point forecast ``(n_series, h)``, by alias."""
        return {
            model.alias: np.asarray(model.predict(data), np.float64) for model in self._fitted()
        }

    def predict(self, data: SeriesData) -> np.ndarray:
        """The combined point forecast ``(n_series, h)``."""
        return self._combine(list(self.member_forecasts(data).values()))

    def predict_interval(self, data: SeriesData, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Combined bounds of the ``level`` % interval (every member must provide it)."""
        members = self._fitted()
        without = [model.alias for model in members if not hasattr(model, "predict_interval")]
        if without:
            raise ConfigError(f"level: ensemble members {without} do not produce intervals")
        bounds = [model.predict_interval(data, level) for model in members]
        return self._combine([low for low, _ in bounds]), self._combine(
            [high for _, high in bounds]
        )

    def _combine(self, forecasts: list[np.ndarray]) -> np.ndarray:
        stacked = np.stack(forecasts)
        if self.method == "median":
            return np.median(stacked, axis=0)
        return np.tensordot(self.weights_, stacked, axes=1)

    def _fitted(self) -> list[Any]:
        if not hasattr(self, "models_"):
            raise NotFittedError("Ensemble is not fitted; call fit() first")
        return self.models_


def fit_model(model: Any, data: SeriesData, val_size: int = 0) -> Any:
    """Fit ``model``, passing ``val_size`` to the models whose ``fit`` takes it; returns it."""
    if "val_size" in inspect.signature(model.fit).parameters:
        model.fit(data, val_size=val_size)
    else:
        model.fit(data)
    return model
