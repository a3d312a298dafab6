"""Random node splits, edge splits and negative sampling for node and link prediction."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from zen.errors import ConfigError, DataError
from zen.graph.data import Graph
from zen.graph.utils import coalesce, infer_num_nodes, to_undirected


def negative_sampling(
    edge_index: torch.Tensor,
    num_nodes: int | None = None,
    num_samples: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Node pairs ``(i, j)``, ``i != j``, that are not edges: the negatives of link prediction.

    Args:
        edge_index: the known edges ``(2, num_edges)``; it must have at least one.
        num_samples: pairs wanted (default: as many as there are edges). A graph too dense to
            hold that many non-edges yields fewer.
        generator: source of randomness, for repeatable samples.

    Returns:
        ``(2, num_samples)`` distinct pairs, none of them in ``edge_index``.
    """
    if edge_index.size(1) == 0:
        raise DataError("edge_index: negative sampling needs a graph with at least one edge")
    n = infer_num_nodes(edge_index, num_nodes)
    wanted = edge_index.size(1) if num_samples is None else int(num_samples)
    available = n * (n - 1) - coalesce(edge_index, num_nodes=n)[0].size(1)
    wanted = max(0, min(wanted, available))
    known = edge_index[0] * n + edge_index[1]
    found = torch.empty(0, dtype=torch.long)
    # Rejection sampling in vectorised rounds; on sparse graphs one round almost always does.
    for _ in range(20):
        if found.numel() >= wanted:
            break
        draws = torch.randint(0, n * n, (2 * (wanted - found.numel()) + 16,), generator=generator)
        draws = draws[(draws // n != draws % n) & ~torch.isin(draws, known.cpu())]
        # unique() sorts; the shuffle keeps the final truncation from favouring low node ids.
        candidates = torch.unique(torch.cat([found, draws]))
        found = candidates[torch.randperm(candidates.numel(), generator=generator)]
    found = found[:wanted].to(edge_index.device)
    return torch.stack([found // n, found % n])


def random_node_split(
    graph: Graph,
    train: float = 0.6,
    val: float = 0.2,
    seed: int = 0,
) -> Graph:
    """A copy of ``graph`` with random train/val/test masks over its labelled nodes.

    Nodes with a negative label (unknown) join no split; the rest is test.

    Args:
        train, val: fractions of the labelled nodes; ``1 - train - val`` is the test share.
    """
    if not (0 < train < 1 and 0 <= val < 1 and train + val <= 1):
        raise ConfigError(
            f"train, val: expected fractions with train + val <= 1, got {train}, {val}"
        )
    if graph.y is None or graph.y.size(0) != graph.num_nodes:
        raise DataError("y: random_node_split needs one label per node")
    labelled = (graph.y.view(graph.num_nodes, -1)[:, 0] >= 0).nonzero().flatten()
    order = labelled[torch.randperm(labelled.numel(), generator=_generator(seed))]
    n_train = round(train * order.numel())
    n_val = round(val * order.numel())
    masks = {}
    for name, part in (
        ("train_mask", order[:n_train]),
        ("val_mask", order[n_train : n_train + n_val]),
        ("test_mask", order[n_train + n_val :]),
    ):
        mask = torch.zeros(graph.num_nodes, dtype=torch.bool)
        mask[part] = True
        masks[name] = mask.to(graph.y.device)
    return graph.replace(**masks)


@dataclass
class EdgeSplit:
    """Edges for link prediction: what to train on, and positive/negative pairs to score.

    Attributes:
        train_edge_index: message-passing edges for training (both directions when the input
            graph was undirected).
        val_pos, val_neg, test_pos, test_neg: held-out edges and non-edges, ``(2, k)``, one
            direction each.
        graph: the input graph with only ``train_edge_index`` as edges (per-edge attributes
            dropped), the graph to pass messages on in every split so that held-out edges never
            leak into the embeddings; ``None`` for splits built by hand.
    """

    train_edge_index: torch.Tensor
    val_pos: torch.Tensor
    val_neg: torch.Tensor
    test_pos: torch.Tensor
    test_neg: torch.Tensor
    graph: Graph | None = None


def split_edges(
    graph: Graph, val: float = 0.05, test: float = 0.1, undirected: bool = True, seed: int = 0
) -> EdgeSplit:
    """Hold out random edges (and as many sampled non-edges) for validation and testing.

    With ``undirected``, each pair ``{i, j}`` is held out as a whole so that the model never sees
    the reverse of a test edge during training.
    """
    if graph.num_edges == 0:
        raise DataError("edge_index: split_edges needs a graph with at least one edge")
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ConfigError(f"val, test: expected fractions with val + test < 1, got {val}, {test}")
    n = graph.num_nodes
    edges = graph.edge_index
    if undirected:
        edges = to_undirected(edges, num_nodes=n)[0]
        edges = edges[:, edges[0] < edges[1]]
    generator = _generator(seed)
    order = torch.randperm(edges.size(1), generator=generator).to(edges.device)
    n_val, n_test = int(val * order.numel()), int(test * order.numel())
    val_pos = edges[:, order[:n_val]]
    test_pos = edges[:, order[n_val : n_val + n_test]]
    train = edges[:, order[n_val + n_test :]]
    negatives = negative_sampling(graph.edge_index, n, n_val + n_test, generator)
    if undirected:
        train = to_undirected(train, num_nodes=n)[0]
    return EdgeSplit(
        train_edge_index=train,
        val_pos=val_pos,
        val_neg=negatives[:, :n_val],
        test_pos=test_pos,
        test_neg=negatives[:, n_val:],
        # Per-edge attributes describe the full edge list, not the training edges: drop them.
        graph=graph.replace(edge_index=train, edge_attr=None, edge_weight=None, edge_type=None),
    )


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
