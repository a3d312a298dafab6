"""What the inference engine needs from a saved model, whatever its family.

A :class:`Servable` turns a JSON-like request into batch-first arrays (:meth:`~Servable.prepare`),
says how requests are joined into one batch and split back (:meth:`~Servable.combine`,
:meth:`~Servable.split`), and turns the model's outputs for one request into the response
(:meth:`~Servable.respond`). Backends (:mod:`zen.runtime.backends`) only ever see the arrays: the
servable offers a torch module over them (:meth:`~Servable.torch_module`), the model object ONNX
export takes (:meth:`~Servable.export_target`), or a plain Python function
(:meth:`~Servable.python_runner`) for models that are neither.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from torch import nn

from zen.errors import DataError

Feeds = dict[str, np.ndarray]
#: The request forms a servable may take; a request holds the keys of exactly one of them.
FORMS = {
    "inputs": ("inputs",),
    "records": ("records",),
    "series": ("series",),
    "graph": ("x", "edge_index"),
}


@dataclass
class Prepared:
    """One request as model inputs.

    Attributes:
        feeds: arrays by input name, batch-first (axis 0 is what batches concatenate).
        rows: how much this request adds to a batch (samples, windows or nodes): what the
            engine's ``max_batch_size`` counts.
        context: whatever :meth:`Servable.respond` needs besides the outputs (ids, dates).
        form: the request form that was given (``"inputs"``, ``"series"``...).
    """

    feeds: Feeds
    rows: int
    context: Any = None
    form: str = "inputs"


class Servable(ABC):
    """A loaded model behind the engine's one interface (see the module docstring).

    Subclasses set ``family`` and ``forms`` and implement the abstract methods; the default
    :meth:`combine`/:meth:`split` concatenate and cut every feed along axis 0.

    Attributes:
        name: what clients call the model.
        path: the model directory.
        digest: SHA-256 of the directory's files: the model's identity in caches.
        input_names: the order in which backends take the feeds.
    """

    family: ClassVar[str] = ""
    forms: ClassVar[tuple[str, ...]] = ()
    #: Request keys allowed next to any form (a forecast's ``h``).
    options: ClassVar[tuple[str, ...]] = ()
    #: Whether :meth:`prepare` is cheap enough to run on a server's event loop (no pandas).
    inline_prepare: ClassVar[bool] = False
    input_names: tuple[str, ...] = ()

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path
        self.digest = directory_digest(path)

    # ------------------------------------------------------------------ requests
    @abstractmethod
    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        """Validate ``request`` and turn it into feeds; :class:`DataError` naming the problem."""

    @abstractmethod
    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        """The JSON-able response (``{"outputs": [...], ...}``) for one request's outputs."""

    def combine(self, items: Sequence[Prepared]) -> Feeds:
        """The feeds of several requests as one batch (concatenated along axis 0)."""
        if len(items) == 1:
            return items[0].feeds
        return {
            name: np.concatenate([item.feeds[name] for item in items]) for name in self.input_names
        }

    def split(self, outputs: list[np.ndarray], items: Sequence[Prepared]) -> list[list[np.ndarray]]:
        """Each request's share of a batch's ``outputs`` (cut along axis 0 by ``rows``)."""
        if len(items) == 1:
            return [outputs]
        bounds = np.cumsum([item.rows for item in items])[:-1]
        parts = [np.split(output, bounds) for output in outputs]
        return [list(each) for each in zip(*parts, strict=True)]

    def cache_key(self, prepared: Prepared) -> bytes:
        """Bytes that identify the model outputs of ``prepared`` (names, dtypes, shapes, data)."""
        digest = hashlib.blake2b(digest_size=20)
        for name in sorted(prepared.feeds):
            array = np.ascontiguousarray(prepared.feeds[name])
            digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
            digest.update(array.data)
        return digest.digest()

    @abstractmethod
    def signature(self) -> dict[str, Any]:
        """What requests and responses look like, for ``GET /v1/models``."""

    # ------------------------------------------------------------------ backends
    @abstractmethod
    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        """Realistic feeds of ``rows`` rows, for warm-up, timing and INT8 calibration."""

    def torch_module(self) -> nn.Module | None:
        """A module taking the feeds (as tensors, in ``input_names`` order), or None."""
        return None

    def export_target(self) -> Any | None:
        """The object :func:`zen.export.export_onnx` exports to the same inputs, or None."""
        return None

    def python_runner(self) -> Callable[[Feeds], list[np.ndarray]] | None:
        """For models that are not one torch module: a function from feeds to outputs."""
        return None

    # ------------------------------------------------------------------ helpers
    def request_form(self, request: Mapping[str, Any]) -> str:
        """Which of this servable's forms ``request`` uses; a DataError listing them otherwise."""
        given = {key for key, value in request.items() if value is not None}
        for form in self.forms:
            keys = FORMS[form]
            if set(keys) <= given and given <= {*keys, *self.options}:
                return form
        raise DataError(
            f"model {self.name!r} ({self.family}) takes a request with "
            + " or ".join(_describe_form(form) for form in self.forms)
            + f"; got the field(s) {sorted(given) or 'none'}"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, path={str(self.path)!r})"


def _describe_form(form: str) -> str:
    return " and ".join(repr(key) for key in FORMS[form])


def directory_digest(path: Path) -> str:
    """Hex SHA-256 over the names and bytes of every file under ``path`` (sorted)."""
    digest = hashlib.sha256()
    for file in sorted(each for each in path.rglob("*") if each.is_file()):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def numeric_matrix(
    value: Any, argument: str, width: int | None, *, what: str = "values", dtype: Any = np.float32
) -> np.ndarray:
    """``value`` (rows of numbers) as a finite 2-D array, or a DataError naming the shape wanted.

    >>> numeric_matrix([[1, 2], [3, 4]], "inputs", 2).shape
    (2, 2)
    """
    expected = f"(rows, {width})" if width is not None else "(rows, columns)"
    if isinstance(value, np.ndarray):
        array = value
    else:
        if not isinstance(value, (list, tuple)):
            raise DataError(
                f"{argument}: expected a list of rows of {what} (shape {expected}),"
                f" got {type(value).__name__}"
            )
        try:
            # No dtype here: numpy would parse "1.5" into a number and None into NaN.
            array = np.asarray(value)
        except (ValueError, TypeError):
            raise DataError(_ragged_or_text(value, argument, width, what, expected)) from None
        if array.dtype.kind not in "biuf" and array.size:
            raise DataError(_ragged_or_text(value, argument, width, what, expected))
    if array.ndim != 2:
        raise DataError(
            f"{argument}: expected a list of rows of {what}, shape {expected}; got shape"
            f" {tuple(array.shape)}"
            + ("; wrap a single row in a list: [[...]]" if array.ndim == 1 else "")
        )
    if array.shape[0] == 0:
        raise DataError(f"{argument}: is empty; expected at least one row, shape {expected}")
    if width is not None and array.shape[1] != width:
        raise DataError(
            f"{argument}: expected rows of {width} {what} (shape {expected}); got"
            f" {array.shape[1]} per row (shape {tuple(array.shape)})"
        )
    if array.dtype.kind not in "biuf":
        raise DataError(f"{argument}: expected numbers, got values of type {array.dtype}")
    if not np.isfinite(array).all():
        row = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
        raise DataError(f"{argument}: row {row} holds NaN or infinite values; send finite numbers")
    return np.ascontiguousarray(array, dtype=dtype)


def _ragged_or_text(
    value: Sequence[Any], argument: str, width: int | None, what: str, expected: str
) -> str:
    """Why ``value`` is not a matrix of numbers: a row that is no list, a non-number, ragged."""
    for index, row in enumerate(value):
        if not isinstance(row, (list, tuple, np.ndarray)):
            return f"{argument}: row {index} is not a list; expected rows of {what}, {expected}"
        for item in row:
            if not isinstance(item, (int, float, np.number)):  # bools are ints
                return (
                    f"{argument}: row {index} holds {item!r}; expected only numbers"
                    f" (shape {expected})"
                )
    lengths = sorted({len(row) for row in value})
    return (
        f"{argument}: rows have different lengths {lengths[:5]}; expected rows of"
        f" {width if width is not None else 'equal numbers of'} {what} (shape {expected})"
    )
