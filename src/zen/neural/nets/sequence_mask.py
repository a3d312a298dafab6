"""NaN padding of variable-length sequences: which steps are real, and means over them.

Sequences come as one ``(batch, channels, length)`` tensor in which every channel of a step
after a sequence's end is NaN. ``padding_mask`` turns that into zero-filled values and a
``(batch, length)`` mask; ``masked_mean`` averages over the real steps only.
"""

from __future__ import annotations

import torch


def padding_mask(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split NaN-padded sequences into values and a mask of the real steps.

    Args:
        x: ``(batch, channels, length)``, NaN in every channel of a padding step.

    Returns:
        ``(x_filled, mask)``: ``x`` with NaN replaced by 0 (same shape), and
        ``mask = ~isnan(x).any(1)`` of shape ``(batch, length)``, True at real steps.

    Example:
        >>> x = torch.tensor([[[1.0, 2.0, float("nan")]]])
        >>> filled, mask = padding_mask(x)
        >>> filled.tolist(), mask.tolist()
        ([[[1.0, 2.0, 0.0]]], [[True, True, False]])
    """
    missing = torch.isnan(x)
    # masked_fill, not nan_to_num: it lowers to ONNX Where, and 0 is what padding contributes.
    return x.masked_fill(missing, 0.0), ~missing.any(dim=1)


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    r"""Mean of ``h`` over the real steps: :math:`\sum_t m_t h_{:,t} / \max(1, \sum_t m_t)`.

    Args:
        h: ``(batch, channels, length)``; values at padding steps are ignored (even NaN).
        mask: ``(batch, length)``, True at real steps.

    Returns:
        ``(batch, channels)``; zeros for a row without real steps.

    Example:
        >>> h = torch.tensor([[[1.0, 3.0, 100.0]]])
        >>> masked_mean(h, torch.tensor([[True, True, False]])).tolist()
        [[2.0]]
    """
    kept = mask.unsqueeze(1)
    total = torch.where(kept, h, torch.zeros_like(h)).sum(dim=-1)
    count = kept.sum(dim=-1).clamp(min=1)
    return total / count.to(h.dtype)
