"""From a user's table to series a model can train on, the same way at fit and predict time.

``zen fit series.csv --horizon H`` and ``zen predict RUN new.csv`` read their tables through
:func:`prepare_series` with one :class:`SeriesSpec` (saved with the model as ``input.json``),
so new data are read exactly like the training data: the same layout, time column, date
format, frequency, gap policy and exogenous columns.

What happens to a table, in order, each step noted for the report:

1. Rows at the end of a series with an empty target are its *future*: the values of future
   exogenous variables over the forecast horizon (dropped when no model needs them).
2. Repeated time stamps of a series are averaged.
3. Static variables (one value per series) are taken from the first row of each series; a
   series whose rows disagree is an error.
4. Gaps become rows (:func:`~zen.profile.calendar.fill_gaps`) and empty values are filled
   by the policy: ``interpolate`` (linear between neighbours), ``zero`` (intermittent counts:
   a day without a sale sold nothing) or ``drop`` (remove them and take each series as its
   observed values in order, as for trading days; the stamps before the last are renumbered).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError, expect_one_of
from zen.forecasting.data import SeriesData, from_long, with_static
from zen.profile import SeriesTable, TaskProfile, series_table
from zen.profile.calendar import fill_gaps, mean_of_duplicates
from zen.profile.series_stats import ADI_INTERMITTENT

#: How gaps and empty values are filled (``--fill``).
FILL_POLICIES = ("interpolate", "zero", "drop")
#: The name of the spec file in a saved model directory.
SPEC_FILE = "input.json"


@dataclass(frozen=True)
class SeriesSpec:
    """How a table is read as series; what ``zen predict`` needs to read new data alike.

    Attributes:
        layout: ``"long"`` (``unique_id, ds, y``) or ``"wide"`` (one column per series).
        time_column: the column with the time stamps.
        series: the series' columns of a wide table.
        freq: pandas frequency or integer step.
        date_format: ``strftime`` format of the stamps, or None (detected).
        fill: one of :data:`FILL_POLICIES`.
        hist_exog, futr_exog, static: exogenous columns by kind (neuralforecast's
            ``hist_exog_list``, ``futr_exog_list``, ``stat_exog_list``).
        target: the series column of a wide table read with ``--target``.
    """

    layout: str
    time_column: str
    freq: str | int
    fill: str
    series: tuple[str, ...] = ()
    date_format: str | None = None
    hist_exog: tuple[str, ...] = ()
    futr_exog: tuple[str, ...] = ()
    static: tuple[str, ...] = ()
    target: str | None = None

    def __post_init__(self) -> None:
        if self.fill not in FILL_POLICIES:
            raise expect_one_of("fill", self.fill, FILL_POLICIES)
        kinds = {"hist_exog": self.hist_exog, "futr_exog": self.futr_exog, "static": self.static}
        seen: dict[str, str] = {}
        for kind, names in kinds.items():
            for name in names:
                if name in seen:
                    raise ConfigError(
                        f"{kind}: column {name!r} is already listed as {seen[name]}; a column"
                        " is one kind of exogenous variable"
                    )
                seen[name] = kind
        reserved = sorted(set(seen) & {"unique_id", "ds", "y", self.time_column, *self.series})
        if reserved:
            raise ConfigError(
                f"exogenous: {reserved} are the series' own columns, not exogenous variables"
            )

    @property
    def temporal(self) -> tuple[str, ...]:
        """The columns that change over time (historic and future)."""
        return (*self.hist_exog, *self.futr_exog)

    @property
    def exogenous(self) -> tuple[str, ...]:
        return (*self.temporal, *self.static)

    def exogenous_lists(self) -> dict[str, list[str]]:
        """The columns by model argument (``hist_exog_list``, ``futr_exog_list``,
        ``stat_exog_list``); each model takes the kinds its paper uses."""
        return {
            "hist_exog_list": list(self.hist_exog),
            "futr_exog_list": list(self.futr_exog),
            "stat_exog_list": list(self.static),
        }

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> SeriesSpec:
        known = {item.name for item in dataclasses.fields(cls)}
        values = {key: value for key, value in payload.items() if key in known}
        for key in ("series", "hist_exog", "futr_exog", "static"):
            values[key] = tuple(values.get(key) or ())
        return cls(**values)


def default_fill(profile: TaskProfile) -> tuple[str, str]:
    """The fill policy for a profile, and why: zeros for intermittent counts, else linear."""
    if profile.adi is not None and profile.adi >= ADI_INTERMITTENT:
        return "zero", (
            f"intermittent demand (ADI {profile.adi:.2f} >= {ADI_INTERMITTENT}): a step"
            " without a value is read as zero"
        )
    return "interpolate", "values between the neighbours of each gap, linearly"


@dataclass
class SeriesInput:
    """Series ready for the models, and what was done to get them.

    Attributes:
        spec: how the table was read.
        long: ``unique_id, ds, y`` and the temporal exogenous columns on a regular grid (empty
            values left for ``from_long(fill_missing=...)``).
        future: ``unique_id, ds`` and the future exogenous columns for the steps after each
            series' last value, when the table had such rows.
        static_df: ``unique_id`` and the static columns, one row per series.
        notes: what was done, for the report.
    """

    spec: SeriesSpec
    long: pd.DataFrame
    future: pd.DataFrame | None = None
    static_df: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def fill_missing(self) -> str | None:
        """The ``fill_missing`` of :func:`~zen.forecasting.data.from_long` for the policy."""
        return None if self.spec.fill == "drop" else self.spec.fill

    def series_data(self, name: str = "data") -> SeriesData:
        """The history as :class:`SeriesData` (gaps filled, exogenous columns attached)."""
        data = from_long(self.long, self.spec.freq, fill_missing=self.fill_missing, name=name,
                         exog_columns=self.spec.temporal)  # fmt: skip
        if self.spec.static:
            data = with_static(data, self.static_df, self.spec.static)
        return data


def read_series(frame: pd.DataFrame, spec: SeriesSpec, name: str = "data") -> SeriesInput:
    """Read a new table the way ``spec`` says (``zen predict``): its columns must match.

    Raises:
        DataError: a column the spec needs is missing (named), or the data do not fit it.
    """
    columns = {str(column) for column in frame.columns}
    if spec.layout == "long":
        needed = ["unique_id", "ds", "y", *spec.exogenous]
    else:
        needed = [spec.time_column, *spec.series, *spec.exogenous]
    missing = [column for column in needed if column not in columns]
    if missing:
        raise DataError(
            f"{name}: missing column(s) {missing}; the model was trained on a"
            f" {spec.layout} table with {needed}"
        )
    if spec.layout == "wide":
        # Only the model's own series columns: a new column in the table is not a new series.
        frame = frame[[spec.time_column, *spec.series, *spec.exogenous]]
    table = series_table(frame, spec.target, date_format=spec.date_format, exog=spec.exogenous)
    return prepare_series(table, spec, name)


def prepare_series(table: SeriesTable, spec: SeriesSpec, name: str = "data") -> SeriesInput:
    """Clean ``table`` by ``spec`` (see the module docstring for the steps)."""
    long = table.long.sort_values(["unique_id", "ds"], kind="stable", ignore_index=True)
    notes: list[str] = []
    _check_numeric(long, ["y", *spec.exogenous], name)
    long, future = _split_future(long, spec, notes, name)
    repeated = int(long.duplicated(["unique_id", "ds"]).sum())
    if repeated:
        long = mean_of_duplicates(long, ["y", *spec.exogenous])
        notes.append(f"{repeated} repeated time stamp(s) averaged")
    static_df = _static_rows(long, spec.static, name) if spec.static else None
    long = long[["unique_id", "ds", "y", *spec.temporal]]
    if spec.fill == "drop":
        long = _drop_missing(long, spec.freq, notes)
    else:
        before = len(long)
        long = fill_gaps(long, spec.freq, end="per_serie")
        empty = int(long["y"].isna().sum())
        if empty:
            notes.append(
                f"{len(long) - before} missing time step(s) added; {empty} empty value(s)"
                f" filled by {spec.fill}"
            )
    return SeriesInput(spec, long, future, static_df, notes)


def _check_numeric(long: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for column in columns:
        if not pd.api.types.is_numeric_dtype(long[column]):
            try:
                long[column] = pd.to_numeric(long[column])
            except (ValueError, TypeError):
                bad = long[column][pd.to_numeric(long[column], errors="coerce").isna()
                                   & long[column].notna()].iloc[0]  # fmt: skip
                raise DataError(
                    f"{name}: column {column!r} must hold numbers, got {bad!r}; encode"
                    " categories as numbers first"
                ) from None


def _split_future(
    long: pd.DataFrame, spec: SeriesSpec, notes: list[str], name: str
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """History rows, and the rows after each series' last target value (the future)."""
    observed = long["y"].notna()
    if not observed.any():
        raise DataError(f"{name}: the target column has no values")
    # Position of each row within its series, and of the series' last observed value.
    order = long.groupby("unique_id", sort=False).cumcount()
    last = order.where(observed).groupby(long["unique_id"], sort=False).transform("max")
    unobserved = last.isna()
    if unobserved.any():
        raise DataError(
            f"{name}: series {long.loc[unobserved, 'unique_id'].iloc[0]!r} has no target value"
        )
    after = order > last
    if not after.any():
        return long, None
    future = long.loc[after, ["unique_id", "ds", *spec.futr_exog]]
    if spec.futr_exog:
        notes.append(
            f"{len(future)} row(s) after the series' last values give the future of"
            f" {list(spec.futr_exog)}"
        )
        return long.loc[~after].reset_index(drop=True), future.reset_index(drop=True)
    notes.append(f"{len(future)} row(s) after the series' last values have no target; not used")
    return long.loc[~after].reset_index(drop=True), None


def _static_rows(long: pd.DataFrame, columns: Sequence[str], name: str) -> pd.DataFrame:
    grouped = long.groupby("unique_id", sort=True)[list(columns)]
    varying = grouped.nunique(dropna=False) > 1
    if varying.to_numpy().any():
        series = varying.any(axis=1).idxmax()
        column = varying.loc[series].idxmax()
        raise DataError(
            f"{name}: static column {column!r} changes within series {series!r}; a static"
            " variable has one value per series (use --hist-exog or --futr-exog for one that"
            " changes over time)"
        )
    return grouped.first().reset_index()


def _drop_missing(long: pd.DataFrame, freq: str | int, notes: list[str]) -> pd.DataFrame:
    """Empty rows removed; each series restamped on a regular grid that ends at its last
    stamp, so that forecasts continue from the real last time."""
    empty = long["y"].isna()
    kept = long.loc[~empty].reset_index(drop=True)
    counts = kept.groupby("unique_id", sort=False).size()
    last = kept.groupby("unique_id", sort=False)["ds"].max()
    stamps = []
    for series, count in counts.items():
        if isinstance(freq, int):
            stamps.append(last[series] - freq * np.arange(count - 1, -1, -1))
        else:
            stamps.append(pd.date_range(end=last[series], periods=count, freq=freq).to_numpy())
    restamped = kept.assign(ds=np.concatenate(stamps).astype(kept["ds"].dtype))
    moved = int((restamped["ds"] != kept["ds"]).sum())
    notes.append(
        f"{int(empty.sum())} empty value(s) dropped (--fill drop); {moved} earlier stamp(s)"
        " renumbered so that each series is regular up to its last value"
    )
    return restamped
