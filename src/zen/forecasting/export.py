"""Export plans of the forecasting models: window networks (N-HiTS, N-BEATS, TCN and the
like) and DeepAR's LSTM step; and which model of a Forecaster to export."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from zen import registry
from zen.errors import ConfigError, NotFittedError
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    TRACE_BATCH,
    ExportPlan,
    TensorSpec,
    batch_checks,
    random_inputs,
)


def window_model_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a fitted window model (N-HiTS, N-BEATS, TCN or any subclass of
    :class:`~zen.forecasting.WindowModel` that maps a window to a forecast): its network's
    plan, named after the model."""
    network = _fitted_network(model)
    family = type(model).__name__.lower()
    return _window_plan(network, family, type(model).__name__, batch_checks(batch_sizes))


def network_plan(
    network: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a bare window network's forward (named after the blocks it stacks)."""
    family = _window_family(network)
    return _window_plan(network, family, type(network).__name__, batch_checks(batch_sizes))


def step_model_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a fitted autoregressive model (DeepAR): one LSTM step, named after it."""
    network = _fitted_network(model)
    family = type(model).__name__.lower()
    return _deepar_plan(network, model.input_size, family, batch_checks(batch_sizes))


def step_network_plan(
    network: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a bare DeepAR network: one LSTM step."""
    return _deepar_plan(network, None, "deepar", batch_checks(batch_sizes))


def _fitted_network(model: Any) -> Any:
    if not hasattr(model, "model_"):
        raise NotFittedError(f"{model.alias} is not fitted; fit it before exporting")
    return model.model_


def pick_forecast_model(forecaster: Any, model_name: str | None) -> Any:
    """The neural model of ``forecaster`` called ``model_name`` (or its only neural model)."""
    fitted = forecaster.models_ if hasattr(forecaster, "models_") else forecaster.models
    neural = {model.alias: model for model in fitted if _neural(model)}
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


def _neural(model: Any) -> bool:
    """Whether the registry knows ``model`` (or a base class of it) as a network model."""
    spec = registry.spec_for(model)
    return spec is not None and spec.neural


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


def _window_family(network: Any) -> str:
    """The family an exported window network reports (``"nhits"``, ``"tcn"``...): the
    ``export_family`` its network (or, for block stacks, its first block) declares, so this
    module needs no model class (the models import it for their export plans)."""
    inner = network.network
    family = getattr(inner, "export_family", None)
    blocks = getattr(inner, "blocks", None)
    if family is None and blocks is not None and len(blocks) > 0:
        family = getattr(blocks[0], "export_family", None)
    return str(family or "window")


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
        trace_sizes={"batch": TRACE_BATCH},
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
        trace_sizes={"batch": TRACE_BATCH, "steps": trace_steps + 1},
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
