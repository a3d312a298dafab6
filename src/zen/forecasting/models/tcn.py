r"""TCN: temporal convolutional network forecaster (Bai, Kolter & Koltun 2018, "An Empirical
Evaluation of Generic Convolutional and Recurrent Networks for Sequence Modeling").

The encoder is a stack of residual blocks (paper sec. 3.4, fig. 1b), each two dilated causal
convolutions with an activation and dropout, and a skip connection (a 1x1 convolution when the
widths differ):

.. math::
    (F *_d x)_t = \sum_{i=0}^{k-1} f_i\, x_{t - d\,i}, \qquad
    o = \mathrm{act}\big(x + \mathcal F(x)\big)

Block :math:`j` uses dilation :math:`d_j` (1, 2, 4, ...), so the last position sees
:math:`1 + 2 (k - 1) \sum_j d_j` input steps (63 with the defaults); inputs further back cannot
reach it and are not computed. The last hidden state is the context: a linear map spreads it
into ``context_size`` values per horizon step, and an MLP decoder shared by all steps turns each
into ``outputs_per_step`` forecasts (neuralforecast's TCN decoder).

Exogenous variables: historic and future ones (over the input) are extra input channels of the
encoder; each horizon step's decoder input also holds that step's future variables and the
static ones, so known future events shape the forecast directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from zen.errors import ConfigError
from zen.forecasting.candidate import FORECAST_LR, window_builder
from zen.forecasting.covariates import Covariates
from zen.forecasting.export import window_model_plan
from zen.forecasting.models.base import WindowModel
from zen.neural import activations
from zen.registry import ModelSpec, register

logger = logging.getLogger(__name__)


class TemporalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection (Bai et al. fig. 1b)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        activation: str,
        dropout: float,
    ) -> None:
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.first = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        self.second = nn.Conv1d(out_channels, out_channels, kernel_size, dilation=dilation)
        self.activation = activations.get(activation)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def causal(self, conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
        # Padding on the left only: output t never sees inputs after t.
        return conv(functional.pad(x, ((self.kernel_size - 1) * self.dilation, 0)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_channels, length)`` -> ``(batch, out_channels, length)``."""
        out = self.dropout(self.activation(self.causal(self.first, x)))
        out = self.dropout(self.activation(self.causal(self.second, out)))
        residual = x if self.skip is None else self.skip(x)
        return self.activation(out + residual)

    def __repr__(self) -> str:
        return (
            f"TemporalBlock({self.first.in_channels}, {self.first.out_channels},"
            f" kernel_size={self.kernel_size}, dilation={self.dilation})"
        )


class TCNNetwork(nn.Module):
    """Scaled inputs ``(batch, input_size)`` -> forecasts ``(batch, h, outputs_per_step)``."""

    #: What ONNX export records as the model family (:mod:`zen.forecasting.export`).
    export_family = "tcn"

    def __init__(
        self,
        h: int,
        outputs_per_step: int,
        kernel_size: int,
        dilations: Sequence[int],
        encoder_hidden_size: int,
        encoder_activation: str,
        encoder_dropout: float,
        context_size: int,
        decoder_hidden_size: int,
        decoder_layers: int,
        n_hist: int = 0,
        n_futr: int = 0,
        n_stat: int = 0,
    ) -> None:
        super().__init__()
        self.h, self.context_size = h, context_size
        self.receptive_field = receptive_field(kernel_size, dilations)
        self.encoder = nn.Sequential(
            *[
                TemporalBlock(
                    1 + n_hist + n_futr if index == 0 else encoder_hidden_size,
                    encoder_hidden_size,
                    kernel_size,
                    dilation,
                    encoder_activation,
                    encoder_dropout,
                )
                for index, dilation in enumerate(dilations)
            ]
        )
        self.context_adapter = nn.Linear(encoder_hidden_size, context_size * h)
        layers: list[nn.Module] = []
        fan_in = context_size + n_futr + n_stat
        for _ in range(decoder_layers - 1):
            layers += [nn.Linear(fan_in, decoder_hidden_size), nn.ReLU()]
            fan_in = decoder_hidden_size
        layers.append(nn.Linear(fan_in, outputs_per_step))
        self.decoder = nn.Sequential(*layers)

    def forward(self, insample: torch.Tensor, covariates: Covariates | None = None) -> torch.Tensor:
        input_size = insample.shape[1]
        first = max(input_size - self.receptive_field, 0)
        channels = [insample[:, first:].unsqueeze(-1)]
        if covariates is not None:
            channels += [part[:, first:input_size] for part in covariates[:2] if part is not None]
        hidden = self.encoder(torch.cat(channels, dim=-1).transpose(1, 2))
        context = self.context_adapter(hidden[:, :, -1]).reshape(-1, self.h, self.context_size)
        if covariates is not None:
            steps = [context]
            if covariates.futr is not None:
                steps.append(covariates.futr[:, input_size:])
            if covariates.static is not None:
                steps.append(covariates.static.unsqueeze(1).expand(-1, self.h, -1))
            context = torch.cat(steps, dim=-1)
        return self.decoder(context)


def receptive_field(kernel_size: int, dilations: Sequence[int]) -> int:
    """Input steps the last output sees: two convolutions per block, each reaching
    ``(kernel_size - 1) * dilation`` steps back."""
    return 1 + 2 * (kernel_size - 1) * sum(dilations)


class TCN(WindowModel):
    """TCN forecaster. Example: ``TCN(h=48, input_size=96)``.

    Args (beyond :class:`~zen.forecasting.models.base.WindowModel`'s, with neuralforecast's
    names and defaults; ``scaler_type`` defaults to ``"robust"`` as there):
        kernel_size: width of the causal convolutions.
        dilations: one residual block per dilation.
        encoder_hidden_size: channels of the convolutions.
        encoder_activation: activation inside the blocks (zen registry name).
        encoder_dropout: dropout after each convolution (Bai et al.; 0 in neuralforecast).
        context_size: context values per horizon step.
        decoder_hidden_size: width of the decoder MLP.
        decoder_layers: linear layers of the decoder MLP (1: a single linear map).

    Supports ``futr_exog_list``, ``hist_exog_list`` and ``stat_exog_list``.
    """

    EXOGENOUS = ("futr_exog_list", "hist_exog_list", "stat_exog_list")

    def __init__(
        self,
        h: int,
        input_size: int,
        kernel_size: int = 2,
        dilations: Sequence[int] = (1, 2, 4, 8, 16),
        encoder_hidden_size: int = 200,
        encoder_activation: str = "relu",
        encoder_dropout: float = 0.0,
        context_size: int = 10,
        decoder_hidden_size: int = 200,
        decoder_layers: int = 2,
        scaler_type: str = "robust",
        **base: Any,
    ) -> None:
        self.kernel_size = kernel_size
        self.dilations = dilations
        self.encoder_hidden_size = encoder_hidden_size
        self.encoder_activation = encoder_activation
        self.encoder_dropout = encoder_dropout
        self.context_size = context_size
        self.decoder_hidden_size = decoder_hidden_size
        self.decoder_layers = decoder_layers
        super().__init__(h, input_size, scaler_type=scaler_type, **base)

    def _check_params(self) -> None:
        super()._check_params()
        for name, value in (("kernel_size", self.kernel_size),
                            ("encoder_hidden_size", self.encoder_hidden_size),
                            ("context_size", self.context_size),
                            ("decoder_hidden_size", self.decoder_hidden_size),
                            ("decoder_layers", self.decoder_layers)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if not self.dilations or any(
            isinstance(value, bool) or not isinstance(value, int) or value < 1
            for value in self.dilations
        ):
            raise ConfigError(
                f"dilations: expected one or more positive integers, got {list(self.dilations)!r}"
            )
        if not 0 <= self.encoder_dropout < 1:
            raise ConfigError(
                f"encoder_dropout: expected a fraction in [0, 1), got {self.encoder_dropout!r}"
            )
        activations.canonical_name(self.encoder_activation)

    @property
    def receptive_field(self) -> int:
        """How many of the latest input steps the forecast depends on."""
        return receptive_field(self.kernel_size, self.dilations)

    def build_network(self) -> nn.Module:
        if self.receptive_field < self.input_size:
            logger.info(
                "TCN sees only the last %d of input_size=%d steps; add dilations to use more",
                self.receptive_field,
                self.input_size,
            )
        return TCNNetwork(
            h=self.h,
            outputs_per_step=self.loss_.outputs_per_step,
            kernel_size=self.kernel_size,
            dilations=self.dilations,
            encoder_hidden_size=self.encoder_hidden_size,
            encoder_activation=self.encoder_activation,
            encoder_dropout=self.encoder_dropout,
            context_size=self.context_size,
            decoder_hidden_size=self.decoder_hidden_size,
            decoder_layers=self.decoder_layers,
            n_hist=len(self.hist_exog_),
            n_futr=len(self.futr_exog_),
            n_stat=len(self.stat_exog_),
        )


def search_space(trial: Any) -> dict[str, Any]:
    """neuralforecast's ``AutoTCN`` space (Bai et al. 2018 with the MQ-CNN decoder of Wen et
    al. 2017), whose scaler stays ``robust``."""
    return {
        "encoder_hidden_size": trial.suggest_categorical(
            "encoder_hidden_size", [50, 100, 200, 300]
        ),
        "context_size": trial.suggest_categorical("context_size", [5, 10, 50]),
        "decoder_hidden_size": trial.suggest_categorical(
            "decoder_hidden_size", [64, 128, 256, 512]
        ),
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
    }


# Behind N-HiTS and N-BEATS on the M4 and long-horizon benchmarks (Challu et al. 2023).
SPEC = register(
    ModelSpec(
        "TCN",
        "forecast",
        model_class=TCN,
        prior=1.10,
        rule_factors={
            "short series": 1.25,
            "intermittent demand": 1.15,
            "noise-like series": 1.05,
            "many series": 0.97,
        },
        build=window_builder(TCN),
        search_space=search_space,
        export_plan=window_model_plan,
        reference="Bai, Kolter & Koltun 2018; Wen et al. 2017 (MQ-CNN)",
    )
)
