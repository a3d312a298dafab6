"""Reading sequences from a long table: one row per time step, one column per channel.

The layout (column names are arguments)::

    sequence_id, t,                   x,    y,    label
    walk-1,      2024-01-01 00:00:00, 0.1,  2.0,  walk
    walk-1,      2024-01-01 00:00:01, 0.3,  ,     walk
    run-7,       2024-01-01 00:00:00, 1.2,  0.4,  run

Rows may come in any order; each sequence's rows are put in ``t`` order (numbers or
datetimes), sequences keep the order of their first row. Steps are taken as regularly spaced:
``t`` orders them, it is not used to weight the interpolation of missing values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, NoReturn

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError, expect_one_of
from zen.neural.datasets.filling import fill_missing, pad_cases
from zen.neural.datasets.sequence_set import SequenceSet

RowName = Callable[[int], str]


def read_sequence_csv(
    path_or_frame: str | Path | pd.DataFrame,
    *,
    id_column: str = "sequence_id",
    time_column: str = "t",
    label_column: str | None = "label",
    value_columns: Sequence[str] | None = None,
    task: Literal["classification", "regression"] | None = None,
    classes: Sequence[str] | None = None,
    name: str | None = None,
) -> SequenceSet:
    """Read a long CSV file (or DataFrame) of sequences into a :class:`SequenceSet`.

    Args:
        path_or_frame: a CSV file (``?`` and empty cells are missing values) or a DataFrame.
        id_column: the column naming each row's sequence.
        time_column: the column ordering the rows of a sequence: numbers or datetimes
            (ISO 8601 text, or any format pandas recognises).
        label_column: the column holding each sequence's label, the same on all its rows;
            ``None`` for unlabeled sequences (data to predict on).
        value_columns: the channels, in order; default every other column.
        task: ``"classification"`` or ``"regression"``; by default regression when the labels
            are numbers that are not all whole, classification otherwise.
        classes: the class labels in the order :meth:`SequenceSet.label_codes` numbers them;
            by default the labels found, sorted (numerically when they are numbers).
        name: the set's name; default the file's stem.

    Returns:
        The sequences, NaN-padded after each one's end; missing values inside a sequence are
        interpolated per channel (leading ones take the first observed value) and steps at a
        sequence's end where every channel is missing are dropped.

    Raises:
        DataError: naming the column and the sequence (or line): a column not found, a value
            or time that cannot be read, a repeated time within a sequence, a sequence with
            two labels, a channel with no value in a sequence, a label not in ``classes``.
        ConfigError: an unknown ``task``, or ``task``/``classes`` without a label column.

    >>> frame = pd.DataFrame({"sequence_id": ["a", "a", "b"], "t": [1, 0, 0],
    ...                       "x": [2.0, 1.0, 5.0], "label": ["up", "up", "flat"]})
    >>> s = read_sequence_csv(frame)
    >>> s.X[:, 0], s.classes, s.y.tolist()
    (array([[ 1.,  2.],
           [ 5., nan]], dtype=float32), ('flat', 'up'), ['up', 'flat'])
    """
    if task is not None and task not in ("classification", "regression"):
        raise expect_one_of("task", task, ("classification", "regression"))
    if label_column is None and (task is not None or classes is not None):
        raise ConfigError("task/classes: need a label column; got label_column=None")
    if task == "regression" and classes is not None:
        raise ConfigError(f"classes: a regression task has none, got {list(classes)}")
    frame, source, row_name = _open(path_or_frame)
    values_from = _value_columns(frame, source, id_column, time_column, label_column, value_columns)
    if frame.empty:
        raise DataError(f"{source}: has no rows")

    ids = frame[id_column]
    if ids.isna().any():
        raise DataError(
            f"{source}: column {id_column!r} is empty at {row_name(_first(ids.isna()))}"
        )
    codes, sequence_ids = pd.factorize(ids, sort=False)
    describe = [f"sequence {_shown(sequence_id)}" for sequence_id in sequence_ids]
    times = _time_keys(frame[time_column], source, time_column, row_name)
    values = np.column_stack(
        [_numbers(frame[column], source, column, row_name) for column in values_from]
    )

    X, lengths = _assemble(
        codes,
        times,
        values,
        where=[f"{source}: {sequence}" for sequence in describe],
        channel_names=[f"column {column!r}" for column in values_from],
        repeated_time=lambda row: DataError(
            f"{source}: {describe[codes[row]]} has two rows at {time_column}="
            f"{_shown(frame[time_column].iloc[row])} ({row_name(row)}); drop or aggregate them"
        ),
    )
    if name is None:
        name = "sequences" if isinstance(path_or_frame, pd.DataFrame) else Path(path_or_frame).stem
    if label_column is None:
        return SequenceSet(X, None, lengths, name=name, task="unlabeled")
    labels = _sequence_labels(frame[label_column], codes, source, label_column, describe, row_name)
    return _labelled(X, lengths, labels, task, classes, name, source, describe)


def _assemble(
    codes: np.ndarray,
    times: np.ndarray,
    values: np.ndarray,
    *,
    where: list[str],
    channel_names: list[str],
    repeated_time: Callable[[int], DataError],
) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``(sequence code, time, channel values)`` in any order -> NaN-padded ``X, lengths``.

    Args:
        codes: int ``(rows,)``, the sequence of each row, ``0..n_sequences-1``.
        times: ``(rows,)`` sortable keys.
        values: float64 ``(rows, channels)``, NaN where missing.
        where: names each sequence in error messages.
        channel_names: names each channel in error messages.
        repeated_time: the error for a row whose sequence already has a row at its time.
    """
    order = np.lexsort((times, codes))  # by sequence, then by time
    sorted_codes, sorted_times = codes[order], times[order]
    repeated = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_times[1:] == sorted_times[:-1])
    if repeated.any():
        raise repeated_time(int(order[_first(repeated) + 1]))
    counts = np.bincount(codes, minlength=len(where))
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    raw = np.full((len(where), values.shape[1], int(counts.max())), np.nan)
    # Each sorted row goes to its sequence, at its rank within that sequence.
    raw[sorted_codes, :, np.arange(len(order)) - starts[sorted_codes]] = values[order]
    filled = [
        fill_missing(
            raw[index, :, : counts[index]],
            where=where[index],
            channel_names=channel_names,
            trim_end=True,
        )
        for index in range(len(where))
    ]
    return pad_cases(filled)


def _open(path_or_frame: str | Path | pd.DataFrame) -> tuple[pd.DataFrame, str, RowName]:
    """The table, how to name it in errors, and how to name one of its rows."""
    if isinstance(path_or_frame, pd.DataFrame):
        return path_or_frame, "the frame", lambda row: f"row {row}"
    path = Path(path_or_frame)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a long CSV of sequences)")
    try:
        frame = pd.read_csv(path, na_values=["?"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path}: cannot be read as CSV: {error}") from None
    # Line 1 is the header row.
    return frame, str(path), lambda row: f"line {row + 2}"


def _value_columns(
    frame: pd.DataFrame,
    source: str,
    id_column: str,
    time_column: str,
    label_column: str | None,
    value_columns: Sequence[str] | None,
) -> list[str]:
    keys = [id_column, time_column] + ([label_column] if label_column is not None else [])
    for column in [*keys, *(value_columns or [])]:
        if column not in frame.columns:
            hint = (
                "; pass label_column=None for unlabeled sequences" if column == label_column else ""
            )
            raise DataError(
                f"{source}: column {column!r} not found; columns are {list(frame.columns)}{hint}"
            )
    if value_columns is None:
        value_columns = [column for column in frame.columns if column not in keys]
    elif set(value_columns) & set(keys):
        raise ConfigError(
            f"value_columns: {sorted(set(value_columns) & set(keys))} are id, time or label"
            " columns, not values"
        )
    if not value_columns:
        raise DataError(f"{source}: no value column besides {keys}")
    return list(value_columns)


def _shown(value: object) -> str:
    """A cell as it would be written in Python (``'a'``, ``3``), not numpy's ``np.int64(3)``."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first(flags: pd.Series | np.ndarray) -> int:
    return int(np.flatnonzero(np.asarray(flags))[0])


def _time_keys(series: pd.Series, source: str, column: str, row_name: RowName) -> np.ndarray:
    """Sortable keys for the time column: float64 for numbers, int64 nanoseconds for datetimes."""
    if series.isna().any():
        raise DataError(
            f"{source}: column {column!r} is empty at {row_name(_first(series.isna()))}"
        )
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = series if series.dt.tz is None else series.dt.tz_convert(None)
        return np.asarray(stamps).astype("datetime64[ns]").astype(np.int64)
    if pd.api.types.is_bool_dtype(series):
        raise DataError(
            f"{source}: column {column!r} holds booleans; expected numbers or datetimes"
        )
    numbers = pd.to_numeric(series, errors="coerce")
    if numbers.notna().all():
        return numbers.to_numpy(dtype=np.float64)
    if numbers.notna().any():  # numbers and text mixed: the text is the odd one out
        _refuse_time(series, numbers.isna(), source, column, row_name)
    text = series.astype(str)
    try:
        # ISO 8601 first: fast and unambiguous; then element-wise (slower, guesses).
        stamps = pd.to_datetime(text, format="ISO8601", utc=True)
    except (ValueError, TypeError):
        stamps = pd.to_datetime(text, format="mixed", utc=True, errors="coerce")
        if stamps.isna().any():
            _refuse_time(series, stamps.isna(), source, column, row_name)
    stamps = stamps.dt.tz_convert(None)
    return np.asarray(stamps).astype("datetime64[ns]").astype(np.int64)


def _refuse_time(
    series: pd.Series, unreadable: pd.Series, source: str, column: str, row_name: RowName
) -> NoReturn:
    row = _first(unreadable)
    raise DataError(
        f"{source}: column {column!r} at {row_name(row)}: {_shown(series.iloc[row])} is neither"
        " a number nor a datetime (like the column's other values)"
    )


def _numbers(series: pd.Series, source: str, column: str, row_name: RowName) -> np.ndarray:
    """A value column as float64, NaN where missing."""
    if pd.api.types.is_numeric_dtype(series):
        numbers = series.astype(np.float64)
    else:
        numbers = pd.to_numeric(series, errors="coerce")
        unreadable = numbers.isna() & series.notna()
        if unreadable.any():
            row = _first(unreadable)
            raise DataError(
                f"{source}: column {column!r} at {row_name(row)}: {_shown(series.iloc[row])}"
                " is not a number (leave the cell empty or write '?' for a missing value)"
            )
    array = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(array).any():
        raise DataError(
            f"{source}: column {column!r} is infinite at {row_name(_first(np.isinf(array)))}"
        )
    return array


def _sequence_labels(
    series: pd.Series,
    codes: np.ndarray,
    source: str,
    column: str,
    describe: list[str],
    row_name: RowName,
) -> pd.Series:
    """One label per sequence (its first row's), checking that its other rows agree."""
    if series.isna().any():
        row = _first(series.isna())
        raise DataError(
            f"{source}: column {column!r} is empty at {row_name(row)} ({describe[codes[row]]})"
        )
    _, first_rows = np.unique(codes, return_index=True)
    labels = series.iloc[first_rows].reset_index(drop=True)
    disagree = series.to_numpy() != labels.to_numpy()[codes]
    if disagree.any():
        row = _first(disagree)
        raise DataError(
            f"{source}: {describe[codes[row]]} has two labels in column {column!r}:"
            f" {_shown(labels.iloc[codes[row]])} and {_shown(series.iloc[row])}"
            f" ({row_name(row)}); a sequence has one label"
        )
    return labels


def _labelled(
    X: np.ndarray,
    lengths: np.ndarray,
    labels: pd.Series,
    task: str | None,
    classes: Sequence[str] | None,
    name: str,
    source: str,
    describe: list[str],
) -> SequenceSet:
    numeric = pd.api.types.is_numeric_dtype(labels) and not pd.api.types.is_bool_dtype(labels)
    if task is None:
        fractional = numeric and bool((labels.to_numpy(dtype=np.float64) % 1 != 0).any())
        task = "regression" if fractional else "classification"
    if task == "regression":
        targets = pd.to_numeric(labels, errors="coerce")
        if targets.isna().any():
            index = _first(targets.isna())
            raise DataError(
                f"{source}: {describe[index]} has label {_shown(labels.iloc[index])}, not a number"
                " (task='regression')"
            )
        return SequenceSet(X, targets.to_numpy(np.float64), lengths, name=name, task="regression")
    if numeric:
        order = np.argsort(labels.to_numpy(dtype=np.float64), kind="stable")
        text = np.array([_label_text(value) for value in labels.tolist()])
        found = tuple(dict.fromkeys(text[order].tolist()))
    else:
        text = labels.astype(str).to_numpy(dtype=str)
        found = tuple(sorted(set(text.tolist())))
    if classes is None:
        classes = found
    unknown = ~np.isin(text, np.array([str(label) for label in classes]))
    if unknown.any():
        index = _first(unknown)
        raise DataError(
            f"{source}: {describe[index]} has label {str(text[index])!r}, not one of classes"
            f" {tuple(classes)}"
        )
    return SequenceSet(X, text, lengths, classes=tuple(classes), name=name)


def _label_text(value: object) -> str:
    """A numeric class label as text: whole floats without their '.0' (1.0 -> '1')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
