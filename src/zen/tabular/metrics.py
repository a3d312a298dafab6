"""Scores for tabular predictions, on plain numpy arrays (labels or values)."""

from __future__ import annotations

import numpy as np


def accuracy(true: np.ndarray, predicted: np.ndarray) -> float:
    """Share of rows whose predicted label equals the true one."""
    return float(np.mean(np.asarray(true) == np.asarray(predicted)))


def macro_f1(true: np.ndarray, predicted: np.ndarray) -> float:
    """F1 averaged over the classes present in ``true`` (each class counts equally)."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    scores = []
    for label in np.unique(true):
        hits = np.sum((predicted == label) & (true == label))
        precision = hits / max(np.sum(predicted == label), 1)
        recall = hits / max(np.sum(true == label), 1)
        scores.append(0.0 if hits == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def r2(true: np.ndarray, predicted: np.ndarray) -> float:
    """Coefficient of determination: 1 - SS_res / SS_tot (0 for predicting the mean)."""
    true = np.asarray(true, dtype=np.float64)
    residual = np.sum((true - np.asarray(predicted, dtype=np.float64)) ** 2)
    total = np.sum((true - true.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else 0.0


def rmse(true: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error."""
    difference = np.asarray(true, np.float64) - np.asarray(predicted, np.float64)
    return float(np.sqrt(np.mean(difference**2)))


def mae(true: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error."""
    difference = np.asarray(true, np.float64) - np.asarray(predicted, np.float64)
    return float(np.mean(np.abs(difference)))


#: Metrics reported per task; the first is the headline metric (higher is better for both).
TASK_METRICS = {
    "classification": {"accuracy": accuracy, "macro_f1": macro_f1},
    "regression": {"r2": r2, "rmse": rmse, "mae": mae},
}


def score(task: str, true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Every metric of ``task`` for one set of predictions."""
    return {name: metric(true, predicted) for name, metric in TASK_METRICS[task].items()}


def train_test_split(
    n_rows: int, test_size: float, seed: int, labels: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices ``(train, test)``; stratified by ``labels`` when given.

    Stratifying keeps each class's share equal in both parts, so a rare class cannot vanish
    from the test set by chance.
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n_rows)
        n_test = max(1, round(n_rows * test_size))
        return np.sort(order[n_test:]), np.sort(order[:n_test])
    test_parts, train_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = round(len(members) * test_size) if len(members) > 1 else 0
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))
