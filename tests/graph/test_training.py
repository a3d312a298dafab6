"""End-to-end tasks through zen's Trainer: node, graph and link prediction."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from zen.errors import DataError
from zen.graph import GAT, GCN, GIN, GraphLoader, GraphSAGE, NodeLoader
from zen.graph.datasets import Planetoid, TUDataset
from zen.graph.metrics import accuracy, roc_auc_score
from zen.graph.sampling import negative_sampling, random_node_split, split_edges
from zen.neural import Trainer


@pytest.mark.slow  # ~25 s on one core: dropout on 2708 x 1433 input features dominates
def test_gcn_reaches_paper_accuracy_on_cora(cora_root: Path):
    g = Planetoid("cora", root=cora_root)[0]
    model = GCN(g.num_features, 16, num_layers=2, out_channels=7, dropout=0.5, cached=True)
    trainer = Trainer(
        max_epochs=200, optimizer="adam", lr=0.01, weight_decay=5e-4, loss="cross_entropy", seed=0
    )
    result = trainer.fit(model, NodeLoader(g, "train"), NodeLoader(g, "val"))
    assert result.history["val_accuracy"][-1] > 0.75
    assert accuracy(model.predict(g), g.y, g.test_mask) >= 0.79


@pytest.mark.parametrize("model_class", [GCN, GAT, GraphSAGE])
def test_node_models_fit_karate_club(model_class):
    pytest.importorskip("networkx")
    from zen.graph.datasets import karate_club

    g = karate_club()
    torch.manual_seed(0)  # the initial weights; Trainer(seed=0) makes only training repeatable
    model = model_class(34, 8, num_layers=2, out_channels=2)
    Trainer(max_epochs=60, lr=0.05, loss="cross_entropy", seed=0).fit(
        model, NodeLoader(g, "train"), NodeLoader(g, "test")
    )
    assert accuracy(model.predict(g), g.y, g.test_mask) > 0.7


def test_gin_classifies_generated_tu_graphs(tmp_path: Path, write_tu):
    data = TUDataset("TOY", root=write_tu(tmp_path, num_graphs=80))
    train, test = data[:60], data[60:]
    model = GIN(data.num_features, 16, num_layers=2, out_channels=2, readout="add")
    Trainer(max_epochs=30, lr=0.01, loss="cross_entropy", seed=0).fit(
        model, GraphLoader(train, batch_size=16, shuffle=True), GraphLoader(test, batch_size=20)
    )
    predictions = torch.cat([model.predict(batch) for batch in GraphLoader(test, 20)])
    labels = torch.cat([graph.y for graph in test])
    assert accuracy(predictions, labels) >= 0.9


def test_random_node_split_covers_labelled_nodes_only(small_graph):
    g = random_node_split(small_graph.replace(y=torch.tensor([0, 1, -1, 1, 0])), 0.5, 0.25)
    masks = torch.stack([g.train_mask, g.val_mask, g.test_mask])
    assert masks.sum(0).tolist() == [1, 1, 0, 1, 1] and int(g.train_mask.sum()) == 2


def test_negative_sampling_avoids_edges_and_loops(small_graph):
    negatives = negative_sampling(small_graph.edge_index, 5, 10, torch.Generator().manual_seed(0))
    keys = set((small_graph.edge_index[0] * 5 + small_graph.edge_index[1]).tolist())
    assert negatives.size(1) == 10  # 5*4 - 8 = 12 non-edges available
    assert all(int(s) != int(t) and int(s * 5 + t) not in keys for s, t in negatives.t())
    assert len(set((negatives[0] * 5 + negatives[1]).tolist())) == 10
    with pytest.raises(DataError, match="at least one edge"):
        negative_sampling(torch.empty((2, 0), dtype=torch.long), 5)


def test_roc_auc_with_ties():
    assert roc_auc_score(torch.tensor([1.0, 1.0, 0.0]), torch.tensor([1, 0, 0])) == 0.75


def test_link_prediction_on_communities():
    # Six dense communities: random non-edges mostly cross communities, edges do not.
    generator = torch.Generator().manual_seed(0)
    community = torch.arange(60) // 10
    same = community[:, None] == community[None, :]
    probability = torch.where(same, 0.6, 0.005)
    upper = torch.triu(torch.rand(60, 60, generator=generator) < probability, diagonal=1)
    edge_index = upper.nonzero().t()
    from zen.graph import Graph

    g = Graph(x=torch.eye(60), edge_index=torch.cat([edge_index, edge_index.flip(0)], 1))
    split = split_edges(g, val=0.1, test=0.2, seed=0)
    assert split.test_pos.size(1) == split.test_neg.size(1) > 0
    encoder = GCN(60, 32, num_layers=2, out_channels=16)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=0.01)
    for _ in range(100):
        optimizer.zero_grad()
        z = encoder(g.x, split.train_edge_index)
        positive = split.train_edge_index
        negative = negative_sampling(positive, 60, generator=generator)
        scores = torch.cat(
            [(z[positive[0]] * z[positive[1]]).sum(-1), (z[negative[0]] * z[negative[1]]).sum(-1)]
        )
        labels = torch.cat([torch.ones(positive.size(1)), torch.zeros(negative.size(1))])
        F.binary_cross_entropy_with_logits(scores, labels).backward()
        optimizer.step()
    z = encoder.eval()(g.x, split.train_edge_index).detach()
    pairs = torch.cat([split.test_pos, split.test_neg], dim=1)
    labels = torch.cat([torch.ones(split.test_pos.size(1)), torch.zeros(split.test_neg.size(1))])
    assert roc_auc_score((z[pairs[0]] * z[pairs[1]]).sum(-1), labels) > 0.8
