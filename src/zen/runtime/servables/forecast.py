"""Forecasting models saved as a :class:`~zen.forecasting.Forecaster` (what ``zen fit`` writes).

Two request forms:

* ``{"series": [{"unique_id": "H1", "ds": [...], "y": [...]}, ...], "h": 12}``: histories
  with timestamps (or integer steps); the response has one entry per series with the
  ``ds`` of the forecast steps: ``{"outputs": [{"unique_id", "ds", "forecast"}, ...]}``.
* ``{"inputs": [[y, ...], ...]}`` (window models only): each row a history of at least
  ``input_size`` values, of which the last ``input_size`` are read; ``{"outputs": [[h values]]}``.

``h`` (optional) asks for fewer steps than the model's horizon.

A Forecaster with one neural window model (N-HiTS, N-BEATS, TCN; point or quantile loss, no
exogenous variables) is served as its network on the last ``input_size`` values of each
series, :class:`WindowForecastServable`: batches are windows, and the network exports to ONNX.
Anything else the Forecaster holds (baselines, the median ensemble ``zen fit`` may save,
DeepAR's sampling) is served by ``Forecaster.predict`` itself, :class:`ForecasterServable`:
a batch is the requests' series in one long frame, run on PyTorch only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from zen.errors import ConfigError, DataError
from zen.export.saved import SavedModel
from zen.runtime.servables.base import Feeds, Prepared, Servable


@dataclass(frozen=True)
class _Series:
    """One history of a ``series`` request, as the generic path keeps it in an object array."""

    values: np.ndarray
    ds: np.ndarray


@dataclass(frozen=True)
class _Context:
    ids: list[Any]  # unique_id of each row, as the client sent it (None for the inputs form)
    future_ds: np.ndarray | None  # (rows, model h)
    h: int


class _ForecastServable(Servable):
    """What both forecasting paths share: parsing series, horizons, and the response."""

    family = "forecast"
    options = ("h",)

    def __init__(self, name: str, path: Path, forecaster: Any) -> None:
        super().__init__(name, path)
        self.forecaster = forecaster
        self.h = int(forecaster.h)
        self.freq = forecaster.freq_
        self.alias = forecaster.models_[0].alias
        self.min_length = max([1, *(_input_sizes(forecaster.models_))])

    # ------------------------------------------------------------------ requests
    def _horizon(self, request: Mapping[str, Any]) -> int:
        h = request.get("h")
        if h is None:
            return self.h
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 1 <= h <= self.h:
            raise DataError(
                f"h: expected an integer from 1 to {self.h} (the model's horizon), got {h!r}"
            )
        return int(h)

    def _series_data(self, series: Any) -> tuple[Any, list[Any]]:
        """The request's series validated as :class:`~zen.forecasting.SeriesData`, and the
        client's ids in the order of its rows."""
        from zen.forecasting.data import from_long

        if not isinstance(series, (list, tuple)) or not series:
            raise DataError("series: expected a non-empty list of {unique_id, ds, y} objects")
        keys: list[str] = []
        ids: dict[str, Any] = {}
        lengths: list[int] = []
        stamps: list[Any] = []
        values: list[Any] = []
        for index, entry in enumerate(series):
            if not isinstance(entry, Mapping) or not {"unique_id", "ds", "y"} <= set(entry):
                raise DataError(f"series[{index}]: expected an object with unique_id, ds and y")
            key = str(entry["unique_id"])
            if key in ids:
                raise DataError(f"series[{index}]: unique_id {key!r} is given twice")
            ds, y = entry["ds"], entry["y"]
            if not isinstance(ds, (list, tuple)) or not isinstance(y, (list, tuple)):
                raise DataError(f"series[{index}] ({key!r}): ds and y must be lists")
            if len(ds) != len(y) or not y:
                raise DataError(
                    f"series[{index}] ({key!r}): ds has {len(ds)} values and y {len(y)};"
                    " expected the same non-zero number"
                )
            if len(y) < self.min_length:
                raise DataError(
                    f"series[{index}] ({key!r}): {len(y)} values; the model reads the last"
                    f" {self.min_length}, send at least that many"
                )
            ids[key] = entry["unique_id"]
            keys.append(key)
            lengths.append(len(y))
            stamps.extend(ds)
            values.extend(y)
        integer_steps = all(_is_integer(value) for value in stamps)
        if integer_steps != isinstance(self.freq, int):
            wanted = (
                "integer steps (the model was trained on integer ds)"
                if isinstance(self.freq, int)
                else f"timestamps like '2024-01-01 13:00' (the model's frequency is {self.freq!r})"
            )
            raise DataError(f"series: ds must be {wanted}")
        try:
            y_column = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("series: y holds values that are not numbers") from None
        frame = pd.DataFrame(
            {"unique_id": np.repeat(keys, lengths), "ds": _ds_column(stamps), "y": y_column}
        )
        data = from_long(frame, self.freq, fill_missing=self.forecaster.fill_missing, name="series")
        return data, [ids[str(key)] for key in data.ids]

    def respond(self, prepared: Prepared, outputs: list[np.ndarray]) -> dict[str, Any]:
        context: _Context = prepared.context
        forecast = self._point(outputs)[:, : context.h].astype(np.float64)
        if context.future_ds is None:
            return {"outputs": forecast.tolist()}
        stamps = _ds_json(context.future_ds[:, : context.h])
        return {
            "outputs": [
                {"unique_id": uid, "ds": ds, "forecast": values}
                for uid, ds, values in zip(context.ids, stamps, forecast.tolist(), strict=True)
            ]
        }

    def _point(self, outputs: list[np.ndarray]) -> np.ndarray:
        return outputs[0]

    def signature(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "series": ["series", "{unique_id, ds: [...], y: [...]}"],
            "h": f"optional, 1..{self.h}",
        }
        if "inputs" in self.forms:
            request["inputs"] = ["rows", f">= {self.min_length} values"]
        return {
            "request": request,
            "response": {"outputs": ["series", "{unique_id, ds: [h], forecast: [h]}"]},
            "h": self.h,
            "min_history": self.min_length,
            "freq": self.freq,
            "model": self.alias,
            "description": f"series histories -> {self.h}-step forecasts by {self.alias}",
        }

    def _example_request(self, rows: int, rng: np.random.Generator) -> dict[str, Any]:
        """A ``series`` request of ``rows`` histories cut from the saved training history."""
        data = self.forecaster.data_
        values = data.values.numpy()
        lengths = data.lengths
        length = int(min(lengths.max(), max(2 * self.min_length, 32)))
        series = []
        for index in range(rows):
            which = int(rng.integers(data.n_series))
            count = int(min(lengths[which], length))
            end = int(data.indptr[which + 1])
            ds = _steps_before(data.last_ds[which], count, self.freq)
            series.append({"unique_id": index, "ds": ds, "y": values[end - count : end].tolist()})
        return {"series": series}


class WindowForecastServable(_ForecastServable):
    """A Forecaster's one window network (N-HiTS, N-BEATS, TCN) on the last ``input_size``
    values of each series (see the module docstring)."""

    forms = ("series", "inputs")
    input_names = ("insample",)

    def __init__(self, name: str, path: Path, forecaster: Any) -> None:
        super().__init__(name, path, forecaster)
        self.model = forecaster.models_[0]
        self.input_size = int(self.model.input_size)
        self.network = self.model.model_.eval()
        self.loss = self.model.loss_

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        from zen.forecasting.windows import last_windows

        form = self.request_form(request)
        h = self._horizon(request)
        if form == "inputs":
            windows = self._windows(request["inputs"])
            return Prepared({"insample": windows}, len(windows), _Context([], None, h), form)
        data, ids = self._series_data(request["series"])
        windows = last_windows(data, self.input_size).numpy()
        context = _Context(ids, data.future_ds(self.h), h)
        return Prepared({"insample": np.ascontiguousarray(windows)}, len(windows), context, form)

    def _windows(self, rows: Any) -> np.ndarray:
        if not isinstance(rows, (list, tuple)) or not rows:
            raise DataError(
                f"inputs: expected a non-empty list of histories, each of >= {self.input_size}"
                " values"
            )
        windows = np.empty((len(rows), self.input_size), dtype=np.float32)
        for index, row in enumerate(rows):
            try:
                history = np.asarray(row)
            except (TypeError, ValueError):
                history = np.asarray([None])
            if history.ndim != 1 or history.dtype.kind not in "biuf":
                raise DataError(f"inputs: row {index} is not a list of numbers")
            if len(history) < self.input_size:
                raise DataError(
                    f"inputs: row {index} has {len(history)} values; the model reads the last"
                    f" input_size = {self.input_size}, send at least that many"
                )
            tail = history[-self.input_size :]
            if not np.isfinite(tail).all():
                raise DataError(
                    f"inputs: row {index} holds NaN or infinite values in its last"
                    f" {self.input_size}"
                )
            windows[index] = tail
        return windows

    def _point(self, outputs: list[np.ndarray]) -> np.ndarray:
        # A copy: outputs from the result cache are read-only arrays.
        return self.loss.point(torch.tensor(outputs[0])).numpy()

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        data = self.forecaster.data_
        values = data.values.numpy()
        lengths = data.lengths
        eligible = np.flatnonzero(lengths >= self.input_size)
        if not len(eligible):  # pragma: no cover - a fitted model saw long enough series
            walk = np.cumsum(rng.standard_normal((rows, self.input_size)), axis=1)
            return {"insample": walk.astype(np.float32)}
        which = rng.choice(eligible, size=rows)
        ends = data.indptr[which] + self.input_size
        ends += (rng.random(rows) * (lengths[which] - self.input_size + 1)).astype(np.int64)
        index = ends[:, None] - self.input_size + np.arange(self.input_size)
        return {"insample": np.ascontiguousarray(values[index], dtype=np.float32)}

    def torch_module(self) -> nn.Module:
        return self.network

    def export_target(self) -> Any:
        return self.model


class ForecasterServable(_ForecastServable):
    """Any other Forecaster, run by its own ``predict`` (see the module docstring)."""

    forms = ("series",)
    input_names = ("series",)

    def prepare(self, request: Mapping[str, Any]) -> Prepared:
        self.request_form(request)
        h = self._horizon(request)
        data, ids = self._series_data(request["series"])
        series = np.empty(data.n_series, dtype=object)
        future_ds = data.future_ds(self.h)
        for index in range(data.n_series):
            ds = _stamps_before(data.last_ds[index], int(data.lengths[index]), self.freq)
            series[index] = _Series(data.series(index).numpy().astype(np.float64), ds)
        return Prepared({"series": series}, data.n_series, _Context(ids, future_ds, h), "series")

    def cache_key(self, prepared: Prepared) -> bytes:
        digest = hashlib.blake2b(digest_size=20)
        for entry in prepared.feeds["series"]:
            digest.update(f"{len(entry.values)};".encode())
            digest.update(np.ascontiguousarray(entry.values).data)
            digest.update(str(entry.ds[-1]).encode())
        return digest.digest()

    def python_runner(self) -> Callable[[Feeds], list[np.ndarray]]:
        return self._run

    def _run(self, feeds: Feeds) -> list[np.ndarray]:
        series: Sequence[_Series] = list(feeds["series"])
        # Zero-padded positions as ids: from_long sorts ids, so rows come back in order.
        width = len(str(len(series)))
        ids = [f"{index:0{width}d}" for index in range(len(series))]
        frame = pd.DataFrame(
            {
                "unique_id": np.repeat(ids, [len(entry.values) for entry in series]),
                "ds": np.concatenate([entry.ds for entry in series]),
                "y": np.concatenate([entry.values for entry in series]),
            }
        )
        forecasts = self.forecaster.predict(frame)
        return [forecasts[self.alias].to_numpy(np.float64).reshape(len(series), self.h)]

    def example_feeds(self, rows: int, rng: np.random.Generator) -> Feeds:
        return self.prepare(self._example_request(rows, rng)).feeds


def load_forecaster(name: str, saved: SavedModel) -> _ForecastServable:
    """The servable for a saved Forecaster: the window fast path when it applies."""
    from zen.forecasting.losses import DistributionLoss
    from zen.forecasting.models.base import WindowModel

    forecaster, path = saved.model, saved.directory
    exogenous = sorted(
        {*forecaster.temporal_exog, *forecaster.future_exog, *forecaster.static_exog}
    )
    if exogenous:
        raise ConfigError(
            f"{path}: the Forecaster uses exogenous variables {exogenous}; serving them is not"
            " supported yet (requests carry y only). Serve a model trained without them"
        )
    models = forecaster.models_
    if (
        len(models) == 1
        and isinstance(models[0], WindowModel)
        and not isinstance(models[0].loss_, DistributionLoss)
    ):
        return WindowForecastServable(name, path, forecaster)
    return ForecasterServable(name, path, forecaster)


def _input_sizes(models: Sequence[Any]) -> list[int]:
    sizes = []
    for model in models:
        if hasattr(model, "models_"):  # a fitted Ensemble
            sizes.extend(_input_sizes(model.models_))
        elif hasattr(model, "input_size"):
            sizes.append(int(model.input_size))
    return sizes


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _ds_column(stamps: list[Any]) -> np.ndarray | pd.Series:
    """``ds`` values as integers when all are, else as timestamps parsed by pandas."""
    if all(_is_integer(value) for value in stamps):
        return np.asarray(stamps, dtype=np.int64)
    if any(not isinstance(value, str) for value in stamps):
        raise DataError(
            "series: ds must be all integers (steps) or all timestamp strings, e.g."
            " '2024-01-01 13:00'"
        )
    try:
        return pd.to_datetime(pd.Series(stamps), format="ISO8601")
    except (ValueError, TypeError) as error:
        raise DataError(f"series: ds holds a value that is not a timestamp ({error})") from None


def _ds_json(stamps: np.ndarray) -> list[list[Any]]:
    if np.issubdtype(stamps.dtype, np.datetime64):
        return np.datetime_as_string(stamps, unit="s").tolist()
    return stamps.astype(np.int64).tolist()


def _stamps_before(last: Any, count: int, freq: str | int) -> np.ndarray:
    """``count`` regular timestamps (datetime64) or integer steps ending at ``last``."""
    if isinstance(freq, int):
        return int(last) - freq * np.arange(count - 1, -1, -1, dtype=np.int64)
    return pd.date_range(end=pd.Timestamp(last), periods=count, freq=freq).to_numpy()


def _steps_before(last: Any, count: int, freq: str | int) -> list[Any]:
    """:func:`_stamps_before` as JSON values (integers or ISO timestamps)."""
    stamps = _stamps_before(last, count, freq)
    if isinstance(freq, int):
        return stamps.tolist()
    return np.datetime_as_string(stamps, unit="s").tolist()
