"""Exogenous variables: models learn from future, historic and static covariates; bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.forecasting import NBEATS, NHITS, TCN, DeepAR, Forecaster, metrics
from zen.forecasting.data import from_long, with_future

H = 12
INPUT = 24
LENGTH = 400


def event_series(n_series: int = 4, length: int = LENGTH, seed: int = 0) -> pd.DataFrame:
    """y jumps by 5 whenever the known-in-advance flag ``promo`` is on; otherwise small noise.

    Without ``promo`` the jumps are unpredictable (random flags); with it, forecasting is easy.
    """
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n_series):
        promo = (rng.random(length) < 0.25).astype(float)
        y = 10.0 + 5.0 * promo + rng.normal(0, 0.2, length)
        frames.append(
            pd.DataFrame(
                {"unique_id": f"s{index}", "ds": np.arange(1, length + 1), "y": y, "promo": promo}
            )
        )
    return pd.concat(frames, ignore_index=True)


def leading_series(n_series: int = 4, length: int = LENGTH, seed: int = 1) -> pd.DataFrame:
    """y repeats the historic-only indicator ``lead`` H steps later: y_t = lead_{t-H}."""
    rng = np.random.default_rng(seed)
    frames = []
    for index in range(n_series):
        lead = rng.normal(0, 1, length + H)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{index}",
                    "ds": np.arange(1, length + 1),
                    "y": 20.0 + lead[:length],
                    "lead": lead[H:],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def split_last(df: pd.DataFrame, h: int = H) -> tuple[pd.DataFrame, pd.DataFrame]:
    """History and the last ``h`` rows of every series."""
    last = df.groupby("unique_id").cumcount(ascending=False) < h
    return df[~last], df[last]


FAST = {
    "max_steps": 300,
    "val_check_steps": 100,
    "windows_batch_size": 128,
    "learning_rate": 3e-3,
    "random_seed": 0,
}
NHITS_FAST = {**FAST, "mlp_units": ((64, 64),) * 3}
TCN_FAST = {**FAST, "encoder_hidden_size": 32, "decoder_hidden_size": 32}
DEEPAR_FAST = {**FAST, "lstm_hidden_size": 32, "trajectory_samples": 50, "scaler_type": "standard"}


def holdout_mae(model_with, model_without, df: pd.DataFrame, column: str) -> tuple[float, float]:
    history, future = split_last(df)
    errors = []
    for model in (model_with, model_without):
        fc = Forecaster([model], freq=1).fit(history)
        futr_df = future[["unique_id", "ds", column]]
        forecast = fc.predict(futr_df=futr_df if model is model_with else None)
        errors.append(metrics.mae(future["y"].to_numpy(), forecast[model.alias].to_numpy()))
    return errors[0], errors[1]


@pytest.mark.parametrize(
    "make_model",
    [
        lambda **kw: NHITS(h=H, input_size=INPUT, **NHITS_FAST, **kw),
        # TCN's dilated convolutions are the slowest to train here (about 30 s): `make test-all`.
        pytest.param(
            lambda **kw: TCN(h=H, input_size=INPUT, **TCN_FAST, **kw), marks=pytest.mark.slow
        ),
        # DeepAR's LSTM too (about 25 s); N-HiTS keeps the check in the fast suite.
        pytest.param(
            lambda **kw: DeepAR(h=H, input_size=INPUT, **DEEPAR_FAST, **kw),
            marks=pytest.mark.slow,
        ),
    ],
    ids=["NHITS", "TCN", "DeepAR"],
)
def test_future_exogenous_variable_is_learned(make_model) -> None:
    with_promo, without = holdout_mae(
        make_model(futr_exog_list=["promo"]), make_model(), event_series(), "promo"
    )
    # Knowing the promotions removes most of the error (the jumps are 5, noise 0.2).
    assert with_promo < 0.5 * without
    assert with_promo < 1.0


@pytest.mark.parametrize("model_class", [NHITS, pytest.param(TCN, marks=pytest.mark.slow)])
def test_historic_exogenous_variable_is_learned(model_class) -> None:
    settings = NHITS_FAST if model_class is NHITS else TCN_FAST
    df = leading_series()
    history, future = split_last(df)
    errors = {}
    for name, extra in (("with", {"hist_exog_list": ["lead"]}), ("without", {})):
        model = model_class(h=H, input_size=INPUT, scaler_type="standard", **settings, **extra)
        forecast = Forecaster([model], freq=1).fit(history).predict()
        errors[name] = metrics.mae(future["y"].to_numpy(), forecast[model.alias].to_numpy())
    # The indicator over the input window *is* the next H values; without it y is white noise.
    assert errors["with"] < 0.5 * errors["without"]


def test_static_variables_change_the_forecast_and_survive_save_load(tmp_path) -> None:
    df = event_series()[["unique_id", "ds", "y"]]
    static_df = pd.DataFrame({"unique_id": [f"s{i}" for i in range(4)], "size": [1, 2, 3, 4]})
    model = NHITS(h=H, input_size=INPUT, stat_exog_list=["size"], **NHITS_FAST)
    fc = Forecaster([model], freq=1).fit(df, static_df=static_df)
    forecast = fc.predict()

    other_size = static_df.assign(size=[40, 30, 20, 10])
    changed = fc.predict(df=df, static_df=other_size)
    assert not np.allclose(forecast["NHITS"], changed["NHITS"])

    loaded = Forecaster.load(fc.save(tmp_path / "fc"))
    pd.testing.assert_frame_equal(loaded.predict(), forecast)
    pd.testing.assert_frame_equal(loaded.predict(df=df), forecast)


def test_save_load_keeps_temporal_exogenous_history(tmp_path) -> None:
    history, future = split_last(event_series())
    fc = Forecaster([NHITS(h=H, input_size=INPUT, futr_exog_list=["promo"], **NHITS_FAST)], freq=1)
    fc.fit(history)
    loaded = Forecaster.load(fc.save(tmp_path / "fc"))
    futr_df = future[["unique_id", "ds", "promo"]]
    pd.testing.assert_frame_equal(loaded.predict(futr_df=futr_df), fc.predict(futr_df=futr_df))


def test_cross_validation_takes_future_values_from_df() -> None:
    df = event_series()
    model = NHITS(h=H, input_size=INPUT, futr_exog_list=["promo"], **NHITS_FAST)
    cv = Forecaster([model], freq=1).cross_validation(df, n_windows=2, step_size=H)
    assert len(cv) == 2 * 4 * H
    assert metrics.mae(cv["y"].to_numpy(), cv["NHITS"].to_numpy()) < 1.0


def test_future_values_are_matched_by_series_and_timestamp() -> None:
    history, future = split_last(event_series())
    data = from_long(history, exog_columns=["promo"])
    shuffled = future.sample(frac=1.0, random_state=0)
    extra = future.assign(ds=future["ds"] + 100)  # rows beyond the horizon are ignored
    matched = with_future(data, pd.concat([shuffled, extra]), ["promo"], H)
    expected = future.sort_values(["unique_id", "ds"])["promo"].to_numpy().reshape(4, H)
    np.testing.assert_array_equal(matched.future[..., 0].numpy(), expected)


# ---------------------------------------------------------------------- bad input
@pytest.fixture(scope="module")
def promo_forecaster() -> Forecaster:
    history, _ = split_last(event_series())
    model = NHITS(
        h=H, input_size=INPUT, futr_exog_list=["promo"], max_steps=5, mlp_units=((8, 8),) * 3
    )
    return Forecaster([model], freq=1).fit(history)


def test_predict_without_futr_df_names_the_future_variables(promo_forecaster) -> None:
    with pytest.raises(DataError, match=r"futr_df.*\['promo'\]"):
        promo_forecaster.predict()


def test_futr_df_missing_a_column_is_an_error(promo_forecaster) -> None:
    _, future = split_last(event_series())
    with pytest.raises(
        DataError, match=r"futr_df: missing future exogenous column\(s\) \['promo'\]"
    ):
        promo_forecaster.predict(futr_df=future[["unique_id", "ds"]])


def test_futr_df_missing_rows_names_the_series(promo_forecaster) -> None:
    _, future = split_last(event_series())
    partial = future[~((future["unique_id"] == "s2") & (future["ds"] == future["ds"].max()))]
    with pytest.raises(DataError, match=r"futr_df: no value of \['promo'\] for series 's2'"):
        promo_forecaster.predict(futr_df=partial[["unique_id", "ds", "promo"]])


def test_fit_without_the_exogenous_column_is_an_error() -> None:
    df = event_series()[["unique_id", "ds", "y"]]
    model = NHITS(h=H, input_size=INPUT, hist_exog_list=["promo"], max_steps=5)
    with pytest.raises(DataError, match=r"df: missing exogenous column\(s\) \['promo'\]"):
        Forecaster([model], freq=1).fit(df)


def test_non_numeric_exogenous_column_is_an_error() -> None:
    df = event_series().assign(promo="yes")
    model = NHITS(h=H, input_size=INPUT, futr_exog_list=["promo"], max_steps=5)
    with pytest.raises(DataError, match="'promo' must be numeric"):
        Forecaster([model], freq=1).fit(df)


def test_missing_exogenous_values_are_filled_only_when_asked() -> None:
    df = event_series()
    df.loc[5, "promo"] = np.nan
    model = NHITS(
        h=H, input_size=INPUT, futr_exog_list=["promo"], max_steps=5, mlp_units=((8, 8),) * 3
    )
    with pytest.raises(DataError, match="promo has 1 missing value"):
        Forecaster([model], freq=1).fit(df)
    Forecaster([model], freq=1, fill_missing="ffill").fit(df)


def test_static_df_must_cover_every_series() -> None:
    df = event_series()
    model = NHITS(h=H, input_size=INPUT, stat_exog_list=["size"], max_steps=5)
    with pytest.raises(DataError, match="static_df: the models' stat_exog_list"):
        Forecaster([model], freq=1).fit(df)
    partial = pd.DataFrame({"unique_id": ["s0", "s1"], "size": [1.0, 2.0]})
    with pytest.raises(
        DataError, match="static_df: no complete row of \\['size'\\] for series 's2'"
    ):
        Forecaster([model], freq=1).fit(df, static_df=partial)
    repeated = pd.DataFrame({"unique_id": ["s0", "s0"], "size": [1.0, 2.0]})
    with pytest.raises(DataError, match="more than one row"):
        Forecaster([model], freq=1).fit(df, static_df=repeated)


@pytest.mark.parametrize(
    ("model_class", "argument"),
    [
        (NBEATS, "futr_exog_list"),
        (NBEATS, "stat_exog_list"),
        (DeepAR, "hist_exog_list"),
    ],
)
def test_models_reject_exogenous_kinds_their_paper_lacks(model_class, argument) -> None:
    with pytest.raises(ConfigError, match=argument):
        model_class(h=H, input_size=INPUT, **{argument: ["x"]})


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"futr_exog_list": "promo"}, "expected a list of column names"),
        ({"futr_exog_list": ["a", "a"]}, "repeated"),
        ({"futr_exog_list": ["a"], "hist_exog_list": ["a"]}, "also in futr_exog_list"),
    ],
)
def test_exogenous_lists_are_validated(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        NHITS(h=H, input_size=INPUT, **settings)
