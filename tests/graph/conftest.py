"""Fixtures for zen.graph: a hand-made graph small enough to check formulas by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from zen.graph import Graph

# tests/graph/<file> -> repo root -> its parent, where the team's shared data lives.
GRAPH_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "graph"


@pytest.fixture
def small_graph() -> Graph:
    """5 nodes, undirected edges 0-1, 0-2, 1-2, 2-3, and node 4 isolated; 3 features."""
    pairs = [(0, 1), (0, 2), (1, 2), (2, 3)]
    edges = pairs + [(j, i) for i, j in pairs]
    x = torch.tensor(
        [[1.0, 0.0, 2.0], [0.5, -1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 2.0, -1.0], [-1.0, 0.5, 0.5]]
    )
    return Graph(x=x, edge_index=torch.tensor(edges).t(), y=torch.tensor([0, 0, 1, 1, 0]))


@pytest.fixture
def dense_adjacency(small_graph: Graph) -> torch.Tensor:
    """A[i, j] = 1 when j sends to i (rows are targets), the orientation of aggregation."""
    a = torch.zeros(5, 5)
    a[small_graph.edge_index[1], small_graph.edge_index[0]] = 1.0
    return a


@pytest.fixture(scope="session")  # a path, read-only: property tests may share it
def cora_root() -> Path:
    if not (GRAPH_DATA / "cora" / "ind.cora.x").is_file():
        pytest.skip(f"Planetoid Cora files not found under {GRAPH_DATA / 'cora'}")
    return GRAPH_DATA


@pytest.fixture
def write_tu():
    """Writes a TU-format dataset to a folder and returns that folder's parent."""
    return write_tu_dataset


def write_tu_dataset(root: Path, name: str = "TOY", num_graphs: int = 40, seed: int = 0) -> Path:
    """Cycles (class 0) and stars (class 1) of 4-7 nodes in TU format, node labels = degree."""
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True)
    edges, indicator, graph_labels, node_labels = [], [], [], []
    offset = 0
    for graph in range(num_graphs):
        size, label = int(rng.integers(4, 8)), graph % 2
        pairs = (
            [(i, (i + 1) % size) for i in range(size)]
            if label == 0
            else [(0, i) for i in range(1, size)]
        )
        for i, j in pairs:
            edges += [(offset + i + 1, offset + j + 1), (offset + j + 1, offset + i + 1)]
        degrees = np.bincount(np.array(pairs).ravel(), minlength=size)
        node_labels += [min(int(d), 3) for d in degrees]
        indicator += [graph + 1] * size
        graph_labels.append(1 if label else -1)
        offset += size
    (folder / f"{name}_A.txt").write_text("".join(f"{i}, {j}\n" for i, j in edges))
    (folder / f"{name}_graph_indicator.txt").write_text("".join(f"{g}\n" for g in indicator))
    (folder / f"{name}_graph_labels.txt").write_text("".join(f"{c}\n" for c in graph_labels))
    (folder / f"{name}_node_labels.txt").write_text("".join(f"{c}\n" for c in node_labels))
    return root
