"""How ``zen fit`` builds a sequence or image network as a candidate, and what it trains it
with.

Fawaz et al. (2019) trained every network of their review with Adam (learning rate 1e-3) in
mini-batches of 16 for 1,500-2,000 epochs; zen keeps the optimiser and batch size and lets early
stopping on the validation sequences and the job's time budget end the training instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

#: Training settings of the sequence candidates (options of the same names override them).
SEQUENCE_TRAINING = {"lr": 1e-3, "batch_size": 16, "max_epochs": 500, "early_stopping": 50}
#: Learning rates the search spaces draw from (log-uniform), around the review's 1e-3.
LR_RANGE = (1e-4, 1e-2)

Builder = Callable[[tuple[int, int, int], Mapping[str, Any]], nn.Module]


def training_space(trial: Any) -> dict[str, Any]:
    """The training settings every sequence and image search space tunes: Adam's learning
    rate and the mini-batch size (small sets of a few dozen sequences want small batches).

    >>> from optuna.trial import FixedTrial
    >>> training_space(FixedTrial({"lr": 3e-3, "batch_size": 8}))
    {'lr': 0.003, 'batch_size': 8}
    """
    return {
        "lr": trial.suggest_float("lr", *LR_RANGE, log=True),
        "batch_size": trial.suggest_categorical("batch_size", [8, 16, 32]),
    }


def sequence_classifier(model_class: Callable[..., nn.Module], **paper: Any) -> Builder:
    """A builder ``build((channels, length, classes), options)`` of
    ``model_class(channels, classes, **paper, **options)`` for the sequence job."""

    def build(shape: tuple[int, int, int], options: Mapping[str, Any]) -> nn.Module:
        channels, _length, classes = shape
        return model_class(channels, classes, **{**paper, **dict(options)})

    return build


def image_classifier(
    model_class: Callable[..., nn.Module], **paper: Any
) -> Callable[[tuple[int, int, int, int], Mapping[str, Any]], nn.Module]:
    """A builder ``build((channels, height, width, classes), options)`` of a 2-D network,
    ``model_class(channels, classes, dims=2, image_size=(height, width), **paper, **options)``
    (the fixed size lets it export to ONNX)."""

    def build(shape: tuple[int, int, int, int], options: Mapping[str, Any]) -> nn.Module:
        channels, height, width, classes = shape
        return model_class(channels, classes, dims=2, image_size=(height, width),
                           **{**paper, **dict(options)})  # fmt: skip

    return build
