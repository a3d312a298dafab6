"""SAGEConv: GraphSAGE neighbourhood aggregation (Hamilton, Ying & Leskovec, NeurIPS 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zen.errors import expect_one_of
from zen.graph.message_passing import MessagePassing
from zen.graph.sparse import AdjacencyCache, spmm_applies

AGGREGATIONS = ("mean", "max", "sum", "add", "min")


class SAGEConv(MessagePassing):
    r"""GraphSAGE layer of Hamilton et al., "Inductive Representation Learning on Large Graphs"
    (NeurIPS 2017), Algorithm 1 with the concatenation written as two weight matrices:

    .. math::
        \mathbf{x}_i' = W_1 \mathbf{x}_i + W_2 \cdot
            \operatorname{aggr}_{j \in \mathcal{N}(i)} \mathbf{x}_j + b

    optionally followed by :math:`\mathbf{x}_i' / \lVert \mathbf{x}_i' \rVert_2`.

    Args:
        in_channels: input features, or ``(source, target)`` sizes for bipartite graphs.
        out_channels: output features.
        aggr: ``mean`` (the paper's mean aggregator), ``max`` (element-wise max of the raw
            neighbour features; the paper's pooling aggregator adds an MLP before it), ``sum``.
        normalize: L2-normalise each output row.
        root_weight: add the node's own transformed features :math:`W_1 \mathbf{x}_i`.
        bias: learn :math:`b` (it sits in ``lin_l``, the neighbour transform).

    Forward: ``conv(x, edge_index)``; ``x`` may be a pair ``(x_source, x_target)``.

    Example:
        >>> SAGEConv(1433, 16, aggr="max")
        SAGEConv(1433, 16, aggr='max')
    """

    def __init__(
        self,
        in_channels: int | tuple[int, int],
        out_channels: int,
        aggr: str = "mean",
        normalize: bool = False,
        root_weight: bool = True,
        bias: bool = True,
    ) -> None:
        if aggr not in AGGREGATIONS:
            raise expect_one_of("aggr", aggr, AGGREGATIONS)
        super().__init__(aggr=aggr)
        sizes = (in_channels, in_channels) if isinstance(in_channels, int) else in_channels
        self.in_channels, self.out_channels = in_channels, out_channels
        self.normalize, self.root_weight = normalize, root_weight
        self.lin_l = nn.Linear(sizes[0], out_channels, bias=bias)
        self.lin_r = nn.Linear(sizes[1], out_channels, bias=False) if root_weight else None
        self._adjacency = AdjacencyCache()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default Linear initialisation (as the reference implementation)."""
        self.lin_l.reset_parameters()
        if self.lin_r is not None:
            self.lin_r.reset_parameters()

    def forward(
        self,
        x: torch.Tensor | tuple[torch.Tensor, torch.Tensor | None],
        edge_index: torch.Tensor,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        source, target = (x, x) if isinstance(x, torch.Tensor) else x
        weight, bias = self.lin_l.weight, self.lin_l.bias
        if self.aggr in ("mean", "sum", "add"):
            # Linear maps commute with sums and means: transforming first makes aggregation
            # move out_channels instead of in_channels per edge when that is fewer.
            transform_first = weight.size(1) > weight.size(0)
            features = F.linear(source, weight) if transform_first else source
            out = self._aggregate_linear(features, target, edge_index, size)
            out = out + bias if transform_first and bias is not None else out
            out = out if transform_first else self.lin_l(out)
        else:
            out = self.lin_l(self.propagate(edge_index, x=(source, target), size=size))
        if self.lin_r is not None and target is not None:
            out = out + self.lin_r(target)
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def _aggregate_linear(
        self,
        features: torch.Tensor,
        target: torch.Tensor | None,
        edge_index: torch.Tensor,
        size: tuple[int, int] | None,
    ) -> torch.Tensor:
        """Sum or mean of the source ``features`` over each target's in-edges."""
        if not spmm_applies(features):
            return self.propagate(edge_index, x=(features, target), size=size)
        num_sources = features.size(0)
        if size is not None:
            num_targets = size[1]
        else:
            num_targets = target.size(0) if target is not None else num_sources
        adjacency = self._adjacency.get(
            edge_index, None, num_targets, num_sources, mean=self.aggr == "mean"
        )
        return torch.sparse.mm(adjacency, features)

    def __repr__(self) -> str:
        return f"SAGEConv({self.in_channels}, {self.out_channels}, aggr={self.aggr!r})"
