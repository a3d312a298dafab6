"""GraphSAGE neighbour sampling: sampled subgraphs, their layout, and training on them."""

from __future__ import annotations

import pytest
import torch

from zen.errors import ConfigError, DataError
from zen.graph import Graph, GraphSAGE, NeighborLoader, NodeLoader, NodeSplit
from zen.graph.metrics import accuracy
from zen.graph.neighbor import sample_neighbors, to_csc
from zen.graph.sampling import random_node_split
from zen.neural import Trainer


def community_graph(
    num_nodes: int = 300, num_classes: int = 4, p_in: float = 0.08, p_out: float = 0.004
) -> Graph:
    """A stochastic block model: labels are communities, features a noisy one-hot of them
    (too noisy alone, so accuracy has to come from aggregating neighbours)."""
    generator = torch.Generator().manual_seed(0)
    y = torch.arange(num_nodes) % num_classes
    probability = torch.where(y[:, None] == y[None, :], p_in, p_out)
    upper = torch.triu(torch.rand(num_nodes, num_nodes, generator=generator) < probability, 1)
    edges = upper.nonzero().t()
    x = torch.nn.functional.one_hot(y, num_classes).float()
    x = x + 1.5 * torch.randn(num_nodes, num_classes, generator=generator)
    g = Graph(x=x, edge_index=torch.cat([edges, edges.flip(0)], dim=1), y=y)
    return random_node_split(g, train=0.5, val=0.2, seed=0)


@pytest.fixture(scope="module")
def graph() -> Graph:
    return community_graph()


def in_degree(g: Graph) -> torch.Tensor:
    return torch.bincount(g.edge_index[1], minlength=g.num_nodes)


def test_csc_lists_the_in_edges_of_each_node(small_graph):
    indptr, perm = to_csc(small_graph.edge_index, 5)
    assert indptr.tolist() == [0, 2, 4, 7, 8, 8]
    for node in range(5):
        sources = small_graph.edge_index[0, perm[indptr[node] : indptr[node + 1]]]
        expected = small_graph.edge_index[0, small_graph.edge_index[1] == node]
        assert sorted(sources.tolist()) == sorted(expected.tolist())


def test_sample_neighbors_takes_min_degree_k_distinct_edges():
    indptr = torch.tensor([0, 5, 7, 7, 20])
    slots, owner = sample_neighbors(indptr, torch.tensor([0, 1, 2, 3]), 3)
    assert torch.bincount(owner, minlength=4).tolist() == [3, 2, 0, 3]
    assert torch.unique(slots).numel() == slots.numel()  # without replacement
    for node in range(4):
        mine = slots[owner == node]
        assert bool(((mine >= indptr[node]) & (mine < indptr[node + 1])).all())
    all_slots, _ = sample_neighbors(indptr, torch.tensor([3]), -1)
    assert all_slots.tolist() == list(range(7, 20))


def test_sample_neighbors_is_uniform_over_the_neighbourhood():
    # 4000 draws of 2 out of 5 neighbours (one node listed 4000 times, each listing sampled
    # independently): each neighbour is chosen with probability 2/5.
    indptr = torch.tensor([0, 5])
    generator = torch.Generator().manual_seed(0)
    slots, owner = sample_neighbors(indptr, torch.zeros(4000, dtype=torch.long), 2, generator)
    assert torch.bincount(owner).unique().tolist() == [2]
    pairs = slots.view(4000, 2)
    assert bool((pairs[:, 0] != pairs[:, 1]).all())
    frequency = torch.bincount(slots, minlength=5) / 4000
    assert torch.allclose(frequency, torch.full((5,), 0.4), atol=0.03)


def test_batches_put_seeds_first_with_their_global_ids(graph):
    loader = NeighborLoader(graph, num_neighbors=[5, 3], batch_size=64, split="train")
    seen = []
    for batch in loader:
        assert isinstance(batch, NodeSplit)
        sub = batch.graph
        assert batch.mask.tolist() == [True] * sub.batch_size + [False] * (
            sub.num_nodes - sub.batch_size
        )
        seeds = sub.n_id[: sub.batch_size]
        assert bool(graph.train_mask[seeds].all())
        assert torch.unique(sub.n_id).numel() == sub.num_nodes
        assert torch.equal(sub.x, graph.x[sub.n_id]) and torch.equal(sub.y, graph.y[sub.n_id])
        seen.append(seeds)
    assert len(seen) == len(loader)
    assert sorted(torch.cat(seen).tolist()) == graph.train_mask.nonzero().flatten().tolist()


def test_sampled_edges_are_original_edges_pointing_to_the_seeds(graph):
    loader = NeighborLoader(graph, num_neighbors=[4, 2], batch_size=32, seed=1)
    original = set((graph.edge_index[0] * graph.num_nodes + graph.edge_index[1]).tolist())
    sub = next(iter(loader)).graph
    global_edges = sub.n_id[sub.edge_index]
    assert set((global_edges[0] * graph.num_nodes + global_edges[1]).tolist()) <= original
    assert torch.equal(graph.edge_index[:, sub.e_id], global_edges)
    # Hop 1 samples into the seeds; hop 2 only into nodes first reached at hop 1.
    seeds = torch.arange(sub.batch_size)
    sampled = in_degree(sub)
    expected = in_degree(graph)[sub.n_id].clamp(max=4)
    assert torch.equal(sampled[seeds], expected[seeds])
    hop_one = torch.unique(sub.edge_index[0, torch.isin(sub.edge_index[1], seeds)])
    hop_one = hop_one[hop_one >= sub.batch_size]
    assert torch.equal(sampled[hop_one], in_degree(graph)[sub.n_id[hop_one]].clamp(max=2))
    reached = torch.zeros(sub.num_nodes, dtype=torch.bool)
    reached[seeds] = reached[hop_one] = True
    assert int(sampled[~reached].sum()) == 0


def test_sampling_is_repeatable_with_a_seed(graph):
    def first_batch(seed: int) -> Graph:
        return next(iter(NeighborLoader(graph, [5, 3], batch_size=16, seed=seed))).graph

    a, b, c = first_batch(0), first_batch(0), first_batch(1)
    assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)
    assert not torch.equal(a.n_id, c.n_id)


def test_edge_attributes_follow_the_sampled_edges(graph):
    weights = torch.rand(graph.num_edges)
    weighted = graph.replace(edge_weight=weights)
    sub = NeighborLoader(weighted, [3], batch_size=8).sample(torch.tensor([0, 1, 2]))
    assert torch.equal(sub.edge_weight, weights[sub.e_id])
    assert sub.n_id[:3].tolist() == [0, 1, 2] and sub.batch_size == 3


def test_graphsage_learns_communities_from_sampled_batches(graph):
    model = GraphSAGE(graph.num_features, 16, num_layers=2, out_channels=4)
    Trainer(max_epochs=15, lr=0.02, loss="cross_entropy", seed=0).fit(
        model,
        NeighborLoader(graph, num_neighbors=[10, 5], batch_size=64, split="train"),
        NodeLoader(graph, "val"),  # evaluation on full neighbourhoods
    )
    # Chance is 0.25 and an MLP on the noisy features alone gets 0.40; this reaches 0.82-0.86
    # over trainer seeds 0-2.
    assert accuracy(model.predict(graph), graph.y, graph.test_mask) > 0.7


@pytest.mark.parametrize("num_neighbors", [[], [0], [10, -2], [2.5], "25", None, [True]])
def test_bad_num_neighbors_is_a_config_error(graph, num_neighbors):
    with pytest.raises(ConfigError, match="num_neighbors"):
        NeighborLoader(graph, num_neighbors=num_neighbors)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 0}, ConfigError, "batch_size"),
        ({"split": "validation"}, ConfigError, "split"),
        ({"split": torch.zeros(3, dtype=torch.bool)}, DataError, "split"),
        ({"split": torch.zeros(300, dtype=torch.bool)}, DataError, "split"),
        ({"split": torch.tensor([0, 300])}, DataError, "split"),
    ],
)
def test_bad_loader_arguments_name_the_argument(graph, kwargs, error, message):
    with pytest.raises(error, match=message):
        NeighborLoader(graph, [5], **kwargs)


def test_repeated_seeds_are_rejected(graph):
    with pytest.raises(DataError, match="seeds"):
        NeighborLoader(graph, [5]).sample(torch.tensor([1, 1]))
