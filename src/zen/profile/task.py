"""What a task is, and why: :class:`TaskProfile`, the one record every part of zen decides on.

A profile says which kind of learning problem some data pose (classification, regression,
forecasting, node classification), with the statistics the router decides on and the reason
for each finding, which ``zen fit --explain`` prints (:meth:`TaskProfile.explain`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, NamedTuple

from zen.errors import DataError

TASK_KINDS = ("classification", "regression")
#: Column names read as the time axis of a wide table, in order of preference.
TIME_COLUMNS = ("ds", "date", "datetime", "timestamp", "time")
LONG_COLUMNS = ("unique_id", "ds", "y")

#: An integer-valued target with at most this many distinct values is read as class labels...
MAX_CLASSES = 20
#: ...provided each class has this many rows on average (otherwise it looks like a count).
MIN_ROWS_PER_CLASS = 5

#: The task families the router has candidates for, and the family of each ``kind``.
FAMILIES = (
    "time series",
    "graph",
    "tabular regression",
    "tabular classification",
    "sequence classification",
    "image classification",
)
_FAMILY_BY_KIND = {
    "forecasting": "time series",
    "node classification": "graph",
    "regression": "tabular regression",
    "classification": "tabular classification",
    "sequence classification": "sequence classification",
    "image classification": "image classification",
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
        kind: ``"classification"``, ``"regression"``, ``"forecasting"``,
            ``"node classification"`` or ``"sequence classification"``.
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
        min_series_length, median_series_length, max_series_length: values per series (labelled
            sequences: time steps per sequence).
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
            "is_classification": float(
                self.family
                in (
                    "tabular classification",
                    "graph",
                    "sequence classification",
                    "image classification",
                )
            ),
            "is_sequence": float(self.family == "sequence classification"),
            "is_image": float(self.family == "image classification"),
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
