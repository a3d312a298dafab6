"""The forecasting job behind ``zen fit DATA --horizon H``: train, choose, report, forecast.

The table is read as series (:mod:`zen.orchestrator.series_input`: layout, dates, frequency,
gaps, exogenous columns). The router's best candidates (N-HiTS, N-BEATS, TCN, DeepAR and the
statistical baselines) are trained as workflow steps (side by side when cores allow) and
scored on a validation window and a later test window (:mod:`zen.orchestrator.
forecast_eval`): the model, or the median ensemble of all of them, is chosen on validation,
and its test scores are reported and recorded in History. The winner is then refitted on the
whole history (budget allowing), saved with the history so that ``Forecaster.load(run/model)
.predict()`` and ``zen predict RUN`` forecast the real future, and its forecast of the
``horizon`` steps after each series is written to ``forecast.csv``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen import registry
from zen.errors import DataError, ZenError
from zen.forecasting import Ensemble, Forecaster
from zen.forecasting.candidate import ForecastSettings
from zen.forecasting.data import SeriesData
from zen.neural.checkpoint import write_atomic, write_json
from zen.orchestrator.executors import tuning_cluster
from zen.orchestrator.forecast_eval import (
    ENSEMBLE,
    HoldOut,
    hold_out,
    median_ensemble,
    rank,
    reported,
    score_windows,
)
from zen.orchestrator.forecast_predict import FORECAST_FILE, FUTURE_FILE, forecast_frame
from zen.orchestrator.jobs.base import (
    CandidateJob,
    Ranking,
    RunOutcome,
    Trained,
    run_job,
    tuning_summary,
)
from zen.orchestrator.orchestration import candidate_run, failed, trained_device
from zen.orchestrator.router import Candidate
from zen.orchestrator.series_input import (
    SPEC_FILE,
    SeriesInput,
    SeriesSpec,
    default_fill,
    prepare_series,
)
from zen.profile import TaskProfile, profile_series, series_table, wide_to_long
from zen.profile.calendar import infer_freq
from zen.registry import ModelSpec
from zen.reports import (
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    plot_candidate_curves,
    plot_leaderboard,
)

logger = logging.getLogger(__name__)

PLOT_FILE = "forecasts.png"
#: A refit of the winner on the whole history needs at least this much of the budget left;
#: with less, the model trained for the evaluation forecasts from the whole history instead.
MIN_REFIT_S = 2.0
#: Interval levels written to ``forecast.csv`` by models that give intervals.
LEVELS = (80, 95)

#: Seasonal period by pandas frequency prefix (hourly data repeats daily, daily data weekly...).
SEASON_BY_FREQ = {
    "h": 24,
    "D": 7,
    "B": 5,
    "W": 52,
    "M": 12,
    "ME": 12,
    "MS": 12,
    "Q": 4,
    "QE": 4,
    "QS": 4,
    "min": 60,
    "T": 60,
}


def season_length_for(freq: str | int) -> int:
    """The usual seasonal period for ``freq`` (1 when unknown, e.g. integer steps)."""
    if isinstance(freq, int):
        return 1
    base = freq.lstrip("0123456789").split("-")[0]
    return SEASON_BY_FREQ.get(base, 1)


@dataclass(kw_only=True)
class ForecastRunResult(RunOutcome):
    """What a forecasting run did: the leaderboard (best first) and where it saved things.

    Attributes:
        leaderboard: one row per trained candidate and the median ensemble, ranked by
            validation score; each row has ``validation`` and ``test`` score dicts (``smape``,
            ``mase``; ``test`` is None without a separate test window).
        best_model: the row with the best validation score (``"ensemble"`` for the median).
        candidates: the router's candidates with their reasons (JSON dicts).
        failed: candidates whose training raised, with the error.
        ensemble: the median ensemble's row (with ``members`` and ``helps``: whether it beat
            the best single model on validation), or None with fewer than two candidates.
        evaluation: how the windows were set (see :class:`~zen.orchestrator.forecast_eval.
            HoldOut`); ``separate_test`` False means the scores also chose the model.
        final_model: whether the winner was refitted on the whole history, and why.
        preparation: how the table was read and cleaned (spec, notes).
        forecast_path: ``forecast.csv``, or None when it could not be written (see
            ``extra["forecast_note"]``).
        history_id: the run's id in History (``zen history show ID``).
        tuning: what ``--tune`` found (study name, best hyperparameters), when asked.
    """

    leaderboard: list[dict[str, Any]]
    best_model: str
    season_length: int
    input_size: int
    train_time_s: float
    ensemble: dict[str, Any] | None = None
    evaluation: str = ""
    separate_test: bool = True
    final_model: dict[str, Any] = field(default_factory=dict)
    preparation: dict[str, Any] = field(default_factory=dict)
    forecast_path: Path | None = None

    @property
    def best_row(self) -> dict[str, Any]:
        return next(row for row in self.leaderboard if row["model"] == self.best_model)


def to_long(frame: pd.DataFrame, profile: TaskProfile) -> pd.DataFrame:
    """The frame in long format (``unique_id, ds, y``) according to its profile."""
    if profile.layout == "long":
        return frame[["unique_id", "ds", "y"]]
    return wide_to_long(frame, profile.time_column or "ds", profile.numeric_features)


def read_series_table(
    frame: pd.DataFrame,
    horizon: int,
    *,
    target: str | None = None,
    freq: str | int | None = None,
    date_format: str | None = None,
    fill: str | None = None,
    hist_exog: Sequence[str] = (),
    futr_exog: Sequence[str] = (),
    static: Sequence[str] = (),
) -> tuple[TaskProfile, SeriesInput, str]:
    """Profile ``frame`` as series and prepare them: ``(profile, series, fill reason)``."""
    table = series_table(
        frame, target, date_format=date_format, exog=(*hist_exog, *futr_exog, *static)
    )
    profile = profile_series(table, horizon, target, freq=freq)
    if fill is None:
        fill, fill_reason = default_fill(profile)
    else:
        fill_reason = "given (--fill)"
    series_freq: str | int = freq if freq is not None else profile.freq or infer_freq(table.long)[0]
    spec = SeriesSpec(
        layout=table.layout,
        time_column=table.time_column,
        freq=series_freq,
        fill=fill,
        series=tuple(table.series) if table.layout == "wide" else (),
        date_format=date_format,
        hist_exog=tuple(hist_exog),
        futr_exog=tuple(futr_exog),
        static=tuple(static),
        target=target if table.layout == "wide" else None,
    )
    return profile, prepare_series(table, spec), fill_reason


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
    freq: str | int | None = None,
    date_format: str | None = None,
    fill: str | None = None,
    hist_exog: Sequence[str] = (),
    futr_exog: Sequence[str] = (),
    static: Sequence[str] = (),
) -> ForecastRunResult:
    """Run the forecasting job on ``frame`` (long or wide); see the module docstring.

    Args:
        budget_s: wall-clock budget for training (each neural model gets its share; with
            ``tune``, a third goes to tuning first; the refit of the winner gets what is left).
        max_steps: optimisation steps per neural model (fewer when the budget runs out).
        workers: processes that train candidates side by side (None: the usable cores).
        tune: tune the best-ranked neural candidate with Optuna before training it.
        policy: the router's policy (see :class:`~zen.orchestrator.router.Router`), or
            ``"ab"`` to draw it per run.
        resume: load the candidates that an unfinished earlier run of this job had trained.
        freq: pandas frequency of the time stamps (inferred from the commonest spacing).
        date_format: ``strftime`` format of the time stamps (detected when None).
        fill: how gaps and empty values are filled: ``interpolate``, ``zero`` or ``drop``
            (None: zeros for intermittent counts, else interpolation).
        hist_exog, futr_exog, static: exogenous columns (historic, known in advance, one
            value per series) for the candidates that take them.
    """
    job = forecast_job(
        frame, horizon, target=target, budget_s=budget_s, seed=seed, progress=progress,
        max_steps=max_steps, source=source, tune=tune, freq=freq, date_format=date_format,
        fill=fill, hist_exog=hist_exog, futr_exog=futr_exog, static=static,
    )  # fmt: skip
    result: ForecastRunResult = run_job(
        job, budget_s=budget_s, policy=policy, seed=seed, runs_dir=runs_dir, workers=workers,
        tune=tune, resume=resume,
    )  # fmt: skip
    return result


def forecast_job(
    frame: pd.DataFrame,
    horizon: int,
    *,
    target: str | None = None,
    budget_s: float = 300.0,
    seed: int = 0,
    progress: bool = False,
    max_steps: int = 1000,
    source: str = "<DataFrame>",
    tune: bool = False,
    **series_options: Any,
) -> ForecastJob:
    """The job :func:`forecast` runs: series read and windows held out, nothing trained yet.

    ``series_options`` are :func:`forecast`'s ``freq``, ``date_format``, ``fill``,
    ``hist_exog``, ``futr_exog`` and ``static``.
    """
    profile, series, fill_reason = read_series_table(frame, horizon, target=target,
                                                     **series_options)  # fmt: skip
    return ForecastJob(
        profile, series, fill_reason, horizon=horizon, target=target, budget_s=budget_s,
        seed=seed, progress=progress, max_steps=max_steps, source=source, tune=tune,
    )  # fmt: skip


def _spec(name: str) -> ModelSpec:
    return registry.get(name, "forecast")


def _candidate_names() -> list[str]:
    """The forecasting models zen fit may train: every registered candidate."""
    return registry.names_of(registry.candidates("forecast"))


def _baseline_names() -> list[str]:
    """The statistical baselines (no network): every run trains at least one of them (see
    ``routed_candidates``)."""
    return registry.names_of(spec for spec in registry.candidates("forecast") if not spec.neural)


def train_forecast_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: train one candidate, score it on the validation and test windows,
    save it.

    Returns its leaderboard row plus its window ``forecasts`` (or ``error``); the model is
    saved to ``model_dir`` as a :class:`Forecaster` over the full history.
    """
    hold: HoldOut = task["hold"]
    try:
        with candidate_run(task, name, options, parent_id) as run:
            model = _spec(name).create(
                task["settings"].replace(progress=task.get("progress", False)), options
            )
            started = time.perf_counter()
            model.fit(hold.fit)
            fit_s = time.perf_counter() - started
            run.device = trained_device(getattr(model, "model_", None))
            forecasts = {
                "validation": model.predict(hold.fit),
                "test": None if hold.test_input is None else model.predict(hold.test_input),
            }
            scores = score_windows(hold, forecasts, task["season"])
            row = {"model": name, **scores, "fit_s": fit_s}
            final = Forecaster([model], freq=task["history"].freq,
                               fill_missing=task.get("fill_missing"))  # fmt: skip
            # Fitted already: the Forecaster only saves it (fit would train clones).
            final.models_, final.data_, final.freq_ = [model], task["history"], task["history"].freq
            final.save(model_dir)
            validation = {
                f"val_{key}": value
                for key, value in (scores["validation"] or {}).items()
                if value is not None
            }
            run.metrics.update({**reported(row), **validation, "fit_s": fit_s})
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    trainer = getattr(model, "trainer_", None)
    records = trainer.history_.records if trainer is not None else []
    return {**row, "forecasts": forecasts, "records": records, "device": run.device}


def _final_forecaster(
    members: list[str],
    task: dict[str, Any],
    options: Mapping[str, Mapping[str, Any]],
    scratch: Path,
    remaining_s: float,
) -> tuple[Forecaster, dict[str, Any]]:
    """The winner (one model, or the median of ``members``) refitted on the whole history.

    Each neural member gets an equal share of what is left of the budget; with less than
    :data:`MIN_REFIT_S` left, or when a refit fails, the models trained for the evaluation
    are kept and forecast from the whole history (their input windows end at its end).
    """
    history: SeriesData = task["history"]
    neural = sum(_spec(name).neural for name in members)
    if remaining_s < MIN_REFIT_S * max(neural, 1) and neural:
        models = _evaluated(members, scratch)
        reason = (
            f"kept the models trained for the evaluation ({remaining_s:.1f} s of the budget left"
            " is too little to refit); they forecast from the whole history"
        )
        refit = False
    else:
        settings = task["settings"].replace(
            max_time_s=max(remaining_s, MIN_REFIT_S) / max(neural, 1),
            progress=False,
            season_length=min(task["season"], int(history.lengths.min())),
        )
        try:
            models = []
            for name in members:
                model = _spec(name).create(settings, dict(options.get(name, {})))
                model.fit(history)
                models.append(model)
            refit, reason = True, "refitted on the whole history"
        except ZenError as error:
            logger.warning("refitting %s on the whole history failed: %s", members, error)
            models = _evaluated(members, scratch)
            refit = False
            reason = f"kept the evaluated models: refitting on the whole history failed ({error})"
    if len(models) == 1:
        chosen = models[0]
    else:
        chosen = Ensemble(models, method="median", alias=ENSEMBLE)
        chosen.models_, chosen.weights_ = models, np.full(len(models), 1.0 / len(models))
    # The models are fitted already: the Forecaster holds them as fitted, without fit().
    final = Forecaster([chosen], freq=history.freq, fill_missing=task.get("fill_missing"))
    final.models_, final.data_, final.freq_ = [chosen], history, history.freq
    return final, {"models": members, "refit": refit, "reason": reason}


def _evaluated(members: list[str], scratch: Path) -> list[Any]:
    """The models the candidate steps trained for the evaluation, from their scratch folders."""
    return [model for name in members for model in Forecaster.load(scratch / name).models_]


def _save_final(final: Forecaster, series: SeriesInput, path: Path) -> None:
    """The final Forecaster with how to read new data (``input.json``) and, when the models
    use future variables, their future values from the table (``future.csv``)."""
    final.static_df_ = series.static_df
    final.save(path)
    write_json(path / SPEC_FILE, series.spec.to_json())
    future = series.future
    if final.future_exog and future is not None:
        write_atomic(path / FUTURE_FILE, lambda temporary: future.to_csv(temporary, index=False))


def _future_forecast(final: Forecaster, series: SeriesInput) -> tuple[pd.DataFrame | None, str]:
    """The forecast of the steps after each series, or None and why not."""
    if final.future_exog and series.future is None:
        return None, (
            f"no {FORECAST_FILE}: the model uses future variables {list(final.future_exog)}"
            " and the table has no rows after the series' last values with them; run"
            " `zen predict RUN DATA` with those rows (target empty)"
        )
    try:
        return forecast_frame(final, futr_df=series.future), f"{FORECAST_FILE}: written"
    except DataError as error:
        return None, f"no {FORECAST_FILE}: {error}"


def _tune(
    name: str,
    hold: HoldOut,
    season: int,
    timeout_s: float | None,
    settings: ForecastSettings,
    *,
    n_trials: int = 20,
    study: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tune ``name`` on the history before the validation window (never on a scored one)."""
    from zen.orchestrator.tune import tune_forecaster

    spec = _spec(name)
    if spec.search_space is None or spec.model_class is None:
        return {"model": name, "skipped": f"{name} has no hyperparameters to tune"}, {}
    exogenous = {
        key: value
        for key, value in settings.window_arguments(spec.model_class).items()
        if key.endswith("_exog_list")
    }
    options = {"cluster": tuning_cluster(), **(study or {})}
    try:
        found = tune_forecaster(
            hold.fit,
            name,
            h=hold.horizon,
            input_size=hold.input_size,
            n_trials=n_trials,
            timeout_s=timeout_s,
            max_steps=min(settings.max_steps, 300),
            season_length=season,
            seed=settings.random_seed,
            model_kwargs=exogenous or None,
            **options,
        )
    except DataError as error:
        return {"model": name, "skipped": str(error)}, {}
    return tuning_summary(
        name, found, dropped=("h", "max_steps", "val_check_steps", "random_seed", *exogenous)
    )


def plot_forecasts(
    history: SeriesData,
    forecasts: dict[str, np.ndarray],
    horizon: int,
    path: Path,
    max_series: int = 4,
    future: pd.Series | np.ndarray | None = None,
) -> Path:
    """PNG of the last values of a few series, each model's forecast of the last ``horizon``
    of them (the held-out window) and, when given, the ``future`` forecast after them
    (``(n_series * horizon,)`` values, series after series)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = min(max_series, history.n_series)
    ahead = None if future is None else np.asarray(future, dtype=np.float64).reshape(-1, horizon)
    figure, axes = plt.subplots(shown, 1, figsize=(9, 2.6 * shown), squeeze=False)
    for row in range(shown):
        axis = axes[row][0]
        values = history.series(row).numpy()
        context = values[-4 * horizon :]
        steps = np.arange(len(values) - len(context), len(values))
        axis.plot(steps, context, color="black", linewidth=1, label="actual")
        held_out = steps[-horizon:]
        for alias, forecast in forecasts.items():
            axis.plot(held_out, forecast[row], linewidth=1.2, label=alias)
        axis.axvline(held_out[0] - 0.5, color="grey", linestyle=":")
        if ahead is not None:
            after = np.arange(len(values), len(values) + horizon)
            axis.plot(
                after,
                ahead[row],
                color="black",
                linestyle="--",
                linewidth=1.2,
                label="forecast (chosen model)",
            )
        axis.set_title(f"series {history.ids[row]}", fontsize=9)
    axes[0][0].legend(fontsize=8, loc="upper left")
    figure.tight_layout()
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
    plt.close(figure)
    return path


class ForecastJob(CandidateJob):
    """Series: forecasters chosen on a validation window and scored on a later test window;
    the winner (one model or the median ensemble) is refitted on the whole history."""

    kind = "forecast"
    step = staticmethod(train_forecast_candidate)

    def __init__(
        self,
        profile: TaskProfile,
        series: SeriesInput,
        fill_reason: str,
        *,
        horizon: int,
        target: str | None,
        budget_s: float,
        seed: int,
        progress: bool,
        max_steps: int,
        source: str,
        tune: bool,
    ) -> None:
        super().__init__(
            profile, source,
            settings={"horizon": horizon, "budget_s": budget_s, "tune": tune},
            key_parts={
                "data": series.long, "spec": series.spec.to_json(), "target": target,
                "horizon": horizon, "budget_s": budget_s, "seed": seed, "max_steps": max_steps,
                "version": zen.__version__,
            },
            floor=_baseline_names(),
        )  # fmt: skip
        self.series, self.budget_s, self.progress = series, budget_s, progress
        self.history = series.series_data()
        self.season = season_length_for(self.history.freq)
        self.hold = hold_out(self.history, horizon, self.season)
        self.preparation = {"spec": series.spec.to_json(), "fill_reason": fill_reason,
                            "notes": series.notes}  # fmt: skip
        self.model_settings = ForecastSettings(
            horizon=horizon, input_size=self.hold.input_size,
            season_length=min(self.season, int(self.hold.fit.lengths.min())),
            max_steps=max_steps, random_seed=seed, exogenous=series.spec.exogenous_lists(),
        )  # fmt: skip
        # Filled in as the job runs: the steps' task, the window forecasts and curves that
        # rank() takes off the rows, the metric it ranked by and the refitted winner.
        self._task: dict[str, Any] = {}
        self.forecasts: dict[str, dict[str, Any]] = {}
        self.curves: dict[str, list[dict[str, Any]]] = {}
        self.ensemble: dict[str, Any] | None = None
        self.metric = "smape"
        self.final: Forecaster | None = None

    def tune(
        self, name: str, timeout_s: float | None, *, n_trials: int = 20, **study: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tune ``name`` on the history before the validation window (never on a scored one)."""
        return _tune(name, self.hold, self.season, timeout_s, self.model_settings,
                     n_trials=n_trials, study=study)  # fmt: skip

    def task(self, remaining_s: float, candidates: Sequence[Candidate]) -> dict[str, Any]:
        neural = sum(_spec(candidate.name).neural for candidate in candidates)
        self._task = {
            "family": self.profile.family, "profile": self.profile.to_json(),
            "seed": self.model_settings.random_seed, "source": self.source, "hold": self.hold,
            "history": self.history, "season": self.season,
            "fill_missing": self.series.fill_missing, "progress": self.progress,
            "settings": self.model_settings.replace(max_time_s=remaining_s / max(neural, 1)),
        }  # fmt: skip
        return self._task

    def data_bytes(self) -> int:
        return 3 * self.history.values.nbytes

    def rank(self, good: list[dict[str, Any]]) -> Ranking:
        # The window forecasts and curves are for the plots: off the leaderboard rows.
        self.forecasts = {row["model"]: row.pop("forecasts") for row in good}
        self.curves = {row["model"]: row.pop("records") for row in good if row.get("records")}
        ensemble = median_ensemble(self.forecasts, self.hold, self.season)
        if ensemble is not None:
            self.forecasts[ENSEMBLE] = ensemble.pop("forecasts")
        leaderboard = sorted([*good, *([ensemble] if ensemble else [])], key=rank)
        best = leaderboard[0]
        if ensemble is not None:
            ensemble["helps"] = best is ensemble
        self.ensemble = ensemble
        mase = all(reported(row).get("mase") is not None for row in good)
        self.metric = "mase" if mase else "smape"
        regret = {row["model"]: reported(row)[self.metric] for row in good}
        return Ranking(leaderboard, best, reported(best), regret, self.metric)

    def conclude(self, trained: Trained) -> ForecastRunResult:
        train_time_s = time.perf_counter() - trained.started
        best, ensemble, job = trained.ranking.best, self.ensemble, trained.job
        options = {c.name: {**c.options, **trained.tuned.get(c.name, {})}
                   for c in trained.candidates}  # fmt: skip
        chosen = ensemble is not None and best is ensemble
        members = ensemble["members"] if ensemble is not None and chosen else [best["model"]]
        remaining_s = self.budget_s - (time.perf_counter() - trained.started)
        self.final, final_model = _final_forecaster(
            members, self._task, options, job.scratch, remaining_s
        )
        return ForecastRunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=self.profile,
            leaderboard=trained.ranking.leaderboard, best_model=best["model"],
            season_length=self.season, input_size=self.hold.input_size,
            train_time_s=train_time_s, candidates=[c.to_json() for c in trained.candidates],
            failed=trained.failed, ensemble=ensemble, history_id=job.run.id,
            tuning=trained.tuning, extra=job.extra(trained.regret),
            evaluation=self.hold.describe(), separate_test=self.hold.separate_test,
            final_model=final_model, preparation=self.preparation,
        )  # fmt: skip

    def write(self, staging: Path, trained: Trained, result: ForecastRunResult) -> dict[str, Path]:
        final = self.final
        assert final is not None, "conclude() runs before write()"
        _save_final(final, self.series, staging / MODEL_DIR)
        future, note = _future_forecast(final, self.series)
        result.extra["forecast_note"] = note
        if future is not None:
            write_atomic(
                staging / FORECAST_FILE, lambda temporary: future.to_csv(temporary, index=False)
            )
            result.forecast_path = result.run_dir / FORECAST_FILE
        window = "test" if self.hold.separate_test else "validation"
        shown = {name: windows[window] for name, windows in self.forecasts.items()}
        chosen = None if future is None else future[final.models[0].alias]
        horizon = self.hold.horizon
        plot_forecasts(self.history, shown, horizon, staging / PLOT_FILE, future=chosen)
        by = 0 if self.metric == "mase" else 1
        plot_leaderboard(
            [{**row, "score": rank(row)[by]} for row in result.leaderboard], "score",
            staging / LEADERBOARD_FILE, title=f"candidates by validation {self.metric.upper()}",
        )  # fmt: skip
        images = {
            "leaderboard": staging / LEADERBOARD_FILE,
            f"forecasts on the {window} window": staging / PLOT_FILE,
        }
        if self.curves:
            plot_candidate_curves(
                self.curves, staging / CURVES_FILE, title="training loss of the neural candidates"
            )
            images["learning curves"] = staging / CURVES_FILE
        return images

    def report(self, trained: Trained, result: ForecastRunResult) -> dict[str, Any]:
        return {
            "best": result.best_model,
            "data": self.source,
            "horizon": result.profile.horizon,
            "season_length": result.season_length,
            "input_size": result.input_size,
            "evaluation": result.evaluation,
            "separate_test": result.separate_test,
            "scores": reported(result.best_row),
            "ensemble": result.ensemble,
            "final_model": result.final_model,
            "preparation": result.preparation,
            "forecast": result.extra.get("forecast_note"),
            "train_time_s": result.train_time_s,
            "files": {
                "model": MODEL_DIR,
                "forecast": None if result.forecast_path is None else FORECAST_FILE,
                "forecasts": PLOT_FILE,
                "html": HTML_FILE,
                "leaderboard": LEADERBOARD_FILE,
            },
        }
