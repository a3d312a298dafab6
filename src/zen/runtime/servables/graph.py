"""Graph neural networks saved with ``Trainer.save`` (what ``zen fit`` writes for a graph).

A request is one graph, ``{"x": [[node features]], "edge_index": [[sources], [targets]]}``.
Node-level models answer one row of scores per node, graph-level models (``readout``) one row
for the graph. Several requests run as one batch the way PyTorch Geometric batches graphs:
their disjoint union, with each request's edges offset by the nodes before it. Message passing
never crosses from one graph to another, so each request gets the outputs it would get alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zen.errors import DataError
from zen.export.saved import SavedModel
from zen.runtime.servables.base import Feeds, Prepared, Servable, numeric_matrix


class _GraphLevel(nn.Module):
    """A readout model called with the batch vector of a disjoint union."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor
    ) -> torch.Tensor:
        return self.model(x, edge_index, batch)


class GraphServable(Servable):
    """A GCN, GAT, GraphSAGE or GIN (see the module docstring)."""

    family = "graph"
    forms = ("graph",)
    inline_prepare = True

    def __init__(self, name: str, saved: SavedModel) -> None:
        super().__init__(name, saved.directory)
        model: Any = saved.model
        for module in model.modules():
            # A GCN trained with cached=True keeps the normalisation of the first graph it
            # saw; served, every request is another graph.
            if getattr(module, "cached", False) and hasattr(module, "_cache"):
                module.cached = False
                module._cache = None
        self.model = model.eval()
        self.model_class = type(model).__name__
        self.in_channels = int(model.in_channels)
        self.out_channels = int(model.out_channels)
        self.graph_level = model.readout is not None
        self.input_names = ("x", "edge_index", "batch") if self.graph_level else ("x", "edge_index")

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        self.request_form(request)
        x = numeric_matrix(request["x"], "x", self.in_channels, what="node features")
        edge_index = _edge_index(request["edge_index"], len(x))
        feeds = {"x": x, "edge_index": edge_index}
        if self.graph_level:
            feeds["batch"] = np.zeros(len(x), dtype=np.int64)
        return Prepared(feeds, len(x), None, "graph")

    def combine(self, items: Sequence[Prepared]) -> Feeds:
        if len(items) == 1:
            return items[0].feeds
        offsets = np.cumsum([0, *(item.rows for item in items[:-1])])
        feeds = {
            "x": np.concatenate([item.feeds["x"] for item in items]),
            "edge_index": np.concatenate(
                [
                    item.feeds["edge_index"] + offset
                    for item, offset in zip(items, offsets, strict=True)
                ],
                axis=1,
            ),
        }
        if self.graph_level:
            feeds["batch"] = np.repeat(
                np.arange(len(items), dtype=np.int64), [item.rows for item in items]
            )
        return feeds

    def split(self, outputs: list[np.ndarray], items: Sequence[Prepared]) -> list[list[np.ndarray]]:
        if len(items) == 1:
            return [outputs]
        if self.graph_level:
            return [
                [output[index : index + 1] for output in outputs] for index in range(len(items))
            ]
        return super().split(outputs, items)

    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        return {"outputs": outputs[0].tolist()}

    def signature(self) -> dict[str, Any]:
        rows = "graphs" if self.graph_level else "nodes"
        return {
            "request": {"x": ["nodes", self.in_channels], "edge_index": [2, "edges"]},
            "response": {"outputs": [rows, self.out_channels]},
            "model_class": self.model_class,
            "level": "graph" if self.graph_level else "node",
            "description": f"one graph -> {self.out_channels} scores per {rows[:-1]}"
            f" ({self.model_class})",
        }

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        feeds: Feeds = {
            "x": rng.standard_normal((rows, self.in_channels), dtype=np.float32),
            "edge_index": rng.integers(0, rows, size=(2, 4 * rows), dtype=np.int64),
        }
        if self.graph_level:
            feeds["batch"] = np.zeros(rows, dtype=np.int64)
        return feeds

    def torch_module(self) -> nn.Module:
        return _GraphLevel(self.model) if self.graph_level else self.model

    def export_target(self) -> Any | None:
        return None if self.graph_level else self.model  # graph-level models do not export yet


def _edge_index(value: Any, num_nodes: int) -> np.ndarray:
    """``value`` as a ``(2, edges)`` int64 array of node indices below ``num_nodes``."""
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) != 2:
        raise DataError(
            "edge_index: expected two lists, [[sources...], [targets...]] (shape (2, edges))"
        )
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray([None])
    if array.ndim != 2 or (array.size and array.dtype.kind not in "iuf"):
        raise DataError(
            "edge_index: expected two lists of node indices of the same length (shape"
            f" (2, edges)); got {len(value[0]) if isinstance(value[0], (list, tuple)) else '?'}"
            f" sources and {len(value[1]) if isinstance(value[1], (list, tuple)) else '?'} targets"
        )
    if array.dtype.kind == "f" and array.size and not np.array_equal(array, np.round(array)):
        raise DataError("edge_index: expected integer node indices")
    edges = array.astype(np.int64)
    if edges.size and (edges.min() < 0 or edges.max() >= num_nodes):
        raise DataError(
            f"edge_index: node indices must lie in [0, {num_nodes - 1}] (x has {num_nodes}"
            f" rows); got {int(edges.min())}..{int(edges.max())}"
        )
    return np.ascontiguousarray(edges)
