"""Which job runs on some data: a graph, time series or a table, read and prepared."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import zen
from zen.graph.datasets import graph_source, load_graph
from zen.orchestrator.jobs.base import CandidateJob
from zen.orchestrator.jobs.forecast import forecast_job
from zen.orchestrator.jobs.graph import graph_job
from zen.orchestrator.jobs.tabular import table_job
from zen.profile import is_time_series
from zen.tabular import read_table


def _refuse_series_options(names: list[str], what: str) -> None:
    if names:
        raise zen.ConfigError(
            f"{', '.join(names)}: options for time series, but the data are {what}; pass"
            " --horizon to forecast"
        )


def make_job(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    budget_s: float = 300.0,
    task: str = "auto",
    test_size: float = 0.2,
    seed: int = 0,
    progress: bool = False,
    tune: bool = False,
    series_options: Mapping[str, Any] | None = None,
    **model_options: Any,
) -> CandidateJob:
    """The job :func:`fit` runs on ``data`` (read, profiled, split; nothing trained yet).

    Arguments as :func:`fit`. :func:`tune_data` tunes the same job's training part.

    Raises:
        ConfigError: an argument the data's kind needs is missing, or one it cannot take.
    """
    series_only = sorted(name for name, value in (series_options or {}).items() if value)
    if edges is not None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        _refuse_series_options(series_only, "a graph")
        folder = None if data is None else Path(data)
        edge_csv = None if edges is None else Path(edges)
        node_csv = None if nodes is None else Path(nodes)
        graph, name = load_graph(folder, edges=edge_csv, nodes=node_csv, target=target)
        return graph_job(
            graph, name, budget_s=budget_s, seed=seed, progress=progress, tune=tune,
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
        return forecast_job(
            frame, horizon, target=target, budget_s=budget_s, seed=seed, progress=progress,
            source=source, tune=tune, **(series_options or {}),
        )  # fmt: skip
    _refuse_series_options(series_only, "a table (no --horizon, no unique_id/ds/y columns)")
    if target is None:
        raise zen.ConfigError("target: name the column to predict (--target COLUMN)")
    return table_job(
        frame, target, budget_s=budget_s, task=task, test_size=test_size, seed=seed,
        progress=progress, tune=tune, source=source, **model_options,
    )  # fmt: skip
