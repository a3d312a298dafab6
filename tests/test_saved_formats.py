"""Models saved by earlier zen still load and predict the same numbers.

``fixtures/saved_e4e5a7f`` was written at commit e4e5a7f, when settings were saved from
hand-kept lists (see ``fixtures/make_saved_fixtures.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zen.forecasting import Forecaster
from zen.tabular import TabularModel

SAVED = Path(__file__).parent / "fixtures" / "saved_e4e5a7f"


def test_a_forecaster_saved_before_issue_15_predicts_the_same() -> None:
    loaded = Forecaster.load(SAVED / "forecaster")
    expected = pd.read_csv(SAVED / "forecaster_predictions.csv")
    forecast = loaded.predict()
    for model in loaded.models_[:2]:  # the models with intervals
        low, high = model.predict_interval(loaded.data_, 80)
        forecast[f"{model.alias}-lo-80"], forecast[f"{model.alias}-hi-80"] = (
            low.ravel(),
            high.ravel(),
        )
    assert list(forecast.columns) == list(expected.columns)
    assert forecast["unique_id"].tolist() == expected["unique_id"].tolist()
    assert forecast["ds"].astype(str).tolist() == expected["ds"].tolist()
    numbers = expected.columns[2:]
    # float32 networks: the order of a sum may change with the thread count (seen: 1 ulp).
    np.testing.assert_allclose(
        forecast[numbers].to_numpy(), expected[numbers].to_numpy(), rtol=1e-6
    )
    # The settings read back are the saved ones.
    nhits, deepar = loaded.models_[:2]
    assert nhits.get_params()["mlp_units"] == [[8, 8]] * 3
    assert deepar.alias == "deepar" and deepar.loss_.distribution == "StudentT"


def test_a_tabular_model_saved_before_issue_15_predicts_the_same() -> None:
    loaded = TabularModel.load(SAVED / "tabular")
    expected = pd.read_csv(SAVED / "tabular_probabilities.csv")
    rng = np.random.default_rng(0)  # the table of make_saved_fixtures.py
    frame = pd.DataFrame({"x": rng.normal(size=80), "city": rng.choice(["oslo", "rome"], 80)})
    assert loaded.classes_.tolist() == list(expected.columns)
    np.testing.assert_allclose(loaded.predict_proba(frame), expected.to_numpy(), rtol=1e-6)
    # Its feature columns come from the saved profile, so arrays work too.
    assert loaded.n_features_in_ == 2 and list(loaded.feature_names_in_) == ["x", "city"]
    np.testing.assert_array_equal(loaded.predict(frame.to_numpy()), loaded.predict(frame))
