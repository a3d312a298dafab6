"""Batch: many graphs as one disjoint graph, so a layer processes them in a single pass.

Node-, edge- and graph-level tensors are concatenated along their first dimension (0-d values
are stacked); ``edge_index`` is shifted so each graph's edges point at its own nodes. ``batch``
maps each node to its graph and ``ptr`` holds the node offsets, which is what the pooling
functions in :mod:`zen.graph.pool` need.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from zen.errors import DataError
from zen.graph.data import Graph

# Attributes the batch creates itself; they are not split back into the member graphs.
_BATCH_KEYS = ("batch", "ptr")


class Batch(Graph):
    """Graphs merged into one; build it with :meth:`from_graphs`.

    Attributes:
        batch: graph index of every node, shape ``(num_nodes,)``.
        ptr: first node of every graph plus the total, shape ``(num_graphs + 1,)``.

    Example:
        >>> a = Graph(x=torch.ones(2, 3), edge_index=torch.tensor([[0], [1]]), y=torch.tensor([0]))
        >>> b = Graph(x=torch.ones(3, 3), edge_index=torch.tensor([[0, 2], [1, 1]]),
        ...           y=torch.tensor([1]))
        >>> batch = Batch.from_graphs([a, b])
        >>> batch.num_graphs, batch.edge_index.tolist(), batch.batch.tolist()
        (2, [[0, 2, 4], [1, 3, 3]], [0, 0, 1, 1, 1])
    """

    batch: torch.Tensor
    ptr: torch.Tensor
    _sizes: dict[str, list[int] | None]

    @classmethod
    def from_graphs(cls, graphs: Sequence[Graph]) -> Batch:
        """Merge ``graphs`` (all with the same attributes) into one disjoint graph."""
        if not graphs:
            raise DataError("graphs: expected at least one graph to batch, got none")
        keys = graphs[0].keys()
        for position, graph in enumerate(graphs):
            if set(graph.keys()) != set(keys):
                raise DataError(
                    f"graphs: graph {position} has attributes {sorted(graph.keys())} but graph 0"
                    f" has {sorted(keys)}; every graph in a batch needs the same attributes"
                )
        node_counts = torch.tensor([graph.num_nodes for graph in graphs])
        ptr = torch.cat([node_counts.new_zeros(1), node_counts.cumsum(0)])
        values: dict[str, Any] = {}
        sizes: dict[str, list[int] | None] = {}
        for key in keys:
            items = [graph[key] for graph in graphs]
            if key == "edge_index":
                shifted = [edges + int(offset) for edges, offset in zip(items, ptr, strict=False)]
                values[key] = torch.cat(shifted, dim=1)
            elif all(isinstance(item, torch.Tensor) and item.dim() == 0 for item in items):
                values[key], sizes[key] = torch.stack(items), None
            elif all(isinstance(item, torch.Tensor) for item in items):
                values[key] = torch.cat(items, dim=0)
                sizes[key] = [item.size(0) for item in items]
            else:  # names, ids, anything that is not a tensor: kept per graph
                values[key] = list(items)
        for name in ("x", "edge_attr", "y", "train_mask", "val_mask", "test_mask"):
            values.setdefault(name, None)
        batch = object.__new__(cls)
        batch.__dict__.update(values)
        batch._num_nodes = int(ptr[-1])
        batch._sizes = sizes
        batch.ptr = ptr
        batch.batch = torch.repeat_interleave(torch.arange(len(graphs)), node_counts)
        return batch

    @property
    def num_graphs(self) -> int:
        """Number of graphs in the batch."""
        return self.ptr.numel() - 1

    def to_graphs(self) -> list[Graph]:
        """Split the batch back into its graphs (tensors are views into the batch's)."""
        ptr = self.ptr.tolist()
        edge_graph = self.batch[self.edge_index[0]]
        edge_counts = torch.bincount(edge_graph, minlength=self.num_graphs).tolist()
        edge_ptr = [0, *torch.tensor(edge_counts).cumsum(0).tolist()]
        graphs = []
        for index in range(self.num_graphs):
            values: dict[str, Any] = {}
            for key in self.keys():
                if key in _BATCH_KEYS:
                    continue
                value = getattr(self, key)
                if key == "edge_index":
                    values[key] = value[:, edge_ptr[index] : edge_ptr[index + 1]] - ptr[index]
                elif isinstance(value, list) or self._sizes.get(key) is None:
                    values[key] = value[index]
                else:
                    sizes = self._sizes[key] or []
                    start = sum(sizes[:index])
                    values[key] = value[start : start + sizes[index]]
            template = Graph(num_nodes=ptr[index + 1] - ptr[index])
            graphs.append(template.replace(**values))
        return graphs
