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
from zen.forecasting.data import SeriesData

METHODS = ("mean", "median", "weighted")


class Ensemble:
    """A model made of other models; the Forecaster also reports each member's column.

    Args:
        models: the members (fitted by the ensemble's own ``fit``), all with the same ``h``.
        method: ``"mean"``, ``"median"`` or ``"weighted"``.
        alias: the forecast column name.

    Example:
        >>> from zen.forecasting import NBEATS, NHITS
        >>> ensemble = Ensemble([NHITS(h=48, input_size=96), NBEATS(h=48, input_size=96)])
    """

    def __init__(
        self, models: Sequence[Any], method: str = "mean", alias: str | None = None
    ) -> None:
        if len(models) < 2:
            raise ConfigError(f"models: an ensemble needs at least 2 models, got {len(models)}")
        if method not in METHODS:
            raise ConfigError(f"method: unknown value {method!r}; expected one of {METHODS}")
        horizons = {model.h for model in models}
        if len(horizons) != 1:
            raise ConfigError(f"models: members need the same h, got {sorted(horizons)}")
        self.models = list(models)
        self.method = method
        self.h = horizons.pop()
        self._alias = alias

    @property
    def alias(self) -> str:
        return self._alias or "Ensemble"

    def fit(self, data: SeriesData, val_size: int = 0) -> Ensemble:
        """Fit every member (and, for ``weighted``, score them on a held-out last window)."""
        if self.method == "weighted":
            train = data.head(data.lengths - self.h, horizon=self.h)
            truth = np.stack(
                [data.series(i)[-self.h :].numpy() for i in range(data.n_series)]
            ).astype(np.float64)
            errors = []
            for model in self.models:
                fit_model(model, train, val_size)
                errors.append(float(np.mean(np.abs(model.predict(train) - truth))))
            inverse = 1.0 / np.maximum(errors, 1e-12)
            self.weights_ = inverse / inverse.sum()
        else:
            self.weights_ = np.full(len(self.models), 1.0 / len(self.models))
        for model in self.models:
            fit_model(model, data, val_size)
        return self

    def member_forecasts(self, data: SeriesData) -> dict[str, np.ndarray]:
        """Each member's point forecast ``(n_series, h)``, by alias."""
        self._check_fitted()
        return {model.alias: np.asarray(model.predict(data), np.float64) for model in self.models}

    def predict(self, data: SeriesData) -> np.ndarray:
        """The combined point forecast ``(n_series, h)``."""
        return self._combine(list(self.member_forecasts(data).values()))

    def predict_interval(self, data: SeriesData, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Combined bounds of the ``level`` % interval (every member must provide it)."""
        self._check_fitted()
        without = [model.alias for model in self.models if not hasattr(model, "predict_interval")]
        if without:
            raise ConfigError(f"level: ensemble members {without} do not produce intervals")
        bounds = [model.predict_interval(data, level) for model in self.models]
        return self._combine([low for low, _ in bounds]), self._combine(
            [high for _, high in bounds]
        )

    def _combine(self, forecasts: list[np.ndarray]) -> np.ndarray:
        stacked = np.stack(forecasts)
        if self.method == "median":
            return np.median(stacked, axis=0)
        return np.tensordot(self.weights_, stacked, axes=1)

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("Ensemble is not fitted; call fit() first")


def fit_model(model: Any, data: SeriesData, val_size: int = 0) -> None:
    """Fit ``model``, passing ``val_size`` to the models whose ``fit`` takes it."""
    if "val_size" in inspect.signature(model.fit).parameters:
        model.fit(data, val_size=val_size)
    else:
        model.fit(data)
