"""Forecasting many time series: N-HiTS, N-BEATS, TCN, DeepAR and baselines behind one Forecaster.

>>> from zen.forecasting import Forecaster, NHITS, SeasonalNaive
>>> fc = Forecaster(models=[NHITS(h=48, input_size=96), SeasonalNaive(h=48, season_length=24)])
"""

from __future__ import annotations

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
from zen.forecasting.models.tcn import TCN

#: Model classes by name, for loading saved Forecasters.
_ALL_MODELS = (NHITS, NBEATS, TCN, DeepAR, Naive, SeasonalNaive, HistoricAverage,
               RandomWalkWithDrift, Naive2)  # fmt: skip
MODEL_CLASSES = {cls.__name__: cls for cls in _ALL_MODELS}

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
    "RandomWalkWithDrift",
    "SeasonalNaive",
    "SeriesData",
    "WindowModel",
    "fill_gaps",
    "from_long",
    "metrics",
]
