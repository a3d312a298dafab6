"""Writing a :class:`SequenceSet` as a ``.ts`` file that :func:`load_ts` (and sktime) read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from zen.atomic import write_atomic
from zen.errors import DataError
from zen.neural.datasets.sequence_set import SequenceSet


def write_ts(path: str | Path, sequences: SequenceSet) -> None:
    """Write ``sequences`` to ``path`` in the ``.ts`` format, atomically.

    Each case is written up to its length (no padding); values are written in the shortest
    form that reads back to the same float32, regression targets to the same float64, so
    ``load_ts(path)`` returns the same arrays (its ``X`` is as long as the longest case).

    Args:
        path: the file to create or replace; it appears whole or not at all.
        sequences: the set to write.

    Raises:
        DataError: a class label cannot be written in the format (empty, or holding
            whitespace or ``:``, which separate labels and dimensions), or the name is empty
            or spans lines.
    """
    _check_writable(sequences)

    def write(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8", newline="\n") as file:
            file.writelines(_lines(sequences))

    write_atomic(path, write)


def _check_writable(sequences: SequenceSet) -> None:
    for label in sequences.classes:
        if not label or any(char.isspace() or char == ":" for char in label):
            raise DataError(
                f"classes: label {label!r} cannot be written to a .ts file (labels are"
                " separated by spaces in @classLabel and follow a ':' on each line)"
            )
    name = sequences.name
    if not name.strip() or name != name.strip() or "\n" in name or "\r" in name:
        raise DataError(
            f"name: {name!r} cannot be written as @problemName (expected a non-empty name on"
            " one line, without leading or trailing spaces)"
        )


def _lines(sequences: SequenceSet) -> Iterator[str]:
    lengths = sequences.lengths
    equal_length = bool((lengths == lengths[0]).all())
    yield "# Written by zen.neural.datasets.write_ts\n"
    yield f"@problemName {sequences.name}\n"
    yield "@timeStamps false\n"
    yield "@missing false\n"
    yield f"@univariate {_flag(sequences.n_channels == 1)}\n"
    yield f"@dimensions {sequences.n_channels}\n"
    yield f"@equalLength {_flag(equal_length)}\n"
    if equal_length:
        yield f"@seriesLength {int(lengths[0])}\n"
    if sequences.task == "classification":
        yield f"@classLabel true {' '.join(sequences.classes)}\n"
    else:
        yield "@classLabel false\n"
    if sequences.task == "regression":
        yield "@targetLabel true\n"
    yield "@data\n"
    for index in range(sequences.n_cases):
        case = sequences.X[index, :, : int(lengths[index])]
        # str() of a float32 scalar is its shortest round-tripping form ('0.1', not
        # '0.10000000149011612').
        fields = [",".join(map(str, channel)) for channel in case]
        if sequences.y is not None:
            label = sequences.y[index]
            fields.append(repr(float(label)) if sequences.task == "regression" else str(label))
        yield ":".join(fields) + "\n"


def _flag(value: bool | np.bool_) -> str:
    return "true" if value else "false"
