"""Where a forecasting job chooses and where it reports: a validation window, then a test window.

Rule 6 of the house applied to series. Every series ends with two windows of ``horizon``
steps::

    ... fit ............................ | validation | test |

Candidates train on *fit*, forecast *validation* from the end of *fit*, and forecast *test*
from the end of *validation* (the same fitted model, given the newer values as input, as
neuralforecast's ``cross_validation(refit=False)`` does). The model, and whether the median
ensemble replaces it, are chosen on validation scores only; test scores are reported and go
to History. Series too short for both windows (fewer than ``3 * horizon + 1`` values) are
scored on one window that also chooses: :attr:`HoldOut.separate_test` is False, the report
says so and its scores are optimistic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from zen.errors import DataError
from zen.forecasting import metrics
from zen.forecasting.data import SeriesData

#: Name of the median ensemble in leaderboards, reports and forecast columns.
ENSEMBLE = "ensemble"
#: The score dictionaries of a leaderboard row.
WINDOWS = ("validation", "test")


@dataclass(frozen=True)
class HoldOut:
    """The windows of a forecasting job (see the module docstring).

    Attributes:
        horizon: steps per window.
        input_size: the input window of the neural candidates.
        separate_test: a test window follows the validation window.
        fit: the history the candidates train on (with future exogenous values of the
            validation window attached).
        validation_truth: the validation window's values, ``(n_series, horizon)``.
        test_input: the history up to the test window (None without one).
        test_truth: the test window's values (None without one).
    """

    horizon: int
    input_size: int
    separate_test: bool
    fit: SeriesData
    validation_truth: np.ndarray
    test_input: SeriesData | None
    test_truth: np.ndarray | None

    def describe(self) -> str:
        """How the job was evaluated, for reports."""
        if self.separate_test:
            return (
                f"models trained on each series without its last {2 * self.horizon} values;"
                f" chosen on the validation window (the {self.horizon} values before the last"
                f" {self.horizon}) and scored on the test window (the last {self.horizon})"
            )
        return (
            f"series too short for separate validation and test windows (need more than"
            f" {3 * self.horizon} values each): models were chosen and scored on the last"
            f" {self.horizon} values, so the scores are optimistic"
        )


def hold_out(history: SeriesData, horizon: int, season: int) -> HoldOut:
    """The windows for ``history``: the input size is ``max(2 h, 2 season)`` where the
    shortest series allows it.

    Raises:
        DataError: the shortest series cannot hold an input window and one held-out window.
    """
    shortest = int(history.lengths.min())
    wanted = max(2 * horizon, 2 * season)
    separate = shortest - 3 * horizon >= 1
    input_size = min(wanted, shortest - (3 if separate else 2) * horizon)
    if input_size < 1:
        raise DataError(
            f"data: the shortest series has {shortest} values; forecasting {horizon} steps needs"
            f" more than {2 * horizon} (a held-out window plus an input window) and more than"
            f" {3 * horizon} to keep validation and test apart; lower --horizon"
        )
    lengths = history.lengths
    windows = 2 if separate else 1
    fit = history.head(lengths - windows * horizon, horizon=horizon)
    validation_truth = _window(history, lengths - windows * horizon, horizon)
    if not separate:
        return HoldOut(horizon, input_size, False, fit, validation_truth, None, None)
    test_input = history.head(lengths - horizon, horizon=horizon)
    test_truth = _window(history, lengths - horizon, horizon)
    return HoldOut(horizon, input_size, True, fit, validation_truth, test_input, test_truth)


def _window(history: SeriesData, starts: np.ndarray, horizon: int) -> np.ndarray:
    """``(n_series, horizon)`` values of each series from its ``starts[i]``."""
    index = (history.indptr[:-1] + starts)[:, None] + np.arange(horizon)
    return history.values.numpy()[index].astype(np.float64)


def score(
    truth: np.ndarray, forecast: np.ndarray, insample: SeriesData, season: int
) -> dict[str, float | None]:
    """sMAPE and MASE of ``forecast``; MASE is None for series without a scale (constant)."""
    try:
        mase: float | None = metrics.mase(truth, forecast, insample, season_length=season)
    except DataError:  # a constant series has no MASE scale; sMAPE still ranks the models
        mase = None
    return {"smape": metrics.smape(truth, forecast), "mase": mase}


def score_windows(
    hold: HoldOut, forecasts: Mapping[str, np.ndarray | None], season: int
) -> dict[str, dict[str, float | None] | None]:
    """The ``validation`` and ``test`` score dicts of one model's window forecasts."""
    scores: dict[str, dict[str, float | None] | None] = {
        "validation": score(hold.validation_truth, forecasts["validation"], hold.fit, season)  # type: ignore[arg-type]
    }
    test = forecasts.get("test")
    scores["test"] = (
        None
        if test is None or hold.test_truth is None or hold.test_input is None
        else score(hold.test_truth, test, hold.test_input, season)
    )
    return scores


def rank(row: Mapping[str, Any]) -> tuple[float, float]:
    """Sort key of a leaderboard row: validation MASE, then validation sMAPE."""
    scores = row["validation"]
    return (scores["mase"] if scores["mase"] is not None else np.inf, scores["smape"])


def reported(row: Mapping[str, Any]) -> dict[str, float]:
    """The scores a row reports: its test scores, or its validation scores without a test
    window (then they also chose; see :attr:`HoldOut.separate_test`)."""
    scores = row["test"] if row.get("test") is not None else row["validation"]
    return {key: value for key, value in scores.items() if value is not None}


def median_ensemble(
    forecasts: Mapping[str, Mapping[str, np.ndarray | None]], hold: HoldOut, season: int
) -> dict[str, Any] | None:
    """The leaderboard row of the median of the candidates' forecasts (two or more needed).

    The median of forecasts from different model families is a robust combination (the M4
    competition's lesson, Makridakis et al. 2020): one bad member cannot drag it far.
    """
    if len(forecasts) < 2:
        return None
    combined = {
        window: None
        if any(member[window] is None for member in forecasts.values())
        else np.median(np.stack([member[window] for member in forecasts.values()]), axis=0)  # type: ignore[misc]
        for window in WINDOWS
    }
    return {
        "model": ENSEMBLE,
        "members": sorted(forecasts),
        "fit_s": 0.0,
        **score_windows(hold, combined, season),
        "forecasts": combined,
        "reason": "the median of the candidates' forecasts (robust to one bad member)",
    }
