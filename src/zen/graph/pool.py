"""Global pooling: one vector per graph from the node vectors of a :class:`~zen.graph.Batch`."""

from __future__ import annotations

import torch

from zen.graph.scatter import scatter


def _pool(
    x: torch.Tensor, batch: torch.Tensor | None, size: int | None, reduce: str
) -> torch.Tensor:
    if batch is None:  # a single graph
        return scatter(x, x.new_zeros(x.size(0), dtype=torch.long), 1, reduce)
    if size is None:
        size = int(batch.max()) + 1 if batch.numel() else 0
    return scatter(x, batch, size, reduce)


def global_add_pool(
    x: torch.Tensor, batch: torch.Tensor | None, size: int | None = None
) -> torch.Tensor:
    r"""Sum of the node features of each graph: :math:`\mathbf{r}_g = \sum_{i \in g} \mathbf{x}_i`.

    Args:
        x: node features ``(num_nodes, F)``.
        batch: graph index of each node ``(num_nodes,)``, or ``None`` for one graph.
        size: number of graphs (pass it when trailing graphs may have no nodes).

    Returns:
        ``(num_graphs, F)``.
    """
    return _pool(x, batch, size, "sum")


def global_mean_pool(
    x: torch.Tensor, batch: torch.Tensor | None, size: int | None = None
) -> torch.Tensor:
    r"""Mean of the node features of each graph (see :func:`global_add_pool` for arguments)."""
    return _pool(x, batch, size, "mean")


def global_max_pool(
    x: torch.Tensor, batch: torch.Tensor | None, size: int | None = None
) -> torch.Tensor:
    r"""Element-wise maximum over each graph's nodes; graphs without nodes get 0."""
    return _pool(x, batch, size, "max")
