r"""N-HiTS: neural hierarchical interpolation for time series (Challu et al., AAAI 2023).

Each block looks at the (residual) input at a coarser rate, by max-pooling with kernel
:math:`k_\ell`, and predicts only :math:`\lceil h / r_\ell \rceil` forecast "knots" that are
interpolated back to the horizon (paper eq. 1-3):

.. math::
    y^{p}_{\ell} = \mathrm{MaxPool}(y_{\ell-1}, k_\ell), \quad
    \theta^b_\ell, \theta^f_\ell = \mathrm{MLP}_\ell(y^p_\ell), \quad
    \hat y_\ell = \mathrm{Interpolate}(\theta^f_\ell, h)

Blocks are chained doubly residually: the input loses each block's backcast, the forecast adds
each block's forecast. Stacks with large pooling kernels and downsampling capture low
frequencies, later stacks the details. Exogenous variables (historic over the input, future over
input and horizon, static), scaled, join every block's pooled input unpooled, as in the
reference implementation. As in the reference implementation, the forecast starts
from the last observed value (naive level) and the blocks learn corrections to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from zen.errors import ConfigError
from zen.forecasting.candidate import (
    FORECAST_LR,
    SCALER_TYPES,
    WINDOWS_BATCH_SIZES,
    integers,
    window_builder,
)
from zen.forecasting.export import window_model_plan
from zen.forecasting.models.base import DoublyResidualStack, WindowModel, block_mlp
from zen.neural import activations
from zen.registry import ModelSpec, register


class NHITSBlock(nn.Module):
    """Pool the input, MLP, then a full-rate backcast and an interpolated forecast."""

    #: What ONNX export records as the model family (:mod:`zen.forecasting.export`).
    export_family = "nhits"

    def __init__(
        self,
        input_size: int,
        h: int,
        outputs_per_step: int,
        pool_kernel_size: int,
        n_knots: int,
        mlp_units: Sequence[int],
        activation: str,
        dropout: float,
        pooling_mode: str,
        interpolation_mode: str,
        covariate_size: int = 0,
    ) -> None:
        super().__init__()
        self.input_size, self.h = input_size, h
        self.outputs_per_step, self.n_knots = outputs_per_step, n_knots
        self.interpolation_mode = interpolation_mode
        pool = nn.MaxPool1d if pooling_mode == "MaxPool1d" else nn.AvgPool1d
        self.pool = pool(kernel_size=pool_kernel_size, stride=pool_kernel_size, ceil_mode=True)
        pooled = -(-input_size // pool_kernel_size)
        self.mlp = block_mlp(
            pooled + covariate_size,
            mlp_units,
            input_size + n_knots * outputs_per_step,
            activation,
            dropout,
        )

    def forward(
        self, residual: torch.Tensor, covariates: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``covariates``: the window's flattened scaled covariates ``(batch, covariate_size)``."""
        pooled = self.pool(residual.unsqueeze(1)).squeeze(1)
        if covariates is not None:
            pooled = torch.cat([pooled, covariates], dim=1)
        theta = self.mlp(pooled)
        backcast = theta[:, : self.input_size]
        knots = theta[:, self.input_size :].reshape(-1, self.outputs_per_step, self.n_knots)
        if self.n_knots == self.h:
            forecast = knots
        elif self.interpolation_mode == "nearest":
            forecast = functional.interpolate(knots, size=self.h, mode="nearest")
        else:
            forecast = functional.interpolate(
                knots, size=self.h, mode="linear", align_corners=False
            )
        return backcast, forecast.permute(0, 2, 1)


class NHITS(WindowModel):
    """N-HiTS forecaster. Example: ``NHITS(h=48, input_size=96)``.

    Args (beyond :class:`~zen.forecasting.models.base.WindowModel`'s, with neuralforecast's
    names and defaults):
        stack_types: one entry per stack (only ``"identity"`` exists for N-HiTS).
        n_blocks: blocks per stack.
        mlp_units: hidden widths of each stack's MLPs.
        n_pool_kernel_size: input pooling kernel per stack.
        n_freq_downsample: forecast downsampling per stack (``h // r`` knots).
        pooling_mode: ``"MaxPool1d"`` or ``"AvgPool1d"``.
        interpolation_mode: ``"linear"`` or ``"nearest"``.
        activation: hidden activation (zen registry name).
        dropout_prob_theta: dropout inside the block MLPs.

    Supports ``futr_exog_list``, ``hist_exog_list`` and ``stat_exog_list``.
    """

    EXOGENOUS = ("futr_exog_list", "hist_exog_list", "stat_exog_list")

    def __init__(
        self,
        h: int,
        input_size: int,
        stack_types: Sequence[str] = ("identity", "identity", "identity"),
        n_blocks: Sequence[int] = (1, 1, 1),
        mlp_units: Sequence[Sequence[int]] = ((512, 512), (512, 512), (512, 512)),
        n_pool_kernel_size: Sequence[int] = (2, 2, 1),
        n_freq_downsample: Sequence[int] = (4, 2, 1),
        pooling_mode: str = "MaxPool1d",
        interpolation_mode: str = "linear",
        activation: str = "relu",
        dropout_prob_theta: float = 0.0,
        **base: Any,
    ) -> None:
        self.stack_types = stack_types
        self.n_blocks = n_blocks
        self.mlp_units = mlp_units
        self.n_pool_kernel_size = n_pool_kernel_size
        self.n_freq_downsample = n_freq_downsample
        self.pooling_mode = pooling_mode
        self.interpolation_mode = interpolation_mode
        self.activation = activation
        self.dropout_prob_theta = dropout_prob_theta
        super().__init__(h, input_size, **base)

    def _check_params(self) -> None:
        super()._check_params()
        n_stacks = len(self.stack_types)
        for name, value in (("n_blocks", self.n_blocks), ("mlp_units", self.mlp_units),
                            ("n_pool_kernel_size", self.n_pool_kernel_size),
                            ("n_freq_downsample", self.n_freq_downsample)):  # fmt: skip
            if len(value) != n_stacks:
                raise ConfigError(
                    f"{name}: expected {n_stacks} entries (one per stack), got {len(value)}"
                )
        if self.pooling_mode not in ("MaxPool1d", "AvgPool1d"):
            raise ConfigError(
                f"pooling_mode: expected 'MaxPool1d' or 'AvgPool1d', got {self.pooling_mode!r}"
            )
        if self.interpolation_mode not in ("linear", "nearest"):
            raise ConfigError(
                "interpolation_mode: expected 'linear' or 'nearest', got"
                f" {self.interpolation_mode!r}"
            )
        activations.canonical_name(self.activation)

    def build_network(self) -> nn.Module:
        covariate_size = (
            self.input_size * len(self.hist_exog_)
            + (self.input_size + self.h) * len(self.futr_exog_)
            + len(self.stat_exog_)
        )
        blocks = [
            NHITSBlock(
                input_size=self.input_size,
                h=self.h,
                outputs_per_step=self.loss_.outputs_per_step,
                pool_kernel_size=kernel,
                n_knots=max(self.h // downsample, 1),
                mlp_units=units,
                activation=self.activation,
                dropout=self.dropout_prob_theta,
                pooling_mode=self.pooling_mode,
                interpolation_mode=self.interpolation_mode,
                covariate_size=covariate_size,
            )
            for count, units, kernel, downsample in zip(
                self.n_blocks,
                self.mlp_units,
                self.n_pool_kernel_size,
                self.n_freq_downsample,
                strict=True,
            )
            for _ in range(count)
        ]
        return DoublyResidualStack(blocks)


def search_space(trial: Any) -> dict[str, Any]:
    """neuralforecast's ``AutoNHITS`` space, for Optuna.

    The pooling kernels and downsampling rates decide which frequencies each of the three
    stacks models (paper sec. 3.1-3.2); the knots per stack are ``max(h // rate, 1)``, so the
    large rates (168, 180) suit long hourly horizons and fall back to one knot on short ones.
    List choices travel through Optuna's storage as strings (``"2,2,1"``).

    >>> from optuna.trial import FixedTrial
    >>> stored = {"learning_rate": 1e-3, "n_pool_kernel_size": "2,2,1",
    ...           "n_freq_downsample": "24,12,1", "scaler_type": "robust",
    ...           "windows_batch_size": 256}
    >>> search_space(FixedTrial(stored))["n_pool_kernel_size"]
    [2, 2, 1]
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "n_pool_kernel_size": integers(
            trial.suggest_categorical(
                "n_pool_kernel_size", ["2,2,1", "1,1,1", "2,2,2", "4,4,4", "8,4,1", "16,8,1"]
            )
        ),
        "n_freq_downsample": integers(
            trial.suggest_categorical(
                "n_freq_downsample",
                ["168,24,1", "24,12,1", "180,60,1", "60,8,1", "40,20,1", "1,1,1"],
            )
        ),
        "scaler_type": trial.suggest_categorical("scaler_type", SCALER_TYPES),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


# N-HiTS and N-BEATS lead on M4 and the long-horizon benchmarks (Oreshkin et al. 2020; Challu et
# al. 2023): the router's first expectation for series. The factors say how each of the
# router's findings (zen.orchestrator.router_rules.RULES) moves that expectation.
SPEC = register(
    ModelSpec(
        "NHITS",
        "forecast",
        model_class=NHITS,
        prior=1.00,
        rule_factors={
            "seasonal and long series": 0.97,
            "short series": 1.2,
            "intermittent demand": 1.15,
            "noise-like series": 1.05,
            "many series": 0.97,
            "long horizon": 0.96,
        },
        build=window_builder(NHITS),
        search_space=search_space,
        export_plan=window_model_plan,
        reference="Challu et al., AAAI 2023",
    )
)
