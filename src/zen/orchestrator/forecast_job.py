"""The forecasting job behind ``zen fit DATA --horizon H``: train, compare, save the best.

N-HiTS, N-BEATS and a seasonal naive are trained on every series without its last ``horizon``
points, scored on those points (sMAPE, MASE), and the best model is saved together with the
full history, so ``Forecaster.load(run/model).predict()`` forecasts the real future.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen.errors import DataError
from zen.forecasting import NBEATS, NHITS, Forecaster, SeasonalNaive, metrics
from zen.forecasting.data import SeriesData, from_long
from zen.neural.checkpoint import atomic_directory, write_atomic, write_json
from zen.orchestrator.profile import TaskProfile, profile_series
from zen.reports import new_run_id

MODEL_DIR = "model"
REPORT_FILE = "report.json"
PLOT_FILE = "forecasts.png"

#: Seasonal period by pandas frequency prefix (hourly data repeats daily, daily data weekly...).
SEASON_BY_FREQ = {"h": 24, "D": 7, "B": 5, "W": 52, "M": 12, "ME": 12, "MS": 12, "Q": 4,
                  "QE": 4, "QS": 4, "min": 60, "T": 60}  # fmt: skip


def season_length_for(freq: str | int) -> int:
    """The usual seasonal period for ``freq`` (1 when unknown, e.g. integer steps)."""
    if isinstance(freq, int):
        return 1
    base = freq.lstrip("0123456789").split("-")[0]
    return SEASON_BY_FREQ.get(base, 1)


@dataclass
class ForecastRunResult:
    """What a forecasting run did: the leaderboard (best first) and where it saved things."""

    run_id: str
    run_dir: Path
    profile: TaskProfile
    leaderboard: list[dict[str, Any]]
    best_model: str
    season_length: int
    input_size: int
    train_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR


def to_long(frame: pd.DataFrame, profile: TaskProfile) -> pd.DataFrame:
    """The frame in long format (``unique_id, ds, y``) according to its profile."""
    if profile.layout == "long":
        return frame[["unique_id", "ds", "y"]]
    long = frame.melt(
        id_vars=[profile.time_column],
        value_vars=profile.numeric_features,
        var_name="unique_id",
        value_name="y",
    )
    return long.rename(columns={profile.time_column: "ds"})


def forecast(
    frame: pd.DataFrame,
    horizon: int,
    *,
    target: str | None = None,
    budget_s: float = 300.0,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
    max_steps: int = 1000,
    source: str = "<DataFrame>",
) -> ForecastRunResult:
    """Run the forecasting job on ``frame`` (long or wide); see the module docstring.

    Args:
        budget_s: wall-clock budget for training, shared by the neural models.
        max_steps: optimisation steps per neural model (fewer when the budget runs out).
    """
    profile = profile_series(frame, horizon, target)
    long = to_long(frame, profile)
    history = from_long(long, fill_missing="interpolate")
    season = season_length_for(history.freq)
    shortest = int(history.lengths.min())
    input_size = min(max(2 * horizon, 2 * season), shortest - 2 * horizon)
    if input_size < 1:
        raise DataError(
            f"data: the shortest series has {shortest} values; forecasting {horizon} steps needs"
            f" more than {2 * horizon} (a held-out window plus an input window); lower --horizon"
        )
    train = history.head(history.lengths - horizon)
    neural: dict[str, Any] = {
        "input_size": input_size,
        "scaler_type": "robust",
        "max_steps": max_steps,
        "random_seed": seed,
        "max_time_s": budget_s / 2,
        "progress": progress,
    }
    models: list[Any] = [
        NHITS(h=horizon, **neural),
        NBEATS(h=horizon, **neural),
        SeasonalNaive(h=horizon, season_length=min(season, shortest - horizon)),
    ]
    started = time.perf_counter()
    leaderboard = []
    truth = np.stack([history.series(i)[-horizon:].numpy() for i in range(history.n_series)])
    forecasts = {}
    for model in models:
        fitted_at = time.perf_counter()
        model.fit(train)
        fit_s = time.perf_counter() - fitted_at
        forecasts[model.alias] = model.predict(train)
        leaderboard.append(_score(model.alias, truth, forecasts[model.alias], train, season, fit_s))
    train_time_s = time.perf_counter() - started
    leaderboard.sort(
        key=lambda row: (row["mase"] if row["mase"] is not None else np.inf, row["smape"])
    )
    best_alias = leaderboard[0]["model"]
    best = next(model for model in models if model.alias == best_alias)

    run_id = new_run_id()
    run_dir = Path(runs_dir) / run_id
    result = ForecastRunResult(
        run_id=run_id,
        run_dir=run_dir,
        profile=profile,
        leaderboard=leaderboard,
        best_model=best_alias,
        season_length=season,
        input_size=input_size,
        train_time_s=train_time_s,
    )
    final = Forecaster([best], freq=history.freq)
    final.data_, final.freq_ = history, history.freq
    with atomic_directory(run_dir) as staging:
        final.save(staging / MODEL_DIR)
        plot_forecasts(history, forecasts, horizon, staging / PLOT_FILE)
        write_json(staging / REPORT_FILE, _report(result, source))
    return result


def _score(
    alias: str,
    truth: np.ndarray,
    forecast: np.ndarray,
    train: SeriesData,
    season: int,
    fit_s: float,
) -> dict[str, Any]:
    try:
        mase = metrics.mase(truth, forecast, train, season_length=season)
    except DataError:  # a constant series has no MASE scale; sMAPE still ranks the models
        mase = None
    return {"model": alias, "smape": metrics.smape(truth, forecast), "mase": mase, "fit_s": fit_s}


def plot_forecasts(
    history: SeriesData,
    forecasts: dict[str, np.ndarray],
    horizon: int,
    path: Path,
    max_series: int = 4,
) -> Path:
    """PNG of the last values of a few series, the held-out truth and each model's forecast."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = min(max_series, history.n_series)
    figure, axes = plt.subplots(shown, 1, figsize=(9, 2.6 * shown), squeeze=False)
    for row in range(shown):
        axis = axes[row][0]
        values = history.series(row).numpy()
        context = values[-4 * horizon :]
        steps = np.arange(len(values) - len(context), len(values))
        axis.plot(steps, context, color="black", linewidth=1, label="actual")
        future = steps[-horizon:]
        for alias, forecast in forecasts.items():
            axis.plot(future, forecast[row], linewidth=1.2, label=alias)
        axis.axvline(future[0] - 0.5, color="grey", linestyle=":")
        axis.set_title(f"series {history.ids[row]}", fontsize=9)
    axes[0][0].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return path


def _report(result: ForecastRunResult, source: str) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "zen_version": zen.__version__,
        "data": source,
        "task": result.profile.to_json(),
        "horizon": result.profile.horizon,
        "season_length": result.season_length,
        "input_size": result.input_size,
        "evaluation": "last horizon of every series held out; models trained on the rest",
        "leaderboard": result.leaderboard,
        "best_model": result.best_model,
        "train_time_s": result.train_time_s,
        "files": {"model": MODEL_DIR, "forecasts": PLOT_FILE},
    }
