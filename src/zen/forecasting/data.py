"""Long-format time series (``unique_id, ds, y``): validation and a compact tensor form.

Every forecasting model reads :class:`SeriesData`: all values of all series concatenated in one
float32 tensor with an offsets array (CSR layout), so windows are cut by index arithmetic and
no per-series Python objects are kept. :func:`from_long` checks the frame once, at the boundary,
and reports problems per series.

Exogenous variables ride along in the same layout: temporal columns (historic or future) as a
``(total_points, k)`` tensor beside ``values``, static columns as one row per series
(:func:`with_static`), and the values of future columns over the forecast horizon as
``(n_series, h, k)`` (:func:`with_future`). Models pick their columns by name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
        exog: temporal exogenous columns aligned with ``values``, ``(total_points, k)``.
        exog_names: the names of ``exog``'s columns.
        static: static exogenous values, one row per series, ``(n_series, s)``.
        static_names: the names of ``static``'s columns.
        future: values of temporal exogenous columns over the ``h`` steps after each series'
            end, ``(n_series, h, f)``; what ``futr_df`` supplies at prediction time.
        future_names: the names of ``future``'s columns.
    """

    ids: np.ndarray
    values: torch.Tensor
    indptr: np.ndarray
    last_ds: np.ndarray
    freq: str | int
    exog: torch.Tensor | None = None
    exog_names: tuple[str, ...] = ()
    static: torch.Tensor | None = None
    static_names: tuple[str, ...] = ()
    future: torch.Tensor | None = None
    future_names: tuple[str, ...] = ()

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

    def head(self, keep: np.ndarray, horizon: int = 0) -> SeriesData:
        """Each series cut to its first ``keep[i]`` values (for cross-validation cutoffs).

        With ``horizon > 0``, the temporal exogenous values of the ``horizon`` steps after each
        cut become the result's ``future``, as ``futr_df`` would supply them at that cutoff.
        """
        keep = np.asarray(keep, dtype=np.int64)
        if np.any(keep < 1) or np.any(keep + horizon > self.lengths):
            raise DataError(
                f"head: every series must keep between 1 and all of its values (less {horizon}"
                " future steps)"
            )
        starts = self.indptr[:-1]
        index = torch.from_numpy(
            np.concatenate([np.arange(s, s + k) for s, k in zip(starts, keep, strict=True)])
        )
        indptr = np.concatenate([[0], np.cumsum(keep)])
        dropped = self.lengths - keep
        cut = dataclasses.replace(
            self,
            values=self.values[index],
            indptr=indptr,
            last_ds=_shift(self.last_ds, -dropped, self.freq),
            future=None,
            future_names=(),
        )
        if self.exog is None:
            return cut
        cut = dataclasses.replace(cut, exog=self.exog[index])
        if horizon:
            after = torch.from_numpy(starts + keep)[:, None] + torch.arange(horizon)
            cut = dataclasses.replace(cut, future=self.exog[after], future_names=self.exog_names)
        return cut

    def exog_columns(self, names: Sequence[str], argument: str) -> torch.Tensor:
        """The temporal exogenous columns ``names``, ``(total_points, len(names))``."""
        return self.exog[:, _positions(self.exog_names, names, argument, "df")]  # type: ignore[index]

    def static_columns(self, names: Sequence[str], argument: str) -> torch.Tensor:
        """The static columns ``names``, ``(n_series, len(names))``."""
        return self.static[:, _positions(self.static_names, names, argument, "static_df")]  # type: ignore[index]

    def future_columns(self, names: Sequence[str], argument: str) -> torch.Tensor:
        """Future values of ``names`` over the horizon, ``(n_series, h, len(names))``."""
        if self.future is None:
            raise DataError(
                f"futr_df: {argument} lists future exogenous variables {list(names)}, so"
                " predict() needs futr_df with their values for the h steps after each series"
            )
        return self.future[..., _positions(self.future_names, names, argument, "futr_df")]


def _positions(
    available: Sequence[str], names: Sequence[str], argument: str, source: str
) -> list[int]:
    missing = [name for name in names if name not in available]
    if missing:
        raise DataError(
            f"{source}: missing exogenous column(s) {missing} listed in {argument}"
            f" (it has {list(available)})"
        )
    return [available.index(name) for name in names]


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
    exog_columns: Sequence[str] = (),
) -> SeriesData:
    """Validate a long data frame and convert it to :class:`SeriesData`.

    Args:
        frame: columns ``unique_id``, ``ds`` (timestamps or integers) and ``y``; any order.
        freq: pandas frequency of ``ds`` (``"h"``, ``"D"``, ``"W-SUN"``...); inferred when None.
            Integer ``ds`` use a step of 1 unless an integer ``freq`` is given.
        fill_missing: what to do with NaN in ``y``: ``None`` raises, ``"ffill"``,
            ``"interpolate"`` (linear) or ``"zero"``.
        name: the argument name used in error messages.
        exog_columns: numeric temporal exogenous columns to keep (``SeriesData.exog``); their
            missing values are filled like ``y``'s.

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
    exog_columns = tuple(exog_columns)
    _check_numeric_columns(frame, exog_columns, name, "exogenous")
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
    y = _fill(y, codes, ids, stamps, fill_missing, name, "y")
    exog = None
    if exog_columns:
        columns = frame[list(exog_columns)].to_numpy(dtype=np.float64)[order]
        exog = np.stack(
            [
                _fill(column, codes, ids, stamps, fill_missing, name, label)
                for column, label in zip(columns.T, exog_columns, strict=True)
            ],
            axis=1,
        )
    return SeriesData(
        np.asarray(ids, dtype=object),
        torch.from_numpy(y.astype(np.float32)),
        indptr,
        stamps[indptr[1:] - 1],
        resolved_freq,
        exog=None if exog is None else torch.from_numpy(exog.astype(np.float32)),
        exog_names=exog_columns,
    )


def with_static(
    data: SeriesData, static_df: pd.DataFrame, columns: Sequence[str], name: str = "static_df"
) -> SeriesData:
    """``data`` with the static exogenous ``columns`` of ``static_df`` (one row per series).

    Raises:
        DataError: ``static_df`` lacks ``unique_id`` or a column, repeats a series, misses a
            series of ``data``, or has non-numeric or missing values.
    """
    columns = tuple(columns)
    if not isinstance(static_df, pd.DataFrame):
        raise DataError(f"{name}: expected a pandas DataFrame, got {type(static_df).__name__}")
    if "unique_id" not in static_df.columns:
        raise DataError(f"{name}: missing column 'unique_id' (one row per series)")
    _check_numeric_columns(static_df, columns, name, "static exogenous")
    repeated = static_df["unique_id"].duplicated()
    if repeated.any():
        raise DataError(
            f"{name}: series {static_df['unique_id'][repeated].iloc[0]!r} has more than one row;"
            " static variables take one row per unique_id"
        )
    rows = static_df.set_index("unique_id").reindex(pd.Index(data.ids))[list(columns)]
    absent = rows.isna().any(axis=1).to_numpy()
    if absent.any():
        raise DataError(
            f"{name}: no complete row of {list(columns)} for series {data.ids[absent][0]!r}"
            f" ({int(absent.sum())} series affected)"
        )
    values = torch.tensor(rows.to_numpy(dtype=np.float32))
    return dataclasses.replace(data, static=values, static_names=columns)


def with_future(
    data: SeriesData,
    futr_df: pd.DataFrame,
    columns: Sequence[str],
    h: int,
    name: str = "futr_df",
) -> SeriesData:
    """``data`` with the values of ``columns`` over the ``h`` steps after each series' end.

    ``futr_df`` has ``unique_id``, ``ds`` and the columns; it needs a row for every series and
    future timestamp (extra rows are ignored).

    Raises:
        DataError: a missing column, a missing (series, timestamp) row, or missing values.
    """
    columns = tuple(columns)
    if not isinstance(futr_df, pd.DataFrame):
        raise DataError(f"{name}: expected a pandas DataFrame, got {type(futr_df).__name__}")
    absent = [column for column in ("unique_id", "ds") if column not in futr_df.columns]
    if absent:
        raise DataError(f"{name}: missing column(s) {absent}")
    _check_numeric_columns(futr_df, columns, name, "future exogenous")
    future_ds = data.future_ds(h).reshape(-1)
    wanted = pd.DataFrame({"unique_id": np.repeat(data.ids, h), "ds": future_ds})
    given = futr_df[["unique_id", "ds", *columns]]
    if not isinstance(data.freq, int):
        given = given.assign(ds=pd.to_datetime(given["ds"]))
    matched = wanted.merge(given.drop_duplicates(["unique_id", "ds"]), how="left")
    holes = matched[list(columns)].isna().any(axis=1).to_numpy()
    if holes.any():
        first = int(np.argmax(holes))
        raise DataError(
            f"{name}: no value of {list(columns)} for series {wanted['unique_id'][first]!r} at"
            f" {wanted['ds'][first]} ({int(holes.sum())} of {len(wanted)} future rows missing);"
            f" futr_df needs the {h} steps after the end of every series"
        )
    values = matched[list(columns)].to_numpy(dtype=np.float32).reshape(data.n_series, h, -1)
    return dataclasses.replace(data, future=torch.tensor(values), future_names=columns)


def _check_numeric_columns(
    frame: pd.DataFrame, columns: Sequence[str], name: str, kind: str
) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(
            f"{name}: missing {kind} column(s) {missing} (it has {list(frame.columns)[:10]})"
        )
    for column in columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):  # booleans count as numeric
            raise DataError(
                f"{name}: {kind} column {column!r} must be numeric, got dtype"
                f" {frame[column].dtype}; encode categories as numbers first"
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
    column: str,
) -> np.ndarray:
    if np.isinf(y).any():
        raise DataError(f"{name}: column {column!r} contains infinite values")
    missing = np.isnan(y)
    if not missing.any():
        return y
    if method is None:
        first = int(np.argmax(missing))
        raise DataError(
            f"{name}: {column} has {int(missing.sum())} missing value(s), first in series"
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
        raise DataError(f"{name}: series {series!r} has no observed {column} value to fill from")
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
