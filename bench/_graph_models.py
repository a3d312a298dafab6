"""The same node-classification networks built from zen.graph and from PyTorch Geometric.

Both sides get the identical structure (dropout before each layer, activation between layers,
GCN/SAGE with one hidden layer, GAT with concatenated heads then one averaged output head), so
the benchmarks compare the libraries, not two architectures.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

MODELS = ("GCN", "GAT", "SAGE")


def zen_model(name: str, features: int, hidden: int, classes: int, dropout: float) -> nn.Module:
    from zen.graph import GAT, GCN, GraphSAGE

    if name == "GCN":
        return GCN(features, hidden, 2, classes, dropout=dropout, cached=True)
    if name == "GAT":
        return GAT(features, hidden, 2, classes, heads=8, dropout=dropout)
    return GraphSAGE(features, hidden, 2, classes, dropout=dropout)


class PygNet(nn.Module):
    """Two PyG convolutions with zen.graph.GNN's dropout and activation placement."""

    def __init__(self, name: str, features: int, hidden: int, classes: int, dropout: float):
        super().__init__()
        from torch_geometric.nn import GATConv, GCNConv, SAGEConv

        self.dropout = dropout
        self.activation: Any = F.elu if name == "GAT" else F.relu
        if name == "GCN":
            self.conv1 = GCNConv(features, hidden, cached=True)
            self.conv2 = GCNConv(hidden, classes, cached=True)
        elif name == "GAT":
            self.conv1 = GATConv(features, hidden, heads=8, dropout=dropout)
            self.conv2 = GATConv(hidden * 8, classes, heads=1, concat=False, dropout=dropout)
        else:
            self.conv1 = SAGEConv(features, hidden)
            self.conv2 = SAGEConv(hidden, classes)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        x = F.dropout(x, self.dropout, self.training)
        x = self.activation(self.conv1(x, edge_index))
        x = F.dropout(x, self.dropout, self.training)
        return self.conv2(x, edge_index)


def pyg_model(name: str, features: int, hidden: int, classes: int, dropout: float) -> nn.Module:
    return PygNet(name, features, hidden, classes, dropout)


def pyg_available() -> bool:
    try:
        import torch_geometric  # noqa: F401
    except ImportError:
        return False
    return True
