"""Sum and mean aggregation as one sparse-dense product (``torch.sparse.mm`` on a CSR matrix).

When the message is the (weighted) source feature, :math:`\\sum_{j \\in \\mathcal N(i)} w_{ji}
\\mathbf x_j` is row :math:`i` of :math:`A X` with :math:`A_{ij} = w_{ji}`. One CSR product
reads every edge once and never materialises the ``(num_edges, channels)`` message tensor that
gather/scatter needs, so it is several times faster and lighter on large graphs (measured in
``bench/bench_graph_speed.py``). Layers use it when it applies and fall back to
:meth:`~zen.graph.message_passing.MessagePassing.propagate` otherwise (learned edge weights,
devices without sparse CSR kernels).
"""

from __future__ import annotations

import warnings

import torch

# Devices with CSR sparse-dense products (MPS has none).
_SPMM_DEVICES = ("cpu", "cuda")


def spmm_applies(x: torch.Tensor, edge_weight: torch.Tensor | None = None) -> bool:
    """Whether :func:`csr_adjacency` + ``torch.sparse.mm`` can replace gather/scatter here.

    Gradients flow to ``x`` through the product but not to the CSR values, so edge weights that
    require gradients keep the gather/scatter path.
    """
    if x.device.type not in _SPMM_DEVICES or x.dim() != 2:
        return False
    return edge_weight is None or not edge_weight.requires_grad


def csr_adjacency(
    edge_index: torch.Tensor,
    edge_weight: torch.Tensor | None,
    num_targets: int,
    num_sources: int,
    mean: bool = False,
) -> torch.Tensor:
    """The ``(num_targets, num_sources)`` CSR matrix with :math:`A_{ij}` = weight of edge
    :math:`j \\to i` (1 without weights); with ``mean`` each row is divided by its number of
    edges, so :math:`A X` averages the incoming features (rows without edges stay 0)."""
    source, target = edge_index[0], edge_index[1]
    weight = (
        torch.ones(source.numel(), device=source.device, dtype=torch.float32)
        if edge_weight is None
        else edge_weight.reshape(-1).float()
    )
    counts = torch.bincount(target, minlength=num_targets)
    if mean:
        weight = weight / counts.clamp(min=1).to(weight.dtype)[target]
    order = torch.argsort(target * num_sources + source)
    row_pointers = torch.zeros(num_targets + 1, dtype=torch.long, device=source.device)
    torch.cumsum(counts, 0, out=row_pointers[1:])
    with warnings.catch_warnings():
        # torch warns once per process that CSR support is "beta"; zen tests this path itself.
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            row_pointers,
            source[order],
            weight[order],
            (num_targets, num_sources),
            check_invariants=False,
        )


class AdjacencyCache:
    """The last CSR matrix a layer built, reused while it sees the very same edge tensors.

    Full-batch training passes one ``edge_index`` object every epoch; keeping a reference to it
    (not just its address, which a new tensor could reuse) and its version counter makes the
    check exact. Mini-batches with new tensors simply rebuild.
    """

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._matrix: torch.Tensor | None = None

    def get(
        self,
        edge_index: torch.Tensor,
        edge_weight: torch.Tensor | None,
        num_targets: int,
        num_sources: int,
        mean: bool = False,
    ) -> torch.Tensor:
        key = (
            edge_index,
            tensor_version(edge_index),
            edge_weight,
            tensor_version(edge_weight),
            num_targets,
            num_sources,
            mean,
        )
        if self._key is None or not same_key(self._key, key):
            self._matrix = csr_adjacency(edge_index, edge_weight, num_targets, num_sources, mean)
            self._key = key
        assert self._matrix is not None
        return self._matrix

    def clear(self) -> None:
        self._key, self._matrix = None, None


def tensor_version(tensor: torch.Tensor | None) -> object:
    """What tells an in-place change of ``tensor`` apart: its version counter.

    Tensors made under ``torch.inference_mode`` have none; they get a fresh object that equals
    nothing, so a cache never trusts them (they may be changed in place without a trace).
    """
    if tensor is None:
        return None
    if tensor.is_inference():
        return object()
    return tensor._version


def same_key(old: tuple, new: tuple) -> bool:
    """Cache keys compare tensors by identity and everything else by value."""
    return all(
        a is b if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor) else a == b
        for a, b in zip(old, new, strict=True)
    )
