"""Old home of the forecasting job, kept so that code importing it keeps working.

The job lives in :mod:`zen.orchestrator.jobs.forecast` now; import from there.
"""

from zen.orchestrator.jobs.forecast import (
    LEVELS,
    MIN_REFIT_S,
    PLOT_FILE,
    SEASON_BY_FREQ,
    ForecastJob,
    ForecastRunResult,
    forecast,
    plot_forecasts,
    read_series_table,
    season_length_for,
    to_long,
    train_forecast_candidate,
)

__all__ = [
    "LEVELS",
    "MIN_REFIT_S",
    "PLOT_FILE",
    "SEASON_BY_FREQ",
    "ForecastJob",
    "ForecastRunResult",
    "forecast",
    "plot_forecasts",
    "read_series_table",
    "season_length_for",
    "to_long",
    "train_forecast_candidate",
]
