"""Graphs: node classification, its sizes, density, homophily and class balance."""

from __future__ import annotations

from typing import Any

import numpy as np

from zen.errors import DataError
from zen.profile.graph_stats import describe_graph
from zen.profile.task import TaskProfile


def is_undirected(edge_index: Any) -> bool:
    """Whether every edge ``(u, v)`` of ``edge_index`` (``(2, E)``, tensor or array) is listed
    in both directions."""
    edges = np.asarray(edge_index).reshape(2, -1)
    forward = set(zip(edges[0].tolist(), edges[1].tolist(), strict=True))
    return all((target, source) in forward for source, target in forward)


def profile_graph(graph: Any, name: str) -> TaskProfile:
    """Profile ``graph`` (a :class:`zen.graph.Graph`) for node classification.

    The same checks, kind and reason as the graph job's own ``profile_graph``, plus sizes,
    density, homophily and class balance from :func:`describe_graph`.

    Raises:
        DataError: the graph has no labels, no features, or fewer than 2 classes.
    """
    if graph.y is None:
        raise DataError(f"{name}: the graph has no node labels (y); pass --target")
    if graph.x is None:
        raise DataError(f"{name}: the graph has no node features (x); give --nodes a feature CSV")
    labelled = graph.y[graph.y >= 0]
    n_classes = int(labelled.max()) + 1 if labelled.numel() else 0
    if n_classes < 2:
        raise DataError(f"{name}: node classification needs at least 2 classes, got {n_classes}")
    direction = "undirected" if is_undirected(graph.edge_index) else "directed"
    reason = (
        f"a graph ({graph.num_nodes} nodes, {graph.num_edges} {direction} edges,"
        f" {graph.num_features} features) with {n_classes} node classes"
    )
    statistics, reasons = describe_graph(
        graph.edge_index, graph.y, graph.num_nodes, hidden=getattr(graph, "test_mask", None)
    )
    return TaskProfile(
        kind="node classification",
        reason=reason,
        target="y",
        n_rows=int(labelled.numel()),
        n_classes=n_classes,
        layout="graph",
        num_node_features=graph.num_features,
        reasons=reasons,
        **statistics,
    )
