"""Statistical baselines: naive, seasonal naive, mean, drift and the M4 ``Naive2`` benchmark.

Every neural forecaster should be compared with these; they cost nothing and are hard to beat on
some data sets (M4 Hourly: Makridakis et al., "The M4 Competition: 100,000 time series and 61
forecasting methods", IJF 2020). They share the estimator API of the neural models
(``fit(data)`` then ``predict(data) -> (n_series, h)``), so they run through the same evaluation
code. None of them learns anything at ``fit``: ``predict`` forecasts from the end of each series
it is given, which is what a baseline should do when the cutoff moves (cross-validation).

All but :class:`Naive2` are computed for every series at once on the concatenated values
(``SeriesData.values`` with its ``indptr`` offsets); Naive2 decomposes one series at a time.
"""

from __future__ import annotations

import itertools
import logging
from typing import Self

import numpy as np

from zen.errors import ConfigError, DataError, NotFittedError
from zen.estimator import Estimator
from zen.forecasting.candidate import baseline_builder
from zen.forecasting.data import SeriesData
from zen.registry import ModelSpec, register

logger = logging.getLogger(__name__)

#: One-sided 90% critical value of the normal distribution, as in the M4 seasonality test.
_M4_TCRIT = 1.645


class BaselineModel(Estimator):
    """What the baselines share: setting checks, ``alias``, ``fit`` and ``predict``.

    A subclass implements ``_forecast(values, indptr)``: ``values`` are all series concatenated
    (float64), series ``i`` is ``values[indptr[i]:indptr[i+1]]``, and it returns ``(n_series, h)``.

    Args:
        h: forecast horizon (steps ahead), >= 1.
        alias: the forecast column name (default: the class name).
    """

    #: The fewest observations a series needs; subclasses raise it when they need more.
    min_length = 1
    #: What to do about a series shorter than ``min_length``, for the error message.
    too_short_hint = "drop them"

    def __init__(self, h: int, alias: str | None = None) -> None:
        self.h = h
        self._alias = alias
        self._check_hyperparameters()

    @property
    def alias(self) -> str:
        """Name of this model's forecast column."""
        return self._alias or type(self).__name__

    def fit(self, data: SeriesData) -> Self:
        """Check the hyperparameters and that every series of ``data`` is long enough."""
        self._check_hyperparameters()
        self._check_lengths(data)
        self.n_series_ = data.n_series
        return self

    def predict(self, data: SeriesData) -> np.ndarray:
        """Forecasts ``(n_series, h)``, float64, for the ``h`` steps after each series' end."""
        if not hasattr(self, "n_series_"):
            raise NotFittedError(f"{self.alias} is not fitted; call fit() first")
        self._check_lengths(data)
        values = data.values.detach().cpu().numpy().astype(np.float64)
        return self._forecast(values, np.asarray(data.indptr, dtype=np.int64))

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check_hyperparameters(self) -> None:
        _check_positive_int("h", self.h)

    def _check_lengths(self, data: SeriesData) -> None:
        if not isinstance(data, SeriesData):
            raise DataError(
                f"data: expected a SeriesData (see zen.forecasting.data.from_long), got"
                f" {type(data).__name__}"
            )
        short = np.flatnonzero(data.lengths < self.min_length)
        if len(short):
            examples = ", ".join(repr(data.ids[i]) for i in short[:5])
            raise DataError(
                f"data: {len(short)} series have fewer than the {self.min_length} values"
                f" {self.alias} needs (e.g. {examples}, with {int(data.lengths[short[0]])});"
                f" {self.too_short_hint}"
            )

    def __repr__(self) -> str:
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in self.get_params().items() if value is not None
        )
        return f"{type(self).__name__}({arguments})"


class SeasonalBaseline(BaselineModel):
    """A baseline with a ``season_length`` (observations per seasonal cycle, e.g. 24 for hourly)."""

    def __init__(self, h: int, season_length: int = 1, alias: str | None = None) -> None:
        self.season_length = season_length
        super().__init__(h, alias)

    def _check_hyperparameters(self) -> None:
        super()._check_hyperparameters()
        _check_positive_int("season_length", self.season_length)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")


class Naive(BaselineModel):
    r"""Repeat the last value: :math:`\hat y_{T+k} = y_T`."""

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        last = values[indptr[1:] - 1]
        return np.repeat(last[:, None], self.h, axis=1)


class SeasonalNaive(SeasonalBaseline):
    r"""Repeat the last season: :math:`\hat y_{T+k} = y_{T+k-m\lceil k/m\rceil}`.

    :math:`m` is ``season_length``; every series needs at least :math:`m` values.
    """

    too_short_hint = "drop them or use a smaller season_length"

    @property
    def min_length(self) -> int:  # type: ignore[override]
        return self.season_length

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        m = self.season_length
        last_season = values[indptr[1:, None] - m + np.arange(m)]  # (n_series, m), oldest first
        return last_season[:, np.arange(self.h) % m]


class HistoricAverage(BaselineModel):
    r"""The mean of the whole history: :math:`\hat y_{T+k} = \frac{1}{T}\sum_{t=1}^{T} y_t`."""

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        means = np.add.reduceat(values, indptr[:-1]) / np.diff(indptr)
        return np.repeat(means[:, None], self.h, axis=1)


class RandomWalkWithDrift(BaselineModel):
    r"""The line through the first and last values, continued.

    .. math:: \hat y_{T+k} = y_T + k\,\frac{y_T - y_1}{T - 1}

    (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., §5.2). Every
    series needs at least 2 values.
    """

    min_length = 2

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        first, last = values[indptr[:-1]], values[indptr[1:] - 1]
        drift = (last - first) / (np.diff(indptr) - 1)
        return last[:, None] + drift[:, None] * np.arange(1, self.h + 1)[None, :]


class Naive2(SeasonalBaseline):
    r"""The M4 competition's benchmark: the naive forecast of the seasonally adjusted series.

    For each series of length :math:`n` with :math:`m` = ``season_length`` (Makridakis et al.,
    IJF 2020, §3.3; R code ``Benchmarks and evaluation.R`` in Mcompetitions/M4-methods):

    1. Seasonality test (:func:`has_seasonality`): is the lag-:math:`m` autocorrelation
       significant at 90%? Only tried when :math:`m > 1` and :math:`n \ge 3m`.
    2. If seasonal, classical multiplicative decomposition (:func:`seasonal_indices`) gives
       indices :math:`s_t`; otherwise :math:`s_t = 1`.
    3. :math:`\hat y_{T+k} = \frac{y_T}{s_T}\, s_{T+k}`.

    A series with a value :math:`\le 0` is not seasonally adjusted (a multiplicative
    decomposition is undefined there); M4 has only positive values.
    """

    def _forecast(self, values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
        m, h = self.season_length, self.h
        forecasts = np.empty((len(indptr) - 1, h))
        not_positive = 0
        for i, (start, end) in enumerate(itertools.pairwise(indptr)):
            y = values[start:end]
            n = len(y)
            forecasts[i] = y[-1]
            if not has_seasonality(y, m):
                continue
            if np.any(y <= 0):
                not_positive += 1
                continue
            figure = seasonal_indices(y, m)
            future = figure[(n - 1 + np.arange(1, h + 1)) % m]
            forecasts[i] = y[-1] / figure[(n - 1) % m] * future
        if not_positive:
            logger.info(
                "Naive2: %d seasonal series have values <= 0; forecasting them without"
                " seasonal adjustment (a multiplicative decomposition needs positive values)",
                not_positive,
            )
        return forecasts


def autocorrelation(y: np.ndarray, max_lag: int) -> np.ndarray:
    r"""Sample autocorrelations at lags ``1..max_lag`` (the estimator of R's ``acf``).

    .. math:: r_k = \frac{\sum_{t=1}^{n-k} (y_t - \bar y)(y_{t+k} - \bar y)}
                         {\sum_{t=1}^{n} (y_t - \bar y)^2}

    Returns NaN for a constant series.

    >>> autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 2).round(2).tolist()
    [0.25, -0.3]
    """
    centred = np.asarray(y, dtype=np.float64) - np.mean(y)
    variance = float(np.dot(centred, centred))
    if variance == 0.0:
        return np.full(max_lag, np.nan)
    return np.array([np.dot(centred[k:], centred[:-k]) / variance for k in range(1, max_lag + 1)])


def has_seasonality(y: np.ndarray, season_length: int) -> bool:
    r"""The M4 seasonality test: is the autocorrelation at lag :math:`m` significant at 90%?

    .. math:: |r_m| > 1.645 \sqrt{\frac{1 + 2\sum_{k=1}^{m-1} r_k^2}{n}}

    (Bartlett's standard error of :math:`r_m` under an MA(m-1) null). Series shorter than
    :math:`3m`, with :math:`m \le 1`, or constant, are not seasonal.

    Note: the M4 R code computes ``acf`` with R's default ``lag.max = 10 log10(n)``, so with
    :math:`m = 24` it silently finds no seasonality when :math:`72 \le n < 251`. That is an
    accident of the R defaults and is not reproduced here; M4 Hourly series are longer.
    """
    n = len(y)
    if season_length <= 1 or n < 3 * season_length:
        return False
    r = autocorrelation(y, season_length)
    if np.isnan(r).any():
        return False
    limit = _M4_TCRIT * np.sqrt((1.0 + 2.0 * np.sum(r[:-1] ** 2)) / n)
    return bool(abs(r[-1]) > limit)


def seasonal_indices(y: np.ndarray, season_length: int) -> np.ndarray:
    r"""Multiplicative seasonal indices of classical decomposition (R's ``decompose``).

    The trend is a centred moving average of order :math:`m` (a :math:`2 \times m` MA, with
    half weights at both ends, when :math:`m` is even); the index of phase :math:`j` is the mean
    of :math:`y_t / \text{trend}_t` over the positions :math:`t \equiv j \pmod m` where the trend
    exists, normalised so the indices average 1.

    Args:
        y: one series, at least two full seasons long, positive.
        season_length: :math:`m`.

    Returns:
        ``(m,)`` indices; ``indices[t % m]`` applies to ``y[t]`` (0-based positions).
    """
    y = np.asarray(y, dtype=np.float64)
    m = season_length
    # Even m: a 2xm moving average (m + 1 weights, halves at the ends) keeps the trend centred.
    weights = np.r_[0.5, np.ones(m - 1), 0.5] / m if m % 2 == 0 else np.ones(m) / m
    half = len(weights) // 2
    if len(y) < len(weights) + m - 1:
        raise DataError(
            f"y: seasonal_indices needs at least {len(weights) + m - 1} values for"
            f" season_length={m}, got {len(y)}"
        )
    # The weights are symmetric, so convolution is the same as the centred moving average.
    trend = np.convolve(y, weights, mode="valid")
    positions = np.arange(half, half + len(trend))
    phase = positions % m
    ratio_sum = np.bincount(phase, weights=y[positions] / trend, minlength=m)
    figure = ratio_sum / np.bincount(phase, minlength=m)
    return figure / figure.mean()


__all__ = [
    "BaselineModel",
    "HistoricAverage",
    "Naive",
    "Naive2",
    "RandomWalkWithDrift",
    "SeasonalNaive",
    "autocorrelation",
    "has_seasonality",
    "seasonal_indices",
]


# The statistical baselines every leaderboard shows (the naive family sits behind the learned
# models on M4, Makridakis et al. 2020). Priors and rule factors: the router's expectations
# (zen.orchestrator.router_rules); Naive2 is the M4 benchmark's reference, not a candidate.
for _cls, _prior, _factors in (
    (
        SeasonalNaive,
        1.25,
        {
            "seasonal and long series": 0.92,
            "short series": 0.95,
            "intermittent demand": 1.1,
            "strong trend without season": 1.1,
        },
    ),
    (
        RandomWalkWithDrift,
        1.30,
        {
            "seasonal and long series": 1.1,
            "intermittent demand": 1.2,
            "strong trend without season": 0.85,
        },
    ),
    (
        Naive,
        1.35,
        {
            "seasonal and long series": 1.1,
            "short series": 0.95,
            "intermittent demand": 0.95,
            "noise-like series": 1.05,
        },
    ),
    (
        HistoricAverage,
        1.45,
        {
            "seasonal and long series": 1.1,
            "short series": 0.9,
            "intermittent demand": 0.75,
            "strong trend without season": 1.3,
            "noise-like series": 0.8,
        },
    ),
):
    register(
        ModelSpec(
            _cls.__name__,
            "forecast",
            model_class=_cls,
            neural=False,
            prior=_prior,
            rule_factors=_factors,
            build=baseline_builder(_cls),
        )
    )
register(
    ModelSpec(
        "Naive2",
        "forecast",
        model_class=Naive2,
        neural=False,
        prior=1.35,
        build=baseline_builder(Naive2),
        candidate=False,
    )
)
