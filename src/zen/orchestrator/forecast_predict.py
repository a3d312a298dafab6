"""Forecasts from a saved Forecaster: ``forecast.csv`` of ``zen fit`` and ``zen predict RUN``.

A model directory written by ``zen fit`` holds the Forecaster (weights, settings and the
history it forecasts from), ``input.json`` (how its table was read: layout, dates, frequency,
gap policy, exogenous columns; :class:`~zen.orchestrator.series_input.SeriesSpec`) and, when
its models use future variables, ``future.csv`` (their values after the history, from the
table). :func:`predict_saved_forecaster` forecasts the steps after each series, from that
history or from a new table read the same way.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from zen.errors import ConfigError, DataError
from zen.forecasting import Forecaster
from zen.neural.checkpoint import read_json
from zen.orchestrator.series_input import SPEC_FILE, SeriesSpec, read_series
from zen.tabular import read_table

#: The forecast ``zen fit`` writes in the run directory.
FORECAST_FILE = "forecast.csv"
#: Future values of the model's future variables, kept with the model (``zen fit``).
FUTURE_FILE = "future.csv"
#: Interval levels written when the models give intervals.
LEVELS = (80, 95)


def forecast_frame(
    forecaster: Forecaster,
    df: pd.DataFrame | None = None,
    futr_df: pd.DataFrame | None = None,
    static_df: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``unique_id, ds`` and each model's forecast of the ``h`` steps after every series,
    with ``-lo-80/-hi-80`` and ``-lo-95/-hi-95`` columns when every model gives intervals.

    Raises:
        DataError: the models use future variables and ``futr_df`` is missing or short.
    """
    if forecaster.future_exog and futr_df is None:
        raise DataError(
            f"data: the model uses future variables {list(forecaster.future_exog)}; add the"
            f" {forecaster.h} rows after each series' last value, with the target empty and"
            " those columns filled"
        )
    try:
        return forecaster.predict(df, futr_df=futr_df, level=LEVELS, static_df=static_df)
    except ConfigError:  # a model without intervals: point forecasts only
        return forecaster.predict(df, futr_df=futr_df, static_df=static_df)


def saved_spec(model_dir: Path, forecaster: Forecaster) -> SeriesSpec:
    """How ``model_dir``'s model reads tables: its ``input.json``, or for a Forecaster saved
    by hand, a long table (``unique_id, ds, y``) with the models' exogenous columns."""
    path = model_dir / SPEC_FILE
    if path.is_file():
        payload = read_json(path)
        if not isinstance(payload, dict):
            raise DataError(f"{path}: expected a JSON object written by zen fit")
        return SeriesSpec.from_json(payload)
    future = forecaster.future_exog
    return SeriesSpec(
        layout="long", time_column="ds", freq=forecaster.freq_,
        fill=forecaster.fill_missing if forecaster.fill_missing in ("interpolate", "zero")
        else "interpolate",
        hist_exog=tuple(c for c in forecaster.temporal_exog if c not in future),
        futr_exog=tuple(future), static=tuple(forecaster.static_exog),
    )  # fmt: skip


def predict_saved_forecaster(
    model_dir: Path,
    data: Path | pd.DataFrame | None = None,
    *,
    forecaster: Forecaster | None = None,
) -> pd.DataFrame:
    """The forecast of a saved Forecaster (see the module docstring).

    Args:
        model_dir: the model directory (``runs/<id>/model``).
        data: a table (CSV path or frame) read like the training table: new history of the
            series and, when the model uses future variables, rows after each series' last
            value with the target empty and those variables filled. None: forecast from the
            saved history (and ``future.csv``).
        forecaster: the Forecaster of ``model_dir`` when the caller has loaded it already.

    Raises:
        DataError: ``data`` lacks a column the model needs (named), or its future rows.
    """
    model_dir = Path(model_dir)
    if forecaster is None:
        forecaster = Forecaster.load(model_dir)
    if data is None:
        future_path = model_dir / FUTURE_FILE
        future = None
        if forecaster.future_exog and future_path.is_file():
            future = read_table(future_path)
            if not isinstance(forecaster.freq_, int):
                future = future.assign(ds=pd.to_datetime(future["ds"]))
        return forecast_frame(forecaster, futr_df=future)
    spec = saved_spec(model_dir, forecaster)
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    series = read_series(frame, spec, name="data" if isinstance(data, pd.DataFrame) else str(data))
    return forecast_frame(
        forecaster, df=series.long, futr_df=series.future, static_df=series.static_df
    )
