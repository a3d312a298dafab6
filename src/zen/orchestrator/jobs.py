"""The main job: from a table on disk to a trained model, a score and a report in ``runs/<id>/``.

``zen fit`` is a thin shell over :func:`fit`; later model families plug in at
:func:`zen.orchestrator.profile.profile_table`, which decides the task. Tables are learned by
the router's MLP candidates, trained as workflow steps (see
:mod:`zen.orchestrator.orchestration`); the run and each candidate are recorded in History.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen import registry
from zen.errors import DataError, ZenError
from zen.graph.datasets import graph_source, load_graph
from zen.neural.checkpoint import atomic_directory, write_json
from zen.orchestrator.forecast_job import ForecastRunResult, forecast
from zen.orchestrator.graph_job import GraphRunResult, fit_graph
from zen.orchestrator.orchestration import (
    candidate_run,
    failed,
    routing_report,
    start_job,
    succeeded,
    train_candidates,
    trained_device,
)
from zen.profile import TaskProfile, is_time_series, profile_table
from zen.reports import (
    ALL_CURVES_FILE,
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    REPORT_FILE,
    plot_candidate_curves,
    plot_confusion_matrix,
    plot_leaderboard,
    plot_learning_curves,
    write_html_report,
)
from zen.tabular import read_table, score, train_test_split

logger = logging.getLogger(__name__)

CONFUSION_FILE = "confusion_matrix.png"


@dataclass
class RunResult:
    """What :func:`fit` did and where it put it.

    Attributes:
        run_dir: ``runs/<id>/`` with ``model/``, ``report.json`` and ``learning_curves.png``.
        profile: the detected task and why.
        metrics: the model's scores on the held-out rows.
        baseline: the same scores for ``baseline_name`` (majority class or training mean).
        leaderboard: every trained candidate, best (lowest validation loss) first.
        candidates, failed: the router's candidates with reasons; those whose training raised.
        history_id: the run's id in History (``zen history show ID``).
        tuning: what ``--tune`` found, when asked.
    """

    run_id: str
    run_dir: Path
    profile: TaskProfile
    metrics: dict[str, float]
    baseline: dict[str, float]
    baseline_name: str
    n_train: int
    n_test: int
    epochs: int
    best_epoch: int | None
    train_time_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    best_model: str = "MLP"
    candidates: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    history_id: int | None = None
    tuning: dict[str, Any] | None = None

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR


def _refuse_series_options(names: list[str], what: str) -> None:
    if names:
        raise zen.ConfigError(
            f"{', '.join(names)}: options for time series, but the data are {what}; pass"
            " --horizon to forecast"
        )


def fit(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    budget_s: float = 300.0,
    task: str = "auto",
    test_size: float = 0.2,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
    workers: int | None = None,
    tune: bool = False,
    policy: str = "learned",
    resume: bool = True,
    series_options: Mapping[str, Any] | None = None,
    **model_options: Any,
) -> RunResult | ForecastRunResult | GraphRunResult:
    """The main job: look at ``data``, train what fits it, score it, save model and report.

    Graphs (a folder of Planetoid files, or ``edges`` + ``nodes``) go to
    :func:`zen.orchestrator.graph_job.fit_graph`; time series (a ``horizon`` is given, or the
    columns are ``unique_id, ds, y``) to :func:`zen.orchestrator.forecast_job.forecast`; tables
    are learned with a :class:`~zen.tabular.TabularModel`, scored on held-out rows next to a
    baseline.

    Args:
        data: a CSV path, a DataFrame, or a folder with a graph.
        target: the column to predict (tables: required; wide time series: that column only;
            graphs from ``edges``: the label column of ``nodes``).
        edges, nodes: a graph as an edge-list CSV and a node CSV (features and labels).
        horizon: steps to forecast (time series).
        budget_s: training time budget in seconds (tables: for all candidates together).
        task: ``"auto"``, ``"classification"`` or ``"regression"`` (tables).
        test_size: share of rows held out for the final score (stratified for classification).
        runs_dir: parent of the run directory.
        seed: makes the split and the training repeatable.
        progress: show a progress bar while training.
        workers: processes that train candidates side by side (None: the usable cores).
        tune: tune the router's first candidate with Optuna (a third of the budget) and
            train it with the hyperparameters found.
        policy: the router's policy (see :class:`~zen.orchestrator.router.Router`), or ``"ab"``
            to draw it at random per run for an A/B test (``zen router compare``).
        resume: when an earlier run of the same job (same data and settings) failed or was
            interrupted, load the candidates it had finished instead of training them again.
        series_options: how time series are read: ``freq``, ``date_format``, ``fill``,
            ``hist_exog``, ``futr_exog``, ``static`` (see
            :func:`~zen.orchestrator.forecast_job.forecast`).
        **model_options: settings for :class:`~zen.tabular.TabularModel` (``max_epochs``...).
    """
    series_only = sorted(name for name, value in (series_options or {}).items() if value)
    if edges is not None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        _refuse_series_options(series_only, "a graph")
        folder = None if data is None else Path(data)
        edge_csv = None if edges is None else Path(edges)
        node_csv = None if nodes is None else Path(nodes)
        graph, name = load_graph(folder, edges=edge_csv, nodes=node_csv, target=target)
        return fit_graph(
            graph, name, budget_s=budget_s, runs_dir=runs_dir, seed=seed, progress=progress,
            workers=workers, tune=tune, policy=policy, resume=resume,
            source=graph_source(folder, edges=edge_csv, nodes=node_csv, target=target),
        )  # fmt: skip
    if data is None:
        raise zen.ConfigError("data: pass a CSV file, a graph folder, or --edges/--nodes")
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    source = str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>"
    series, _ = is_time_series(frame, horizon)
    if series:
        if horizon is None:
            raise zen.ConfigError(
                "horizon: the data are time series (unique_id, ds, y); pass --horizon STEPS"
            )
        return forecast(
            frame, horizon, target=target, budget_s=budget_s, runs_dir=runs_dir, seed=seed,
            progress=progress, source=source, workers=workers, tune=tune, policy=policy,
            resume=resume, **(series_options or {}),
        )  # fmt: skip
    _refuse_series_options(series_only, "a table (no --horizon, no unique_id/ds/y columns)")
    if target is None:
        raise zen.ConfigError("target: name the column to predict (--target COLUMN)")
    if not 0.0 < test_size < 1.0:
        raise zen.ConfigError(f"test_size: expected a fraction in (0, 1), got {test_size!r}")
    profile = profile_table(frame, target, task)
    frame = frame[frame[target].notna()].reset_index(drop=True)
    labels = frame[target].to_numpy()
    stratify = labels if profile.kind == "classification" else None
    train_rows, test_rows = train_test_split(len(frame), test_size, seed, stratify)
    if len(train_rows) < 10 or len(test_rows) < 1:
        raise DataError(
            f"data: {len(frame)} usable rows are too few to train and evaluate; need at least 13"
        )
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    with start_job(
        profile, tabular_candidates(), budget_s=budget_s, policy=policy, seed=seed, source=source,
        runs_dir=runs_dir, settings={"budget_s": budget_s, "tune": tune, **model_options},
        key_parts={"data": frame, "target": target, "kind": profile.kind,
                   "test_size": test_size, "seed": seed, "budget_s": budget_s,
                   "options": model_options, "version": zen.__version__},
        resume=resume, tune=tune,
    ) as job:  # fmt: skip
        candidates, run = job.candidates, job.run
        started = time.perf_counter()
        tuning: dict[str, Any] | None = None
        tuned: dict[str, dict[str, Any]] = {}
        if tune:
            tuning, tuned = _tune(train, target, profile.kind, candidates[0].name,
                                  budget_s / 3, seed)  # fmt: skip
        remaining_s = max(budget_s - (time.perf_counter() - started), 1.0)
        inputs = {
            "family": profile.family, "profile": profile.to_json(), "seed": seed,
            "source": source, "train": train, "test": test, "target": target,
            "kind": profile.kind, "progress": progress, "model_options": model_options,
            "time_s": remaining_s / len(candidates),
        }  # fmt: skip
        data_bytes = int(frame.memory_usage(deep=True).sum())
        outcomes = train_candidates(
            train_tabular_candidate, inputs, candidates, parent_id=run.id, scratch=job.scratch,
            workers=workers, data_bytes=data_bytes, hyperparameters=tuned,
            budget_s=remaining_s, task_key=job.key,
        )  # fmt: skip
        good = succeeded(outcomes)
        job.record_devices(outcomes)
        # Chosen on each model's own validation rows: the held-out rows only score.
        leaderboard = sorted(good, key=lambda row: row["val_loss"])
        best = leaderboard[0]
        truth = test[target].to_numpy()
        baseline_name, baseline_prediction = _baseline(profile, train[target], len(test))
        baseline = score(profile.kind, truth, baseline_prediction)
        run.metrics.update(best["test_metrics"])
        regret = job.record_regret({row["model"]: row["val_loss"] for row in good}, "val_loss")
        result = RunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=profile, metrics=best["test_metrics"],
            baseline=baseline, baseline_name=baseline_name, n_train=len(train),
            n_test=len(test), epochs=best["epochs"], best_epoch=best["best_epoch"],
            train_time_s=best["fit_s"], extra=job.extra(regret),
            leaderboard=[_row(outcome) for outcome in leaderboard],
            best_model=best["model"], candidates=[c.to_json() for c in candidates],
            failed=[o for o in outcomes if "error" in o], history_id=run.id,
            tuning=tuning,
        )  # fmt: skip
        # Everything lands in a staging directory first: a crash leaves no half-written run.
        with atomic_directory(job.run_dir) as staging:
            shutil.copytree(job.scratch / best["model"], staging / MODEL_DIR)
            plot_learning_curves(
                best["records"],
                staging / CURVES_FILE,
                title=f"zen fit: {target} ({profile.kind}, {best['model']})",
                best_epoch=result.best_epoch,
            )
            plot_leaderboard(result.leaderboard, "val_loss", staging / LEADERBOARD_FILE,
                             title="candidates by validation loss")  # fmt: skip
            images = {
                "leaderboard": staging / LEADERBOARD_FILE,
                f"learning curves ({best['model']})": staging / CURVES_FILE,
            }
            if len(good) > 1:
                plot_candidate_curves({row["model"]: row["records"] for row in good},
                                      staging / ALL_CURVES_FILE)  # fmt: skip
                images["learning curves (every candidate)"] = staging / ALL_CURVES_FILE
            if profile.kind == "classification":
                plot_confusion_matrix(truth, best["predictions"], staging / CONFUSION_FILE)
                images["confusion matrix (held-out rows)"] = staging / CONFUSION_FILE
            report = _report(result, best, data)
            write_json(staging / REPORT_FILE, report)
            write_html_report(staging / HTML_FILE, report, images)
    logger.info("run %s saved to %s", result.run_id, result.run_dir)
    return result


def tabular_candidates() -> list[str]:
    """The table models zen fit may train: every registered candidate (the
    :class:`~zen.tabular.TabularModel` MLPs whose options make the difference, and any the user
    registered)."""
    return registry.names_of(registry.candidates("table"))


def train_tabular_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: fit one MLP, score it on the held-out rows, save it to ``model_dir``.

    Returns its scores, settings, learning-curve ``records`` and held-out ``predictions``
    (or ``error``). The user's settings (``--epochs``...) win over the router's options.
    """
    from zen.neural import TimeLimit

    settings = {**options, **task["model_options"]}
    try:
        with candidate_run(task, name, settings, parent_id) as run:
            job = {"task": task["kind"], "seed": task["seed"], "progress": task["progress"],
                   "callbacks": [TimeLimit(task["time_s"])], **task["model_options"]}  # fmt: skip
            model = registry.get(name, "table").create(job, options)
            started = time.perf_counter()
            model.fit(task["train"], task["target"])
            fit_s = time.perf_counter() - started
            run.device = trained_device(model.network_)
            test = task["test"]
            predictions = model.predict(test)
            metrics = score(task["kind"], test[task["target"]].to_numpy(), predictions)
            val_loss = model.result_.best_score
            model.save(model_dir)
            run.metrics.update({**metrics, "val_loss": val_loss, "fit_s": fit_s})
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    return {
        "model": name,
        "test_metrics": metrics,
        "val_loss": float("inf") if val_loss is None else float(val_loss),
        "epochs": model.result_.epochs,
        "best_epoch": model.result_.best_epoch,
        "fit_s": fit_s,
        "network": model.network_.config(),
        "settings": settings,
        "records": model.history_.records,
        "predictions": list(predictions),
        "device": run.device,
    }


def _row(outcome: dict[str, Any]) -> dict[str, Any]:
    """A leaderboard row: the scores and the router's reason, without the bulky parts."""
    keep = ("model", "val_loss", "test_metrics", "epochs", "best_epoch", "fit_s", "resumed",
            "reason")  # fmt: skip
    return {key: outcome[key] for key in keep if key in outcome}


def _tune(
    train: pd.DataFrame, target: str, kind: str, name: str, timeout_s: float, seed: int
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Tune the MLP on the training rows (its own validation split scores the trials)."""
    from zen.orchestrator.tune import tune_tabular

    found = tune_tabular(train, target, task=kind, n_trials=20, timeout_s=timeout_s, seed=seed)
    chosen = {k: v for k, v in found.best_hyperparameters.items() if k != "seed"}
    summary = {"model": name, "study_name": found.study_name, "best_value": found.best_value,
               "n_trials": found.n_trials, "best_hyperparameters": chosen}  # fmt: skip
    return summary, {name: chosen}


def _baseline(profile: TaskProfile, train_target: pd.Series, n: int) -> tuple[str, np.ndarray]:
    if profile.kind == "classification":
        majority = train_target.value_counts().index[0]
        shown = majority.item() if hasattr(majority, "item") else majority
        return f"majority class ({shown!r})", np.full(n, majority, dtype=object)
    mean = float(pd.to_numeric(train_target).mean())
    return f"training mean ({mean:.4g})", np.full(n, mean)


def _report(result: RunResult, best: dict[str, Any], data: Any) -> dict[str, Any]:
    files = {"model": MODEL_DIR, "learning_curves": CURVES_FILE, "html": HTML_FILE,
             "leaderboard": LEADERBOARD_FILE}  # fmt: skip
    if result.profile.kind == "classification":
        files["confusion_matrix"] = CONFUSION_FILE
    return {
        **routing_report(result),
        "data": str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>",
        "split": {"train_rows": result.n_train, "test_rows": result.n_test},
        "selection": "lowest validation loss (each model's own validation rows)",
        "model": {
            "network": best["network"],
            "settings": best["settings"],
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,
            "train_time_s": result.train_time_s,
        },
        "test_metrics": result.metrics,
        "baseline": {"name": result.baseline_name, "test_metrics": result.baseline},
        "files": files,
        "history": best["records"],
    }
