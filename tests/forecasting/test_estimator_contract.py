"""The estimator contract on forecasting models: saved settings, fit, set_params."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from torch import nn

from zen import ConfigError, registry
from zen.forecasting import (
    NHITS,
    DeepAR,
    Ensemble,
    Forecaster,
    HistoricAverage,
    Naive,
    SeasonalNaive,
)
from zen.forecasting.data import from_long


def test_a_new_setting_is_saved_and_loaded_without_code_for_it(
    series_df, tmp_path, monkeypatch
) -> None:
    """The bug of issue 15: a setting missing from a hand-kept list was not saved."""

    class DeepNHITS(NHITS):
        def __init__(self, h: int, input_size: int, depth: int = 1, **base: Any) -> None:
            self.depth = depth
            super().__init__(h, input_size, **base)

        def build_network(self) -> nn.Module:
            self.mlp_units = [[8] * self.depth] * 3
            return super().build_network()

    spec = registry.ModelSpec("DeepNHITS", "forecast", model_class=DeepNHITS, candidate=False)
    monkeypatch.setitem(registry._specs, (spec.kind, spec.name), spec)  # undone after the test
    model = DeepNHITS(h=4, input_size=8, depth=3, max_steps=2, val_check_steps=1)
    fitted = Forecaster([model], freq="h").fit(series_df)
    fitted.save(tmp_path / "deep")
    loaded = Forecaster.load(tmp_path / "deep")
    assert loaded.models_[0].depth == 3
    np.testing.assert_array_equal(loaded.predict()["DeepNHITS"], fitted.predict()["DeepNHITS"])


@pytest.mark.parametrize(
    "build",
    [
        lambda: NHITS(h=4, input_size=8, max_steps=2, val_check_steps=1),
        lambda: DeepAR(h=4, input_size=8, max_steps=2, val_check_steps=1, lstm_hidden_size=4),
        lambda: SeasonalNaive(h=4, season_length=12),
        lambda: Ensemble([Naive(h=4), HistoricAverage(h=4)], method="weighted"),
    ],
    ids=["NHITS", "DeepAR", "SeasonalNaive", "Ensemble"],
)
def test_fit_returns_self_and_learns_only_underscored_state(series_df, build) -> None:
    model = build()
    settings, before = model.get_params(), set(vars(model))
    assert model.fit(from_long(series_df)) is model
    added = set(vars(model)) - before
    assert added and all(name.endswith("_") for name in added)
    after = model.get_params()
    assert after.keys() == settings.keys()
    assert all(after[name] is value for name, value in settings.items())


def test_fit_checks_settings_changed_by_set_params(series_df) -> None:
    model = NHITS(h=4, input_size=8, max_steps=2).set_params(input_size=0)
    with pytest.raises(ConfigError, match=r"^input_size: expected a positive integer, got 0"):
        model.fit(from_long(series_df))
