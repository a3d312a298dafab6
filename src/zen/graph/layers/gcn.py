"""GCNConv: graph convolution with symmetric normalisation (Kipf & Welling, ICLR 2017)."""

from __future__ import annotations

import torch
from torch import nn

from zen.graph.inits import glorot
from zen.graph.message_passing import MessagePassing
from zen.graph.scatter import scatter
from zen.graph.sparse import AdjacencyCache, same_key, spmm_applies, tensor_version
from zen.graph.utils import add_remaining_self_loops, infer_num_nodes


def gcn_norm(
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None = None,
    num_nodes: int | None = None,
    improved: bool = False,
    add_self_loops: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Edge weights of :math:`\hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2}`, :math:`\hat{A} = A + I`.

    Degrees are weighted in-degrees (sums over the edges entering each node), so a directed
    graph is normalised by what each node receives.

    Args:
        improved: loops weigh 2 instead of 1 (:math:`\hat{A} = A + 2I`).
        add_self_loops: add the identity (loops already present keep their weight).

    Returns:
        ``(edge_index, edge_weight)`` with the loops appended.
    """
    n = infer_num_nodes(edge_index, num_nodes)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    if add_self_loops:
        fill = 2.0 if improved else 1.0
        edge_index, weights = add_remaining_self_loops(edge_index, edge_weight, fill, n)
        edge_weight = weights if weights is not None else edge_weight
    source, target = edge_index
    degree = scatter(edge_weight, target, n, "sum")
    inverse_sqrt = degree.pow(-0.5).masked_fill_(degree == 0, 0.0)  # isolated, no loops: 0
    return edge_index, inverse_sqrt[source] * edge_weight * inverse_sqrt[target]


class GCNConv(MessagePassing):
    r"""Graph convolution of Kipf & Welling, "Semi-Supervised Classification with Graph
    Convolutional Networks" (ICLR 2017), eq. 2:

    .. math::
        X' = \hat{D}^{-1/2} \hat{A} \hat{D}^{-1/2} X \Theta + b, \qquad
        \hat{A} = A + I,\ \hat{D}_{ii} = \textstyle\sum_j \hat{A}_{ij}

    Args:
        in_channels: features per input node.
        out_channels: features per output node.
        improved: use :math:`\hat{A} = A + 2I`.
        cached: compute the normalised adjacency once and reuse it (transductive learning on
            one fixed graph); call :meth:`reset_parameters` or make a new layer for another.
        add_self_loops: add :math:`I` to the adjacency.
        normalize: apply the symmetric normalisation; without it, edges weigh ``edge_weight``.
        bias: learn the additive bias :math:`b`.

    Forward: ``conv(x, edge_index, edge_weight=None)`` with ``x`` of shape
    ``(num_nodes, in_channels)``; returns ``(num_nodes, out_channels)``.

    Example:
        >>> GCNConv(1433, 16)
        GCNConv(1433, 16)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        improved: bool = False,
        cached: bool = False,
        add_self_loops: bool = True,
        normalize: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__(aggr="sum")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.cached = improved, cached
        self.add_self_loops, self.normalize = add_self_loops, normalize
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._cache: tuple[tuple, tuple[torch.Tensor, torch.Tensor]] | None = None
        self._adjacency = AdjacencyCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and zero bias, as in the reference implementation."""
        glorot(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        self._cache = None
        self._adjacency.clear()

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.normalize:
            # The cache is keyed on the very edge tensors it was built from (as AdjacencyCache
            # is): PyG's cached=True reuses the first graph for any later one, which silently
            # gives wrong answers when a trained model is applied to another graph.
            key = (edge_index, tensor_version(edge_index), edge_weight,
                   tensor_version(edge_weight), x.size(0))  # fmt: skip
            if self._cache is not None and same_key(self._cache[0], key):
                edge_index, edge_weight = self._cache[1]
            else:
                normalised = gcn_norm(
                    edge_index, edge_weight, x.size(0), self.improved, self.add_self_loops
                )
                if self.cached:
                    self._cache = (key, normalised)
                edge_index, edge_weight = normalised
        # Transform before propagating: aggregation then runs on out_channels (usually far
        # fewer than in_channels) and the result is the same by linearity.
        h = self.lin(x)
        if spmm_applies(h, edge_weight):
            n = x.size(0)
            out = torch.sparse.mm(self._adjacency.get(edge_index, edge_weight, n, n), h)
        else:
            out = self.propagate(edge_index, x=h, edge_weight=edge_weight)
        return out if self.bias is None else out + self.bias

    def message(self, x_j: torch.Tensor, edge_weight: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j
