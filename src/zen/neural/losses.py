"""Loss functions and evaluation metrics by name.

Losses take ``(predictions, targets)`` and return a scalar mean. ``cross_entropy`` expects raw
logits of shape ``(batch, classes)`` and integer class targets; ``bce`` expects one logit per
output (it is ``BCEWithLogitsLoss``, numerically safer than a sigmoid followed by BCE).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zen.errors import ConfigError, expect_one_of

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_LOSSES: dict[str, Callable[[], nn.Module]] = {
    "mse": nn.MSELoss,
    "mae": nn.L1Loss,
    "huber": nn.HuberLoss,
    "cross_entropy": nn.CrossEntropyLoss,
    "bce": nn.BCEWithLogitsLoss,
}
_LOSS_ALIASES = {"l2": "mse", "l1": "mae", "smooth_l1": "huber", "ce": "cross_entropy"}

#: Losses whose targets are class labels; they make the Trainer report accuracy.
CLASSIFICATION_LOSSES = frozenset({"cross_entropy", "bce"})


def get_loss(loss: str | LossFn) -> LossFn:
    """The loss called ``loss`` (or ``loss`` itself when it is already callable)."""
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise ConfigError(f"loss: expected a name or a callable, got {type(loss).__name__}")
    key = _LOSS_ALIASES.get(loss.lower(), loss.lower())
    if key not in _LOSSES:
        raise expect_one_of("loss", loss, sorted(_LOSSES))
    return _LOSSES[key]()


def loss_name(loss: str | LossFn) -> str:
    """Canonical name of a loss given by name; ``"custom"`` for callables."""
    if isinstance(loss, str):
        return _LOSS_ALIASES.get(loss.lower(), loss.lower())
    return "custom"


def accuracy(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Share of correct labels: argmax over classes, or logit > 0 for one binary output."""
    if predictions.dim() == 2 and predictions.shape[1] > 1:
        labels = predictions.argmax(dim=1)
        return float((labels == targets.reshape(-1).long()).float().mean())
    labels = (predictions.reshape(-1) > 0).long()
    return float((labels == targets.reshape(-1).long()).float().mean())


def mae(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean absolute error."""
    return float((predictions.reshape(targets.shape) - targets).abs().mean())


def rmse(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Root mean squared error."""
    return float(((predictions.reshape(targets.shape) - targets) ** 2).mean().sqrt())


def r2(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (averaged over output columns)."""
    targets = targets.reshape(targets.shape[0], -1).double()
    predictions = predictions.reshape(targets.shape).double()
    residual = ((targets - predictions) ** 2).sum(dim=0)
    total = ((targets - targets.mean(dim=0)) ** 2).sum(dim=0).clamp_min(1e-12)
    return float((1 - residual / total).mean())


METRICS: dict[str, Callable[[torch.Tensor, torch.Tensor], float]] = {
    "accuracy": accuracy,
    "mae": mae,
    "rmse": rmse,
    "r2": r2,
}


def get_metric(name: str) -> Callable[[torch.Tensor, torch.Tensor], float]:
    """The metric called ``name``."""
    if name not in METRICS:
        raise expect_one_of("metrics", name, sorted(METRICS))
    return METRICS[name]


def default_metrics(loss: str | LossFn) -> list[str]:
    """Metrics worth reporting next to ``loss``: accuracy for classification, none otherwise."""
    return ["accuracy"] if loss_name(loss) in CLASSIFICATION_LOSSES else []
