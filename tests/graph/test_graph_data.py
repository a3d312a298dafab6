"""Graph and Batch: construction, validation errors, batching, and edge-list helpers."""

from __future__ import annotations

import pytest
import torch

from zen.errors import DataError
from zen.graph import Batch, Graph, global_add_pool, global_max_pool, global_mean_pool
from zen.graph.utils import (
    add_remaining_self_loops,
    add_self_loops,
    coalesce,
    degree,
    is_undirected,
    k_hop_subgraph,
    remove_self_loops,
    subgraph,
    to_undirected,
)

EDGES = torch.tensor([[0, 1, 2], [1, 2, 0]])


def test_graph_sizes_and_repr():
    g = Graph(x=torch.zeros(3, 4), edge_index=EDGES, y=torch.tensor([0, 1, 0]))
    assert (g.num_nodes, g.num_edges, g.num_features) == (3, 3, 4)
    assert repr(g) == "Graph(x=[3, 4], edge_index=[2, 3], y=[3])"


def test_graph_keeps_extra_attributes_and_moves_them():
    g = Graph(x=torch.zeros(3, 2), edge_index=EDGES, edge_weight=torch.ones(3), name="triangle")
    moved = g.to("cpu")
    assert moved is not g and moved.name == "triangle" and "edge_weight" in moved


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"edge_index": torch.tensor([[0, 1], [1, 2], [2, 0]])},
            r"shape \(2, num_edges\).*\.t\(\)",
        ),
        ({"edge_index": torch.tensor([0, 1, 2])}, r"edge_index: expected shape"),
        ({"edge_index": EDGES.float()}, "edge_index: expected an integer tensor"),
        ({"edge_index": torch.tensor([[0, -1], [1, 2]])}, "edge_index: 1 negative"),
        ({"edge_index": torch.tensor([[0, 5], [1, 2]])}, "edge_index: 1 node index.*out of range"),
        ({"train_mask": torch.ones(2, dtype=torch.bool)}, "train_mask: expected 3 entries"),
        ({"val_mask": torch.ones(3)}, "val_mask: expected a boolean mask"),
        ({"x": torch.tensor([[1.0], [float("nan")], [0.0]])}, "x: 1 node.*NaN.*node 1"),
        ({"x": torch.ones(3, 2, dtype=torch.long)}, "x: expected floating-point"),
        ({"edge_attr": torch.ones(2, 1)}, "edge_attr: expected 3 rows"),
        ({"num_nodes": 5}, "num_nodes: given 5 but x has 3 rows"),
    ],
)
def test_graph_rejects_bad_input_naming_the_argument(kwargs: dict, message: str):
    arguments = {"x": torch.zeros(3, 2), "edge_index": EDGES, **kwargs}
    with pytest.raises(DataError, match=message):
        Graph(**arguments)


def test_graph_without_edges_is_allowed():
    g = Graph(x=torch.ones(4, 2))
    assert g.num_edges == 0 and g.edge_index.shape == (2, 0) and g.num_nodes == 4


def test_graph_converts_int32_edges_and_numpy_features():
    import numpy as np

    g = Graph(x=np.ones((3, 2)), edge_index=EDGES.int())
    assert g.edge_index.dtype == torch.long and g.x.dtype == torch.float32


def test_batch_offsets_edges_and_round_trips():
    a = Graph(x=torch.rand(3, 2), edge_index=EDGES, y=torch.tensor([1]), edge_attr=torch.rand(3, 1))
    b = Graph(
        x=torch.rand(2, 2),
        edge_index=torch.tensor([[0], [1]]),
        y=torch.tensor([0]),
        edge_attr=torch.rand(1, 1),
    )
    batch = Batch.from_graphs([a, b])
    assert batch.num_graphs == 2 and batch.num_nodes == 5 and batch.ptr.tolist() == [0, 3, 5]
    assert batch.edge_index[:, -1].tolist() == [3, 4] and batch.y.tolist() == [1, 0]
    for original, restored in zip([a, b], batch.to_graphs(), strict=True):
        for key in ("x", "edge_index", "y", "edge_attr"):
            assert torch.equal(original[key], restored[key])


def test_batch_rejects_graphs_with_different_attributes():
    with pytest.raises(DataError, match="graph 1 has attributes"):
        Batch.from_graphs(
            [Graph(x=torch.rand(2, 1), y=torch.tensor([0])), Graph(x=torch.rand(2, 1))]
        )


def test_pooling_per_graph():
    x = torch.tensor([[1.0], [3.0], [-2.0]])
    batch = torch.tensor([0, 0, 1])
    assert global_add_pool(x, batch).flatten().tolist() == [4.0, -2.0]
    assert global_mean_pool(x, batch).flatten().tolist() == [2.0, -2.0]
    assert global_max_pool(x, batch, size=3).flatten().tolist() == [3.0, -2.0, 0.0]
    assert global_mean_pool(x, None).flatten().tolist() == pytest.approx([2 / 3])


def test_self_loop_helpers():
    edges = torch.tensor([[0, 1, 1], [1, 1, 0]])
    weight = torch.tensor([1.0, 5.0, 2.0])
    assert remove_self_loops(edges)[0].tolist() == [[0, 1], [1, 0]]
    looped, looped_weight = add_self_loops(edges, weight, fill_value=9.0, num_nodes=3)
    assert looped.size(1) == 6 and looped_weight[-3:].tolist() == [9.0, 9.0, 9.0]
    remaining, remaining_weight = add_remaining_self_loops(edges, weight, 1.0, num_nodes=3)
    assert remaining.size(1) == 5
    assert remaining_weight[-3:].tolist() == [1.0, 5.0, 1.0]  # node 1 keeps its loop weight


def test_to_undirected_coalesces_and_averages_weights():
    edges = torch.tensor([[0, 1, 0], [1, 0, 2]])
    undirected, weight = to_undirected(edges, torch.tensor([2.0, 2.0, 4.0]))
    assert undirected.tolist() == [[0, 0, 1, 2], [1, 2, 0, 0]]
    assert weight.tolist() == [2.0, 4.0, 2.0, 4.0]
    assert is_undirected(undirected) and not is_undirected(edges)
    assert coalesce(torch.tensor([[1, 1], [0, 0]]))[0].tolist() == [[1], [0]]


def test_degree_subgraph_and_k_hop():
    path = to_undirected(torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]]))[0]  # 0-1-2-3-4
    assert degree(path[1], 6).tolist() == [1, 2, 2, 2, 1, 0]
    edges, _, mask = subgraph(torch.tensor([1, 2, 3]), path)
    assert edges.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]] and int(mask.sum()) == 4
    subset, k_edges, mapping, _ = k_hop_subgraph(0, 2, path, relabel_nodes=True)
    assert subset.tolist() == [0, 1, 2] and mapping.tolist() == [0] and k_edges.size(1) == 4
