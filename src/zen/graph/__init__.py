"""zen.graph: graph neural networks on message passing, in plain PyTorch.

Conventions follow PyTorch Geometric, so its users can start right away::

    from zen.graph import GCN, GCNConv
    from zen.graph.datasets import Planetoid
    g = Planetoid("cora", root="../shared/data/graph")[0]
    h = GCNConv(g.num_features, 16)(g.x, g.edge_index)

Datasets live in :mod:`zen.graph.datasets`, edge-list algebra in :mod:`zen.graph.utils`,
splits and negative sampling in :mod:`zen.graph.sampling`, loaders for the Trainer in
:mod:`zen.graph.loader`, GraphSAGE neighbour sampling in :mod:`zen.graph.neighbor` and link
prediction in :mod:`zen.graph.link`.
"""

from zen.graph.batch import Batch
from zen.graph.data import Graph
from zen.graph.layers import GATConv, GatedGraphConv, GCNConv, GINConv, SAGEConv
from zen.graph.link import LinkBatch, LinkLoader, LinkPredictor
from zen.graph.loader import GraphLoader, NodeLoader, NodeSplit
from zen.graph.message_passing import MessagePassing
from zen.graph.models import GAT, GCN, GIN, GNN, GraphSAGE
from zen.graph.neighbor import NeighborLoader
from zen.graph.pool import global_add_pool, global_max_pool, global_mean_pool

__all__ = [
    "GAT",
    "GCN",
    "GIN",
    "GNN",
    "Batch",
    "GATConv",
    "GCNConv",
    "GINConv",
    "GatedGraphConv",
    "Graph",
    "GraphLoader",
    "GraphSAGE",
    "LinkBatch",
    "LinkLoader",
    "LinkPredictor",
    "MessagePassing",
    "NeighborLoader",
    "NodeLoader",
    "NodeSplit",
    "SAGEConv",
    "global_add_pool",
    "global_max_pool",
    "global_mean_pool",
]
