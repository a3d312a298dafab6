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

    def select(self, ids: np.ndarray) -> SeriesData:
        """The series whose ``unique_id`` is in ``ids``, in the order given."""
        position = {key: i for i, key in enumerate(self.ids)}
        missing = [key for key in ids if key not in position]
        if missing:
            raise DataError(f"unique_id: unknown series {missing[:5]}")
        order = [position[key] for key in ids]
        pieces = [self.series(i) for i in order]
        indptr = np.concatenate([[0], np.cumsum([len(piece) for piece in pieces])])
        return SeriesData(
            np.asarray(ids, dtype=object),
            torch.cat(pieces),
            indptr,
            self.last_ds[order],
            self.freq,
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

    data = frame[list(REQUIRED_COLUMNS)].copy()
    integer_ds = pd.api.types.is_integer_dtype(data["ds"])
    if not integer_ds:
        try:
            data["ds"] = pd.to_datetime(data["ds"])
        except (ValueError, TypeError) as error:
            raise DataError(
                f"{name}: column 'ds' is neither integers nor timestamps ({error})"
            ) from None
    if not pd.api.types.is_numeric_dtype(data["y"]):
        raise DataError(f"{name}: column 'y' must be numeric, got dtype {data['y'].dtype}")

    duplicated = data.duplicated(["unique_id", "ds"], keep=False)
    if duplicated.any():
        first = data[duplicated].iloc[0]
        count = int(data[duplicated].groupby("unique_id").size().iloc[0] // 2 or 1)
        raise DataError(
            f"{name}: duplicate (unique_id, ds) rows, e.g. unique_id {first['unique_id']!r} at"
            f" {first['ds']} ({count}+ duplicates); drop or aggregate them"
        )
    # Sorting is cheap and harmless; irregular spacing after sorting is the real problem.
    data = data.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    resolved_freq = _resolve_freq(data, freq, integer_ds, name)
    _check_regular(data, resolved_freq, integer_ds, name)
    y = _fill(data, fill_missing, name)

    sizes = data.groupby("unique_id", sort=False).size()
    ids = sizes.index.to_numpy(dtype=object)
    indptr = np.concatenate([[0], np.cumsum(sizes.to_numpy())]).astype(np.int64)
    last_ds = data["ds"].to_numpy()[indptr[1:] - 1]
    return SeriesData(ids, torch.from_numpy(y.astype(np.float32)), indptr, last_ds, resolved_freq)


def _resolve_freq(
    data: pd.DataFrame, freq: str | int | None, integer_ds: bool, name: str
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
    longest = data.groupby("unique_id").size().idxmax()
    stamps = data.loc[data["unique_id"] == longest, "ds"]
    inferred = None
    if len(stamps) >= 3:
        try:
            inferred = pd.DatetimeIndex(stamps, freq="infer").freqstr
        except ValueError:  # irregular stamps: no frequency to infer
            inferred = None
    if inferred is None:
        raise DataError(
            f"{name}: cannot infer the frequency of 'ds' (series {longest!r});"
            " pass freq='h', 'D', ... explicitly"
        )
    return inferred


def _check_regular(data: pd.DataFrame, freq: str | int, integer_ds: bool, name: str) -> None:
    """Every series must advance by exactly one ``freq`` step between rows."""
    if integer_ds:
        steps = data.groupby("unique_id", sort=False)["ds"].diff().dropna()
        bad = steps[steps != freq]
    else:
        offset = pd.tseries.frequencies.to_offset(freq)
        expected = data.groupby("unique_id", sort=False)["ds"].shift(1) + offset
        bad = data["ds"][expected.notna() & (expected != data["ds"])]
    if len(bad):
        row = data.loc[bad.index[0]]
        previous = data.loc[bad.index[0] - 1, "ds"]
        raise DataError(
            f"{name}: series {row['unique_id']!r} is irregular: {previous} is followed by"
            f" {row['ds']} but freq is {freq!r}; fill the gaps (e.g. reindex to a full range)"
        )


def _fill(data: pd.DataFrame, method: str | None, name: str) -> np.ndarray:
    y = data["y"].astype(np.float64)
    if not np.isfinite(y.dropna()).all():
        raise DataError(f"{name}: column 'y' contains infinite values")
    if not y.isna().any():
        return y.to_numpy()
    if method is None:
        first = data.loc[y.isna()].iloc[0]
        raise DataError(
            f"{name}: y has {int(y.isna().sum())} missing value(s), first in series"
            f" {first['unique_id']!r} at {first['ds']}; pass fill_missing='ffill',"
            " 'interpolate' or 'zero'"
        )
    groups = y.groupby(data["unique_id"], sort=False)
    if method == "zero":
        filled = y.fillna(0.0)
    elif method == "ffill":
        filled = groups.ffill().fillna(groups.bfill())
    else:
        filled = groups.transform(lambda s: s.interpolate(limit_direction="both"))
    if filled.isna().any():
        series = data.loc[filled.isna(), "unique_id"].iloc[0]
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
