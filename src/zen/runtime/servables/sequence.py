"""Sequence and image classifiers of ``zen fit`` behind the engine: sequences or pixels in,
labels out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from zen.errors import DataError
from zen.export.saved import SavedModel
from zen.reports import SEQUENCE_FILE
from zen.runtime.servables.base import Feeds, Prepared, Servable, numeric_matrix


class SequenceServable(Servable):
    """``{"inputs": [sequence, ...]}`` -> ``{"outputs": [label, ...], "probabilities": ...}``.

    Each sequence is a list of channels, each a list of values (``[[v0, v1, ...]]`` for one
    channel); sequences may differ in length (up to the model's ``length`` for the flat MLP),
    and ``null`` marks a missing value, which is read as padding at the end of a channel.
    Several requests batch together: shorter sequences are padded with NaN, which the networks
    read as "ended".
    """

    family = "sequence"
    forms = ("inputs",)
    inline_prepare = True
    input_names = ("x",)

    def __init__(self, name: str, saved: SavedModel) -> None:
        super().__init__(name, saved.directory)
        from zen.neural.checkpoint import read_json

        inputs = read_json(saved.directory / SEQUENCE_FILE)
        self.classes = [str(label) for label in inputs["classes"]]
        self.channels = int(inputs["channels"])
        self.shape = tuple(int(size) for size in inputs.get("shape") or (self.channels,))
        self.length = int(inputs.get("length") or 1)
        self.model: nn.Module = saved.model.eval()
        # A flat MLP reads exactly its training length; the others take any length.
        self.fixed_length = getattr(self.model, "length", None)

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        self.request_form(request)
        x = sequence_batch(request["inputs"], self.channels, self.fixed_length)
        return Prepared({"x": x}, len(x))

    def combine(self, items: Sequence[Prepared]) -> Feeds:
        if len(items) == 1:
            return items[0].feeds
        longest = max(item.feeds["x"].shape[2] for item in items)
        return {"x": np.concatenate([_pad(item.feeds["x"], longest) for item in items])}

    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        logits = outputs[0].astype(np.float64)
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        labels = [self.classes[index] for index in probabilities.argmax(axis=1)]
        return {"outputs": labels, "probabilities": probabilities.round(6).tolist(),
                "classes": self.classes}  # fmt: skip

    def signature(self) -> dict[str, Any]:
        length = self.fixed_length or "length"
        return {
            "request": {"inputs": ["sequences", self.channels, length]},
            "response": {
                "outputs": ["sequences"],
                "probabilities": ["sequences", len(self.classes)],
            },
            "dtype": "float32",
            "classes": self.classes,
            "description": f"sequences of {self.channels} channel(s) -> one of"
            f" {len(self.classes)} classes",
        }

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        shape = (rows, self.channels, self.fixed_length or self.length)
        return {"x": rng.standard_normal(shape, dtype=np.float32)}

    def torch_module(self) -> nn.Module:
        return self.model

    def export_target(self) -> Any:
        return self.model


class ImageServable(SequenceServable):
    """An image classifier (``zen fit --as-image``): ``{"inputs": [[pixels...], ...]}``, each
    row the ``channels * height * width`` pixels in the order of the training table's columns,
    -> labels and class probabilities."""

    family = "image"

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        self.request_form(request)
        width = int(np.prod(self.shape))
        rows = numeric_matrix(request["inputs"], "inputs", width, what="pixels")
        return Prepared({"x": rows.astype(np.float32).reshape(len(rows), *self.shape)}, len(rows))

    def combine(self, items: Sequence[Prepared]) -> Feeds:
        return Servable.combine(self, items)

    def signature(self) -> dict[str, Any]:
        pixels = int(np.prod(self.shape))
        return {
            "request": {"inputs": ["images", pixels]},
            "response": {"outputs": ["images"], "probabilities": ["images", len(self.classes)]},
            "dtype": "float32",
            "classes": self.classes,
            "description": f"rows of {pixels} pixels ({'x'.join(map(str, self.shape))}) -> one"
            f" of {len(self.classes)} classes",
        }

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        return {"x": rng.random((rows, *self.shape), dtype=np.float32)}


def sequence_batch(value: Any, channels: int, length: int | None) -> np.ndarray:
    """``value`` (a list of sequences, each a list of ``channels`` lists of numbers) as a
    ``(sequences, channels, longest)`` float32 array padded with NaN, or a DataError.

    >>> sequence_batch([[[1, 2, 3]], [[4, 5]]], 1, None).tolist()
    [[[1.0, 2.0, 3.0]], [[4.0, 5.0, nan]]]
    """
    if not isinstance(value, (list, tuple)) or not value:
        raise DataError(
            f"inputs: expected a non-empty list of sequences, each a list of {channels}"
            " channel(s) of numbers"
        )
    cases: list[np.ndarray] = []
    for index, case in enumerate(value):
        if not isinstance(case, (list, tuple)) or len(case) != channels:
            raise DataError(f"inputs[{index}]: expected {channels} channel(s), each a list of"
                            f" numbers, got {_describe(case)}")  # fmt: skip
        try:
            rows = [np.asarray([np.nan if v is None else v for v in channel], dtype=np.float32)
                    for channel in case]  # fmt: skip
        except (TypeError, ValueError):
            raise DataError(f"inputs[{index}]: expected numbers (or null)") from None
        if any(row.ndim != 1 for row in rows) or len({len(row) for row in rows}) != 1:
            raise DataError(f"inputs[{index}]: every channel needs the same number of steps")
        steps = len(rows[0])
        if steps == 0 or np.isinf(np.stack(rows)).any():
            raise DataError(f"inputs[{index}]: expected at least one finite step per channel")
        if length is not None and steps > length:
            raise DataError(f"inputs[{index}]: {steps} steps; this model reads at most {length}")
        cases.append(np.stack(rows))
    longest = max(case.shape[1] for case in cases)
    return np.stack([_pad(case[None], longest)[0] for case in cases])


def _pad(x: np.ndarray, length: int) -> np.ndarray:
    if x.shape[2] == length:
        return x
    return np.pad(x, ((0, 0), (0, 0), (0, length - x.shape[2])), constant_values=np.nan)


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    return type(value).__name__
