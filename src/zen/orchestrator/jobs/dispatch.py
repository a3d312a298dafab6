"""Which job runs on some data: a graph, time series, labelled sequences or a table, read and
prepared."""

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
from zen.orchestrator.jobs.sequence import sequence_job
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
    as_image: str | tuple[int, int, int] | None = None,
    **model_options: Any,
) -> CandidateJob:
    """The job :func:`fit` runs on ``data`` (read, profiled, split; nothing trained yet).

    Arguments as :func:`fit`. :func:`tune_data` tunes the same job's training part.
    ``as_image`` (``"8x8"``, ``"3x32x32"`` or a ``(channels, height, width)`` tuple) reads a
    table's non-target columns as the pixels of images (:mod:`~zen.orchestrator.jobs.images`).

    Raises:
        ConfigError: an argument the data's kind needs is missing, or one it cannot take.
    """
    series_only = sorted(name for name, value in (series_options or {}).items() if value)
    if as_image is not None:
        _refuse_series_options(series_only, "images (--as-image)")
        return _image_job(data, target, as_image, budget_s=budget_s, test_size=test_size,
                          seed=seed, progress=progress, tune=tune)  # fmt: skip
    if isinstance(data, (str, Path)) and edges is None and is_sequence_source(Path(data)):
        _refuse_series_options(series_only, "labelled sequences")
        return _sequence_job(Path(data), target, budget_s=budget_s, test_size=test_size,
                             seed=seed, progress=progress, tune=tune)  # fmt: skip
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


#: The columns that make a CSV a long table of labelled sequences.
SEQUENCE_COLUMNS = ("sequence_id", "t")


def is_sequence_source(path: Path) -> bool:
    """Whether ``path`` holds labelled sequences: a ``.ts`` file, a folder with ``.ts`` files
    (``NAME_TRAIN.ts``, ``NAME_TEST.ts``), or a CSV whose columns include ``sequence_id`` and
    ``t``."""
    if path.is_dir():
        return any(path.glob("*.ts"))
    if path.suffix.lower() == ".ts":
        return True
    if path.suffix.lower() == ".csv" and path.is_file():
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (OSError, ValueError, pd.errors.ParserError):
            return False  # read_table says what is wrong with it
        return all(column in header for column in SEQUENCE_COLUMNS)
    return False


def _sequence_job(path: Path, target: str | None, **settings: Any) -> CandidateJob:
    """The sequence job on ``path``: a folder's train and test files, or one file whose
    ``test_size`` share is held out."""
    from zen.neural.datasets import load_sequences, read_sequence_csv

    if path.suffix.lower() == ".csv":
        loaded: Any = read_sequence_csv(path, label_column=target or "label",
                                        task="classification")  # fmt: skip
    else:
        if target is not None:
            raise zen.ConfigError(
                f"target: {path} holds .ts sequences, whose label is fixed by the format; drop"
                " --target"
            )
        loaded = load_sequences(path)
    train, test = loaded if isinstance(loaded, tuple) else (loaded, None)
    return sequence_job(train, test, source=str(path), **settings)


def _image_job(
    data: str | Path | pd.DataFrame | None,
    target: str | None,
    as_image: str | tuple[int, int, int],
    **settings: Any,
) -> CandidateJob:
    from zen.orchestrator.jobs.images import image_job, parse_image_shape

    if data is None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        raise zen.ConfigError("as_image: pass a table (CSV) whose columns are pixels")
    if target is None:
        raise zen.ConfigError("target: name the label column of the images (--target COLUMN)")
    shape = parse_image_shape(as_image) if isinstance(as_image, str) else tuple(as_image)
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    source = str(data) if not isinstance(data, pd.DataFrame) else "<DataFrame>"
    return image_job(frame, target, shape, source=source, **settings)  # type: ignore[arg-type]
