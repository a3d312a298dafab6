"""Link prediction through the Trainer: LinkPredictor, LinkLoader, negatives and AUC."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from zen.errors import ConfigError, DataError
from zen.graph import GCN, Graph, LinkBatch, LinkLoader, LinkPredictor
from zen.graph.link import RocAucLogger
from zen.graph.sampling import split_edges
from zen.neural import Trainer

NUM_NODES = 100


def community_graph(num_nodes: int = NUM_NODES, size: int = 10) -> Graph:
    """Dense communities with few links between them: random non-edges mostly cross
    communities, edges do not, so embeddings that recover communities score well."""
    generator = torch.Generator().manual_seed(0)
    community = torch.arange(num_nodes) // size
    probability = torch.where(community[:, None] == community[None, :], 0.6, 0.005)
    upper = torch.triu(torch.rand(num_nodes, num_nodes, generator=generator) < probability, 1)
    edges = upper.nonzero().t()
    return Graph(x=torch.eye(num_nodes), edge_index=torch.cat([edges, edges.flip(0)], 1))


@pytest.fixture(scope="module")
def graph() -> Graph:
    return community_graph()


@pytest.fixture(scope="module")
def split(graph):
    return split_edges(graph, val=0.1, test=0.2, seed=0)


def test_split_edges_gives_a_graph_without_held_out_edges(graph, split):
    assert torch.equal(split.graph.edge_index, split.train_edge_index)
    assert split.graph.num_nodes == NUM_NODES and split.graph.x is graph.x
    train = set((split.train_edge_index[0] * NUM_NODES + split.train_edge_index[1]).tolist())
    for held_out in (split.val_pos, split.test_pos):
        assert not train & set((held_out[0] * NUM_NODES + held_out[1]).tolist())
        assert not train & set((held_out[1] * NUM_NODES + held_out[0]).tolist())


def test_train_batches_draw_fresh_negatives_each_epoch(split):
    loader = LinkLoader(split, split="train", negative_ratio=2.0)
    first, second = next(iter(loader)), next(iter(loader))
    positives = split.train_edge_index.size(1)
    assert len(loader) == 1 and len(first) == 3 * positives
    assert first.labels.sum() == positives and first.labels[:positives].eq(1).all()
    assert not torch.equal(first.pairs[:, positives:], second.pairs[:, positives:])
    # Message passing uses the training edges only, in every split.
    assert torch.equal(first.graph.edge_index, split.train_edge_index)
    repeat = LinkLoader(split, split="train", negative_ratio=2.0)
    assert torch.equal(next(iter(repeat)).pairs, first.pairs)  # same seed, same negatives


def test_train_batches_cover_every_positive_once(split):
    loader = LinkLoader(split, split="train", batch_size=100)
    batches = list(loader)
    assert len(batches) == len(loader) == -(-split.train_edge_index.size(1) // 100)
    positives = torch.cat([batch.pairs[:, batch.labels == 1] for batch in batches], 1)
    key = lambda pairs: sorted((pairs[0] * NUM_NODES + pairs[1]).tolist())  # noqa: E731
    assert key(positives) == key(split.train_edge_index)


def test_validation_batches_are_fixed(split):
    batch = next(iter(LinkLoader(split, split="val")))
    assert torch.equal(batch.pairs, torch.cat([split.val_pos, split.val_neg], 1))
    assert batch.labels.tolist() == [1.0] * split.val_pos.size(1) + [0.0] * split.val_neg.size(1)


@pytest.mark.parametrize("decoder", ["dot", "mlp"])
def test_gcn_link_predictor_trains_with_the_trainer(graph, split, decoder):
    model = LinkPredictor(GCN(NUM_NODES, 32, num_layers=2, out_channels=16), decoder=decoder)
    val = LinkLoader(split, split="val")
    result = Trainer(
        max_epochs=100, lr=0.01, loss="bce", seed=0, callbacks=[RocAucLogger(val)]
    ).fit(model, LinkLoader(split, split="train"), val)
    # Confident logits can raise the validation BCE while the ranking improves, so check AUC.
    assert len(result.history["val_auc"]) == 100 and "val_accuracy" in result.history
    assert result.history["val_auc"][-1] > result.history["val_auc"][0]
    test_auc = model.roc_auc(next(iter(LinkLoader(split, split="test"))))
    assert test_auc > 0.85  # 0.95-0.97 over trainer seeds 0-2 with either decoder


def test_score_gives_one_logit_per_pair_and_keeps_the_mode(split):
    model = LinkPredictor(GCN(NUM_NODES, 8, num_layers=1, out_channels=8, dropout=0.5))
    logits = model.score(split.graph, split.test_pos)
    assert logits.shape == (split.test_pos.size(1),) and model.training
    assert torch.equal(logits, model.score(split.graph, split.test_pos))  # no dropout
    with pytest.raises(DataError, match="edge_pairs"):
        model.score(split.graph, torch.tensor([[0, NUM_NODES]]).t())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"val_neg": torch.empty((2, 0), dtype=torch.long)}, "edge_split.val_neg"),
        ({"val_pos": torch.empty((2, 0), dtype=torch.long)}, "edge_split.val_pos"),
        ({"val_neg": torch.tensor([[0, 1, 2]])}, "edge_split.val_neg"),
        ({"val_neg": torch.tensor([[0], [NUM_NODES]])}, "edge_split.val_neg"),
        ({"graph": None}, "graph"),
    ],
)
def test_bad_edge_splits_are_data_errors(split, change, message):
    with pytest.raises(DataError, match=message):
        LinkLoader(dataclasses.replace(split, **change), split="val")


def test_empty_training_edges_are_a_data_error(split):
    empty = dataclasses.replace(split, train_edge_index=torch.empty((2, 0), dtype=torch.long))
    with pytest.raises(DataError, match="train_edge_index"):
        LinkLoader(empty, split="train")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"split": "validation"}, "split"),
        ({"negative_ratio": 0}, "negative_ratio"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_loader_settings_are_config_errors(split, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        LinkLoader(split, **kwargs)


def test_bad_predictor_settings_are_config_errors():
    with pytest.raises(ConfigError, match="decoder"):
        LinkPredictor(GCN(4, 4, num_layers=1, out_channels=4), decoder="cosine")
    with pytest.raises(ConfigError, match="embedding_channels"):
        LinkPredictor(torch.nn.Linear(4, 4), decoder="mlp")


def test_training_loss_rejects_other_batches(graph):
    model = LinkPredictor(GCN(NUM_NODES, 8, num_layers=1, out_channels=8))
    with pytest.raises(DataError, match="LinkBatch"):
        model.training_loss(graph, torch.nn.BCEWithLogitsLoss())
    batch = LinkBatch(graph, torch.tensor([[0], [1]]), torch.ones(1))
    assert model.training_loss(batch, torch.nn.BCEWithLogitsLoss()).size == 1
