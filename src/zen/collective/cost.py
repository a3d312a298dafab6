"""Cost model: how long a step will run and how much memory it will take, learned from History.

Every candidate run zen trains is recorded in :class:`~zen.orchestrator.history.History` with its
model, the task profile (rows, features, series, horizon, nodes, edges, ...), its hyperparameters
and how long it took. :class:`CostModel` learns, per model family, a power law of the run time
(and of the peak memory, when recorded) in the size of the task:

.. math:: \\log t = b_0 + \\sum_j w_j \\log(1 + x_j)

where :math:`x_j` are the numeric size features present in that family's runs (profile fields and
the training-length hyperparameters ``steps``/``max_steps``/``epochs``/``max_epochs``). The
weights are a ridge least-squares fit on standardised features (the ridge term keeps a family
with few runs, or collinear features, from extrapolating wildly), and predictions are clipped to
a factor :data:`EXTRAPOLATION_FACTOR` beyond the run times seen.

A model with fewer than :data:`MIN_RUNS_FOR_REGRESSION` runs borrows the slopes of its task
(``profile["family"]``: all graph models together, all forecasters together), fitted on every
model of that task, plus its own offset: the mean of its runs' residuals, shrunk towards zero by
``n / (n + 1)`` so that one run moves it only half way. Without such a task regression it predicts
its median. A model never seen predicts from its task's regression or median, else the median of
all runs, else :data:`PRIOR_SECONDS`; those predictions say ``known=False``.

>>> model = CostModel().fit([])
>>> model.predict("NHITS", {"n_rows": 1000})
Cost(seconds=60.0, peak_mib=512.0, known=False)
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from zen.errors import ConfigError, DataError

if TYPE_CHECKING:
    from zen.orchestrator.history import History, RunRecord

logger = logging.getLogger(__name__)

#: Profile fields and hyperparameters that measure how much work a run is.
SIZE_FEATURES = (
    "n_rows",
    "n_features",
    "n_series",
    "horizon",
    "max_series_length",
    "median_series_length",
    "n_classes",
    "num_nodes",
    "num_edges",
    "num_node_features",
    "steps",
    "max_steps",
    "epochs",
    "max_epochs",
)
#: Run time and peak memory predicted when nothing at all is known.
PRIOR_SECONDS = 60.0
PRIOR_PEAK_MIB = 512.0
#: A family needs this many runs before a regression replaces its median.
MIN_RUNS_FOR_REGRESSION = 5
#: Predictions stay within this factor of the smallest and largest value the family has seen.
EXTRAPOLATION_FACTOR = 10.0
#: Ridge strength on standardised features, per run.
RIDGE = 1e-2


@dataclass(frozen=True)
class Cost:
    """A predicted cost of one step.

    Args:
        seconds: predicted run time in seconds.
        peak_mib: predicted peak memory in MiB.
        known: True when a model of this family learned from its own past runs.
    """

    seconds: float
    peak_mib: float
    known: bool


@dataclass(frozen=True)
class _LogLinear:
    """``log y = intercept + weights · (log1p(x) - mean) / scale`` over ``features``."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    intercept: float
    weights: np.ndarray
    low: float  # clip range of log y
    high: float

    def predict_log(self, values: Mapping[str, float]) -> float:
        x = np.array([_log_feature(values.get(name)) for name in self.features])
        # A feature the caller does not know counts as the family's typical value.
        x = np.where(np.isnan(x), self.mean, x)
        value = self.intercept + float(((x - self.mean) / self.scale) @ self.weights)
        return min(max(value, self.low), self.high)


class CostModel:
    """Predicts each step's run time and peak memory from the runs History recorded.

    Build it with :meth:`from_history` or :meth:`fit` (scikit-learn style: ``fit`` learns and
    returns ``self``); :meth:`predict` never changes it.
    """

    def __init__(self) -> None:
        self.seconds_: dict[str, _LogLinear] = {}
        self.peak_mib_: dict[str, _LogLinear] = {}
        self.family_seconds_: dict[str, float] = {}  # model -> median run time
        self.family_peak_mib_: dict[str, float] = {}
        self.task_seconds_: dict[str, float] = {}  # profile family -> median run time
        self.task_peak_mib_: dict[str, float] = {}
        # Pooled over the models of one task, with each model's shrunk log offset.
        self.task_regression_seconds_: dict[str, _LogLinear] = {}
        self.task_regression_peak_mib_: dict[str, _LogLinear] = {}
        self.offset_seconds_: dict[tuple[str, str], float] = {}  # (task, model) -> log offset
        self.offset_peak_mib_: dict[tuple[str, str], float] = {}
        self.global_seconds_: float | None = None
        self.global_peak_mib_: float | None = None
        self.n_runs_ = 0

    @classmethod
    def from_history(cls, history: History) -> CostModel:
        """A model fitted on every finished run of ``history``."""
        return cls().fit(history.runs(status="done"))

    def fit(self, records: Iterable[RunRecord]) -> CostModel:
        """Learn from finished runs; runs without a duration (or not ``done``) are skipped.

        Args:
            records: History rows (:class:`~zen.orchestrator.history.RunRecord`): ``model``,
                ``profile``, ``hyperparameters``, ``duration_s``, ``metrics`` and, when recorded,
                ``peak_mib``.

        Returns:
            self.
        """
        self.__init__()  # type: ignore[misc]  # refitting starts from nothing
        by_model: dict[str, list[tuple[dict[str, float], float, float | None]]] = defaultdict(list)
        by_task: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
        task_rows: dict[str, list[tuple[str, dict[str, float], float, float | None]]] = defaultdict(
            list
        )
        for record in records:
            if getattr(record, "status", "done") != "done":
                continue
            seconds = _run_seconds(record)
            if seconds is None:
                continue
            peak = _peak_mib(record)
            features = _features(record.profile or {}, getattr(record, "hyperparameters", None))
            by_model[record.model].append((features, seconds, peak))
            task = str((record.profile or {}).get("family") or "")
            by_task[task].append((seconds, peak))
            task_rows[task].append((record.model, features, seconds, peak))
            self.n_runs_ += 1
        for model, rows in by_model.items():
            self.family_seconds_[model] = _median([s for _, s, _ in rows])
            peaks = [p for _, _, p in rows if p is not None]
            if peaks:
                self.family_peak_mib_[model] = _median(peaks)
            regression = _fit_log_linear([f for f, _, _ in rows], [s for _, s, _ in rows])
            if regression is not None:
                self.seconds_[model] = regression
            with_peak = [(f, p) for f, _, p in rows if p is not None]
            regression = _fit_log_linear([f for f, _ in with_peak], [p for _, p in with_peak])
            if regression is not None:
                self.peak_mib_[model] = regression
        for task, values in by_task.items():
            if task:
                self.task_seconds_[task] = _median([s for s, _ in values])
                task_peaks = [p for _, p in values if p is not None]
                if task_peaks:
                    self.task_peak_mib_[task] = _median(task_peaks)
        for task, pooled in task_rows.items():
            if task:
                self._fit_task(task, pooled)
        all_seconds = [s for rows in by_model.values() for _, s, _ in rows]
        all_peaks = [p for rows in by_model.values() for _, _, p in rows if p is not None]
        self.global_seconds_ = _median(all_seconds) if all_seconds else None
        self.global_peak_mib_ = _median(all_peaks) if all_peaks else None
        return self

    def _fit_task(
        self, task: str, rows: list[tuple[str, dict[str, float], float, float | None]]
    ) -> None:
        """The task's pooled regressions and each model's shrunk offset from them."""
        for target, regressions, offsets in (
            (2, self.task_regression_seconds_, self.offset_seconds_),
            (3, self.task_regression_peak_mib_, self.offset_peak_mib_),
        ):
            usable = [row for row in rows if row[target] is not None]
            regression = _fit_log_linear([r[1] for r in usable], [r[target] for r in usable])  # type: ignore[misc]
            if regression is None:
                continue
            regressions[task] = regression
            residuals: dict[str, list[float]] = defaultdict(list)
            for row in usable:
                residuals[row[0]].append(
                    math.log(row[target]) - regression.predict_log(row[1])  # type: ignore[arg-type]
                )
            for model, values in residuals.items():
                offsets[task, model] = sum(values) / (len(values) + 1)

    def predict(self, model: str, profile: Mapping[str, Any]) -> Cost:
        """Predict the run time and peak memory of training ``model`` on a task like ``profile``.

        Args:
            model: the model family (as recorded in History, e.g. ``"NHITS"``).
            profile: the task profile (``TaskProfile.to_json()`` or a dict with some of
                :data:`SIZE_FEATURES`, plus ``steps``/``epochs`` when known).

        Raises:
            ConfigError: ``model`` is not a non-empty string or ``profile`` is not a mapping.
            DataError: a size feature in ``profile`` is negative or not a number.
        """
        if not isinstance(model, str) or not model:
            raise ConfigError(f"model: expected a model family name, got {model!r}")
        if not isinstance(profile, Mapping):
            raise ConfigError(
                f"profile: expected a mapping of task features (TaskProfile.to_json()), "
                f"got {type(profile).__name__}"
            )
        features = _features(profile, None, strict=True)
        known = model in self.family_seconds_
        seconds = self._predict_one(
            model,
            features,
            self.seconds_,
            self.task_regression_seconds_,
            self.offset_seconds_,
            self.family_seconds_,
            self.task_seconds_,
            self.global_seconds_,
            PRIOR_SECONDS,
            str(profile.get("family") or ""),
        )
        peak = self._predict_one(
            model,
            features,
            self.peak_mib_,
            self.task_regression_peak_mib_,
            self.offset_peak_mib_,
            self.family_peak_mib_,
            self.task_peak_mib_,
            self.global_peak_mib_,
            PRIOR_PEAK_MIB,
            str(profile.get("family") or ""),
        )
        return Cost(seconds=seconds, peak_mib=peak, known=known)

    @staticmethod
    def _predict_one(
        model: str,
        features: Mapping[str, float],
        regressions: Mapping[str, _LogLinear],
        task_regressions: Mapping[str, _LogLinear],
        offsets: Mapping[tuple[str, str], float],
        family_medians: Mapping[str, float],
        task_medians: Mapping[str, float],
        global_median: float | None,
        prior: float,
        task: str,
    ) -> float:
        if model in regressions:
            return math.exp(regressions[model].predict_log(features))
        if task in task_regressions and ((task, model) in offsets or model not in family_medians):
            log_value = task_regressions[task].predict_log(features) + offsets.get((task, model), 0)
            return math.exp(log_value)
        if model in family_medians:
            return family_medians[model]
        if task in task_medians:
            return task_medians[task]
        return global_median if global_median is not None else prior

    def __repr__(self) -> str:
        return (
            f"CostModel(runs={self.n_runs_}, families={len(self.family_seconds_)}, "
            f"regressions={len(self.seconds_)})"
        )


def _run_seconds(record: Any) -> float | None:
    # The run's wall time is what occupies a node; a fit time alone is the fallback.
    for value in (getattr(record, "duration_s", None), (record.metrics or {}).get("fit_s")):
        if isinstance(value, int | float) and math.isfinite(value) and value > 0:
            return float(value)
    return None


def _peak_mib(record: Any) -> float | None:
    metrics = record.metrics or {}
    for value in (
        getattr(record, "peak_mib", None),
        metrics.get("peak_mib"),
        metrics.get("peak_rss_mib"),
        metrics.get("peak_rss_mb"),
    ):
        if isinstance(value, int | float) and math.isfinite(value) and value > 0:
            return float(value)
    return None


def _features(
    profile: Mapping[str, Any], hyperparameters: Mapping[str, Any] | None, strict: bool = False
) -> dict[str, float]:
    """The numeric size features of a run: profile fields, then training-length settings."""
    sources = [profile] if hyperparameters is None else [profile, hyperparameters]
    features: dict[str, float] = {}
    for source in sources:
        for name in SIZE_FEATURES:
            value = source.get(name)
            if value is None or name in features:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                if strict:
                    raise DataError(
                        f"profile[{name!r}]: expected a number >= 0 or None, got {value!r}"
                    )
                continue
            if not math.isfinite(value) or value < 0:
                if strict:
                    raise DataError(f"profile[{name!r}]: expected a number >= 0, got {value!r}")
                continue
            features[name] = float(value)
    return features


def _log_feature(value: float | None) -> float:
    return math.log1p(value) if value is not None else math.nan


def _median(values: list[float]) -> float:
    return float(np.median(values))


def _fit_log_linear(rows: list[dict[str, float]], targets: list[float]) -> _LogLinear | None:
    """Ridge least squares of log target on log1p features; None when too few runs."""
    if len(rows) < MIN_RUNS_FOR_REGRESSION:
        return None
    y = np.log(np.asarray(targets, dtype=float))
    # Features most runs of the family report, and that vary: a constant says nothing.
    names = sorted({name for row in rows for name in row})
    columns = []
    kept = []
    for name in names:
        column = np.array([_log_feature(row.get(name)) for row in rows])
        present = ~np.isnan(column)
        if present.mean() < 0.8:
            continue
        column = np.where(present, column, np.nanmean(column))
        if np.ptp(column) < 1e-9:
            continue
        columns.append(column)
        kept.append(name)
    low = float(y.min() - math.log(EXTRAPOLATION_FACTOR))
    high = float(y.max() + math.log(EXTRAPOLATION_FACTOR))
    if not kept:
        return _LogLinear((), np.zeros(0), np.ones(0), float(np.median(y)), np.zeros(0), low, high)
    x = np.stack(columns, axis=1)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    z = (x - mean) / scale
    intercept = float(y.mean())  # standardised features: the intercept is the mean, unpenalised
    gram = z.T @ z + RIDGE * len(rows) * np.eye(len(kept))
    weights = np.linalg.solve(gram, z.T @ (y - intercept))
    return _LogLinear(tuple(kept), mean, scale, intercept, weights, low, high)
