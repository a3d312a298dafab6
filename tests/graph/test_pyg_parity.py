"""Layer outputs equal PyTorch Geometric's with copied weights (skipped without PyG)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zen.graph import GATConv, GatedGraphConv, GCNConv, GINConv, SAGEConv

pyg = pytest.importorskip("torch_geometric.nn")


@pytest.fixture
def random_graph() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(30, 6, generator=generator)
    edge_index = torch.randint(0, 30, (2, 120), generator=generator)
    return x, edge_index


def copy_(target: torch.Tensor, source: torch.Tensor) -> None:
    with torch.no_grad():
        target.copy_(source.reshape(target.shape))


def test_gcn_matches_pyg(random_graph):
    x, edge_index = random_graph
    theirs, ours = pyg.GCNConv(6, 4), GCNConv(6, 4)
    copy_(ours.lin.weight, theirs.lin.weight)
    copy_(ours.bias, torch.randn(4))
    copy_(theirs.bias, ours.bias)
    weight = torch.rand(edge_index.size(1))
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(
        ours(x, edge_index, weight), theirs(x, edge_index, weight), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("aggr", ["mean", "max"])
@pytest.mark.parametrize("in_channels", [6, 3])
def test_sage_matches_pyg(random_graph, aggr: str, in_channels: int):
    x, edge_index = random_graph
    x = x[:, :in_channels]  # 6 -> 4 transforms before aggregating, 3 -> 4 after
    theirs, ours = pyg.SAGEConv(in_channels, 4, aggr=aggr), SAGEConv(in_channels, 4, aggr=aggr)
    ours.load_state_dict(
        {
            "lin_l.weight": theirs.lin_l.weight,
            "lin_l.bias": theirs.lin_l.bias,
            "lin_r.weight": theirs.lin_r.weight,
        }
    )
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("concat", [True, False])
def test_gat_matches_pyg(random_graph, concat: bool):
    x, edge_index = random_graph
    theirs = pyg.GATConv(6, 3, heads=4, concat=concat).eval()
    ours = GATConv(6, 3, heads=4, concat=concat).eval()
    copy_(ours.lin.weight, theirs.lin.weight)
    copy_(ours.att_src, theirs.att_src)
    copy_(ours.att_dst, theirs.att_dst)
    copy_(ours.bias, torch.randn_like(ours.bias))
    copy_(theirs.bias, ours.bias)
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-5, rtol=1e-5)


def test_gat_with_edge_features_matches_pyg(random_graph):
    x, edge_index = random_graph
    edge_attr = torch.rand(edge_index.size(1), 2)
    theirs, ours = pyg.GATConv(6, 3, heads=2, edge_dim=2), GATConv(6, 3, heads=2, edge_dim=2)
    for name in ("lin.weight", "att_src", "att_dst", "att_edge", "lin_edge.weight", "bias"):
        copy_(ours.get_parameter(name), theirs.get_parameter(name))
    torch.testing.assert_close(
        ours(x, edge_index, edge_attr), theirs(x, edge_index, edge_attr), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_gin_matches_pyg(random_graph, eps: float):
    x, edge_index = random_graph
    mlp = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    theirs, ours = pyg.GINConv(mlp, eps=eps), GINConv(mlp, eps=eps)
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-5, rtol=1e-5)


def test_gated_graph_conv_matches_pyg(random_graph):
    x, edge_index = random_graph
    theirs, ours = pyg.GatedGraphConv(8, num_layers=3), GatedGraphConv(8, num_layers=3)
    copy_(ours.weight, theirs.weight)
    ours.rnn.load_state_dict(theirs.rnn.state_dict())
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), atol=1e-5, rtol=1e-5)
