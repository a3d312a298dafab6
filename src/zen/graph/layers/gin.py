"""GINConv: the graph isomorphism network layer (Xu, Hu, Leskovec & Jegelka, ICLR 2019)."""

from __future__ import annotations

import torch
from torch import nn

from zen.graph.inits import reset
from zen.graph.message_passing import MessagePassing


class GINConv(MessagePassing):
    r"""GIN layer of Xu et al., "How Powerful are Graph Neural Networks?" (ICLR 2019), eq. 4.1:

    .. math::
        \mathbf{x}_i' = h_\Theta\Big((1 + \epsilon)\,\mathbf{x}_i
            + \textstyle\sum_{j \in \mathcal{N}(i)} \mathbf{x}_j\Big)

    Sum aggregation with an injective update is what makes GIN as discriminative as the
    Weisfeiler-Lehman test.

    Args:
        nn: the network :math:`h_\Theta` (an MLP in the paper), mapping in to out features.
        eps: initial :math:`\epsilon`.
        train_eps: learn :math:`\epsilon` (GIN-:math:`\epsilon`) instead of fixing it (GIN-0).

    Forward: ``conv(x, edge_index)``; ``x`` may be a pair ``(x_source, x_target)``.
    """

    def __init__(self, nn: nn.Module, eps: float = 0.0, train_eps: bool = False) -> None:
        super().__init__(aggr="sum")
        self.nn = nn
        self.initial_eps = eps
        self.eps: torch.Tensor
        if train_eps:
            self.eps = torch.nn.Parameter(torch.tensor([eps]))
        else:
            self.register_buffer("eps", torch.tensor([eps]))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset every submodule of ``nn`` that can, and :math:`\\epsilon` to its initial value."""
        reset(self.nn)
        with torch.no_grad():
            self.eps.fill_(self.initial_eps)

    def forward(
        self,
        x: torch.Tensor | tuple[torch.Tensor, torch.Tensor],
        edge_index: torch.Tensor,
        size: tuple[int, int] | None = None,
    ) -> torch.Tensor:
        pair = (x, x) if isinstance(x, torch.Tensor) else x
        out = self.propagate(edge_index, x=pair, size=size)
        return self.nn(out + (1 + self.eps) * pair[1])

    def __repr__(self) -> str:
        return f"GINConv(nn={self.nn})"
