"""The MLP baseline of time-series (and image) classification: the whole input as one flat vector.

Wang, Yan & Oates (2017) and the review of Fawaz et al. (2019): dropout 0.1, then three ReLU
layers of 500 units with dropout 0.2, 0.2 and 0.3, then the classes. It sees every time step as
its own feature, so it needs one fixed length: shorter sequences are padded with zeros at the
end, as their NaN padding says (see :mod:`zen.neural.nets`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from zen.errors import ConfigError, DataError
from zen.neural.export_plan import (
    TRACE_BATCH,
    ExportPlan,
    TensorSpec,
    batch_checks,
    random_inputs,
)
from zen.neural.hub import NetworkHubMixin
from zen.neural.nets.arguments import int_tuple
from zen.neural.nets.candidates import SEQUENCE_TRAINING, training_space
from zen.registry import ModelSpec, register


class SequenceMLP(nn.Module, NetworkHubMixin):
    """Flatten ``(batch, channels, length)`` and classify it with an MLP.

    Args:
        in_channels: channels per time step.
        length: time steps it reads; a shorter input is zero-padded at the end, a longer one is
            refused.
        num_classes: outputs (logits).
        hidden: units per hidden layer.
        dropout: dropout before each layer (input first), one per layer of ``hidden`` plus one.
        image_size: ``(height, width)``: read images ``(batch, in_channels, height, width)``
            instead of sequences (``length`` is then ``height * width``).

    >>> SequenceMLP(2, 30, 3)(torch.zeros(4, 2, 30)).shape
    torch.Size([4, 3])
    >>> SequenceMLP(1, 64, 10, image_size=(8, 8))(torch.zeros(5, 1, 8, 8)).shape
    torch.Size([5, 10])
    """

    nan_padding = True

    def __init__(
        self,
        in_channels: int,
        length: int,
        num_classes: int,
        hidden: Sequence[int] = (500, 500, 500),
        dropout: Sequence[float] = (0.1, 0.2, 0.2, 0.3),
        image_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.image_size = None if image_size is None else int_tuple("image_size", image_size,
                                                                    length=2)  # fmt: skip
        if self.image_size is not None and self.image_size[0] * self.image_size[1] != length:
            raise ConfigError(
                f"image_size: {self.image_size} holds {self.image_size[0] * self.image_size[1]}"
                f" pixels, but length is {length}; pass length=height*width"
            )
        for name, value in (("in_channels", in_channels), ("length", length),
                            ("num_classes", num_classes)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if len(dropout) != len(hidden) + 1 or not all(0.0 <= p < 1.0 for p in dropout):
            raise ConfigError(
                f"dropout: expected {len(hidden) + 1} probabilities in [0, 1) (one before each"
                f" layer), got {list(dropout)!r}"
            )
        self.in_channels, self.length, self.num_classes = in_channels, length, num_classes
        self.hidden, self.dropout = [int(size) for size in hidden], [float(p) for p in dropout]
        sizes = [in_channels * length, *self.hidden]
        layers: list[nn.Module] = []
        for index, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            layers += [nn.Dropout(self.dropout[index]), nn.Linear(fan_in, fan_out), nn.ReLU()]
        layers += [nn.Dropout(self.dropout[-1]), nn.Linear(sizes[-1], num_classes)]
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` of ``x`` ``(batch, in_channels, <= length)`` (or of
        images ``(batch, in_channels, height, width)``)."""
        if self.image_size is not None:
            if (
                x.dim() != 4
                or x.shape[1] != self.in_channels
                or tuple(x.shape[2:]) != tuple(self.image_size)
            ):
                raise DataError(
                    f"x: expected images of shape (batch, {self.in_channels},"
                    f" {self.image_size[0]}, {self.image_size[1]}), got {tuple(x.shape)}"
                )
            return self.layers(x.flatten(1))
        if x.dim() != 3 or x.shape[1] != self.in_channels or x.shape[2] > self.length:
            raise DataError(
                f"x: expected shape (batch, {self.in_channels}, length <= {self.length}), got"
                f" {tuple(x.shape)}"
            )
        filled = torch.nan_to_num(x, nan=0.0)
        filled = nn.functional.pad(filled, (0, self.length - x.shape[2]))
        return self.layers(filled.flatten(1))

    def config(self) -> dict[str, Any]:
        """The constructor's arguments, for :meth:`from_config` (Trainer checkpoints)."""
        return {"in_channels": self.in_channels, "length": self.length,
                "num_classes": self.num_classes, "hidden": self.hidden,
                "dropout": self.dropout, "image_size": self.image_size}  # fmt: skip

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SequenceMLP:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"{self.in_channels}x{self.length} -> {self.num_classes}, hidden={self.hidden}"


def sequence_mlp_plan(model: SequenceMLP, batch_sizes: tuple[int, ...] = (1, 2, 7, 64),
                      **_: Any) -> ExportPlan:  # fmt: skip
    """Export plan: a fixed length or image size (the trained one), any batch size."""
    fixed = (model.length,) if model.image_size is None else model.image_size
    what = "sequences" if model.image_size is None else "images"
    inputs = (TensorSpec("x", ("batch", model.in_channels, *fixed), description=what),)
    outputs = (TensorSpec("output", ("batch", model.num_classes), description="class logits"),)
    return ExportPlan(
        family="sequence" if model.image_size is None else "image",
        model_class=type(model).__name__, module=model, inputs=inputs,
        outputs=outputs, trace_sizes={"batch": TRACE_BATCH}, check_sizes=batch_checks(batch_sizes),
        make_inputs=random_inputs(inputs), metadata={"model": model.config()},
        axes={"batch": f"{what} per call"},
    )  # fmt: skip


def build(shape: tuple[int, ...], options: Mapping[str, Any]) -> SequenceMLP:
    """``zen fit``'s builder: ``shape`` is ``(channels, length, classes)`` for sequences and
    ``(channels, height, width, classes)`` for images."""
    if len(shape) == 4:
        channels, height, width, classes = shape
        return SequenceMLP(channels, height * width, classes, image_size=(height, width),
                           **dict(options))  # fmt: skip
    channels, length, classes = shape
    return SequenceMLP(channels, length, classes, **dict(options))


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the MLP baseline: width and depth of the hidden layers, dropout on the
    input and on the hidden layers (the paper's 0.1 and 0.2-0.3), learning rate and batch
    size.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"width": 250, "depth": 2, "input_dropout": 0.1,
    ...     "hidden_dropout": 0.2, "lr": 1e-3, "batch_size": 16}))["hidden"]
    (250, 250)
    """
    width = trial.suggest_categorical("width", [250, 500, 1000])
    depth = trial.suggest_int("depth", 1, 3)
    hidden_dropout = trial.suggest_float("hidden_dropout", 0.0, 0.5)
    return {
        "hidden": (width,) * depth,
        "dropout": (trial.suggest_float("input_dropout", 0.0, 0.3), *(hidden_dropout,) * depth),
        **training_space(trial),
    }


register(
    ModelSpec("SequenceMLP", "network", model_class=SequenceMLP, export_plan=sequence_mlp_plan)
)
register(
    ModelSpec(
        "MLP",
        "sequence classifier",
        model_class=SequenceMLP,
        prior=1.15,
        rule_factors={"unequal lengths": 1.05, "long sequences": 1.05},
        build=build,
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=sequence_mlp_plan,
        reference="Wang, Yan & Oates 2017; Fawaz et al. 2019",
    )
)
register(
    ModelSpec(
        "MLP",
        "image classifier",
        model_class=SequenceMLP,
        prior=1.10,
        build=build,
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=sequence_mlp_plan,
        reference="Wang, Yan & Oates 2017; Fawaz et al. 2019",
    )
)
