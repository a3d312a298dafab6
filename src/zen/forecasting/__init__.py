"""Forecasting many series: N-HiTS, N-BEATS, PatchTST, TCN, DeepAR and baselines in one Forecaster.

>>> from zen.forecasting import Forecaster, NHITS, SeasonalNaive
>>> fc = Forecaster(models=[NHITS(h=48, input_size=96), SeasonalNaive(h=48, season_length=24)])
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from zen import registry
from zen.forecasting import metrics
from zen.forecasting.calendar import fill_gaps
from zen.forecasting.core import Forecaster
from zen.forecasting.data import SeriesData, from_long
from zen.forecasting.ensemble import Ensemble
from zen.forecasting.losses import MAE, MSE, DistributionLoss, Huber, MQLoss
from zen.forecasting.models.base import WindowModel
from zen.forecasting.models.baselines import (
    HistoricAverage,
    Naive,
    Naive2,
    RandomWalkWithDrift,
    SeasonalNaive,
)
from zen.forecasting.models.deepar import DeepAR
from zen.forecasting.models.nbeats import NBEATS
from zen.forecasting.models.nhits import NHITS
from zen.forecasting.models.patchtst import PatchTST
from zen.forecasting.models.tcn import TCN


class _ModelClasses(Mapping[str, type]):
    """The forecasting model classes by name, as zen.registry holds them now (the models
    declare themselves; a user's registered model is here too)."""

    def __getitem__(self, name: str) -> type:
        model_class = registry.model_class(name, "forecast")
        if model_class is None:
            raise KeyError(name)
        return model_class

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(cls.__name__ for cls in self._classes()))

    def __len__(self) -> int:
        return len(set(self))

    @staticmethod
    def _classes() -> Iterator[type]:
        for spec in registry.specs("forecast"):
            if spec.model_class is not None and spec.model_class is not WindowModel:
                yield spec.model_class


#: Model classes by name, for loading saved Forecasters (a view of :mod:`zen.registry`).
MODEL_CLASSES: Mapping[str, type] = _ModelClasses()

__all__ = [
    "MAE",
    "MODEL_CLASSES",
    "MSE",
    "NBEATS",
    "NHITS",
    "TCN",
    "DeepAR",
    "DistributionLoss",
    "Ensemble",
    "Forecaster",
    "HistoricAverage",
    "Huber",
    "MQLoss",
    "Naive",
    "Naive2",
    "PatchTST",
    "RandomWalkWithDrift",
    "SeasonalNaive",
    "SeriesData",
    "WindowModel",
    "fill_gaps",
    "from_long",
    "metrics",
]
