"""The export plan of a node-level GNN: node features and edges in, node scores out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from zen.errors import ConfigError
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    TRACE_GRAPH,
    ExportPlan,
    TensorSpec,
)


def graph_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a GNN with ``readout=None`` (one score vector per node)."""
    check_sizes = tuple(dict(num_nodes=n, num_edges=e) for n, e in graph_sizes)
    if model.readout is not None:
        raise ConfigError(
            f"model: {type(model).__name__} with readout={model.readout!r} (graph-level) cannot"
            " be exported yet; node-level models (readout=None) can"
        )
    inputs = (
        TensorSpec("x", ("num_nodes", int(model.in_channels)), description="node features"),
        TensorSpec(
            "edge_index",
            (2, "num_edges"),
            dtype="int64",
            description="row 0: source node, row 1: target node of every edge",
        ),
    )
    outputs = (
        TensorSpec(
            "logits",
            ("num_nodes", int(model.out_channels)),
            description="scores per node; argmax is the predicted class",
        ),
    )
    in_channels = int(model.in_channels)

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        nodes, edges = sizes["num_nodes"], sizes["num_edges"]
        x = torch.randn(nodes, in_channels, generator=generator)
        edge_index = torch.randint(0, nodes, (2, edges), generator=generator)
        return x, edge_index

    return ExportPlan(
        family=type(model).__name__.lower(),
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes=dict(TRACE_GRAPH),
        check_sizes=check_sizes,
        make_inputs=make,
        metadata={
            "model": model.config(),
            "normalization": {
                "inside_graph": "self loops and the layer's own edge normalisation",
                "outside_graph": (
                    "node features as in training; every edge weighs 1 (edge_weight and"
                    " edge_attr are not inputs of the exported graph)"
                ),
            },
        },
        graph_model=True,
        axes={"num_nodes": "nodes in the graph", "num_edges": "directed edges"},
    )
