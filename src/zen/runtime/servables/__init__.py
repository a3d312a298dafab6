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
====================  ==============================  =========================================
"""

from __future__ import annotations

from pathlib import Path

from zen.errors import ConfigError, DataError
from zen.reports import model_directory
from zen.runtime.servables.base import FORMS, Feeds, Prepared, Servable, directory_digest
from zen.runtime.servables.dense import MLPServable, TabularServable
from zen.runtime.servables.forecast import (
    ForecasterServable,
    WindowForecastServable,
    load_forecaster,
)
from zen.runtime.servables.graph import GraphServable

__all__ = [
    "FORMS",
    "Feeds",
    "ForecasterServable",
    "GraphServable",
    "MLPServable",
    "Prepared",
    "Servable",
    "TabularServable",
    "WindowForecastServable",
    "directory_digest",
    "load_model",
    "model_directory",
]

_GRAPH_CLASSES = ("GCN", "GAT", "GraphSAGE", "GIN")


def load_model(path: str | Path, name: str | None = None) -> Servable:
    """Load the saved model at ``path`` (a model directory or a ``zen fit`` run directory).

    Args:
        path: the directory.
        name: what clients call it; default: the name of ``path``.

    Raises:
        DataError: no saved model there, or a corrupt one.
        ConfigError: a kind of model the engine cannot serve.
    """
    from zen.neural import checkpoint

    given = Path(path).expanduser()
    folder = model_directory(given)
    name = name or given.resolve().name
    payload = checkpoint.read_json(folder / checkpoint.CONFIG_FILE)
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind == "zen.tabular":
        return TabularServable(name, folder)
    if kind == "zen.forecaster":
        return load_forecaster(name, folder)
    if kind == "zen.trainer":
        model_class = (payload.get("model") or {}).get("class")
        if model_class == "MLP":
            return MLPServable(name, folder)
        if model_class in _GRAPH_CLASSES:
            return GraphServable(name, folder)
        raise ConfigError(
            f"{folder}: a Trainer checkpoint of {model_class or 'an unregistered model'}; the"
            f" engine serves MLP and {', '.join(_GRAPH_CLASSES)} checkpoints"
        )
    raise DataError(
        f"{folder}: config.json has format {kind!r}; expected one written by zen (zen.tabular,"
        " zen.forecaster or zen.trainer)"
    )
