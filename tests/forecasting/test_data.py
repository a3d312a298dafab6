"""from_long: long frames to SeriesData, and a clear DataError for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from zen import DataError
from zen.forecasting.data import check_min_length, from_long
from zen.forecasting.windows import WindowSampler, last_windows, validation_index


def test_converts_long_frame_to_compact_series(series_df) -> None:
    data = from_long(series_df.sample(frac=1, random_state=0))  # order does not matter
    assert list(data.ids) == ["s0", "s1", "s2"]
    assert data.freq == "h" and list(data.lengths) == [200, 200, 200]
    np.testing.assert_allclose(
        data.series(1).numpy(), series_df[series_df.unique_id == "s1"]["y"], rtol=1e-6
    )
    assert data.future_ds(2)[0, 0] == np.datetime64("2024-01-09T08:00")


def test_integer_timestamps_use_unit_steps(series_factory) -> None:
    data = from_long(series_factory(freq=None))
    assert data.freq == 1 and data.future_ds(2)[0].tolist() == [201, 202]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.drop(columns="ds"), r"missing column\(s\) \['ds'\]"),
        (lambda df: df.iloc[:0], "has no rows"),
        (lambda df: pd.concat([df, df.iloc[[5]]]), r"duplicate \(unique_id, ds\).*'s0'"),
        (lambda df: df.drop(index=10), "series 's0' is irregular"),
        (lambda df: df.assign(y=df.y.where(df.index != 7)), "1 missing value.*'s0'"),
        (lambda df: df.assign(y="a"), "must be numeric"),
    ],
    ids=["missing-column", "empty", "duplicates", "irregular", "nan", "text"],
)
def test_bad_frames_name_the_problem_and_the_series(series_df, mutate, message) -> None:
    with pytest.raises(DataError, match=message):
        from_long(mutate(series_df), freq="h")


@pytest.mark.parametrize("method", ["ffill", "interpolate", "zero"])
def test_missing_values_can_be_filled(series_df, method) -> None:
    holed = series_df.assign(y=series_df.y.where(series_df.index != 7))
    data = from_long(holed, fill_missing=method)
    assert np.isfinite(data.values.numpy()).all()


def test_short_series_error_says_what_would_work(series_df) -> None:
    data = from_long(series_df)
    with pytest.raises(
        DataError, match=r"shorter than input_size \+ h = 180 \+ 48.*input_size <= 152"
    ):
        check_min_length(data, 180, 48)


def test_head_cuts_series_and_moves_their_end(series_df) -> None:
    data = from_long(series_df)
    head = data.head(np.array([100, 150, 200]))
    assert list(head.lengths) == [100, 150, 200]
    assert head.last_ds[0] == data.last_ds[0] - np.timedelta64(100, "h")
    np.testing.assert_array_equal(head.series(1).numpy(), data.series(1)[:150].numpy())


def test_sampled_windows_are_contiguous_pieces_of_one_series(series_df) -> None:
    import torch

    data = from_long(series_df)
    sampler = WindowSampler(
        data, input_size=24, h=12, batch_size=64, generator=torch.Generator().manual_seed(0)
    )
    windows = next(iter(sampler))["window"].numpy()
    assert windows.shape == (64, 36)
    full = data.values.numpy()
    for window in windows[:10]:
        start = int(np.flatnonzero(np.isclose(full, window[0]))[0])
        np.testing.assert_array_equal(full[start : start + 36], window)


def test_last_windows_are_the_series_ends(series_df) -> None:
    data = from_long(series_df)
    np.testing.assert_array_equal(last_windows(data, 5)[2].numpy(), data.series(2)[-5:].numpy())


@pytest.mark.parametrize(("max_windows", "expected_per_series"), [(10_000, 41), (30, 9)])
def test_validation_windows_have_their_targets_in_the_validation_part(
    series_factory, max_windows, expected_per_series
) -> None:
    data = from_long(series_factory(n_series=3, length=200, freq=None))
    index, series = validation_index(data, 24, 12, val_size=52, max_windows=max_windows)
    assert index.shape == (3 * expected_per_series, 36)
    local = index - torch.from_numpy(data.indptr[:-1])[series].unsqueeze(1)
    targets = local[:, 24:]
    assert int(targets.min()) == 200 - 52  # the first window's targets start the part
    assert int(targets.max()) == 199  # the last one ends each series
    assert bool((local[:, 0] >= 0).all())
    assert bool((series.diff() >= 0).all())
