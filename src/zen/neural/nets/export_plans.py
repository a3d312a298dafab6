"""Export plans of the sequence and image networks: dynamic batch (and length), parity checked
on NaN-padded sequences.

A sequence network takes ``x`` ``(batch, C, length)`` with NaN after each sequence's end and
returns ``(batch, K)``; its graph is traced with dynamic ``batch`` and ``length`` and checked
at every batch size times a short, the traced and a long length, with every other row of a
batch NaN-padded to a random shorter length. An image network takes ``(batch, C, H, W)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    TRACE_BATCH,
    ExportPlan,
    InputMaker,
    TensorSpec,
    batch_checks,
    random_inputs,
)
from zen.neural.nets.sequence_mask import nan_pad

#: Sequence lengths every sequence export is checked at (short, traced, long).
CHECK_LENGTHS = (5, 24, 97)
TRACE_LENGTH = 24


def sequence_plan(
    model: nn.Module,
    *,
    family: str,
    in_channels: int,
    num_outputs: int,
    metadata: Mapping[str, Any],
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    lengths: tuple[int, ...] = CHECK_LENGTHS,
    trace_length: int = TRACE_LENGTH,
) -> ExportPlan:
    """The plan of a network mapping NaN-padded ``(batch, C, length)`` to ``(batch, K)``.

    Args:
        model: the network (traced as it is, in eval mode).
        family: the sidecar's family name, e.g. ``"conv"``.
        in_channels, num_outputs: ``C`` and ``K``.
        metadata: the sidecar's ``model`` entry (class facts, config).
        batch_sizes: batch sizes of the parity check.
        lengths: sequence lengths of the parity check (each with every batch size).
        trace_length: the length of the traced example.
    """
    inputs = (
        TensorSpec(
            "x",
            ("batch", in_channels, "length"),
            description="sequences, channels first; NaN at every step after a sequence's end",
        ),
    )
    outputs = (TensorSpec("output", ("batch", num_outputs), description="logits or values"),)
    return ExportPlan(
        family=family,
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH, "length": trace_length},
        check_sizes=tuple(
            {"batch": batch, "length": length}
            for batch, length in itertools.product(batch_sizes, lengths)
        ),
        make_inputs=_padded_sequences(in_channels),
        metadata={
            "model": dict(metadata),
            "normalization": {
                "inside_graph": "NaN steps are padding: zeroed and left out of pooling",
                "outside_graph": (
                    "give sequences scaled as in training; pad shorter ones with NaN at the end"
                    " (every channel) to the batch's length"
                ),
            },
        },
        axes={"batch": "sequences per call", "length": "steps per sequence (with padding)"},
    )


def image_plan(
    model: nn.Module,
    *,
    family: str,
    in_channels: int,
    num_outputs: int,
    image_size: tuple[int, int],
    metadata: Mapping[str, Any],
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
) -> ExportPlan:
    """The plan of a network mapping images ``(batch, C, H, W)`` to ``(batch, K)``.

    Only the batch is dynamic: ``(H, W)`` is ``image_size``. (A strided network's graph
    depends on the size: torch.export specialises a downsampled size of 1.)
    """
    height, width = image_size
    inputs = (TensorSpec("x", ("batch", in_channels, height, width), description="images"),)
    outputs = (TensorSpec("output", ("batch", num_outputs), description="logits or values"),)
    return ExportPlan(
        family=family,
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH},
        check_sizes=batch_checks(batch_sizes),
        make_inputs=random_inputs(inputs),
        metadata={
            "model": dict(metadata),
            "normalization": {
                "inside_graph": "none",
                "outside_graph": "give images scaled as in training",
            },
        },
        axes={"batch": "images per call"},
    )


def _padded_sequences(in_channels: int) -> InputMaker:
    """An input maker: normal values, every odd row NaN-padded after a random length."""

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        batch, length = sizes["batch"], sizes["length"]
        x = torch.randn(batch, in_channels, length, generator=generator)
        shorter = torch.randint(1, length + 1, (batch,), generator=generator)
        lengths = torch.where(torch.arange(batch) % 2 == 1, shorter, length)
        return (nan_pad(x, lengths),)

    return make
