"""One entry point for sequence data on disk: a ``.ts`` file, a long CSV or a train/test folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from zen.errors import DataError
from zen.neural.datasets.long_csv import read_sequence_csv
from zen.neural.datasets.sequence_set import SequenceSet
from zen.neural.datasets.ts_reader import load_ts

_TRAIN, _TEST = "_TRAIN.ts", "_TEST.ts"


def load_sequences(path: str | Path) -> SequenceSet | tuple[SequenceSet, SequenceSet]:
    """Read sequences from ``path``, whatever its layout.

    Args:
        path: a ``.ts`` file (:func:`load_ts`), a ``.csv`` long table with the default
            columns ``sequence_id, t, ..., label`` (:func:`read_sequence_csv`), or a folder
            holding ``NAME_TRAIN.ts`` and ``NAME_TEST.ts`` (the UCR/UEA archive's layout).

    Returns:
        One :class:`SequenceSet` for a file; ``(train, test)`` for a folder, where ``test``
        takes the class order of ``train`` (so that their label codes agree).

    Raises:
        DataError: the path does not exist, has another suffix, or a folder does not hold
            exactly one train/test pair; a test set whose channels or labels do not match the
            training set's.
    """
    path = Path(path)
    if path.is_dir():
        return _load_split(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return load_ts(path)
    if suffix == ".csv":
        return read_sequence_csv(path)
    raise DataError(
        f"{path}: unknown suffix {path.suffix!r}; expected a .ts file, a .csv long table or a"
        f" folder holding NAME{_TRAIN} and NAME{_TEST}"
    )


def _load_split(folder: Path) -> tuple[SequenceSet, SequenceSet]:
    names = sorted(
        file.name.removesuffix(_TRAIN)
        for file in folder.glob(f"*{_TRAIN}")
        if (folder / (file.name.removesuffix(_TRAIN) + _TEST)).is_file()
    )
    if len(names) != 1:
        found = ", ".join(names) if names else "none"
        raise DataError(
            f"{folder}: expected one pair NAME{_TRAIN} + NAME{_TEST}, found {len(names)}"
            f" ({found}); point at the file to read instead"
        )
    train = load_ts(folder / f"{names[0]}{_TRAIN}")
    test = load_ts(folder / f"{names[0]}{_TEST}")
    return train, _aligned(test, train, folder / f"{names[0]}{_TEST}")


def _aligned(test: SequenceSet, train: SequenceSet, test_path: Path) -> SequenceSet:
    """``test`` with ``train``'s class order, after checking that the two sets match."""
    if test.task != train.task:
        raise DataError(f"{test_path}: is {test.task} but the training set is {train.task}")
    if test.n_channels != train.n_channels:
        raise DataError(
            f"{test_path}: cases have {test.n_channels} dimensions, the training set's"
            f" {train.n_channels}"
        )
    if test.task != "classification" or test.classes == train.classes:
        return test
    assert test.y is not None  # a classification set has labels
    unknown = ~np.isin(test.y, np.array(train.classes))
    if unknown.any():
        case = int(np.flatnonzero(unknown)[0])
        raise DataError(
            f"{test_path}: case {case} has label {str(test.y[case])!r}, which the training set's"
            f" @classLabel {' '.join(train.classes)} does not list"
        )
    return dataclasses.replace(test, classes=train.classes)
