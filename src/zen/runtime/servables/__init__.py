"""Saved zen models behind one interface for the inference engine: :func:`load_model`.

>>> servable = load_model("runs/20240601-abc")               # doctest: +SKIP
>>> servable.family, servable.signature()["request"]          # doctest: +SKIP
('tabular', {'inputs': ['rows', 8], 'records': ['rows', '{column: value}']})

Families (what ``config.json`` in the model directory says):

====================  ==============================  =========================================
saved by              servable                        request
====================  ==============================  =========================================
``TabularModel.save`` :class:`TabularServable`        ``inputs`` (raw columns) or ``records``
``Forecaster.save``   :class:`WindowForecastServable` ``series`` (or ``inputs`` histories)
                      / :class:`ForecasterServable`
``Trainer.save``, MLP :class:`MLPServable`            ``inputs`` (features)
``Trainer.save``, GNN :class:`GraphServable`          ``x`` and ``edge_index``
``zen fit`` sequences :class:`SequenceServable`       ``inputs`` (sequences of channels)
``--as-image`` runs   :class:`ImageServable`          ``inputs`` (rows of pixels)
====================  ==============================  =========================================
"""

from __future__ import annotations

from pathlib import Path

from zen.errors import ConfigError
from zen.reports import model_directory
from zen.runtime.servables.base import FORMS, Feeds, Prepared, Servable, directory_digest
from zen.runtime.servables.dense import MLPServable, TabularServable
from zen.runtime.servables.forecast import (
    ForecasterServable,
    WindowForecastServable,
    load_forecaster,
)
from zen.runtime.servables.graph import GraphServable
from zen.runtime.servables.sequence import ImageServable, SequenceServable

__all__ = [
    "FORMS",
    "Feeds",
    "ForecasterServable",
    "GraphServable",
    "ImageServable",
    "MLPServable",
    "Prepared",
    "SequenceServable",
    "Servable",
    "TabularServable",
    "WindowForecastServable",
    "directory_digest",
    "load_model",
    "model_directory",
]


def load_model(path: str | Path, name: str | None = None) -> Servable:
    """Load the saved model at ``path`` (a model directory or a ``zen fit`` run directory).

    The model is read by :func:`zen.export.saved.load_saved`, the loader every entry point
    shares; this picks the servable of its kind.

    Args:
        path: the directory.
        name: what clients call it; default: the name of ``path``.

    Raises:
        DataError: no saved model there, or a corrupt one.
        ConfigError: a kind of model the engine cannot serve.
    """
    from zen.export.saved import load_saved
    from zen.neural import MLP

    given = Path(path).expanduser()
    name = name or given.resolve().name
    saved = load_saved(given)
    if saved.kind == "tabular":
        return TabularServable(name, saved)
    if saved.kind == "forecast":
        return load_forecaster(name, saved)
    if saved.kind == "graph":
        return GraphServable(name, saved)
    if saved.kind == "sequence":
        return SequenceServable(name, saved)
    if saved.kind == "image":
        return ImageServable(name, saved)
    if isinstance(saved.model, MLP):
        return MLPServable(name, saved)
    raise ConfigError(
        f"{saved.directory}: a Trainer checkpoint of a {type(saved.model).__name__}; the engine"
        " serves MLP and graph network (GCN, GAT, GraphSAGE, GIN) checkpoints"
    )
