"""Reading what ``zen fit`` and the model classes save, for ``zen export RUN_OR_MODEL``.

A run directory (``runs/<id>/``) holds its best model in ``model/``; a model directory holds
``config.json`` whose ``format`` names the class that wrote it: ``zen.tabular``
(:meth:`TabularModel.save`), ``zen.forecaster`` (:meth:`Forecaster.save`) or ``zen.trainer``
(:meth:`Trainer.save`, e.g. graph runs and MLPs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zen.errors import DataError
from zen.reports import MODEL_CONFIG_FILE as CONFIG_FILE
from zen.reports import model_directory

_FORMATS = ("zen.tabular", "zen.forecaster", "zen.trainer")


def load_saved(path: str | Path) -> tuple[Any, Path, str]:
    """``(model, model directory, format)`` of a run or model directory."""
    from zen.neural.checkpoint import read_json

    directory = model_directory(path)
    payload = read_json(directory / CONFIG_FILE)
    kind = payload.get("format") if isinstance(payload, dict) else None
    if kind == "zen.tabular":
        from zen.tabular import TabularModel

        return TabularModel.load(directory), directory, kind
    if kind == "zen.forecaster":
        from zen.forecasting import Forecaster

        return Forecaster.load(directory), directory, kind
    if kind == "zen.trainer":
        import zen.graph  # noqa: F401  (registers the graph models with the checkpoint loader)
        from zen.neural import Trainer

        return Trainer.load(directory).model, directory, kind
    raise DataError(
        f"{directory / CONFIG_FILE}: unknown saved model format {kind!r}; zen export reads"
        f" {', '.join(_FORMATS)}"
    )


def forecast_windows(
    forecaster: Any, model_name: str | None, max_windows: int = 512
) -> np.ndarray | None:
    """Input windows ``(n, input_size)`` from a Forecaster's saved history, spread evenly over
    every series (calibration data for static INT8); None when the model takes covariates."""
    from zen.compute._export_families import pick_forecast_model

    model = pick_forecast_model(forecaster, model_name)
    if model.hist_exog_list or model.futr_exog_list or model.stat_exog_list:
        return None
    data = forecaster.data_
    values = data.values.numpy().astype(np.float32)
    windows = []
    for start, stop in zip(data.indptr[:-1], data.indptr[1:], strict=True):
        series = values[start:stop]
        if len(series) >= model.input_size:
            windows.append(np.lib.stride_tricks.sliding_window_view(series, model.input_size))
    if not windows:
        return None
    every = np.concatenate(windows)
    chosen = np.linspace(0, len(every) - 1, min(max_windows, len(every))).round().astype(int)
    return np.ascontiguousarray(every[np.unique(chosen)])
