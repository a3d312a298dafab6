"""Task profiling: look at the data and say what kind of learning problem it is, and why.

Every entry point that must decide "classification or regression?" (``zen fit``, the router)
asks :func:`profile_table`, so the rule lives in one place and its reason can be shown. Time
series (:func:`profile_series`) and graphs (:func:`profile_graph`) also get the statistics the
router decides on (seasonality, trend strength, intermittency, homophily...), each with the
reason that ``zen fit --explain`` prints (:meth:`TaskProfile.explain`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from zen.errors import ConfigError, DataError

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

#: Statistics of time series are computed on at most this many series, spread evenly over the
#: ids: a median over 200 series is stable to a few percent and keeps profiling far below a
#: second on M4-sized data.
MAX_PROFILED_SERIES = 200
#: Seasonal periods tried when the time axis has no calendar frequency (integer steps).
GENERIC_SEASONS = (4, 7, 12, 24, 52)
#: Seasonal periods of calendar frequencies without a fixed duration (by pandas prefix).
CALENDAR_SEASONS = {"B": (5,), "W": (52,), "SM": (24,), "SMS": (24,), "M": (12,), "ME": (12,),
                    "MS": (12,), "BM": (12,), "BME": (12,), "BMS": (12,), "Q": (4,), "QE": (4,),
                    "QS": (4,), "BQ": (4,), "BQE": (4,), "BQS": (4,)}  # fmt: skip
#: Syntetos & Boylan (2005): demand is intermittent when the average interval between non-zero
#: values (ADI) is at least 1.32, erratic or lumpy when the squared coefficient of variation of
#: the non-zero sizes (CV²) is at least 0.49.
ADI_INTERMITTENT = 1.32
CV2_ERRATIC = 0.49
#: Homophily needs this many labelled edges to mean anything.
MIN_LABELLED_EDGES = 10


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
    class_balance = None
    if kind == "classification":
        class_balance = _class_balance(labels.value_counts(), reasons)
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
        class_balance=class_balance,
        missing_ratio=missing_ratio,
        reasons=reasons,
    )


def _class_balance(counts: pd.Series, reasons: dict[str, str]) -> float:
    """Rarest / commonest class size, with its reason in ``reasons``."""
    counts = counts.sort_values(ascending=False)
    balance = float(counts.iloc[-1] / counts.iloc[0])
    rarest, commonest = (_plain(label) for label in (counts.index[-1], counts.index[0]))
    reasons["class_balance"] = (
        f"rarest class {rarest!r} has {int(counts.iloc[-1])} rows, commonest"
        f" {commonest!r} has {int(counts.iloc[0])}"
        + (": imbalanced, so accuracy flatters; read macro F1" if balance < 0.2 else "")
    )
    return balance


def _plain(label: Any) -> Any:
    """A numpy scalar as the Python value it holds, so that reasons read ``1``, not
    ``np.int64(1)``."""
    return label.item() if isinstance(label, np.generic) else label


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


def profile_series(frame: pd.DataFrame, horizon: int, target: str | None = None) -> TaskProfile:
    """Profile ``frame`` as time series to forecast ``horizon`` steps ahead.

    Long frames have ``unique_id, ds, y``. Otherwise the frame is wide: a time column (one of
    :data:`TIME_COLUMNS`) and one numeric column per series, or just ``target`` when given. The
    statistics (frequency, seasonality, trend, intermittency, missing steps) come from
    :func:`describe_series`.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ConfigError(f"horizon: expected a positive number of steps, got {horizon!r}")
    columns = [str(column) for column in frame.columns]
    if set(LONG_COLUMNS) <= set(columns):
        n_series = int(frame["unique_id"].nunique())
        statistics, reasons = describe_series(frame[list(LONG_COLUMNS)])
        return TaskProfile(
            kind="forecasting",
            reason=f"long time series (unique_id, ds, y): {n_series} series",
            target="y",
            n_rows=len(frame),
            horizon=horizon,
            layout="long",
            time_column="ds",
            n_series=n_series,
            reasons=reasons,
            **statistics,
        )
    time_column = next((name for name in TIME_COLUMNS if name in columns), None)
    if time_column is None:
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
            if name != time_column and pd.api.types.is_numeric_dtype(frame[name])
        ]
    )
    if not series:
        raise DataError(f"data: no numeric columns to forecast besides {time_column!r}")
    long = frame.melt(
        id_vars=[time_column], value_vars=series, var_name="unique_id", value_name="y"
    ).rename(columns={time_column: "ds"})
    statistics, reasons = describe_series(long)
    return TaskProfile(
        kind="forecasting",
        reason=f"wide time series: {time_column!r} is the time axis, {len(series)} numeric"
        f" column(s) are series",
        target=target or "y",
        n_rows=len(frame),
        numeric_features=series,
        horizon=horizon,
        layout="wide",
        time_column=time_column,
        n_series=len(series),
        reasons=reasons,
        **statistics,
    )


def describe_series(
    long: pd.DataFrame, max_series: int = MAX_PROFILED_SERIES
) -> tuple[dict[str, Any], dict[str, str]]:
    """Statistics of time series in long format (``unique_id, ds, y``), and the reason of each.

    Lengths count every series; frequency, missing steps, seasonality, trend strength and
    intermittency look at up to ``max_series`` series spread evenly over the sorted ids (the
    reasons say how many). Never raises on odd values: what cannot be computed stays ``None``
    and its reason says why; checking the data is :func:`~zen.forecasting.data.from_long`'s job.

    Returns:
        ``(values, reasons)``: ``values`` are :class:`TaskProfile` field names.
    """
    if max_series < 1:
        raise ConfigError(f"max_series: expected at least 1 series, got {max_series!r}")
    values: dict[str, Any] = {}
    reasons: dict[str, str] = {}
    lengths = long.groupby("unique_id", sort=True).size()
    if lengths.empty:
        reasons["series_length"] = "no rows"
        return values, reasons
    values["min_series_length"] = int(lengths.min())
    values["median_series_length"] = float(lengths.median())
    values["max_series_length"] = int(lengths.max())
    reasons["series_length"] = (
        f"{len(lengths)} series of {lengths.min()} to {lengths.max()} values"
        f" (median {lengths.median():g})"
    )
    ids = lengths.index.to_numpy()
    picked = ids[np.unique(np.linspace(0, len(ids) - 1, min(len(ids), max_series)).astype(int))]
    sample = long[long["unique_id"].isin(picked)]
    sample = sample.assign(ds=_as_time(sample["ds"]))
    try:
        sample = sample.sort_values(["unique_id", "ds"], kind="stable")
    except TypeError:  # mixed types in ds: keep the order given, as from_long would complain
        sample = sample.sort_values("unique_id", kind="stable")
    scope = f"over {len(picked)} of {len(ids)} series" if len(picked) < len(ids) else ""
    groups = [group for _, group in sample.groupby("unique_id", sort=False)]
    longest = max(groups, key=len)
    freq, step, reasons["freq"] = _frequency(longest["ds"])
    values["freq"] = freq
    series = []
    expected = observed = 0
    for group in groups:
        y = pd.to_numeric(group["y"], errors="coerce").to_numpy(np.float64)
        finite = np.isfinite(y)
        observed += int(finite.sum())
        expected += max(len(y), _expected_steps(group["ds"], freq, step))
        if finite.sum() >= 2:
            # Gaps inside a series are bridged linearly so that lags keep their meaning.
            series.append(pd.Series(y).interpolate(limit_direction="both").to_numpy())
    values["missing_ratio"] = 1.0 - observed / expected if expected else 0.0
    reasons["missing_ratio"] = (
        f"{expected - observed} of {expected} time steps have no value"
        f" (missing y or gaps in ds){_scoped(scope)}"
    )
    if not series:
        reasons["season_length"] = "no series has two numeric values"
        return values, reasons
    season, acf_value, reasons["season_length"] = _seasonality(series, freq, scope)
    values["season_length"], values["seasonal_acf"] = season, acf_value
    values["trend_strength"], reasons["trend_strength"] = _median_trend_strength(
        series, season, scope
    )
    values.update(_intermittency(series, scope, reasons))
    return values, reasons


def _scoped(scope: str) -> str:
    return f", {scope}" if scope else ""


def _as_time(stamps: pd.Series) -> pd.Series:
    """Dates as datetimes (text sorts "1990/1/10" before "1990/1/2"); numbers and what does
    not parse as dates stay as they are."""
    if pd.api.types.is_numeric_dtype(stamps) or pd.api.types.is_datetime64_any_dtype(stamps):
        return stamps
    try:
        return pd.to_datetime(stamps)
    except (ValueError, TypeError):
        return stamps


def _frequency(stamps: pd.Series) -> tuple[str | None, Any, str]:
    """``(pandas frequency or None, step, reason)`` of one series' sorted time stamps."""
    if pd.api.types.is_numeric_dtype(stamps):
        steps = np.diff(stamps.to_numpy())
        steps = steps[steps > 0]
        step = _commonest(steps) if len(steps) else 1
        return None, step, f"'ds' counts integer steps (every {step}): no calendar frequency"
    try:
        times = pd.DatetimeIndex(pd.to_datetime(stamps))
    except (ValueError, TypeError):
        return None, None, "'ds' holds neither dates nor numbers: the rows are taken in order"
    if len(times) < 3:
        return None, None, f"{len(times)} time stamps are too few to tell a frequency"
    try:
        inferred = pd.DatetimeIndex(times, freq="infer").freqstr
    except ValueError:
        inferred = None
    if inferred:
        return inferred, inferred, f"'ds' steps regularly by {inferred!r} (inferred by pandas)"
    # As timedelta64, not integers: the unit of datetimes (ns, us, s) depends on their source.
    steps = np.diff(times.to_numpy())
    steps = steps[steps > np.timedelta64(0)]
    if not len(steps):
        return None, None, "'ds' never advances: no frequency"
    distinct, counts = np.unique(steps, return_counts=True)
    step = pd.Timedelta(distinct[np.argmax(counts)])
    freq = pd.tseries.frequencies.to_offset(step).freqstr
    return freq, freq, f"'ds' has gaps or uneven steps; the commonest step is {freq!r}"


def _commonest(values: np.ndarray) -> Any:
    distinct, counts = np.unique(values, return_counts=True)
    return distinct[np.argmax(counts)].item()


def _expected_steps(stamps: pd.Series, freq: str | None, step: Any) -> int:
    """How many steps lie from the first to the last stamp, gaps included."""
    if step is None or len(stamps) < 2:
        return len(stamps)
    first, last = stamps.iloc[0], stamps.iloc[-1]
    if freq is None:
        return int((last - first) // step) + 1
    try:
        return len(pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq=freq))
    except (ValueError, TypeError):
        return len(stamps)


def season_candidates(freq: str | None) -> tuple[int, ...]:
    """Calendar periods worth testing for data of frequency ``freq``.

    Fixed-length steps get the hour, day, week and year they divide (hourly: 24, 168, 8760;
    15 minutes: 4, 96, 672...); months get 12, quarters 4, weeks 52, business days 5. Without
    a frequency, :data:`GENERIC_SEASONS`.
    """
    if freq is None:
        return GENERIC_SEASONS
    offset = pd.tseries.frequencies.to_offset(freq)
    try:
        step_ns = offset.nanos
    except ValueError:  # a calendar frequency (months, weeks...) has no fixed length
        base = offset.name.split("-")[0]
        multiple = max(1, abs(int(offset.n)))
        periods = CALENDAR_SEASONS.get(base, ())
        return tuple(p // multiple for p in periods if p % multiple == 0 and p // multiple > 1)
    hour = 3_600 * 10**9
    spans = [hour, 24 * hour, 7 * 24 * hour, 365 * 24 * hour]
    return tuple(span // step_ns for span in spans if span % step_ns == 0 and span > step_ns)


def autocorrelation(values: np.ndarray, max_lag: int) -> np.ndarray:
    """Sample autocorrelation :math:`r_0 \\dots r_{max\\_lag}` (the biased estimator of Box &
    Jenkins, as ``statsmodels.tsa.stattools.acf``), via the FFT in O(n log n).

    >>> autocorrelation(np.array([1.0, -1.0, 1.0, -1.0]), 2).round(2).tolist()
    [1.0, -0.75, 0.5]
    """
    centred = np.asarray(values, dtype=np.float64) - np.mean(values)
    n = len(centred)
    # Zero-padding to 2n makes the FFT's circular correlation a linear one.
    spectrum = np.fft.rfft(centred, 2 * n)
    covariance = np.fft.irfft(spectrum * np.conj(spectrum), 2 * n)[: max_lag + 1]
    if covariance[0] <= 0:  # a constant series correlates with nothing
        return np.zeros(max_lag + 1)
    return covariance / covariance[0]


def _seasonality(series: list[np.ndarray], freq: str | None, scope: str) -> tuple[int, float, str]:
    """``(season_length, its ACF, reason)``; ``season_length`` 1 when no period stands out.

    Each calendar lag m is tested on the series with their trend removed by the centred
    moving average over m steps (as in :func:`trend_strength`): a trend or a slow wander makes
    every lag correlate and would swamp the seasonal peak, while an average over exactly one
    period leaves the period's pattern in the residual. The residuals' ACF, averaged over the
    series, counts when it is a local peak at m and above the white-noise bound
    :math:`1.96/\\sqrt{n}` (Box & Jenkins; n = median length, conservative for a mean over
    several series); the highest such lag wins.
    """
    lengths = np.array([len(values) for values in series])
    bound = 1.96 / math.sqrt(float(np.median(lengths)))
    tested: dict[int, np.ndarray] = {}  # lag -> mean ACF at lag - 1, lag, lag + 1
    for lag in season_candidates(freq):
        weights = _moving_average_weights(lag)
        acfs = [
            autocorrelation(_detrend(values, weights), lag + 1)[lag - 1 :]
            # Two full periods beyond the window, so that the lag sees repeated cycles.
            for values in series
            if len(values) >= 2 * lag + len(weights)
        ]
        if acfs:
            tested[lag] = np.mean(acfs, axis=0)
    if not tested:
        tried = ", ".join(map(str, season_candidates(freq))) or "none for this frequency"
        return 1, 0.0, f"series too short for the calendar periods ({tried}): no seasonality"
    peaks = [lag for lag, acf in tested.items() if acf[1] > bound and acf[1] >= acf.max()]
    shown = ", ".join(f"{lag}: {acf[1]:.2f}" for lag, acf in tested.items())
    if not peaks:
        reason = (
            f"no calendar lag has an autocorrelation peak above {bound:.2f} ({shown}):"
            f" no seasonality{_scoped(scope)}"
        )
        return 1, 0.0, reason
    season = max(peaks, key=lambda lag: tested[lag][1])
    reason = (
        f"autocorrelation peaks at lag {season} ({tested[season][1]:.2f} > bound {bound:.2f};"
        f" lags tried {shown}; trend removed by a moving average){_scoped(scope)}"
    )
    return season, float(tested[season][1]), reason


def _moving_average_weights(period: int) -> np.ndarray:
    """Weights of the centred moving average over ``period`` steps: the 2×m average for an
    even m (half weight on both ends), so that it stays centred."""
    weights = np.ones(period + 1 - period % 2)
    if period % 2 == 0:
        weights[[0, -1]] = 0.5
    return weights / period


def _detrend(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values`` minus their moving average (the ends the average cannot reach are dropped)."""
    half = len(weights) // 2
    return values[half : len(values) - half] - np.convolve(values, weights, mode="valid")


def trend_strength(values: np.ndarray, season_length: int = 1) -> float | None:
    """Trend strength :math:`F_T = \\max(0, 1 - \\mathrm{Var}(R) / \\mathrm{Var}(T + R))` of one
    series (Wang, Smith & Hyndman 2006; Hyndman & Athanasopoulos, FPP3 §4.3).

    FPP3 takes T and R from an STL decomposition; a classical moving-average decomposition is
    used here (no loess to fit, same measure up to smoothing): T is the centred moving average
    over one season (the 2×m average for an even m), S the mean detrended value at each phase,
    R = y − T − S. Without a season, T averages an odd window of about a tenth of the series
    (5 to 51 steps), long enough to average the noise out, short enough to follow a changing
    level; on white noise this gives F_T ≈ 1/window, near 0. ``None`` when the series is
    shorter than two windows.
    """
    values = np.asarray(values, dtype=np.float64)
    if season_length > 1:
        weights = _moving_average_weights(season_length)
    else:
        width = max(5, min(51, len(values) // 10)) | 1
        weights = np.full(width, 1.0 / width)
    if len(values) < 2 * len(weights):
        return None
    half = len(weights) // 2
    detrended = _detrend(values, weights)
    trend = values[half : len(values) - half] - detrended
    if season_length > 1:
        phase = np.arange(half, len(values) - half) % season_length
        seasonal = np.bincount(phase, detrended, season_length) / np.maximum(
            np.bincount(phase, minlength=season_length), 1
        )
        remainder = detrended - (seasonal - seasonal.mean())[phase]
    else:
        remainder = detrended
    total = float(np.var(trend + remainder))
    if total <= 0.0:
        return 0.0
    return max(0.0, 1.0 - float(np.var(remainder)) / total)


def _median_trend_strength(
    series: list[np.ndarray], season: int, scope: str
) -> tuple[float | None, str]:
    strengths = [s for s in (trend_strength(values, season) for values in series) if s is not None]
    if not strengths:
        return None, "series too short for a moving-average decomposition"
    strength = float(np.median(strengths))
    verdict = "strong" if strength >= 0.6 else "weak" if strength < 0.3 else "moderate"
    return strength, (
        f"{verdict} trend: F_T = 1 - Var(remainder)/Var(trend + remainder) = {strength:.2f}"
        f" (median; moving-average decomposition{', season ' + str(season) if season > 1 else ''}"
        f", Wang, Smith & Hyndman 2006){_scoped(scope)}"
    )


def _intermittency(
    series: list[np.ndarray], scope: str, reasons: dict[str, str]
) -> dict[str, float | None]:
    """Share of zeros, median ADI and CV² of the non-zero values (demand series only)."""
    stacked = np.concatenate(series)
    zero_ratio = float(np.mean(stacked == 0.0))
    values: dict[str, float | None] = {"zero_ratio": zero_ratio, "adi": None, "demand_cv2": None}
    if np.any(stacked < 0):
        reasons["zero_ratio"] = (
            f"{zero_ratio:.0%} of values are zero; values go below zero, so not demand"
            f" (counts): no ADI{_scoped(scope)}"
        )
        return values
    intervals, variations = [], []
    for demand in series:
        sizes = demand[demand != 0.0]
        if len(sizes):
            intervals.append(len(demand) / len(sizes))
        if len(sizes) >= 2 and sizes.mean() > 0:
            variations.append(float(np.var(sizes) / sizes.mean() ** 2))
    adi = float(np.median(intervals)) if intervals else None
    cv2 = float(np.median(variations)) if variations else None
    values.update(adi=adi, demand_cv2=cv2)
    pattern = ""
    if adi is not None and cv2 is not None:
        pattern = {
            (True, True): "lumpy",
            (True, False): "intermittent",
            (False, True): "erratic",
            (False, False): "smooth",
        }[(adi >= ADI_INTERMITTENT, cv2 >= CV2_ERRATIC)]
        pattern = f": {pattern} demand (Syntetos & Boylan 2005: ADI >= 1.32 is intermittent)"
    counts = bool(np.all(stacked == np.round(stacked)))
    reasons["zero_ratio"] = (
        f"{zero_ratio:.0%} of values are zero{'; values are counts' if counts else ''}"
        f"{_scoped(scope)}"
    )
    if adi is not None:
        cv2_text = f", CV² {cv2:.2f}" if cv2 is not None else ""
        reasons["adi"] = f"a non-zero value every {adi:.2f} steps (median ADI){cv2_text}{pattern}"
    return values


# -- graphs --------------------------------------------------------------------------------


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


def describe_graph(
    edge_index: Any, labels: Any, num_nodes: int, hidden: Any = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Sizes, density, edge homophily and class balance of a graph, with reasons.

    Args:
        edge_index: ``(2, num_edges)`` node indices (tensor or array); an undirected edge is
            listed in both directions, as in :class:`zen.graph.Graph`.
        labels: ``(num_nodes,)`` class per node, negative for unlabelled (``None``: no labels).
        num_nodes: number of nodes.
        hidden: boolean mask of nodes whose labels must not be looked at (the test nodes):
            choosing a model on test labels would leak them into the choice.

    Returns:
        ``(values, reasons)`` with :class:`TaskProfile` field names. Edge homophily is
        :math:`|\\{(u, v) \\in E : y_u = y_v\\}| / |E|` (Zhu et al. 2020) over edges whose ends
        are labelled and visible; self-loops are left out because they match trivially (so it
        equals PyG's ``homophily(method="edge")`` on graphs without self-loops).
    """
    edges = np.asarray(edge_index).reshape(2, -1)
    source, target = edges[0], edges[1]
    proper = source != target
    n_proper = int(proper.sum())
    pairs = num_nodes * (num_nodes - 1)
    values: dict[str, Any] = {
        "num_nodes": int(num_nodes),
        "num_edges": int(edges.shape[1]),
        "graph_density": n_proper / pairs if pairs else 0.0,
        "mean_degree": n_proper / num_nodes if num_nodes else 0.0,
    }
    reasons = {
        "num_edges": f"{edges.shape[1]} directed edges ({edges.shape[1] - n_proper} self-loops)",
        "graph_density": f"{n_proper} of {pairs} possible edges between distinct nodes;"
        f" {values['mean_degree']:.1f} neighbours per node on average",
    }
    if labels is None:
        return values, reasons
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != num_nodes:
        reasons["homophily"] = f"labels have shape {y.shape}, not one class per node: not computed"
        return values, reasons
    visible = y >= 0
    note = ""
    if hidden is not None:
        visible &= ~np.asarray(hidden, dtype=bool)
        note = "; test nodes left out"
    counts = pd.Series(y[visible]).value_counts()
    if len(counts) >= 2:
        values["class_balance"] = _class_balance(counts, reasons)
        reasons["class_balance"] = reasons["class_balance"].replace("rows", "nodes") + note
    known = proper & visible[source] & visible[target]
    if known.sum() < MIN_LABELLED_EDGES:
        reasons["homophily"] = (
            f"only {int(known.sum())} edges join two labelled nodes{note}: too few to measure"
        )
        return values, reasons
    homophily = float(np.mean(y[source[known]] == y[target[known]]))
    values["homophily"] = homophily
    verdict = (
        "homophilous: neighbours tend to share a class"
        if homophily >= 0.5
        else "heterophilous: neighbours mostly differ"
    )
    reasons["homophily"] = (
        f"{homophily:.0%} of {int(known.sum())} labelled edges join nodes of the same class"
        f" (edge homophily, Zhu et al. 2020): {verdict}{note}"
    )
    return values, reasons


# -- any data ------------------------------------------------------------------------------


def profile_data(
    data: str | Path | pd.DataFrame | None,
    target: str | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
    horizon: int | None = None,
    task: str = "auto",
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
        return profile_series(frame, horizon, target)
    if target is None:
        raise ConfigError("target: name the column to predict (--target COLUMN)")
    return profile_table(frame, target, task)
