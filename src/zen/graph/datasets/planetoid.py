"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from the files of Yang et al. 2016.

The split is the public one of Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised Learning
with Graph Embeddings" (ICML 2016), used by the GCN and GAT papers: 20 labelled nodes per class
for training, 500 for validation, 1000 for testing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.errors import DataError
from zen.graph.data import Graph
from zen.graph.datasets.base import GraphDataset, missing_file
from zen.graph.datasets.safe_pickle import read_pickle
from zen.graph.utils import remove_self_loops, to_undirected

NAMES = ("cora", "citeseer", "pubmed")
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
#: Most values a feature matrix may have once dense: PubMed, the largest, has 9.4 million; a
#: shape field alone must not make us allocate gigabytes.
_MAX_DENSE = 1 << 31
_HINT = (
    "put the Planetoid files ind.{name}.{{x,tx,allx,y,ty,ally,graph,test.index}} in {folder}"
    " (they are in the data/ folder of https://github.com/kimiyoung/planetoid)"
)


class Planetoid(GraphDataset):
    """One citation graph with the public split; ``data[0]`` is the :class:`Graph`.

    Args:
        name: ``cora``, ``citeseer`` or ``pubmed`` (any case).
        root: folder holding ``<name>/ind.<name>.*`` (``<name>/raw/`` as PyG lays it out also
            works).
        normalize_features: scale each node's features to sum to 1, the GCN paper's
            preprocessing.

    The files are Python pickles. They are read with
    :func:`~zen.graph.datasets.safe_pickle.read_pickle`, which accepts arrays, sparse matrices
    and dicts and never runs code from a file, so a folder from anywhere is safe to load.

    Raises:
        DataError: a file is missing, damaged, names code, or does not fit the others; the
            message names the file.

    Example:
        >>> data = Planetoid("cora", root="../shared/data/graph")  # doctest: +SKIP
        >>> data[0].num_nodes, data.num_features, data.num_classes  # doctest: +SKIP
        (2708, 1433, 7)
    """

    def __init__(self, name: str, root: str | Path, normalize_features: bool = True) -> None:
        key = name.lower()
        if key not in NAMES:
            raise DataError(f"name: unknown Planetoid dataset {name!r}; expected one of {NAMES}")
        folder = _find_folder(Path(root), name)
        parts = {part: _read(folder, key, part) for part in _PARTS}
        super().__init__([_build_graph(key, parts, normalize_features, folder)], name)


def _find_folder(root: Path, name: str) -> Path:
    candidates = [root / variant for variant in dict.fromkeys((name, name.lower(), name.title()))]
    for folder in [*candidates, *(c / "raw" for c in candidates)]:
        if (folder / f"ind.{name.lower()}.x").is_file():
            return folder
    return candidates[0]


def _read(folder: Path, name: str, part: str) -> Any:
    """One file, checked for the type it must hold: a 2-D array (features and one-hot labels,
    sparse ones made dense), the adjacency dict, or the test indices."""
    path = folder / f"ind.{name}.{part}"
    if not path.is_file():
        raise missing_file("Planetoid", path, _HINT.format(name=name, folder=folder))
    if part == "test.index":
        try:
            return np.loadtxt(path, dtype=np.int64, ndmin=1).reshape(-1)
        except (ValueError, OverflowError) as error:
            raise DataError(f"{path}: expected one node index per line ({error})") from None
    # The files were pickled by Python 2 (read_pickle maps its byte strings through latin-1).
    value = read_pickle(path)
    if part == "graph":
        return _adjacency(value, path)
    if hasattr(value, "toarray"):  # the feature matrices are scipy CSR matrices
        rows, columns = value.shape
        if rows * columns > _MAX_DENSE:
            raise DataError(
                f"{path}: a {rows} x {columns} feature matrix is too large to make dense"
                f" (over {_MAX_DENSE} values); the file is damaged or not a Planetoid file"
            )
        value = value.toarray()
    if not isinstance(value, np.ndarray) or value.ndim != 2:
        raise DataError(
            f"{path}: expected a 2-D array or sparse matrix (nodes x columns), got"
            f" {type(value).__name__}{getattr(value, 'shape', '')}"
        )
    return value


def _adjacency(value: Any, path: Path) -> dict[int, list[int]]:
    """The graph file: ``{node: [neighbour, ...]}`` with integer ids."""

    def is_id(item: Any) -> bool:
        return isinstance(item, int) and not isinstance(item, bool)

    if not isinstance(value, dict) or not all(
        is_id(node) and isinstance(neighbours, (list, tuple)) and all(map(is_id, neighbours))
        for node, neighbours in value.items()
    ):
        raise DataError(f"{path}: expected a dict of node id -> list of neighbour ids")
    return value


def _build_graph(name: str, parts: dict[str, Any], normalize_features: bool, folder: Path) -> Graph:
    def file(part: str) -> str:
        return str(folder / f"ind.{name}.{part}")

    # allx holds every non-test node's features (x is its labelled prefix, so unused here).
    tx, allx = (np.asarray(parts[key], np.float32) for key in ("tx", "allx"))
    y, ty, ally = (parts[key] for key in ("y", "ty", "ally"))
    test_index = parts["test.index"]
    _check_sizes(parts, file)
    sorted_test = np.sort(test_index)
    if name == "citeseer":
        # Some CiteSeer test nodes are isolated and absent from tx/ty: the reference loader
        # (Kipf's gcn/utils.py) pads them with zero rows so that indices line up. (15 of 1015
        # in the real files; a span far wider than the test set is a damaged file.)
        span = int(sorted_test[-1] - sorted_test[0]) + 1
        if sorted_test[0] < 0 or span > 2 * len(test_index):
            raise DataError(
                f"{file('test.index')}: the test nodes span ids {sorted_test[0]}.."
                f"{sorted_test[-1]}, far more than the {len(test_index)} test nodes"
            )
        tx_full = np.zeros((span, tx.shape[1]), np.float32)
        tx_full[sorted_test - sorted_test[0]] = tx
        ty_full = np.zeros((span, ty.shape[1]), ty.dtype)
        ty_full[sorted_test - sorted_test[0]] = ty
        tx, ty = tx_full, ty_full
    features = np.concatenate([allx, tx])
    labels = np.concatenate([ally, ty])
    num_nodes = features.shape[0]
    if sorted_test[0] < 0 or sorted_test[-1] >= num_nodes:
        raise DataError(
            f"{file('test.index')}: test node ids must be in 0..{num_nodes - 1} (the rows of"
            f" allx and tx), got {sorted_test[0]}..{sorted_test[-1]}"
        )
    if y.shape[0] + 500 > num_nodes:
        raise DataError(
            f"{file('y')}: {y.shape[0]} training nodes and the 500 validation nodes after them"
            f" need more than the {num_nodes} nodes of allx and tx"
        )
    # Test rows are stored in sorted order; put each back at its node index.
    features[test_index] = features[sorted_test]
    labels[test_index] = labels[sorted_test]
    if normalize_features:
        row_sum = features.sum(axis=1, keepdims=True)
        features = features / np.where(row_sum == 0, 1.0, row_sum)
    edge_index = _edges(parts["graph"], num_nodes, file("graph"))

    def mask(index: np.ndarray) -> torch.Tensor:
        result = torch.zeros(num_nodes, dtype=torch.bool)
        result[torch.from_numpy(index)] = True
        return result

    return Graph(
        x=torch.from_numpy(features.astype(np.float32)),
        edge_index=edge_index,
        y=torch.from_numpy(labels.argmax(axis=1)).long(),
        train_mask=mask(np.arange(y.shape[0])),
        val_mask=mask(np.arange(y.shape[0], y.shape[0] + 500)),
        test_mask=mask(test_index),
    )


def _check_sizes(parts: dict[str, Any], file: Callable[[str], str]) -> None:
    """The files must agree: features and labels row by row, test rows with test indices."""
    same = [
        ("tx", 1, "allx", 1, "feature columns"),
        ("ty", 1, "ally", 1, "label columns"),
        ("allx", 0, "ally", 0, "rows"),
        ("tx", 0, "ty", 0, "rows"),
        ("tx", 0, "test.index", 0, "rows (one per test node)"),
    ]
    for first, first_axis, second, second_axis, what in same:
        size, other = parts[first].shape[first_axis], parts[second].shape[second_axis]
        if size != other:
            raise DataError(
                f"{file(first)} has {size} {what} but {file(second)} has {other}; the files"
                " are from different datasets or damaged"
            )
    if parts["ally"].shape[1] == 0:
        raise DataError(f"{file('ally')}: the one-hot labels have no columns")
    if parts["test.index"].size == 0:
        raise DataError(f"{file('test.index')}: lists no test nodes")


def _edges(adjacency: dict[int, list[int]], num_nodes: int, path: str) -> torch.Tensor:
    pairs = [
        (node, neighbour) for node, neighbours in adjacency.items() for neighbour in neighbours
    ]
    if not pairs:
        raise DataError(f"{path}: the graph lists no edges")
    low = min(min(pair) for pair in pairs)
    high = max(max(pair) for pair in pairs)
    if low < 0 or high >= num_nodes:
        raise DataError(
            f"{path}: node ids must be in 0..{num_nodes - 1} (the rows of allx and tx), got"
            f" {low}..{high}"
        )
    edge_index = torch.tensor(pairs, dtype=torch.long).t()
    # The files list some edges twice and a few self loops; the reference loaders drop both,
    # and the citation graph is treated as undirected.
    edge_index, _ = remove_self_loops(edge_index)
    return to_undirected(edge_index, num_nodes=num_nodes)[0]
