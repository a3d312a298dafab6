"""NaN padding of variable-length sequences: the mask it encodes and pooling that respects it.

A batch of sequences of different lengths is one ``(batch, channels, length)`` tensor in which
every channel of a step after a sequence's end is NaN (``zen.neural.nets`` contract). A network
turns it into zeros plus a mask with :func:`padding_mask`, keeps padded steps at zero between
layers, and pools with :func:`masked_mean` or :func:`masked_max`, so that padding never changes
its output. All of this is element-wise tensor arithmetic (``IsNaN`` and ``Where`` in ONNX), so
exported graphs need no second input for the lengths.

>>> x = torch.tensor([[[1.0, 2.0, float("nan")]], [[3.0, 4.0, 5.0]]])  # (2, 1, 3)
>>> filled, mask = padding_mask(x)
>>> mask
tensor([[ True,  True, False],
        [ True,  True,  True]])
>>> masked_mean(filled, mask)
tensor([[1.5000],
        [4.0000]])
"""

from __future__ import annotations

import torch

__all__ = ["masked_max", "masked_mean", "nan_pad", "padding_mask", "zero_padding"]


def padding_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split NaN-padded sequences into zero-filled values and a mask of the real steps.

    A step is padding when any of its channels is NaN: the data loader interpolates missing
    values inside a sequence, so the only NaN a network sees is padding.

    Args:
        x: ``(batch, channels, length)``, NaN at the padded steps.

    Returns:
        ``(x_filled, mask)``: ``x`` with every padded step set to 0 (same shape), and a
        ``(batch, length)`` bool tensor, True at real steps. ``mask.sum(-1)`` are the lengths.
    """
    mask = ~torch.isnan(x).any(dim=1)
    return x.masked_fill(~mask.unsqueeze(1), 0.0), mask


def zero_padding(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``h`` ``(batch, channels, length)`` with its padded steps set to 0.

    Applied after every layer that mixes neighbouring steps, it makes the next layer see at a
    sequence's end the same zeros that "same" padding puts after an unpadded sequence.
    """
    return h.masked_fill(~mask.unsqueeze(1), 0.0)


def masked_mean(h: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Average of ``h`` over the real steps only: :math:`\sum_t m_t h_t / \max(1, \sum_t m_t)`.

    Args:
        h: ``(batch, channels, length)`` with the time axis at ``dim`` (pass ``dim=1`` for
            ``(batch, length, features)``). Padded steps may hold anything, NaN included.
        mask: ``(batch, length)`` bool, True at real steps (from :func:`padding_mask`).
        dim: the time axis of ``h``.

    Returns:
        ``h`` without its time axis, e.g. ``(batch, channels)``; zeros for an empty sequence.
    """
    kept = _broadcast_mask(mask, h, dim)
    # where, not a product: a padded step's value is ignored even when it is NaN.
    total = torch.where(kept, h, torch.zeros_like(h)).sum(dim=dim)
    return total / kept.sum(dim=dim).clamp(min=1).to(h.dtype)


def masked_max(h: torch.Tensor, mask: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Maximum of ``h`` over the real steps only; arguments as for :func:`masked_mean`.

    An empty sequence (no real step) gives zeros rather than ``-inf``, so the head after it
    stays finite.
    """
    expanded = _broadcast_mask(mask, h, dim)
    largest = h.masked_fill(~expanded, float("-inf")).amax(dim=dim)
    return torch.where(expanded.any(dim=dim), largest, torch.zeros_like(largest))


def nan_pad(x: torch.Tensor, lengths: torch.Tensor | list[int]) -> torch.Tensor:
    """A copy of ``x`` ``(batch, channels, length)`` with every step at or after
    ``lengths[i]`` of row ``i`` set to NaN: how a loader pads sequences of different lengths.

    >>> nan_pad(torch.ones(2, 1, 3), [3, 1])
    tensor([[[1., 1., 1.]],
    <BLANKLINE>
            [[1., nan, nan]]])
    """
    steps = torch.arange(x.shape[-1], device=x.device)
    ends = torch.as_tensor(lengths, device=x.device).reshape(-1, 1)
    return x.masked_fill((steps >= ends).unsqueeze(1), float("nan"))


def _broadcast_mask(mask: torch.Tensor, h: torch.Tensor, dim: int) -> torch.Tensor:
    """``mask`` ``(batch, length)`` shaped to broadcast against ``h`` along time axis ``dim``."""
    dim = dim % h.dim()
    shape = [1] * h.dim()
    shape[0], shape[dim] = mask.shape[0], mask.shape[1]
    return mask.reshape(shape)
