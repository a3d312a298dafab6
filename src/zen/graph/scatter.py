"""Scatter reductions and the edge softmax, on plain PyTorch (``index_add_``/``scatter_reduce_``).

Every message-passing layer reduces one value per edge into one value per node; these functions
are that reduction, written once. Rows that receive nothing (isolated nodes) are 0 for every
reduction, so ``max``/``min`` never leak ``-inf``/``inf`` into a network.
"""

from __future__ import annotations

import torch

from zen.errors import expect_one_of

#: Reductions :func:`scatter` accepts; ``add`` is an alias of ``sum``.
REDUCTIONS = ("sum", "add", "mean", "max", "min")


def scatter(
    src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum"
) -> torch.Tensor:
    """Reduce the rows of ``src`` that share an ``index`` into row ``index`` of the output.

    Args:
        src: values per edge, shape ``(E, *)``.
        index: target row of each value, shape ``(E,)``, in ``[0, num_nodes)``.
        num_nodes: rows of the output.
        reduce: ``sum`` (or ``add``), ``mean``, ``max`` or ``min``.

    Returns:
        Shape ``(num_nodes, *)``; rows without any value are 0.

    >>> scatter(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([0, 0, 2]), 3, "max").tolist()
    [2.0, 0.0, 5.0]
    """
    out = src.new_zeros((num_nodes, *src.shape[1:]))
    if reduce in ("sum", "add"):
        return out.index_add_(0, index, src)
    if reduce == "mean":
        out.index_add_(0, index, src)
        count = torch.bincount(index, minlength=num_nodes).clamp_(min=1).to(src.dtype)
        return out / count.view(-1, *([1] * (src.dim() - 1)))
    if reduce in ("max", "min"):
        expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        # include_self=False: rows that receive values ignore the zero they start from, and
        # rows that receive none keep it.
        return out.scatter_reduce_(0, expanded, src, reduce=f"a{reduce}", include_self=False)
    raise expect_one_of("reduce", reduce, REDUCTIONS)


def softmax(src: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    r"""Softmax of edge scores over the edges that share a target node.

    :math:`\alpha_{ij} = \exp(e_{ij}) / \sum_{k \in \mathcal{N}(i)} \exp(e_{ik})`, computed after
    subtracting each group's maximum so that large scores do not overflow.

    Args:
        src: scores per edge, shape ``(E,)`` or ``(E, heads)``.
        index: target node of each edge, shape ``(E,)``.
        num_nodes: number of target nodes.

    >>> softmax(torch.tensor([0.0, 0.0, 3.0]), torch.tensor([0, 0, 1]), 2).tolist()
    [0.5, 0.5, 1.0]
    """
    # The maximum is a constant shift per group; detaching it changes no gradient of the result
    # and saves autograd from tracking a scatter.
    group_max = scatter(src.detach(), index, num_nodes, "max")
    exp = (src - group_max.index_select(0, index)).exp()
    denominator = scatter(exp, index, num_nodes, "sum").index_select(0, index)
    return exp / (denominator + 1e-16)
