"""Task detection: the one place that decides classification vs regression, with a reason."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.orchestrator import detect_task, profile_table


@pytest.mark.parametrize(
    ("values", "kind", "reason"),
    [
        (["cat", "dog"] * 10, "classification", "labels"),
        ([True, False] * 10, "classification", "labels"),
        ([0, 1] * 10, "classification", "binary"),
        (list(range(10)) * 10, "classification", "10 distinct integer values"),
        (np.linspace(0, 1, 50), "regression", "fractional"),
        (list(range(200)), "regression", "too many for classes"),
        # 15 values but only 2 rows each: counts, not classes.
        (list(range(15)) * 2, "regression", "too many for classes"),
    ],
)
def test_detects_task_from_the_target(values, kind, reason) -> None:
    detected, why = detect_task(pd.Series(values, name="y"))
    assert detected == kind
    assert reason in why and "'y'" in why


def test_profile_splits_features_by_type_and_drops_missing_targets() -> None:
    frame = pd.DataFrame(
        {
            "size": [1.0, 2.0, 3.0, 4.0],
            "color": ["r", "g", "b", "r"],
            "ok": [True, False, True, True],
            "y": [1.5, None, 2.5, 3.5],
        }
    )
    profile = profile_table(frame, "y")
    assert profile.kind == "regression"
    assert profile.numeric_features == ["size"]
    assert profile.categorical_features == ["color", "ok"]
    assert profile.n_rows == 3 and profile.dropped_rows == 1


def test_task_can_be_forced() -> None:
    frame = pd.DataFrame({"x": range(40), "y": [0, 1, 2, 3] * 10})
    profile = profile_table(frame, "y", task="regression")
    assert profile.kind == "regression" and "set to regression" in profile.reason


@pytest.mark.parametrize(
    ("frame", "target", "task", "error", "message"),
    [
        (pd.DataFrame({"x": [1], "y": [1]}), "z", "auto", DataError, "column 'z' not found"),
        (pd.DataFrame({"y": [1, 2]}), "y", "auto", DataError, "no feature columns"),
        (pd.DataFrame({"x": [1], "y": [None]}), "y", "auto", DataError, "every value is missing"),
        (pd.DataFrame({"x": [1], "y": [1]}), "y", "ranking", ConfigError, "task: unknown"),
        (pd.DataFrame({"x": [1], "y": ["a"]}), "y", "regression", ConfigError, "numeric target"),
    ],
)
def test_bad_profile_requests(frame, target, task, error, message) -> None:
    with pytest.raises(error, match=message):
        profile_table(frame, target, task)
