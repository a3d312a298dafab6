"""The model server's request and response bodies (pydantic), which its OpenAPI spec shows.

A prediction request holds exactly one form; which forms a model takes is in its
``signature`` (``GET /v1/models``):

* ``inputs``: rows of values, ``[[...], ...]``: features (MLP), raw table columns in the
  model's column order (tabular), or histories (forecasting window models); for sequence
  classifiers, sequences of channels, ``[[[...], ...], ...]``.
* ``records``: rows as ``{column: value}`` objects (tabular).
* ``series`` (+ optional ``h``): histories with timestamps (forecasting).
* ``x`` and ``edge_index``: one graph (graph models).

The engine checks the shapes against the model; these models check the JSON types.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ErrorResponse",
    "HealthResponse",
    "ModelResponse",
    "ModelsResponse",
    "PredictRequest",
    "PredictResponse",
    "ReadyResponse",
    "SeriesInput",
    "ValidationErrorResponse",
]

Value = float | str | bool | None
_FORMS = ("inputs", "records", "series", "x/edge_index")


class SeriesInput(BaseModel):
    """One history: timestamps (ISO strings) or integer steps, and the values."""

    model_config = ConfigDict(extra="forbid")

    unique_id: str | int = Field(description="The series' id, echoed in the response.")
    ds: list[int | str] = Field(
        min_length=1, description="Timestamps ('2024-01-01 13:00') or integer steps, regular."
    )
    y: list[float | None] = Field(
        min_length=1, description="Values at ds; null for missing (if the model fills them)."
    )


class PredictRequest(BaseModel):
    """A prediction request: exactly one of the forms in the module docstring."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"inputs": [[0.5, 1.2, -0.3, 0.0]]},
                {"records": [{"age": 41, "plan": "pro"}]},
                {
                    "series": [
                        {
                            "unique_id": "H1",
                            "ds": ["2024-01-01 00:00", "2024-01-01 01:00"],
                            "y": [605.0, 586.0],
                        }
                    ],
                    "h": 12,
                },
                {"x": [[1.0, 0.0], [0.0, 1.0]], "edge_index": [[0, 1], [1, 0]]},
            ]
        },
    )

    inputs: list[list[Value] | list[list[float | None]]] | None = Field(
        None,
        min_length=1,
        description="Rows: features, table columns or histories; or sequences (sequence"
        " classifiers), each a list of channels of values.",
    )
    records: list[dict[str, Value]] | None = Field(
        None, min_length=1, description="Table rows as {column: value} (tabular models)."
    )
    series: list[SeriesInput] | None = Field(
        None, min_length=1, description="Histories to forecast from (forecasting models)."
    )
    h: int | None = Field(
        None, ge=1, le=100_000, description="Forecast steps, at most the model's horizon."
    )
    x: list[list[float]] | None = Field(
        None, min_length=1, description="Node features, one row per node (graph models)."
    )
    edge_index: list[list[int]] | None = Field(
        None, min_length=2, max_length=2, description="[[sources...], [targets...]]."
    )

    @model_validator(mode="after")
    def _one_form(self) -> PredictRequest:
        given = [
            name
            for name, present in (
                ("inputs", self.inputs is not None),
                ("records", self.records is not None),
                ("series", self.series is not None),
                ("x/edge_index", self.x is not None or self.edge_index is not None),
            )
            if present
        ]
        if len(given) != 1:
            raise ValueError(
                f"give exactly one of {', '.join(_FORMS)}; got {', '.join(given) or 'none'}"
            )
        if given == ["x/edge_index"] and (self.x is None or self.edge_index is None):
            raise ValueError("a graph needs both x and edge_index")
        if self.h is not None and given[0] not in ("series", "inputs"):
            raise ValueError("h goes with series (or inputs) of a forecasting model")
        return self

    def payload(self) -> dict[str, Any]:
        """The fields that were given, as plain data for the engine (no copies of big lists)."""
        payload: dict[str, Any] = {}
        for name in ("inputs", "records", "h", "x", "edge_index"):
            value = getattr(self, name)
            if value is not None:
                payload[name] = value
        if self.series is not None:
            payload["series"] = [entry.model_dump() for entry in self.series]
        return payload


class PredictResponse(BaseModel):
    """Model outputs, one per input row (or per series, or per node)."""

    outputs: list[Any] = Field(
        description="Network outputs, labels, values, forecasts ({unique_id, ds, forecast})"
        " or node scores, in the order of the request."
    )
    probabilities: list[list[float]] | None = Field(
        None, description="Class probabilities (tabular classification)."
    )


class ErrorResponse(BaseModel):
    """What went wrong, in one sentence that says what to do."""

    detail: str


class ValidationErrorResponse(BaseModel):
    """A request that does not parse or validate (422)."""

    detail: str
    errors: list[dict[str, Any]] = Field(default_factory=list)


class ModelResponse(BaseModel):
    """One served model (``GET /v1/models``)."""

    name: str
    status: str = Field(description="registered, loading, ready or failed.")
    family: str | None = None
    backend: str | None = Field(None, description="The backend requests run on now.")
    backends: list[str] = Field(default_factory=list, description="Fallback order.")
    error: str | None = None
    signature: dict[str, Any] = Field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Median ms per backend and batch rows, measured at load."
    )
    skipped: dict[str, str] = Field(default_factory=dict, description="Unusable backends, why.")
    max_batch_size: int
    max_wait_ms: float
    queue_depth: int


class ModelsResponse(BaseModel):
    models: list[ModelResponse]


class HealthResponse(BaseModel):
    status: str


class ReadyResponse(BaseModel):
    ready: bool
    models: dict[str, str] = Field(description="Status of each model.")
    detail: str | None = None
