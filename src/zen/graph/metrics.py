"""Metrics for graph tasks: accuracy on a node split, ROC AUC for link prediction."""

from __future__ import annotations

import torch

from zen.errors import DataError


def accuracy(logits: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Share of nodes (or graphs) whose arg-max class is the label, optionally within ``mask``."""
    if mask is not None:
        logits, y = logits[mask], y[mask]
    if y.numel() == 0:
        raise DataError("mask: accuracy over zero nodes is undefined")
    return float((logits.argmax(dim=-1) == y).float().mean())


def roc_auc_score(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random
    negative (ties count one half), computed from ranks in :math:`O(n \\log n)`.

    >>> roc_auc_score(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
    0.75
    """
    scores, labels = scores.detach().flatten().double(), labels.flatten().bool()
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        raise DataError("labels: ROC AUC needs both positive and negative examples")
    # Mid-ranks handle ties exactly: tied scores share the average of their ranks.
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    _, inverse, counts = torch.unique_consecutive(
        sorted_scores, return_inverse=True, return_counts=True
    )
    ends = counts.cumsum(0).double()
    mid_rank = (ends - (counts.double() - 1) / 2)[inverse]
    ranks = torch.empty_like(mid_rank)
    ranks[order] = mid_rank
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
