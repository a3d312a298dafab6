"""Graph: one graph's tensors (features, edges, labels, masks), checked once at construction.

Conventions follow PyTorch Geometric so that its users need no translation: ``edge_index`` has
shape ``(2, num_edges)`` with row 0 the source and row 1 the target of each directed edge, an
undirected edge is stored in both directions, node-level tensors have one row per node.

Graphs without edges are allowed (a molecule with one atom, a point cloud before k-NN): the
layers then see only each node's own features. Operations that need edges (negative sampling,
edge splits) raise :class:`~zen.errors.DataError` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch

from zen.errors import DataError

GraphT = TypeVar("GraphT", bound="Graph")

#: Node masks every graph carries (``None`` when absent), as in the Planetoid splits.
MASK_NAMES = ("train_mask", "val_mask", "test_mask")


class Graph:
    """One graph: node features ``x``, edges ``edge_index``, labels ``y``, and anything else.

    Args:
        x: node features, shape ``(num_nodes, num_features)``, floating point, no NaN.
        edge_index: edges as ``(2, num_edges)`` integers in ``[0, num_nodes)``; row 0 holds
            sources, row 1 targets. Integer dtypes other than int64 are converted. ``None``
            means no edges.
        edge_attr: edge features, shape ``(num_edges, *)``.
        y: labels, per node ``(num_nodes, *)`` or per graph (``(1,)`` for one class index).
        num_nodes: needed only without ``x``; otherwise it must agree with ``x``.
        train_mask, val_mask, test_mask: boolean node masks of length ``num_nodes``.
        **attributes: any other tensors or values (``edge_weight``, ``edge_type``, ``name``).

    Raises:
        DataError: an argument has the wrong shape, dtype or values; the message names it.

    Example:
        >>> g = Graph(x=torch.ones(3, 2), edge_index=torch.tensor([[0, 1], [1, 2]]))
        >>> g
        Graph(x=[3, 2], edge_index=[2, 2])
        >>> g.num_nodes, g.num_edges, g.num_features
        (3, 2, 2)
    """

    x: torch.Tensor | None
    edge_index: torch.Tensor
    edge_attr: torch.Tensor | None
    y: torch.Tensor | None
    train_mask: torch.Tensor | None
    val_mask: torch.Tensor | None
    test_mask: torch.Tensor | None

    def __init__(
        self,
        x: Any = None,
        edge_index: Any = None,
        edge_attr: Any = None,
        y: Any = None,
        *,
        num_nodes: int | None = None,
        train_mask: Any = None,
        val_mask: Any = None,
        test_mask: Any = None,
        **attributes: Any,
    ) -> None:
        self.x = _as_tensor(x)
        self.edge_index = _check_edge_index(_as_tensor(edge_index))
        self.edge_attr = _as_tensor(edge_attr)
        self.y = _as_tensor(y)
        self.train_mask = _as_tensor(train_mask)
        self.val_mask = _as_tensor(val_mask)
        self.test_mask = _as_tensor(test_mask)
        for name, value in attributes.items():
            setattr(self, name, _as_tensor(value) if isinstance(value, np.ndarray) else value)
        self._num_nodes = _resolve_num_nodes(self.x, num_nodes, self.edge_index)
        self.validate()

    # ------------------------------------------------------------------ sizes
    @property
    def num_nodes(self) -> int:
        """Number of nodes (rows of ``x``, or as given)."""
        return self.x.size(0) if self.x is not None else self._num_nodes

    @property
    def num_edges(self) -> int:
        """Number of directed edges (an undirected edge counts twice)."""
        return self.edge_index.size(1)

    @property
    def num_features(self) -> int:
        """Features per node (0 without ``x``)."""
        if self.x is None:
            return 0
        return 1 if self.x.dim() == 1 else self.x.size(1)

    def keys(self) -> list[str]:
        """Names of the attributes that are set (not ``None``)."""
        return [k for k, v in vars(self).items() if not k.startswith("_") and v is not None]

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key in self.keys()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Check every attribute against ``num_nodes``/``num_edges``; raise a named DataError."""
        num_nodes, num_edges = self.num_nodes, self.num_edges
        if num_edges:
            low, high = int(self.edge_index.min()), int(self.edge_index.max())
            if low < 0:
                count = int((self.edge_index < 0).sum())
                raise DataError(
                    f"edge_index: {count} negative node index(es) (smallest {low}); node indices"
                    f" must be in [0, {num_nodes})"
                )
            if high >= num_nodes:
                count = int((self.edge_index >= num_nodes).sum())
                raise DataError(
                    f"edge_index: {count} node index(es) out of range (largest {high}) for a graph"
                    f" of {num_nodes} nodes; indices must be in [0, {num_nodes}), or pass x /"
                    " num_nodes covering every node"
                )
        if self.x is not None:
            _check_features(self.x, num_nodes)
        if self.edge_attr is not None and self.edge_attr.size(0) != num_edges:
            raise DataError(
                f"edge_attr: expected {num_edges} rows (one per edge), got {self.edge_attr.size(0)}"
            )
        for name in MASK_NAMES:
            _check_mask(name, getattr(self, name), num_nodes)

    # ------------------------------------------------------------------ copies
    def apply(self: GraphT, function: Callable[[torch.Tensor], torch.Tensor]) -> GraphT:
        """A new graph with ``function`` applied to every tensor attribute."""
        changed = {k: function(v) for k, v in vars(self).items() if isinstance(v, torch.Tensor)}
        return self.replace(**changed)

    def to(self: GraphT, device: torch.device | str, non_blocking: bool = False) -> GraphT:
        """A copy with every tensor on ``device`` (the original is left as it was)."""
        return self.apply(lambda tensor: tensor.to(device, non_blocking=non_blocking))

    def clone(self: GraphT) -> GraphT:
        """A deep copy of the tensors."""
        return self.apply(torch.clone)

    def replace(self: GraphT, **values: Any) -> GraphT:
        """A shallow copy with some attributes replaced, without re-validation.

        The caller vouches for the new values (library code that derives them from valid ones);
        call :meth:`validate` on the result when in doubt.
        """
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(values)
        return new

    def __repr__(self) -> str:
        parts = []
        for key in self.keys():
            value = getattr(self, key)
            shown = list(value.shape) if isinstance(value, torch.Tensor) else repr(value)
            parts.append(f"{key}={shown}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _as_tensor(value: Any) -> Any:
    """Tensors pass through; arrays and lists become tensors (float64 arrays become float32,
    the dtype every layer's weights have)."""
    if value is None or isinstance(value, torch.Tensor):
        return value
    tensor = torch.as_tensor(np.asarray(value))
    if tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    return tensor


def _check_edge_index(edge_index: torch.Tensor | None) -> torch.Tensor:
    if edge_index is None:
        return torch.empty((2, 0), dtype=torch.long)
    if edge_index.is_floating_point() or edge_index.dtype == torch.bool:
        raise DataError(
            f"edge_index: expected an integer tensor, got {edge_index.dtype}; node indices must"
            " be whole numbers (convert with edge_index.long())"
        )
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        hint = (
            "; it looks like one edge per row, pass edge_index.t()"
            if edge_index.dim() == 2 and edge_index.size(1) == 2
            else ""
        )
        raise DataError(
            f"edge_index: expected shape (2, num_edges), got {tuple(edge_index.shape)}{hint}"
        )
    return edge_index.long()


def _resolve_num_nodes(x: torch.Tensor | None, num_nodes: int | None, edges: torch.Tensor) -> int:
    if x is not None:
        if x.dim() == 0:
            raise DataError("x: expected shape (num_nodes, num_features), got a scalar")
        if num_nodes is not None and num_nodes != x.size(0):
            raise DataError(f"num_nodes: given {num_nodes} but x has {x.size(0)} rows")
        return x.size(0)
    if num_nodes is not None:
        if num_nodes < 0:
            raise DataError(f"num_nodes: expected a count >= 0, got {num_nodes}")
        return int(num_nodes)
    # Without features or a count, the largest index is the best guess (as in PyG); nodes
    # beyond it cannot be known.
    return int(edges.max()) + 1 if edges.numel() else 0


def _check_features(x: torch.Tensor, num_nodes: int) -> None:
    if not x.is_floating_point():
        raise DataError(
            f"x: expected floating-point node features, got {x.dtype}; convert with x.float()"
            " (categorical ids belong in an embedding or a one-hot encoding)"
        )
    finite = torch.isfinite(x)
    if not bool(finite.all()):
        bad_rows = (~finite).reshape(num_nodes, -1).any(dim=1).nonzero().flatten()
        raise DataError(
            f"x: {len(bad_rows)} node(s) have NaN or infinite features (first: node"
            f" {int(bad_rows[0])}); impute or drop them before building the graph"
        )


def _check_mask(name: str, mask: torch.Tensor | None, num_nodes: int) -> None:
    if mask is None:
        return
    if mask.dtype != torch.bool:
        raise DataError(
            f"{name}: expected a boolean mask, got {mask.dtype}; for node indices use"
            f" torch.zeros({num_nodes}, dtype=torch.bool).index_fill_(0, index, True)"
        )
    if mask.dim() != 1 or mask.size(0) != num_nodes:
        raise DataError(
            f"{name}: expected {num_nodes} entries (one per node), got shape {tuple(mask.shape)}"
        )
