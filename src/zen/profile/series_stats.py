"""Statistics of time series that the router decides on, each with the reason it shows.

Frequency and missing steps from the time stamps; seasonality from the autocorrelation after
moving-average detrending; trend strength :math:`F_T` (Wang, Smith & Hyndman 2006) from a
moving-average decomposition; intermittency as zero share, ADI and CV² (Syntetos & Boylan
2005). :func:`describe_series` computes them all for :func:`~zen.profile.
profile_series`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from zen.errors import ConfigError

#: Statistics of time series are computed on at most this many series, spread evenly over the
#: ids: a median over 200 series is stable to a few percent and keeps profiling far below a
#: second on M4-sized data.
MAX_PROFILED_SERIES = 200
#: Seasonal periods tried when the time axis has no calendar frequency (integer steps).
GENERIC_SEASONS = (4, 7, 12, 24, 52)
#: Seasonal periods of calendar frequencies without a fixed duration (by pandas prefix).
CALENDAR_SEASONS = {"B": (5,), "W": (52,), "SM": (24,), "SMS": (24,), "M": (12,), "ME": (12,),
                    "MS": (12,), "BM": (12,), "BME": (12,), "BMS": (12,), "Q": (4,), "QE": (4,),
                    "QS": (4,), "BQ": (4,), "BQE": (4,), "BQS": (4,)}  # fmt: skip
#: Syntetos & Boylan (2005): demand is intermittent when the average interval between non-zero
#: values (ADI) is at least 1.32, erratic or lumpy when the squared coefficient of variation of
#: the non-zero sizes (CV²) is at least 0.49.
ADI_INTERMITTENT = 1.32
CV2_ERRATIC = 0.49


def describe_series(
    long: pd.DataFrame, max_series: int = MAX_PROFILED_SERIES
) -> tuple[dict[str, Any], dict[str, str]]:
    """Statistics of time series in long format (``unique_id, ds, y``), and the reason of each.

    Lengths count every series; frequency, missing steps, seasonality, trend strength and
    intermittency look at up to ``max_series`` series spread evenly over the sorted ids (the
    reasons say how many). Never raises on odd values: what cannot be computed stays ``None``
    and its reason says why; checking the data is :func:`~zen.forecasting.data.from_long`'s job.

    Returns:
        ``(values, reasons)``: ``values`` are :class:`TaskProfile` field names.
    """
    if max_series < 1:
        raise ConfigError(f"max_series: expected at least 1 series, got {max_series!r}")
    values: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    lengths = long.groupby("unique_id", sort=True).size()
    if lengths.empty:
        reasons["series_length"] = "no rows"
        return values, reasons
    values["min_series_length"] = int(lengths.min())
    values["median_series_length"] = float(lengths.median())
    values["max_series_length"] = int(lengths.max())
    reasons["series_length"] = (
        f"{len(lengths)} series of {lengths.min()} to {lengths.max()} values"
        f" (median {lengths.median():g})"
    )
    ids = lengths.index.to_numpy()
    picked = ids[np.unique(np.linspace(0, len(ids) - 1, min(len(ids), max_series)).astype(int))]
    sample = long[long["unique_id"].isin(picked)]
    sample = sample.assign(ds=_as_time(sample["ds"]))
    try:
        sample = sample.sort_values(["unique_id", "ds"], kind="stable")
    except TypeError:  # mixed types in ds: keep the order given, as from_long would complain
        sample = sample.sort_values("unique_id", kind="stable")
    scope = f"over {len(picked)} of {len(ids)} series" if len(picked) < len(ids) else ""
    groups = [group for _, group in sample.groupby("unique_id", sort=False)]
    longest = max(groups, key=len)
    freq, step, reasons["freq"] = _frequency(longest["ds"])
    values["freq"] = freq
    series = []
    expected = observed = 0
    for group in groups:
        y = pd.to_numeric(group["y"], errors="coerce").to_numpy(np.float64)
        finite = np.isfinite(y)
        observed += int(finite.sum())
        expected += max(len(y), _expected_steps(group["ds"], freq, step))
        if finite.sum() >= 2:
            # Gaps inside a series are bridged linearly so that lags keep their meaning.
            series.append(pd.Series(y).interpolate(limit_direction="both").to_numpy())
    values["missing_ratio"] = 1.0 - observed / expected if expected else 0.0
    reasons["missing_ratio"] = (
        f"{expected - observed} of {expected} time steps have no value"
        f" (missing y or gaps in ds){_scoped(scope)}"
    )
    if not series:
        reasons["season_length"] = "no series has two numeric values"
        return values, reasons
    season, acf_value, reasons["season_length"] = _seasonality(series, freq, scope)
    values["season_length"], values["seasonal_acf"] = season, acf_value
    values["trend_strength"], reasons["trend_strength"] = _median_trend_strength(
        series, season, scope
    )
    values.update(_intermittency(series, scope, reasons))
    return values, reasons


def _scoped(scope: str) -> str:
    return f", {scope}" if scope else ""


def _as_time(stamps: pd.Series) -> pd.Series:
    """Dates as datetimes (text sorts "1990/1/10" before "1990/1/2"); numbers and what does
    not parse as dates stay as they are."""
    if pd.api.types.is_numeric_dtype(stamps) or pd.api.types.is_datetime64_any_dtype(stamps):
        return stamps
    try:
        return pd.to_datetime(stamps)
    except (ValueError, TypeError):
        return stamps


def _frequency(stamps: pd.Series) -> tuple[str | None, Any, str]:
    """``(pandas frequency or None, step, reason)`` of one series' sorted time stamps."""
    if pd.api.types.is_numeric_dtype(stamps):
        steps = np.diff(stamps.to_numpy())
        steps = steps[steps > 0]
        step = _commonest(steps) if len(steps) else 1
        return None, step, f"'ds' counts integer steps (every {step}): no calendar frequency"
    try:
        times = pd.DatetimeIndex(pd.to_datetime(stamps))
    except (ValueError, TypeError):
        return None, None, "'ds' holds neither dates nor numbers: the rows are taken in order"
    if len(times) < 3:
        return None, None, f"{len(times)} time stamps are too few to tell a frequency"
    try:
        inferred = pd.DatetimeIndex(times, freq="infer").freqstr
    except ValueError:
        inferred = None
    if inferred:
        return inferred, inferred, f"'ds' steps regularly by {inferred!r} (inferred by pandas)"
    # As timedelta64, not integers: the unit of datetimes (ns, us, s) depends on their source.
    steps = np.diff(times.to_numpy())
    steps = steps[steps > np.timedelta64(0)]
    if not len(steps):
        return None, None, "'ds' never advances: no frequency"
    distinct, counts = np.unique(steps, return_counts=True)
    step = pd.Timedelta(distinct[np.argmax(counts)])
    freq = pd.tseries.frequencies.to_offset(step).freqstr
    return freq, freq, f"'ds' has gaps or uneven steps; the commonest step is {freq!r}"


def _commonest(values: np.ndarray) -> Any:
    distinct, counts = np.unique(values, return_counts=True)
    return distinct[np.argmax(counts)].item()


def _expected_steps(stamps: pd.Series, freq: str | None, step: Any) -> int:
    """How many steps lie from the first to the last stamp, gaps included."""
    if step is None or len(stamps) < 2:
        return len(stamps)
    first, last = stamps.iloc[0], stamps.iloc[-1]
    if freq is None:
        return int((last - first) // step) + 1
    try:
        return len(pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq=freq))
    except (ValueError, TypeError):
        return len(stamps)


def season_candidates(freq: str | None) -> tuple[int, ...]:
    """Calendar periods worth testing for data of frequency ``freq``.

    Fixed-length steps get the hour, day, week and year they divide (hourly: 24, 168, 8760;
    15 minutes: 4, 96, 672...); months get 12, quarters 4, weeks 52, business days 5. Without
    a frequency, :data:`GENERIC_SEASONS`.
    """
    if freq is None:
        return GENERIC_SEASONS
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        step_ns = offset.nanos
    except ValueError:  # a calendar frequency (months, weeks...) has no fixed length
        base = offset.name.split("-")[0]
        multiple = max(1, abs(int(offset.n)))
        periods = CALENDAR_SEASONS.get(base, ())
        return tuple(p // multiple for p in periods if p % multiple == 0 and p // multiple > 1)
    hour = 3_600 * 10**9
    spans = [hour, 24 * hour, 7 * 24 * hour, 365 * 24 * hour]
    return tuple(span // step_ns for span in spans if span % step_ns == 0 and span > step_ns)


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation :math:`r_0 \\dots r_{max\\_lag}` (the biased estimator of Box &
    Jenkins, as ``statsmodels.tsa.stattools.acf``), via the FFT in O(n log n).

    >>> autocorrelation(np.array([1.0, -1.0, 1.0, -1.0]), 2).round(2).tolist()
    [1.0, -0.75, 0.5]
    """
    centred = np.asarray(values, dtype=np.float64) - np.mean(values)
    n = len(centred)
    # Zero-padding to 2n makes the FFT's circular correlation a linear one.
    spectrum = np.fft.rfft(centred, 2 * n)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[: max_lag + 1]
    if covariance[0] <= 0:  # a constant series correlates with nothing
        return np.zeros(max_lag + 1)
    return covariance / covariance[0]


def _seasonality(series: list[np.ndarray], freq: str | None, scope: str) -> tuple[int, float, str]:
    """``(season_length, its ACF, reason)``; ``season_length`` 1 when no period stands out.

    Each calendar lag m is tested on the series with their trend removed by the centred
    moving average over m steps (as in :func:`trend_strength`): a trend or a slow wander makes
    every lag correlate and would swamp the seasonal peak, while an average over exactly one
    period leaves the period's pattern in the residual. The residuals' ACF, averaged over the
    series, counts when it is a local peak at m and above the white-noise bound
    :math:`1.96/\\sqrt{n}` (Box & Jenkins; n = median length, conservative for a mean over
    several series); the highest such lag wins.
    """
    lengths = np.array([len(values) for values in series])
    bound = 1.96 / math.sqrt(float(np.median(lengths)))
    tested: dict[int, np.ndarray] = {}  # lag -> mean ACF at lag - 1, lag, lag + 1
    for lag in season_candidates(freq):
        weights = _moving_average_weights(lag)
        acfs = [
            autocorrelation(_detrend(values, weights), lag + 1)[lag - 1 :]
            # Two full periods beyond the window, so that the lag sees repeated cycles.
            for values in series
            if len(values) >= 2 * lag + len(weights)
        ]
        if acfs:
            tested[lag] = np.mean(acfs, axis=0)
    if not tested:
        tried = ", ".join(map(str, season_candidates(freq))) or "none for this frequency"
        return 1, 0.0, f"series too short for the calendar periods ({tried}): no seasonality"
    peaks = [lag for lag, acf in tested.items() if acf[1] > bound and acf[1] >= acf.max()]
    shown = ", ".join(f"{lag}: {acf[1]:.2f}" for lag, acf in tested.items())
    if not peaks:
        reason = (
            f"no calendar lag has an autocorrelation peak above {bound:.2f} ({shown}):"
            f" no seasonality{_scoped(scope)}"
        )
        return 1, 0.0, reason
    season = max(peaks, key=lambda lag: tested[lag][1])
    reason = (
        f"autocorrelation peaks at lag {season} ({tested[season][1]:.2f} > bound {bound:.2f};"
        f" lags tried {shown}; trend removed by a moving average){_scoped(scope)}"
    )
    return season, float(tested[season][1]), reason


def _moving_average_weights(period: int) -> np.ndarray:
    """Weights of the centred moving average over ``period`` steps: the 2×m average for an
    even m (half weight on both ends), so that it stays centred."""
    weights = np.ones(period + 1 - period % 2)
    if period % 2 == 0:
        weights[[0, -1]] = 0.5
    return weights / period


def _detrend(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values`` minus their moving average (the ends the average cannot reach are dropped)."""
    half = len(weights) // 2
    return values[half : len(values) - half] - np.convolve(values, weights, mode="valid")


def trend_strength(values: np.ndarray, season_length: int = 1) -> float | None:
    """Trend strength :math:`F_T = \\max(0, 1 - \\mathrm{Var}(R) / \\mathrm{Var}(T + R))` of one
    series (Wang, Smith & Hyndman 2006; Hyndman & Athanasopoulos, FPP3 §4.3).

    FPP3 takes T and R from an STL decomposition; a classical moving-average decomposition is
    used here (no loess to fit, same measure up to smoothing): T is the centred moving average
    over one season (the 2×m average for an even m), S the mean detrended value at each phase,
    R = y − T − S. Without a season, T averages an odd window of about a tenth of the series
    (5 to 51 steps), long enough to average the noise out, short enough to follow a changing
    level; on white noise this gives F_T ≈ 1/window, near 0. ``None`` when the series is
    shorter than two windows.
    """
    values = np.asarray(values, dtype=np.float64)
    if season_length > 1:
        weights = _moving_average_weights(season_length)
    else:
        width = max(5, min(51, len(values) // 10)) | 1
        weights = np.full(width, 1.0 / width)
    if len(values) < 2 * len(weights):
        return None
    half = len(weights) // 2
    detrended = _detrend(values, weights)
    trend = values[half : len(values) - half] - detrended
    if season_length > 1:
        phase = np.arange(half, len(values) - half) % season_length
        seasonal = np.bincount(phase, detrended, season_length) / np.maximum(
            np.bincount(phase, minlength=season_length), 1
        )
        remainder = detrended - (seasonal - seasonal.mean())[phase]
    else:
        remainder = detrended
    total = float(np.var(trend + remainder))
    if total <= 0.0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(remainder)) / total)


def _median_trend_strength(
    series: list[np.ndarray], season: int, scope: str
) -> tuple[float | None, str]:
    strengths = [s for s in (trend_strength(values, season) for values in series) if s is not None]
    if not strengths:
        return None, "series too short for a moving-average decomposition"
    strength = float(np.median(strengths))
    verdict = "strong" if strength >= 0.6 else "weak" if strength < 0.3 else "moderate"
    return strength, (
        f"{verdict} trend: F_T = 1 - Var(remainder)/Var(trend + remainder) = {strength:.2f}"
        f" (median; moving-average decomposition{', season ' + str(season) if season > 1 else ''}"
        f", Wang, Smith & Hyndman 2006){_scoped(scope)}"
    )


def _intermittency(
    series: list[np.ndarray], scope: str, reasons: dict[str, str]
) -> dict[str, float | None]:
    """Share of zeros, median ADI and CV² of the non-zero values (demand series only)."""
    stacked = np.concatenate(series)
    zero_ratio = float(np.mean(stacked == 0.0))
    values: dict[str, float | None] = {"zero_ratio": zero_ratio, "adi": None, "demand_cv2": None}
    if np.any(stacked < 0):
        reasons["zero_ratio"] = (
            f"{zero_ratio:.0%} of values are zero; values go below zero, so not demand"
            f" (counts): no ADI{_scoped(scope)}"
        )
        return values
    intervals, variations = [], []
    for demand in series:
        sizes = demand[demand != 0.0]
        if len(sizes):
            intervals.append(len(demand) / len(sizes))
        if len(sizes) >= 2 and sizes.mean() > 0:
            variations.append(float(np.var(sizes) / sizes.mean() ** 2))
    adi = float(np.median(intervals)) if intervals else None
    cv2 = float(np.median(variations)) if variations else None
    values.update(adi=adi, demand_cv2=cv2)
    pattern = ""
    if adi is not None and cv2 is not None:
        pattern = {
            (True, True): "lumpy",
            (True, False): "intermittent",
            (False, True): "erratic",
            (False, False): "smooth",
        }[(adi >= ADI_INTERMITTENT, cv2 >= CV2_ERRATIC)]
        pattern = f": {pattern} demand (Syntetos & Boylan 2005: ADI >= 1.32 is intermittent)"
    counts = bool(np.all(stacked == np.round(stacked)))
    reasons["zero_ratio"] = (
        f"{zero_ratio:.0%} of values are zero{'; values are counts' if counts else ''}"
        f"{_scoped(scope)}"
    )
    if adi is not None:
        cv2_text = f", CV² {cv2:.2f}" if cv2 is not None else ""
        reasons["adi"] = f"a non-zero value every {adi:.2f} steps (median ADI){cv2_text}{pattern}"
    return values
