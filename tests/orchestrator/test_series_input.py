"""Real-world tables through the forecasting job: odd dates, gaps, empty values, covariates,
and the forecast of the real future (``forecast.csv``, ``predict_saved_forecaster``)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.forecasting import NHITS, DeepAR, Forecaster
from zen.forecasting.candidate import ForecastSettings
from zen.orchestrator import fit, orchestration
from zen.orchestrator.forecast_predict import predict_saved_forecaster
from zen.orchestrator.jobs.forecast import forecast
from zen.orchestrator.profile import profile_series, series_table
from zen.orchestrator.router import Candidate
from zen.orchestrator.series_input import SeriesSpec, prepare_series, read_series

HORIZON = 7


def daily_sales(days: int = 120, seed: int = 0) -> pd.DataFrame:
    """A weekly pattern with a temperature that moves sales, written day-first."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    temperature = 10 + 8 * np.sin(2 * np.pi * np.arange(days) / 30) + rng.normal(0, 1, days)
    sales = 100 + 15 * (ds.day_of_week >= 5) + 2 * temperature + rng.normal(0, 2, days)
    return pd.DataFrame(
        {"date": ds.strftime("%d/%m/%Y"), "sales": sales.round(2), "temperature": temperature}
    )


@pytest.fixture
def candidates(monkeypatch: pytest.MonkeyPatch):
    """Make the router propose exactly the given models."""

    def choose(*names: str) -> None:
        def routed(profile, budget_s, known, **options):
            return [Candidate(name, profile.family, 1.0, "chosen by the test") for name in names]

        monkeypatch.setattr(orchestration, "routed_candidates", routed)

    return choose


def test_day_first_dates_with_gaps_and_empty_values_are_forecast(tmp_path, candidates) -> None:
    candidates("SeasonalNaive", "Naive")
    table = daily_sales()
    table = table.drop(index=[20, 21, 50]).reset_index(drop=True)  # three missing days
    table.loc[[5, 70], "sales"] = np.nan  # two empty values
    result = forecast(table, HORIZON, target="sales", runs_dir=tmp_path, workers=1)
    profile = result.profile
    assert profile.freq == "D" and "day-first" in profile.reasons["freq"]
    assert (profile.n_gaps, profile.n_missing, profile.n_duplicates) == (3, 2, 0)
    assert result.preparation["spec"]["fill"] == "interpolate"
    assert any("3 missing time step(s) added" in note for note in result.preparation["notes"])
    written = pd.read_csv(result.forecast_path, parse_dates=["ds"])
    assert written["ds"].tolist() == list(pd.date_range("2024-04-30", periods=HORIZON, freq="D"))
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["preparation"]["notes"] == result.preparation["notes"]
    assert report["task"]["n_gaps"] == 3


def test_intermittent_counts_fill_with_zeros_by_default() -> None:
    rng = np.random.default_rng(1)
    counts = rng.poisson(0.3, 200).astype(float)
    ds = pd.date_range("2024-01-01", periods=200, freq="D")
    frame = pd.DataFrame({"unique_id": "sku", "ds": ds, "y": counts}).drop(index=[10, 11])
    from zen.orchestrator.jobs.forecast import read_series_table

    profile, series, reason = read_series_table(frame, HORIZON)
    assert profile.adi is not None and profile.adi >= 1.32
    assert series.spec.fill == "zero" and "intermittent" in reason
    assert series.series_data().values.numpy()[10:12].tolist() == [0.0, 0.0]


def test_repeated_stamps_are_averaged_and_reported() -> None:
    frame = pd.DataFrame(
        {"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02",
                                                  "2024-01-03"]), "y": [1.0, 2.0, 4.0, 5.0]}
    )  # fmt: skip
    table = series_table(frame)
    spec = SeriesSpec(layout="long", time_column="ds", freq="D", fill="interpolate")
    prepared = prepare_series(table, spec)
    assert prepared.long["y"].tolist() == [1.0, 3.0, 5.0]
    assert prepared.notes == ["1 repeated time stamp(s) averaged"]
    assert profile_series(table, 1).n_duplicates == 1


def test_drop_keeps_observed_values_in_order_up_to_the_real_last_stamp() -> None:
    frame = pd.DataFrame(
        {"unique_id": "a", "ds": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05",
                                                  "2024-01-06"]), "y": [1.0, np.nan, 3.0, 4.0]}
    )  # fmt: skip
    spec = SeriesSpec(layout="long", time_column="ds", freq="D", fill="drop")
    data = prepare_series(series_table(frame), spec).series_data()
    assert data.values.tolist() == [1.0, 3.0, 4.0]
    assert pd.Timestamp(data.last_ds[0]) == pd.Timestamp("2024-01-06")


def test_a_given_freq_and_date_format_are_used(tmp_path, candidates) -> None:
    candidates("Naive", "HistoricAverage")
    table = daily_sales(days=60)
    table["date"] = pd.to_datetime(table["date"], format="%d/%m/%Y").dt.strftime("%Y|%m|%d")
    with pytest.raises(DataError, match="--date-format"):
        forecast(table, HORIZON, target="sales", runs_dir=tmp_path)
    result = forecast(table, HORIZON, target="sales", runs_dir=tmp_path, workers=1,
                      date_format="%Y|%m|%d", freq="D")  # fmt: skip
    assert result.preparation["spec"]["date_format"] == "%Y|%m|%d"
    with pytest.raises(ConfigError, match="freq: 'fortnight'"):
        forecast(table, HORIZON, target="sales", runs_dir=tmp_path, freq="fortnight",
                 date_format="%Y|%m|%d")  # fmt: skip


def test_covariates_reach_the_models_that_take_them(tmp_path, candidates) -> None:
    spec = SeriesSpec(layout="wide", time_column="date", freq="D", fill="interpolate",
                      series=("sales",), hist_exog=("temperature",))  # fmt: skip
    settings = ForecastSettings(horizon=HORIZON, exogenous=spec.exogenous_lists())
    assert settings.window_arguments(NHITS)["hist_exog_list"] == ["temperature"]
    assert "hist_exog_list" not in settings.window_arguments(DeepAR)  # not in DeepAR's paper
    candidates("NHITS")
    result = forecast(daily_sales(), HORIZON, target="sales", runs_dir=tmp_path, workers=1,
                      max_steps=3, hist_exog=["temperature"])  # fmt: skip
    saved = Forecaster.load(result.model_dir)
    assert saved.models[0].hist_exog_list == ["temperature"]
    assert result.forecast_path is not None


def test_future_covariates_come_from_rows_after_the_series(tmp_path, candidates) -> None:
    candidates("NHITS")
    table = daily_sales()
    future = daily_sales(days=120 + HORIZON).tail(HORIZON).assign(sales=np.nan)
    arguments = {"target": "sales", "runs_dir": tmp_path, "workers": 1, "max_steps": 3,
                 "futr_exog": ["temperature"]}  # fmt: skip
    without = forecast(table, HORIZON, **arguments)
    assert without.forecast_path is None
    assert "future variables ['temperature']" in without.extra["forecast_note"]
    with pytest.raises(DataError, match="future variables"):
        predict_saved_forecaster(without.model_dir)

    result = forecast(pd.concat([table, future], ignore_index=True), HORIZON, **arguments)
    written = pd.read_csv(result.forecast_path, parse_dates=["ds"])
    assert len(written) == HORIZON and written["ds"].min() == pd.Timestamp("2024-04-30")
    again = predict_saved_forecaster(result.model_dir)  # future.csv kept with the model
    np.testing.assert_allclose(again["NHITS"], written["NHITS"], rtol=1e-5)
    # New data: the history and its future rows, read like the training table.
    extended = pd.concat([daily_sales(days=130), daily_sales(days=130 + HORIZON).tail(HORIZON)
                          .assign(sales=np.nan)], ignore_index=True)  # fmt: skip
    later = predict_saved_forecaster(result.model_dir, extended)
    assert later["ds"].min() == pd.Timestamp("2024-05-10")
    with pytest.raises(DataError, match=r"missing column\(s\) \['temperature'\]"):
        predict_saved_forecaster(result.model_dir, extended.drop(columns="temperature"))


def test_predict_reads_new_history_like_the_training_table(tmp_path, candidates) -> None:
    candidates("SeasonalNaive", "Naive")
    result = forecast(daily_sales(), HORIZON, target="sales", runs_dir=tmp_path, workers=1)
    written = pd.read_csv(result.forecast_path, parse_dates=["ds"])
    same = predict_saved_forecaster(result.model_dir, daily_sales())
    pd.testing.assert_frame_equal(same.reset_index(drop=True), written, check_dtype=False,
                                  check_index_type=False)  # fmt: skip
    with pytest.raises(DataError, match=r"missing column\(s\) \['sales'\]"):
        predict_saved_forecaster(result.model_dir, daily_sales().rename(columns={"sales": "s"}))


def test_series_options_on_a_table_are_refused(tmp_path) -> None:
    table = pd.DataFrame({"x": range(30), "label": [0, 1] * 15})
    with pytest.raises(ConfigError, match="fill, freq: options for time series"):
        fit(table, "label", runs_dir=tmp_path, series_options={"freq": "D", "fill": "zero"})


def test_read_series_names_every_missing_column() -> None:
    spec = SeriesSpec(layout="long", time_column="ds", freq="D", fill="zero",
                      futr_exog=("promo",), static=("size",))  # fmt: skip
    frame = pd.DataFrame({"unique_id": ["a"], "ds": ["2024-01-01"], "y": [1.0]})
    with pytest.raises(DataError, match=r"missing column\(s\) \['promo', 'size'\]"):
        read_series(frame, spec)


def test_zen_predict_writes_the_forecast_of_a_run(tmp_path, candidates) -> None:
    from typer.testing import CliRunner

    from zen.cli import app

    candidates("SeasonalNaive", "Naive")
    path = tmp_path / "sales.csv"
    daily_sales().to_csv(path, index=False)
    runner = CliRunner()
    fitted = runner.invoke(app, ["fit", str(path), "--target", "sales", "--horizon", "7",
                                 "--runs-dir", str(tmp_path / "runs"), "--no-progress",
                                 "--workers", "1", "--json"])  # fmt: skip
    assert fitted.exit_code == 0, fitted.output
    summary = json.loads(fitted.stdout)
    assert summary["kind"] == "forecast" and set(summary["scores"]) == {"smape", "mase"}
    run = summary["run_dir"]
    written = pd.read_csv(f"{run}/forecast.csv")
    out = tmp_path / "next.csv"
    predicted = runner.invoke(app, ["predict", run, str(path), "-o", str(out)])
    assert predicted.exit_code == 0, predicted.output
    pd.testing.assert_frame_equal(pd.read_csv(out), written)
    own = runner.invoke(app, ["predict", run, "--json"])
    assert own.exit_code == 0, own.output
    assert json.loads(own.stdout)["kind"] == "forecast"
    broken = tmp_path / "broken.csv"
    daily_sales().drop(columns="sales").to_csv(broken, index=False)
    refused = runner.invoke(app, ["predict", run, str(broken)])
    assert refused.exit_code == 2 and "missing column(s) ['sales']" in refused.output
