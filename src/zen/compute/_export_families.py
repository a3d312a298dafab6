"""What :func:`zen.compute.export.export_onnx` needs to know about each zen model family.

An :class:`ExportPlan` holds the module to trace (the model, or a thin wrapper that fixes its
inputs and folds simple post-processing into the graph), its named inputs and outputs with
their dynamic axes, a way to make inputs of any size for tracing and for the parity check, and
the family facts that go into the sidecar JSON. Nothing here imports onnx.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from zen.errors import ConfigError, NotFittedError

#: Batch sizes every batch-first export is checked at (the example traced has batch 3).
DEFAULT_BATCH_SIZES = (1, 2, 7, 64)
#: (num_nodes, num_edges) every graph export is checked at: empty, tiny, and large enough for
#: onnxruntime to run its scatter kernels on several threads.
DEFAULT_GRAPH_SIZES = ((1, 0), (7, 20), (64, 256), (2000, 16000))
_TRACE_BATCH = 3
_TRACE_GRAPH = {"num_nodes": 10, "num_edges": 30}

SUPPORTED = (
    "zen.neural.MLP",
    "zen.tabular.TabularModel",
    "zen.forecasting.Forecaster (one model)",
    "NHITS / NBEATS / TCN / DeepAR (fitted) or their networks",
    "zen.graph GCN / GAT / GraphSAGE / GIN (node-level)",
)


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


# ---------------------------------------------------------------------------------- dispatch
def plan_export(
    model: Any,
    model_name: str | None = None,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan for ``model``; :class:`ConfigError` when zen cannot export it."""
    from zen.compute.compile import CompiledModule
    from zen.forecasting.core import Forecaster
    from zen.forecasting.models.base import WindowModel, WindowNetwork
    from zen.forecasting.models.deepar import DeepARNetwork
    from zen.graph.models import GNN
    from zen.neural.mlp import MLP
    from zen.tabular.model import TabularModel

    if isinstance(model, CompiledModule):
        model = model._orig_mod
    batches = tuple(dict(batch=size) for size in batch_sizes)
    if isinstance(model, Forecaster):
        return plan_export(pick_forecast_model(model, model_name), None, batch_sizes, graph_sizes)
    if model_name is not None:
        raise ConfigError(
            f"model_name: only a Forecaster holds several models; got a {type(model).__name__}"
        )
    if isinstance(model, TabularModel):
        return _tabular_plan(model, batches)
    if isinstance(model, WindowModel):
        if not hasattr(model, "model_"):
            raise NotFittedError(f"{model.alias} is not fitted; fit it before exporting")
        network = model.model_
        family = type(model).__name__.lower()
        if isinstance(network, DeepARNetwork):
            return _deepar_plan(network, model.input_size, family, batches)
        return _window_plan(network, family, type(model).__name__, batches)
    if isinstance(model, DeepARNetwork):
        return _deepar_plan(model, None, "deepar", batches)
    if isinstance(model, WindowNetwork):
        family = _window_family(model)
        return _window_plan(model, family, type(model).__name__, batches)
    if isinstance(model, GNN):
        sizes = tuple(dict(num_nodes=n, num_edges=e) for n, e in graph_sizes)
        return _graph_plan(model, sizes)
    if isinstance(model, MLP):
        return _mlp_plan(model, batches)
    raise ConfigError(
        f"model: cannot export a {type(model).__module__}.{type(model).__name__}; zen exports"
        f" {', '.join(SUPPORTED)}"
    )


def pick_forecast_model(forecaster: Any, model_name: str | None) -> Any:
    """The neural model of ``forecaster`` called ``model_name`` (or its only neural model)."""
    from zen.forecasting.models.base import WindowModel

    fitted = forecaster.models_ if hasattr(forecaster, "models_") else forecaster.models
    neural = {model.alias: model for model in fitted if isinstance(model, WindowModel)}
    if model_name is None:
        if len(neural) == 1:
            return next(iter(neural.values()))
        if not neural:
            aliases = [model.alias for model in fitted]
            raise ConfigError(
                f"model: the Forecaster has no neural network to export (models: {aliases});"
                " statistical baselines have no ONNX form"
            )
        raise ConfigError(
            f"model_name: the Forecaster holds {len(neural)} neural models; pick one of"
            f" {sorted(neural)}"
        )
    if model_name not in neural:
        raise ConfigError(
            f"model_name: no neural model {model_name!r} in the Forecaster; expected one of"
            f" {sorted(neural)}"
        )
    return neural[model_name]


def forecast_windows(
    forecaster: Any, model_name: str | None, max_windows: int = 512
) -> np.ndarray | None:
    """Input windows ``(n, input_size)`` from a Forecaster's saved history, spread evenly over
    every series (calibration data for static INT8); None when the model takes covariates."""
    model = pick_forecast_model(forecaster, model_name)
    if model.hist_exog_ or model.futr_exog_ or model.stat_exog_:
        return None
    data = forecaster.data_
    values = data.values.numpy().astype(np.float32)
    windows = []
    for start, stop in zip(data.indptr[:-1], data.indptr[1:], strict=True):
        series = values[start:stop]
        if len(series) >= model.input_size:
            windows.append(np.lib.stride_tricks.sliding_window_view(series, model.input_size))
    if not windows:
        return None
    every = np.concatenate(windows)
    chosen = np.linspace(0, len(every) - 1, min(max_windows, len(every))).round().astype(int)
    return np.ascontiguousarray(every[np.unique(chosen)])


# ---------------------------------------------------------------------------------- dense
def _mlp_plan(model: Any, batches: tuple[dict[str, int], ...]) -> ExportPlan:
    from zen.neural import activations

    layer_sizes = list(model.layer_sizes)
    inputs = (TensorSpec("x", ("batch", layer_sizes[0]), description="features"),)
    outputs = (TensorSpec("output", ("batch", layer_sizes[-1]), description="network outputs"),)
    output_activation = activations.name_of(model.activations[-1])
    return ExportPlan(
        family="mlp",
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": _TRACE_BATCH},
        check_sizes=batches,
        make_inputs=random_inputs(inputs),
        metadata={
            "model": {"layer_sizes": layer_sizes, "output_activation": output_activation},
            "normalization": {
                "inside_graph": "none",
                "outside_graph": "give the features exactly as the network was trained on",
            },
        },
        axes={"batch": "samples per call"},
    )


def _tabular_plan(model: Any, batches: tuple[dict[str, int], ...]) -> ExportPlan:
    model._fitted_profile()
    preprocessor = model.preprocessor_
    width = preprocessor.n_features_out
    inputs = (
        TensorSpec(
            "features",
            ("batch", width),
            description="rows encoded by TablePreprocessor (see preprocessing)",
        ),
    )
    module = model.output_module()
    if model.classification:
        outputs = (
            TensorSpec(
                "logits",
                ("batch", len(model.classes_)),
                description="class scores; argmax indexes model.classes, softmax gives"
                " probabilities",
            ),
        )
        task = {"task": "classification", "classes": model.classes_.tolist()}
    else:
        outputs = (
            TensorSpec("prediction", ("batch",), description="predicted value in target units"),
        )
        task = {
            "task": "regression",
            "target_mean": model.target_mean_,
            "target_scale": model.target_scale_,
        }
    return ExportPlan(
        family="tabular",
        model_class=type(model).__name__,
        module=module,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": _TRACE_BATCH},
        check_sizes=batches,
        make_inputs=random_inputs(inputs),
        metadata={
            "model": {
                **task,
                "target": model.profile_.target,
                "feature_names": list(preprocessor.feature_names_),
                "layer_sizes": list(model.network_.layer_sizes),
            },
            "preprocessing": preprocessor.state(),
            "normalization": {
                "outside_graph": (
                    "encode rows with zen.tabular.TablePreprocessor.from_state(preprocessing)"
                    ".transform(frame): numeric columns NaN -> median, then (x - mean) / scale;"
                    " text columns one-hot over levels (unseen levels: all zeros)"
                ),
                "inside_graph": (
                    "regression: the standardised output is mapped back,"
                    " prediction = output * target_scale + target_mean"
                    if not model.classification
                    else "none: outputs are logits"
                ),
            },
        },
        axes={"batch": "rows per call"},
    )


# ---------------------------------------------------------------------------------- forecasting
def _window_family(network: Any) -> str:
    from zen.forecasting.models.base import DoublyResidualStack
    from zen.forecasting.models.nbeats import NBEATSBlock
    from zen.forecasting.models.nhits import NHITSBlock
    from zen.forecasting.models.tcn import TCNNetwork

    inner = network.network
    if isinstance(inner, TCNNetwork):
        return "tcn"
    if isinstance(inner, DoublyResidualStack):
        first = inner.blocks[0]
        if isinstance(first, NHITSBlock):
            return "nhits"
        if isinstance(first, NBEATSBlock):
            return "nbeats"
    return "window"


class _StaticOnly(nn.Module):
    """A window network with static covariates only: ``(insample, static)`` as inputs."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, insample: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        return self.network(insample, None, static)


def _window_plan(
    network: Any, family: str, model_class: str, batches: tuple[dict[str, int], ...]
) -> ExportPlan:
    covariates = network.covariates
    input_size, h = int(covariates.input_size), int(network.h)
    loss = network.loss
    outputs_per_step = int(loss.outputs_per_step)
    inputs = [TensorSpec("insample", ("batch", input_size), description="last input_size values")]
    names: list[str] = []
    n_temporal = covariates.n_hist + covariates.n_futr
    if n_temporal:
        inputs.append(
            TensorSpec(
                "exog",
                ("batch", input_size + h, n_temporal),
                description="historic then future covariates over input and horizon, raw units"
                " (historic ones are not read over the horizon: any value)",
            )
        )
        names.append("exog")
    if covariates.n_stat:
        inputs.append(
            TensorSpec("static", ("batch", covariates.n_stat), description="static covariates")
        )
        names.append("static")
    # WindowNetwork.forward(insample, exog=None, static=None) takes the others positionally.
    module = _StaticOnly(network) if names == ["static"] else network
    columns = [f"q{quantile:g}" for quantile in loss.quantiles] if loss.quantiles else ["forecast"]
    outputs = (
        TensorSpec(
            "forecast",
            ("batch", h, outputs_per_step),
            description="forecasts in data units; last axis: output_columns",
        ),
    )
    spec = tuple(inputs)

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        # A level and spread like real series, so that per-window scaling has work to do.
        insample = 50 + 10 * torch.randn(spec[0].resolve(sizes), generator=generator)
        rest = tuple(torch.randn(each.resolve(sizes), generator=generator) for each in spec[1:])
        return (insample, *rest)

    return ExportPlan(
        family=family,
        model_class=model_class,
        module=module,
        inputs=spec,
        outputs=outputs,
        trace_sizes={"batch": _TRACE_BATCH},
        check_sizes=batches,
        make_inputs=make,
        metadata={
            "model": {
                "h": h,
                "input_size": input_size,
                "outputs_per_step": outputs_per_step,
                "loss": loss.config(),
                "output_columns": columns,
                "point_forecast": (
                    "median: sort the last axis, take the q0.5 column"
                    if loss.quantiles
                    else "forecast[..., 0]"
                ),
                "n_hist_exog": covariates.n_hist,
                "n_futr_exog": covariates.n_futr,
                "n_stat_exog": covariates.n_stat,
            },
            "normalization": {
                "inside_graph": (
                    f"per-window scaling (scaler_type {network.scaler.scaler_type!r}) from the"
                    " insample values, undone on the forecast; covariates standardised with"
                    " the training mean and std"
                ),
                "outside_graph": "none: feed raw values, read forecasts in data units",
            },
        },
        axes={"batch": "windows (series) per call"},
    )


class DeepARStep(nn.Module):
    """DeepAR's network for export: LSTM steps and the distribution parameters they give.

    ``forward(inputs (batch, steps), hidden, cell (layers, batch, units))`` returns
    ``(parameters (batch, steps, k), hidden, cell)``: ``inputs`` are scaled previous values
    :math:`z_{t-1}`, ``parameters`` those of :math:`z_t` in the scaled space (mu, sigma[, df]
    or mu, alpha), after the distribution's domain maps. Sampling stays outside the graph.
    """

    network: Any

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(
        self, inputs: torch.Tensor, hidden: torch.Tensor, cell: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        outputs, (hidden, cell) = self.network.unroll(inputs, None, (hidden, cell))
        parameters = torch.stack(self.network.loss.parameters(outputs), dim=-1)
        return parameters, hidden, cell


_PARAMETER_NAMES = {
    "Normal": ["mu", "sigma"],
    "StudentT": ["mu", "sigma", "df"],
    "NegativeBinomial": ["mu", "alpha"],
}


def _deepar_plan(
    network: Any, input_size: int | None, family: str, batches: tuple[dict[str, int], ...]
) -> ExportPlan:
    if network.covariates.active:
        raise ConfigError(
            "model: DeepAR with exogenous variables cannot be exported yet; export a DeepAR"
            " trained without futr_exog_list/stat_exog_list"
        )
    lstm = network.lstm
    layers, units = int(lstm.num_layers), int(lstm.hidden_size)
    distribution = network.loss.distribution
    parameter_names = _PARAMETER_NAMES[distribution]
    inputs = (
        TensorSpec("inputs", ("batch", "steps"), description="scaled previous values z[t-1]"),
        TensorSpec("hidden", (layers, "batch", units), description="LSTM h state (zeros first)"),
        TensorSpec("cell", (layers, "batch", units), description="LSTM c state (zeros first)"),
    )
    outputs = (
        TensorSpec(
            "parameters",
            ("batch", "steps", len(parameter_names)),
            description=f"{distribution} parameters of z[t] in the scaled space:"
            f" {', '.join(parameter_names)}",
        ),
        TensorSpec("hidden_out", (layers, "batch", units), description="LSTM h after the steps"),
        TensorSpec("cell_out", (layers, "batch", units), description="LSTM c after the steps"),
    )
    count_scaling = bool(network.count_scaling)
    trace_steps = input_size or 8
    # Each batch size with another step count: the input window, one step, a longer run.
    steps_cycle = [trace_steps, 1, trace_steps, 2 * trace_steps]
    check = tuple(
        {**sizes, "steps": steps_cycle[index % len(steps_cycle)]}
        for index, sizes in enumerate(batches)
    )
    return ExportPlan(
        family=family,
        model_class="DeepAR",
        module=DeepARStep(network),
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": _TRACE_BATCH, "steps": trace_steps + 1},
        check_sizes=check,
        make_inputs=random_inputs(inputs),
        metadata={
            "model": {
                "h": int(network.h),
                "input_size": input_size,
                "distribution": distribution,
                "parameter_names": parameter_names,
                "lstm_layers": layers,
                "lstm_units": units,
                "trajectory_samples": int(network.trajectory_samples),
                "seed": int(network.seed),
            },
            "normalization": {
                "outside_graph": (
                    "negative binomial count scaling: s = 1 + mean(window); inputs = window / s;"
                    " the draw uses mu * s and alpha / sqrt(s)"
                    if count_scaling
                    else f"per-window scaling, scaler_type {network.scaler.scaler_type!r}"
                    " (zen.forecasting.scalers.WindowScaler): location and scale from the input"
                    " window, inputs = (window - location) / scale, draws mapped back with"
                    " draw * scale + location"
                ),
                "inside_graph": "none: the graph works in the scaled space",
                "count_scaling": count_scaling,
                "scaler_type": network.scaler.scaler_type,
            },
            "sampling": (
                "run the scaled input window once from zero states; draw z from the last step's"
                " parameters, feed it back as a one-step input with the returned states, h times"
                " per path; the point forecast is the median over trajectory_samples paths"
            ),
        },
        axes={"batch": "series (or series x paths) per call", "steps": "LSTM steps per call"},
    )


# ---------------------------------------------------------------------------------- graphs
def _graph_plan(model: Any, check_sizes: tuple[dict[str, int], ...]) -> ExportPlan:
    if model.readout is not None:
        raise ConfigError(
            f"model: {type(model).__name__} with readout={model.readout!r} (graph-level) cannot"
            " be exported yet; node-level models (readout=None) can"
        )
    inputs = (
        TensorSpec("x", ("num_nodes", int(model.in_channels)), description="node features"),
        TensorSpec(
            "edge_index",
            (2, "num_edges"),
            dtype="int64",
            description="row 0: source node, row 1: target node of every edge",
        ),
    )
    outputs = (
        TensorSpec(
            "logits",
            ("num_nodes", int(model.out_channels)),
            description="scores per node; argmax is the predicted class",
        ),
    )
    in_channels = int(model.in_channels)

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        nodes, edges = sizes["num_nodes"], sizes["num_edges"]
        x = torch.randn(nodes, in_channels, generator=generator)
        edge_index = torch.randint(0, nodes, (2, edges), generator=generator)
        return x, edge_index

    return ExportPlan(
        family=type(model).__name__.lower(),
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes=dict(_TRACE_GRAPH),
        check_sizes=check_sizes,
        make_inputs=make,
        metadata={
            "model": model.config(),
            "normalization": {
                "inside_graph": "self loops and the layer's own edge normalisation",
                "outside_graph": (
                    "node features as in training; every edge weighs 1 (edge_weight and"
                    " edge_attr are not inputs of the exported graph)"
                ),
            },
        },
        graph_model=True,
        axes={"num_nodes": "nodes in the graph", "num_edges": "directed edges"},
    )
