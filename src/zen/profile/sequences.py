"""Profiles of labelled sequences and images: how many, how long or large, how many channels and
classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from zen.errors import DataError
from zen.profile.task import TaskProfile

#: Sequences longer than this (median) are "long" for the router's rules.
LONG_SEQUENCE = 500
#: Fewer training cases than this per class make a "few cases per class" task.
FEW_CASES_PER_CLASS = 20


def profile_sequences(
    lengths: Sequence[int] | np.ndarray,
    labels: Sequence[object] | np.ndarray,
    n_channels: int,
    name: str,
    *,
    channel_names: Sequence[str] | None = None,
    missing_ratio: float = 0.0,
) -> TaskProfile:
    """Profile labelled sequences (the training part) for sequence classification.

    Args:
        lengths: time steps of each sequence.
        labels: each sequence's class label.
        n_channels: values per time step (1: univariate).
        name: the data's name, for messages.
        channel_names: names of the channels (default ``dim_0``, ``dim_1``...).
        missing_ratio: share of missing values inside the sequences (before filling).

    Raises:
        DataError: fewer than two sequences or classes, or an empty sequence.

    >>> profile_sequences([150] * 50, ["a", "b"] * 25, 1, "GunPoint").reason
    '50 univariate sequences of 150 steps, 2 classes'
    """
    steps = np.asarray(lengths, dtype=np.int64)
    classes, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    if steps.size < 2:
        raise DataError(f"{name}: sequence classification needs at least 2 sequences")
    if int(steps.min()) < 1:
        raise DataError(f"{name}: sequence {int(np.argmin(steps))} has no time steps")
    if len(classes) < 2:
        raise DataError(f"{name}: sequence classification needs 2 classes or more, got 1")
    shortest, median, longest = int(steps.min()), float(np.median(steps)), int(steps.max())
    kind = "univariate" if n_channels == 1 else f"{n_channels}-channel"
    span = f"{shortest}" if shortest == longest else f"{shortest}–{longest}"
    reasons = {
        "n_rows": "labelled sequences in the training part",
        "n_classes": "distinct labels",
        "class_balance": "sequences of the rarest class / of the commonest",
        "max_series_length": "unequal lengths: padded at the end"
        if shortest != longest
        else "all sequences have this length",
    }
    names = (
        list(channel_names)
        if channel_names is not None
        else [f"dim_{index}" for index in range(n_channels)]
    )
    return TaskProfile(
        kind="sequence classification",
        reason=f"{steps.size} {kind} sequences of {span} steps, {len(classes)} classes",
        target="label",
        n_rows=int(steps.size),
        numeric_features=names,
        n_classes=len(classes),
        layout="sequences",
        class_balance=float(counts.min() / counts.max()),
        missing_ratio=float(missing_ratio),
        min_series_length=shortest,
        median_series_length=median,
        max_series_length=longest,
        reasons=reasons,
    )


def profile_images(
    labels: Sequence[object] | np.ndarray, shape: tuple[int, int, int], name: str
) -> TaskProfile:
    """Profile labelled images of ``shape`` ``(channels, height, width)`` for classification.

    Raises:
        DataError: fewer than two images or classes.

    >>> profile_images(["a", "b"] * 10, (1, 8, 8), "digits").reason
    '20 images of 1x8x8, 2 classes'
    """
    classes, counts = np.unique(np.asarray(labels, dtype=object).astype(str), return_counts=True)
    if len(labels) < 2 or len(classes) < 2:
        raise DataError(f"{name}: image classification needs 2 images and 2 classes or more")
    channels, height, width = shape
    return TaskProfile(
        kind="image classification",
        reason=f"{len(labels)} images of {channels}x{height}x{width}, {len(classes)} classes",
        target="label",
        n_rows=len(labels),
        numeric_features=[f"channel_{index}" for index in range(channels)],
        n_classes=len(classes),
        layout="images",
        class_balance=float(counts.min() / counts.max()),
        reasons={
            "n_rows": "labelled images in the training part",
            "n_classes": "distinct labels",
        },
    )
