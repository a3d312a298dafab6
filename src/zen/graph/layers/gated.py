"""GatedGraphConv: gated graph neural network propagation (Li, Tarlow, Brockschmidt & Zemel,
ICLR 2016)."""

from __future__ import annotations

import math

import torch
from torch import nn

from zen.errors import DataError
from zen.graph.inits import reset
from zen.graph.message_passing import MessagePassing


class GatedGraphConv(MessagePassing):
    r"""Gated graph layer of Li et al., "Gated Graph Sequence Neural Networks" (ICLR 2016),
    eq. 1-6: node states start as the features padded with zeros to ``out_channels`` and are
    refined over ``num_layers`` rounds of messages and GRU updates,

    .. math::
        \mathbf{m}_i^{(l)} = \square_{j \in \mathcal{N}(i)}
            g_l(\mathbf{e}_{ji}) \odot W^{(l)}_{t_{ji}} \mathbf{h}_j^{(l-1)}, \qquad
        \mathbf{h}_i^{(l)} = \operatorname{GRU}\big(\mathbf{m}_i^{(l)}, \mathbf{h}_i^{(l-1)}\big)

    Edge features, two kinds (both optional, combinable):

    * **edge types** (the paper's design): ``num_edge_types`` weight matrices per round; pass
      ``edge_type`` (integers in ``[0, num_edge_types)``) to pick one per edge.
    * **continuous edge features**: with ``edge_dim``, ``edge_attr`` gates each message
      channel-wise, :math:`g_l(\mathbf{e}) = \sigma(U_l \mathbf{e} + \mathbf{c}_l)`. A gate
      (rather than an added term) lets an edge feature switch channels of a message on and off
      while keeping messages bounded by the states they carry, which suits recurrent rounds.
      Without ``edge_dim``, :math:`g_l = 1`.

    A scalar ``edge_weight`` multiplies messages as well.

    Args:
        out_channels: size of the node state; input features must not be wider.
        num_layers: message rounds (the paper's propagation steps :math:`T`), weights per round.
        aggr: aggregation of messages, ``sum`` in the paper.
        num_edge_types: number of edge types (1: all edges share one matrix per round).
        edge_dim: size of ``edge_attr`` for the gates, or ``None``.
        bias: biases in the GRU cell.

    Forward: ``conv(x, edge_index, edge_type=None, edge_attr=None, edge_weight=None)``.

    Example:
        >>> GatedGraphConv(32, num_layers=3, num_edge_types=4)
        GatedGraphConv(32, num_layers=3, num_edge_types=4)
    """

    def __init__(
        self,
        out_channels: int,
        num_layers: int,
        aggr: str = "sum",
        num_edge_types: int = 1,
        edge_dim: int | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__(aggr=aggr)
        self.out_channels, self.num_layers = out_channels, num_layers
        self.num_edge_types, self.edge_dim = num_edge_types, edge_dim
        self.weight = nn.Parameter(
            torch.empty(num_layers, num_edge_types, out_channels, out_channels)
        )
        self.gates = (
            nn.ModuleList(nn.Linear(edge_dim, out_channels) for _ in range(num_layers))
            if edge_dim is not None
            else None
        )
        self.rnn = nn.GRUCell(out_channels, out_channels, bias=bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform weights in :math:`\\pm 1/\\sqrt{\\text{out\\_channels}}` (as the reference)."""
        bound = 1.0 / math.sqrt(self.out_channels)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.gates is not None:
            reset(self.gates)
        self.rnn.reset_parameters()

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        edge_type: torch.Tensor | None = None,
        edge_attr: torch.Tensor | None = None,
        edge_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if x.size(-1) > self.out_channels:
            raise DataError(
                f"x: {x.size(-1)} features exceed out_channels={self.out_channels}; the state"
                " starts as the features padded with zeros, so out_channels must be at least"
                " that wide"
            )
        if edge_type is None and self.num_edge_types > 1:
            raise DataError(f"edge_type: required with num_edge_types={self.num_edge_types}")
        if (
            edge_type is not None
            and edge_type.numel()
            and (int(edge_type.min()) < 0 or int(edge_type.max()) >= self.num_edge_types)
        ):
            raise DataError(
                f"edge_type: values must be in [0, {self.num_edge_types}), got"
                f" [{int(edge_type.min())}, {int(edge_type.max())}]"
            )
        if edge_attr is not None and edge_attr.dim() == 1:
            edge_attr = edge_attr.view(-1, 1)
        num_nodes = x.size(0)
        state = torch.cat([x, x.new_zeros(num_nodes, self.out_channels - x.size(-1))], dim=1)
        source = edge_index[0]
        # Row of each edge's message in the (num_nodes * num_edge_types) table of transforms.
        row = source if edge_type is None else source * self.num_edge_types + edge_type
        for layer in range(self.num_layers):
            # All types at once: (N, C) @ (C, T*C) -> (N*T, C), then one gather per edge.
            weight = self.weight[layer].permute(1, 0, 2).reshape(self.out_channels, -1)
            table = (state @ weight).view(num_nodes * self.num_edge_types, self.out_channels)
            gate = None
            if self.gates is not None and edge_attr is not None:
                gate = torch.sigmoid(self.gates[layer](edge_attr))
            message = self.propagate(
                edge_index,
                table=table,
                row=row,
                gate=gate,
                edge_weight=edge_weight,
                size=num_nodes,
            )
            state = self.rnn(message, state)
        return state

    def message(  # type: ignore[override]
        self,
        table: torch.Tensor,
        row: torch.Tensor,
        gate: torch.Tensor | None,
        edge_weight: torch.Tensor | None,
    ) -> torch.Tensor:
        message = table.index_select(0, row)
        if gate is not None:
            message = message * gate
        if edge_weight is not None:
            message = message * edge_weight.view(-1, 1)
        return message

    def __repr__(self) -> str:
        return (
            f"GatedGraphConv({self.out_channels}, num_layers={self.num_layers},"
            f" num_edge_types={self.num_edge_types})"
        )
