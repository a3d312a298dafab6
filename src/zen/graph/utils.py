"""Edge-list algebra: self loops, symmetrisation, coalescing, degrees and subgraphs.

All functions take and return ``edge_index`` tensors of shape ``(2, num_edges)`` (sources in
row 0, targets in row 1) plus an optional per-edge tensor that follows the edges around.
"""

from __future__ import annotations

import torch

from zen.errors import DataError, expect_one_of
from zen.graph.scatter import scatter


def infer_num_nodes(edge_index: torch.Tensor, num_nodes: int | None = None) -> int:
    """``num_nodes`` if given, else one more than the largest index (0 without edges)."""
    if num_nodes is not None:
        return int(num_nodes)
    return int(edge_index.max()) + 1 if edge_index.numel() else 0


def coalesce(
    edge_index: torch.Tensor,
    edge_attr: torch.Tensor | None = None,
    num_nodes: int | None = None,
    reduce: str = "sum",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Sort edges by (source, target) and merge duplicates, reducing their attributes.

    >>> coalesce(torch.tensor([[1, 0, 1], [0, 1, 0]]))[0].tolist()
    [[0, 1], [1, 0]]
    """
    n = infer_num_nodes(edge_index, num_nodes)
    key = edge_index[0] * n + edge_index[1]
    unique_key, inverse = torch.unique(key, sorted=True, return_inverse=True)
    merged = torch.stack([unique_key // max(n, 1), unique_key % max(n, 1)])
    if edge_attr is None:
        return merged, None
    return merged, scatter(edge_attr, inverse, unique_key.numel(), reduce)


def remove_self_loops(
    edge_index: torch.Tensor, edge_attr: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Drop edges ``(i, i)``."""
    keep = edge_index[0] != edge_index[1]
    return edge_index[:, keep], None if edge_attr is None else edge_attr[keep]


def add_self_loops(
    edge_index: torch.Tensor,
    edge_attr: torch.Tensor | None = None,
    fill_value: float | str = 1.0,
    num_nodes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Append an edge ``(i, i)`` for every node (existing loops are kept, so may double).

    Args:
        fill_value: attribute of the new loops: a number, or ``"mean"`` for the mean of the
            attributes of the edges entering each node (0 for nodes without any).
    """
    n = infer_num_nodes(edge_index, num_nodes)
    loops = torch.arange(n, device=edge_index.device).repeat(2, 1)
    if edge_attr is None:
        return torch.cat([edge_index, loops], dim=1), None
    if fill_value == "mean":
        loop_attr = scatter(edge_attr, edge_index[1], n, "mean")
    elif isinstance(fill_value, str):
        raise expect_one_of("fill_value", fill_value, ["mean", "<number>"])
    else:
        loop_attr = edge_attr.new_full((n, *edge_attr.shape[1:]), fill_value)
    return torch.cat([edge_index, loops], dim=1), torch.cat([edge_attr, loop_attr])


def add_remaining_self_loops(
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None = None,
    fill_value: float = 1.0,
    num_nodes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Give every node exactly one self loop; a loop already present keeps its weight.

    This is what GCN's :math:`\\hat{A} = A + I` means on graphs that already contain loops:
    the identity is added where a loop is missing, never stacked on an existing one.
    """
    n = infer_num_nodes(edge_index, num_nodes)
    is_loop = edge_index[0] == edge_index[1]
    loops = torch.arange(n, device=edge_index.device)
    kept = edge_index[:, ~is_loop]
    if edge_weight is None:
        return torch.cat([kept, loops.repeat(2, 1)], dim=1), None
    loop_weight = edge_weight.new_full((n, *edge_weight.shape[1:]), fill_value)
    loop_weight[edge_index[0, is_loop]] = edge_weight[is_loop]
    weights = torch.cat([edge_weight[~is_loop], loop_weight])
    return torch.cat([kept, loops.repeat(2, 1)], dim=1), weights


def to_undirected(
    edge_index: torch.Tensor,
    edge_attr: torch.Tensor | None = None,
    num_nodes: int | None = None,
    reduce: str = "mean",
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Add the reverse of every edge, then coalesce.

    Args:
        reduce: how attributes of an edge listed in both directions merge. The default
            ``mean`` keeps a weight ``w`` listed as ``(i, j, w)`` and ``(j, i, w)`` at ``w``
            (PyG's default, ``sum``, would make it ``2w``).
    """
    both = torch.cat([edge_index, edge_index.flip(0)], dim=1)
    attr = None if edge_attr is None else torch.cat([edge_attr, edge_attr])
    return coalesce(both, attr, infer_num_nodes(edge_index, num_nodes), reduce)


def is_undirected(edge_index: torch.Tensor, num_nodes: int | None = None) -> bool:
    """Whether every edge ``(i, j)`` has its reverse ``(j, i)``."""
    n = infer_num_nodes(edge_index, num_nodes)
    forward, _ = coalesce(edge_index, num_nodes=n)
    backward, _ = coalesce(edge_index.flip(0), num_nodes=n)
    return bool(torch.equal(forward, backward))


def degree(
    index: torch.Tensor, num_nodes: int | None = None, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """How often each node appears in ``index`` (pass ``edge_index[1]`` for in-degrees)."""
    n = int(index.max()) + 1 if num_nodes is None and index.numel() else int(num_nodes or 0)
    return torch.bincount(index, minlength=n).to(dtype or torch.get_default_dtype())


def subgraph(
    subset: torch.Tensor,
    edge_index: torch.Tensor,
    edge_attr: torch.Tensor | None = None,
    relabel_nodes: bool = True,
    num_nodes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """The edges whose both ends lie in ``subset`` (node indices or a boolean mask).

    Returns:
        ``(edge_index, edge_attr, edge_mask)``; with ``relabel_nodes`` the nodes are renumbered
        ``0..len(subset)-1`` in the order of ``subset``.
    """
    n = infer_num_nodes(edge_index, num_nodes)
    if subset.dtype == torch.bool:
        node_mask = subset
        subset = subset.nonzero().flatten()
    else:
        node_mask = torch.zeros(n, dtype=torch.bool, device=edge_index.device)
        node_mask[subset] = True
    edge_mask = node_mask[edge_index[0]] & node_mask[edge_index[1]]
    edges = edge_index[:, edge_mask]
    if relabel_nodes:
        new_id = torch.full((n,), -1, dtype=torch.long, device=edge_index.device)
        new_id[subset] = torch.arange(subset.numel(), device=edge_index.device)
        edges = new_id[edges]
    return edges, None if edge_attr is None else edge_attr[edge_mask], edge_mask


def k_hop_subgraph(
    node_idx: int | list[int] | torch.Tensor,
    num_hops: int,
    edge_index: torch.Tensor,
    relabel_nodes: bool = False,
    num_nodes: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The nodes whose messages reach ``node_idx`` within ``num_hops`` rounds, and their edges.

    That is the receptive field of a ``num_hops``-layer message-passing network at
    ``node_idx``: sources of edges into the set, repeated ``num_hops`` times.

    Returns:
        ``(subset, edge_index, mapping, edge_mask)``: sorted node indices; the edges among them
        (renumbered when ``relabel_nodes``); where the seed nodes sit in ``subset``; which of
        the input edges were kept.
    """
    if num_hops < 0:
        raise DataError(f"num_hops: expected a count >= 0, got {num_hops}")
    n = infer_num_nodes(edge_index, num_nodes)
    seeds = torch.as_tensor(node_idx, device=edge_index.device).flatten()
    reached = torch.zeros(n, dtype=torch.bool, device=edge_index.device)
    reached[seeds] = True
    source, target = edge_index
    for _ in range(num_hops):
        reached[source[reached[target]]] = True
    subset = reached.nonzero().flatten()
    edges, _, edge_mask = subgraph(reached, edge_index, relabel_nodes=relabel_nodes, num_nodes=n)
    mapping = torch.searchsorted(subset, seeds)
    return subset, edges, mapping, edge_mask
