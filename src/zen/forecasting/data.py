"""Long-format time series (``unique_id, ds, y``): validation and a compact tensor form.

Every forecasting model reads :class:`SeriesData`: all values of all series concatenated in one
float32 tensor with an offsets array (CSR layout), so windows are cut by index arithmetic and
no per-series Python objects are kept. :func:`from_long` checks the frame once, at the boundary,
and reports problems per series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from zen.errors import DataError

REQUIRED_COLUMNS = ("unique_id", "ds", "y")
FILL_METHODS = ("ffill", "interpolate", "zero")


@dataclass(frozen=True)
class SeriesData:
    """Many series in one tensor.

    Attributes:
        ids: the ``unique_id`` of each series, in order.
        values: every ``y`` value, series after series, float32, shape ``(total_points,)``.
        indptr: ``values[indptr[i]:indptr[i+1]]`` is series ``i``; shape ``(n_series + 1,)``.
        last_ds: the last timestamp (or integer step) of each series.
        freq: the pandas frequency of ``ds`` (``"h"``, ``"D"``...) or ``1`` for integer steps.
    """

    ids: np.ndarray
    values: torch.Tensor
    indptr: np.ndarray
    last_ds: np.ndarray
    freq: str | int

    @property
    def n_series(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Number of observations per series."""
        return np.diff(self.indptr)

    def series(self, index: int) -> torch.Tensor:
        """The values of series ``index``."""
        return self.values[self.indptr[index] : self.indptr[index + 1]]

    def future_ds(self, h: int) -> np.ndarray:
        """Timestamps of the ``h`` steps after each series' end, shape ``(n_series, h)``."""
        if isinstance(self.freq, int):
            steps = np.arange(1, h + 1) * self.freq
            return self.last_ds.astype(np.int64)[:, None] + steps[None, :]
        step = _fixed_step(self.last_ds, self.freq)
        if step is not None:
            unit = np.datetime_data(self.last_ds.dtype)[0]
            offsets = (np.arange(1, h + 1) * step).astype(f"timedelta64[{unit}]")
            return self.last_ds[:, None] + offsets[None, :]
        offset = pd.tseries.frequencies.to_offset(self.freq)
        return np.stack(
            [
                pd.date_range(last, periods=h + 1, freq=offset)[1:].to_numpy()
                for last in self.last_ds
            ]
        )

    def head(self, keep: np.ndarray) -> SeriesData:
        """Each series cut to its first ``keep[i]`` values (for cross-validation cutoffs)."""
        keep = np.asarray(keep, dtype=np.int64)
        if np.any(keep < 1) or np.any(keep > self.lengths):
            raise DataError("head: every series must keep between 1 and all of its values")
        starts = self.indptr[:-1]
        index = np.concatenate([np.arange(s, s + k) for s, k in zip(starts, keep, strict=True)])
        indptr = np.concatenate([[0], np.cumsum(keep)])
        dropped = self.lengths - keep
        last_ds = _shift(self.last_ds, -dropped, self.freq)
        return SeriesData(
            self.ids, self.values[torch.from_numpy(index)], indptr, last_ds, self.freq
        )


def _shift(last_ds: np.ndarray, steps: np.ndarray, freq: str | int) -> np.ndarray:
    if isinstance(freq, int):
        return last_ds.astype(np.int64) + steps * freq
    offset = pd.tseries.frequencies.to_offset(freq)
    return pd.DatetimeIndex(
        [pd.Timestamp(ds) + int(step) * offset for ds, step in zip(last_ds, steps, strict=True)]
    ).to_numpy()


def from_long(
    frame: pd.DataFrame,
    freq: str | int | None = None,
    *,
    fill_missing: str | None = None,
    name: str = "df",
) -> SeriesData:
    """Validate a long data frame and convert it to :class:`SeriesData`.

    Args:
        frame: columns ``unique_id``, ``ds`` (timestamps or integers) and ``y``; any order.
        freq: pandas frequency of ``ds`` (``"h"``, ``"D"``, ``"W-SUN"``...); inferred when None.
            Integer ``ds`` use a step of 1 unless an integer ``freq`` is given.
        fill_missing: what to do with NaN in ``y``: ``None`` raises, ``"ffill"``,
            ``"interpolate"`` (linear) or ``"zero"``.
        name: the argument name used in error messages.

    Raises:
        DataError: missing columns, empty frame, duplicate or unsorted-irregular timestamps,
            NaN in ``y`` (without ``fill_missing``); each message names the series.
    """
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {missing}; expected long format with columns"
            f" unique_id, ds, y (got {list(frame.columns)[:10]})"
        )
    if frame.empty:
        raise DataError(f"{name}: has no rows")
    if fill_missing is not None and fill_missing not in FILL_METHODS:
        raise DataError(
            f"fill_missing: expected one of {FILL_METHODS} or None, got {fill_missing!r}"
        )

    ds = frame["ds"]
    integer_ds = pd.api.types.is_integer_dtype(ds)
    if not integer_ds and not pd.api.types.is_datetime64_any_dtype(ds):
        try:
            ds = pd.to_datetime(ds)
        except (ValueError, TypeError) as error:
            raise DataError(
                f"{name}: column 'ds' is neither integers nor timestamps ({error})"
            ) from None
    if not pd.api.types.is_numeric_dtype(frame["y"]):
        raise DataError(f"{name}: column 'y' must be numeric, got dtype {frame['y'].dtype}")

    # NumPy from here on: pandas' groupby/sort machinery costs milliseconds even for one short
    # series, which would dominate a single-series predict().
    codes, ids = _factorize_ids(frame["unique_id"])
    stamps = ds.to_numpy()
    keys = stamps.astype(np.int64) if integer_ds else stamps.view(np.int64)
    order = np.lexsort((keys, codes))
    codes, stamps, keys = codes[order], stamps[order], keys[order]
    y = frame["y"].to_numpy(dtype=np.float64)[order]
    same_series = codes[1:] == codes[:-1]
    steps = np.diff(keys)

    duplicated = same_series & (steps == 0)
    if duplicated.any():
        first = int(np.argmax(duplicated))
        raise DataError(
            f"{name}: duplicate (unique_id, ds) rows, e.g. unique_id {ids[codes[first]]!r} at"
            f" {stamps[first]} ({int(duplicated.sum())} duplicate(s)); drop or aggregate them"
        )
    indptr = np.concatenate([[0], np.flatnonzero(~same_series) + 1, [len(codes)]]).astype(np.int64)
    longest = int(np.argmax(np.diff(indptr)))
    resolved_freq = _resolve_freq(
        stamps[indptr[longest] : indptr[longest + 1]], freq, integer_ds, ids[longest], name
    )
    irregular = same_series & ~_regular_steps(stamps, keys, resolved_freq, integer_ds)
    if irregular.any():
        first = int(np.argmax(irregular))
        raise DataError(
            f"{name}: series {ids[codes[first]]!r} is irregular: {stamps[first]} is followed by"
            f" {stamps[first + 1]} but freq is {resolved_freq!r}; fill the gaps (e.g. reindex"
            " to a full range)"
        )
    y = _fill(y, codes, ids, stamps, fill_missing, name)
    return SeriesData(
        np.asarray(ids, dtype=object),
        torch.from_numpy(y.astype(np.float32)),
        indptr,
        stamps[indptr[1:] - 1],
        resolved_freq,
    )


def _factorize_ids(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and sorted unique ids; one series (the predict() case) skips the hashing."""
    values = column.to_numpy()
    if len(values) and (values == values[0]).all():
        return np.zeros(len(values), dtype=np.intp), np.asarray([values[0]], dtype=object)
    codes, ids = pd.factorize(column, sort=True)
    return codes, np.asarray(ids, dtype=object)


def _resolve_freq(
    stamps: np.ndarray, freq: str | int | None, integer_ds: bool, series: object, name: str
) -> str | int:
    if integer_ds:
        if freq is None:
            return 1
        if not isinstance(freq, int) or freq < 1:
            raise DataError(f"freq: integer ds need an integer step >= 1, got {freq!r}")
        return freq
    if isinstance(freq, str):
        try:
            pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            raise DataError(
                f"freq: {freq!r} is not a pandas frequency (e.g. 'h', 'D', 'W')"
            ) from None
        return freq
    if freq is not None:
        raise DataError(f"freq: timestamps need a pandas frequency string, got {freq!r}")
    inferred = None
    if len(stamps) >= 3:
        try:
            inferred = pd.DatetimeIndex(stamps, freq="infer").freqstr
        except ValueError:  # irregular stamps: no frequency to infer
            inferred = None
    if inferred is None:
        raise DataError(
            f"{name}: cannot infer the frequency of 'ds' (series {series!r});"
            " pass freq='h', 'D', ... explicitly"
        )
    return inferred


def _fixed_step(stamps: np.ndarray, freq: str) -> int | None:
    """``freq`` in the integer units of ``stamps``, or None for calendar offsets (months...)."""
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
    except (ValueError, TypeError):
        return None
    unit = np.datetime_data(stamps.dtype)[0]
    return int(step.to_timedelta64().astype(f"timedelta64[{unit}]").astype(np.int64))


def _regular_steps(
    stamps: np.ndarray, keys: np.ndarray, freq: str | int, integer_ds: bool
) -> np.ndarray:
    """For each consecutive pair of rows: does the second follow the first by one ``freq``?"""
    if integer_ds:
        return np.diff(keys) == freq
    step = _fixed_step(stamps, str(freq))
    if step is not None:
        return np.diff(keys) == step
    offset = pd.tseries.frequencies.to_offset(freq)
    expected = (pd.DatetimeIndex(stamps[:-1]) + offset).to_numpy()
    return expected == stamps[1:]


def _fill(
    y: np.ndarray,
    codes: np.ndarray,
    ids: np.ndarray,
    stamps: np.ndarray,
    method: str | None,
    name: str,
) -> np.ndarray:
    if np.isinf(y).any():
        raise DataError(f"{name}: column 'y' contains infinite values")
    missing = np.isnan(y)
    if not missing.any():
        return y
    if method is None:
        first = int(np.argmax(missing))
        raise DataError(
            f"{name}: y has {int(missing.sum())} missing value(s), first in series"
            f" {ids[codes[first]]!r} at {stamps[first]}; pass fill_missing='ffill',"
            " 'interpolate' or 'zero'"
        )
    values = pd.Series(y)
    groups = values.groupby(codes, sort=False)
    if method == "zero":
        filled = values.fillna(0.0)
    elif method == "ffill":
        filled = groups.ffill().fillna(groups.bfill())
    else:
        filled = groups.transform(lambda part: part.interpolate(limit_direction="both"))
    if filled.isna().any():
        series = ids[codes[int(np.argmax(filled.isna().to_numpy()))]]
        raise DataError(f"{name}: series {series!r} has no observed y value to fill from")
    return filled.to_numpy()


def check_min_length(data: SeriesData, input_size: int, h: int, name: str = "df") -> None:
    """Raise a DataError naming the series shorter than ``input_size + h``, and what would work."""
    needed = input_size + h
    short = np.flatnonzero(data.lengths < needed)
    if len(short):
        shortest = int(data.lengths.min())
        examples = ", ".join(repr(data.ids[i]) for i in short[:5])
        raise DataError(
            f"{name}: {len(short)} series are shorter than input_size + h = {input_size} + {h}"
            f" (e.g. {examples}; the shortest has {shortest} values); use input_size <="
            f" {max(shortest - h, 1)} or drop those series"
        )
