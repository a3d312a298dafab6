"""Checks that the forecasting tests of several window models share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zen.forecasting.core import Forecaster


def nested_intervals(model: Any, data: Any) -> dict[str, np.ndarray]:
    """Assert that the point forecast lies inside the 80 % interval and that inside the 95 %
    one; return the forecasts by name (``point``, ``low80``... ``high95``) for more checks."""
    point = model.predict(data)
    low80, high80 = model.predict_interval(data, 80)
    low95, high95 = model.predict_interval(data, 95)
    assert (low95 <= low80).all() and (low80 <= point).all()
    assert (point <= high80).all() and (high80 <= high95).all()
    return {"point": point, "low80": low80, "high80": high80, "low95": low95, "high95": high95}


def assert_round_trip(model: Any, frame: pd.DataFrame, folder: Path, levels: list[int]) -> None:
    """Fit ``model`` in a Forecaster, save and load it: same hyperparameters, and the very same
    forecasts and intervals at ``levels``."""
    fc = Forecaster([model], freq="h").fit(frame)
    fc.save(folder)
    loaded = Forecaster.load(folder)
    assert loaded.models[0].hyperparameters() == model.hyperparameters()
    pd.testing.assert_frame_equal(
        loaded.predict(level=levels), fc.predict(level=levels), check_exact=True
    )
