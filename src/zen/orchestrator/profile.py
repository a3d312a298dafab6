"""Task profiling: look at the data and say what kind of learning problem it is, and why.

Every entry point that must decide "classification or regression?" (``zen fit``, the router)
asks :func:`profile_table`, so the rule lives in one place and its reason can be shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError

TASK_KINDS = ("classification", "regression")
#: Column names read as the time axis of a wide table, in order of preference.
TIME_COLUMNS = ("ds", "date", "datetime", "timestamp", "time")
LONG_COLUMNS = ("unique_id", "ds", "y")

#: An integer-valued target with at most this many distinct values is read as class labels...
MAX_CLASSES = 20
#: ...provided each class has this many rows on average (otherwise it looks like a count).
MIN_ROWS_PER_CLASS = 5


@dataclass(frozen=True)
class TaskProfile:
    """What :func:`profile_table` found out about a table and its target.

    Attributes:
        kind: ``"classification"`` or ``"regression"``.
        reason: one sentence saying why, for the user.
        target: the target column.
        n_rows: rows with a target value.
        numeric_features / categorical_features: the feature columns by type.
        n_classes: number of distinct labels (classification only).
        dropped_rows: rows dropped because their target was missing.
        horizon, layout, time_column, n_series: for forecasting: steps to forecast, ``"long"``
            (``unique_id, ds, y``) or ``"wide"`` (a time column, one column per series).
    """

    kind: str
    reason: str
    target: str
    n_rows: int
    numeric_features: list[str] = field(default_factory=list)
    categorical_features: list[str] = field(default_factory=list)
    n_classes: int | None = None
    dropped_rows: int = 0
    horizon: int | None = None
    layout: str | None = None
    time_column: str | None = None
    n_series: int | None = None

    @property
    def n_features(self) -> int:
        return len(self.numeric_features) + len(self.categorical_features)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "n_features": self.n_features}


def detect_task(target: pd.Series) -> tuple[str, str]:
    """``(kind, reason)`` for a target column (missing values already removed)."""
    name = target.name
    distinct = int(target.nunique())
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification", f"target {name!r} holds labels ({distinct} distinct values)"
    values = target.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError(f"target {name!r}: contains infinite values")
    if not np.all(values == np.round(values)):
        return "regression", f"target {name!r} holds fractional numbers ({distinct} distinct)"
    if distinct <= 2:
        return "classification", f"target {name!r} has {distinct} integer values: binary labels"
    if distinct <= MAX_CLASSES and len(values) / distinct >= MIN_ROWS_PER_CLASS:
        return (
            "classification",
            f"target {name!r} has {distinct} distinct integer values (<= {MAX_CLASSES}),"
            " read as class labels",
        )
    return (
        "regression",
        f"target {name!r} has {distinct} distinct integer values, too many for classes;"
        " read as a quantity",
    )


def profile_table(frame: pd.DataFrame, target: str, task: str = "auto") -> TaskProfile:
    """Profile ``frame`` for predicting column ``target``.

    Args:
        frame: the table, one row per sample.
        target: the column to predict.
        task: ``"auto"`` to detect, or force ``"classification"`` / ``"regression"``.

    Raises:
        DataError: the target is missing, empty or has no usable rows; no feature columns.
        ConfigError: unknown ``task``; regression asked for a non-numeric target.
    """
    if task not in ("auto", *TASK_KINDS):
        raise ConfigError(f"task: unknown value {task!r}; expected auto, {', '.join(TASK_KINDS)}")
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"target: column {target!r} not found; columns are: {columns}")
    if len(frame.columns) < 2:
        raise DataError("the table has no feature columns besides the target")
    labels = frame[target]
    present = labels.notna()
    if not present.any():
        raise DataError(f"target {target!r}: every value is missing")
    labels = labels[present]
    kind, reason = detect_task(labels)
    if task != "auto":
        if task == "regression" and not pd.api.types.is_numeric_dtype(labels):
            raise ConfigError(f"task='regression' needs a numeric target; {target!r} is text")
        kind, reason = task, f"task set to {task} by the caller"
    features = frame.drop(columns=[target])
    numeric = [
        str(column)
        for column in features.columns
        if pd.api.types.is_numeric_dtype(features[column])
        and not pd.api.types.is_bool_dtype(features[column])
    ]
    categorical = [str(column) for column in features.columns if str(column) not in numeric]
    return TaskProfile(
        kind=kind,
        reason=reason,
        target=target,
        n_rows=int(present.sum()),
        numeric_features=numeric,
        categorical_features=categorical,
        n_classes=int(labels.nunique()) if kind == "classification" else None,
        dropped_rows=int((~present).sum()),
    )


def is_time_series(frame: pd.DataFrame, horizon: int | None) -> tuple[bool, str]:
    """Whether ``frame`` should be forecast, and why: a horizon was asked for, or the frame has
    the long forecasting columns ``unique_id, ds, y``."""
    if horizon is not None:
        return True, f"a forecast horizon was given ({horizon} steps)"
    if set(LONG_COLUMNS) <= set(frame.columns):
        return True, "the table has the long time-series columns unique_id, ds, y"
    return False, "no horizon given and no unique_id/ds/y columns: a table to learn from"


def profile_series(frame: pd.DataFrame, horizon: int, target: str | None = None) -> TaskProfile:
    """Profile ``frame`` as time series to forecast ``horizon`` steps ahead.

    Long frames have ``unique_id, ds, y``. Otherwise the frame is wide: a time column (one of
    :data:`TIME_COLUMNS`) and one numeric column per series, or just ``target`` when given.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon: expected a positive number of steps, got {horizon!r}")
    columns = [str(column) for column in frame.columns]
    if set(LONG_COLUMNS) <= set(columns):
        n_series = int(frame["unique_id"].nunique())
        return TaskProfile(
            kind="forecasting",
            reason=f"long time series (unique_id, ds, y): {n_series} series",
            target="y",
            n_rows=len(frame),
            horizon=horizon,
            layout="long",
            time_column="ds",
            n_series=n_series,
        )
    time_column = next((name for name in TIME_COLUMNS if name in columns), None)
    if time_column is None:
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
            if name != time_column and pd.api.types.is_numeric_dtype(frame[name])
        ]
    )
    if not series:
        raise DataError(f"data: no numeric columns to forecast besides {time_column!r}")
    return TaskProfile(
        kind="forecasting",
        reason=f"wide time series: {time_column!r} is the time axis, {len(series)} numeric"
        f" column(s) are series",
        target=target or "y",
        n_rows=len(frame),
        numeric_features=series,
        horizon=horizon,
        layout="wide",
        time_column=time_column,
        n_series=len(series),
    )
