"""Export plans of sequence networks: ``x (batch, channels, length)`` in, ``(batch, K)`` out.

Both the batch and the length axis are dynamic. The parity check runs every batch size at
every length in the plan, with NaN padding after the end of every other sequence, so the
exported graph is checked on the same variable-length batches the network takes in eager mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from zen.neural.export_plan import TRACE_BATCH, ExportPlan, InputMaker, TensorSpec


def nan_padded_inputs(in_channels: int) -> InputMaker:
    """Normal ``(batch, in_channels, length)`` inputs; every odd row ends early (NaN after).

    Row 0 always has the full length, so the batch uses every step it is given.
    """

    def make(sizes: Mapping[str, int], generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        batch, length = sizes["batch"], sizes["length"]
        x = torch.randn(batch, in_channels, length, generator=generator)
        for row in range(1, batch, 2):
            end = int(torch.randint(1, length + 1, (1,), generator=generator))
            x[row, :, end:] = float("nan")
        return (x,)

    return make


def sequence_plan(
    model: nn.Module,
    *,
    family: str,
    in_channels: int,
    num_outputs: int,
    trace_length: int,
    lengths: Sequence[int],
    batch_sizes: Sequence[int],
    model_facts: dict[str, Any],
) -> ExportPlan:
    """The plan of a sequence network (see the module docstring).

    Args:
        model: the network; traced as it is.
        family: the sidecar's family name (``"recurrent"``, ``"transformer"``...).
        in_channels, num_outputs: the static sizes of input and output.
        trace_length: the length of the example traced; above 1, so that torch.export keeps
            the axis dynamic.
        lengths: the lengths the parity check runs (short, the trace length, long).
        batch_sizes: the batch sizes the parity check runs at every length.
        model_facts: what the sidecar says about the model (its config).
    """
    inputs = (
        TensorSpec(
            "x",
            ("batch", in_channels, "length"),
            description="sequences, channels first; NaN in every channel after a sequence ends",
        ),
    )
    outputs = (
        TensorSpec(
            "output",
            ("batch", num_outputs),
            description="logits (classification) or values (regression)",
        ),
    )
    return ExportPlan(
        family=family,
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH, "length": trace_length},
        check_sizes=tuple(
            {"batch": batch, "length": length} for length in lengths for batch in batch_sizes
        ),
        make_inputs=nan_padded_inputs(in_channels),
        metadata={
            "model": model_facts,
            "normalization": {
                "inside_graph": "NaN steps are read as padding after a sequence's end",
                "outside_graph": "give the values exactly as the network was trained on; pad"
                " shorter sequences of a batch with NaN at their end",
            },
        },
        axes={"batch": "sequences per call", "length": "time steps per call (longest sequence)"},
    )
