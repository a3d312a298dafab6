"""Small synthetic long-format series for fast forecasting tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_series(n_series: int = 3, length: int = 200, season: int = 12, seed: int = 0,
                freq: str | None = "h") -> pd.DataFrame:  # fmt: skip
    """Seasonal series with trend and noise; hourly timestamps (or integer steps)."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n_series):
        t = np.arange(length)
        level = 10.0 * (index + 1)
        y = level + 0.02 * t + 3 * np.sin(2 * np.pi * t / season) + rng.normal(0, 0.3, length)
        ds = pd.date_range("2024-01-01", periods=length, freq=freq) if freq else t + 1
        frames.append(pd.DataFrame({"unique_id": f"s{index}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def series_df() -> pd.DataFrame:
    return make_series()


@pytest.fixture
def series_factory():
    """``make_series`` for tests that need other shapes than ``series_df``."""
    return make_series
