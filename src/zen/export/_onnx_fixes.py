"""Workarounds that make zen models export to ONNX correctly; each says what it works around.

* :data:`TRANSLATIONS`: ONNX lowerings of two aten ops, given to ``torch.onnx.export`` as its
  ``custom_translation_table``:

  - ``aten.bincount`` (onnxscript 0.7): the stock lowering builds ``Constant(value_ints=
    [minlength])`` and fails when ``minlength`` is symbolic (``bincount(index,
    minlength=num_nodes)`` in zen's mean aggregation).
  - ``aten.index_put`` with ``accumulate=True`` (what ``index_add`` becomes): the stock lowering
    is ``ScatterND(reduction="add")``, which onnxruntime 1.32's CPU kernel runs on several
    threads without guarding duplicate indices; with 16 or more floats per index the sums race
    and come out wrong from run to run (every message-passing layer hits this on graphs of a few
    thousand nodes; see microsoft/onnxruntime#18048). ``ScatterElements(reduction="add")``
    with the index broadcast to the update shape computes the same sum and is race-free.

  - ``aten.median.dim`` has no stock lowering at all; the ``robust`` window scaler (TCN's
    default) needs it.

* :func:`portable_graph_ops`: zen's graph layers aggregate with a CSR ``torch.sparse.mm`` when
  they can, which ``torch.export`` cannot trace, and ``zen.graph.utils.infer_num_nodes`` turns
  the node count into a Python ``int``, which pins a dynamic ``num_nodes`` to the example's
  value. Inside the context both take their portable form (gather/scatter; the count stays
  symbolic). The layers document gather/scatter as their fallback, so the results are the same.

* :func:`dynamic_rnn_decompositions`: without it ``torch.export`` unrolls ``nn.LSTM`` over the
  example's sequence length; torch ships a decomposition into a while loop (private API, used
  by ``torch.onnx`` itself), which exports as ONNX ``LSTM`` with a dynamic step axis.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import torch

logger = logging.getLogger(__name__)


def _opset() -> Any:
    """onnxscript's opset 18 builder, untyped: its per-op type variables reject the symbolic
    values the exporter passes in (it checks types itself when building the graph)."""
    from onnxscript import opset18

    return opset18


def _bincount(self: Any, weights: Any = None, minlength: Any = 0) -> Any:
    """``aten.bincount`` for a static or symbolic ``minlength`` (no ``weights``)."""
    from onnxscript import INT64

    op = _opset()

    if weights is not None:
        raise NotImplementedError("aten.bincount with weights has no ONNX lowering in zen")
    values = op.Cast(self, to=INT64.dtype)
    # Appending -1 keeps ReduceMax defined for an empty input (depth 0 then).
    largest = op.ReduceMax(op.Concat(values, op.Constant(value_ints=[-1]), axis=0), keepdims=0)
    depth = op.Unsqueeze(op.Add(largest, op.Constant(value_int=1)), op.Constant(value_ints=[0]))
    if isinstance(minlength, int):
        if minlength > 0:
            depth = op.Max(depth, op.Constant(value_ints=[minlength]))
    else:
        minimum = op.Reshape(op.Cast(minlength, to=INT64.dtype), op.Constant(value_ints=[1]))
        depth = op.Max(depth, minimum)
    zeros = op.Expand(op.Constant(value_int=0), depth)
    ones = op.Expand(op.Constant(value_int=1), op.Shape(values))
    return op.ScatterElements(zeros, values, ones, axis=0, reduction="add")


def _index_put(self: Any, indices: Sequence[Any], values: Any, accumulate: bool = False) -> Any:
    """``aten.index_put``: accumulation along dim 0 as a race-free ``ScatterElements``."""
    from onnxscript import BOOL, INT64

    op = _opset()
    from onnxscript.function_libs.torch_lib.ops import core

    index = indices[0] if len(indices) == 1 else None
    if not accumulate or index is None or index.dtype == BOOL.dtype or self.shape is None:
        return core.aten_index_put(self, indices, values, accumulate)
    rank = len(self.shape)
    index = op.Cast(index, to=INT64.dtype)
    target_shape = op.Concat(op.Shape(index), op.Shape(self, start=1), axis=0)
    values = op.Expand(values, target_shape)
    index = op.Expand(
        op.Reshape(index, op.Constant(value_ints=[-1] + [1] * (rank - 1))), target_shape
    )
    return op.ScatterElements(self, index, values, axis=0, reduction="add")


def _median_dim(self: Any, dim: int, keepdim: bool = False) -> tuple[Any, Any]:
    """``aten.median.dim`` (no stock lowering): torch's lower median, via an ascending TopK."""
    op = _opset()

    rank = len(self.shape)
    dim = dim % rank
    count = op.Shape(self, start=dim, end=dim + 1)
    ordered, order = op.TopK(self, count, axis=dim, largest=0, sorted=1)
    middle = op.Div(op.Sub(count, op.Constant(value_ints=[1])), op.Constant(value_ints=[2]))
    values = op.Gather(ordered, middle, axis=dim)
    indices = op.Gather(order, middle, axis=dim)
    if not keepdim:
        axis = op.Constant(value_ints=[dim])
        values, indices = op.Squeeze(values, axis), op.Squeeze(indices, axis)
    return values, indices


TRANSLATIONS: dict[Any, Any] = {
    torch.ops.aten.bincount.default: _bincount,
    torch.ops.aten.index_put.default: _index_put,
    torch.ops.aten.median.dim: _median_dim,
}


def _never_spmm(*args: Any, **kwargs: Any) -> bool:
    return False


def _symbolic_num_nodes(edge_index: torch.Tensor, num_nodes: Any = None) -> Any:
    """``infer_num_nodes`` that returns a given (possibly symbolic) count unchanged."""
    if num_nodes is not None:
        return num_nodes
    return int(edge_index.max()) + 1 if edge_index.numel() else 0


@contextlib.contextmanager
def portable_graph_ops() -> Iterator[None]:
    """Switch zen.graph to its gather/scatter path and symbolic node counts, then restore.

    Patches module globals, so graph code running in other threads of this process meanwhile
    takes the portable path too (same results, slower).
    """
    import zen.graph.sparse
    import zen.graph.utils

    replacements = [
        (zen.graph.sparse.spmm_applies, _never_spmm),
        (zen.graph.utils.infer_num_nodes, _symbolic_num_nodes),
    ]
    patched: list[tuple[Any, str, Any]] = []
    try:
        for module in [m for name, m in list(sys.modules.items()) if name.startswith("zen.graph")]:
            for original, replacement in replacements:
                name = original.__name__
                if getattr(module, name, None) is original:
                    setattr(module, name, replacement)
                    patched.append((module, name, original))
        yield
    finally:
        for module, name, original in reversed(patched):
            setattr(module, name, original)


@contextlib.contextmanager
def dynamic_rnn_decompositions() -> Iterator[None]:
    """LSTM/GRU as while loops while tracing, when this torch has the decomposition."""
    try:
        from torch.export._patches import (
            register_gru_while_loop_decomposition,
            register_lstm_while_loop_decomposition,
        )
    except ImportError:  # older or newer torch: recurrent exports get a fixed step count
        logger.info("torch has no while-loop RNN decomposition; RNN step axes stay static")
        yield
        return
    with register_lstm_while_loop_decomposition(), register_gru_while_loop_decomposition():
        yield


#: Loggers whose output during export is noise for zen's users (failed capture attempts that a
#: second strategy recovers from, optional torchvision ops, onnx_ir attribute notes).
_NOISY_LOGGERS = (
    "torch",
    "torch._dynamo",
    "torch._export",
    "torch._subclasses",
    "torch.export",
    "torch.fx",
    "torch.onnx",
    "onnxscript",
    "onnx_ir",
)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence torch's and onnxscript's logs and warnings while exporting (errors still raise)."""
    import warnings

    loggers = [logging.getLogger(name) for name in _NOISY_LOGGERS]
    levels = [each.level for each in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for each in loggers:
            each.setLevel(logging.CRITICAL + 1)
        try:
            yield
        finally:
            for each, level in zip(loggers, levels, strict=True):
                each.setLevel(level)
