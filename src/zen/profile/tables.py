"""Tables: is the target a class label or a quantity, and what the feature columns are.

Every entry point that must decide "classification or regression?" (``zen fit``,
``TabularModel``, the router) asks :func:`profile_table`, so the rule lives in one place and its
reason can be shown.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError
from zen.profile.graph_stats import class_balance
from zen.profile.task import MAX_CLASSES, MIN_ROWS_PER_CLASS, TASK_KINDS, TaskProfile


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
    reasons = {
        "n_rows": f"{int(present.sum())} rows have a target value"
        + (f"; {int((~present).sum())} without one are dropped" if not present.all() else ""),
        "n_features": f"{len(numeric)} numeric and {len(categorical)} categorical columns",
    }
    balance = None
    if kind == "classification":
        balance = class_balance(labels.value_counts(), reasons)
    missing_ratio = _table_missing_ratio(features, reasons)
    return TaskProfile(
        kind=kind,
        reason=reason,
        target=target,
        n_rows=int(present.sum()),
        numeric_features=numeric,
        categorical_features=categorical,
        n_classes=int(labels.nunique()) if kind == "classification" else None,
        dropped_rows=int((~present).sum()),
        class_balance=balance,
        missing_ratio=missing_ratio,
        reasons=reasons,
    )


def _table_missing_ratio(features: pd.DataFrame, reasons: dict[str, str]) -> float:
    empty = features.isna().sum()
    cells = features.size
    ratio = float(empty.sum() / cells) if cells else 0.0
    worst = empty[empty > 0].sort_values(ascending=False)
    reasons["missing_ratio"] = f"{int(empty.sum())} of {cells} feature cells are empty" + (
        f" (most in {', '.join(map(repr, worst.index[:3].map(str)))})" if len(worst) else ""
    )
    return ratio
