"""Graph datasets from local files; nothing is ever downloaded.

A missing file raises :class:`~zen.errors.DataError` naming the file and where it belongs.
"""

from zen.graph.datasets.base import GraphDataset
from zen.graph.datasets.edge_list import load_edge_list
from zen.graph.datasets.folders import graph_source, is_graph_source, load_graph
from zen.graph.datasets.karate import karate_club
from zen.graph.datasets.planetoid import Planetoid
from zen.graph.datasets.tu import TUDataset

__all__ = [
    "GraphDataset",
    "Planetoid",
    "TUDataset",
    "graph_source",
    "is_graph_source",
    "karate_club",
    "load_edge_list",
    "load_graph",
]
