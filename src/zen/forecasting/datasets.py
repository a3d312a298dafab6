"""Loaders for the benchmark data sets, from local files only (zen never downloads).

Each loader returns long format (``unique_id, ds, y``), ready for
:func:`zen.forecasting.data.from_long`. Files are looked up by name, in order, in:

1. ``directory=`` when given (and only there);
2. otherwise the directory in the environment variable ``ZEN_DATA_DIR``, if set;
3. ``../shared/data/forecast`` next to the repository checkout, if it exists (development);
4. the folder bundled with the package (``zen/datasets``, which holds ``national_illness.csv``).

A missing file raises :class:`~zen.errors.DataError` naming the file, where it comes from and
every place searched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError, expect_one_of

ENV_VAR = "ZEN_DATA_DIR"
# src/zen/forecasting/datasets.py -> parents[3] is the repository root in a checkout; an
# installed package has no pyproject.toml there and so never looks beside site-packages.
_REPO_ROOT = Path(__file__).resolve().parents[3]
_REPO_SHARED = _REPO_ROOT.parent / "shared" / "data" / "forecast"
BUNDLED_DIR = Path(__file__).resolve().parents[1] / "datasets"

#: Where each file comes from, quoted in the "file not found" message.
_SOURCES = {
    "m4-hourly-train.csv": "M4 competition, github.com/Mcompetitions/M4-methods,"
    " Dataset/Train/Hourly-train.csv saved under this name",
    "m4-hourly-test.csv": "M4 competition, github.com/Mcompetitions/M4-methods,"
    " Dataset/Test/Hourly-test.csv saved under this name",
    "ETTh1.csv": "github.com/zhouhaoyi/ETDataset, ETT-small/ETTh1.csv",
    "ETTh2.csv": "github.com/zhouhaoyi/ETDataset, ETT-small/ETTh2.csv",
    "ETTm1.csv": "github.com/zhouhaoyi/ETDataset, ETT-small/ETTm1.csv",
    "ETTm2.csv": "github.com/zhouhaoyi/ETDataset, ETT-small/ETTm2.csv",
    "exchange_rate.csv": "the long-horizon benchmark collection of Autoformer (Wu et al. 2021),"
    " exchange_rate/exchange_rate.csv (with a 'date' column)",
    "national_illness.csv": "the long-horizon benchmark collection of Autoformer (Wu et al."
    " 2021), illness/national_illness.csv (CDC FluView)",
}


# ---------------------------------------------------------------------------- file lookup
def data_search_path(directory: str | Path | None = None) -> list[tuple[Path, str]]:
    """The directories searched for a data file, in order, each with why it is searched."""
    if directory is not None:
        return [(Path(directory).expanduser(), "directory=")]
    places = []
    if os.environ.get(ENV_VAR):
        places.append((Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"))
    if (_REPO_ROOT / "pyproject.toml").is_file() and _REPO_SHARED.is_dir():
        places.append((_REPO_SHARED, "shared data next to the repository"))
    places.append((BUNDLED_DIR, "bundled with zen"))
    return places


def find_data_file(filename: str, directory: str | Path | None = None) -> Path:
    """The first ``filename`` found along :func:`data_search_path`, or a DataError saying where
    to put it."""
    places = data_search_path(directory)
    for place, _ in places:
        if (place / filename).is_file():
            return place / filename
    searched = "; ".join(f"{place} ({why})" for place, why in places)
    source = _SOURCES.get(filename, "")
    raise DataError(
        f"{filename}: file not found; searched {searched}. Put {filename}"
        f"{f' (from {source})' if source else ''} in one of these directories, set"
        f" {ENV_VAR} to the directory that holds it, or pass directory=..."
    )


# ---------------------------------------------------------------------------- M4
@dataclass(frozen=True)
class M4Info:
    """Facts of one M4 group (M4 Competitor's Guide): horizon and seasonality used in scoring."""

    group: str
    horizon: int
    season_length: int
    n_series: int


_M4_INFO = {
    "Yearly": M4Info("Yearly", horizon=6, season_length=1, n_series=23_000),
    "Quarterly": M4Info("Quarterly", horizon=8, season_length=4, n_series=24_000),
    "Monthly": M4Info("Monthly", horizon=18, season_length=12, n_series=48_000),
    "Weekly": M4Info("Weekly", horizon=13, season_length=1, n_series=359),
    "Daily": M4Info("Daily", horizon=14, season_length=1, n_series=4_227),
    "Hourly": M4Info("Hourly", horizon=48, season_length=24, n_series=414),
}
#: Groups that :func:`load_m4` reads (the ones whose files the project keeps locally).
M4_LOADABLE = ("Hourly",)


def load_m4_info(group: str = "Hourly") -> M4Info:
    """Horizon, season length and size of an M4 group (any of the six, case-insensitive).

    >>> load_m4_info("Hourly")
    M4Info(group='Hourly', horizon=48, season_length=24, n_series=414)
    """
    key = str(group).capitalize()
    if key not in _M4_INFO:
        raise expect_one_of("group", group, list(_M4_INFO))
    return _M4_INFO[key]


def load_m4(
    group: str = "Hourly", directory: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The M4 ``(train, test)`` frames of ``group`` in long format.

    ``ds`` are integer steps: 1, 2, ... in the train frame, and the test frame continues each
    series where its training part ends. Reads ``m4-hourly-train.csv`` and
    ``m4-hourly-test.csv`` (the competition's files: one row per series, its id and then its
    values, shorter series padded with empty cells).

    Raises:
        ConfigError: ``group`` is not one of :data:`M4_LOADABLE`.
        DataError: a file is missing or malformed.
    """
    key = str(group).capitalize()
    if key not in M4_LOADABLE:
        raise ConfigError(
            f"group: load_m4 reads {', '.join(M4_LOADABLE)} only, got {group!r} (its files"
            f" are not kept locally); available: {', '.join(M4_LOADABLE)}"
        )
    prefix = f"m4-{key.lower()}"
    train_path = find_data_file(f"{prefix}-train.csv", directory)
    test_path = find_data_file(f"{prefix}-test.csv", directory)
    train_ids, train_values = _read_m4_rows(train_path)
    test_ids, test_values = _read_m4_rows(test_path)
    if sorted(train_ids) != sorted(test_ids):
        raise DataError(f"{test_path.name}: its series ids differ from those of {train_path.name}")
    train_length = {key: len(values) for key, values in zip(train_ids, train_values, strict=True)}
    offsets = [train_length[key] for key in test_ids]
    return _long_from_rows(train_ids, train_values), _long_from_rows(test_ids, test_values, offsets)


def _read_m4_rows(path: Path) -> tuple[list[str], list[np.ndarray]]:
    wide = pd.read_csv(path, index_col=0)
    try:
        values = wide.to_numpy(dtype=np.float64)
    except (ValueError, TypeError):
        raise DataError(
            f"{path.name}: expected numbers after each series id; some cells are not numeric"
        ) from None
    observed = ~np.isnan(values)
    counts = observed.sum(axis=1)
    # Padding is only allowed at the end of a row: a gap inside a series would shift its steps.
    end = values.shape[1] - np.argmax(observed[:, ::-1], axis=1)  # one past the last value
    gapped = np.flatnonzero(observed.any(axis=1) & (end != counts))
    if len(gapped):
        raise DataError(
            f"{path.name}: series {wide.index[gapped[0]]!r} has empty cells before its last"
            " value; expected one row per series with values first and padding at the end"
        )
    if np.any(counts == 0):
        raise DataError(f"{path.name}: series {wide.index[counts == 0][0]!r} has no values")
    ids = [str(key) for key in wide.index]
    return ids, [row[:count] for row, count in zip(values, counts, strict=True)]


def _long_from_rows(
    ids: list[str], rows: list[np.ndarray], offsets: list[int] | None = None
) -> pd.DataFrame:
    lengths = np.array([len(row) for row in rows])
    starts = np.zeros(len(rows), dtype=np.int64) if offsets is None else np.asarray(offsets)
    # ds restarts at start+1 for each series: a global arange minus each series' first index.
    first_index = np.repeat(np.cumsum(lengths) - lengths, lengths)
    ds = np.arange(lengths.sum()) - first_index + 1 + np.repeat(starts, lengths)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids, dtype=object), lengths),
            "ds": ds.astype(np.int64),
            "y": np.concatenate(rows),
        }
    )


# ---------------------------------------------------------------------------- dated wide files
ETT_NAMES = ("ETTh1", "ETTh2", "ETTm1", "ETTm2")
#: The column every long-horizon benchmark forecasts when only one target is used.
TARGET_COLUMN = "OT"


def load_ett(
    name: str = "ETTh1", directory: str | Path | None = None, target_only: bool = False
) -> pd.DataFrame:
    """Electricity Transformer Temperature (Zhou et al., Informer, AAAI 2021) in long format.

    Every column of ``{name}.csv`` becomes a series (``unique_id`` = column name: ``HUFL``,
    ``HULL``, ``MUFL``, ``MULL``, ``LUFL``, ``LULL``, ``OT``), ``ds`` are the file's timestamps
    (hourly for ETTh, 15-minute for ETTm). ``target_only`` keeps only the oil temperature ``OT``.
    Cut it into the standard split with :func:`ett_split`.
    """
    if name not in ETT_NAMES:
        raise expect_one_of("name", name, ETT_NAMES)
    return _load_dated_wide(find_data_file(f"{name}.csv", directory), target_only)


def load_exchange_rate(
    directory: str | Path | None = None, target_only: bool = False
) -> pd.DataFrame:
    """Daily exchange rates of 8 countries against the US dollar (Lai et al., LSTNet 2018).

    Series ``0`` ... ``6`` and ``OT``, 7,588 days from 1990-01-01 (the collection's dates are
    consecutive days). Reads ``exchange_rate.csv``.
    """
    return _load_dated_wide(find_data_file("exchange_rate.csv", directory), target_only)


def load_ili(directory: str | Path | None = None, target_only: bool = False) -> pd.DataFrame:
    """US weekly influenza-like illness, 2002-2020 (CDC FluView), in long format.

    Seven series (``% WEIGHTED ILI``, ``%UNWEIGHTED ILI``, ``AGE 0-4``, ``AGE 5-24``,
    ``ILITOTAL``, ``NUM. OF PROVIDERS``, ``OT``) of 966 weeks. The file is bundled with zen, so
    this works without any data directory.
    """
    return _load_dated_wide(find_data_file("national_illness.csv", directory), target_only)


def _load_dated_wide(path: Path, target_only: bool) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if "date" not in frame.columns:
        raise DataError(
            f"{path.name}: expected a 'date' column followed by one column per series, got"
            f" columns {list(frame.columns)[:10]}"
        )
    long = _melt(frame, "date", path.name)
    if target_only:
        if TARGET_COLUMN not in frame.columns:
            raise DataError(f"{path.name}: target_only=True needs an {TARGET_COLUMN!r} column")
        long = long[long["unique_id"] == TARGET_COLUMN].reset_index(drop=True)
    return long


def _melt(frame: pd.DataFrame, time_col: str, name: str) -> pd.DataFrame:
    """Wide (a time column, one column per series) -> long, series after series."""
    series_columns = [column for column in frame.columns if column != time_col]
    if not series_columns:
        raise DataError(f"{name}: no series columns besides the time column {time_col!r}")
    not_numeric = [c for c in series_columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if not_numeric:
        raise DataError(
            f"{name}: series columns must be numeric; {not_numeric[:5]} are not (is"
            f" {time_col!r} the right time column?)"
        )
    ds = _parse_time(frame[time_col], time_col, name)
    n_rows = len(frame)
    return pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray([str(c) for c in series_columns], object), n_rows),
            "ds": np.tile(ds.to_numpy(), len(series_columns)),
            "y": frame[series_columns].to_numpy(dtype=np.float64).T.ravel(),
        }
    )


def _parse_time(column: pd.Series, time_col: str, name: str) -> pd.Series:
    if pd.api.types.is_integer_dtype(column):
        return column.astype(np.int64)
    try:
        return pd.to_datetime(column)
    except (ValueError, TypeError) as error:
        raise DataError(
            f"{name}: column {time_col!r} is neither integers nor timestamps ({error})"
        ) from None


# ---------------------------------------------------------------------------- splits
@dataclass(frozen=True)
class EttSplit:
    """Row ranges of a train/validation/test split in time; use them as ``values[split.train]``.

    ``val`` and ``test`` start ``input_size`` rows early so that their first window's input
    comes from the previous part; the targets stay inside their own part.
    """

    train: slice
    val: slice
    test: slice


_ETT_ROWS = {"ETTh1": 17_420, "ETTh2": 17_420, "ETTm1": 69_680, "ETTm2": 69_680}


def ett_split(n: int | None = None, input_size: int = 0, name: str = "ETTh1") -> EttSplit:
    """Borders of the standard 12/4/4-month ETT split (Informer's ``Dataset_ETT_hour``).

    With 30-day months and ``r`` rows per hour (1 for ETTh, 4 for ETTm), ``M = 30·24·r``:

    - train: rows ``[0, 12M)`` — 8,640 hourly rows;
    - val: rows ``[12M - input_size, 16M)`` — targets in the 2,880 rows after train;
    - test: rows ``[16M - input_size, 20M)`` — targets in the next 2,880 rows.

    The rows after ``20M`` (2,780 of ETTh's 17,420) are used by no split, as in the reference
    code (github.com/zhouhaoyi/Informer2020, ``data/data_loader.py``), whose borders are
    ``[0, 12M - L, 16M - L]`` to ``[12M, 16M, 20M]`` with ``L`` the input length.

    Args:
        n: rows in the file; defaults to the published size of ``name`` (17,420 for ETTh).
        input_size: input window length ``L``, 0 <= L <= 12M.
        name: one of ``ETTh1``, ``ETTh2``, ``ETTm1``, ``ETTm2``.

    >>> ett_split(input_size=96)
    EttSplit(train=slice(0, 8640, None), val=slice(8544, 11520, None), test=slice(11424, 14400, None))
    """  # noqa: E501
    if name not in ETT_NAMES:
        raise expect_one_of("name", name, ETT_NAMES)
    month = 30 * 24 * (4 if name.startswith("ETTm") else 1)
    n = _ETT_ROWS[name] if n is None else n
    if n < 20 * month:
        raise DataError(f"n: the standard {name} split needs at least {20 * month} rows, got {n}")
    if isinstance(input_size, bool) or not 0 <= input_size <= 12 * month:
        raise ConfigError(
            f"input_size: expected an integer between 0 and {12 * month}, got {input_size!r}"
        )
    return EttSplit(
        train=slice(0, 12 * month),
        val=slice(12 * month - input_size, 16 * month),
        test=slice(16 * month - input_size, 20 * month),
    )


def ratio_split(n: int, input_size: int = 0, train: float = 0.7, test: float = 0.2) -> EttSplit:
    """Borders of the 70/10/20 split in time used for exchange rate, ILI, weather, traffic...
    in the long-horizon literature (Autoformer's ``Dataset_Custom``).

    - train: rows ``[0, ⌊0.7 n⌋)``;
    - test: the last ``⌊0.2 n⌋`` rows, starting ``input_size`` rows early;
    - val: the rows in between, starting ``input_size`` rows early.

    >>> ratio_split(966, input_size=24)
    EttSplit(train=slice(0, 676, None), val=slice(652, 773, None), test=slice(749, 966, None))
    """
    n_train, n_test = int(n * train), int(n * test)
    n_val = n - n_train - n_test
    if not (0 < train < 1 and 0 < test < 1 and n_val > 0):
        raise ConfigError(
            f"train, test: expected positive fractions leaving rows for validation, got"
            f" {train!r} and {test!r}"
        )
    if isinstance(input_size, bool) or not 0 <= input_size <= n_train:
        raise ConfigError(
            f"input_size: expected an integer between 0 and {n_train}, got {input_size!r}"
        )
    return EttSplit(
        train=slice(0, n_train),
        val=slice(n_train - input_size, n_train + n_val),
        test=slice(n - n_test - input_size, n),
    )


# ---------------------------------------------------------------------------- any CSV
def load_long_csv(
    path: str | Path,
    id_col: str = "unique_id",
    time_col: str = "ds",
    target_col: str = "y",
    wide: bool = False,
) -> pd.DataFrame:
    """Read a CSV of series into long format (``unique_id, ds, y``).

    Args:
        path: the CSV file.
        id_col, time_col, target_col: the columns holding the series id, the time and the value
            in a long file; they are renamed ``unique_id``, ``ds`` and ``y``.
        wide: the file is wide instead: ``time_col`` and one column per series (the column name
            becomes ``unique_id``); ``id_col`` and ``target_col`` are then unused.

    ``ds`` is kept as integers when the column holds integers, else parsed as timestamps.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"path: file not found: {path}")
    frame = pd.read_csv(path)
    if wide:
        if time_col not in frame.columns:
            raise DataError(
                f"time_col: {path.name} has no column {time_col!r}; columns are"
                f" {list(frame.columns)[:10]}"
            )
        return _melt(frame, time_col, path.name)
    wanted = {id_col: "unique_id", time_col: "ds", target_col: "y"}
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path.name}: missing column(s) {missing}; columns are {list(frame.columns)[:10]}"
            " (name them with id_col=, time_col=, target_col=, or pass wide=True for a file"
            " with one column per series)"
        )
    long = frame[list(wanted)].rename(columns=wanted)
    long["unique_id"] = long["unique_id"].astype(str).astype(object)
    long["ds"] = _parse_time(long["ds"], time_col, path.name)
    return long


__all__ = [
    "BUNDLED_DIR",
    "ENV_VAR",
    "ETT_NAMES",
    "M4_LOADABLE",
    "EttSplit",
    "M4Info",
    "data_search_path",
    "ett_split",
    "find_data_file",
    "load_ett",
    "load_exchange_rate",
    "load_ili",
    "load_long_csv",
    "load_m4",
    "load_m4_info",
]
