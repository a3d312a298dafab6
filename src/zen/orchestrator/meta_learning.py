"""Learning from History: how models did on past tasks, as the router's training data.

A *relative score* is a candidate's loss divided by the best loss any candidate reached on the
same task (:func:`relative_scores`): 1.0 is the winner, 1.2 is 20 % worse. It puts tasks with
different metrics and scales on one axis, and ``relative score - 1`` of the router's first choice
is its regret. :func:`observations_from_runs` turns finished History runs into such scores,
tagged with the task profile's features; :class:`NeighbourScores` predicts a model's relative
score on a new task from them.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zen.errors import ConfigError, DataError, expect_one_of
from zen.orchestrator.history import RunRecord
from zen.profile import FAMILIES, TaskProfile, family_of

#: Relative scores are capped here: one disastrous run must not dominate an average.
MAX_RELATIVE_SCORE = 10.0

#: Metrics the router knows, and whether lower is better. Higher-is-better scores become losses
#: as ``1 - score`` (accuracy 0.8 → error 0.2), so that every relative score is a loss ratio.
METRIC_LOWER_IS_BETTER = {
    "mase": True, "smape": True, "mape": True, "mae": True, "rmse": True, "mse": True,
    "crps": True, "loss": True, "val_loss": True, "regret": True, "relative_score": True,
    "accuracy": False, "val_accuracy": False, "test_accuracy": False, "macro_f1": False,
    "f1": False, "r2": False,
}  # fmt: skip
#: The metrics a task of each family is ranked on, in order of preference (the first one that
#: at least two runs of the task report is used). Validation metrics first: a router taught on
#: test scores would leak them into model choice.
FAMILY_METRICS = {
    "time series": ("mase", "smape", "mae"),
    "graph": ("val_accuracy", "accuracy", "test_accuracy"),
    "tabular regression": ("rmse", "mae", "r2"),
    "tabular classification": ("accuracy", "macro_f1"),
    "sequence classification": ("val_accuracy", "accuracy", "test_accuracy"),
    "image classification": ("val_accuracy", "accuracy", "test_accuracy"),
}


@dataclass(frozen=True)
class Observation:
    """How one model did on one past task: the router's training example."""

    family: str
    features: dict[str, float]
    model: str
    relative_score: float
    duration_s: float | None
    run_id: int
    prior: float = 1.0
    task: str = ""


def model_key(name: str) -> str:
    """The name runs and candidates are matched by: ``"N-HiTS"``, ``"nhits"`` and ``"NHITS"``
    are one model."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def relative_scores(values: Mapping[str, float], metric: str) -> dict[str, float]:
    """Each model's loss divided by the best loss of the task (1.0 = the best).

    Higher-is-better metrics become losses as ``1 - value``. The denominator is floored at a
    thousandth of the largest loss, so that a perfect score does not make every other model
    infinitely worse; results are capped at :data:`MAX_RELATIVE_SCORE`.

    >>> relative_scores({"GCN": 0.8, "GAT": 0.75}, "val_accuracy")
    {'GCN': 1.0, 'GAT': 1.25}
    """
    if metric not in METRIC_LOWER_IS_BETTER:
        raise expect_one_of("metric", metric, sorted(METRIC_LOWER_IS_BETTER))
    lower = METRIC_LOWER_IS_BETTER[metric]
    losses = {name: float(v) if lower else 1.0 - float(v) for name, v in values.items()}
    floor = 1e-3 * max(max(losses.values()), 0.0) + 1e-12
    best = max(min(losses.values()), floor)
    return {
        name: round(min(MAX_RELATIVE_SCORE, max(loss, floor) / best), 12)
        for name, loss in losses.items()
    }


def observations_from_runs(
    runs: Iterable[RunRecord], metric: str | None = None
) -> list[Observation]:
    """Turn finished runs into observations: runs of one task are grouped, scored relative to
    the task's best, and tagged with the task profile's features.

    A task is the runs sharing a parent (a workflow's candidates) or, without a parent, the
    same data and profile. Tasks with fewer than two models scoring the metric teach nothing
    about *relative* scores and are skipped, as are runs without a usable profile. Repeated
    runs of one model on a task are averaged.

    Args:
        metric: the metric to rank by; default the first of :data:`FAMILY_METRICS` that two
            runs of the task report.
    """
    tasks: dict[Any, list[tuple[RunRecord, TaskProfile]]] = defaultdict(list)
    for run in runs:
        if run.status != "done" or not run.profile:
            continue
        try:
            profile = TaskProfile.from_json(run.profile)
        except (DataError, TypeError):
            continue  # an old or foreign profile: nothing to compare it with
        key = (
            ("parent", run.parent_id)
            if run.parent_id is not None
            else ("data", run.data, repr(sorted(run.profile.items())))
        )
        tasks[key].append((run, profile))
    observations = []
    for task_key, members in tasks.items():
        profile = members[0][1]
        family = profile.family if profile.family in FAMILIES else family_of(members[0][0].kind)
        chosen = metric or _task_metric(family, [run for run, _ in members])
        if chosen is None:
            continue
        outcomes: dict[str, list[RunRecord]] = defaultdict(list)
        for run, _ in members:
            value = run.metrics.get(chosen)
            if isinstance(value, int | float) and math.isfinite(value):
                outcomes[model_key(run.model)].append(run)
        if len(outcomes) < 2:
            continue
        means = {
            name: float(np.mean([run.metrics[chosen] for run in group]))
            for name, group in outcomes.items()
        }
        features = profile.features()
        priors = _priors(profile)
        for name, relative in relative_scores(means, chosen).items():
            durations = [r.duration_s for r in outcomes[name] if r.duration_s is not None]
            observations.append(
                Observation(
                    family=family,
                    features=features,
                    model=name,
                    relative_score=relative,
                    duration_s=float(np.mean(durations)) if durations else None,
                    run_id=outcomes[name][0].id,
                    prior=priors.get(name, 1.0),
                    task=repr(task_key),
                )
            )
    return observations


def _priors(profile: TaskProfile) -> dict[str, float]:
    """The rule prior's expected relative score of each model, by :func:`model_key`."""
    from zen.orchestrator.router_rules import rule_prior

    try:
        return {model_key(prior.name): prior.score for prior in rule_prior(profile)}
    except ConfigError:  # a family without candidates: no prior to learn against
        return {}


def _task_metric(family: str, runs: Sequence[RunRecord]) -> str | None:
    for metric in FAMILY_METRICS.get(family, ()):
        if sum(metric in run.metrics for run in runs) >= 2:
            return metric
    return None


@dataclass(frozen=True)
class Estimate:
    """A candidate's expected relative score after seeing History."""

    mean: float
    sd: float
    n_similar: float
    learned: float | None
    duration_s: float | None
    nearest_run: int | None


class NeighbourScores:
    """Predicts a model's relative score on a task from the scores it reached on similar tasks.

    Kernel-weighted k-nearest neighbours over standardised profile features, one model at a
    time, shrunk towards the rule prior as in a normal model with known noise:

    .. math:: \\mu = \\frac{n_0 \\mu_0 + \\sum_i w_i y_i}{n_0 + \\sum_i w_i}, \\qquad
              \\sigma = \\frac{s}{\\sqrt{n_0 + \\sum_i w_i}}, \\qquad
              w_i = \\exp\\left(-\\tfrac{1}{2} (d_i / h)^2\\right)

    with :math:`\\mu_0` the rule prior worth :math:`n_0` runs, :math:`d_i` the RMS distance in
    standardised features, :math:`h` the bandwidth and :math:`s` the spread of relative scores
    around each model's mean. :math:`\\sum_i w_i` is the "number of similar past runs": the
    uncertainty shrinks as it grows, which is what exploration needs.

    Why not gradient boosting or an MLP: History holds tens of tasks, not thousands. A fitted
    regressor with ~20 features would overfit them and give no per-prediction uncertainty;
    neighbours need no training, know how much evidence lies near a profile, reduce to the
    prior where there is none, and the nearest run can be named in the reason. Meta-learning
    systems warm-start the same way, from the best models of the nearest datasets by
    meta-features (auto-sklearn, Feurer et al. 2015).

    Args:
        k: neighbours per model.
        bandwidth: kernel width :math:`h`, in standard deviations of the features.
        prior_strength: :math:`n_0`, how many runs the rule prior is worth.
        min_spread: floor of :math:`s` (and its value with fewer than 3 observations).
    """

    def __init__(
        self,
        k: int = 10,
        bandwidth: float = 0.5,
        prior_strength: float = 2.0,
        min_spread: float = 0.05,
    ) -> None:
        self.k = k
        self.bandwidth = bandwidth
        self.prior_strength = prior_strength
        self.min_spread = min_spread

    def fit(self, observations: Sequence[Observation]) -> NeighbourScores:
        """Learn from ``observations`` (of one family)."""
        for name, value in (("k", self.k), ("bandwidth", self.bandwidth),
                            ("prior_strength", self.prior_strength)):  # fmt: skip
            if not value > 0:
                raise ConfigError(f"{name}: expected a positive number, got {value!r}")
        self.feature_names_ = sorted(observations[0].features) if observations else []
        matrix = np.array(
            [[o.features[n] for n in self.feature_names_] for o in observations], dtype=np.float64
        ).reshape(len(observations), len(self.feature_names_))
        self.mean_ = matrix.mean(axis=0) if len(matrix) else np.zeros(0)
        # Features are logs and ratios of order 1: a floor of 0.1 on the spread stops a feature
        # that barely varies across History from dominating the distances.
        self.scale_ = np.maximum(matrix.std(axis=0), 0.1) if len(matrix) else np.ones(0)
        self.points_ = (matrix - self.mean_) / self.scale_
        self.models_ = np.array([o.model for o in observations], dtype=object)
        self.scores_ = np.array([o.relative_score for o in observations], dtype=np.float64)
        self.durations_ = np.array(
            [np.nan if o.duration_s is None else o.duration_s for o in observations]
        )
        self.run_ids_ = np.array([o.run_id for o in observations], dtype=np.int64)
        self.spread_ = self._spread()
        return self

    def _spread(self) -> float:
        """Pooled standard deviation of relative scores around each model's own mean."""
        residuals = []
        for model in set(self.models_):
            scores = self.scores_[self.models_ == model]
            residuals.extend(scores - scores.mean())
        if len(residuals) < 3:
            return max(self.min_spread, 0.1)
        return max(self.min_spread, float(np.std(residuals)))

    def predict(self, features: Mapping[str, float], model: str, prior: float) -> Estimate:
        """The estimate for ``model`` on a task with these ``features``, given its ``prior``."""
        mine = self.models_ == model_key(model) if len(self.models_) else np.zeros(0, bool)
        if not np.any(mine):
            return Estimate(prior, self.spread_ / math.sqrt(self.prior_strength), 0.0, None,
                            None, None)  # fmt: skip
        point = (np.array([features[n] for n in self.feature_names_]) - self.mean_) / self.scale_
        distances = np.sqrt(np.mean((self.points_[mine] - point) ** 2, axis=1))
        nearest = np.argsort(distances, kind="stable")[: self.k]
        weights = np.exp(-0.5 * (distances[nearest] / self.bandwidth) ** 2)
        scores = self.scores_[mine][nearest]
        evidence = float(weights.sum())
        total = self.prior_strength + evidence
        learned = float(weights @ scores / evidence) if evidence > 1e-9 else None
        durations = self.durations_[mine][nearest]
        timed = np.isfinite(durations) & (weights > 1e-3)
        duration = (
            float(np.average(durations[timed], weights=weights[timed])) if timed.any() else None
        )
        return Estimate(
            mean=float((self.prior_strength * prior + weights @ scores) / total),
            sd=self.spread_ / math.sqrt(total),
            n_similar=evidence,
            learned=learned,
            duration_s=duration,
            nearest_run=int(self.run_ids_[mine][nearest[0]]),
        )


class BoostedScores:
    """Predicts how far a model's relative score departs from its rule prior, with bagged
    gradient-boosted trees (Friedman 2001) over the profile features and the model's name.

    The target is the log ratio :math:`r = \\log(y / \\mu_0)` of the observed relative score
    :math:`y` to the rule prior :math:`\\mu_0`, so the trees learn where the rules are wrong
    and an empty History gives back the prior. ``n_bags`` ensembles are fitted on bootstrap
    resamples of *tasks* (all models of a task together, as they are not independent); their
    mean :math:`\\bar r` and spread :math:`s_b` give the estimate, shrunk towards the prior
    by the evidence :math:`n` (observations of the model in the family):

    .. math:: \\mu = \\mu_0 \\exp\\left(\\frac{n}{n + n_0} \\bar r\\right), \\qquad
              \\sigma = \\mu \\sqrt{s_b^2 + s^2 / (n_0 + n)}

    with :math:`s` the pooled spread of :math:`r`. scikit-learn's
    ``GradientBoostingRegressor`` does the boosting (shallow trees, subsampling, a small
    learning rate: what small, noisy data need).

    Args:
        n_estimators, learning_rate, max_depth: of each boosted ensemble.
        n_bags: bootstrap ensembles behind the uncertainty.
        prior_strength: :math:`n_0`, how many observations the rule prior is worth.
        min_spread: floor of :math:`s`.
        seed: seeds the bootstrap and the boosting's subsampling.
    """

    def __init__(
        self,
        n_estimators: int = 60,
        learning_rate: float = 0.05,
        max_depth: int = 2,
        n_bags: int = 8,
        prior_strength: float = 2.0,
        min_spread: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.n_bags = n_bags
        self.prior_strength = prior_strength
        self.min_spread = min_spread
        self.seed = seed

    def fit(self, observations: Sequence[Observation]) -> BoostedScores:
        """Learn from ``observations`` (of one family)."""
        if self.n_bags < 1 or self.n_estimators < 1:
            raise ConfigError(
                f"n_bags, n_estimators: expected positive integers, got {self.n_bags!r},"
                f" {self.n_estimators!r}"
            )
        self.models_ = sorted({o.model for o in observations})
        self.counts_ = {m: sum(o.model == m for o in observations) for m in self.models_}
        self.feature_names_ = sorted(observations[0].features) if observations else []
        self.bags_: list[Any] = []
        self.spread_ = max(self.min_spread, 0.1)
        tasks = sorted({o.task for o in observations})
        if len(tasks) < 2:
            return self  # nothing to learn a departure from the prior with
        try:
            from sklearn.ensemble import GradientBoostingRegressor
        except ImportError:
            from zen.errors import BackendUnavailable

            raise BackendUnavailable(
                "learner 'boosting' needs scikit-learn: pip install scikit-learn"
            ) from None
        matrix = np.array([self._row(o.features, o.model) for o in observations])
        target = np.log(
            np.array([o.relative_score for o in observations])
            / np.array([max(o.prior, 1e-9) for o in observations])
        )
        self.spread_ = max(self.min_spread, float(np.std(target))) if len(target) > 2 else 0.1
        by_task = {
            task: [i for i, o in enumerate(observations) if o.task == task] for task in tasks
        }
        rng = np.random.default_rng(self.seed)
        for bag in range(self.n_bags):
            drawn = rng.choice(len(tasks), len(tasks), replace=True)
            rows = [i for t in drawn for i in by_task[tasks[t]]]
            booster = GradientBoostingRegressor(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                max_depth=self.max_depth,
                subsample=0.8 if len(rows) >= 10 else 1.0,
                random_state=self.seed + bag,
            )
            self.bags_.append(booster.fit(matrix[rows], target[rows]))
        return self

    def _row(self, features: Mapping[str, float], model: str) -> list[float]:
        return [float(features[n]) for n in self.feature_names_] + [
            float(model_key(model) == m) for m in self.models_
        ]

    def predict(self, features: Mapping[str, float], model: str, prior: float) -> Estimate:
        """The estimate for ``model`` on a task with these ``features``, given its ``prior``."""
        evidence = float(self.counts_.get(model_key(model), 0)) if self.models_ else 0.0
        if not self.bags_ or evidence == 0:
            return Estimate(prior, self.spread_ / math.sqrt(self.prior_strength) * prior, 0.0,
                            None, None, None)  # fmt: skip
        row = np.array([self._row(features, model)])
        departures = np.array([float(bag.predict(row)[0]) for bag in self.bags_])
        shrink = evidence / (evidence + self.prior_strength)
        mean = prior * math.exp(shrink * float(departures.mean()))
        sd = mean * math.sqrt(
            float(departures.var()) + self.spread_**2 / (self.prior_strength + evidence)
        )
        return Estimate(mean, sd, evidence, prior * math.exp(float(departures.mean())), None, None)
