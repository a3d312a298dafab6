"""A graph from CSV files: an edge list plus, optionally, a node table with features and labels."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from zen.errors import DataError
from zen.graph.data import Graph
from zen.graph.utils import coalesce, to_undirected


def load_edge_list(
    edges_csv: str | Path,
    nodes_csv: str | Path | None = None,
    target: str | None = None,
    *,
    source_column: str | None = None,
    destination_column: str | None = None,
    id_column: str | None = None,
    weight_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    undirected: bool = True,
) -> Graph:
    """Read a graph from an edge-list CSV and an optional node CSV.

    Args:
        edges_csv: one edge per row; the first two columns (or ``source_column`` /
            ``destination_column``) hold node ids, which may be numbers or strings.
        nodes_csv: one node per row: an id column (``id_column``, default ``id`` or else the
            first), the ``target`` column, and numeric feature columns (all the others).
        target: the label column of ``nodes_csv``; labels become class indices ``y`` in sorted
            order of the values (``graph.classes``), missing labels ``-1``.
        weight_column: an edge column to keep as ``edge_weight``.
        feature_columns: the node columns that make ``x``, in this order (default: every
            column but the id and the target); a model trained on one node CSV reads the same
            columns of another.
        undirected: add the reverse of every edge (edge lists usually list a pair once).

    Returns:
        A :class:`Graph` whose ``node_ids`` give the id of every node in order. Without
        ``nodes_csv`` the nodes are the ids in the edge list (sorted) and there is no ``x``.

    Raises:
        DataError: a missing file or column, an edge to an unknown node, non-numeric features.
    """
    edges = _read_csv(edges_csv, "edges_csv")
    if len(edges) == 0:
        raise DataError(f"edges_csv: {edges_csv} has no edges")
    source_column = source_column or str(edges.columns[0])
    destination_column = destination_column or str(edges.columns[min(1, len(edges.columns) - 1)])
    for column in (source_column, destination_column, weight_column):
        if column is not None and column not in edges.columns:
            raise DataError(
                f"edges_csv: no column {column!r} in {edges_csv}; columns: {list(edges.columns)}"
            )
    attributes: dict[str, object] = {}
    if nodes_csv is not None:
        nodes = _read_csv(nodes_csv, "nodes_csv")
        id_column, features = node_columns(list(nodes.columns), id_column, target)
        if id_column not in nodes.columns:
            raise DataError(f"id_column: no column {id_column!r} in {nodes_csv}")
        if feature_columns is not None:
            features = list(feature_columns)
            missing = [column for column in features if column not in nodes.columns]
            if missing:
                raise DataError(
                    f"nodes_csv: {nodes_csv} lacks the feature column(s) {missing}; expected"
                    f" the columns {features}"
                )
        if nodes[id_column].duplicated().any():
            duplicate = nodes[id_column][nodes[id_column].duplicated()].iloc[0]
            raise DataError(f"nodes_csv: node id {duplicate!r} appears more than once")
        node_ids = nodes[id_column].tolist()
        attributes.update(_node_attributes(nodes, features, target, nodes_csv))
    else:
        if target is not None:
            raise DataError("target: labels are read from nodes_csv; pass nodes_csv too")
        node_ids = sorted(pd.unique(edges[[source_column, destination_column]].to_numpy().ravel()))
    position = pd.Index(node_ids)
    source = position.get_indexer(edges[source_column])
    destination = position.get_indexer(edges[destination_column])
    unknown = (source < 0) | (destination < 0)
    if unknown.any():
        row = int(np.argmax(unknown))
        raise DataError(
            f"edges_csv: {int(unknown.sum())} edge(s) refer to nodes missing from {nodes_csv}"
            f" (first: row {row}, {edges[source_column].iloc[row]!r} ->"
            f" {edges[destination_column].iloc[row]!r}); add the nodes or drop the edges"
        )
    edge_index = torch.from_numpy(np.vstack([source, destination]).astype(np.int64))
    weight = None
    if weight_column is not None:
        weight = torch.tensor(pd.to_numeric(edges[weight_column]).to_numpy(), dtype=torch.float32)
    reduce_edges = to_undirected if undirected else coalesce
    edge_index, weight = reduce_edges(edge_index, weight, len(node_ids))
    if weight is not None:
        attributes["edge_weight"] = weight
    if "x" not in attributes:
        attributes["num_nodes"] = len(node_ids)
    return Graph(edge_index=edge_index, node_ids=node_ids, **attributes)  # type: ignore[arg-type]


def node_columns(
    columns: Sequence[str], id_column: str | None = None, target: str | None = None
) -> tuple[str, list[str]]:
    """The id column and the feature columns of a node CSV with ``columns``.

    The id is ``id_column``, else a column named ``id``, else the first column; the features
    are all the other columns but ``target``.

    >>> node_columns(["name", "age", "club"], target="club")
    ('name', ['age'])
    """
    chosen = id_column or ("id" if "id" in columns else str(columns[0]))
    return chosen, [str(column) for column in columns if column not in (chosen, target)]


def _read_csv(path: str | Path, argument: str) -> pd.DataFrame:
    if not Path(path).is_file():
        raise DataError(f"{argument}: file not found: {path}; pass the path of a CSV file")
    return pd.read_csv(path)


def _node_attributes(
    nodes: pd.DataFrame, feature_columns: list[str], target: str | None, nodes_csv: str | Path
) -> dict[str, object]:
    attributes: dict[str, object] = {}
    if target is not None:
        if target not in nodes.columns:
            raise DataError(
                f"target: no column {target!r} in {nodes_csv}; columns: {list(nodes.columns)}"
            )
        codes, classes = pd.factorize(nodes[target], sort=True)
        attributes["y"] = torch.from_numpy(codes.astype(np.int64))
        attributes["classes"] = list(classes)
    if feature_columns:
        features = nodes[feature_columns]
        non_numeric = [c for c in feature_columns if not pd.api.types.is_numeric_dtype(features[c])]
        if non_numeric:
            raise DataError(
                f"nodes_csv: feature column(s) {non_numeric} are not numeric; encode them"
                " (e.g. pandas.get_dummies) or drop them"
            )
        attributes["x"] = torch.tensor(features.to_numpy(np.float32))
    return attributes
