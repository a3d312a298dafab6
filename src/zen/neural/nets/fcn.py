"""FCN: the fully convolutional time-series classifier of Wang, Yan & Oates (IJCNN 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from zen.neural.nets.candidates import SEQUENCE_TRAINING, sequence_classifier, training_space
from zen.neural.nets.conv_base import conv_plan
from zen.neural.nets.convnet import ConvNet
from zen.registry import ModelSpec, register


class FCN(ConvNet):
    r"""Three conv -> batch norm -> ReLU blocks, global average pooling, a linear head.

    Wang, Yan & Oates, "Time series classification from scratch with deep neural networks:
    a strong baseline", IJCNN 2017, sec. II-B: 128, 256 and 128 filters of widths 8, 5 and 3,
    stride 1, "same" padding, no pooling inside, and the average over time feeding a softmax
    layer (here: logits for cross-entropy). It is a :class:`~zen.neural.nets.convnet.ConvNet`
    with those settings fixed, and keeps its padding semantics: a NaN-padded sequence gives
    the output of the same sequence alone.

    Args:
        in_channels: input channels (variables of the series).
        num_classes: outputs per sample (logits).
        dims: 1 for sequences (the paper's setting), 2 for images.
        channels: filters of the three blocks (the paper's 128, 256, 128 by default).
        kernel_sizes: widths of the three blocks (8, 5, 3).
        dropout: dropout on the pooled features before the head (the paper has none).
        image_size: ``(height, width)`` of the images (``dims=2``; needed for ONNX export).

    Example:
        >>> import torch
        >>> net = FCN(1, 3, channels=(8, 16, 8))
        >>> net(torch.randn(2, 1, 30)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        dims: int = 1,
        channels: Sequence[int] = (128, 256, 128),
        kernel_sizes: Sequence[int] = (8, 5, 3),
        dropout: float = 0.0,
        image_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            num_classes,
            dims=dims,
            channels=channels,
            kernel_sizes=kernel_sizes,
            norm="batch",
            activation="relu",
            dropout=dropout,
            pooling="avg",
            image_size=image_size,
        )


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the FCN: filters ``(w, 2w, w)`` (the paper's 128-256-128 is
    ``width=128``), dropout before the head, and the learning rate and batch size.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"width": 64, "dropout": 0.1, "lr": 1e-3,
    ...                          "batch_size": 8}))["channels"]
    (64, 128, 64)
    """
    width = trial.suggest_categorical("width", [32, 64, 128])
    return {
        "channels": (width, 2 * width, width),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial),
    }


register(
    ModelSpec(
        "FCN",
        "network",
        model_class=FCN,
        export_plan=conv_plan,
        reference="Wang, Yan & Oates, Time series classification from scratch, IJCNN 2017",
    )
)
# zen fit's sequence candidates: the two strongest networks of the review of Fawaz et al.
# (2019) on the 85 UCR sets, FCN a close second.
register(
    ModelSpec(
        "FCN",
        "sequence classifier",
        model_class=FCN,
        prior=1.01,
        rule_factors={"few sequences per class": 0.99},
        build=sequence_classifier(FCN),
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=conv_plan,
        reference="Fawaz et al., Deep learning for time series classification: a review, 2019",
    )
)
