"""Dates, frequencies and gaps of real-world series (zen.profile.calendar)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zen import ConfigError, DataError
from zen.forecasting import fill_gaps
from zen.profile.calendar import describe_gaps, infer_freq, parse_dates


def frame(stamps, values=None, uid="a") -> pd.DataFrame:
    stamps = pd.DatetimeIndex(stamps) if not isinstance(stamps, np.ndarray) else stamps
    values = np.arange(len(stamps), dtype=float) if values is None else values
    return pd.DataFrame({"unique_id": uid, "ds": stamps, "y": values})


# -- dates ------------------------------------------------------------------------------------


def test_day_first_dates_are_detected_when_a_day_is_above_12() -> None:
    parsed, reason = parse_dates(pd.Series(["11/01/2024", "12/01/2024", "13/01/2024"]))
    assert list(parsed.dt.day) == [11, 12, 13] and set(parsed.dt.month) == {1}
    assert "day-first" in reason


def test_month_first_dates_are_detected_when_the_second_number_is_above_12() -> None:
    parsed, _ = parse_dates(pd.Series(["01/12/2024", "01/13/2024"]))
    assert list(parsed.dt.day) == [12, 13]


def test_ambiguous_dates_ask_for_a_format() -> None:
    with pytest.raises(DataError, match=r"--date-format.*%d/%m/%Y.*%m/%d/%Y"):
        parse_dates(pd.Series(["01/02/2024", "01/03/2024"]))


def test_an_explicit_format_wins_and_a_wrong_one_is_named() -> None:
    parsed, _ = parse_dates(pd.Series(["01/02/2024"]), "%d/%m/%Y")
    assert parsed.iloc[0] == pd.Timestamp("2024-02-01")
    with pytest.raises(DataError, match="date_format: '%Y-%m-%d'"):
        parse_dates(pd.Series(["13/01/2024"]), "%Y-%m-%d")


def test_iso_dates_integers_and_timestamps_pass() -> None:
    assert parse_dates(pd.Series(["2024-01-13 08:00"]))[0].iloc[0] == pd.Timestamp(
        "2024-01-13 08:00"
    )
    assert parse_dates(pd.Series([1, 2, 3]))[1] == "integer steps"


def test_text_that_is_no_date_is_refused_by_name() -> None:
    with pytest.raises(DataError, match="when: cannot read 'soon'"):
        parse_dates(pd.Series(["soon", "later"]), argument="when")


@settings(max_examples=60, deadline=None)
@given(
    st.dates(
        min_value=pd.Timestamp("1950-01-01").date(), max_value=pd.Timestamp("2100-12-31").date()
    ),
    st.integers(min_value=14, max_value=60),
    st.sampled_from(["/", ".", "-"]),
)
def test_day_first_dates_round_trip(start, days, separator) -> None:
    """Any run of at least 14 consecutive days has a day above 12, so day-first is decided."""
    stamps = pd.date_range(start, periods=days, freq="D")
    text = pd.Series(stamps.strftime(f"%d{separator}%m{separator}%Y"))
    parsed, _ = parse_dates(text)
    assert (pd.DatetimeIndex(parsed) == stamps).all()


# -- frequency --------------------------------------------------------------------------------


@pytest.mark.parametrize("freq", ["h", "D", "B", "W-SUN", "W-WED", "MS", "ME", "QS", "15min", "2D"])
def test_the_frequency_survives_gaps(freq) -> None:
    stamps = pd.date_range("2021-01-04", periods=40, freq=freq)
    gappy = stamps.delete([3, 11, 12, 30])
    assert infer_freq(frame(gappy))[0] == freq


def test_integer_steps_give_an_integer_frequency() -> None:
    data = pd.DataFrame({"unique_id": "a", "ds": [0, 5, 10, 20, 25], "y": 1.0})
    assert infer_freq(data)[0] == 5


def test_monthly_stamps_mid_month_ask_for_freq() -> None:
    stamps = pd.date_range("2021-01-15", periods=12, freq="MS") + pd.Timedelta(days=14)
    with pytest.raises(DataError, match="--freq"):
        infer_freq(frame(stamps))


# -- gaps -------------------------------------------------------------------------------------


def two_series() -> pd.DataFrame:
    first = frame(pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-04"]), uid="a")
    second = frame(pd.to_datetime(["2024-01-02", "2024-01-05"]), uid="b")
    return pd.concat([second, first], ignore_index=True)


def test_fill_gaps_defaults_like_utilsforecast() -> None:
    """start='per_serie', end='global': each series from its own start to the last stamp."""
    filled = fill_gaps(two_series(), freq="D")
    a = filled[filled["unique_id"] == "a"]
    b = filled[filled["unique_id"] == "b"]
    assert list(a["ds"].dt.day) == [1, 2, 3, 4, 5] and a["y"].isna().sum() == 2
    assert list(b["ds"].dt.day) == [2, 3, 4, 5]
    assert list(filled.columns) == ["unique_id", "ds", "y"]


@pytest.mark.parametrize(
    ("start", "end", "days_a", "days_b"),
    [
        ("global", "per_serie", [1, 2, 3, 4], [1, 2, 3, 4, 5]),
        ("per_serie", "per_serie", [1, 2, 3, 4], [2, 3, 4, 5]),
        (
            pd.Timestamp("2023-12-31"),
            pd.Timestamp("2024-01-06"),
            list(range(1, 7)),
            list(range(1, 7)),
        ),
    ],
)
def test_fill_gaps_start_and_end(start, end, days_a, days_b) -> None:
    filled = fill_gaps(two_series(), freq="D", start=start, end=end)
    by_series = {uid: group["ds"] for uid, group in filled.groupby("unique_id")}
    # 2023-12-31 has day 31: compare the days after it
    assert list(by_series["a"][by_series["a"] >= "2024-01-01"].dt.day) == days_a
    assert list(by_series["b"][by_series["b"] >= "2024-01-01"].dt.day) == days_b


def test_fill_gaps_with_integer_steps_and_bad_arguments() -> None:
    data = pd.DataFrame({"unique_id": "a", "ds": [0, 2, 6], "y": [1.0, 2.0, 3.0]})
    assert fill_gaps(data, freq=2)["ds"].tolist() == [0, 2, 4, 6]
    with pytest.raises(ConfigError, match="start"):
        fill_gaps(data, freq=2, start="first")
    with pytest.raises(ConfigError, match="freq"):
        fill_gaps(data, freq="fortnightly")


def test_describe_gaps_counts_gaps_duplicates_and_empty_values() -> None:
    data = frame(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-05"]),
                 values=[1.0, np.nan, 2.0, 3.0])  # fmt: skip
    report = describe_gaps(data, "D")
    assert (report.gaps, report.duplicates, report.missing) == (2, 1, 1)
    assert report.series_with_gaps == 1
    assert "2 missing time step(s)" in report.describe()
