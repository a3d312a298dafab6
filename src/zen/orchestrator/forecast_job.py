"""The forecasting job behind ``zen fit DATA --horizon H``: train, compare, save the best.

The router's best candidates (N-HiTS, N-BEATS, TCN, DeepAR and the statistical baselines) are
trained (as workflow steps, side by side when cores allow) on every series without its last
``horizon`` points and scored on those points (sMAPE, MASE). The median ensemble of the trained
models is scored too. The best of them, the ensemble included, is saved together with the full
history, so ``Forecaster.load(run/model).predict()`` forecasts the real future. The run and
each candidate are recorded in History.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen.errors import DataError, ZenError
from zen.forecasting import (
    NBEATS,
    NHITS,
    TCN,
    DeepAR,
    DistributionLoss,
    Ensemble,
    Forecaster,
    HistoricAverage,
    Naive,
    RandomWalkWithDrift,
    SeasonalNaive,
    metrics,
)
from zen.forecasting.data import SeriesData, from_long
from zen.neural.checkpoint import atomic_directory, write_atomic, write_json
from zen.orchestrator.orchestration import (
    candidate_run,
    failed,
    routing_report,
    start_job,
    succeeded,
    train_candidates,
    trained_device,
)
from zen.orchestrator.profile import TaskProfile, profile_series, wide_to_long
from zen.reports import (
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    REPORT_FILE,
    plot_candidate_curves,
    plot_leaderboard,
    write_html_report,
)

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
    """What a forecasting run did: the leaderboard (best first) and where it saved things.

    Attributes:
        candidates: the router's candidates with their reasons (JSON dicts).
        failed: candidates whose training raised, with the error.
        ensemble: the median ensemble's held-out scores and whether it beat the best model
            (then it is the saved model and ``best_model`` is :data:`ENSEMBLE`).
        history_id: the run's id in History (``zen history show ID``).
        tuning: what ``--tune`` found (study name, best hyperparameters), when asked.
    """

    run_id: str
    run_dir: Path
    profile: TaskProfile
    leaderboard: list[dict[str, Any]]
    best_model: str
    season_length: int
    input_size: int
    train_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    candidates: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    ensemble: dict[str, Any] | None = None
    history_id: int | None = None
    tuning: dict[str, Any] | None = None

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR


def to_long(frame: pd.DataFrame, profile: TaskProfile) -> pd.DataFrame:
    """The frame in long format (``unique_id, ds, y``) according to its profile."""
    if profile.layout == "long":
        return frame[["unique_id", "ds", "y"]]
    return wide_to_long(frame, profile.time_column or "ds", profile.numeric_features)


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
    workers: int | None = None,
    tune: bool = False,
    policy: str = "learned",
    resume: bool = True,
) -> ForecastRunResult:
    """Run the forecasting job on ``frame`` (long or wide); see the module docstring.

    Args:
        budget_s: wall-clock budget for training (each neural model gets half of it; with
            ``tune``, a third goes to tuning first).
        max_steps: optimisation steps per neural model (fewer when the budget runs out).
        workers: processes that train candidates side by side (None: the usable cores).
        tune: tune the best-ranked neural candidate with Optuna before training it.
        policy: the router's policy (see :class:`~zen.orchestrator.router.Router`), or
            ``"ab"`` to draw it per run.
        resume: load the candidates that an unfinished earlier run of this job had trained.
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
    truth = np.stack([history.series(i)[-horizon:].numpy() for i in range(history.n_series)])
    with start_job(
        profile, BUILDERS, budget_s=budget_s, policy=policy, seed=seed, source=source,
        runs_dir=runs_dir, settings={"horizon": horizon, "budget_s": budget_s, "tune": tune},
        key_parts={"data": long, "target": target, "horizon": horizon, "budget_s": budget_s,
                   "seed": seed, "max_steps": max_steps, "version": zen.__version__},
        resume=resume, tune=tune, floor=BASELINES,
    ) as job:  # fmt: skip
        candidates, run = job.candidates, job.run
        started = time.perf_counter()
        tuning: dict[str, Any] | None = None
        tuned: dict[str, dict[str, Any]] = {}
        if tune:
            tuning, tuned = _tune(candidates[0].name, train, horizon, input_size, season,
                                  budget_s / 3, max_steps, seed)  # fmt: skip
        remaining_s = max(budget_s - (time.perf_counter() - started), 1.0)
        neural = sum(candidate.name in NEURAL for candidate in candidates)
        task = {
            "family": profile.family, "profile": profile.to_json(), "seed": seed,
            "source": source, "train": train, "history": history, "truth": truth,
            "season": season, "horizon": horizon,
            "naive_season": min(season, shortest - horizon),
            "neural": {"input_size": input_size, "scaler_type": "robust",
                       "max_steps": max_steps, "random_seed": seed,
                       "max_time_s": remaining_s / max(neural, 1)},
            "progress": progress,
        }  # fmt: skip
        outcomes = train_candidates(
            train_forecast_candidate, task, candidates, parent_id=run.id, scratch=job.scratch,
            workers=workers, data_bytes=3 * history.values.nbytes, hyperparameters=tuned,
            budget_s=remaining_s, task_key=job.key,
        )  # fmt: skip
        good = succeeded(outcomes)
        job.record_devices(outcomes)
        forecasts = {row["model"]: row.pop("forecast") for row in good}
        curves = {row["model"]: row.pop("records") for row in good if row.get("records")}
        leaderboard = sorted(good, key=_rank)
        train_time_s = time.perf_counter() - started
        ensemble = _median_ensemble(forecasts, truth, train, season, leaderboard[0])
        use_ensemble = ensemble is not None and ensemble["helps"]
        best_alias = ENSEMBLE if use_ensemble else leaderboard[0]["model"]
        metric = "mase" if all(row["mase"] is not None for row in good) else "smape"
        run.metrics.update(_scores(ensemble if ensemble and use_ensemble else leaderboard[0]))
        regret = job.record_regret({row["model"]: row[metric] for row in good}, metric)
        result = ForecastRunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=profile, leaderboard=leaderboard,
            best_model=best_alias, season_length=season, input_size=input_size,
            train_time_s=train_time_s, candidates=[c.to_json() for c in candidates],
            failed=[o for o in outcomes if "error" in o], ensemble=ensemble,
            history_id=run.id, tuning=tuning, extra=job.extra(regret),
        )  # fmt: skip
        if best_alias == ENSEMBLE:
            forecasts[ENSEMBLE] = np.median(np.stack(list(forecasts.values())), axis=0)
        with atomic_directory(job.run_dir) as staging:
            if best_alias == ENSEMBLE:
                _save_ensemble([job.scratch / name for name in forecasts if name != ENSEMBLE],
                               history, staging / MODEL_DIR)  # fmt: skip
            else:
                shutil.copytree(job.scratch / best_alias, staging / MODEL_DIR)
            plot_forecasts(history, forecasts, horizon, staging / PLOT_FILE)
            rows: list[dict[str, Any]] = leaderboard + (
                [{**ensemble, "model": ENSEMBLE}] if ensemble else []
            )
            plot_leaderboard(sorted(rows, key=_rank), metric, staging / LEADERBOARD_FILE,
                             title=f"candidates by held-out {metric.upper()}")  # fmt: skip
            images = {"leaderboard": staging / LEADERBOARD_FILE,
                      "forecasts on the held-out window": staging / PLOT_FILE}  # fmt: skip
            if curves:
                plot_candidate_curves(curves, staging / CURVES_FILE,
                                      title="training loss of the neural candidates")  # fmt: skip
                images["learning curves"] = staging / CURVES_FILE
            report = _report(result, source)
            write_json(staging / REPORT_FILE, report)
            write_html_report(staging / HTML_FILE, report, images)
    return result


def _neural(task: dict[str, Any]) -> dict[str, Any]:
    """The settings every neural candidate shares, with the progress flag of this step."""
    return {**task["neural"], "progress": task.get("progress", False)}


def _deepar(task: dict[str, Any], options: dict[str, Any]) -> DeepAR:
    """DeepAR with the router's likelihood (``distribution``: the rules pick a negative
    binomial for intermittent counts)."""
    chosen = dict(options)
    distribution = chosen.pop("distribution", None)
    if chosen.get("loss") == "DistributionLoss":
        chosen.pop("loss")
    if distribution is not None:
        chosen["loss"] = DistributionLoss(distribution, level=(80, 90))
    return DeepAR(h=task["horizon"], **{**_neural(task), **chosen})


#: Builders of the models this job trains, by the router's names.
BUILDERS: dict[str, Callable[[dict[str, Any], dict[str, Any]], Any]] = {
    "NHITS": lambda task, options: NHITS(h=task["horizon"], **{**_neural(task), **options}),
    "NBEATS": lambda task, options: NBEATS(h=task["horizon"], **{**_neural(task), **options}),
    "TCN": lambda task, options: TCN(h=task["horizon"], **{**_neural(task), **options}),
    "DeepAR": _deepar,
    "SeasonalNaive": lambda task, options: SeasonalNaive(
        h=task["horizon"], season_length=task["naive_season"]
    ),
    "Naive": lambda task, options: Naive(h=task["horizon"]),
    "HistoricAverage": lambda task, options: HistoricAverage(h=task["horizon"]),
    "RandomWalkWithDrift": lambda task, options: RandomWalkWithDrift(h=task["horizon"]),
}
#: The candidates that train a network (and share the time budget).
NEURAL = ("NHITS", "NBEATS", "TCN", "DeepAR")
#: The statistical baselines: every run trains at least one (see ``routed_candidates``).
BASELINES = ("SeasonalNaive", "Naive", "HistoricAverage", "RandomWalkWithDrift")
#: Name of the median ensemble in plots and reports.
ENSEMBLE = "Ensemble (median)"


def train_forecast_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: train one candidate, score it on the held-out window, save it.

    Returns its leaderboard row plus its held-out ``forecast`` (or ``error``); the model is
    saved to ``model_dir`` as a :class:`Forecaster` over the full history.
    """
    try:
        with candidate_run(task, name, options, parent_id) as run:
            model = BUILDERS[name](task, options)
            started = time.perf_counter()
            model.fit(task["train"])
            fit_s = time.perf_counter() - started
            run.device = trained_device(getattr(model, "model_", None))
            prediction = model.predict(task["train"])
            row = _score(name, task["truth"], prediction, task["train"], task["season"], fit_s)
            final = Forecaster([model], freq=task["history"].freq)
            final.data_, final.freq_ = task["history"], task["history"].freq
            final.save(model_dir)
            run.metrics.update({**_scores(row), "fit_s": fit_s})
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    trainer = getattr(model, "trainer_", None)
    records = trainer.history_.records if trainer is not None else []
    return {**row, "forecast": prediction, "records": records, "device": run.device}


def _save_ensemble(member_dirs: list[Path], history: SeriesData, path: Path) -> None:
    """Save the median of the members (saved Forecasters) as one Forecaster at ``path``."""
    members = [model for folder in member_dirs for model in Forecaster.load(folder).models]
    ensemble = Ensemble(members, method="median", alias=ENSEMBLE)
    ensemble.weights_ = np.full(len(members), 1.0 / len(members))
    combined = Forecaster([ensemble], freq=history.freq)
    combined.data_, combined.freq_ = history, history.freq
    combined.save(path)


def _rank(row: Mapping[str, Any]) -> tuple[float, float]:
    return (row["mase"] if row["mase"] is not None else np.inf, row["smape"])


def _scores(row: Mapping[str, Any]) -> dict[str, float]:
    return {key: row[key] for key in ("smape", "mase") if row.get(key) is not None}


def _median_ensemble(
    forecasts: dict[str, np.ndarray],
    truth: np.ndarray,
    train: SeriesData,
    season: int,
    best: dict[str, Any],
) -> dict[str, Any] | None:
    """Score the median of the trained models' forecasts; it helps when it ranks above the best.

    The median of forecasts from different model families is a robust combination (the M4
    competition's lesson, Makridakis et al. 2020): one bad member cannot drag it far.
    """
    if len(forecasts) < 2:
        return None
    combined = np.median(np.stack(list(forecasts.values())), axis=0)
    row = _score(ENSEMBLE, truth, combined, train, season, 0.0)
    return {
        "members": sorted(forecasts),
        "smape": row["smape"],
        "mase": row["mase"],
        "helps": _rank(row) < _rank(best),
    }


def _tune(
    name: str,
    train: SeriesData,
    horizon: int,
    input_size: int,
    season: int,
    timeout_s: float,
    max_steps: int,
    seed: int,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Tune ``name`` on the window before the held-out one (never on the scored window)."""
    from zen.orchestrator.tune import tune_forecaster

    if name not in ("NHITS", "NBEATS"):
        return {"model": name, "skipped": f"{name} has no hyperparameters to tune"}, {}
    try:
        found = tune_forecaster(
            train, name, h=horizon, input_size=input_size, n_trials=20, timeout_s=timeout_s,
            max_steps=min(max_steps, 300), season_length=season, seed=seed,
        )  # fmt: skip
    except DataError as error:
        return {"model": name, "skipped": str(error)}, {}
    fixed = ("h", "max_steps", "val_check_steps", "random_seed")
    chosen = {k: v for k, v in found.best_hyperparameters.items() if k not in fixed}
    summary = {"model": name, "study_name": found.study_name, "best_value": found.best_value,
               "n_trials": found.n_trials, "best_hyperparameters": chosen}  # fmt: skip
    return summary, {name: chosen}


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
        **routing_report(result),
        "data": source,
        "horizon": result.profile.horizon,
        "season_length": result.season_length,
        "input_size": result.input_size,
        "evaluation": "last horizon of every series held out; models trained on the rest",
        "ensemble": result.ensemble,
        "train_time_s": result.train_time_s,
        "files": {
            "model": MODEL_DIR,
            "forecasts": PLOT_FILE,
            "html": HTML_FILE,
            "leaderboard": LEADERBOARD_FILE,
        },
    }
