"""Layers the convolutional networks share: a conv -> norm -> activation block that keeps
NaN-padded steps at zero, and normalisations that ignore padding.

Sequences arrive with a ``(batch, length)`` mask (:mod:`zen.neural.nets.sequence_mask`);
images come without one (``mask=None``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from zen.errors import expect_one_of
from zen.neural import activations
from zen.neural.nets.sequence_mask import zero_padding

#: Normalisations a conv block can use (``None``: none, and the conv gets a bias instead).
NORMS = ("batch", "layer")


class MaskedBatchNorm1d(nn.BatchNorm1d):
    r"""Batch normalisation whose training statistics come from the real steps only.

    Ordinary ``BatchNorm1d`` averages over every step, padding included, so the running
    statistics (and hence the trained network) would depend on how much padding the batches
    held. Here, in training mode with a mask,

    .. math:: \mu_c = \frac{\sum_{b,t} m_{bt} h_{bct}}{\sum_{b,t} m_{bt}}, \quad
              \sigma^2_c = \frac{\sum_{b,t} m_{bt} (h_{bct} - \mu_c)^2}{\sum_{b,t} m_{bt}},

    and the running statistics are updated as PyTorch does (unbiased variance, ``momentum``).
    In evaluation mode, or without a mask, it is exactly ``BatchNorm1d`` (same parameters and
    buffers, so checkpoints and ONNX export see a plain batch norm).

    Args (``forward``):
        x: ``(batch, channels, length)``.
        mask: ``(batch, length)`` bool, True at real steps, or None.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is None or not self.training:
            return super().forward(x)
        weights = mask.unsqueeze(1).to(x.dtype)
        count = weights.sum().clamp(min=1.0)
        mean = (x * weights).sum(dim=(0, 2)) / count
        variance = (((x - mean[:, None]) * weights) ** 2).sum(dim=(0, 2)) / count
        if self.track_running_stats and self.running_mean is not None:
            self._update_running_stats(mean, variance, count)
        out = (x - mean[:, None]) * torch.rsqrt(variance[:, None] + self.eps)
        if self.affine:
            out = out * self.weight[:, None] + self.bias[:, None]
        return out

    @torch.no_grad()
    def _update_running_stats(
        self, mean: torch.Tensor, variance: torch.Tensor, count: torch.Tensor
    ) -> None:
        assert self.running_mean is not None and self.running_var is not None
        assert self.num_batches_tracked is not None
        self.num_batches_tracked.add_(1)
        # momentum=None means a cumulative average, as in torch.nn.BatchNorm1d.
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        unbiased = variance * count / (count - 1.0).clamp(min=1.0)
        self.running_mean.lerp_(mean, factor)
        self.running_var.lerp_(unbiased, factor)


class ChannelLayerNorm(nn.LayerNorm):
    """Layer normalisation over the channels of each step (or pixel) separately.

    Each position is normalised on its own, so padding cannot leak into real steps, and the
    layer works for any length or image size (``nn.GroupNorm(1, C)`` would mix positions).

    Args (``forward``):
        x: ``(batch, channels, *positions)``.
        mask: ignored (accepted so every norm is called the same way).
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        moved = x.movedim(1, -1)
        normed = F.layer_norm(moved, self.normalized_shape, self.weight, self.bias, self.eps)
        return normed.movedim(-1, 1)


def make_norm(norm: str | None, channels: int, dims: int) -> nn.Module | None:
    """The normalisation layer called ``norm`` for ``channels`` channels of 1-D or 2-D data."""
    if norm is None:
        return None
    if norm == "batch":
        return MaskedBatchNorm1d(channels) if dims == 1 else nn.BatchNorm2d(channels)
    if norm == "layer":
        return ChannelLayerNorm(channels)
    raise expect_one_of("norm", norm, ["None", *NORMS])


class ConvBlock(nn.Module):
    r"""``conv -> norm -> activation``, then padded steps set back to zero.

    :math:`h' = m \odot \phi(\mathrm{norm}(W * h))`, where :math:`m` is the sequence mask (no
    mask for images). Zeroing after the block makes the next convolution see the zeros that
    "same" padding would put after an unpadded sequence, so a NaN-padded sequence gives
    exactly the output of the same sequence alone.

    Args:
        in_channels, out_channels: channels in and out.
        kernel_size: the convolution's width (odd or even).
        dims: 1 for sequences ``(batch, C, length)``, 2 for images ``(batch, C, H, W)``.
        norm: ``"batch"``, ``"layer"`` or ``None`` (then the convolution has a bias; with a
            norm it has none, since the norm's shift replaces it).
        activation: a :mod:`zen.neural.activations` name, or ``None`` for none (the last conv
            of a residual branch).
        stride: 2 to halve an image's size (2-D only).

    At stride 1 the size is kept ("same" padding): an even kernel gets its extra zero after
    the end, as in Keras (Wang et al.'s reference code) and PyTorch's ``padding="same"``,
    which is not used because it warns about a copy for even kernels; here the extra zero is
    one explicit ``F.pad`` (an ONNX ``Pad``). At stride 2 the padding is ``kernel_size // 2``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        *,
        dims: int,
        norm: str | None = "batch",
        activation: str | None = "relu",
        stride: int = 1,
    ) -> None:
        super().__init__()
        conv_class = nn.Conv1d if dims == 1 else nn.Conv2d
        self.conv = conv_class(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2 if stride > 1 else (kernel_size - 1) // 2,
            bias=norm is None,
        )
        even = stride == 1 and kernel_size % 2 == 0
        self.extra_padding = (0, 1) * dims if even else ()
        self.norm = make_norm(norm, out_channels, dims)
        self.activation = activations.resolve(activation)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(batch, in_channels, *positions)`` -> ``(batch, out_channels, *positions)``."""
        h = self.conv(F.pad(x, self.extra_padding) if self.extra_padding else x)
        if self.norm is not None:
            h = self.norm(h) if mask is None else self.norm(h, mask)
        h = self.activation(h)
        return h if mask is None else zero_padding(h, mask)
