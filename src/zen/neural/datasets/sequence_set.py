"""SequenceSet: a labelled set of sequences in the layout every zen sequence network reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from zen.errors import DataError, expect_one_of

Task = Literal["classification", "regression", "unlabeled"]
TASKS: tuple[str, ...] = get_args(Task)


@dataclass(frozen=True, eq=False)
class SequenceSet:
    """Sequences of possibly different lengths, NaN-padded into one array, with their labels.

    ``X`` follows the contract of :mod:`zen.neural.nets`: a case's steps after its end are NaN
    in every channel, and there is no other NaN (missing values were interpolated by the
    reader). The Trainer takes it as it is:
    ``Trainer(loss="cross_entropy").fit(network, s.X, s.label_codes())``.

    Attributes:
        X: float32 ``(n_cases, n_channels, max_length)``.
        y: the labels in case order: strings for classification, float64 for regression,
            ``None`` when the set is unlabeled (data to predict on).
        lengths: int64 ``(n_cases,)``, the number of real steps of each case.
        classes: the class labels in their declared order (a ``.ts`` file's ``@classLabel``
            header); empty unless the task is classification. :meth:`label_codes` numbers
            the classes in this order.
        name: the problem's name (``@problemName``, or the file's stem).
        task: ``"classification"``, ``"regression"`` or ``"unlabeled"``.

    >>> X = np.array([[[1.0, 2.0, np.nan]], [[3.0, 4.0, 5.0]]], dtype=np.float32)
    >>> s = SequenceSet(X, np.array(["b", "a"]), np.array([2, 3]), classes=("a", "b"))
    >>> s.n_cases, s.n_channels, s.max_length, s.label_codes()
    (2, 1, 3, array([1, 0]))
    """

    X: np.ndarray
    y: np.ndarray | None
    lengths: np.ndarray
    classes: tuple[str, ...] = ()
    name: str = "sequences"
    task: Task = "classification"

    def __post_init__(self) -> None:
        # Coerce once here so that every reader (and a user building a set by hand) gets the
        # same dtypes; frozen, hence object.__setattr__.
        if self.task not in TASKS:
            raise expect_one_of("task", self.task, TASKS)
        X = np.ascontiguousarray(self.X, dtype=np.float32)
        if X.ndim != 3 or 0 in X.shape:
            raise DataError(
                f"X: expected a non-empty (n_cases, n_channels, max_length) array, got shape"
                f" {X.shape}"
            )
        lengths = np.asarray(self.lengths)
        if lengths.shape != (X.shape[0],) or lengths.dtype.kind not in "iu":
            raise DataError(
                f"lengths: expected {X.shape[0]} integers (one per case), got shape"
                f" {lengths.shape} of dtype {lengths.dtype}"
            )
        lengths = lengths.astype(np.int64)
        _check_padding(X, lengths)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "classes", tuple(str(label) for label in self.classes))
        object.__setattr__(self, "y", self._checked_labels())

    def _checked_labels(self) -> np.ndarray | None:
        if self.task == "unlabeled":
            if self.y is not None or self.classes:
                raise DataError("y: an unlabeled set has y=None and no classes")
            return None
        if self.y is None:
            raise DataError(f"y: a {self.task} set needs labels, got None")
        labels = np.asarray(self.y)
        if labels.shape != (self.n_cases,):
            raise DataError(
                f"y: expected {self.n_cases} labels (one per case), got shape {labels.shape}"
            )
        if self.task == "regression":
            if self.classes:
                raise DataError(f"classes: a regression set has none, got {self.classes}")
            if labels.dtype.kind not in "biuf":
                raise DataError(f"y: regression targets must be numbers, got dtype {labels.dtype}")
            values = labels.astype(np.float64)
            if not np.isfinite(values).all():
                raise DataError(f"y: target of case {_first(~np.isfinite(values))} is not finite")
            return values
        if not self.classes:
            raise DataError("classes: a classification set needs its class labels, got none")
        if len(set(self.classes)) != len(self.classes):
            raise DataError(f"classes: contains duplicates: {self.classes}")
        labels = labels.astype(str)
        unknown = ~np.isin(labels, np.array(self.classes))
        if unknown.any():
            case = _first(unknown)
            raise DataError(
                f"y: label {str(labels[case])!r} of case {case} is not one of classes"
                f" {self.classes}"
            )
        return labels

    @property
    def n_cases(self) -> int:
        """Number of sequences."""
        return int(self.X.shape[0])

    @property
    def n_channels(self) -> int:
        """Number of channels (dimensions) per time step."""
        return int(self.X.shape[1])

    @property
    def max_length(self) -> int:
        """Length of the padded time axis (the longest case's length, for a set as read)."""
        return int(self.X.shape[2])

    def label_codes(self) -> np.ndarray:
        """The class labels as int64 codes ``0..len(classes)-1`` in :attr:`classes` order."""
        if self.task != "classification" or self.y is None:
            raise DataError(f"label_codes: the set {self.name!r} is {self.task}, it has no classes")
        codes = {label: code for code, label in enumerate(self.classes)}
        return np.fromiter((codes[label] for label in self.y), dtype=np.int64, count=self.n_cases)

    def __repr__(self) -> str:
        return (
            f"SequenceSet(name={self.name!r}, task={self.task!r}, n_cases={self.n_cases},"
            f" n_channels={self.n_channels}, lengths={int(self.lengths.min())}.."
            f"{int(self.lengths.max())}, classes={len(self.classes)})"
        )


def _first(flags: np.ndarray) -> int:
    return int(np.flatnonzero(flags)[0])


def _check_padding(X: np.ndarray, lengths: np.ndarray) -> None:
    """Every step before a case's end is finite; every step after it is NaN in every channel."""
    if (lengths < 1).any() or (lengths > X.shape[2]).any():
        case = _first((lengths < 1) | (lengths > X.shape[2]))
        raise DataError(
            f"lengths: case {case} has length {int(lengths[case])}; expected 1..{X.shape[2]}"
        )
    real = np.arange(X.shape[2]) < lengths[:, None]  # (n_cases, max_length)
    finite = np.isfinite(X).all(axis=1)
    padded = np.isnan(X).all(axis=1)
    wrong = np.where(real, ~finite, ~padded)
    if wrong.any():
        case, step = (int(i) for i in np.argwhere(wrong)[0])
        what = "a NaN or infinite value" if real[case, step] else "a value after its end"
        raise DataError(
            f"X: case {case} (length {int(lengths[case])}) has {what} at step {step}; missing"
            " values must be filled in and only the steps after a case's end may be NaN"
        )
