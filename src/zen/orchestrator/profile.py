"""Profiling what ``zen fit`` would train on: :func:`profile_data`, and the profile names.

The profiles themselves live in :mod:`zen.profile`, a leaf that the model families use too;
this module adds the one step that needs the jobs' loaders (a CSV file, a graph folder, edge
and node files) and keeps the names importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from zen.errors import ConfigError
from zen.graph.datasets import load_graph
from zen.profile import (
    FAMILIES,
    LONG_COLUMNS,
    MAX_CLASSES,
    MIN_ROWS_PER_CLASS,
    TASK_KINDS,
    TIME_COLUMNS,
    Explanation,
    SeriesTable,
    TaskProfile,
    detect_task,
    family_of,
    is_time_series,
    profile_graph,
    profile_series,
    profile_table,
    series_table,
    wide_to_long,
)
from zen.tabular import read_table

__all__ = [
    "FAMILIES",
    "LONG_COLUMNS",
    "MAX_CLASSES",
    "MIN_ROWS_PER_CLASS",
    "TASK_KINDS",
    "TIME_COLUMNS",
    "Explanation",
    "SeriesTable",
    "TaskProfile",
    "detect_task",
    "family_of",
    "is_time_series",
    "profile_data",
    "profile_graph",
    "profile_series",
    "profile_table",
    "series_table",
    "wide_to_long",
]


def profile_data(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    task: str = "auto",
    series_options: Mapping[str, Any] | None = None,
    as_image: str | None = None,
) -> TaskProfile:
    """Profile what ``zen fit`` would train on, without training (``zen fit --explain``).

    Dispatches as :func:`zen.orchestrator.jobs.fit` does: ``.ts`` files (or a folder of them)
    and CSVs with ``sequence_id, t`` columns are labelled sequences, a graph folder or ``edges``
    + ``nodes`` is a graph, a ``horizon`` or ``unique_id, ds, y`` columns make time series,
    anything else is a table with column ``target``.

    Raises:
        ConfigError: ``target`` or ``horizon`` is needed and missing.
        DataError: the data cannot be read (see the loaders).
    """
    from zen.orchestrator.jobs.dispatch import is_sequence_source, make_job

    if as_image is not None:
        return make_job(data, target, as_image=as_image).profile
    if isinstance(data, (str, Path)) and edges is None and is_sequence_source(Path(data)):
        return make_job(data, target).profile  # read and split as zen fit would
    if edges is not None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        graph, name = load_graph(
            None if data is None else Path(data),
            edges=None if edges is None else Path(edges),
            nodes=None if nodes is None else Path(nodes),
            target=target,
        )
        return profile_graph(graph, name)
    if data is None:
        raise ConfigError("data: pass a CSV file, a graph folder, or --edges/--nodes")
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    series, _ = is_time_series(frame, horizon)
    if series:
        if horizon is None:
            raise ConfigError(
                "horizon: the data are time series (unique_id, ds, y); pass --horizon STEPS"
            )
        options = series_options or {}
        return profile_series(
            frame, horizon, target, freq=options.get("freq"),
            date_format=options.get("date_format"),
            exog=(*options.get("hist_exog", ()), *options.get("futr_exog", ()),
                  *options.get("static", ())),
        )  # fmt: skip
    if target is None:
        raise ConfigError("target: name the column to predict (--target COLUMN)")
    return profile_table(frame, target, task)
