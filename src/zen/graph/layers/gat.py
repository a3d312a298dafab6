"""GATConv: multi-head graph attention (Veličković et al., ICLR 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zen.graph.inits import glorot
from zen.graph.message_passing import MessagePassing
from zen.graph.scatter import softmax
from zen.graph.utils import add_self_loops, remove_self_loops


class GATConv(MessagePassing):
    r"""Graph attention layer of Veličković et al., "Graph Attention Networks" (ICLR 2018),
    eq. 3-6. For every head :math:`k`,

    .. math::
        \alpha_{ij}^k = \operatorname{softmax}_{j \in \mathcal{N}(i) \cup \{i\}} \Big(
            \operatorname{LeakyReLU}\big(\mathbf{a}_{src}^{k\top} W^k \mathbf{x}_j
            + \mathbf{a}_{dst}^{k\top} W^k \mathbf{x}_i
            [+ \mathbf{a}_{edge}^{k\top} W_e^k \mathbf{e}_{ij}]\big)\Big), \qquad
        \mathbf{x}_i'^k = \textstyle\sum_j \alpha_{ij}^k W^k \mathbf{x}_j

    and the heads are concatenated (hidden layers) or averaged (output layer), plus a bias.
    The attention vector :math:`\mathbf{a}` of the paper is split into its source and target
    halves, which is the same function computed per node instead of per edge.

    Args:
        in_channels: input features per node.
        out_channels: features per head.
        heads: number of attention heads :math:`K`.
        concat: concatenate heads (output ``heads * out_channels``) or average them.
        negative_slope: LeakyReLU slope (0.2 in the paper).
        dropout: dropout on the normalised attention coefficients during training.
        add_self_loops: let each node attend to itself (existing loops are replaced).
        edge_dim: size of ``edge_attr`` when edge features should shape the attention.
        fill_value: edge features of the added loops: a number or ``"mean"`` of incoming ones.
        bias: learn an additive bias.

    Forward: ``conv(x, edge_index, edge_attr=None)``.

    Example:
        >>> GATConv(1433, 8, heads=8)
        GATConv(1433, 8, heads=8)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int = 1,
        concat: bool = True,
        negative_slope: float = 0.2,
        dropout: float = 0.0,
        add_self_loops: bool = True,
        edge_dim: int | None = None,
        fill_value: float | str = "mean",
        bias: bool = True,
    ) -> None:
        super().__init__(aggr="sum")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops, self.edge_dim, self.fill_value = add_self_loops, edge_dim, fill_value
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.lin_edge: nn.Linear | None = None
        self.att_edge: nn.Parameter | None = None
        if edge_dim is not None:
            self.lin_edge = nn.Linear(edge_dim, heads * out_channels, bias=False)
            self.att_edge = nn.Parameter(torch.empty(1, heads, out_channels))
        bias_size = heads * out_channels if concat else out_channels
        self.bias = nn.Parameter(torch.empty(bias_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and attention vectors, zero bias (the reference initialisation)."""
        for weight in (self.lin.weight, self.att_src, self.att_dst):
            glorot(weight)
        if self.lin_edge is not None and self.att_edge is not None:
            glorot(self.lin_edge.weight)
            glorot(self.att_edge)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor | None = None
    ) -> torch.Tensor:
        num_nodes = x.size(0)
        h = self.lin(x).view(num_nodes, self.heads, self.out_channels)
        # Per-node halves of the attention logits: computed N times instead of E times.
        score_src = (h * self.att_src).sum(dim=-1)
        score_dst = (h * self.att_dst).sum(dim=-1)
        if self.lin_edge is None:
            edge_attr = None
        elif edge_attr is not None and edge_attr.dim() == 1:
            edge_attr = edge_attr.view(-1, 1)
        if self.add_self_loops:
            edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
            edge_index, edge_attr = add_self_loops(
                edge_index, edge_attr, self.fill_value, num_nodes
            )
        out = self.propagate(
            edge_index, x=h, score=(score_src, score_dst), edge_attr=edge_attr, size=num_nodes
        )
        out = out.reshape(num_nodes, -1) if self.concat else out.mean(dim=1)
        return out if self.bias is None else out + self.bias

    def message(  # type: ignore[override]
        self,
        x_j: torch.Tensor,
        score_j: torch.Tensor,
        score_i: torch.Tensor,
        edge_attr: torch.Tensor | None,
        index: torch.Tensor,
        size_i: int,
    ) -> torch.Tensor:
        score = score_j + score_i
        if edge_attr is not None and self.lin_edge is not None and self.att_edge is not None:
            edge = self.lin_edge(edge_attr).view(-1, self.heads, self.out_channels)
            score = score + (edge * self.att_edge).sum(dim=-1)
        score = F.leaky_relu(score, self.negative_slope)
        alpha = softmax(score, index, size_i)
        alpha = F.dropout(alpha, p=self.dropout, training=self.training)
        return x_j * alpha.unsqueeze(-1)

    def __repr__(self) -> str:
        return f"GATConv({self.in_channels}, {self.out_channels}, heads={self.heads})"
