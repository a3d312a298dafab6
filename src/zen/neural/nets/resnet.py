"""ResNet: residual convolutional networks, the time-series ResNet of Wang, Yan & Oates (2017)
for sequences and a small CIFAR-style ResNet (He et al. 2016) for images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zen.neural.nets.arguments import int_tuple, positive_int
from zen.neural.nets.candidates import (
    SEQUENCE_TRAINING,
    image_classifier,
    sequence_classifier,
    training_space,
)
from zen.neural.nets.conv_base import ConvClassifier, conv_plan
from zen.neural.nets.conv_layers import ConvBlock, MaskedBatchNorm1d
from zen.neural.nets.sequence_mask import zero_padding
from zen.registry import ModelSpec, register

#: ``(channels, kernel_sizes)`` by ``dims`` when not given.
_DEFAULTS = {1: ((64, 128, 128), (8, 5, 3)), 2: ((16, 32, 64), (3, 3))}


class ResidualBlock(nn.Module):
    r"""Convolutions with batch norm and ReLU between them, plus a shortcut:
    :math:`y = m \odot \mathrm{ReLU}(F(x) + S(x))`.

    :math:`F` is one :class:`~zen.neural.nets.conv_layers.ConvBlock` per kernel size (the
    last without activation). :math:`S` is a 1x1 convolution with batch norm when the width
    or the stride changes; otherwise batch norm alone for sequences (as in Fawaz et al.'s
    reference ResNet, ``dl-4-tsc``) and the identity for images (He et al. 2016).

    Args:
        in_channels, out_channels: widths in and out.
        kernel_sizes: one convolution per entry.
        dims: 1 (sequences, with a mask) or 2 (images).
        stride: 2 halves an image's size at the first convolution (2-D only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: Sequence[int],
        *,
        dims: int,
        stride: int = 1,
    ) -> None:
        super().__init__()
        last = len(kernel_sizes) - 1
        self.convs = nn.ModuleList(
            ConvBlock(
                in_channels if index == 0 else out_channels,
                out_channels,
                kernel,
                dims=dims,
                activation=None if index == last else "relu",
                stride=stride if index == 0 else 1,
            )
            for index, kernel in enumerate(kernel_sizes)
        )
        self.shortcut: nn.Module | None
        if in_channels != out_channels or stride != 1:
            self.shortcut = ConvBlock(
                in_channels, out_channels, 1, dims=dims, activation=None, stride=stride
            )
        elif dims == 1:
            self.shortcut = MaskedBatchNorm1d(out_channels)
        else:
            self.shortcut = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, in_channels, *positions)`` -> ``(batch, out_channels, *positions')``."""
        h = x
        for conv in self.convs:
            h = conv(h, mask)
        skip = x if self.shortcut is None else self.shortcut(x, mask)
        out = torch.relu(h + skip)
        return out if mask is None else zero_padding(out, mask)


class ResNet(ConvClassifier):
    """Residual blocks, global average pooling and a linear head.

    ``dims=1``: the time-series ResNet of Wang, Yan & Oates, "Time series classification from
    scratch with deep neural networks: a strong baseline" (IJCNN 2017), as benchmarked by
    Fawaz et al., "Deep learning for time series classification: a review" (DMKD 2019):
    three residual blocks of 64, 128 and 128 filters, each three convolutions of widths 8, 5
    and 3 with batch norm and ReLU, stride 1 and "same" padding throughout. NaN-padded
    sequences give the output of the same sequence alone (in eval mode).

    ``dims=2``: a small ResNet for small images, after He et al., "Deep residual learning for
    image recognition" (CVPR 2016, sec. 4.2, the CIFAR networks): a 3x3 stem convolution,
    stages of 16, 32 and 64 filters made of basic blocks (two 3x3 convolutions), the first
    block of every stage after the first halving the size. ``blocks_per_stage=1`` is their
    ResNet-8 and suits 8x8 digits; 3 gives ResNet-20.

    Args:
        in_channels: input channels.
        num_classes: outputs per sample (logits).
        dims: 1 for sequences ``(batch, C, length)``, 2 for images ``(batch, C, H, W)``.
        channels: filters of each stage (default: 64, 128, 128 for 1-D; 16, 32, 64 for 2-D).
        kernel_sizes: the convolution widths inside each block (8, 5, 3 for 1-D; 3, 3 for
            2-D).
        blocks_per_stage: residual blocks per entry of ``channels``.
        dropout: dropout on the pooled features before the head (the papers have none).
        image_size: ``(height, width)`` of the images (``dims=2``; needed for ONNX export).

    Example:
        >>> net = ResNet(2, 3, channels=(8, 16, 16))
        >>> net(torch.randn(5, 2, 40)).shape
        torch.Size([5, 3])
        >>> ResNet(1, 10, dims=2, image_size=(8, 8))(torch.randn(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        dims: int = 1,
        channels: Sequence[int] | None = None,
        kernel_sizes: Sequence[int] | None = None,
        blocks_per_stage: int = 1,
        dropout: float = 0.0,
        image_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            num_classes,
            dims=dims,
            pooling="avg",
            dropout=dropout,
            image_size=image_size,
        )
        default_channels, default_kernels = _DEFAULTS[dims]
        self.channels = int_tuple("channels", default_channels if channels is None else channels)
        self.kernel_sizes = int_tuple(
            "kernel_sizes", default_kernels if kernel_sizes is None else kernel_sizes
        )
        self.blocks_per_stage = positive_int("blocks_per_stage", blocks_per_stage)
        # Wang et al.'s ResNet starts with its first block; He et al.'s with a stem conv.
        self.stem = ConvBlock(in_channels, self.channels[0], 3, dims=2) if dims == 2 else None
        width = self.in_channels if self.stem is None else self.channels[0]
        blocks = []
        for stage, out_channels in enumerate(self.channels):
            for index in range(self.blocks_per_stage):
                downsample = dims == 2 and stage > 0 and index == 0
                blocks.append(
                    ResidualBlock(
                        width,
                        out_channels,
                        self.kernel_sizes,
                        dims=dims,
                        stride=2 if downsample else 1,
                    )
                )
                width = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(self.channels[-1], self.num_classes)

    def features(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if self.stem is not None:
            x = self.stem(x)
        for block in self.blocks:
            x = block(x, mask)
        return x


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the sequence ResNet: its width (the paper's 64-128-128 is ``width=64``),
    blocks per stage, dropout before the head, and the learning rate and batch size.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"width": 32, "blocks_per_stage": 1, "dropout": 0.0,
    ...                          "lr": 1e-3, "batch_size": 16}))["channels"]
    (32, 64, 64)
    """
    width = trial.suggest_categorical("width", [32, 64, 96])
    return {
        "channels": (width, 2 * width, 2 * width),
        "blocks_per_stage": trial.suggest_int("blocks_per_stage", 1, 2),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial),
    }


def image_search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the image ResNet: stage widths ``(w, 2w, 4w)`` (He et al.'s CIFAR
    networks are ``w=16``), depth (1 block per stage: ResNet-8; 3: ResNet-20), dropout, and
    the learning rate and batch size."""
    width = trial.suggest_categorical("width", [8, 16, 32])
    return {
        "channels": (width, 2 * width, 4 * width),
        "blocks_per_stage": trial.suggest_int("blocks_per_stage", 1, 3),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial),
    }


register(
    ModelSpec(
        "ResNet",
        "network",
        model_class=ResNet,
        export_plan=conv_plan,
        reference="Wang, Yan & Oates, IJCNN 2017 (1-D); He, Zhang, Ren & Sun, CVPR 2016 (2-D)",
    )
)
# zen fit's sequence candidates: the two strongest networks of the review of Fawaz et al.
# (2019) on the 85 UCR sets, ResNet first.
register(
    ModelSpec(
        "ResNet",
        "sequence classifier",
        model_class=ResNet,
        prior=1.0,
        rule_factors={"few sequences per class": 0.99},
        build=sequence_classifier(ResNet),
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=conv_plan,
        reference="Fawaz et al., Deep learning for time series classification: a review, 2019",
    )
)
# zen fit's image candidates (--as-image): small 2-D networks for small images.
register(
    ModelSpec(
        "ResNet",
        "image classifier",
        model_class=ResNet,
        prior=1.0,
        build=image_classifier(ResNet),
        search_space=image_search_space,
        training=SEQUENCE_TRAINING,
        export_plan=conv_plan,
        reference="He et al. 2016 (ResNet); LeCun et al. 1998 (ConvNets)",
    )
)
