"""Statistics of a graph that the router decides on (size, density, degree, homophily), and the
class balance of labels, shared with tables."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Homophily needs this many labelled edges to mean anything.
MIN_LABELLED_EDGES = 10


def describe_graph(
    edge_index: Any, labels: Any, num_nodes: int, hidden: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Sizes, density, edge homophily and class balance of a graph, with reasons.

    Args:
        edge_index: ``(2, num_edges)`` node indices (tensor or array); an undirected edge is
            listed in both directions, as in :class:`zen.graph.Graph`.
        labels: ``(num_nodes,)`` class per node, negative for unlabelled (``None``: no labels).
        num_nodes: number of nodes.
        hidden: boolean mask of nodes whose labels must not be looked at (the test nodes):
            choosing a model on test labels would leak them into the choice.

    Returns:
        ``(values, reasons)`` with :class:`TaskProfile` field names. Edge homophily is
        :math:`|\\{(u, v) \\in E : y_u = y_v\\}| / |E|` (Zhu et al. 2020) over edges whose ends
        are labelled and visible; self-loops are left out because they match trivially (so it
        equals PyG's ``homophily(method="edge")`` on graphs without self-loops).
    """
    edges = np.asarray(edge_index).reshape(2, -1)
    source, target = edges[0], edges[1]
    proper = source != target
    n_proper = int(proper.sum())
    pairs = num_nodes * (num_nodes - 1)
    values: dict[str, Any] = {
        "num_nodes": int(num_nodes),
        "num_edges": int(edges.shape[1]),
        "graph_density": n_proper / pairs if pairs else 0.0,
        "mean_degree": n_proper / num_nodes if num_nodes else 0.0,
    }
    reasons = {
        "num_edges": f"{edges.shape[1]} directed edges ({edges.shape[1] - n_proper} self-loops)",
        "graph_density": f"{n_proper} of {pairs} possible edges between distinct nodes;"
        f" {values['mean_degree']:.1f} neighbours per node on average",
    }
    if labels is None:
        return values, reasons
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != num_nodes:
        reasons["homophily"] = f"labels have shape {y.shape}, not one class per node: not computed"
        return values, reasons
    visible = y >= 0
    note = ""
    if hidden is not None:
        visible &= ~np.asarray(hidden, dtype=bool)
        note = "; test nodes left out"
    counts = pd.Series(y[visible]).value_counts()
    if len(counts) >= 2:
        values["class_balance"] = class_balance(counts, reasons)
        reasons["class_balance"] = reasons["class_balance"].replace("rows", "nodes") + note
    known = proper & visible[source] & visible[target]
    if known.sum() < MIN_LABELLED_EDGES:
        reasons["homophily"] = (
            f"only {int(known.sum())} edges join two labelled nodes{note}: too few to measure"
        )
        return values, reasons
    homophily = float(np.mean(y[source[known]] == y[target[known]]))
    values["homophily"] = homophily
    verdict = (
        "homophilous: neighbours tend to share a class"
        if homophily >= 0.5
        else "heterophilous: neighbours mostly differ"
    )
    reasons["homophily"] = (
        f"{homophily:.0%} of {int(known.sum())} labelled edges join nodes of the same class"
        f" (edge homophily, Zhu et al. 2020): {verdict}{note}"
    )
    return values, reasons


def class_balance(counts: pd.Series, reasons: dict[str, str]) -> float:
    """Rarest / commonest class size, with its reason in ``reasons``."""
    counts = counts.sort_values(ascending=False)
    balance = float(counts.iloc[-1] / counts.iloc[0])
    rarest, commonest = (plain(label) for label in (counts.index[-1], counts.index[0]))
    reasons["class_balance"] = (
        f"rarest class {rarest!r} has {int(counts.iloc[-1])} rows, commonest"
        f" {commonest!r} has {int(counts.iloc[0])}"
        + (": imbalanced, so accuracy flatters; read macro F1" if balance < 0.2 else "")
    )
    return balance


def plain(label: Any) -> Any:
    """A numpy scalar as the Python value it holds, so that reasons read ``1``, not
    ``np.int64(1)``."""
    return label.item() if isinstance(label, np.generic) else label
