"""Reading the sktime / UEA ``.ts`` format into a :class:`SequenceSet`.

The format (Bagnall et al., the UEA & UCR time series classification archive; sktime's
``load_from_tsfile``): ``#`` comment lines, then ``@`` header lines up to ``@data``, then one
case per line. A case's dimensions are separated by ``:``, the values of a dimension by ``,``;
``?`` (or nothing) is a missing value; the label follows the last ``:`` when the header says
``@classLabel true <labels...>`` (classification) or ``@targetLabel true`` (regression).
Example::

    @problemName Toy
    @univariate false
    @dimensions 2
    @classLabel true up down
    @data
    1,2,3:4,5,6:up
    7,?,9:1,1,2:down

Missing values are interpolated (:func:`~zen.neural.datasets.filling.fill_missing`). In a
file that does not declare ``@equalLength true``, steps at the end of a case where every
dimension is missing are taken as padding: the case ends before them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zen.errors import DataError
from zen.neural.datasets.filling import fill_missing, pad_cases
from zen.neural.datasets.sequence_set import SequenceSet, Task

logger = logging.getLogger(__name__)

_BOOLEANS = {"true": True, "false": False}
_MISSING = {"?", "", "nan"}


@dataclass
class _Header:
    """What the ``@`` lines declare; ``None`` where a line was absent."""

    problem_name: str | None = None
    univariate: bool | None = None
    dimensions: int | None = None
    dimensions_from: str = ""  # what set `dimensions`, for error messages
    equal_length: bool | None = None
    series_length: int | None = None
    class_labels: tuple[str, ...] | None = None  # set by "@classLabel true ..."
    has_class_label: bool | None = None
    has_target: bool | None = None  # set by @targetLabel

    @property
    def task(self) -> Task:
        if self.has_class_label:
            return "classification"
        return "regression" if self.has_target else "unlabeled"


def load_ts(path: str | Path) -> SequenceSet:
    """Read a ``.ts`` file (uni- or multivariate, equal or unequal lengths, missing values).

    Args:
        path: the ``.ts`` file.

    Returns:
        A :class:`SequenceSet` whose ``classes`` are the ``@classLabel`` labels in header order
        and whose ``name`` is ``@problemName`` (the file's stem when absent).

    Raises:
        DataError: naming the file and line: an empty file, no ``@data``, a bad header, a case
            whose dimension count differs from ``@dimensions`` (or from the first case), a
            label not in ``@classLabel``, a value that is not a number, a dimension with no
            value. ``@timeStamps true`` files are refused (values given as
            ``(timestamp,value)`` pairs are not supported).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file (expected a .ts file)")
    # Comments may hold any byte; numbers and labels are ASCII, so a stray byte can only make
    # a value unreadable, which is reported with its line.
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    if not any(line.strip() for line in lines):
        raise DataError(f"{path}: the file is empty; expected @ header lines, @data and cases")
    header, data_line = _read_header(lines, path)
    cases: list[np.ndarray] = []
    labels: list[str | float] = []
    for number, line in enumerate(lines[data_line:], start=data_line + 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}, line {number}"
        values, label = _read_case(text, header, where)
        if header.dimensions is None:
            # Neither @dimensions nor @univariate: the first case decides for the others.
            header.dimensions = values.shape[0]
            header.dimensions_from = f"the first case (line {number})"
        names = [f"dimension {index + 1}" for index in range(values.shape[0])]
        # Trailing steps missing everywhere are padding unless the header fixes the length.
        cases.append(
            fill_missing(values, where=where, channel_names=names, trim_end=not header.equal_length)
        )
        if label is not None:
            labels.append(label)
    if not cases:
        raise DataError(f"{path}: no cases after @data (line {data_line}); expected one a line")
    X, lengths = pad_cases(cases)
    task = header.task
    return SequenceSet(
        X=X,
        y=None if task == "unlabeled" else np.array(labels),
        lengths=lengths,
        classes=header.class_labels or (),
        name=header.problem_name or path.stem,
        task=task,
    )


def _read_header(lines: list[str], path: Path) -> tuple[_Header, int]:
    """Parse the lines up to ``@data``; return the header and the index of the first data line."""
    header = _Header()
    for index, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path}, line {index + 1}"
        if not text.startswith("@"):
            raise DataError(f"{where}: a case before @data; the header must end with @data")
        tag, _, rest = text.partition(" ")
        tag, rest = tag.lower(), rest.strip()
        if tag == "@data":
            _check_header(header, where)
            return header, index + 1
        _read_header_line(header, tag, rest, where)
    raise DataError(f"{path}: no @data line; the header must end with @data, then one case a line")


def _read_header_line(header: _Header, tag: str, rest: str, where: str) -> None:
    words = rest.split()
    if tag == "@problemname":
        header.problem_name = rest or None
    elif tag == "@timestamps":
        if _boolean(words, tag, where):
            raise DataError(
                f"{where}: @timeStamps true is not supported (values as (timestamp,value)"
                " pairs); resample the series to a regular grid and write plain values"
            )
    elif tag == "@missing":
        _boolean(words, tag, where)  # informative only: '?' is read as missing either way
    elif tag == "@univariate":
        header.univariate = _boolean(words, tag, where)
    elif tag in ("@dimensions", "@dimension"):
        header.dimensions = _positive(words, tag, where)
        header.dimensions_from = f"@dimensions {header.dimensions}"
    elif tag == "@equallength":
        header.equal_length = _boolean(words, tag, where)
    elif tag == "@serieslength":
        header.series_length = _positive(words, tag, where)
    elif tag == "@classlabel":
        header.has_class_label = _boolean(words[:1], tag, where)
        if header.has_class_label:
            if len(words) < 2:
                raise DataError(f"{where}: @classLabel true must list the class labels after it")
            if len(set(words[1:])) != len(words) - 1:
                raise DataError(f"{where}: @classLabel lists a label twice: {' '.join(words[1:])}")
            header.class_labels = tuple(words[1:])
        elif len(words) > 1:
            raise DataError(f"{where}: @classLabel false takes no labels, got {rest!r}")
    elif tag == "@targetlabel":
        header.has_target = _boolean(words, tag, where)
    else:
        logger.info("%s: ignoring unknown header %s", where, tag)


def _check_header(header: _Header, where: str) -> None:
    """Cross-check the header once it is complete (``where`` is the @data line)."""
    if header.has_class_label is None and header.has_target is None:
        raise DataError(
            f"{where}: the header has neither @classLabel nor @targetLabel, so it is unclear"
            " whether a case ends with a label; add '@classLabel false' for unlabeled data"
        )
    if header.has_class_label and header.has_target:
        raise DataError(f"{where}: the header has both @classLabel true and @targetLabel true")
    if header.univariate:
        if header.dimensions not in (None, 1):
            raise DataError(
                f"{where}: @univariate true contradicts @dimensions {header.dimensions}"
            )
        header.dimensions, header.dimensions_from = 1, "@univariate true"
    if header.equal_length and header.series_length is None:
        logger.info("%s: @equalLength true without @seriesLength; lengths are not checked", where)


def _boolean(words: list[str], tag: str, where: str) -> bool:
    if len(words) != 1 or words[0].lower() not in _BOOLEANS:
        raise DataError(f"{where}: {tag} takes true or false, got {' '.join(words)!r}")
    return _BOOLEANS[words[0].lower()]


def _positive(words: list[str], tag: str, where: str) -> int:
    if len(words) != 1 or not words[0].isdigit() or int(words[0]) < 1:
        raise DataError(f"{where}: {tag} takes a positive integer, got {' '.join(words)!r}")
    return int(words[0])


def _read_case(text: str, header: _Header, where: str) -> tuple[np.ndarray, str | float | None]:
    """One data line -> ``(dimensions, steps)`` float64 values (NaN = missing) and its label."""
    fields = text.split(":")
    label: str | float | None = None
    if header.task != "unlabeled":
        if len(fields) < 2:
            raise DataError(f"{where}: expected the values, then ':' and the label; got no ':'")
        label = _read_label(fields.pop().strip(), header, where)
    if header.dimensions is not None and len(fields) != header.dimensions:
        raise DataError(
            f"{where}: the case has {len(fields)} dimensions, expected {header.dimensions}"
            f" as {header.dimensions_from} says"
        )
    dimensions = [_read_values(field, where, index + 1) for index, field in enumerate(fields)]
    steps = {values.size for values in dimensions}
    if len(steps) > 1:
        raise DataError(
            f"{where}: the dimensions of the case have different lengths"
            f" ({', '.join(str(values.size) for values in dimensions)}); write '?' for a"
            " missing value so that every dimension has one entry per time step"
        )
    (length,) = steps
    if header.equal_length and header.series_length is not None and length != header.series_length:
        raise DataError(
            f"{where}: the case has {length} values per dimension, @seriesLength says"
            f" {header.series_length} (@equalLength true)"
        )
    return np.stack(dimensions), label


def _read_label(text: str, header: _Header, where: str) -> str | float:
    if header.class_labels is not None:
        if text not in header.class_labels:
            raise DataError(
                f"{where}: label {text!r} is not one of @classLabel {' '.join(header.class_labels)}"
            )
        return text
    try:
        target = float(text)
    except ValueError:
        raise DataError(f"{where}: target {text!r} is not a number (@targetLabel true)") from None
    if not np.isfinite(target):
        raise DataError(f"{where}: target {text!r} is not a finite number")
    return target


def _read_values(field: str, where: str, dimension: int) -> np.ndarray:
    """Comma-separated numbers -> float64, NaN for a missing value ('?', empty or NaN)."""
    parts = field.split(",")
    try:
        values = np.array(parts, dtype=np.float64)  # fast path: no '?' and no empty entry
    except ValueError:
        values = np.empty(len(parts))
        for index, part in enumerate(parts):
            token = part.strip()
            if token.lower() in _MISSING:
                values[index] = np.nan
                continue
            try:
                values[index] = float(token)
            except ValueError:
                raise DataError(
                    f"{where}: dimension {dimension}, value {index + 1}: {token!r} is not a"
                    " number (write '?' for a missing value)"
                ) from None
    if np.isinf(values).any():
        raise DataError(
            f"{where}: dimension {dimension}, value {_first_inf(values) + 1} is infinite"
        )
    return values


def _first_inf(values: np.ndarray) -> int:
    return int(np.flatnonzero(np.isinf(values))[0])
