"""Forecast metrics: hand-computed values, M4 conventions, properties, and clear input errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from zen import ConfigError, DataError
from zen.forecasting.data import from_long
from zen.forecasting.metrics import (
    coverage,
    crps,
    mae,
    mape,
    mase,
    mse,
    owa,
    quantile_loss,
    rmse,
    smape,
)

Y = np.array([[1.0, 2.0], [3.0, 4.0]])
Y_HAT = np.array([[2.0, 2.0], [1.0, 5.0]])  # errors 1, 0, 2, 1


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        (mae, 1.0),
        (mse, 1.5),  # (1 + 0 + 4 + 1) / 4
        (rmse, math.sqrt(1.5)),
        (mape, 100 * (1 / 1 + 0 + 2 / 3 + 1 / 4) / 4),
        (smape, (200 * 1 / 3 + 0 + 200 * 2 / 4 + 200 * 1 / 9) / 4),
    ],
)
def test_point_metrics_by_hand(metric, expected) -> None:
    assert metric(Y, Y_HAT) == pytest.approx(expected)


def test_metrics_accept_one_series_as_a_1d_array_or_list() -> None:
    assert mae([1.0, 2.0], [2.0, 2.0]) == 0.5
    assert smape(np.array([1.0]), np.array([3.0])) == pytest.approx(100.0)


def test_smape_counts_zero_against_zero_as_perfect() -> None:
    assert smape([[0.0, 2.0]], [[0.0, 2.0]]) == 0.0


def test_mase_averages_per_series_ratios_as_m4_does() -> None:
    insample = [np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 2.0, 4.0, 6.0])]  # scales 1, 2
    y = np.array([[5.0, 6.0], [8.0, 10.0]])
    y_hat = np.array([[5.0, 8.0], [8.0, 12.0]])  # mean abs errors 1 and 1
    # Per series: 1 / 1 and 1 / 2; their mean, not the pooled 2 / 3.
    assert mase(y, y_hat, insample) == pytest.approx(0.75)


def test_mase_scale_uses_the_seasonal_difference() -> None:
    insample = np.array([1.0, 5.0, 2.0, 7.0, 4.0, 8.0])  # lag-2 differences 1, 2, 2, 1
    assert mase([3.0, 9.0], [4.0, 9.0], insample, season_length=2) == pytest.approx(0.5 / 1.5)


def test_mase_reads_training_values_from_series_data() -> None:
    frame = pd.DataFrame(
        {"unique_id": ["a"] * 4 + ["b"] * 3, "ds": [1, 2, 3, 4, 1, 2, 3],
         "y": [1.0, 3.0, 2.0, 6.0, 5.0, 5.0, 9.0]}
    )  # fmt: skip
    data = from_long(frame)
    y, y_hat = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0, 5.0], [3.0, 3.0]])
    as_list = [np.array([1.0, 3.0, 2.0, 6.0]), np.array([5.0, 5.0, 9.0])]
    assert mase(y, y_hat, data) == mase(y, y_hat, as_list)


def test_owa_is_the_mean_of_the_relative_errors() -> None:
    assert owa(smape=9.0, mase=3.0, smape_naive2=18.0, mase_naive2=2.0) == pytest.approx(1.0)
    assert owa(18.383, 2.395, 18.383, 2.395) == 1.0


def test_quantile_loss_and_crps_by_hand() -> None:
    # y = 1; quantiles 0.1, 0.5, 0.9 forecast 0, 1, 3 -> losses 0.1 * 1, 0, (0.9 - 1) * (-2)
    q_pred = np.array([[0.0, 1.0, 3.0]])
    assert quantile_loss([1.0], q_pred, [0.1, 0.5, 0.9]) == pytest.approx(0.1)
    assert crps([1.0], q_pred, [0.1, 0.5, 0.9]) == pytest.approx(0.2)


def test_coverage_counts_bounds_as_inside() -> None:
    y = np.array([[1.0, 2.0, 3.0, 4.0]])
    assert coverage(y, y - 1, y + 1) == 1.0
    assert coverage(y, [[1.0, 3.0, 0.0, 5.0]], [[1.0, 4.0, 2.0, 6.0]]) == 0.25


# ---------------------------------------------------------------------------- input errors
@pytest.mark.parametrize("metric", [mae, mse, rmse, mape, smape])
def test_mismatched_shapes_are_reported_with_both_shapes(metric) -> None:
    with pytest.raises(DataError, match=r"y_hat: shape \(2, 3\) does not match y's shape \(2, 2\)"):
        metric(Y, np.ones((2, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_values_are_located(bad) -> None:
    y_hat = Y_HAT.copy()
    y_hat[1, 0] = bad
    with pytest.raises(
        DataError, match=r"y_hat: 1 NaN or infinite value\(s\), first at .*\(1, 0\)"
    ):
        mae(Y, y_hat)


def test_three_dimensional_input_is_rejected() -> None:
    with pytest.raises(DataError, match=r"y: expected shape \(n_series, h\) or \(h,\)"):
        mae(np.ones((2, 2, 2)), np.ones((2, 2, 2)))


def test_empty_input_is_rejected() -> None:
    with pytest.raises(DataError, match=r"y: is empty"):
        mae([], [])


def test_mape_refuses_zero_actuals() -> None:
    with pytest.raises(DataError, match=r"1 value\(s\) are 0.*use smape or mase"):
        mape([0.0, 1.0], [1.0, 1.0])


def test_mase_needs_one_insample_series_per_row() -> None:
    with pytest.raises(DataError, match=r"insample: has 1 series but y has 2 rows"):
        mase(Y, Y_HAT, [np.arange(10.0)])


def test_mase_needs_more_insample_values_than_the_season() -> None:
    with pytest.raises(DataError, match=r"series 0 has 3 values; .*more than season_length=3"):
        mase([1.0], [1.0], np.array([1.0, 2.0, 3.0]), season_length=3)


def test_mase_refuses_a_zero_scale() -> None:
    with pytest.raises(DataError, match=r"series 0 has a MASE scale of 0"):
        mase([1.0], [2.0], np.array([5.0, 6.0, 5.0, 6.0]), season_length=2)


@pytest.mark.parametrize("season_length", [0, 1.5, True])
def test_mase_season_length_must_be_a_positive_integer(season_length) -> None:
    with pytest.raises(ConfigError, match=r"season_length: expected a positive integer"):
        mase([1.0], [2.0], np.arange(5.0), season_length=season_length)


@pytest.mark.parametrize("levels", [[0.0, 0.5], [0.5, 1.0], [[0.5]]])
def test_quantile_levels_must_lie_strictly_between_0_and_1(levels) -> None:
    with pytest.raises(DataError, match=r"quantiles:"):
        quantile_loss([1.0], np.ones((1, np.size(levels))), levels)


def test_quantile_forecasts_need_one_column_per_level() -> None:
    with pytest.raises(DataError, match=r"q_pred: expected shape \(2, 2, 3\)"):
        crps(Y, np.ones((2, 2)), [0.1, 0.5, 0.9])


def test_owa_needs_positive_naive2_scores() -> None:
    with pytest.raises(DataError, match=r"mase_naive2: expected a positive number"):
        owa(1.0, 1.0, 1.0, 0.0)


# ---------------------------------------------------------------------------- properties
# Values with two decimals, like real data: tiny floats would only test underflow in x**2.
finite = st.integers(-(10**8), 10**8).map(lambda cents: cents / 100)
PAIRS = st.integers(1, 4).flatmap(
    lambda n: st.integers(1, 6).flatmap(
        lambda h: st.tuples(
            hnp.arrays(np.float64, (n, h), elements=finite),
            hnp.arrays(np.float64, (n, h), elements=finite),
        )
    )
)


@settings(max_examples=60, deadline=None)
@given(PAIRS)
def test_smape_lies_between_0_and_200_and_is_symmetric(pair) -> None:
    y, y_hat = pair
    value = smape(y, y_hat)
    assert 0.0 <= value <= 200.0 + 1e-9
    assert value == pytest.approx(smape(y_hat, y))


@settings(max_examples=60, deadline=None)
@given(PAIRS)
def test_rmse_is_at_least_mae(pair) -> None:
    assert rmse(*pair) >= mae(*pair) * (1 - 1e-12)


@pytest.mark.parametrize("metric", [mae, mse, rmse, smape, mape])
@settings(max_examples=30, deadline=None)
@given(y=hnp.arrays(np.float64, (3, 5), elements=st.floats(0.5, 1e6)))
def test_a_perfect_forecast_scores_zero(metric, y) -> None:
    assert metric(y, y) == 0.0


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(6, 60), elements=st.floats(-1e4, 1e4)),
    st.integers(1, 5),
)
def test_seasonal_naive_scores_mase_one_on_its_own_training_data(insample, season_length) -> None:
    """The MASE scale *is* the in-sample MAE of the seasonal naive forecast."""
    differences = insample[season_length:] - insample[:-season_length]
    if not np.any(np.abs(differences) > 1e-6):
        return  # a scale of 0 is refused, tested above
    value = mase(insample[season_length:], insample[:-season_length], insample, season_length)
    assert value == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(PAIRS)
def test_crps_of_a_point_forecast_on_a_symmetric_grid_is_the_mae(pair) -> None:
    y, y_hat = pair
    levels = np.linspace(0.05, 0.95, 19)
    q_pred = np.repeat(y_hat[..., None], len(levels), axis=-1)
    assert crps(y, q_pred, levels) == pytest.approx(mae(y, y_hat), rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(PAIRS, st.floats(0.0, 1e3))
def test_wider_intervals_cover_at_least_as_much(pair, extra) -> None:
    y, centre = pair
    narrow = coverage(y, centre - 1.0, centre + 1.0)
    wide = coverage(y, centre - 1.0 - extra, centre + 1.0 + extra)
    assert 0.0 <= narrow <= wide <= 1.0
