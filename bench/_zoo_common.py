"""Small helpers the parts of ``bench_neural_zoo`` share: the digits split, accuracy, AUROC."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zen.neural.datasets import load_digits_images


def digits_split(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 1,797 8x8 digits ``(n, 1, 8, 8)`` in [0, 1] split per class (stratified) into
    train and test: ``X_train, y_train, X_test, y_test``."""
    X, y = load_digits_images()
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        test[members[: round(test_fraction * len(members))]] = True
    return X[~test], y[~test], X[test], y[test]


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    """Test accuracy (%) of a classifier's logits, in eval mode."""
    model.eval()
    with torch.inference_mode():
        predicted = model(torch.from_numpy(X)).argmax(dim=1).numpy()
    return 100.0 * float(np.mean(predicted == y))


def auroc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a positive scores above a negative
    (ties count half), by the Mann-Whitney rank-sum formula with mid-ranks for ties.

    >>> auroc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([False, False, True, True]))
    0.75
    >>> auroc(np.array([1.0, 1.0]), np.array([False, True]))
    0.5
    """
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):  # mid-ranks (1-based) over runs of equal scores
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    n_positive, n_negative = int(positive.sum()), int((~positive).sum())
    if n_positive == 0 or n_negative == 0:
        raise ValueError("auroc: needs at least one positive and one negative case")
    rank_sum = ranks[positive].sum()
    return float((rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative))
