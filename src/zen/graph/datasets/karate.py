"""Zachary's karate club (Zachary 1977) from networkx: the classic tiny real graph."""

from __future__ import annotations

import torch

from zen.graph.convert import from_networkx, require
from zen.graph.data import Graph


def karate_club() -> Graph:
    """34 members, 78 friendships (156 directed edges), and the club each member joined after
    the split (``y``: 0 = Mr. Hi, 1 = Officer).

    Features are one-hot node ids (the graph has none of its own). The training mask holds the
    two leaders, node 0 (Mr. Hi) and node 33 (the officer); every other member is a test node:
    semi-supervised learning from one label per class.
    """
    nx = require("networkx")
    nx_graph = nx.karate_club_graph()
    y = torch.tensor([0 if nx_graph.nodes[n]["club"] == "Mr. Hi" else 1 for n in nx_graph.nodes])
    train_mask = torch.zeros(34, dtype=torch.bool)
    train_mask[[0, 33]] = True
    return from_networkx(
        nx_graph, x=torch.eye(34), y=y, train_mask=train_mask, test_mask=~train_mask
    )
