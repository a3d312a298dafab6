"""Loss functions and evaluation metrics by name.

Losses take ``(predictions, targets)`` and return a scalar mean. ``cross_entropy`` expects raw
logits of shape ``(batch, classes)`` and integer class targets; ``bce`` expects one logit per
output (it is ``BCEWithLogitsLoss``, numerically safer than a sigmoid followed by BCE).

A loss by name checks its targets first (:func:`check_targets`): integer labels handed to
``mse`` would otherwise broadcast into a ``(batch, batch)`` difference, or fail deep inside torch
with a message about tensor sizes that names neither the loss nor the fix.
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


_REGRESSION_HINT = "for real-valued targets use loss='mse' (or 'mae', 'huber')"


class CheckedLoss(nn.Module):
    """A torch loss that checks the shape and dtype of its targets before computing.

    Only the checks that cost nothing run on every call (:func:`check_targets` with
    ``values=False``): the value checks read the targets, which would synchronise a GPU per batch.
    """

    def __init__(self, name: str, loss: nn.Module) -> None:
        super().__init__()
        self.name = name
        self.loss = loss

    def forward(self, predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        check_targets(self.name, predictions, targets, values=False)
        return self.loss(predictions, targets)


def get_loss(loss: str | LossFn) -> LossFn:
    """The loss called ``loss`` (or ``loss`` itself when it is already callable).

    A loss by name is a :class:`CheckedLoss`: targets that cannot go with it raise a
    :class:`ConfigError` naming the loss, the shapes and the fix.
    """
    if callable(loss):
        return loss
    if not isinstance(loss, str):
        raise ConfigError(f"loss: expected a name or a callable, got {type(loss).__name__}")
    key = _LOSS_ALIASES.get(loss.lower(), loss.lower())
    if key not in _LOSSES:
        raise expect_one_of("loss", loss, sorted(_LOSSES))
    return CheckedLoss(key, _LOSSES[key]())


def check_targets(
    loss: str | LossFn,
    predictions: torch.Tensor,
    targets: torch.Tensor,
    *,
    values: bool = True,
    bounds: tuple[float, float] | None = None,
) -> None:
    """Raise :class:`ConfigError` when ``loss`` cannot compare ``predictions`` with ``targets``.

    ``cross_entropy`` needs ``(batch, classes >= 2)`` logits and one integer label in
    ``0..classes-1`` per row (or probabilities shaped like the logits); the element-wise losses
    (``mse``, ``mae``, ``huber``, ``bce``) need as many targets per row as outputs, and ``bce``
    targets in [0, 1]. Callable losses are not checked.

    Args:
        loss: the loss name (or callable).
        predictions: the model's outputs for a batch.
        targets: the batch's targets, as the data gave them (before any reshaping).
        values: also check the label values (reads the targets: one device synchronisation).
        bounds: smallest and largest target of the whole data set, when known; checked instead
            of this batch's values.

    Example:
        >>> check_targets("mse", torch.zeros(4, 2), torch.tensor([0, 1, 1, 0]))
        Traceback (most recent call last):
        ...
        zen.errors.ConfigError: loss='mse' compares each output with one target, ...
    """
    name = loss_name(loss)
    if name not in _LOSSES:
        return
    shapes = (
        f"the model outputs shape {_shape(predictions)} {_dtype(predictions)} and the targets"
        f" have shape {_shape(targets)} {_dtype(targets)}"
    )
    if name == "cross_entropy":
        _check_class_targets(predictions, targets, shapes, values, bounds)
    else:
        _check_elementwise_targets(name, predictions, targets, shapes, values, bounds)


def _check_class_targets(
    predictions: torch.Tensor,
    targets: torch.Tensor,
    shapes: str,
    values: bool,
    bounds: tuple[float, float] | None,
) -> None:
    if predictions.dim() < 2 or predictions.shape[1] < 2:
        raise ConfigError(
            f"loss='cross_entropy' needs one output (logit) per class, at least 2, but {shapes}."
            " Give the model one output per class, or use loss='bce' with one output for a"
            " 0/1 target"
        )
    if targets.is_floating_point() and targets.shape == predictions.shape:
        return  # class probabilities, which cross-entropy accepts as they are
    expected = (predictions.shape[0], *predictions.shape[2:])
    if targets.is_floating_point() or targets.dtype == torch.bool:
        raise ConfigError(
            f"loss='cross_entropy' needs integer class labels 0..C-1, but {shapes}; convert"
            f" integer-valued labels with .long(), and {_REGRESSION_HINT}"
        )
    if tuple(targets.shape) != expected:
        raise ConfigError(
            f"loss='cross_entropy' needs one class label per row, shape {expected}, but {shapes}"
        )
    if not values:
        return
    classes = predictions.shape[1]
    low, high = bounds if bounds is not None else _value_range(targets)
    if low < 0 or high >= classes:
        raise ConfigError(
            f"loss='cross_entropy': the labels run from {low:g} to {high:g}, but the model has"
            f" {classes} outputs, one per class 0..{classes - 1} ({shapes}). Give the model"
            f" {max(int(high) + 1, classes)} outputs, or encode the labels as 0..C-1"
        )


def _check_elementwise_targets(
    name: str,
    predictions: torch.Tensor,
    targets: torch.Tensor,
    shapes: str,
    values: bool,
    bounds: tuple[float, float] | None,
) -> None:
    rows = predictions.shape[0] if predictions.dim() else 1
    outputs = predictions.numel() // max(rows, 1)
    if targets.dim() == 0 or targets.shape[0] != rows or targets.numel() != predictions.numel():
        per_row = targets.numel() // max(targets.shape[0], 1) if targets.dim() else 1
        if per_row == 1 and outputs > 1 and not targets.is_floating_point():
            fix = "These look like class labels: use loss='cross_entropy', one output per class"
        else:
            fix = f"Give the model {_count(per_row, 'output')}, or {_count(outputs, 'target')}"
        raise ConfigError(
            f"loss={name!r} compares each output with one target, but {shapes}:"
            f" {_count(outputs, 'output')} against {_count(per_row, 'target')}. {fix}."
        )
    if name != "bce" or not values:
        return
    low, high = bounds if bounds is not None else _value_range(targets)
    if low < 0 or high > 1:
        raise ConfigError(
            f"loss='bce' needs targets in [0, 1] (0/1 labels or probabilities), but they run"
            f" from {low:g} to {high:g} ({shapes}); for class labels 0..C-1 use"
            " loss='cross_entropy', and " + _REGRESSION_HINT
        )


def target_bounds(targets: torch.Tensor) -> tuple[float, float]:
    """Smallest and largest value of ``targets`` (for :func:`check_targets`'s ``bounds``)."""
    return _value_range(targets)


def _value_range(targets: torch.Tensor) -> tuple[float, float]:
    flat = targets.detach().reshape(-1)
    if flat.numel() == 0:
        return 0.0, 0.0
    low, high = torch.aminmax(flat.to(torch.uint8) if flat.dtype == torch.bool else flat)
    return float(low), float(high)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'} per row"


def _shape(tensor: torch.Tensor) -> tuple[int, ...]:
    return tuple(tensor.shape)


def _dtype(tensor: torch.Tensor) -> str:
    return str(tensor.dtype).removeprefix("torch.")


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
