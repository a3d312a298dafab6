"""Dataset loaders: file lookup and its error messages, long format, the ETT split, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from zen import ConfigError, DataError
from zen.forecasting import datasets
from zen.forecasting.data import from_long
from zen.forecasting.datasets import (
    BUNDLED_DIR,
    ett_split,
    find_data_file,
    load_ett,
    load_exchange_rate,
    load_ili,
    load_long_csv,
    load_m4,
    load_m4_info,
)

ILI_COLUMNS = [
    "% WEIGHTED ILI", "%UNWEIGHTED ILI", "AGE 0-4", "AGE 5-24", "ILITOTAL",
    "NUM. OF PROVIDERS", "OT",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookups see the defaults, whatever the developer's shell exports."""
    monkeypatch.delenv(datasets.ENV_VAR, raising=False)


@pytest.fixture
def without_shared_data(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Pretend the repository has no ../shared/data next to it (as in an installed package)."""
    monkeypatch.setattr(datasets, "_REPO_SHARED", tmp_path / "no-shared-data")


def write_m4(path: Path, rows: dict[str, list[float]]) -> None:
    """A file in the M4 layout: header V1..Vk, one row per series, padded with empty cells."""
    width = max(len(values) for values in rows.values())
    lines = [",".join(f'"V{i}"' for i in range(1, width + 2))]
    for key, values in rows.items():
        cells = [f"{v:g}" for v in values] + [""] * (width - len(values))
        lines.append(",".join([f'"{key}"', *cells]))
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------- M4
def test_load_m4_returns_long_frames_whose_test_steps_continue_the_train(tmp_path) -> None:
    write_m4(tmp_path / "m4-hourly-train.csv", {"H1": [5, 6, 7], "H2": [1, 2, 3, 4, 5]})
    write_m4(tmp_path / "m4-hourly-test.csv", {"H1": [8, 9], "H2": [6, 7]})
    train, test = load_m4("Hourly", directory=tmp_path)
    assert list(train.columns) == ["unique_id", "ds", "y"]
    assert train["unique_id"].tolist() == ["H1"] * 3 + ["H2"] * 5
    assert train["ds"].tolist() == [1, 2, 3, 1, 2, 3, 4, 5]
    assert train["y"].tolist() == [5, 6, 7, 1, 2, 3, 4, 5]
    assert test["ds"].tolist() == [4, 5, 6, 7]
    assert test["y"].tolist() == [8, 9, 6, 7]


def test_load_m4_rejects_gaps_inside_a_series(tmp_path) -> None:
    (tmp_path / "m4-hourly-train.csv").write_text('"V1","V2","V3","V4"\n"H1",1,,3\n')
    write_m4(tmp_path / "m4-hourly-test.csv", {"H1": [4]})
    with pytest.raises(DataError, match=r"series 'H1' has empty cells before its last value"):
        load_m4(directory=tmp_path)


def test_load_m4_rejects_test_ids_that_differ_from_train(tmp_path) -> None:
    write_m4(tmp_path / "m4-hourly-train.csv", {"H1": [1, 2]})
    write_m4(tmp_path / "m4-hourly-test.csv", {"H9": [3]})
    with pytest.raises(DataError, match=r"m4-hourly-test.csv: its series ids differ"):
        load_m4(directory=tmp_path)


def test_load_m4_names_the_missing_file_and_the_directory(tmp_path) -> None:
    with pytest.raises(DataError, match=r"m4-hourly-train.csv: file not found") as error:
        load_m4(directory=tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message
    assert "Hourly-train.csv" in message  # where to get it


@pytest.mark.parametrize("group", ["Monthly", "Daily", "Yearly"])
def test_load_m4_lists_the_groups_it_can_read(group) -> None:
    with pytest.raises(ConfigError, match=rf"group: .*got '{group}'.*available: Hourly"):
        load_m4(group)


@pytest.mark.parametrize(
    ("group", "horizon", "season_length"),
    [("Hourly", 48, 24), ("hourly", 48, 24), ("Monthly", 18, 12), ("Yearly", 6, 1)],
)
def test_load_m4_info_gives_the_competition_settings(group, horizon, season_length) -> None:
    info = load_m4_info(group)
    assert (info.horizon, info.season_length) == (horizon, season_length)


def test_load_m4_info_rejects_unknown_groups() -> None:
    with pytest.raises(ConfigError, match=r"group: unknown value 'Minutely'; expected one of"):
        load_m4_info("Minutely")


def test_real_m4_hourly(shared_data) -> None:
    train, test = load_m4(directory=shared_data / "forecast")
    info = load_m4_info("Hourly")
    assert train["unique_id"].nunique() == test["unique_id"].nunique() == info.n_series
    assert set(train.groupby("unique_id").size()) == {700, 960}
    assert (test.groupby("unique_id").size() == info.horizon).all()
    last_train = train.groupby("unique_id")["ds"].max()
    first_test = test.groupby("unique_id")["ds"].min()
    assert (first_test == last_train + 1).all()
    data = from_long(pd.concat([train, test]))  # train + test is one regular series each
    assert data.freq == 1


# ---------------------------------------------------------------------------- file lookup
def test_ili_loads_from_the_bundled_copy_without_any_directory(without_shared_data) -> None:
    assert find_data_file("national_illness.csv") == BUNDLED_DIR / "national_illness.csv"
    frame = load_ili()
    assert frame["unique_id"].unique().tolist() == ILI_COLUMNS
    assert len(frame) == 7 * 966
    data = from_long(frame)
    assert data.n_series == 7
    assert pd.tseries.frequencies.to_offset(data.freq) == pd.offsets.Week(weekday=1)  # Tuesdays


def test_bundled_ili_is_the_shared_file(shared_data) -> None:
    bundled = (BUNDLED_DIR / "national_illness.csv").read_bytes()
    assert bundled == (shared_data / "forecast" / "national_illness.csv").read_bytes()


def test_the_environment_variable_comes_before_the_other_places(tmp_path, monkeypatch) -> None:
    (tmp_path / "national_illness.csv").write_text("date,OT\n2020-01-07,1.5\n2020-01-14,2.5\n")
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path))
    frame = load_ili()
    assert frame["y"].tolist() == [1.5, 2.5]


def test_an_explicit_directory_is_the_only_place_searched(tmp_path) -> None:
    with pytest.raises(DataError, match=r"national_illness.csv: file not found") as error:
        load_ili(directory=tmp_path)
    assert "bundled" not in str(error.value)


def test_missing_file_message_lists_every_place_searched(
    tmp_path, monkeypatch, without_shared_data
) -> None:
    monkeypatch.setenv(datasets.ENV_VAR, str(tmp_path))
    with pytest.raises(DataError) as error:
        load_exchange_rate()
    message = str(error.value)
    assert "exchange_rate.csv: file not found" in message
    assert f"{tmp_path} (${datasets.ENV_VAR})" in message
    assert f"{BUNDLED_DIR} (bundled with zen)" in message
    assert "set ZEN_DATA_DIR" in message


def test_shared_data_next_to_the_repository_is_searched(shared_data) -> None:
    path = find_data_file("ETTh1.csv")
    # Compared resolved: ../shared may be a symbolic link (CI checkouts, git worktrees).
    assert path.resolve() == (shared_data / "forecast" / "ETTh1.csv").resolve()


# ---------------------------------------------------------------------------- ETT and others
def test_real_etth1(shared_data) -> None:
    frame = load_ett("ETTh1", directory=shared_data / "forecast")
    assert frame["unique_id"].unique().tolist() == [
        "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"
    ]  # fmt: skip
    assert len(frame) == 7 * 17_420
    assert frame["ds"].iloc[0] == pd.Timestamp("2016-07-01 00:00")
    assert from_long(frame).freq == "h"
    target = load_ett(directory=shared_data / "forecast", target_only=True)
    assert target["unique_id"].unique().tolist() == ["OT"]
    assert target["y"].iloc[0] == pytest.approx(30.531)


def test_real_exchange_rate(shared_data) -> None:
    frame = load_exchange_rate(directory=shared_data / "forecast")
    assert frame["unique_id"].unique().tolist() == ["0", "1", "2", "3", "4", "5", "6", "OT"]
    assert len(frame) == 8 * 7_588
    assert from_long(frame).freq == "D"


def test_load_ett_rejects_unknown_names() -> None:
    with pytest.raises(ConfigError, match=r"name: unknown value 'ETTh3'; expected one of: ETTh1"):
        load_ett("ETTh3")


def test_a_file_without_a_date_column_is_explained(tmp_path) -> None:
    (tmp_path / "ETTh2.csv").write_text("time,OT\n1,2\n")
    with pytest.raises(DataError, match=r"ETTh2.csv: expected a 'date' column"):
        load_ett("ETTh2", directory=tmp_path)


@pytest.mark.parametrize(
    ("name", "input_size", "train", "val", "test"),
    [
        ("ETTh1", 0, (0, 8640), (8640, 11520), (11520, 14400)),
        ("ETTh2", 96, (0, 8640), (8544, 11520), (11424, 14400)),
        ("ETTm1", 96, (0, 34560), (34464, 46080), (45984, 57600)),
    ],
)
def test_ett_split_borders_follow_informer(name, input_size, train, val, test) -> None:
    split = ett_split(input_size=input_size, name=name)
    assert (split.train.start, split.train.stop) == train
    assert (split.val.start, split.val.stop) == val
    assert (split.test.start, split.test.stop) == test


def test_ett_split_targets_are_12_4_4_months_of_hourly_rows() -> None:
    split = ett_split(n=17_420, input_size=336)
    rows = np.arange(17_420)
    target_rows = [len(rows[split.train]), len(rows[split.val]) - 336, len(rows[split.test]) - 336]
    assert target_rows == [8640, 2880, 2880]


def test_ett_split_needs_enough_rows() -> None:
    with pytest.raises(DataError, match=r"n: the standard ETTh1 split needs at least 14400 rows"):
        ett_split(n=10_000)


@pytest.mark.parametrize("input_size", [-1, 8641, True])
def test_ett_split_rejects_impossible_input_sizes(input_size) -> None:
    with pytest.raises(ConfigError, match=r"input_size: expected an integer between 0 and 8640"):
        ett_split(input_size=input_size)


# ---------------------------------------------------------------------------- any CSV
def test_load_long_csv_renames_the_columns_and_keeps_integer_steps(tmp_path) -> None:
    path = tmp_path / "sales.csv"
    path.write_text("store,week,units,other\nA,1,3.0,x\nA,2,4.0,x\nB,1,5.0,y\n")
    frame = load_long_csv(path, id_col="store", time_col="week", target_col="units")
    assert list(frame.columns) == ["unique_id", "ds", "y"]
    assert frame["ds"].dtype == np.int64
    assert from_long(frame).n_series == 2


def test_load_long_csv_parses_timestamps(tmp_path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("unique_id,ds,y\n7,2024-01-01,1\n7,2024-01-02,2\n7,2024-01-03,3\n")
    frame = load_long_csv(path)
    assert frame["ds"].iloc[1] == pd.Timestamp("2024-01-02")
    assert frame["unique_id"].tolist() == ["7", "7", "7"]  # ids are strings
    assert from_long(frame).freq == "D"


def test_load_long_csv_turns_a_wide_file_into_long_format(tmp_path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("time,north,south\n2024-01-01 00:00,1,10\n2024-01-01 01:00,2,20\n")
    frame = load_long_csv(path, time_col="time", wide=True)
    assert frame["unique_id"].tolist() == ["north", "north", "south", "south"]
    assert frame["y"].tolist() == [1, 2, 10, 20]
    assert frame["ds"].iloc[3] == pd.Timestamp("2024-01-01 01:00")


def test_load_long_csv_names_missing_columns(tmp_path) -> None:
    path = tmp_path / "long.csv"
    path.write_text("id,ds,value\na,1,2\n")
    with pytest.raises(DataError, match=r"missing column\(s\) \['unique_id', 'y'\].*id_col="):
        load_long_csv(path)


def test_load_long_csv_wide_needs_its_time_column(tmp_path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("date,a\n2024-01-01,1\n")
    with pytest.raises(DataError, match=r"time_col: wide.csv has no column 'ds'"):
        load_long_csv(path, wide=True)


def test_load_long_csv_wide_refuses_text_series(tmp_path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("ds,a,label\n1,1,x\n2,2,y\n")
    with pytest.raises(DataError, match=r"series columns must be numeric; \['label'\]"):
        load_long_csv(path, wide=True)


def test_load_long_csv_missing_file(tmp_path) -> None:
    with pytest.raises(DataError, match=r"path: file not found: .*nothing.csv"):
        load_long_csv(tmp_path / "nothing.csv")
