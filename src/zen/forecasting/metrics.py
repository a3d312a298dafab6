r"""Forecast accuracy measures on numpy arrays, defined as in the M4 competition and the literature.

``y`` (actuals) and ``y_hat`` (forecasts) are arrays of shape ``(n_series, h)``, or ``(h,)`` for a
single series; every function returns one float averaged over all series and steps. Inputs are
checked once: mismatched shapes and NaN or infinite values raise :class:`~zen.errors.DataError`.

Scale-free measures (sMAPE, MASE, OWA) follow the M4 Competitor's Guide and its R code
(Makridakis et al., "The M4 Competition: 100,000 time series and 61 forecasting methods",
IJF 2020, §2.3): per series, then averaged over series.

>>> round(smape([[100.0, 200.0]], [[110.0, 180.0]]), 4)
10.0251
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from zen.errors import ConfigError, DataError
from zen.forecasting.data import SeriesData


def _as_array(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise DataError(
            f"{name}: expected shape (n_series, h) or (h,), got {array.ndim} dimensions"
            f" {array.shape}"
        )
    if array.size == 0:
        raise DataError(f"{name}: is empty")
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name}: {int(bad.sum())} NaN or infinite value(s), first at index {where};"
            " metrics need finite values (drop or fill them first)"
        )
    return array


def _pair(y: ArrayLike, y_hat: ArrayLike, name: str = "y_hat") -> tuple[np.ndarray, np.ndarray]:
    actual, forecast = _as_array(y, "y"), _as_array(y_hat, name)
    if actual.shape != forecast.shape:
        raise DataError(f"{name}: shape {forecast.shape} does not match y's shape {actual.shape}")
    return actual, forecast


def mae(y: ArrayLike, y_hat: ArrayLike) -> float:
    r"""Mean absolute error: :math:`\frac{1}{N}\sum |y - \hat y|`."""
    actual, forecast = _pair(y, y_hat)
    return float(np.mean(np.abs(actual - forecast)))


def mse(y: ArrayLike, y_hat: ArrayLike) -> float:
    r"""Mean squared error: :math:`\frac{1}{N}\sum (y - \hat y)^2`."""
    actual, forecast = _pair(y, y_hat)
    return float(np.mean((actual - forecast) ** 2))


def rmse(y: ArrayLike, y_hat: ArrayLike) -> float:
    r"""Root mean squared error: :math:`\sqrt{\mathrm{MSE}}`."""
    return float(np.sqrt(mse(y, y_hat)))


def mape(y: ArrayLike, y_hat: ArrayLike) -> float:
    r"""Mean absolute percentage error, in percent.

    .. math:: \mathrm{MAPE} = \frac{100}{N}\sum \frac{|y - \hat y|}{|y|}

    Undefined where :math:`y = 0`; such inputs raise a DataError (use :func:`smape` or
    :func:`mase` instead).
    """
    actual, forecast = _pair(y, y_hat)
    zeros = actual == 0
    if zeros.any():
        raise DataError(
            f"y: {int(zeros.sum())} value(s) are 0, where MAPE is undefined; use smape or mase"
        )
    return float(100.0 * np.mean(np.abs(actual - forecast) / np.abs(actual)))


def smape(y: ArrayLike, y_hat: ArrayLike) -> float:
    r"""Symmetric MAPE as in M4, in percent, between 0 and 200.

    .. math:: \mathrm{sMAPE} = \frac{1}{N}\sum \frac{200\,|y - \hat y|}{|y| + |\hat y|}

    A point where both :math:`y` and :math:`\hat y` are 0 counts as a perfect forecast (0).

    >>> smape([1.0, 0.0], [1.0, 0.0])
    0.0
    """
    actual, forecast = _pair(y, y_hat)
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(denominator),
        where=denominator > 0,
    )
    return float(200.0 * np.mean(ratio))


def mase(
    y: ArrayLike,
    y_hat: ArrayLike,
    insample: SeriesData | Sequence[ArrayLike] | np.ndarray,
    season_length: int = 1,
) -> float:
    r"""Mean absolute scaled error as in M4 (Hyndman & Koehler, IJF 2006).

    Each series' absolute errors are divided by the in-sample MAE of the seasonal naive
    forecast, then averaged over the horizon and over series:

    .. math:: \mathrm{MASE}_i = \frac{\frac{1}{h}\sum_{k=1}^{h} |y_{i,T+k} - \hat y_{i,T+k}|}
                                     {\frac{1}{T-m}\sum_{t=m+1}^{T} |y_{i,t} - y_{i,t-m}|},
       \qquad \mathrm{MASE} = \frac{1}{n}\sum_i \mathrm{MASE}_i

    Args:
        y, y_hat: ``(n_series, h)`` or ``(h,)``.
        insample: the training values of each series, in the rows' order: a list of 1-D arrays,
            a :class:`SeriesData` (its series order), or one 1-D array when ``y`` is 1-D.
        season_length: :math:`m` (24 for M4 Hourly, 1 for non-seasonal data).

    Raises:
        DataError: a series has no more than ``season_length`` training values, or a scale of 0
            (its training values repeat exactly every ``season_length`` steps).
    """
    actual, forecast = _pair(y, y_hat)
    actual, forecast = np.atleast_2d(actual), np.atleast_2d(forecast)
    if (
        isinstance(season_length, bool)
        or not isinstance(season_length, int | np.integer)
        or season_length < 1
    ):
        raise ConfigError(f"season_length: expected a positive integer, got {season_length!r}")
    histories = _insample_series(insample, n_series=len(actual))
    scales = np.empty(len(histories))
    for i, history in enumerate(histories):
        if len(history) <= season_length:
            raise DataError(
                f"insample: series {i} has {len(history)} values; MASE needs more than"
                f" season_length={season_length}"
            )
        scales[i] = np.mean(np.abs(history[season_length:] - history[:-season_length]))
    if np.any(scales == 0):
        first = int(np.flatnonzero(scales == 0)[0])
        raise DataError(
            f"insample: series {first} has a MASE scale of 0 (its values repeat every"
            f" {season_length} steps), so MASE is undefined for it; drop it or use mae/smape"
        )
    per_series = np.mean(np.abs(actual - forecast), axis=1) / scales
    return float(np.mean(per_series))


def _insample_series(
    insample: SeriesData | Sequence[ArrayLike] | np.ndarray, n_series: int
) -> list[np.ndarray]:
    histories: list[ArrayLike]
    if isinstance(insample, SeriesData):
        values = insample.values.detach().cpu().numpy().astype(np.float64)
        histories = [
            values[start:end]
            for start, end in zip(insample.indptr[:-1], insample.indptr[1:], strict=True)
        ]
    elif isinstance(insample, np.ndarray) and insample.ndim == 1 and n_series == 1:
        histories = [insample]
    else:
        histories = list(insample)
    if len(histories) != n_series:
        raise DataError(
            f"insample: has {len(histories)} series but y has {n_series} rows; pass the"
            " training values of every series, in the same order"
        )
    checked = []
    for i, history in enumerate(histories):
        array = np.asarray(history, dtype=np.float64)
        if array.ndim != 1:
            raise DataError(f"insample: series {i} should be 1-D, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise DataError(f"insample: series {i} contains NaN or infinite values")
        checked.append(array)
    return checked


def owa(smape: float, mase: float, smape_naive2: float, mase_naive2: float) -> float:
    r"""Overall weighted average of M4: the mean of sMAPE and MASE relative to Naive2.

    .. math:: \mathrm{OWA} = \frac12\left(\frac{\mathrm{sMAPE}}{\mathrm{sMAPE}_{\mathrm{Naive2}}}
                                      + \frac{\mathrm{MASE}}{\mathrm{MASE}_{\mathrm{Naive2}}}\right)

    Computed on the averages over all series (as M4 does), not per series. Below 1 beats Naive2.

    >>> owa(9.0, 1.5, 18.0, 2.0)
    0.625
    """
    for name, value in (("smape_naive2", smape_naive2), ("mase_naive2", mase_naive2)):
        if not np.isfinite(value) or value <= 0:
            raise DataError(f"{name}: expected a positive number, got {value!r}")
    return float(0.5 * (smape / smape_naive2 + mase / mase_naive2))


def quantile_loss(y: ArrayLike, q_pred: ArrayLike, quantiles: ArrayLike) -> float:
    r"""Pinball loss averaged over points and quantiles (Koenker & Bassett, 1978).

    .. math:: \rho_\tau(y, q) = \max\big(\tau (y - q),\ (\tau - 1)(y - q)\big)

    Args:
        y: ``(n_series, h)`` or ``(h,)``.
        q_pred: ``y.shape + (n_quantiles,)``; ``q_pred[..., j]`` forecasts quantile
            ``quantiles[j]``.
        quantiles: levels strictly between 0 and 1, ``(n_quantiles,)``.
    """
    actual, predicted, levels = _quantile_inputs(y, q_pred, quantiles)
    error = actual[..., None] - predicted
    return float(np.mean(np.maximum(levels * error, (levels - 1.0) * error)))


def crps(y: ArrayLike, q_pred: ArrayLike, quantiles: ArrayLike) -> float:
    r"""Continuous ranked probability score approximated from quantile forecasts.

    CRPS is twice the pinball loss integrated over all levels (Laio & Tamea, HESS 2007;
    Gneiting & Raftery, JASA 2007), so on a grid of levels :math:`\tau_1..\tau_Q`:

    .. math:: \mathrm{CRPS}(F, y) = 2\int_0^1 \rho_\tau\big(y, F^{-1}(\tau)\big)\,d\tau
              \approx \frac{2}{Q}\sum_{j=1}^{Q} \rho_{\tau_j}\big(y, \hat q_{\tau_j}\big)

    The approximation assumes an evenly spread grid (e.g. 0.05, 0.10, ..., 0.95). For a point
    forecast repeated at every level of a grid symmetric around 0.5 it equals the MAE.

    Args: as :func:`quantile_loss`.
    """
    return 2.0 * quantile_loss(y, q_pred, quantiles)


def _quantile_inputs(
    y: ArrayLike, q_pred: ArrayLike, quantiles: ArrayLike
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    actual = _as_array(y, "y")
    predicted = np.asarray(q_pred, dtype=np.float64)
    levels = np.asarray(quantiles, dtype=np.float64)
    if levels.ndim != 1 or levels.size == 0:
        raise DataError(f"quantiles: expected a 1-D list of levels, got shape {levels.shape}")
    if not np.all((levels > 0) & (levels < 1)):
        raise DataError(f"quantiles: levels must be strictly between 0 and 1, got {levels}")
    expected = (*actual.shape, len(levels))
    if predicted.shape != expected:
        raise DataError(
            f"q_pred: expected shape {expected} (y's shape + one column per quantile), got"
            f" {predicted.shape}"
        )
    if not np.isfinite(predicted).all():
        raise DataError("q_pred: contains NaN or infinite values")
    return actual, predicted, levels


def coverage(y: ArrayLike, lo: ArrayLike, hi: ArrayLike) -> float:
    r"""Share of actuals inside their interval, between 0 and 1: :math:`\frac1N\sum
    \mathbb{1}[lo \le y \le hi]`.

    A well calibrated 80% interval covers about 0.8. Crossed bounds (``lo > hi``) simply cover
    nothing at that point.
    """
    actual, lower = _pair(y, lo, "lo")
    _, upper = _pair(y, hi, "hi")
    return float(np.mean((lower <= actual) & (actual <= upper)))


__all__ = [
    "coverage",
    "crps",
    "mae",
    "mape",
    "mase",
    "mse",
    "owa",
    "quantile_loss",
    "rmse",
    "smape",
]
