"""Layers against the formulas of their papers, computed densely on a hand-made graph."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zen.graph import GATConv, GatedGraphConv, GCNConv, GINConv, Graph, MessagePassing, SAGEConv
from zen.graph.scatter import scatter, softmax


def test_gcn_matches_symmetric_normalisation(small_graph: Graph, dense_adjacency: torch.Tensor):
    torch.manual_seed(0)
    conv = GCNConv(3, 4)
    nn.init.normal_(conv.bias)
    a_hat = dense_adjacency + torch.eye(5)
    d_inv_sqrt = a_hat.sum(1).pow(-0.5)
    expected = d_inv_sqrt[:, None] * a_hat * d_inv_sqrt[None, :] @ small_graph.x @ conv.lin.weight.T
    out = conv(small_graph.x, small_graph.edge_index)
    torch.testing.assert_close(out, expected + conv.bias, atol=1e-6, rtol=1e-5)


def test_gcn_keeps_existing_self_loop_weights(small_graph: Graph):
    conv = GCNConv(3, 2)
    looped = torch.cat([small_graph.edge_index, torch.tensor([[0], [0]])], dim=1)
    torch.testing.assert_close(
        conv(small_graph.x, looped), conv(small_graph.x, small_graph.edge_index)
    )


def test_gcn_cached_reuses_normalisation_for_the_same_edges_only(small_graph: Graph, monkeypatch):
    from zen.graph.layers import gcn

    calls = []
    real = gcn.gcn_norm
    monkeypatch.setattr(gcn, "gcn_norm", lambda *a, **k: calls.append(1) or real(*a, **k))
    conv = GCNConv(3, 2, cached=True)
    first = conv(small_graph.x, small_graph.edge_index)
    assert torch.equal(conv(small_graph.x, small_graph.edge_index), first)
    assert len(calls) == 1  # the same edge tensor: normalised once
    # Unlike PyG's cached=True, other edges are normalised afresh, not silently ignored.
    other = conv(small_graph.x, small_graph.edge_index[:, :2])
    assert len(calls) == 2 and not torch.equal(other, first)
    conv.reset_parameters()
    assert conv._cache is None


def test_gcn_edge_weight_without_normalisation(small_graph: Graph, dense_adjacency: torch.Tensor):
    conv = GCNConv(3, 2, normalize=False, bias=False)
    weight = torch.arange(1, 9, dtype=torch.float)
    weighted = torch.zeros(5, 5)
    weighted[small_graph.edge_index[1], small_graph.edge_index[0]] = weight
    expected = weighted @ small_graph.x @ conv.lin.weight.T
    out = conv(small_graph.x, small_graph.edge_index, weight)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("aggr", ["mean", "max", "sum"])
def test_sage_matches_hamilton_update(small_graph: Graph, dense_adjacency, aggr: str):
    torch.manual_seed(0)
    conv = SAGEConv(3, 2, aggr=aggr, normalize=True)
    x = small_graph.x
    rows = []
    for i in range(5):
        neighbours = x[dense_adjacency[i] > 0]
        if len(neighbours) == 0:
            rows.append(torch.zeros(3))  # isolated node: the aggregate is 0
        elif aggr == "mean":
            rows.append(neighbours.mean(0))
        elif aggr == "max":
            rows.append(neighbours.max(0).values)
        else:
            rows.append(neighbours.sum(0))
    expected = conv.lin_l(torch.stack(rows)) + x @ conv.lin_r.weight.T
    torch.testing.assert_close(
        conv(x, small_graph.edge_index), F.normalize(expected, dim=-1), atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_attention_formula(small_graph: Graph, dense_adjacency, concat: bool):
    torch.manual_seed(0)
    heads, channels = 2, 3
    conv = GATConv(3, channels, heads=heads, concat=concat)
    nn.init.normal_(conv.bias)
    h = (small_graph.x @ conv.lin.weight.T).view(5, heads, channels)
    mask = (dense_adjacency + torch.eye(5)) > 0
    outputs = []
    for k in range(heads):
        src = h[:, k] @ conv.att_src[0, k]
        dst = h[:, k] @ conv.att_dst[0, k]
        scores = F.leaky_relu(dst[:, None] + src[None, :], 0.2)  # row i attends to column j
        alpha = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)
        outputs.append(alpha @ h[:, k])
    stacked = torch.stack(outputs, dim=1)
    expected = stacked.reshape(5, -1) if concat else stacked.mean(1)
    out = conv(small_graph.x, small_graph.edge_index)
    torch.testing.assert_close(out, expected + conv.bias, atol=1e-6, rtol=1e-5)


def test_gat_edge_features_change_attention(small_graph: Graph):
    torch.manual_seed(0)
    conv = GATConv(3, 2, heads=2, edge_dim=1)
    edge_attr = torch.rand(small_graph.num_edges)
    with_edges = conv(small_graph.x, small_graph.edge_index, edge_attr)
    assert with_edges.shape == (5, 4)
    assert not torch.allclose(
        with_edges, conv(small_graph.x, small_graph.edge_index, edge_attr * 5)
    )


def test_gat_attention_dropout_only_in_training(small_graph: Graph):
    conv = GATConv(3, 2, dropout=0.9).eval()
    first = conv(small_graph.x, small_graph.edge_index)
    assert torch.equal(first, conv(small_graph.x, small_graph.edge_index))


@pytest.mark.parametrize("eps", [0.0, 0.5])
def test_gin_matches_xu_update(small_graph: Graph, dense_adjacency, eps: float):
    mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    conv = GINConv(mlp, eps=eps, train_eps=True)
    expected = mlp((1 + eps) * small_graph.x + dense_adjacency @ small_graph.x)
    torch.testing.assert_close(conv(small_graph.x, small_graph.edge_index), expected)
    assert conv.eps.requires_grad


def test_gated_graph_conv_matches_ggnn_recurrence(small_graph: Graph, dense_adjacency):
    torch.manual_seed(0)
    conv = GatedGraphConv(4, num_layers=2)
    state = torch.cat([small_graph.x, torch.zeros(5, 1)], dim=1)  # padded to out_channels
    for layer in range(2):
        state = conv.rnn(dense_adjacency @ state @ conv.weight[layer, 0], state)
    torch.testing.assert_close(conv(small_graph.x, small_graph.edge_index), state)


def test_gated_graph_conv_edge_types_and_gates(small_graph: Graph, dense_adjacency):
    torch.manual_seed(0)
    conv = GatedGraphConv(3, num_layers=1, num_edge_types=2, edge_dim=2)
    edge_type = torch.tensor([0, 1, 0, 1, 1, 0, 1, 0])
    edge_attr = torch.rand(8, 2)
    source, target = small_graph.edge_index
    gate = torch.sigmoid(conv.gates[0](edge_attr))
    messages = torch.stack(
        [small_graph.x[s] @ conv.weight[0, t] for s, t in zip(source, edge_type, strict=True)]
    )
    aggregated = scatter(messages * gate, target, 5)
    expected = conv.rnn(aggregated, small_graph.x)
    out = conv(small_graph.x, small_graph.edge_index, edge_type=edge_type, edge_attr=edge_attr)
    torch.testing.assert_close(out, expected)


def test_gated_graph_conv_rejects_wide_features(small_graph: Graph):
    from zen.errors import DataError

    with pytest.raises(DataError, match="out_channels"):
        GatedGraphConv(2, num_layers=1)(small_graph.x, small_graph.edge_index)


def test_layers_handle_graph_without_edges():
    x = torch.rand(3, 4)
    empty = torch.empty((2, 0), dtype=torch.long)
    for conv in (GCNConv(4, 2), SAGEConv(4, 2, aggr="max"), GATConv(4, 2, heads=2)):
        assert torch.isfinite(conv(x, empty)).all()


@pytest.mark.parametrize(
    ("layer", "text"),
    [
        (GCNConv(1433, 16), "GCNConv(1433, 16)"),
        (SAGEConv(8, 4), "SAGEConv(8, 4, aggr='mean')"),
        (GATConv(8, 4, heads=2), "GATConv(8, 4, heads=2)"),
        (GatedGraphConv(8, 3), "GatedGraphConv(8, num_layers=3, num_edge_types=1)"),
    ],
)
def test_repr_shows_shape(layer: nn.Module, text: str):
    assert repr(layer) == text


def test_message_passing_min_and_isolated_nodes():
    class Neighbours(MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

    x = torch.tensor([[1.0], [5.0], [-2.0]])
    edges = torch.tensor([[0, 1], [2, 2]])
    assert Neighbours("min")(x, edges).flatten().tolist() == [0.0, 0.0, 1.0]
    assert Neighbours("mean")(x, edges).flatten().tolist() == [0.0, 0.0, 3.0]


def test_softmax_sums_to_one_per_target():
    scores = torch.tensor([[1.0], [2.0], [1000.0], [3.0]])
    index = torch.tensor([0, 0, 1, 1])
    alpha = softmax(scores, index, 2)
    torch.testing.assert_close(scatter(alpha, index, 2), torch.ones(2, 1))
    assert torch.isfinite(alpha).all()
