"""Message-passing layers, one per module."""

from zen.graph.layers.gat import GATConv
from zen.graph.layers.gated import GatedGraphConv
from zen.graph.layers.gcn import GCNConv, gcn_norm
from zen.graph.layers.gin import GINConv
from zen.graph.layers.sage import SAGEConv

__all__ = ["GATConv", "GCNConv", "GINConv", "GatedGraphConv", "SAGEConv", "gcn_norm"]
