"""The time axis of real-world series: read dates, infer the frequency, find and fill gaps.

Data from spreadsheets and loggers rarely arrive as a clean regular grid: dates are written
day-first (``13/01/2024``), days are missing, a value was logged twice. These functions make
such data usable and say what they did:

* :func:`parse_dates`: ISO 8601, or day-first / month-first numeric dates when the values
  decide it (a day above 12), or an explicit ``date_format``.
* :func:`infer_freq`: the most common spacing between stamps, as a pandas frequency; calendar
  spacings (weeks, months, quarters, years, business days) become calendar frequencies.
* :func:`fill_gaps`: every missing step as a row (utilsforecast's ``fill_gaps``, same
  arguments and semantics), for :func:`~zen.forecasting.data.from_long` to fill.
* :func:`describe_gaps`: how many steps are missing, duplicated or empty, per the frequency.

>>> import pandas as pd
>>> df = pd.DataFrame({"unique_id": "a", "y": [1.0, 2.0, 4.0],
...                    "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-04"])})
>>> infer_freq(df)[0]
'D'
>>> fill_gaps(df, freq="D")["y"].tolist()
[1.0, 2.0, nan, 4.0]
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError

#: ``d/m/y`` or ``m/d/y`` with any of these separators (the year last), e.g. ``13/01/2024``.
_DAY_MONTH_YEAR = re.compile(r"^\s*(\d{1,2})([/.\-])(\d{1,2})\2(\d{2}|\d{4})\b")
#: Series looked at to infer a frequency: enough for a stable mode, bounded for huge panels.
_MAX_SERIES_FOR_FREQ = 200


# -- dates -----------------------------------------------------------------------------------


def parse_dates(
    values: pd.Series, date_format: str | None = None, *, argument: str = "ds"
) -> tuple[pd.Series, str]:
    """Timestamps from a column of dates, and how they were read.

    Integers (steps) and datetimes are returned as they are. Text is read with
    ``date_format`` when given (``strftime`` codes, e.g. ``"%d/%m/%Y"``); otherwise as ISO 8601
    (``2024-01-13``, ``2024-01-13 08:00``), then as numeric dates with the year last, where a
    first number above 12 means day-first and a second above 12 month-first; then by pandas'
    own inference.

    Raises:
        DataError: a value does not parse, is empty, or the day/month order is ambiguous (every
            number is 12 or less: ``01/02/2024`` is 1 February or 2 January); the message says
            which ``date_format`` would settle it.

    >>> parse_dates(pd.Series(["13/01/2024", "14/01/2024"]))[1]
    'day-first dates (a day above 12 in 13/01/2024)'
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        return values, "timestamps"
    if pd.api.types.is_integer_dtype(values):
        return values, "integer steps"
    if values.isna().any():
        row = int(np.argmax(values.isna().to_numpy()))
        raise DataError(f"{argument}: row {row} has no date; every row needs a time stamp")
    text = values.astype(str).str.strip()
    if date_format is not None:
        try:
            return pd.to_datetime(text, format=date_format), f"dates in format {date_format!r}"
        except (ValueError, TypeError) as error:
            raise DataError(
                f"date_format: {date_format!r} does not read column {argument!r} ({error});"
                " use strftime codes such as '%d/%m/%Y' or '%Y-%m-%d %H:%M'"
            ) from None
    try:
        return pd.to_datetime(text, format="ISO8601"), "ISO 8601 dates"
    except (ValueError, TypeError):
        pass
    order = _day_month_order(text, argument)
    if order is not None:
        dayfirst, reason = order
        try:
            return pd.to_datetime(text, dayfirst=dayfirst), reason
        except (ValueError, TypeError) as error:
            raise DataError(
                f"{argument}: the dates look {'day' if dayfirst else 'month'}-first but do not"
                f" all parse ({error}); pass date_format (--date-format), e.g. '%d/%m/%Y'"
            ) from None
    try:
        with warnings.catch_warnings():
            # pandas warns when it parses element by element; the reason we return says how
            # the dates were read, and a wrong reading shows up as an irregular series.
            warnings.simplefilter("ignore", UserWarning)
            return pd.to_datetime(text), "dates (format inferred by pandas)"
    except (ValueError, TypeError) as error:
        raise DataError(
            f"{argument}: cannot read {text.iloc[0]!r} as a date ({error}); pass date_format"
            " (--date-format) with strftime codes, e.g. '%d/%m/%Y' or '%Y-%m-%d %H:%M'"
        ) from None


def _day_month_order(text: pd.Series, argument: str) -> tuple[bool, str] | None:
    """``(dayfirst, reason)`` for numeric dates with the year last; None for other text."""
    parts = text.str.extract(_DAY_MONTH_YEAR)
    if parts[0].isna().any():
        return None
    first, second = parts[0].astype(int), parts[2].astype(int)
    day_first, month_first = bool((first > 12).any()), bool((second > 12).any())
    if day_first and month_first:
        raise DataError(
            f"{argument}: dates such as {text[first > 12].iloc[0]!r} and"
            f" {text[second > 12].iloc[0]!r} cannot share one day/month order; fix the column"
        )
    if day_first:
        return True, f"day-first dates (a day above 12 in {text[first > 12].iloc[0]})"
    if month_first:
        return False, f"month-first dates (a day above 12 in {text[second > 12].iloc[0]})"
    separator = parts[1].iloc[0]
    year = "%Y" if len(parts[3].iloc[0]) == 4 else "%y"
    raise DataError(
        f"{argument}: {text.iloc[0]!r} could be day-first or month-first (no day above 12 in"
        f" the column); pass date_format (--date-format) '%d{separator}%m{separator}{year}' or"
        f" '%m{separator}%d{separator}{year}'"
    )


# -- frequency -------------------------------------------------------------------------------


def infer_freq(
    df: pd.DataFrame, id_col: str = "unique_id", time_col: str = "ds"
) -> tuple[str | int, str]:
    """The frequency of ``df``'s time axis from the most common spacing, and why.

    Gaps and a few uneven steps do not matter: the commonest step between consecutive stamps
    of a series decides (over up to 200 series). A step of 7 days becomes a weekly frequency
    anchored on the commonest weekday, 28-31 days monthly (start or end of month), 89-92
    quarterly, 365-366 yearly; one day with no stamp on a weekend, business days. Integer
    ``ds`` give an integer step.

    Raises:
        DataError: no series has two distinct stamps, or the spacing is monthly but not on
            the first or last day of the month (pass ``freq``).
    """
    stamps = df[time_col]
    ids = df[id_col]
    picked = ids.drop_duplicates()
    if len(picked) > _MAX_SERIES_FOR_FREQ:
        picked = picked.iloc[np.linspace(0, len(picked) - 1, _MAX_SERIES_FOR_FREQ).astype(int)]
    sample = df.loc[ids.isin(picked), [id_col, time_col]].sort_values([id_col, time_col])
    if pd.api.types.is_integer_dtype(stamps):
        keys = sample[time_col].to_numpy(np.int64)
    else:
        keys = sample[time_col].to_numpy().astype("datetime64[ns]").astype(np.int64)
    same = sample[id_col].to_numpy()[1:] == sample[id_col].to_numpy()[:-1]
    steps = np.diff(keys)[same]
    steps = steps[steps > 0]
    if not len(steps):
        raise DataError(
            f"{time_col}: no series has two distinct time stamps; cannot tell the frequency"
        )
    distinct, counts = np.unique(steps, return_counts=True)
    step = int(distinct[np.argmax(counts)])
    share = float(counts.max() / counts.sum())
    spacing = f"{share:.0%} of consecutive stamps are"
    if pd.api.types.is_integer_dtype(stamps):
        return step, f"{spacing} {step} apart (integer steps)"
    times = pd.DatetimeIndex(sample[time_col])
    freq = _calendar_freq(pd.Timedelta(step), times, time_col)
    return freq, f"{spacing} {_spoken(pd.Timedelta(step))} apart: frequency {freq!r}"


def _spoken(step: pd.Timedelta) -> str:
    """``1 day``, ``6 hours``, ``0 days 00:15:00`` (pandas' text for anything else)."""
    for unit, name in ((pd.Timedelta(days=1), "day"), (pd.Timedelta(hours=1), "hour")):
        if step % unit == pd.Timedelta(0):
            count = int(step // unit)
            return f"{count} {name}{'s' if count != 1 else ''}"
    return str(step)


def _calendar_freq(step: pd.Timedelta, times: pd.DatetimeIndex, time_col: str) -> str:
    day = pd.Timedelta(days=1)
    if step == day and not (times.day_of_week >= 5).any() and len(times) >= 10:
        return "B"
    days = step / day
    if days == 7:
        weekday = int(pd.Series(times.day_of_week).mode().iloc[0])
        return f"W-{['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'][weekday]}"
    calendar = ((28, 31, "MS", "ME"), (89, 92, "QS", "QE"), (365, 366, "YS", "YE"))
    for low, high, start, end in calendar:
        if low <= days <= high:
            if (times.is_month_start).mean() > 0.9:
                return start
            if (times.is_month_end).mean() > 0.9:
                return end
            raise DataError(
                f"{time_col}: the stamps are about {days:g} days apart but not on the first or"
                " last day of a month; pass freq (--freq), e.g. 'MS' or 'ME'"
            )
    # pandas spells a day as "24h" when it builds an offset from a Timedelta; the alias a
    # person would write is "D".
    units = (("D", pd.Timedelta(days=1)), ("h", pd.Timedelta(hours=1)),
             ("min", pd.Timedelta(minutes=1)), ("s", pd.Timedelta(seconds=1)))  # fmt: skip
    for alias, unit in units:
        if step % unit == pd.Timedelta(0):
            multiple = int(step // unit)
            return alias if multiple == 1 else f"{multiple}{alias}"
    return str(pd.tseries.frequencies.to_offset(step).freqstr)


def check_freq(freq: str | int) -> str | int:
    """``freq`` if pandas knows it (or a positive integer step); a ConfigError otherwise."""
    if isinstance(freq, int) and not isinstance(freq, bool):
        if freq < 1:
            raise ConfigError(f"freq: an integer step must be positive, got {freq}")
        return freq
    try:
        pd.tseries.frequencies.to_offset(freq)
    except (ValueError, TypeError):
        raise ConfigError(
            f"freq: {freq!r} is not a pandas frequency; use e.g. 'h', 'D', 'W', 'MS' or '15min'"
        ) from None
    return freq


# -- gaps ------------------------------------------------------------------------------------


def _grid(first: object, last: object, freq: str | int) -> np.ndarray:
    if isinstance(freq, int):
        return np.arange(int(first), int(last) + 1, freq)  # type: ignore[call-overload]
    return pd.date_range(first, last, freq=freq).to_numpy()


def fill_gaps(
    df: pd.DataFrame,
    freq: str | int,
    start: str | object = "per_serie",
    end: str | object = "global",
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> pd.DataFrame:
    """``df`` with a row for every step of each series' range; new rows are empty (NaN).

    The same arguments and meaning as ``utilsforecast.preprocessing.fill_gaps``: each series
    runs from ``start`` to ``end``, where ``"per_serie"`` is the series' own first (or last)
    stamp, ``"global"`` the earliest (or latest) stamp of any series, and a timestamp (or
    integer) is that point. Rows that are not on the grid are kept, so no value is lost.

    Args:
        freq: pandas frequency (``"D"``, ``"h"``, ``"MS"``) or an integer step for integer ``ds``.

    Returns:
        The rows sorted by ``id_col`` and ``time_col``, with a fresh index.
    """
    check_freq(freq)
    if df.empty:
        return df.copy()
    bounds = df.groupby(id_col, sort=True)[time_col].agg(["min", "max"])
    for which, value in (("start", start), ("end", end)):
        if isinstance(value, str) and value not in ("per_serie", "global"):
            raise ConfigError(
                f"{which}: expected 'per_serie', 'global' or a time stamp, got {value!r}"
            )
    first = (
        bounds["min"]
        if start == "per_serie"
        else pd.Series(bounds["min"].min() if start == "global" else start, index=bounds.index)
    )
    last = (
        bounds["max"]
        if end == "per_serie"
        else pd.Series(bounds["max"].max() if end == "global" else end, index=bounds.index)
    )
    grids = [_grid(first[key], last[key], freq) for key in bounds.index]
    full = pd.DataFrame(
        {
            id_col: np.repeat(bounds.index.to_numpy(), [len(grid) for grid in grids]),
            time_col: np.concatenate(grids) if grids else np.array([]),
        }
    )
    if not isinstance(freq, int):
        full[time_col] = full[time_col].astype(df[time_col].dtype)
    merged = full.merge(df, on=[id_col, time_col], how="outer", sort=False)
    merged = merged.sort_values([id_col, time_col], kind="stable", ignore_index=True)
    return merged[list(df.columns)]


@dataclass(frozen=True)
class GapReport:
    """What is missing or repeated on a series' time axis.

    Attributes:
        gaps: steps of the grid (from each series' first to last stamp) with no row.
        duplicates: rows whose ``(unique_id, ds)`` an earlier row already has.
        missing: rows with an empty target (NaN), after the series' first value.
        off_grid: rows whose stamp is not a whole number of steps from the series' start.
        series_with_gaps: series with at least one gap or empty value.
    """

    gaps: int
    duplicates: int
    missing: int
    off_grid: int
    series_with_gaps: int

    def describe(self) -> str:
        """One sentence for reports: what was found."""
        parts = [
            f"{self.gaps} missing time step(s)",
            f"{self.missing} empty value(s)",
            f"{self.duplicates} duplicate time stamp(s)",
        ]
        if self.off_grid:
            parts.append(f"{self.off_grid} stamp(s) off the frequency's grid")
        return ", ".join(parts) + f" in {self.series_with_gaps} series"


def describe_gaps(
    df: pd.DataFrame,
    freq: str | int,
    target: str = "y",
    id_col: str = "unique_id",
    time_col: str = "ds",
) -> GapReport:
    """Count the gaps, duplicates, empty values and off-grid stamps of ``df`` (see
    :class:`GapReport`)."""
    duplicated = df.duplicated([id_col, time_col])
    unique = df.loc[~duplicated]
    filled = fill_gaps(unique[[id_col, time_col]], freq, end="per_serie", id_col=id_col,
                       time_col=time_col)  # fmt: skip
    on_grid = _on_grid(unique, freq, id_col, time_col)
    added = len(filled) - len(unique)
    empty = unique[target].isna() if target in unique else pd.Series(False, index=unique.index)
    affected = set(unique.loc[empty, id_col])
    if added:
        sizes = filled.groupby(id_col).size() - unique.groupby(id_col).size()
        affected |= set(sizes[sizes > 0].index)
    return GapReport(
        gaps=int(added - (~on_grid).sum()),
        duplicates=int(duplicated.sum()),
        missing=int(empty.sum()),
        off_grid=int((~on_grid).sum()),
        series_with_gaps=len(affected),
    )


def _on_grid(df: pd.DataFrame, freq: str | int, id_col: str, time_col: str) -> pd.Series:
    """Whether each stamp lies a whole number of ``freq`` steps after its series' start."""
    start = df.groupby(id_col)[time_col].transform("min")
    if isinstance(freq, int):
        return ((df[time_col] - start) % freq) == 0
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        step = pd.Timedelta(offset).value
    except ValueError:  # calendar offsets (months, weeks): a stamp is on the grid if rolling
        # it onto the offset leaves it unchanged
        return pd.Series(
            [offset.is_on_offset(stamp) for stamp in df[time_col]], index=df.index, dtype=bool
        )
    elapsed = (df[time_col] - start).to_numpy().astype("timedelta64[ns]").astype(np.int64)
    return pd.Series((elapsed % step) == 0, index=df.index)


def mean_of_duplicates(
    df: pd.DataFrame, columns: Sequence[str], id_col: str = "unique_id", time_col: str = "ds"
) -> pd.DataFrame:
    """One row per ``(id_col, time_col)``: repeated stamps averaged over ``columns`` (NaN
    ignored), other columns from the first of them."""
    if not df.duplicated([id_col, time_col]).any():
        return df
    grouped = df.groupby([id_col, time_col], sort=False)
    first = grouped.first()
    first[list(columns)] = grouped[list(columns)].mean()
    return first.reset_index()[list(df.columns)]
