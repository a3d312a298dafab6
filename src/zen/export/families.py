"""Which export plan a model gets: the one its registry entry names.

Each model family makes the plans of its own models next to its code
(:mod:`zen.neural.export_plan` for the MLP, :mod:`zen.forecasting.export`,
:mod:`zen.graph.export`, :mod:`zen.tabular.export`) and names them in its
:class:`~zen.registry.ModelSpec`; :func:`plan_export` finds the spec of a model by its class
(or the nearest registered base class, so a user's subclass of a zen model exports like it).
"""

from __future__ import annotations

from typing import Any

from zen import registry
from zen.compute.compile import CompiledModule
from zen.errors import ConfigError
from zen.forecasting.core import Forecaster
from zen.forecasting.export import forecast_windows, pick_forecast_model
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    ExportPlan,
    TensorSpec,
)

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "DEFAULT_GRAPH_SIZES",
    "ExportPlan",
    "TensorSpec",
    "forecast_windows",
    "pick_forecast_model",
    "plan_export",
]


def plan_export(
    model: Any,
    model_name: str | None = None,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan for ``model``; :class:`ConfigError` when zen cannot export it."""
    if isinstance(model, CompiledModule):
        model = model._orig_mod
    if isinstance(model, Forecaster):
        return plan_export(pick_forecast_model(model, model_name), None, batch_sizes, graph_sizes)
    if model_name is not None:
        raise ConfigError(
            f"model_name: only a Forecaster holds several models; got a {type(model).__name__}"
        )
    spec = registry.spec_for(model, exportable=True)
    if spec is None or spec.export_plan is None:
        exportable = sorted({cls.__name__ for cls in _exportable_classes()})
        raise ConfigError(
            f"model: cannot export a {type(model).__module__}.{type(model).__name__}; zen exports"
            f" a Forecaster (one neural model) and {', '.join(exportable)} (and their subclasses)"
        )
    return spec.export_plan(model, batch_sizes=batch_sizes, graph_sizes=graph_sizes)


def _exportable_classes() -> list[type]:
    return [
        spec.model_class
        for spec in registry.specs()
        if spec.export_plan is not None and spec.model_class is not None
    ]
