"""Batches of graphs for :class:`zen.neural.Trainer`: whole-graph node splits and mini-batches.

The Trainer iterates a loader once per epoch and hands each item to the model's
``training_loss``; graph models (:mod:`zen.graph.models`) understand both kinds.

Example (node classification, full batch):
    >>> # Trainer(loss="cross_entropy", lr=0.01).fit(model, NodeLoader(g, "train"),
    >>> #                                            NodeLoader(g, "val"))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import torch

from zen.errors import DataError, expect_one_of
from zen.graph.batch import Batch
from zen.graph.data import MASK_NAMES, Graph


@dataclass
class NodeSplit:
    """A whole graph plus the nodes whose labels count (the loss and metrics use only those)."""

    graph: Graph
    mask: torch.Tensor


def split_mask(graph: Graph, split: str) -> torch.Tensor:
    """The boolean mask ``graph.<split>_mask`` for ``split`` in train/val/test.

    Raises:
        ConfigError: an unknown split name.
        DataError: the graph has no such mask.
    """
    names = [name.removesuffix("_mask") for name in MASK_NAMES]
    if split not in names:
        raise expect_one_of("split", split, names)
    mask = getattr(graph, f"{split}_mask")
    if mask is None:
        raise DataError(
            f"{split}_mask: the graph has no {split} split; make one with"
            " zen.graph.sampling.random_node_split(graph)"
        )
    return mask


class NodeLoader:
    """Yields the whole graph once per epoch with the mask of one split (full-batch training).

    Full-batch training cannot be split across workers without each computing the whole graph,
    so under ``Trainer(strategy="ddp")`` (see :meth:`shard`) each worker trains on sampled
    mini-batches of its share of the split's nodes instead.

    Args:
        graph: a graph with labels ``y`` per node.
        split: ``train``, ``val`` or ``test`` (reads ``graph.<split>_mask``), or a boolean mask.
    """

    def __init__(self, graph: Graph, split: str | torch.Tensor = "train") -> None:
        mask = split if isinstance(split, torch.Tensor) else split_mask(graph, split)
        if graph.y is None:
            raise DataError("y: node classification needs labels on the graph")
        if mask.dtype != torch.bool or mask.shape != (graph.num_nodes,):
            raise DataError(f"split: expected a boolean mask of {graph.num_nodes} entries")
        if not bool(mask.any()):
            raise DataError(f"split: the {split if isinstance(split, str) else ''} mask is empty")
        self.split = NodeSplit(graph, mask)

    def __iter__(self) -> Iterator[NodeSplit]:
        yield self.split

    def __len__(self) -> int:
        return 1

    def shard(
        self, rank: int, num_replicas: int, model: object = None, batch_size: int = 512
    ) -> Iterable[NodeSplit]:
        """Worker ``rank``'s share for ``Trainer(strategy="ddp")``: sampled mini-batches.

        A :class:`~zen.graph.neighbor.NeighborLoader` over this split's nodes, sharded
        (disjoint seeds per worker), with every neighbour at each of ``model.num_layers`` hops
        (2 when the model does not say): the seeds see their complete receptive field, but the
        outermost nodes' own degrees are those of the sampled subgraph, so degree-normalised
        layers (GCN) differ slightly from full-batch training.
        """
        from zen.graph.neighbor import NeighborLoader  # neighbor imports this module

        hops = getattr(model, "num_layers", None)
        hops = hops if isinstance(hops, int) and hops > 0 else 2
        loader = NeighborLoader(
            self.split.graph, [-1] * hops, batch_size=batch_size, split=self.split.mask
        )
        return loader.shard(rank, num_replicas)


class GraphLoader:
    """Mini-batches of whole graphs, each a :class:`Batch` (graph classification/regression).

    Args:
        graphs: the graphs (a dataset or any sequence).
        batch_size: graphs per batch.
        shuffle: new random order every epoch.
        seed: makes the orders repeatable (epoch ``k`` uses ``seed + k``).
    """

    def __init__(
        self, graphs: Sequence[Graph], batch_size: int = 32, shuffle: bool = False, seed: int = 0
    ) -> None:
        if len(graphs) == 0:
            raise DataError("graphs: the loader got no graphs")
        if batch_size < 1:
            raise DataError(f"batch_size: expected a positive integer, got {batch_size}")
        self.graphs, self.batch_size, self.shuffle, self.seed = graphs, batch_size, shuffle, seed
        self._epoch = 0

    def __iter__(self) -> Iterator[Batch]:
        count = len(self.graphs)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self._epoch)
            order = torch.randperm(count, generator=generator).tolist()
        else:
            order = list(range(count))
        self._epoch += 1
        for start in range(0, count, self.batch_size):
            yield Batch.from_graphs(
                [self.graphs[i] for i in order[start : start + self.batch_size]]
            )

    def __len__(self) -> int:
        return -(-len(self.graphs) // self.batch_size)
