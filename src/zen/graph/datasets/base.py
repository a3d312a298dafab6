"""GraphDataset: an indexable, immutable collection of graphs, the base of every loader here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import torch

from zen.errors import DataError
from zen.graph.data import Graph


class GraphDataset(Sequence[Graph]):
    """A list of graphs with the sizes models need (``num_features``, ``num_classes``).

    ``dataset[i]`` is a graph; ``dataset[1:10]`` or ``dataset[index_tensor]`` a sub-dataset
    (for train/test splits of graph classification).
    """

    def __init__(self, graphs: Sequence[Graph], name: str) -> None:
        self.graphs = list(graphs)
        self.name = name

    @overload
    def __getitem__(self, index: int) -> Graph: ...

    @overload
    def __getitem__(self, index: slice | Sequence[int] | torch.Tensor) -> GraphDataset: ...

    def __getitem__(
        self, index: int | slice | Sequence[int] | torch.Tensor
    ) -> Graph | GraphDataset:
        if isinstance(index, int):
            if not -len(self.graphs) <= index < len(self.graphs):
                raise IndexError(
                    f"index {index} is out of range for {self.name} ({len(self.graphs)} graphs)"
                )
            return self.graphs[index]
        if isinstance(index, slice):
            return GraphDataset(self.graphs[index], self.name)
        positions = index.tolist() if isinstance(index, torch.Tensor) else list(index)
        return GraphDataset([self.graphs[i] for i in positions], self.name)

    def __len__(self) -> int:
        return len(self.graphs)

    def __iter__(self) -> Iterator[Graph]:
        return iter(self.graphs)

    @property
    def num_features(self) -> int:
        """Node features of the graphs (0 when they have none)."""
        return self.graphs[0].num_features if self.graphs else 0

    @property
    def num_classes(self) -> int:
        """Number of classes: one more than the largest integer label."""
        labels = [graph.y for graph in self.graphs if graph.y is not None]
        if not labels:
            raise DataError(f"{self.name}: the graphs carry no labels y")
        if any(label.is_floating_point() for label in labels):
            raise DataError(f"{self.name}: labels are continuous, there are no classes")
        return int(max(int(label.max()) for label in labels if label.numel())) + 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, graphs={len(self)})"


def missing_file(dataset: str, path: object, hint: str) -> DataError:
    """The error for an absent input file: what is missing, where it should be, how to get it."""
    return DataError(f"{dataset}: file not found: {path}; {hint} (nothing is downloaded)")
