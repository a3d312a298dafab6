"""What export needs to know about a model: an :class:`ExportPlan`, and the plan of an MLP.

An :class:`ExportPlan` holds the module to trace (the model, or a thin wrapper that fixes its
inputs and folds simple post-processing into the graph), its named inputs and outputs with
their dynamic axes, a way to make inputs of any size for tracing and for the parity check, and
the family facts that go into the sidecar JSON. Each model family makes the plans of its own
models next to its code and names them in its registry entries
(:attr:`zen.registry.ModelSpec.export_plan`); :mod:`zen.export` traces and checks them. Nothing
here imports onnx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

#: Batch sizes every batch-first export is checked at (the example traced has batch 3).
DEFAULT_BATCH_SIZES = (1, 2, 7, 64)
#: (num_nodes, num_edges) every graph export is checked at: empty, tiny, and large enough for
#: onnxruntime to run its scatter kernels on several threads.
DEFAULT_GRAPH_SIZES = ((1, 0), (7, 20), (64, 256), (2000, 16000))
TRACE_BATCH = 3
TRACE_GRAPH = {"num_nodes": 10, "num_edges": 30}


@dataclass(frozen=True)
class TensorSpec:
    """A named input or output: ``shape`` holds sizes and, for dynamic axes, their names.

    >>> TensorSpec("x", ("batch", 8)).resolve({"batch": 5})
    (5, 8)
    """

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    description: str = ""

    def resolve(self, sizes: Mapping[str, int]) -> tuple[int, ...]:
        """The concrete shape for the dynamic axis sizes in ``sizes``."""
        return tuple(sizes[axis] if isinstance(axis, str) else axis for axis in self.shape)

    @property
    def dynamic_axes(self) -> dict[int, str]:
        """``{axis position: axis name}`` of the dynamic axes."""
        return {i: axis for i, axis in enumerate(self.shape) if isinstance(axis, str)}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "description": self.description,
        }


InputMaker = Callable[[Mapping[str, int], torch.Generator], tuple[torch.Tensor, ...]]


@dataclass
class ExportPlan:
    """Everything about one model that export needs (see the module docstring)."""

    family: str
    model_class: str
    module: nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    trace_sizes: dict[str, int]
    check_sizes: tuple[dict[str, int], ...]
    metadata: dict[str, Any]
    make_inputs: InputMaker
    graph_model: bool = False
    axes: dict[str, str] = field(default_factory=dict)


def random_inputs(inputs: tuple[TensorSpec, ...], scale: float = 1.0, shift: float = 0.0):
    """An :data:`InputMaker` of normal floats (``shift + scale * N(0, 1)``) for every input."""

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return tuple(
            shift + scale * torch.randn(spec.resolve(sizes), generator=generator) for spec in inputs
        )

    return make


def mlp_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a :class:`~zen.neural.MLP`: features in, network outputs out."""
    from zen.neural import activations  # the MLP module imports this one

    layer_sizes = list(model.layer_sizes)
    output_activation = activations.name_of(model.activations[-1])
    return feature_plan(
        model, layer_sizes[0], layer_sizes[-1], batch_sizes, family="mlp",
        config={"layer_sizes": layer_sizes, "output_activation": output_activation},
    )  # fmt: skip


def feature_plan(
    model: nn.Module,
    in_features: int,
    num_outputs: int,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    *,
    outside_graph: str = "give the features exactly as the network was trained on",
    family: str = "network",
    config: Mapping[str, Any] | None = None,
) -> ExportPlan:
    """The plan of a network mapping ``(batch, in_features)`` to ``(batch, num_outputs)``;
    the sidecar describes it by ``config`` (default: the model's ``config()``: MoEMLP,
    NeuralODE...)."""
    inputs = (TensorSpec("x", ("batch", in_features), description="features"),)
    outputs = (TensorSpec("output", ("batch", num_outputs), description="network outputs"),)
    described = dict(config) if config is not None else model.config()  # type: ignore[operator]
    return ExportPlan(
        family=family,
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH},
        check_sizes=batch_checks(batch_sizes),
        make_inputs=random_inputs(inputs),
        metadata={
            "model": described,
            "normalization": {"inside_graph": "none", "outside_graph": outside_graph},
        },
        axes={"batch": "samples per call"},
    )


def batch_checks(batch_sizes: tuple[int, ...]) -> tuple[dict[str, int], ...]:
    """``{"batch": size}`` for every size a batch-first export is checked at."""
    return tuple({"batch": size} for size in batch_sizes)
