"""The main job: from a table on disk to a trained model, a score and a report in ``runs/<id>/``.

``zen fit`` is a thin shell over :func:`fit`; later model families plug in at
:func:`zen.orchestrator.profile.profile_table`, which decides the task.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import zen
from zen.errors import DataError
from zen.neural.checkpoint import atomic_directory, write_json
from zen.orchestrator.forecast_job import ForecastRunResult, forecast
from zen.orchestrator.graph_job import GraphRunResult, fit_graph, load_graph
from zen.orchestrator.profile import TaskProfile, is_time_series, profile_table
from zen.reports import new_run_id, plot_learning_curves
from zen.tabular import TabularModel, score, train_test_split

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
REPORT_FILE = "report.json"
CURVES_FILE = "learning_curves.png"


@dataclass
class RunResult:
    """What :func:`fit` did and where it put it.

    Attributes:
        run_dir: ``runs/<id>/`` with ``model/``, ``report.json`` and ``learning_curves.png``.
        profile: the detected task and why.
        metrics: the model's scores on the held-out rows.
        baseline: the same scores for ``baseline_name`` (majority class or training mean).
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

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV file with errors that say what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data: file {str(path)!r} not found")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise DataError(f"data: {path} is not a readable CSV file ({error})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"data: {path} is empty") from None
    if frame.empty:
        raise DataError(f"data: {path} has a header but no rows")
    return frame


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
        budget_s: training time budget for time series, in seconds.
        task: ``"auto"``, ``"classification"`` or ``"regression"`` (tables).
        test_size: share of rows held out for the final score (stratified for classification).
        runs_dir: parent of the run directory.
        seed: makes the split and the training repeatable.
        progress: show a progress bar while training.
        **model_options: settings for :class:`~zen.tabular.TabularModel` (``max_epochs``...).
    """
    if edges is not None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        graph, name = load_graph(
            None if data is None else Path(data),
            edges=None if edges is None else Path(edges),
            nodes=None if nodes is None else Path(nodes),
            target=target,
        )
        return fit_graph(
            graph, name, budget_s=budget_s, runs_dir=runs_dir, seed=seed, progress=progress
        )
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
            progress=progress, source=source,
        )  # fmt: skip
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

    started = time.perf_counter()
    model = TabularModel(task=profile.kind, seed=seed, progress=progress, **model_options)
    model.fit(train, target)
    train_time_s = time.perf_counter() - started

    truth = test[target].to_numpy()
    metrics = score(profile.kind, truth, model.predict(test))
    baseline_name, baseline_prediction = _baseline(profile, train[target], len(test))
    baseline = score(profile.kind, truth, baseline_prediction)

    run_id = new_run_id()
    run_dir = Path(runs_dir) / run_id
    result = RunResult(
        run_id=run_id,
        run_dir=run_dir,
        profile=profile,
        metrics=metrics,
        baseline=baseline,
        baseline_name=baseline_name,
        n_train=len(train),
        n_test=len(test),
        epochs=model.result_.epochs,
        best_epoch=model.result_.best_epoch,
        train_time_s=train_time_s,
    )
    # Everything lands in a staging directory first: a crash leaves no half-written run.
    with atomic_directory(run_dir) as staging:
        model.save(staging / MODEL_DIR)
        plot_learning_curves(
            model.history_.records,
            staging / CURVES_FILE,
            title=f"zen fit: {target} ({profile.kind})",
            best_epoch=result.best_epoch,
        )
        write_json(staging / REPORT_FILE, _report(result, model, data))
    logger.info("run %s saved to %s", run_id, run_dir)
    return result


def _baseline(profile: TaskProfile, train_target: pd.Series, n: int) -> tuple[str, np.ndarray]:
    if profile.kind == "classification":
        majority = train_target.value_counts().index[0]
        shown = majority.item() if hasattr(majority, "item") else majority
        return f"majority class ({shown!r})", np.full(n, majority, dtype=object)
    mean = float(pd.to_numeric(train_target).mean())
    return f"training mean ({mean:.4g})", np.full(n, mean)


def _report(result: RunResult, model: TabularModel, data: Any) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "zen_version": zen.__version__,
        "data": str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>",
        "task": result.profile.to_json(),
        "split": {"train_rows": result.n_train, "test_rows": result.n_test},
        "model": {
            "network": model.network_.config(),
            "epochs": result.epochs,
            "best_epoch": result.best_epoch,
            "train_time_s": result.train_time_s,
        },
        "test_metrics": result.metrics,
        "baseline": {"name": result.baseline_name, "test_metrics": result.baseline},
        "files": {"model": MODEL_DIR, "learning_curves": CURVES_FILE},
        "history": model.history_.records,
    }
