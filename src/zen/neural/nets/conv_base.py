"""What ConvNet, ResNet and FCN share: input checks, NaN padding to a mask, global pooling, the
linear head, ``config()``/``from_config()`` and the export plan.

A subclass builds its convolutional body in ``__init__`` (after ``super().__init__``), sets
``self.head``, stores every constructor argument under its own name (``config()`` reads them
back through the constructor's signature) and implements :meth:`ConvClassifier.features`.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from typing import Any, Self

import torch
from torch import nn

from zen.errors import ConfigError, DataError, expect_one_of
from zen.neural.export_plan import DEFAULT_BATCH_SIZES, DEFAULT_GRAPH_SIZES, ExportPlan
from zen.neural.hub import NetworkHubMixin
from zen.neural.nets.arguments import int_tuple, positive_int
from zen.neural.nets.export_plans import image_plan, sequence_plan
from zen.neural.nets.sequence_mask import masked_max, masked_mean, padding_mask

#: Global pooling over time (or over the image) before the head.
POOLINGS = ("avg", "max")


class ConvClassifier(nn.Module, NetworkHubMixin):
    """Base of the convolutional networks: ``x -> features -> global pooling -> linear``.

    Sequences (``dims=1``) are ``(batch, in_channels, length)`` with NaN after each
    sequence's end (:mod:`zen.neural.nets.sequence_mask`); images (``dims=2``) are
    ``(batch, in_channels, height, width)``. The output is ``(batch, num_classes)`` logits.

    Args:
        in_channels: channels (variables) of the input, >= 1.
        num_classes: outputs per sample, >= 1 (logits for cross-entropy, or values).
        dims: 1 for sequences, 2 for images.
        pooling: ``"avg"`` or ``"max"`` over the real steps (all pixels).
        dropout: probability of zeroing a pooled feature before the head, in [0, 1).
        image_size: ``(height, width)`` of the images (``dims=2`` only, optional): inputs of
            another size are refused, and ONNX export (which needs a fixed size: the 2-D
            ResNet's strides make the exporter specialise it) uses it.
    """

    head: nn.Linear

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        dims: int,
        pooling: str = "avg",
        dropout: float = 0.0,
        image_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int("in_channels", in_channels)
        self.num_classes = positive_int("num_classes", num_classes)
        if dims not in (1, 2) or isinstance(dims, bool):
            raise ConfigError(f"dims: expected 1 (sequences) or 2 (images), got {dims!r}")
        if pooling not in POOLINGS:
            raise expect_one_of("pooling", pooling, POOLINGS)
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ConfigError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.image_size: tuple[int, int] | None = None
        if image_size is not None:
            if dims != 2:
                raise ConfigError(f"image_size: only for images (dims=2), got {image_size!r}")
            height, width = int_tuple("image_size", image_size, length=2)
            self.image_size = (height, width)
        self.dims = dims
        self.pooling = pooling
        self.dropout = float(dropout)
        # The Trainer lets NaN through only to networks that read it as padding.
        self.nan_padding = dims == 1
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def features(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """The convolutional body: ``x`` (zero at padded steps) -> ``(batch, F, *positions)``,
        zero at padded steps again; ``mask`` is ``(batch, length)`` or None for images."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(batch, in_channels, length)`` (or ``..., height, width)``) to
        ``(batch, num_classes)``."""
        self._check_input(x)
        mask = None
        if self.dims == 1:
            x, mask = padding_mask(x)
        pooled = self._pool(self.features(x, mask), mask)
        return self.head(self.drop(pooled))

    def _check_input(self, x: torch.Tensor) -> None:
        positions = "length" if self.dims == 1 else "height, width"
        if self.image_size is not None:
            positions = ", ".join(str(size) for size in self.image_size)
        mismatch = self.image_size is not None and tuple(x.shape[2:]) != self.image_size
        if x.dim() != self.dims + 2 or x.shape[1] != self.in_channels or mismatch:
            raise DataError(
                f"x: expected shape (batch, {self.in_channels}, {positions}), got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise DataError(f"x: expected a floating-point tensor, got dtype {x.dtype}")

    def _pool(self, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        if mask is not None:
            return masked_mean(h, mask) if self.pooling == "avg" else masked_max(h, mask)
        flat = h.flatten(2)
        return flat.mean(-1) if self.pooling == "avg" else flat.amax(-1)

    def reset_parameters(self) -> None:
        """Re-initialise every layer (PyTorch's default initialisation of each)."""
        for module in self.modules():
            reset = getattr(module, "reset_parameters", None)
            if module is not self and callable(reset):
                reset()

    def config(self) -> dict[str, Any]:
        """The constructor's arguments as JSON; :meth:`from_config` rebuilds the network."""
        names = [name for name in inspect.signature(type(self).__init__).parameters][1:]
        return {name: _json_value(getattr(self, name)) for name in names}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={value}" for name, value in self.config().items())


def conv_plan(
    model: ConvClassifier,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The export plan of a :class:`ConvClassifier`: sequences with NaN padding, or images."""
    metadata = {"class": type(model).__name__, "config": model.config()}
    if model.dims == 1:
        return sequence_plan(
            model,
            family="conv",
            in_channels=model.in_channels,
            num_outputs=model.num_classes,
            metadata=metadata,
            batch_sizes=batch_sizes,
        )
    if model.image_size is None:
        raise ConfigError(
            f"image_size: exporting a 2-D {type(model).__name__} needs its image size; build it"
            " with image_size=(height, width) (from_config({**config, 'image_size': ...}) and"
            " load_state_dict keep trained weights)"
        )
    return image_plan(
        model,
        family="conv",
        in_channels=model.in_channels,
        num_outputs=model.num_classes,
        image_size=model.image_size,
        metadata=metadata,
        batch_sizes=batch_sizes,
    )


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
