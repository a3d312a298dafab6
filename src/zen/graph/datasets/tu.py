"""Graph classification benchmarks in the TU Dortmund format (Morris et al. 2020,
"TUDataset: A collection of benchmark datasets for learning with graphs").

A dataset ``NAME`` is a folder of text files, one row per item, 1-based ids:

====================================  =========================================================
``NAME_A.txt``                        one edge per line: ``source, target`` (global node ids)
``NAME_graph_indicator.txt``          graph id of every node
``NAME_graph_labels.txt``             class of every graph
``NAME_node_labels.txt`` (optional)   categorical node label, one-hot encoded into ``x``
``NAME_node_attributes.txt`` (opt.)   comma-separated node features, placed first in ``x``
``NAME_edge_labels.txt`` (optional)   categorical edge label, one-hot encoded into ``edge_attr``
``NAME_edge_attributes.txt`` (opt.)   comma-separated edge features, placed first
====================================  =========================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zen.errors import DataError
from zen.graph.data import Graph
from zen.graph.datasets.base import GraphDataset, missing_file

_HINT = (
    "put the TU files {name}_A.txt, {name}_graph_indicator.txt, {name}_graph_labels.txt"
    " (and optional {name}_node_labels.txt, ...) in {folder}"
    " (from https://chrsmrrs.github.io/datasets/)"
)


class TUDataset(GraphDataset):
    """Graphs and their class labels read from TU-format text files.

    Args:
        name: dataset name, the prefix of its files (e.g. ``MUTAG``).
        root: folder holding ``<name>/<name>_A.txt`` etc. (``<name>/raw/`` also works).

    Graph labels are renumbered ``0..num_classes-1`` in sorted order (TU files use ``-1/1``
    or ``1..k``); ``data.class_labels`` keeps the original values.
    """

    def __init__(self, name: str, root: str | Path) -> None:
        folder = Path(root) / name
        if not (folder / f"{name}_A.txt").is_file() and (folder / "raw").is_dir():
            folder = folder / "raw"
        hint = _HINT.format(name=name, folder=folder)

        def read(suffix: str, required: bool = True, dtype: type = np.int64) -> np.ndarray | None:
            path = folder / f"{name}_{suffix}.txt"
            if not path.is_file():
                if required:
                    raise missing_file("TUDataset", path, hint)
                return None
            try:
                table = pd.read_csv(path, header=None, sep=",", dtype=dtype, skipinitialspace=True)
            except (ValueError, pd.errors.ParserError) as error:
                raise DataError(f"TUDataset: cannot parse {path}: {error}") from None
            return table.to_numpy()

        edges, indicator, graph_labels = (read(s) for s in ("A", "graph_indicator", "graph_labels"))
        assert edges is not None and indicator is not None and graph_labels is not None
        x = _node_features(read("node_attributes", False, np.float32), read("node_labels", False))
        edge_attr = _node_features(
            read("edge_attributes", False, np.float32), read("edge_labels", False)
        )
        classes, labels = np.unique(graph_labels[:, 0], return_inverse=True)
        self.class_labels = classes.tolist()
        graphs = _split(name, edges - 1, indicator[:, 0] - 1, labels, x, edge_attr)
        super().__init__(graphs, name)


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """One column per distinct value of each label column, concatenated."""
    blocks = []
    for column in labels.T:
        _, codes = np.unique(column, return_inverse=True)
        blocks.append(np.eye(codes.max() + 1, dtype=np.float32)[codes])
    return np.concatenate(blocks, axis=1)


def _node_features(attributes: np.ndarray | None, labels: np.ndarray | None) -> np.ndarray | None:
    parts = [
        part
        for part in (attributes, None if labels is None else _one_hot(labels))
        if part is not None
    ]
    return np.concatenate(parts, axis=1).astype(np.float32) if parts else None


def _split(
    name: str,
    edges: np.ndarray,
    node_graph: np.ndarray,
    labels: np.ndarray,
    x: np.ndarray | None,
    edge_attr: np.ndarray | None,
) -> list[Graph]:
    num_graphs = labels.shape[0]
    if np.any(np.diff(node_graph) < 0):
        raise DataError(f"{name}_graph_indicator.txt: nodes must be listed graph by graph")
    if node_graph.size and node_graph.max() >= num_graphs:
        raise DataError(
            f"{name}_graph_indicator.txt: refers to graph {node_graph.max() + 1} but"
            f" {name}_graph_labels.txt has {num_graphs} labels"
        )
    if edges.size and (edges.min() < 0 or edges.max() >= node_graph.size):
        raise DataError(
            f"{name}_A.txt: node ids must be in 1..{node_graph.size} (one per line of"
            f" {name}_graph_indicator.txt)"
        )
    node_ptr = np.searchsorted(node_graph, np.arange(num_graphs + 1))
    edge_graph = node_graph[edges[:, 0]] if edges.size else np.zeros(0, np.int64)
    order = np.argsort(edge_graph, kind="stable")
    edges, edge_graph = edges[order], edge_graph[order]
    edge_attr = None if edge_attr is None else edge_attr[order]
    edge_ptr = np.searchsorted(edge_graph, np.arange(num_graphs + 1))
    graphs = []
    for index in range(num_graphs):
        nodes = slice(node_ptr[index], node_ptr[index + 1])
        rows = slice(edge_ptr[index], edge_ptr[index + 1])
        local = torch.from_numpy(edges[rows].T - node_ptr[index]).long()
        graphs.append(
            Graph(
                x=None if x is None else torch.from_numpy(x[nodes]),
                edge_index=local,
                edge_attr=None if edge_attr is None else torch.from_numpy(edge_attr[rows]),
                y=torch.tensor([labels[index]]),
                num_nodes=node_ptr[index + 1] - node_ptr[index],
            )
        )
    return graphs
