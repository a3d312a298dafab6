"""Conversions between :class:`Graph` and networkx graphs or scipy sparse adjacency matrices.

networkx and scipy are optional: they are imported when a conversion needs them, and a missing
one raises :class:`~zen.errors.BackendUnavailable` saying what to install.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import torch

from zen.errors import BackendUnavailable
from zen.graph.data import Graph


def require(module: str) -> Any:
    """Import an optional dependency or explain how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = {"scipy.sparse": "scipy"}.get(module, module)
        raise BackendUnavailable(
            f"{module} is needed for this graph operation; install it with pip install {package}"
        ) from None


def to_scipy_sparse(graph: Graph, edge_weight: torch.Tensor | None = None) -> Any:
    """The adjacency matrix as ``scipy.sparse.coo_matrix``; entry ``(i, j)`` is edge i -> j.

    Duplicate edges are summed (scipy's convention); weights default to 1.
    """
    sparse = require("scipy.sparse")
    n = graph.num_nodes
    weights = (
        np.ones(graph.num_edges, dtype=np.float32)
        if edge_weight is None
        else edge_weight.detach().cpu().numpy()
    )
    source, target = graph.edge_index.cpu().numpy()
    return sparse.coo_matrix((weights, (source, target)), shape=(n, n))


def from_scipy_sparse(matrix: Any, **attributes: Any) -> Graph:
    """A graph with an edge ``i -> j`` for every stored entry ``(i, j)``.

    The entries become ``edge_weight``; ``attributes`` (``x``, ``y``, ...) are passed to
    :class:`Graph`.
    """
    require("scipy.sparse")
    coo = matrix.tocoo()
    edge_index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    weight = torch.from_numpy(np.asarray(coo.data, dtype=np.float32))
    attributes.setdefault("num_nodes", None if "x" in attributes else coo.shape[0])
    return Graph(edge_index=edge_index, edge_weight=weight, **attributes)


def to_networkx(graph: Graph, undirected: bool = False) -> Any:
    """A ``networkx.DiGraph`` (or ``Graph`` when ``undirected``) with nodes ``0..n-1``.

    Node features and labels are not copied: networkx attribute dictionaries per node are slow,
    and the tensors stay in the :class:`Graph`.
    """
    nx = require("networkx")
    result = nx.Graph() if undirected else nx.DiGraph()
    result.add_nodes_from(range(graph.num_nodes))
    result.add_edges_from(graph.edge_index.t().tolist())
    return result


def from_networkx(nx_graph: Any, **attributes: Any) -> Graph:
    """A graph from a networkx graph; nodes are numbered in ``nx_graph.nodes`` order.

    An undirected networkx graph gives both directions of every edge. ``attributes`` (``x``,
    ``y``, masks) are passed to :class:`Graph`; the node order is in ``graph.node_ids``.
    """
    require("networkx")
    nodes = list(nx_graph.nodes)
    position = {node: index for index, node in enumerate(nodes)}
    pairs = [(position[u], position[v]) for u, v in nx_graph.edges]
    if not nx_graph.is_directed():
        pairs += [(v, u) for u, v in pairs if u != v]
    edge_index = (
        torch.tensor(pairs, dtype=torch.long).t()
        if pairs
        else torch.empty((2, 0), dtype=torch.long)
    )
    if "x" not in attributes:
        attributes.setdefault("num_nodes", len(nodes))
    graph = Graph(edge_index=edge_index, node_ids=nodes, **attributes)
    if pairs:  # networkx edge order is insertion order; sorted edges make results repeatable
        order = torch.argsort(graph.edge_index[0] * max(len(nodes), 1) + graph.edge_index[1])
        graph = graph.replace(edge_index=graph.edge_index[:, order])
    return graph
