r"""PatchTST: a Transformer over patches of one series (Nie, Nguyen, Sinthong & Kalagnanam, "A
Time Series is Worth 64 Words", ICLR 2023).

Each window is normalised by its own statistics (RevIN, Kim et al. 2022: subtract the mean, or
the last value, divide by the standard deviation; undone on the forecast), cut into patches of
``patch_len`` steps every ``stride`` steps (the end padded with the last value, the paper's
``padding_patch="end"``), and every patch becomes one token:

.. math::
    N = \left\lfloor \frac{L - P}{S} \right\rfloor + 2, \qquad
    z_i = W_p\, x_{iS : iS + P} + w_{pos,i}

An encoder of pre-norm blocks (zen's :class:`~zen.neural.nets.transformer.EncoderBlock`, with
``scaled_dot_product_attention``) mixes the tokens; the head flattens all ``N`` tokens and maps
them linearly to the horizon (the paper's "flatten head"). Series are independent channels: a
window of one series never sees another (channel independence, paper sec. 3.1), which is how
zen's window models read data anyway.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from zen.errors import ConfigError
from zen.forecasting.candidate import FORECAST_LR, window_builder
from zen.forecasting.export import window_model_plan
from zen.forecasting.models.base import WindowModel
from zen.neural.nets.transformer import EncoderBlock, FeedForward
from zen.registry import ModelSpec, register

logger = logging.getLogger(__name__)


class RevIN(nn.Module):
    """Reversible instance normalisation of each window (Kim et al. 2022), optionally with a
    learned affine map; ``subtract_last`` centres on the last value instead of the mean."""

    def __init__(self, affine: bool, subtract_last: bool, eps: float = 1e-5) -> None:
        super().__init__()
        self.subtract_last, self.eps = subtract_last, eps
        self.weight = nn.Parameter(torch.ones(1)) if affine else None
        self.bias = nn.Parameter(torch.zeros(1)) if affine else None

    def statistics(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(location, scale)`` of each window ``(batch, steps)``, shaped ``(batch, 1)``."""
        location = x[:, -1:] if self.subtract_last else x.mean(dim=1, keepdim=True)
        scale = torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + self.eps)
        return location, scale

    def normalise(
        self, x: torch.Tensor, location: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        x = (x - location) / scale
        if self.weight is not None and self.bias is not None:
            x = x * self.weight + self.bias
        return x

    def denormalise(
        self, y: torch.Tensor, location: torch.Tensor, scale: torch.Tensor
    ) -> torch.Tensor:
        """``y`` of shape ``(batch, h, outputs)`` back in the window's units."""
        if self.weight is not None and self.bias is not None:
            y = (y - self.bias) / (self.weight + self.eps * self.eps)
        return y * scale[:, :, None] + location[:, :, None]


class PatchTSTNetwork(nn.Module):
    """Scaled windows ``(batch, input_size)`` -> forecasts ``(batch, h, outputs_per_step)``."""

    def __init__(
        self,
        input_size: int,
        h: int,
        outputs_per_step: int,
        *,
        patch_len: int,
        stride: int,
        hidden_size: int,
        n_heads: int,
        encoder_layers: int,
        linear_hidden_size: int,
        dropout: float,
        head_dropout: float,
        revin: bool,
        revin_affine: bool,
        revin_subtract_last: bool,
    ) -> None:
        super().__init__()
        self.h, self.outputs_per_step = h, outputs_per_step
        self.patch_len, self.stride = patch_len, stride
        self.n_patches = patch_count(input_size, patch_len, stride)
        self.revin = RevIN(revin_affine, revin_subtract_last) if revin else None
        self.embed = nn.Linear(patch_len, hidden_size)
        # Learned positions, initialised small (the paper's learn_pe with uniform init).
        self.positions = nn.Parameter(
            torch.empty(self.n_patches, hidden_size).uniform_(-0.02, 0.02)
        )
        self.drop = nn.Dropout(dropout)
        ff_mult = max(1, round(linear_hidden_size / hidden_size))
        self.blocks = nn.ModuleList(
            EncoderBlock(hidden_size, n_heads, FeedForward(hidden_size, ff_mult, dropout), dropout)
            for _ in range(encoder_layers)
        )
        self.norm = nn.LayerNorm(hidden_size)
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(self.n_patches * hidden_size, h * outputs_per_step)

    def forward(self, insample: torch.Tensor) -> torch.Tensor:
        if self.revin is not None:
            location, scale = self.revin.statistics(insample)
            insample = self.revin.normalise(insample, location, scale)
        # Pad the end with the last value so the final patch ends on the last step.
        padded = torch.cat([insample, insample[:, -1:].expand(-1, self.stride)], dim=1)
        patches = padded.unfold(1, self.patch_len, self.stride)  # (batch, n_patches, patch_len)
        tokens = self.drop(self.embed(patches) + self.positions)
        every = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        for block in self.blocks:
            tokens = block(tokens, every)
        flat = self.head_drop(self.norm(tokens).flatten(1))
        forecast = self.head(flat).reshape(-1, self.h, self.outputs_per_step)
        if self.revin is not None:
            forecast = self.revin.denormalise(forecast, location, scale)
        return forecast


def patch_count(input_size: int, patch_len: int, stride: int) -> int:
    """Patches of a window of ``input_size`` steps padded with ``stride`` copies of its end.

    >>> patch_count(96, 16, 8)  # the paper's L=96 ... 512 settings give 12 ... 64 patches
    12
    """
    return (input_size + stride - patch_len) // stride + 1


class PatchTST(WindowModel):
    """PatchTST forecaster. Example: ``PatchTST(h=96, input_size=512)``.

    Args (beyond :class:`~zen.forecasting.models.base.WindowModel`'s, with neuralforecast's
    names and defaults; as there, ``learning_rate`` defaults to 1e-4 and ``scaler_type`` to
    ``"identity"``, RevIN normalising each window instead):
        encoder_layers: Transformer blocks.
        n_heads: attention heads (must divide ``hidden_size``).
        hidden_size: width of the patch tokens.
        linear_hidden_size: width of each block's feed-forward layer (rounded to a multiple of
            ``hidden_size``).
        dropout: dropout in the encoder.
        head_dropout: dropout before the flatten head.
        patch_len, stride: patch length and the step between patch starts (a patch longer
            than ``input_size + stride`` is shortened to it).
        revin, revin_affine, revin_subtract_last: RevIN per window, with a learned affine map,
            centred on the last value instead of the mean.

    Exogenous variables are not supported (nor in the paper or neuralforecast).
    """

    def __init__(
        self,
        h: int,
        input_size: int,
        encoder_layers: int = 3,
        n_heads: int = 16,
        hidden_size: int = 128,
        linear_hidden_size: int = 256,
        dropout: float = 0.2,
        head_dropout: float = 0.0,
        patch_len: int = 16,
        stride: int = 8,
        revin: bool = True,
        revin_affine: bool = False,
        revin_subtract_last: bool = True,
        learning_rate: float = 1e-4,
        **base: Any,
    ) -> None:
        self.encoder_layers = encoder_layers
        self.n_heads = n_heads
        self.hidden_size = hidden_size
        self.linear_hidden_size = linear_hidden_size
        self.dropout = dropout
        self.head_dropout = head_dropout
        self.patch_len = patch_len
        self.stride = stride
        self.revin = revin
        self.revin_affine = revin_affine
        self.revin_subtract_last = revin_subtract_last
        super().__init__(h, input_size, learning_rate=learning_rate, **base)

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("encoder_layers", "n_heads", "hidden_size", "linear_hidden_size",
                     "patch_len", "stride"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if self.hidden_size % self.n_heads:
            raise ConfigError(
                f"n_heads: {self.n_heads} heads must divide hidden_size={self.hidden_size}"
            )
        for name in ("dropout", "head_dropout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise ConfigError(f"{name}: expected a fraction in [0, 1), got {value!r}")
        for name in ("revin", "revin_affine", "revin_subtract_last"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name}: expected True or False, got {getattr(self, name)!r}")

    @property
    def effective_patch_len(self) -> int:
        """``patch_len``, shortened to the padded window when that is shorter (as
        neuralforecast does): one patch then covers the whole input."""
        return min(self.patch_len, self.input_size + self.stride)

    def build_network(self) -> nn.Module:
        if self.effective_patch_len < self.patch_len:
            logger.info("PatchTST: patch_len=%d is longer than input_size + stride; using %d",
                        self.patch_len, self.effective_patch_len)  # fmt: skip
        return PatchTSTNetwork(
            self.input_size, self.h, self.loss_.outputs_per_step,
            patch_len=self.effective_patch_len,
            stride=self.stride, hidden_size=self.hidden_size, n_heads=self.n_heads,
            encoder_layers=self.encoder_layers, linear_hidden_size=self.linear_hidden_size,
            dropout=self.dropout, head_dropout=self.head_dropout, revin=self.revin,
            revin_affine=self.revin_affine, revin_subtract_last=self.revin_subtract_last,
        )  # fmt: skip


def search_space(trial: Any) -> dict[str, Any]:
    """neuralforecast's ``AutoPatchTST`` space: width, heads, patch length, RevIN, learning
    rate and batch of windows.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"hidden_size": 128, "n_heads": 4, "patch_len": 16,
    ...     "revin": True, "learning_rate": 1e-4, "windows_batch_size": 256}))["patch_len"]
    16
    """
    return {
        "hidden_size": trial.suggest_categorical("hidden_size", [16, 128, 256]),
        "n_heads": trial.suggest_categorical("n_heads", [4, 16]),
        "patch_len": trial.suggest_categorical("patch_len", [16, 24]),
        "revin": trial.suggest_categorical("revin", [False, True]),
        "learning_rate": trial.suggest_float("learning_rate", *FORECAST_LR, log=True),
        "windows_batch_size": trial.suggest_categorical("windows_batch_size", [128, 256, 512]),
    }


# Not yet a candidate of zen fit: the router's rules and History for it come with the
# long-horizon benchmark (issue 18). Known to Forecaster.load, tuning and export.
SPEC = register(
    ModelSpec(
        "PatchTST",
        "forecast",
        model_class=PatchTST,
        prior=1.05,
        build=window_builder(PatchTST),
        search_space=search_space,
        export_plan=window_model_plan,
        reference="Nie, Nguyen, Sinthong & Kalagnanam, ICLR 2023",
        candidate=False,
    )
)

__all__ = ["PatchTST", "PatchTSTNetwork", "RevIN", "patch_count", "search_space"]
