"""Input checks shared by the sequence networks: the shape of ``x`` and where its NaN may be.

The shape check runs always (it reads only static sizes). The padding check reads values, so it
runs in eager mode only: ``torch.export`` and ``torch.compile`` cannot branch on data, and an
exported graph has no way to raise anyway.
"""

from __future__ import annotations

import torch

from zen.errors import DataError


def check_sequence_shape(x: torch.Tensor, in_channels: int) -> None:
    """Raise :class:`DataError` unless ``x`` is ``(batch, in_channels, length)`` with length >= 1.

    >>> check_sequence_shape(torch.zeros(2, 3, 5), 3)
    """
    if x.dim() != 3 or x.shape[1] != in_channels or x.shape[2] == 0:
        raise DataError(
            f"x: expected shape (batch, {in_channels}, length) with length >= 1, got"
            f" {tuple(x.shape)}"
        )


def check_padding(mask: torch.Tensor, max_length: int | None = None) -> None:
    """Raise :class:`DataError` when NaN is anything but padding after a sequence's end.

    Args:
        mask: ``(batch, length)``, True at real steps (see
            :func:`zen.neural.nets.sequence_mask.padding_mask`).
        max_length: the longest sequence the network accepts (``None``: any).

    Raises:
        DataError: a row has no real step, a real step after padding (a NaN inside the
            sequence), or more than ``max_length`` steps.
    """
    if torch.compiler.is_compiling():
        return
    empty = ~mask.any(dim=1)
    if bool(empty.any()):
        row = int(empty.nonzero()[0, 0])
        raise DataError(
            f"x: row {row} is all NaN, an empty sequence; give every sequence at least one step"
        )
    # A real step right after a padding step means NaN inside a sequence.
    resumed = mask[:, 1:] & ~mask[:, :-1]
    if bool(resumed.any()):
        row, step = (int(value) for value in resumed.nonzero()[0])
        raise DataError(
            f"x: row {row} has NaN at step {step} followed by real steps; NaN may only pad a"
            " sequence after its end, so interpolate missing values inside sequences first"
        )
    if max_length is not None and mask.shape[1] > max_length:
        longest = int(mask.sum(dim=1).max())
        if longest > max_length:
            raise DataError(
                f"x: a sequence has {longest} steps, more than max_length={max_length}; cut"
                " the sequences or build the network with a larger max_length"
            )
