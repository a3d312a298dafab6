"""Planetoid citation graphs (Cora, CiteSeer, PubMed) from the files of Yang et al. 2016.

The split is the public one of Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised Learning
with Graph Embeddings" (ICML 2016), used by the GCN and GAT papers: 20 labelled nodes per class
for training, 500 for validation, 1000 for testing.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.errors import DataError
from zen.graph.convert import require
from zen.graph.data import Graph
from zen.graph.datasets.base import GraphDataset, missing_file
from zen.graph.utils import remove_self_loops, to_undirected

NAMES = ("cora", "citeseer", "pubmed")
_PARTS = ("x", "tx", "allx", "y", "ty", "ally", "graph", "test.index")
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

    The files are Python pickles; only arrays, sparse matrices and dicts are accepted from them.

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
        parts = {part: _read(folder / f"ind.{key}.{part}", name, folder) for part in _PARTS}
        super().__init__([_build_graph(key, parts, normalize_features)], name)


def _find_folder(root: Path, name: str) -> Path:
    candidates = [root / variant for variant in dict.fromkeys((name, name.lower(), name.title()))]
    for folder in [*candidates, *(c / "raw" for c in candidates)]:
        if (folder / f"ind.{name.lower()}.x").is_file():
            return folder
    return candidates[0]


def _read(path: Path, name: str, folder: Path) -> Any:
    if not path.is_file():
        raise missing_file("Planetoid", path, _HINT.format(name=name.lower(), folder=folder))
    if path.name.endswith("test.index"):
        return np.loadtxt(path, dtype=np.int64).reshape(-1)
    if path.name.endswith((".x", ".tx", ".allx")):
        require("scipy.sparse")  # the feature matrices are pickled scipy sparse matrices
    with path.open("rb") as handle:
        # The files were pickled by Python 2; latin1 maps its byte strings one-to-one.
        return _PlanetoidUnpickler(handle, encoding="latin1").load()


class _PlanetoidUnpickler(pickle.Unpickler):
    """Loads only the types the Planetoid files hold (arrays, sparse matrices, dicts), so a
    tampered file cannot make unpickling run arbitrary code."""

    _BUILTINS = frozenset({"object", "set", "frozenset", "list", "dict", "tuple", "int", "float"})

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("scipy.sparse."):
            # Old pickles name private modules (scipy.sparse.csr) that SciPy deprecates.
            module = "scipy.sparse"
        allowed = (
            module.split(".")[0] == "numpy"
            or module in ("scipy.sparse", "collections", "copy_reg", "copyreg")
            or (module in ("builtins", "__builtin__") and name in self._BUILTINS)
        )
        if not allowed:
            raise DataError(f"Planetoid: unexpected object {module}.{name} in a dataset file")
        return super().find_class(module, name)


def _dense(matrix: Any) -> np.ndarray:
    return np.asarray(matrix.todense() if hasattr(matrix, "todense") else matrix, np.float32)


def _build_graph(name: str, parts: dict[str, Any], normalize_features: bool) -> Graph:
    # allx holds every non-test node's features (x is its labelled prefix, so unused here).
    tx, allx = (_dense(parts[key]) for key in ("tx", "allx"))
    y, ty, ally = (np.asarray(parts[key]) for key in ("y", "ty", "ally"))
    test_index = parts["test.index"]
    sorted_test = np.sort(test_index)
    if name == "citeseer":
        # Some CiteSeer test nodes are isolated and absent from tx/ty: the reference loader
        # (Kipf's gcn/utils.py) pads them with zero rows so that indices line up.
        span = sorted_test[-1] - sorted_test[0] + 1
        tx_full = np.zeros((span, tx.shape[1]), np.float32)
        tx_full[sorted_test - sorted_test[0]] = tx
        ty_full = np.zeros((span, ty.shape[1]), ty.dtype)
        ty_full[sorted_test - sorted_test[0]] = ty
        tx, ty = tx_full, ty_full
    features = np.concatenate([allx, tx])
    labels = np.concatenate([ally, ty])
    # Test rows are stored in sorted order; put each back at its node index.
    features[test_index] = features[sorted_test]
    labels[test_index] = labels[sorted_test]
    num_nodes = features.shape[0]
    if normalize_features:
        row_sum = features.sum(axis=1, keepdims=True)
        features = features / np.where(row_sum == 0, 1.0, row_sum)
    edge_index = _edges(parts["graph"], num_nodes)

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


def _edges(adjacency: dict[int, list[int]], num_nodes: int) -> torch.Tensor:
    pairs = [
        (node, neighbour) for node, neighbours in adjacency.items() for neighbour in neighbours
    ]
    if not pairs:
        raise DataError("Planetoid: the graph file lists no edges")
    edge_index = torch.tensor(pairs, dtype=torch.long).t()
    # The files list some edges twice and a few self loops; the reference loaders drop both,
    # and the citation graph is treated as undirected.
    edge_index, _ = remove_self_loops(edge_index)
    return to_undirected(edge_index, num_nodes=num_nodes)[0]
