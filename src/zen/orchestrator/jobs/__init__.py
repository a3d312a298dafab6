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

from zen.orchestrator.executors import ExecutorFactory, executor_factory, tuning_on
from zen.orchestrator.jobs.base import CandidateJob, Ranking, RunOutcome, Trained, run_job
from zen.orchestrator.jobs.dispatch import make_job
from zen.orchestrator.jobs.forecast import ForecastRunResult
from zen.orchestrator.jobs.graph import GraphRunResult, fit_graph
from zen.orchestrator.jobs.sequence import SequenceRunResult
from zen.orchestrator.jobs.tabular import (
    CONFUSION_FILE,
    RunResult,
    learn_table,
    tabular_candidates,
    train_tabular_candidate,
)
from zen.orchestrator.jobs.tuning import tune_data
from zen.tabular import read_table

# Not re-exported: ``forecast`` here is the submodule (``jobs.forecast.forecast`` is the job).
__all__ = [
    "CONFUSION_FILE",
    "CandidateJob",
    "ForecastRunResult",
    "GraphRunResult",
    "Ranking",
    "RunOutcome",
    "RunResult",
    "Trained",
    "fit",
    "fit_graph",
    "learn_table",
    "make_job",
    "read_table",
    "run_job",
    "tabular_candidates",
    "train_tabular_candidate",
    "tune_data",
]


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
    as_image: str | tuple[int, int, int] | None = None,
    **model_options: Any,
) -> RunResult | ForecastRunResult | GraphRunResult | SequenceRunResult:
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
        as_image: read a table's non-target columns as images of this shape (``"8x8"``) and
            classify them with the image candidates.
        **model_options: settings for :class:`~zen.tabular.TabularModel` (``max_epochs``...).
    """
    if executor is not None or cluster is not None:
        with executor_factory(executor), tuning_on(cluster):
            return fit(
                data, target, edges=edges, nodes=nodes, horizon=horizon, budget_s=budget_s,
                task=task, test_size=test_size, runs_dir=runs_dir, seed=seed, progress=progress,
                workers=workers, tune=tune, policy=policy, resume=resume,
                series_options=series_options, as_image=as_image, **model_options,
            )  # fmt: skip
    job = make_job(
        data, target, edges=edges, nodes=nodes, horizon=horizon, budget_s=budget_s, task=task,
        test_size=test_size, seed=seed, progress=progress, tune=tune,
        series_options=series_options, as_image=as_image, **model_options,
    )  # fmt: skip
    return run_job(
        job, budget_s=budget_s, policy=policy, seed=seed, runs_dir=runs_dir, workers=workers,
        tune=tune, resume=resume,
    )  # fmt: skip
