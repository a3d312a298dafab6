"""Task profiling: look at the data and say what kind of learning problem it is, and why.

Every entry point that must decide "classification or regression?" (``zen fit``, the router)
asks :func:`profile_table`, so the rule lives in one place and its reason can be shown. Time
series (:func:`profile_series`) and graphs (:func:`profile_graph`) also get the statistics the
router decides on (seasonality, trend strength, intermittency, homophily...), each with the
reason that ``zen fit --explain`` prints (:meth:`TaskProfile.explain`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError
from zen.orchestrator.graph_stats import class_balance, describe_graph
from zen.orchestrator.series_stats import (
    describe_series,
)

TASK_KINDS = ("classification", "regression")
#: Column names read as the time axis of a wide table, in order of preference.
TIME_COLUMNS = ("ds", "date", "datetime", "timestamp", "time")
LONG_COLUMNS = ("unique_id", "ds", "y")

#: An integer-valued target with at most this many distinct values is read as class labels...
MAX_CLASSES = 20
#: ...provided each class has this many rows on average (otherwise it looks like a count).
MIN_ROWS_PER_CLASS = 5

#: The task families the router has candidates for, and the family of each ``kind``.
FAMILIES = ("time series", "graph", "tabular regression", "tabular classification")
_FAMILY_BY_KIND = {
    "forecasting": "time series",
    "node classification": "graph",
    "regression": "tabular regression",
    "classification": "tabular classification",
}


def family_of(kind: str, layout: str | None = None) -> str:
    """The task family (one of :data:`FAMILIES`) of a profile ``kind``; unknown kinds map to
    themselves so that a new family is never silently filed under an old one."""
    if layout == "graph":
        return "graph"
    return _FAMILY_BY_KIND.get(kind, kind)


class Explanation(NamedTuple):
    """One line of ``zen fit --explain``: a detected feature, its value and why."""

    feature: str
    value: Any
    reason: str


@dataclass(frozen=True)
class TaskProfile:
    """What profiling found out about a task, each finding with its reason (:attr:`reasons`).

    Fields that do not apply to the task's family stay ``None``.

    Attributes:
        kind: ``"classification"``, ``"regression"``, ``"forecasting"`` or
            ``"node classification"``.
        reason: one sentence saying why, for the user.
        target: the target column.
        n_rows: rows with a target value (time series: all rows; graphs: labelled nodes).
        numeric_features / categorical_features: the feature columns by type.
        n_classes: number of distinct labels (classification only).
        dropped_rows: rows dropped because their target was missing.
        horizon, layout, time_column, n_series: for forecasting: steps to forecast, ``"long"``
            (``unique_id, ds, y``) or ``"wide"`` (a time column, one column per series).
        family: one of :data:`FAMILIES`, derived from ``kind`` when not given.
        class_balance: rows of the rarest class / rows of the commonest (1 = balanced).
        missing_ratio: share of missing cells (tables) or of missing steps (time series).
        min_series_length, median_series_length, max_series_length: values per series.
        freq: the pandas frequency of the time axis (``None`` for integer steps).
        season_length: the seasonal period found by autocorrelation; 1 when there is none.
        seasonal_acf: the autocorrelation at ``season_length``.
        trend_strength: :math:`F_T = \\max(0, 1 - \\mathrm{Var}(R) / \\mathrm{Var}(T + R))` in
            [0, 1] (Wang, Smith & Hyndman 2006).
        zero_ratio, adi, demand_cv2: intermittency: share of zeros, average demand interval and
            squared coefficient of variation of the non-zero values (Syntetos & Boylan 2005).
        n_gaps, n_duplicates, n_missing: time steps without a row, repeated time stamps and
            empty target values, counted against ``freq`` (before any cleaning).
        num_nodes, num_edges, num_node_features: graph sizes (edges counted per direction).
        graph_density: edges / (nodes * (nodes - 1)), self-loops left out.
        mean_degree: edges per node.
        homophily: share of edges joining nodes of the same class (Zhu et al. 2020).
        reasons: why each finding was made, by feature name (see :meth:`explain`).
    """

    kind: str
    reason: str
    target: str
    n_rows: int
    numeric_features: list[str] = field(default_factory=list)
    categorical_features: list[str] = field(default_factory=list)
    n_classes: int | None = None
    dropped_rows: int = 0
    horizon: int | None = None
    layout: str | None = None
    time_column: str | None = None
    n_series: int | None = None
    family: str = ""
    class_balance: float | None = None
    missing_ratio: float | None = None
    min_series_length: int | None = None
    median_series_length: float | None = None
    max_series_length: int | None = None
    freq: str | None = None
    season_length: int | None = None
    seasonal_acf: float | None = None
    trend_strength: float | None = None
    zero_ratio: float | None = None
    adi: float | None = None
    demand_cv2: float | None = None
    n_gaps: int | None = None
    n_duplicates: int | None = None
    n_missing: int | None = None
    num_nodes: int | None = None
    num_edges: int | None = None
    num_node_features: int | None = None
    graph_density: float | None = None
    mean_degree: float | None = None
    homophily: float | None = None
    reasons: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.family:
            # Derived once here (the dataclass is frozen) so that it is stored with the profile
            # and a profile read back from JSON keeps it.
            object.__setattr__(self, "family", family_of(self.kind, self.layout))

    @property
    def n_features(self) -> int:
        return len(self.numeric_features) + len(self.categorical_features)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "n_features": self.n_features}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> TaskProfile:
        """The profile back from :meth:`to_json` (or from a History record).

        Keys this version does not know are ignored, so that profiles written by other zen
        versions load.
        """
        missing = [name for name in ("kind", "reason", "target", "n_rows") if name not in payload]
        if missing:
            raise DataError(
                f"profile: missing {', '.join(missing)}; expected a dict from TaskProfile.to_json()"
            )
        known = {item.name for item in fields(cls)}
        return cls(**{name: value for name, value in payload.items() if name in known})

    def features(self) -> dict[str, float]:
        """The profile as numbers for the router, with the same keys for every profile.

        Sizes are on a log scale (``log10(1 + x)``) because a model that suits 1 000 rows
        suits 2 000 too, not 1 000 000. Features that do not apply take a neutral value (0, or
        1 for ``class_balance``), which is the same for every task of a family and so does not
        move distances within it.
        """
        if self.num_node_features is not None:
            n_features = self.num_node_features
        else:  # the numeric columns of a wide time-series table are its series, not features
            n_features = 0 if self.family == "time series" else self.n_features
        length = self.median_series_length
        return {
            "is_time_series": float(self.family == "time series"),
            "is_graph": float(self.family == "graph"),
            "is_classification": float(self.family in ("tabular classification", "graph")),
            "log_rows": _log_size(self.n_rows),
            "log_features": _log_size(n_features),
            "log_classes": _log_size(self.n_classes),
            "class_balance": 1.0 if self.class_balance is None else float(self.class_balance),
            "missing_ratio": float(self.missing_ratio or 0.0),
            "log_series": _log_size(self.n_series),
            "log_length": _log_size(length),
            "log_horizon": _log_size(self.horizon),
            "horizon_ratio": float(self.horizon / length) if self.horizon and length else 0.0,
            "log_season": math.log10(self.season_length) if self.season_length else 0.0,
            "seasonal_acf": float(self.seasonal_acf or 0.0),
            "trend_strength": float(self.trend_strength or 0.0),
            "zero_ratio": float(self.zero_ratio or 0.0),
            "log_adi": math.log10(self.adi) if self.adi else 0.0,
            "homophily": float(self.homophily or 0.0),
            "log_mean_degree": _log_size(self.mean_degree),
        }

    def _gaps(self) -> str | None:
        if self.n_gaps is None:
            return None
        return f"{self.n_gaps} gaps, {self.n_duplicates} duplicates, {self.n_missing} missing"

    def explain(self) -> list[Explanation]:
        """Every finding that applies as ``(feature, value, reason)``, for ``zen fit --explain``."""
        lines = [Explanation("kind", self.kind, self.reason)]
        n_features = self.num_node_features or self.n_features or None
        if self.family == "time series":
            n_features = None  # a wide table's numeric columns are its series
        lengths = (self.min_series_length, self.median_series_length, self.max_series_length)
        values: list[tuple[str, Any]] = [
            ("family", self.family),
            ("n_rows", self.n_rows),
            ("n_features", n_features),
            ("n_classes", self.n_classes),
            ("class_balance", self.class_balance),
            ("missing_ratio", self.missing_ratio),
            ("n_series", self.n_series),
            ("series_length", None if lengths[0] is None else lengths),
            ("freq", self.freq),
            ("season_length", self.season_length),
            ("trend_strength", self.trend_strength),
            ("zero_ratio", self.zero_ratio),
            ("adi", self.adi),
            ("gaps", self._gaps()),
            ("num_nodes", self.num_nodes),
            ("num_edges", self.num_edges),
            ("graph_density", self.graph_density),
            ("homophily", self.homophily),
        ]
        defaults = {"family": f"from kind {self.kind!r}"}
        for name, value in values:
            if value is not None or name in self.reasons:
                reason = self.reasons.get(name, defaults.get(name, ""))
                lines.append(Explanation(name, value, reason))
        return lines


def _log_size(value: float | None) -> float:
    return math.log10(1.0 + float(value)) if value else 0.0


# -- tables --------------------------------------------------------------------------------


def detect_task(target: pd.Series) -> tuple[str, str]:
    """``(kind, reason)`` for a target column (missing values already removed)."""
    name = target.name
    distinct = int(target.nunique())
    if pd.api.types.is_bool_dtype(target) or not pd.api.types.is_numeric_dtype(target):
        return "classification", f"target {name!r} holds labels ({distinct} distinct values)"
    values = target.to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise DataError(f"target {name!r}: contains infinite values")
    if not np.all(values == np.round(values)):
        return "regression", f"target {name!r} holds fractional numbers ({distinct} distinct)"
    if distinct <= 2:
        return "classification", f"target {name!r} has {distinct} integer values: binary labels"
    if distinct <= MAX_CLASSES and len(values) / distinct >= MIN_ROWS_PER_CLASS:
        return (
            "classification",
            f"target {name!r} has {distinct} distinct integer values (<= {MAX_CLASSES}),"
            " read as class labels",
        )
    return (
        "regression",
        f"target {name!r} has {distinct} distinct integer values, too many for classes;"
        " read as a quantity",
    )


def profile_table(frame: pd.DataFrame, target: str, task: str = "auto") -> TaskProfile:
    """Profile ``frame`` for predicting column ``target``.

    Args:
        frame: the table, one row per sample.
        target: the column to predict.
        task: ``"auto"`` to detect, or force ``"classification"`` / ``"regression"``.

    Raises:
        DataError: the target is missing, empty or has no usable rows; no feature columns.
        ConfigError: unknown ``task``; regression asked for a non-numeric target.
    """
    if task not in ("auto", *TASK_KINDS):
        raise ConfigError(f"task: unknown value {task!r}; expected auto, {', '.join(TASK_KINDS)}")
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:20]))
        raise DataError(f"target: column {target!r} not found; columns are: {columns}")
    if len(frame.columns) < 2:
        raise DataError("the table has no feature columns besides the target")
    labels = frame[target]
    present = labels.notna()
    if not present.any():
        raise DataError(f"target {target!r}: every value is missing")
    labels = labels[present]
    kind, reason = detect_task(labels)
    if task != "auto":
        if task == "regression" and not pd.api.types.is_numeric_dtype(labels):
            raise ConfigError(f"task='regression' needs a numeric target; {target!r} is text")
        kind, reason = task, f"task set to {task} by the caller"
    features = frame.drop(columns=[target])
    numeric = [
        str(column)
        for column in features.columns
        if pd.api.types.is_numeric_dtype(features[column])
        and not pd.api.types.is_bool_dtype(features[column])
    ]
    categorical = [str(column) for column in features.columns if str(column) not in numeric]
    reasons = {
        "n_rows": f"{int(present.sum())} rows have a target value"
        + (f"; {int((~present).sum())} without one are dropped" if not present.all() else ""),
        "n_features": f"{len(numeric)} numeric and {len(categorical)} categorical columns",
    }
    balance = None
    if kind == "classification":
        balance = class_balance(labels.value_counts(), reasons)
    missing_ratio = _table_missing_ratio(features, reasons)
    return TaskProfile(
        kind=kind,
        reason=reason,
        target=target,
        n_rows=int(present.sum()),
        numeric_features=numeric,
        categorical_features=categorical,
        n_classes=int(labels.nunique()) if kind == "classification" else None,
        dropped_rows=int((~present).sum()),
        class_balance=balance,
        missing_ratio=missing_ratio,
        reasons=reasons,
    )


def _table_missing_ratio(features: pd.DataFrame, reasons: dict[str, str]) -> float:
    empty = features.isna().sum()
    cells = features.size
    ratio = float(empty.sum() / cells) if cells else 0.0
    worst = empty[empty > 0].sort_values(ascending=False)
    reasons["missing_ratio"] = f"{int(empty.sum())} of {cells} feature cells are empty" + (
        f" (most in {', '.join(map(repr, worst.index[:3].map(str)))})" if len(worst) else ""
    )
    return ratio


# -- time series ---------------------------------------------------------------------------


def is_time_series(frame: pd.DataFrame, horizon: int | None) -> tuple[bool, str]:
    """Whether ``frame`` should be forecast, and why: a horizon was asked for, or the frame has
    the long forecasting columns ``unique_id, ds, y``."""
    if horizon is not None:
        return True, f"a forecast horizon was given ({horizon} steps)"
    if set(LONG_COLUMNS) <= set(frame.columns):
        return True, "the table has the long time-series columns unique_id, ds, y"
    return False, "no horizon given and no unique_id/ds/y columns: a table to learn from"


@dataclass(frozen=True)
class SeriesTable:
    """A table read as time series: long rows with parsed time stamps, before any cleaning.

    Attributes:
        long: ``unique_id, ds, y`` and the exogenous columns, one row per input row (wide
            tables melted: one row per time stamp and series column).
        layout: ``"long"`` or ``"wide"``.
        time_column: the column that held the time stamps.
        series: the series' column names (wide) or ``[]`` (long).
        date_reason: how the time stamps were read (see :func:`~zen.forecasting.calendar.
            parse_dates`).
    """

    long: pd.DataFrame
    layout: str
    time_column: str
    series: list[str]
    date_reason: str


def series_table(
    frame: pd.DataFrame,
    target: str | None = None,
    *,
    date_format: str | None = None,
    exog: Sequence[str] = (),
) -> SeriesTable:
    """Read ``frame`` as series: find its layout and time column, melt it, parse the stamps.

    Long frames have ``unique_id, ds, y``. Otherwise the frame is wide: a time column (one of
    :data:`TIME_COLUMNS`) and one numeric column per series, or just ``target`` when given;
    the ``exog`` columns (exogenous variables) are never series, and in a wide table every
    series shares them.

    Raises:
        DataError: no time column, a missing ``target`` or ``exog`` column, nothing to forecast,
            or time stamps that do not parse (see :func:`~zen.forecasting.calendar.parse_dates`).
    """
    from zen.forecasting.calendar import parse_dates

    columns = [str(column) for column in frame.columns]
    absent = [name for name in exog if name not in columns]
    if absent:
        raise DataError(
            f"exogenous: column(s) {absent} not found; columns are: {', '.join(columns[:20])}"
        )
    exog = list(dict.fromkeys(exog))
    if set(LONG_COLUMNS) <= set(columns):
        long = frame[[*LONG_COLUMNS, *exog]]
        layout, time_column, series = "long", "ds", []
    else:
        time_column = next((name for name in TIME_COLUMNS if name in columns), "")
        if not time_column:
            raise DataError(
                "data: no time column; name it one of "
                f"{', '.join(TIME_COLUMNS)} (wide layout) or use columns unique_id, ds, y (long)"
            )
        if target is not None and target not in columns:
            raise DataError(
                f"target: column {target!r} not found; columns are: {', '.join(columns[:20])}"
            )
        series = (
            [target]
            if target
            else [
                name
                for name in columns
                if name != time_column
                and name not in exog
                and pd.api.types.is_numeric_dtype(frame[name])
            ]
        )
        if not series:
            raise DataError(f"data: no numeric columns to forecast besides {time_column!r}")
        long = wide_to_long(frame, time_column, series, exog)
        layout = "wide"
    stamps, reason = parse_dates(long["ds"], date_format, argument=time_column)
    return SeriesTable(long.assign(ds=stamps), layout, time_column, series, reason)


def wide_to_long(
    frame: pd.DataFrame, time_column: str, series: list[str], exog: Sequence[str] = ()
) -> pd.DataFrame:
    """A wide table (a time column, one column per series) as ``unique_id, ds, y``, with the
    ``exog`` columns repeated for every series.

    Column names are series names, whatever they are: one called ``y`` or ``ds`` is a series
    like any other.
    """
    value = "\x00value"  # a name no column of a CSV file can have
    long = frame.melt(
        id_vars=[time_column, *exog], value_vars=series, var_name="unique_id", value_name=value
    )
    return pd.DataFrame(
        {
            "unique_id": long["unique_id"],
            "ds": long[time_column],
            "y": long[value],
            **{name: long[name] for name in exog},
        }
    )


def profile_series(
    frame: pd.DataFrame | SeriesTable,
    horizon: int,
    target: str | None = None,
    *,
    freq: str | int | None = None,
    date_format: str | None = None,
    exog: Sequence[str] = (),
) -> TaskProfile:
    """Profile ``frame`` as time series to forecast ``horizon`` steps ahead.

    ``frame`` is read by :func:`series_table` (or is its result). The statistics (seasonality,
    trend, intermittency) come from :func:`describe_series`; the frequency is ``freq`` or the
    most common spacing (:func:`~zen.forecasting.calendar.infer_freq`), and the gaps,
    duplicate stamps and empty values are counted against it
    (:func:`~zen.forecasting.calendar.describe_gaps`).
    """
    from zen.forecasting.calendar import check_freq, describe_gaps, infer_freq

    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon: expected a positive number of steps, got {horizon!r}")
    table = (
        frame
        if isinstance(frame, SeriesTable)
        else series_table(frame, target, date_format=date_format, exog=exog)
    )
    long = table.long
    statistics, reasons = describe_series(long[list(LONG_COLUMNS)])
    if freq is not None:
        statistics["freq"] = check_freq(freq)
        reasons["freq"] = f"given: {freq!r}"
    else:
        statistics["freq"], reasons["freq"] = infer_freq(long)
    if isinstance(statistics["freq"], int):
        statistics["freq"] = None  # TaskProfile.freq: calendar frequencies only
    gaps = describe_gaps(long, statistics["freq"] or _integer_step(long, freq))
    reasons["freq"] = f"{table.date_reason}; {reasons['freq']}"
    reasons["gaps"] = gaps.describe()
    n_series = int(long["unique_id"].nunique())
    if table.layout == "long":
        reason = f"long time series (unique_id, ds, y): {n_series} series"
    else:
        reason = (
            f"wide time series: {table.time_column!r} is the time axis,"
            f" {len(table.series)} numeric column(s) are series"
        )
    return TaskProfile(
        kind="forecasting",
        reason=reason,
        target=(target or "y") if table.layout == "wide" else "y",
        n_rows=len(frame) if isinstance(frame, pd.DataFrame) else len(long),
        numeric_features=list(table.series),
        horizon=horizon,
        layout=table.layout,
        time_column=table.time_column,
        n_series=n_series,
        n_gaps=gaps.gaps,
        n_duplicates=gaps.duplicates,
        n_missing=gaps.missing,
        reasons=reasons,
        **statistics,
    )


def _integer_step(long: pd.DataFrame, freq: str | int | None) -> int:
    from zen.forecasting.calendar import infer_freq

    if isinstance(freq, int):
        return freq
    step = infer_freq(long)[0]
    return step if isinstance(step, int) else 1


def profile_graph(graph: Any, name: str) -> TaskProfile:
    """Profile ``graph`` (a :class:`zen.graph.Graph`) for node classification.

    The same checks, kind and reason as the graph job's own ``profile_graph``, plus sizes,
    density, homophily and class balance from :func:`describe_graph`.

    Raises:
        DataError: the graph has no labels, no features, or fewer than 2 classes.
    """
    from zen.graph.utils import is_undirected

    if graph.y is None:
        raise DataError(f"{name}: the graph has no node labels (y); pass --target")
    if graph.x is None:
        raise DataError(f"{name}: the graph has no node features (x); give --nodes a feature CSV")
    labelled = graph.y[graph.y >= 0]
    n_classes = int(labelled.max()) + 1 if labelled.numel() else 0
    if n_classes < 2:
        raise DataError(f"{name}: node classification needs at least 2 classes, got {n_classes}")
    direction = "undirected" if is_undirected(graph.edge_index) else "directed"
    reason = (
        f"a graph ({graph.num_nodes} nodes, {graph.num_edges} {direction} edges,"
        f" {graph.num_features} features) with {n_classes} node classes"
    )
    statistics, reasons = describe_graph(
        graph.edge_index, graph.y, graph.num_nodes, hidden=getattr(graph, "test_mask", None)
    )
    return TaskProfile(
        kind="node classification",
        reason=reason,
        target="y",
        n_rows=int(labelled.numel()),
        n_classes=n_classes,
        layout="graph",
        num_node_features=graph.num_features,
        reasons=reasons,
        **statistics,
    )


def profile_data(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    task: str = "auto",
    series_options: Mapping[str, Any] | None = None,
) -> TaskProfile:
    """Profile what ``zen fit`` would train on, without training (``zen fit --explain``).

    Dispatches as :func:`zen.orchestrator.jobs.fit` does: a graph folder or ``edges`` +
    ``nodes`` is a graph, a ``horizon`` or ``unique_id, ds, y`` columns make time series,
    anything else is a table with column ``target``.

    Raises:
        ConfigError: ``target`` or ``horizon`` is needed and missing.
        DataError: the data cannot be read (see the loaders).
    """
    # Imported here: both modules import this one.
    from zen.orchestrator.graph_job import load_graph
    from zen.orchestrator.jobs import read_table

    if edges is not None or (not isinstance(data, pd.DataFrame) and Path(str(data)).is_dir()):
        graph, name = load_graph(
            None if data is None else Path(data),
            edges=None if edges is None else Path(edges),
            nodes=None if nodes is None else Path(nodes),
            target=target,
        )
        return profile_graph(graph, name)
    if data is None:
        raise ConfigError("data: pass a CSV file, a graph folder, or --edges/--nodes")
    frame = data if isinstance(data, pd.DataFrame) else read_table(data)
    series, _ = is_time_series(frame, horizon)
    if series:
        if horizon is None:
            raise ConfigError(
                "horizon: the data are time series (unique_id, ds, y); pass --horizon STEPS"
            )
        options = series_options or {}
        return profile_series(
            frame, horizon, target, freq=options.get("freq"),
            date_format=options.get("date_format"),
            exog=(*options.get("hist_exog", ()), *options.get("futr_exog", ()),
                  *options.get("static", ())),
        )  # fmt: skip
    if target is None:
        raise ConfigError("target: name the column to predict (--target COLUMN)")
    return profile_table(frame, target, task)
