"""Time series: the layout of a table (long or wide), its time stamps, and their statistics.

:func:`series_table` reads a table as series (layout, time column, parsed stamps);
:func:`profile_series` adds the frequency, gaps and the statistics of
:mod:`zen.profile.series_stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from zen.errors import ConfigError, DataError
from zen.profile.calendar import check_freq, describe_gaps, infer_freq, parse_dates
from zen.profile.series_stats import describe_series
from zen.profile.task import LONG_COLUMNS, TIME_COLUMNS, TaskProfile


def is_time_series(frame: pd.DataFrame, horizon: int | None) -> tuple[bool, str]:
    """Whether ``frame`` should be forecast, and why: a horizon was asked for, or the frame has
    the long forecasting columns ``unique_id, ds, y``."""
    if horizon is not None:
        return True, f"a forecast horizon was given ({horizon} steps)"
    if set(LONG_COLUMNS) <= set(frame.columns):
        return True, "the table has the long time-series columns unique_id, ds, y"
    return False, "no horizon given and no unique_id/ds/y columns: a table to learn from"


@dataclass(frozen=True)
class SeriesTable:
    """A table read as time series: long rows with parsed time stamps, before any cleaning.

    Attributes:
        long: ``unique_id, ds, y`` and the exogenous columns, one row per input row (wide
            tables melted: one row per time stamp and series column).
        layout: ``"long"`` or ``"wide"``.
        time_column: the column that held the time stamps.
        series: the series' column names (wide) or ``[]`` (long).
        date_reason: how the time stamps were read (see :func:`~zen.profile.calendar.
            parse_dates`).
    """

    long: pd.DataFrame
    layout: str
    time_column: str
    series: list[str]
    date_reason: str


def series_table(
    frame: pd.DataFrame,
    target: str | None = None,
    *,
    date_format: str | None = None,
    exog: Sequence[str] = (),
) -> SeriesTable:
    """Read ``frame`` as series: find its layout and time column, melt it, parse the stamps.

    Long frames have ``unique_id, ds, y``. Otherwise the frame is wide: a time column (one of
    :data:`TIME_COLUMNS`) and one numeric column per series, or just ``target`` when given;
    the ``exog`` columns (exogenous variables) are never series, and in a wide table every
    series shares them.

    Raises:
        DataError: no time column, a missing ``target`` or ``exog`` column, nothing to forecast,
            or time stamps that do not parse (see :func:`~zen.profile.calendar.parse_dates`).
    """
    columns = [str(column) for column in frame.columns]
    absent = [name for name in exog if name not in columns]
    if absent:
        raise DataError(
            f"exogenous: column(s) {absent} not found; columns are: {', '.join(columns[:20])}"
        )
    exog = list(dict.fromkeys(exog))
    if set(LONG_COLUMNS) <= set(columns):
        long = frame[[*LONG_COLUMNS, *exog]]
        layout, time_column, series = "long", "ds", []
    else:
        time_column = next((name for name in TIME_COLUMNS if name in columns), "")
        if not time_column:
            raise DataError(
                "data: no time column; name it one of "
                f"{', '.join(TIME_COLUMNS)} (wide layout) or use columns unique_id, ds, y (long)"
            )
        if target is not None and target not in columns:
            raise DataError(
                f"target: column {target!r} not found; columns are: {', '.join(columns[:20])}"
            )
        series = (
            [target]
            if target
            else [
                name
                for name in columns
                if name != time_column
                and name not in exog
                and pd.api.types.is_numeric_dtype(frame[name])
            ]
        )
        if not series:
            raise DataError(f"data: no numeric columns to forecast besides {time_column!r}")
        long = wide_to_long(frame, time_column, series, exog)
        layout = "wide"
    stamps, reason = parse_dates(long["ds"], date_format, argument=time_column)
    return SeriesTable(long.assign(ds=stamps), layout, time_column, series, reason)


def wide_to_long(
    frame: pd.DataFrame, time_column: str, series: list[str], exog: Sequence[str] = ()
) -> pd.DataFrame:
    """A wide table (a time column, one column per series) as ``unique_id, ds, y``, with the
    ``exog`` columns repeated for every series.

    Column names are series names, whatever they are: one called ``y`` or ``ds`` is a series
    like any other.
    """
    value = "\x00value"  # a name no column of a CSV file can have
    long = frame.melt(
        id_vars=[time_column, *exog], value_vars=series, var_name="unique_id", value_name=value
    )
    return pd.DataFrame(
        {
            "unique_id": long["unique_id"],
            "ds": long[time_column],
            "y": long[value],
            **{name: long[name] for name in exog},
        }
    )


def profile_series(
    frame: pd.DataFrame | SeriesTable,
    horizon: int,
    target: str | None = None,
    *,
    freq: str | int | None = None,
    date_format: str | None = None,
    exog: Sequence[str] = (),
) -> TaskProfile:
    """Profile ``frame`` as time series to forecast ``horizon`` steps ahead.

    ``frame`` is read by :func:`series_table` (or is its result). The statistics (seasonality,
    trend, intermittency) come from :func:`describe_series`; the frequency is ``freq`` or the
    most common spacing (:func:`~zen.profile.calendar.infer_freq`), and the gaps,
    duplicate stamps and empty values are counted against it
    (:func:`~zen.profile.calendar.describe_gaps`).
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon: expected a positive number of steps, got {horizon!r}")
    table = (
        frame
        if isinstance(frame, SeriesTable)
        else series_table(frame, target, date_format=date_format, exog=exog)
    )
    long = table.long
    statistics, reasons = describe_series(long[list(LONG_COLUMNS)])
    if freq is not None:
        statistics["freq"] = check_freq(freq)
        reasons["freq"] = f"given: {freq!r}"
    else:
        statistics["freq"], reasons["freq"] = infer_freq(long)
    if isinstance(statistics["freq"], int):
        statistics["freq"] = None  # TaskProfile.freq: calendar frequencies only
    gaps = describe_gaps(long, statistics["freq"] or _integer_step(long, freq))
    reasons["freq"] = f"{table.date_reason}; {reasons['freq']}"
    reasons["gaps"] = gaps.describe()
    n_series = int(long["unique_id"].nunique())
    if table.layout == "long":
        reason = f"long time series (unique_id, ds, y): {n_series} series"
    else:
        reason = (
            f"wide time series: {table.time_column!r} is the time axis,"
            f" {len(table.series)} numeric column(s) are series"
        )
    return TaskProfile(
        kind="forecasting",
        reason=reason,
        target=(target or "y") if table.layout == "wide" else "y",
        n_rows=len(frame) if isinstance(frame, pd.DataFrame) else len(long),
        numeric_features=list(table.series),
        horizon=horizon,
        layout=table.layout,
        time_column=table.time_column,
        n_series=n_series,
        n_gaps=gaps.gaps,
        n_duplicates=gaps.duplicates,
        n_missing=gaps.missing,
        reasons=reasons,
        **statistics,
    )


def _integer_step(long: pd.DataFrame, freq: str | int | None) -> int:
    if isinstance(freq, int):
        return freq
    step = infer_freq(long)[0]
    return step if isinstance(step, int) else 1
