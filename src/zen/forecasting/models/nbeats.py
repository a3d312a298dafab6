r"""N-BEATS: neural basis expansion analysis for time series (Oreshkin et al., ICLR 2020).

Every block is an MLP from the (residual) input to expansion coefficients :math:`\theta`, which
a basis turns into a backcast and a forecast (paper sec. 3.1-3.3):

* identity ("generic"): the coefficients are the backcast and forecast themselves;
* trend: polynomials :math:`t^p, p = 0..P`, with :math:`t = i/h` (smooth, interpretable trend);
* seasonality: Fourier terms :math:`\cos(2\pi k t), \sin(2\pi k t)` (periodic patterns).

Blocks chain doubly residually, as in N-HiTS; the forecast starts from the last observed
value, as in the reference implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from zen.errors import ConfigError
from zen.forecasting.candidate import (
    FORECAST_LR,
    SCALER_TYPES,
    WINDOWS_BATCH_SIZES,
    window_builder,
)
from zen.forecasting.export import window_model_plan
from zen.forecasting.models.base import DoublyResidualStack, WindowModel, block_mlp
from zen.neural import activations
from zen.registry import ModelSpec, register

STACK_TYPES = ("identity", "trend", "seasonality")


def trend_basis(length: int, n_polynomials: int, offset: int = 0) -> torch.Tensor:
    """Polynomial basis ``(n_polynomials + 1, length)`` over ``t = (i + offset) / length``."""
    t = (np.arange(length) + offset) / length
    return torch.tensor(
        np.stack([t**power for power in range(n_polynomials + 1)]), dtype=torch.float32
    )


def seasonality_basis(length: int, n_harmonics: int, period: int) -> torch.Tensor:
    """Fourier basis: a constant, then cos and sin of ``n_harmonics`` multiples per period."""
    t = np.arange(length) / period
    frequencies = np.arange(1, n_harmonics * max(period // 2, 1) + 1) / n_harmonics
    rows = [np.ones(length)]
    rows += [np.cos(2 * np.pi * f * t) for f in frequencies]
    rows += [np.sin(2 * np.pi * f * t) for f in frequencies]
    return torch.tensor(np.stack(rows), dtype=torch.float32)


class NBEATSBlock(nn.Module):
    """MLP to coefficients, then fixed (or identity) bases for backcast and forecast."""

    #: What ONNX export records as the model family (:mod:`zen.forecasting.export`).
    export_family = "nbeats"

    def __init__(
        self,
        input_size: int,
        h: int,
        outputs_per_step: int,
        mlp_units: Sequence[int],
        activation: str,
        dropout: float,
        backcast_basis: torch.Tensor | None,
        forecast_basis: torch.Tensor | None,
    ) -> None:
        super().__init__()
        self.input_size, self.h, self.outputs_per_step = input_size, h, outputs_per_step
        if backcast_basis is None or forecast_basis is None:
            n_backcast, n_forecast = input_size, h
        else:
            n_backcast, n_forecast = backcast_basis.shape[0], forecast_basis.shape[0]
            self.register_buffer("backcast_basis", backcast_basis)
            self.register_buffer("forecast_basis", forecast_basis)
        self.n_backcast, self.n_forecast = n_backcast, n_forecast
        self.mlp = block_mlp(
            input_size, mlp_units, n_backcast + n_forecast * outputs_per_step, activation, dropout
        )
        self.generic = backcast_basis is None

    def forward(self, residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        theta = self.mlp(residual)
        backcast = theta[:, : self.n_backcast]
        forecast = theta[:, self.n_backcast :].reshape(-1, self.outputs_per_step, self.n_forecast)
        if not self.generic:
            backcast = backcast @ self.backcast_basis
            forecast = forecast @ self.forecast_basis
        return backcast, forecast.permute(0, 2, 1)


class NBEATS(WindowModel):
    """N-BEATS forecaster. Example: ``NBEATS(h=48, input_size=96)``.

    Args (beyond :class:`~zen.forecasting.models.base.WindowModel`'s, neuralforecast's names
    and defaults):
        stack_types: ``"identity"`` (generic), ``"trend"`` or ``"seasonality"`` per stack.
        n_blocks: blocks per stack.
        mlp_units: hidden widths of each stack's MLPs.
        n_polynomials: degree of the trend basis.
        n_harmonics: harmonics per period of the seasonality basis.
        activation: hidden activation (zen registry name).
        dropout_prob_theta: dropout inside the block MLPs.
    """

    def __init__(
        self,
        h: int,
        input_size: int,
        stack_types: Sequence[str] = ("identity", "trend", "seasonality"),
        n_blocks: Sequence[int] = (1, 1, 1),
        mlp_units: Sequence[Sequence[int]] = ((512, 512), (512, 512), (512, 512)),
        n_polynomials: int = 2,
        n_harmonics: int = 2,
        activation: str = "relu",
        dropout_prob_theta: float = 0.0,
        **base: Any,
    ) -> None:
        self.stack_types = stack_types
        self.n_blocks = n_blocks
        self.mlp_units = mlp_units
        self.n_polynomials = n_polynomials
        self.n_harmonics = n_harmonics
        self.activation = activation
        self.dropout_prob_theta = dropout_prob_theta
        super().__init__(h, input_size, **base)

    def _check_params(self) -> None:
        super()._check_params()
        unknown = [kind for kind in self.stack_types if kind not in STACK_TYPES]
        if unknown:
            raise ConfigError(f"stack_types: unknown {unknown}; expected {list(STACK_TYPES)}")
        if not len(self.stack_types) == len(self.n_blocks) == len(self.mlp_units):
            raise ConfigError("stack_types, n_blocks and mlp_units need one entry per stack each")
        activations.canonical_name(self.activation)

    def _bases(self, kind: str) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if kind == "identity":
            return None, None
        if kind == "trend":
            return (
                trend_basis(self.input_size, self.n_polynomials),
                trend_basis(self.h, self.n_polynomials),
            )
        # One period spans the horizon for the forecast and the input for the backcast.
        return (
            seasonality_basis(self.input_size, self.n_harmonics, self.input_size),
            seasonality_basis(self.h, self.n_harmonics, self.h),
        )

    def build_network(self) -> nn.Module:
        blocks = []
        for kind, count, units in zip(self.stack_types, self.n_blocks, self.mlp_units, strict=True):
            for _ in range(count):
                backcast_basis, forecast_basis = self._bases(kind)
                blocks.append(
                    NBEATSBlock(
                        self.input_size,
                        self.h,
                        self.loss_.outputs_per_step,
                        units,
                        self.activation,
                        self.dropout_prob_theta,
                        backcast_basis,
                        forecast_basis,
                    )
                )
        return DoublyResidualStack(blocks)


def search_space(trial: Any) -> dict[str, Any]:
    """neuralforecast's ``AutoNBEATS`` space, for Optuna."""
    return {
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "scaler_type": trial.suggest_categorical("scaler_type", SCALER_TYPES),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", WINDOWS_BATCH_SIZES),
    }


# Close behind N-HiTS on M4 (Oreshkin et al. 2020); its polynomial trend basis suits trends.
SPEC = register(
    ModelSpec(
        "NBEATS",
        "forecast",
        model_class=NBEATS,
        prior=1.02,
        rule_factors={
            "seasonal and long series": 0.98,
            "short series": 1.15,
            "intermittent demand": 1.15,
            "strong trend without season": 0.97,
            "noise-like series": 1.05,
            "many series": 0.97,
        },
        build=window_builder(NBEATS),
        search_space=search_space,
        export_plan=window_model_plan,
        reference="Oreshkin et al., ICLR 2020",
    )
)
