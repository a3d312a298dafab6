"""``zen fit``: the main job, for tables, time series and graphs.

:func:`fit` looks at the data and hands it to the job of its kind, each a module here built on
the one skeleton every job shares (:mod:`zen.orchestrator.jobs.base`):
:mod:`~zen.orchestrator.jobs.tabular` (MLP candidates on a table),
:mod:`~zen.orchestrator.jobs.forecast` (forecasters on series, chosen on a validation window,
scored on a test window) and :mod:`~zen.orchestrator.jobs.graph` (node classifiers).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import zen
from zen.graph.datasets import graph_source, load_graph
from zen.orchestrator.executors import ExecutorFactory, executor_factory, tuning_on
from zen.orchestrator.jobs.base import CandidateJob, Ranking, Trained, run_job
from zen.orchestrator.jobs.forecast import ForecastRunResult
from zen.orchestrator.jobs.forecast import forecast as _forecast
from zen.orchestrator.jobs.graph import GraphRunResult, fit_graph
from zen.orchestrator.jobs.tabular import (
    CONFUSION_FILE,
    RunResult,
    learn_table,
    tabular_candidates,
    train_tabular_candidate,
)
from zen.profile import is_time_series
from zen.tabular import read_table

# Not re-exported: ``forecast`` here is the submodule (``jobs.forecast.forecast`` is the job).
__all__ = [
    "CONFUSION_FILE",
    "CandidateJob",
    "ForecastRunResult",
    "GraphRunResult",
    "Ranking",
    "RunResult",
    "Trained",
    "fit",
    "fit_graph",
    "learn_table",
    "read_table",
    "run_job",
    "tabular_candidates",
    "train_tabular_candidate",
]


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
    executor: ExecutorFactory | None = None,
    cluster: str | None = None,
    **model_options: Any,
) -> RunResult | ForecastRunResult | GraphRunResult:
    """The main job: look at ``data``, train what fits it, score it, save model and report.

    Graphs (a folder of Planetoid files, or ``edges`` + ``nodes``) go to
    :func:`~zen.orchestrator.jobs.graph.fit_graph`; time series (a ``horizon`` is given, or the
    columns are ``unique_id, ds, y``) to :func:`~zen.orchestrator.jobs.forecast.forecast`; tables
    go to :func:`~zen.orchestrator.jobs.tabular.learn_table` (MLP candidates scored on held-out
    rows next to a baseline).

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
            :func:`~zen.orchestrator.jobs.forecast.forecast`).
        executor: builds the executor that trains the candidates, given their number (for
            example a cluster's: ``zen.collective.Cluster.executor``); None: this machine's
            process pool or this process (``workers``).
        cluster: where ``tune`` runs its trials (a Ray address or ``"auto"``); None: here.
        **model_options: settings for :class:`~zen.tabular.TabularModel` (``max_epochs``...).
    """
    if executor is not None or cluster is not None:
        with executor_factory(executor), tuning_on(cluster):
            return fit(
                data, target, edges=edges, nodes=nodes, horizon=horizon, budget_s=budget_s,
                task=task, test_size=test_size, runs_dir=runs_dir, seed=seed, progress=progress,
                workers=workers, tune=tune, policy=policy, resume=resume,
                series_options=series_options, **model_options,
            )  # fmt: skip
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
        return _forecast(
            frame, horizon, target=target, budget_s=budget_s, runs_dir=runs_dir, seed=seed,
            progress=progress, source=source, workers=workers, tune=tune, policy=policy,
            resume=resume, **(series_options or {}),
        )  # fmt: skip
    _refuse_series_options(series_only, "a table (no --horizon, no unique_id/ds/y columns)")
    if target is None:
        raise zen.ConfigError("target: name the column to predict (--target COLUMN)")
    return learn_table(
        frame, target, budget_s=budget_s, task=task, test_size=test_size, runs_dir=runs_dir,
        seed=seed, progress=progress, workers=workers, tune=tune, policy=policy, resume=resume,
        source=source, **model_options,
    )  # fmt: skip
