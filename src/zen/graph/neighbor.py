"""Neighbour sampling for mini-batch training on large graphs (GraphSAGE, Hamilton et al. 2017).

A full-batch ``L``-layer network touches every node's whole ``L``-hop neighbourhood, which on
large graphs outgrows memory. GraphSAGE (Hamilton, Ying & Leskovec, NeurIPS 2017, sec. 3.1 and
Appendix A, Algorithm 2) instead draws, for each layer, a uniform fixed-size sample of each
node's neighbours (the paper uses :math:`S_1 = 25`, :math:`S_2 = 10`), so a batch costs
:math:`O(\\text{batch} \\cdot \\prod_k S_k)` whatever the graph size.

:class:`NeighborLoader` yields such batches as :class:`~zen.graph.loader.NodeSplit` objects
over the sampled subgraph, so any :class:`~zen.graph.models.GNN` trains on them through
:class:`zen.neural.Trainer` unchanged::

    train = NeighborLoader(g, num_neighbors=[25, 10], batch_size=512, split="train")
    Trainer(loss="cross_entropy", lr=0.01).fit(model, train, NodeLoader(g, "val"))
    logits = model.predict(g)   # inference over full neighbourhoods, no sampling

Evaluate on full neighbourhoods (``NodeLoader`` as the validation iterable, or
``model.predict(graph)`` on the whole graph): sampling is a training-time approximation, and the
paper too applies the trained aggregators to complete neighbourhoods where memory allows.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from zen.errors import ConfigError, DataError
from zen.graph.data import Graph
from zen.graph.loader import NodeSplit, split_mask

#: Per-edge attributes a sampled subgraph carries along (indexed by the sampled edge ids).
EDGE_ATTRIBUTES = ("edge_attr", "edge_weight", "edge_type")


def to_csc(edge_index: torch.Tensor, num_nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Group edges by target: the compressed layout that makes in-neighbour lookups O(1).

    Args:
        edge_index: ``(2, num_edges)``, sources in row 0, targets in row 1.
        num_nodes: number of nodes.

    Returns:
        ``(indptr, perm)``: the edges entering node ``i`` are ``perm[indptr[i]:indptr[i + 1]]``
        (ids into ``edge_index``), so their sources are ``edge_index[0, perm[...]]``.

    >>> indptr, perm = to_csc(torch.tensor([[0, 1, 2], [2, 2, 0]]), 3)
    >>> indptr.tolist(), perm.tolist()
    ([0, 1, 1, 3], [2, 0, 1])
    """
    target = edge_index[1]
    # A stable sort keeps each node's in-edges in input order, so samples are reproducible
    # for a given graph and seed.
    perm = torch.sort(target, stable=True).indices
    counts = torch.bincount(target, minlength=num_nodes)
    indptr = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    torch.cumsum(counts, 0, out=indptr[1:])
    return indptr, perm


def sample_neighbors(
    indptr: torch.Tensor,
    nodes: torch.Tensor,
    num_neighbors: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw up to ``num_neighbors`` in-edges of each node, uniformly without replacement.

    A node with degree :math:`d \\le k` keeps all its edges, one with :math:`d > k` a uniform
    random :math:`k`-subset. The subset is chosen for all nodes at once: every candidate edge
    gets a random key, a single sort orders keys within each node's segment, and the first
    :math:`k` of each segment are kept (a random permutation's prefix is a uniform subset).

    Args:
        indptr: CSC pointers from :func:`to_csc`.
        nodes: the nodes to sample for, shape ``(m,)``.
        num_neighbors: :math:`k`, or ``-1`` for every neighbour.
        generator: source of randomness, for repeatable samples.

    Returns:
        ``(slots, owner)``: positions into the CSC edge order (``perm[slots]`` are edge ids) and,
        per sampled edge, the index into ``nodes`` of the node it enters; edges of the same node
        are contiguous.
    """
    start = indptr[nodes]
    degree = indptr[nodes + 1] - start
    owner = torch.repeat_interleave(torch.arange(nodes.numel(), device=nodes.device), degree)
    # Rank of each candidate within its node's segment: 0, 1, ..., degree - 1.
    segment_start = torch.repeat_interleave(torch.cumsum(degree, 0) - degree, degree)
    rank = torch.arange(owner.numel(), device=nodes.device) - segment_start
    slots = start[owner] + rank
    if num_neighbors < 0 or bool((degree <= num_neighbors).all()):
        return slots, owner
    # Integer keys (owner in the high bits, a random number in the low 31) sort by node first,
    # then randomly within the node; integers keep the sort exact on every device.
    noise = torch.randint(0, 2**31, (owner.numel(),), generator=generator).to(nodes.device)
    order = torch.argsort((owner << 31) | noise)
    # Sorting by owner first leaves each segment where it was, so `rank` still indexes it.
    keep = rank < num_neighbors
    return slots[order][keep], owner[keep]


class NeighborLoader:
    """Mini-batches of seed nodes with their sampled ``L``-hop neighbourhoods (GraphSAGE).

    Each batch is a :class:`~zen.graph.loader.NodeSplit` whose graph is the sampled subgraph:

    - nodes: the ``batch_size`` seeds first (rows ``0..batch_size-1``, so the mask selects the
      first rows), then the nodes reached at hop 1, hop 2, ... in that order; ``n_id`` holds
      their ids in the full graph, ``x``, ``y``, the split masks and other per-node tensors are
      sliced to them;
    - edges: for each hop ``h``, up to ``num_neighbors[h]`` in-edges (source -> target, towards
      the seeds) of every node first reached at hop ``h - 1`` (hop 0: the seeds); ``e_id`` holds
      their ids in ``graph.edge_index``, and ``edge_attr``/``edge_weight`` follow them;
    - ``batch_size``: the number of seeds in this batch.

    A seed's output after ``L`` layers thus depends on at most
    :math:`\\prod_h \\text{num\\_neighbors}[h]` nodes. Use as many hops as the model has layers.
    Models that cache per-graph state (``GCN(cached=True)``) must not be trained on changing
    subgraphs.

    Args:
        graph: the full graph.
        num_neighbors: neighbours sampled per node at each hop, e.g. ``[25, 10]`` (the paper's
            :math:`S_1, S_2`); ``-1`` takes all neighbours at that hop.
        batch_size: seed nodes per batch.
        split: ``train``, ``val`` or ``test`` (reads ``graph.<split>_mask``), a boolean node
            mask, or a tensor of node ids: the seeds.
        shuffle: new random seed order every epoch.
        seed: makes orders and samples repeatable (epoch ``k`` uses ``seed + k``).

    Raises:
        ConfigError: bad ``num_neighbors``, ``batch_size`` or ``split`` name.
        DataError: the split is missing, malformed or empty.
    """

    def __init__(
        self,
        graph: Graph,
        num_neighbors: Sequence[int],
        batch_size: int = 512,
        split: str | torch.Tensor = "train",
        shuffle: bool = True,
        seed: int = 0,
    ) -> None:
        self.num_neighbors = _check_num_neighbors(num_neighbors)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size: expected a positive integer, got {batch_size!r}")
        self.graph, self.batch_size, self.shuffle, self.seed = graph, batch_size, shuffle, seed
        self.seeds = _seed_nodes(graph, split)
        # The CSC layout is built once; every batch then samples by pure tensor indexing.
        self.indptr, self.perm = to_csc(graph.edge_index, graph.num_nodes)
        self._epoch = 0
        self.rank, self.num_replicas = 0, 1

    def shard(self, rank: int, num_replicas: int, model: object = None) -> NeighborLoader:
        """Worker ``rank``'s share for data-parallel training (``Trainer(strategy="ddp")``).

        All shards permute the seeds alike each epoch (same ``seed``) and shard ``rank`` keeps
        every ``num_replicas``-th of them, as ``DistributedSampler`` does: disjoint, equally
        many per worker (the last ``len(seeds) % num_replicas`` of each epoch's order wait for
        the next). ``model`` is unused (part of the loaders' ``shard`` protocol).
        """
        if self.seeds.numel() < num_replicas:
            raise ConfigError(
                f"num_workers: {num_replicas} workers but only {self.seeds.numel()} seed nodes"
            )
        part = copy.copy(self)
        part.rank, part.num_replicas = rank, num_replicas
        return part

    def __iter__(self) -> Iterator[NodeSplit]:
        generator = torch.Generator().manual_seed(self.seed + self._epoch)
        self._epoch += 1
        seeds = self.seeds
        if self.shuffle:
            seeds = seeds[torch.randperm(seeds.numel(), generator=generator).to(seeds.device)]
        if self.num_replicas > 1:
            usable = seeds.numel() - seeds.numel() % self.num_replicas
            seeds = seeds[self.rank : usable : self.num_replicas]
        for start in range(0, seeds.numel(), self.batch_size):
            batch = seeds[start : start + self.batch_size]
            subgraph = self.sample(batch, generator)
            mask = torch.zeros(subgraph.num_nodes, dtype=torch.bool, device=seeds.device)
            mask[: batch.numel()] = True
            yield NodeSplit(subgraph, mask)

    def __len__(self) -> int:
        return -(-(self.seeds.numel() // self.num_replicas) // self.batch_size)

    def sample(self, seeds: torch.Tensor, generator: torch.Generator | None = None) -> Graph:
        """The sampled subgraph around ``seeds`` (distinct node ids), laid out as in the class
        docstring; usable on its own, e.g. for sampled inference on chosen nodes."""
        graph = self.graph
        seeds = torch.as_tensor(seeds, dtype=torch.long, device=self.indptr.device).flatten()
        if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= graph.num_nodes):
            raise DataError(f"seeds: node ids must be in [0, {graph.num_nodes})")
        if torch.unique(seeds).numel() != seeds.numel():
            raise DataError("seeds: contains repeated node ids; pass each seed once")
        source = graph.edge_index[0]
        # Local id of every global node in this batch (-1: not reached yet).
        local = torch.full((graph.num_nodes,), -1, dtype=torch.long, device=seeds.device)
        local[seeds] = torch.arange(seeds.numel(), device=seeds.device)
        node_ids, edge_ids, sources, targets = [seeds], [], [], []
        frontier, size = seeds, seeds.numel()
        for hop_size in self.num_neighbors:
            slots, owner = sample_neighbors(self.indptr, frontier, hop_size, generator)
            sampled = self.perm[slots]
            neighbors = source[sampled]
            # Nodes reached before keep their id and are not expanded again (each node's
            # neighbourhood is sampled once per batch, as in PyG and DGL).
            fresh = torch.unique(neighbors[local[neighbors] < 0])
            local[fresh] = torch.arange(size, size + fresh.numel(), device=seeds.device)
            size += fresh.numel()
            node_ids.append(fresh)
            edge_ids.append(sampled)
            sources.append(local[neighbors])
            targets.append(local[frontier[owner]])
            frontier = fresh
        n_id, e_id = torch.cat(node_ids), torch.cat(edge_ids)
        edge_index = torch.stack([torch.cat(sources), torch.cat(targets)])
        return _slice(graph, n_id, e_id, edge_index, seeds.numel())

    def __repr__(self) -> str:
        return (
            f"NeighborLoader(num_seeds={self.seeds.numel()}, num_neighbors={self.num_neighbors},"
            f" batch_size={self.batch_size})"
        )


def _check_num_neighbors(num_neighbors: Any) -> list[int]:
    valid = isinstance(num_neighbors, (list, tuple)) and len(num_neighbors) > 0
    if valid:
        valid = all(
            isinstance(k, int) and not isinstance(k, bool) and (k >= 1 or k == -1)
            for k in num_neighbors
        )
    if not valid:
        raise ConfigError(
            f"num_neighbors: expected a non-empty list of neighbours per hop (each >= 1, or -1"
            f" for all), e.g. [25, 10]; got {num_neighbors!r}"
        )
    return list(num_neighbors)


def _seed_nodes(graph: Graph, split: str | torch.Tensor) -> torch.Tensor:
    """Node ids of the seeds, from a split name, a boolean mask or ids."""
    if isinstance(split, str):
        split = split_mask(graph, split)
    if not isinstance(split, torch.Tensor):
        raise DataError(
            f"split: expected a split name, a boolean mask or node ids, got {type(split).__name__}"
        )
    if split.dtype == torch.bool:
        if split.shape != (graph.num_nodes,):
            raise DataError(
                f"split: expected a boolean mask of {graph.num_nodes} entries, got shape"
                f" {tuple(split.shape)}"
            )
        seeds = split.nonzero().flatten()
    elif split.is_floating_point() or split.dim() != 1:
        raise DataError(f"split: node ids must be a 1-d integer tensor, got {split.dtype}")
    else:
        seeds = split.long()
        if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= graph.num_nodes):
            raise DataError(f"split: node ids must be in [0, {graph.num_nodes})")
    if seeds.numel() == 0:
        raise DataError("split: no seed nodes; the mask or id list is empty")
    return seeds


def _slice(
    graph: Graph, n_id: torch.Tensor, e_id: torch.Tensor, edge_index: torch.Tensor, seeds: int
) -> Graph:
    """``graph`` restricted to nodes ``n_id`` and edges ``e_id`` (already relabelled)."""
    num_nodes, num_edges = graph.num_nodes, graph.num_edges
    values: dict[str, Any] = {}
    for key, value in vars(graph).items():
        if not isinstance(value, torch.Tensor) or key.startswith("_") or value.dim() == 0:
            continue
        if key in EDGE_ATTRIBUTES and value.size(0) == num_edges:
            values[key] = value[e_id]
        elif key != "edge_index" and value.size(0) == num_nodes:
            values[key] = value[n_id]
    values.update(
        edge_index=edge_index, n_id=n_id, e_id=e_id, batch_size=seeds, _num_nodes=n_id.numel()
    )
    # Derived from a validated graph by indexing, so re-validation would only cost time.
    return graph.replace(**values)
