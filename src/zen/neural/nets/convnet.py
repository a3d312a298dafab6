"""ConvNet: a plain stack of conv -> norm -> activation blocks with global pooling, for
sequences (1-D) or images (2-D)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from zen.errors import expect_one_of
from zen.neural.nets.arguments import int_tuple
from zen.neural.nets.candidates import SEQUENCE_TRAINING, image_classifier, training_space
from zen.neural.nets.conv_base import ConvClassifier, conv_plan
from zen.neural.nets.conv_layers import NORMS, ConvBlock
from zen.registry import ModelSpec, register


class ConvNet(ConvClassifier):
    r"""Convolutional blocks, global pooling and a linear head.

    Block :math:`l` computes :math:`h_{l+1} = m \odot \phi(\mathrm{norm}(W_l * h_l))` with
    "same" padding (no striding, so every block keeps the length), :math:`m` the mask of real
    steps. The output for a NaN-padded sequence equals the output for the same sequence alone
    (in eval mode: in training, batch statistics depend on the batch).

    Args:
        in_channels: input channels (variables of a sequence, colours of an image).
        num_classes: outputs per sample (logits for classification).
        dims: 1 for sequences ``(batch, C, length)``, 2 for images ``(batch, C, H, W)``.
        channels: output channels of each block.
        kernel_sizes: kernel width of each block (as many as ``channels``; odd or even).
        norm: ``"batch"``, ``"layer"`` (over the channels of each step) or ``None``.
        activation: a :mod:`zen.neural.activations` name.
        dropout: dropout on the pooled features before the head, in [0, 1).
        pooling: ``"avg"`` or ``"max"`` over the real steps (all pixels).
        image_size: ``(height, width)`` of the images (``dims=2``; needed for ONNX export).

    Example:
        >>> net = ConvNet(3, 2, channels=(16, 16), kernel_sizes=(5, 3))
        >>> net(torch.randn(4, 3, 50)).shape
        torch.Size([4, 2])
        >>> ConvNet(1, 10, dims=2, image_size=(8, 8))(torch.randn(4, 1, 8, 8)).shape
        torch.Size([4, 10])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        dims: int = 1,
        channels: Sequence[int] = (64, 128, 128),
        kernel_sizes: Sequence[int] = (7, 5, 3),
        norm: str | None = "batch",
        activation: str = "relu",
        dropout: float = 0.0,
        pooling: str = "avg",
        image_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            num_classes,
            dims=dims,
            pooling=pooling,
            dropout=dropout,
            image_size=image_size,
        )
        self.channels = int_tuple("channels", channels)
        self.kernel_sizes = int_tuple("kernel_sizes", kernel_sizes, length=len(self.channels))
        if norm is not None and norm not in NORMS:
            raise expect_one_of("norm", norm, ["None", *NORMS])
        self.norm = norm
        self.activation = activation
        widths = (self.in_channels, *self.channels)
        self.blocks = nn.ModuleList(
            ConvBlock(
                widths[index],
                widths[index + 1],
                kernel,
                dims=dims,
                norm=norm,
                activation=activation,
            )
            for index, kernel in enumerate(self.kernel_sizes)
        )
        self.head = nn.Linear(self.channels[-1], self.num_classes)

    def features(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, mask)
        return x


def image_search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the image ConvNet: widths ``(w, 2w, 2w)``, dropout before the head,
    and the learning rate and batch size."""
    width = trial.suggest_categorical("width", [16, 32, 64])
    return {
        "channels": (width, 2 * width, 2 * width),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial),
    }


register(ModelSpec("ConvNet", "network", model_class=ConvNet, export_plan=conv_plan))
# zen fit's image candidates (--as-image): small 2-D networks for small images.
register(
    ModelSpec(
        "ConvNet",
        "image classifier",
        model_class=ConvNet,
        prior=1.02,
        build=image_classifier(ConvNet),
        search_space=image_search_space,
        training=SEQUENCE_TRAINING,
        export_plan=conv_plan,
        reference="He et al. 2016 (ResNet); LeCun et al. 1998 (ConvNets)",
    )
)
