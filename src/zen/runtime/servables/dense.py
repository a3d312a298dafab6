"""Dense models on feature rows: a plain MLP and a TabularModel (raw table columns)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from zen.errors import DataError
from zen.export.saved import SavedModel
from zen.runtime.servables.base import Feeds, Prepared, Servable, numeric_matrix


class MLPServable(Servable):
    """An MLP saved with ``Trainer.save``: ``{"inputs": [[features]]}`` -> raw network outputs.

    Outputs are what the network computes, one row per input row, ``(rows, out_features)``;
    features go in exactly as the network was trained on them.
    """

    family = "mlp"
    forms = ("inputs",)
    inline_prepare = True
    input_names = ("x",)

    def __init__(self, name: str, saved: SavedModel) -> None:
        super().__init__(name, saved.directory)
        from zen.neural import MLP

        model = saved.model
        if not isinstance(model, MLP):  # pragma: no cover - load_model dispatches on the class
            raise DataError(f"{saved.directory}: holds a {type(model).__name__}, not an MLP")
        self.model = model.eval()
        self.in_features = int(model.layer_sizes[0])
        self.out_features = int(model.layer_sizes[-1])

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        self.request_form(request)
        x = numeric_matrix(request["inputs"], "inputs", self.in_features, what="features")
        return Prepared({"x": x}, len(x))

    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        return {"outputs": outputs[0].tolist()}

    def signature(self) -> dict[str, Any]:
        return {
            "request": {"inputs": ["rows", self.in_features]},
            "response": {"outputs": ["rows", self.out_features]},
            "dtype": "float32",
            "description": f"rows of {self.in_features} features -> raw network outputs",
        }

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        return {"x": rng.standard_normal((rows, self.in_features), dtype=np.float32)}

    def torch_module(self) -> nn.Module:
        return self.model

    def export_target(self) -> Any:
        return self.model


class TabularServable(Servable):
    """A :class:`~zen.tabular.TabularModel` (``zen fit`` on a table): raw columns in, labels or
    values out.

    Requests give rows either as ``{"inputs": [[...]]}`` in the order of ``columns`` (numeric
    columns, then text columns, as in ``GET /v1/models``) or as ``{"records": [{column:
    value}]}``. Rows are encoded like training rows (medians for missing numbers, one-hot text)
    before the network runs; classification responses add class ``probabilities``.
    """

    family = "tabular"
    forms = ("inputs", "records")
    input_names = ("features",)

    def __init__(self, name: str, saved: SavedModel) -> None:
        super().__init__(name, saved.directory)
        self.model = saved.model
        preprocessor = self.model.preprocessor_
        self.preprocessor = preprocessor
        self.columns = [*preprocessor.numeric, *preprocessor.categorical]
        self.width = int(preprocessor.n_features_out)
        self.classification = bool(self.model.classification)
        self.module: nn.Module = self.model.output_module().eval()

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        form = self.request_form(request)
        frame = self._frame(request[form], form)
        try:
            features = self.preprocessor.transform(frame)
        except DataError as error:
            raise DataError(f"{form}: {error}") from None
        return Prepared(
            {"features": np.ascontiguousarray(features, np.float32)}, len(frame), None, form
        )

    def _frame(self, rows: Any, form: str) -> pd.DataFrame:
        if not isinstance(rows, (list, tuple)) or not rows:
            raise DataError(f"{form}: expected a non-empty list of rows")
        if form == "records":
            if not all(isinstance(row, Mapping) for row in rows):
                raise DataError("records: expected a list of objects {column: value}")
            frame = pd.DataFrame.from_records(list(rows))
            missing = [column for column in self.columns if column not in frame.columns]
            if missing:
                raise DataError(
                    f"records: missing column(s) {missing}; the model reads {self.columns}"
                )
            return frame
        width = len(self.columns)
        for index, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != width:
                got = len(row) if isinstance(row, (list, tuple)) else type(row).__name__
                raise DataError(
                    f"inputs: row {index} has {got} values; expected {width} per row (shape"
                    f" (rows, {width})) in the order {self.columns}"
                )
        return pd.DataFrame(list(rows), columns=self.columns)

    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        scores = outputs[0]
        if not self.classification:
            return {"outputs": scores.astype(np.float64).tolist()}
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        classes = self.model.classes_.tolist()
        return {
            "outputs": [classes[index] for index in scores.argmax(axis=1)],
            "probabilities": probabilities.astype(np.float64).tolist(),
        }

    def signature(self) -> dict[str, Any]:
        task = "classification" if self.classification else "regression"
        response: dict[str, Any] = {"outputs": ["rows"]}
        if self.classification:
            response["probabilities"] = ["rows", len(self.model.classes_)]
        return {
            "request": {
                "inputs": ["rows", len(self.columns)],
                "records": ["rows", "{column: value}"],
            },
            "response": response,
            "columns": self.columns,
            "task": task,
            "target": self.model.profile_.target,
            **({"classes": self.model.classes_.tolist()} if self.classification else {}),
            "description": f"table rows -> {task} of {self.model.profile_.target!r}",
        }

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        # Encoded numeric columns are standardised, one-hot columns 0/1.
        return {"features": rng.standard_normal((rows, self.width), dtype=np.float32)}

    def torch_module(self) -> nn.Module:
        return self.module

    def export_target(self) -> Any:
        return self.model
