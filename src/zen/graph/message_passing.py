"""MessagePassing: the gather / message / aggregate / update loop every graph layer shares.

A layer computes, for every target node :math:`i` with incoming edges from :math:`j`,

.. math::
    \\mathbf{x}_i' = \\gamma\\Big(\\mathbf{x}_i,\\
        \\square_{j \\in \\mathcal{N}(i)}
        \\phi(\\mathbf{x}_i, \\mathbf{x}_j, \\mathbf{e}_{ji})\\Big)

with :math:`\\phi` = :meth:`MessagePassing.message`, :math:`\\square` =
:meth:`MessagePassing.aggregate` (sum, mean, max, min) and :math:`\\gamma` =
:meth:`MessagePassing.update` (Gilmer et al. 2017, "Neural Message Passing for Quantum
Chemistry"). Subclasses write only those methods; :meth:`MessagePassing.propagate` does the
indexing.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from zen.errors import expect_one_of
from zen.graph.scatter import REDUCTIONS, scatter
from zen.graph.utils import infer_num_nodes

FLOWS = ("source_to_target", "target_to_source")


class MessagePassing(nn.Module):
    """Base class of message-passing layers.

    ``message`` names its inputs; propagate fills them from its keyword arguments. A name ending
    in ``_j`` is gathered from the source node of every edge, ``_i`` from the target node (pass
    a pair ``(source_tensor, target_tensor)`` for bipartite graphs), ``index`` is the target of
    every edge, ``size_i`` the number of target nodes, any other name is passed as given (e.g.
    per-edge tensors like ``edge_weight``). Subclasses therefore override ``message`` with
    their own arguments (``# type: ignore[override]``, as its signature is the interface).

    Args:
        aggr: how messages into a node combine: ``sum`` (alias ``add``), ``mean``, ``max`` or
            ``min``; nodes without incoming edges receive 0.
        flow: ``source_to_target`` (row 0 of ``edge_index`` sends to row 1) or the reverse.

    Example:
        >>> class Neighbours(MessagePassing):
        ...     def forward(self, x, edge_index):
        ...         return self.propagate(edge_index, x=x)
        ...     def message(self, x_j):
        ...         return x_j
        >>> Neighbours("max")(torch.tensor([[1.0], [5.0], [2.0]]),
        ...                   torch.tensor([[0, 1, 2], [2, 2, 0]])).flatten().tolist()
        [2.0, 0.0, 5.0]
    """

    def __init__(self, aggr: str = "sum", flow: str = "source_to_target") -> None:
        super().__init__()
        if aggr not in REDUCTIONS:
            raise expect_one_of("aggr", aggr, REDUCTIONS)
        if flow not in FLOWS:
            raise expect_one_of("flow", flow, FLOWS)
        self.aggr = aggr
        self.flow = flow
        # Signatures are read once here, not on every forward pass.
        self._message_arguments = _arguments(self.message)
        self._message_optional = {
            name
            for name, parameter in inspect.signature(self.message).parameters.items()
            if parameter.default is not inspect.Parameter.empty
        }
        self._aggregate_arguments = _arguments(self.aggregate)[3:]
        self._update_arguments = _arguments(self.update)[1:]

    def propagate(
        self, edge_index: torch.Tensor, size: int | tuple[int, int] | None = None, **kwargs: Any
    ) -> torch.Tensor:
        """Run message, aggregate and update over ``edge_index``; returns one row per target.

        Args:
            edge_index: ``(2, num_edges)`` node indices.
            size: number of target nodes (or ``(num_sources, num_targets)``); inferred from the
                node tensors when omitted.
            **kwargs: node tensors (gathered by the ``_i``/``_j`` names of :meth:`message`),
                per-edge tensors and anything else ``message``/``aggregate``/``update`` take.
        """
        source_row = 0 if self.flow == "source_to_target" else 1
        source, target = edge_index[source_row], edge_index[1 - source_row]
        num_targets = self._num_targets(edge_index, size, kwargs)
        message_inputs: dict[str, Any] = {}
        for name in self._message_arguments:
            if name in kwargs:
                message_inputs[name] = kwargs[name]
            elif name[-2:] in ("_i", "_j") and name[:-2] in kwargs:
                is_target = name.endswith("_i")
                value = _side(kwargs[name[:-2]], is_target)
                rows = target if is_target else source
                message_inputs[name] = None if value is None else value.index_select(0, rows)
            elif name == "index":
                message_inputs[name] = target
            elif name == "size_i":
                message_inputs[name] = num_targets
            elif name == "edge_index":
                message_inputs[name] = edge_index
            elif name in self._message_optional:
                continue
            else:
                raise TypeError(f"{type(self).__name__}.message() needs {name!r}; pass it")
        messages = self.message(**message_inputs)
        extra = {name: kwargs[name] for name in self._aggregate_arguments if name in kwargs}
        aggregated = self.aggregate(messages, target, num_targets, **extra)
        extra = {name: kwargs[name] for name in self._update_arguments if name in kwargs}
        return self.update(aggregated, **extra)

    def message(self, x_j: torch.Tensor) -> torch.Tensor:
        """The message along each edge; by default the source node's features."""
        return x_j

    def aggregate(self, inputs: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
        """Combine the messages into each target node with ``self.aggr``."""
        return scatter(inputs, index, num_nodes, self.aggr)

    def update(self, inputs: torch.Tensor) -> torch.Tensor:
        """Turn the aggregated messages into the new node features; identity by default."""
        return inputs

    def reset_parameters(self) -> None:
        """Re-initialise the learnable parameters (layers override this)."""

    def __repr__(self) -> str:
        channels = [getattr(self, name, None) for name in ("in_channels", "out_channels")]
        shown = ", ".join(str(value) for value in channels if value is not None)
        return f"{type(self).__name__}({shown})"

    def _num_targets(
        self, edge_index: torch.Tensor, size: int | tuple[int, int] | None, kwargs: dict
    ) -> int:
        if isinstance(size, int):
            return size
        if size is not None:
            return size[1]
        for name in self._message_arguments:
            if name[-2:] in ("_i", "_j") and name not in kwargs and name[:-2] in kwargs:
                value = kwargs[name[:-2]]
                if isinstance(value, (tuple, list)):
                    if value[1] is not None:
                        return value[1].size(0)
                elif isinstance(value, torch.Tensor):
                    return value.size(0)
        return infer_num_nodes(edge_index)


def _arguments(method: Any) -> list[str]:
    return list(inspect.signature(method).parameters)


def _side(value: Any, is_target: bool) -> torch.Tensor | None:
    """The source or target part of a node tensor that may be a bipartite pair."""
    if isinstance(value, (tuple, list)):
        return value[1] if is_target else value[0]
    return value
