"""Router: which models to train for a task, best first, each with the reason for its place.

Three layers, each explainable on its own:

1. **Rule prior** (:data:`RULES`): what the literature says works for such data (seasonal long
   series → N-HiTS/N-BEATS, intermittent counts → DeepAR with a negative binomial...), as
   multipliers on a base expectation of each candidate's *relative score*.
2. **Learned from History** (:class:`NeighbourScores`): the relative scores candidates reached
   on past tasks with similar profiles, weighted by similarity, shrink the prior towards what
   actually happened.
3. **Exploration**: the ranking uses an optimistic bound (``policy="learned"``, UCB) or a
   posterior sample (``policy="thompson"``), so a candidate with little evidence still gets
   tried now and then and the router keeps learning.

A *relative score* is a candidate's loss divided by the best loss any candidate reached on the
same task (see :func:`relative_scores`): 1.0 is the winner, 1.2 is 20 % worse. It puts tasks
with different metrics and scales on one axis, and ``relative score - 1`` of the first choice is
the router's regret.

Routing policies are compared by A/B tests: :func:`assign_policy` draws a policy per run (store
it in the run's hyperparameters under :data:`POLICY_KEY`), :func:`compare_policies` reports the
difference in outcome with a confidence interval.

>>> from zen.orchestrator.profile import TaskProfile
>>> profile = TaskProfile(kind="node classification", reason="", target="y", n_rows=2708,
...                       layout="graph", homophily=0.81)
>>> [c.name for c in route(profile, budget_s=300, policy="rules")]
['GCN', 'GAT', 'GraphSAGE']
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from zen.errors import ConfigError, DataError, expect_one_of
from zen.orchestrator.history import History, RunRecord
from zen.orchestrator.profile import FAMILIES, TaskProfile, family_of

logger = logging.getLogger(__name__)

POLICIES = ("default", "rules", "learned", "thompson")
#: Hyperparameter key under which a run records the routing policy it was assigned (A/B tests).
POLICY_KEY = "router_policy"
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
}


@dataclass(frozen=True)
class Candidate:
    """One model proposed for a task.

    Attributes:
        name: the model, as the job that trains it names it (``"NHITS"``, ``"GCN"``, ``"MLP"``).
        family: the task family it belongs to (see :data:`~zen.orchestrator.profile.FAMILIES`).
        expected_score: expected relative score (loss / best loss of the task; 1 = the best,
            lower is better).
        reason: why it is there and at this place, for ``zen fit --explain``.
        uncertainty: standard deviation of ``expected_score``.
        n_similar: effective number of similar past runs behind the estimate (0: rules only).
        options: hyperparameters the rules suggest (e.g. DeepAR's count likelihood).
        expected_duration_s: training time of similar past runs, when there were any.
    """

    name: str
    family: str
    expected_score: float
    reason: str
    uncertainty: float = 0.0
    n_similar: float = 0.0
    options: dict[str, Any] = field(default_factory=dict)
    expected_duration_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# -- rule prior ----------------------------------------------------------------------------

#: The candidates of each family with their base expected relative score (the general case
#: before any rule) and default options. Time series: N-HiTS and N-BEATS lead on M4 and the
#: long-horizon benchmarks (Oreshkin et al. 2020; Challu et al. 2023), ahead of TCN and DeepAR,
#: with the naive family behind (Makridakis et al. 2020, M4). Graphs: GCN, GAT and GraphSAGE
#: are within a point of each other on citation graphs once tuned alike, GCN the most robust
#: (Shchur et al. 2018, "Pitfalls of GNN evaluation"). Tables: the one family zen has, an MLP,
#: at three capacities.
POOLS: dict[str, dict[str, tuple[float, dict[str, Any]]]] = {
    "time series": {
        "NHITS": (1.00, {}),
        "NBEATS": (1.02, {}),
        "TCN": (1.10, {}),
        "DeepAR": (1.12, {}),
        "SeasonalNaive": (1.25, {}),
        "RandomWalkWithDrift": (1.30, {}),
        "Naive": (1.35, {}),
        "HistoricAverage": (1.45, {}),
    },
    "graph": {"GCN": (1.00, {}), "GAT": (1.01, {}), "GraphSAGE": (1.02, {})},
    "tabular regression": {
        "MLP": (1.00, {}),
        "MLP-regularised": (1.02, {"hidden_layers": [64], "dropout": 0.3, "weight_decay": 0.1}),
        "MLP-wide": (1.04, {"hidden_layers": [256, 256], "dropout": 0.1}),
    },
}
POOLS["tabular classification"] = POOLS["tabular regression"]

_DEEP_SERIES = ("NHITS", "NBEATS", "TCN", "DeepAR")


@dataclass(frozen=True)
class Rule:
    """A finding about the data and what it does to each candidate's expected relative score.

    Attributes:
        name: what was found, as the reason shows it.
        family: the family it applies to.
        applies: whether the profile shows the finding.
        factors: multiplier per candidate (< 1: expected to do better).
        source: the paper or benchmark behind the rule.
        options: hyperparameters to suggest to a candidate when the rule applies.
    """

    name: str
    family: str
    applies: Callable[[TaskProfile], bool]
    factors: Mapping[str, float]
    source: str
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _season(profile: TaskProfile) -> int:
    return profile.season_length or 1


def _length(profile: TaskProfile) -> float:
    return profile.median_series_length or 0.0


def _intermittent(profile: TaskProfile) -> bool:
    # Syntetos & Boylan's ADI cut-off, or many zeros when the ADI could not be computed.
    return (profile.adi or 1.0) >= 1.32 or (profile.zero_ratio or 0.0) >= 0.3


RULES: tuple[Rule, ...] = (
    Rule(
        "seasonal and long series", "time series",
        lambda p: _season(p) > 1 and _length(p) >= 10 * _season(p),
        {"NHITS": 0.97, "NBEATS": 0.98, "SeasonalNaive": 0.92, "Naive": 1.1,
         "RandomWalkWithDrift": 1.1, "HistoricAverage": 1.1},
        "multi-rate pooling and seasonal bases fit repeated patterns (Challu et al. 2023;"
        " Oreshkin et al. 2020); seasonal naive beats naive on seasonal data (Hyndman &"
        " Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "short series", "time series",
        lambda p: 0 < _length(p) < 100,
        {"NHITS": 1.2, "NBEATS": 1.15, "TCN": 1.25, "DeepAR": 1.25, "SeasonalNaive": 0.95,
         "Naive": 0.95, "HistoricAverage": 0.9},
        "few training windows: on short series (M3) simple statistical methods beat learned"
        " ones (Makridakis, Spiliotis & Assimakopoulos 2018)",
    ),
    Rule(
        "intermittent demand", "time series", _intermittent,
        {"DeepAR": 0.75, "HistoricAverage": 0.75, "Naive": 0.95, "SeasonalNaive": 1.1,
         "NHITS": 1.15, "NBEATS": 1.15, "TCN": 1.15, "RandomWalkWithDrift": 1.2},
        "point forecasts of sparse demand chase the zeros; a negative binomial likelihood"
        " models counts (DeepAR, Salinas et al. 2020) and a level beats a last value"
        " (Syntetos & Boylan 2005)",
        options={"DeepAR": {"loss": "DistributionLoss", "distribution": "NegativeBinomial"}},
    ),
    Rule(
        "strong trend without season", "time series",
        lambda p: (p.trend_strength or 0.0) >= 0.6 and _season(p) == 1,
        {"RandomWalkWithDrift": 0.85, "NBEATS": 0.97, "SeasonalNaive": 1.1,
         "HistoricAverage": 1.3},
        "a drift extrapolates a trend that the mean and seasonal naive ignore; N-BEATS has a"
        " polynomial trend basis (Oreshkin et al. 2020)",
    ),
    Rule(
        "noise-like series", "time series",
        lambda p: _season(p) == 1 and (p.trend_strength or 0.0) < 0.3 and not _intermittent(p),
        {"HistoricAverage": 0.8, "Naive": 1.05, "NHITS": 1.05, "NBEATS": 1.05, "TCN": 1.05},
        "without trend or season the mean is the best forecast and flexible models fit noise"
        " (Hyndman & Athanasopoulos, FPP3 §5.2)",
    ),
    Rule(
        "many series", "time series",
        lambda p: (p.n_series or 0) >= 100,
        {"NHITS": 0.97, "NBEATS": 0.97, "TCN": 0.97, "DeepAR": 0.95},
        "global models learn across series (Montero-Manso & Hyndman 2021)",
    ),
    Rule(
        "long horizon", "time series",
        lambda p: (p.horizon or 0) >= 48,
        {"NHITS": 0.96, "DeepAR": 1.05},
        "N-HiTS was designed for long horizons; autoregressive sampling accumulates error"
        " (Challu et al. 2023)",
    ),
    Rule(
        "homophilous graph", "graph",
        lambda p: (p.homophily or 0.0) >= 0.7,
        {"GCN": 0.98, "GraphSAGE": 1.02},
        "GCN's neighbourhood averaging is a low-pass filter, right when neighbours share"
        " labels (Kipf & Welling 2017; Zhu et al. 2020)",
    ),
    Rule(
        "heterophilous graph", "graph",
        lambda p: p.homophily is not None and p.homophily < 0.5,
        {"GraphSAGE": 0.9, "GAT": 0.95, "GCN": 1.05},
        "keeping a node's own features apart from its neighbours' matters under heterophily"
        " (ego/neighbour separation, Zhu et al. 2020): GraphSAGE's root weight does,"
        " GCN's averaging mixes them",
    ),
    Rule(
        "large graph", "graph",
        lambda p: (p.num_nodes or 0) >= 100_000,
        {"GraphSAGE": 0.95, "GAT": 1.05},
        "GraphSAGE was built for neighbour sampling on large graphs (Hamilton et al. 2017);"
        " attention costs memory per edge",
    ),
    Rule(
        "many neighbours", "graph",
        lambda p: (p.mean_degree or 0.0) >= 20,
        {"GAT": 0.97},
        "attention weighs many neighbours instead of averaging them equally"
        " (Veličković et al. 2018)",
    ),
    *(
        rule
        for family in ("tabular regression", "tabular classification")
        for rule in (
            Rule(
                "small table", family,
                lambda p: p.n_rows < 1000,
                {"MLP-regularised": 0.93, "MLP-wide": 1.08},
                "MLPs on small tables need strong regularisation (Kadra et al. 2021,"
                " regularisation cocktails; Grinsztajn et al. 2022)",
            ),
            Rule(
                "many features per row", family,
                lambda p: p.n_features >= max(10, p.n_rows // 10),
                {"MLP-regularised": 0.95, "MLP-wide": 1.05},
                "many features per row invite overfitting (Hastie, Tibshirani & Friedman,"
                " ESL §18)",
            ),
            Rule(
                "large table", family,
                lambda p: p.n_rows >= 50_000,
                {"MLP-wide": 0.95, "MLP-regularised": 1.03},
                "with enough rows capacity pays off (Gorishniy et al. 2021)",
            ),
        )
    ),
)  # fmt: skip


@dataclass(frozen=True)
class PriorScore:
    """A candidate's expected relative score from the rules, and the rules that set it."""

    name: str
    score: float
    rules: tuple[Rule, ...]
    options: dict[str, Any]


def rule_prior(profile: TaskProfile) -> list[PriorScore]:
    """Each candidate of the profile's family with its rule-based expected relative score,
    best first (normalised so that the best is 1.0).

    Raises:
        ConfigError: the profile's family has no candidates.
    """
    pool = POOLS.get(profile.family)
    if pool is None:
        raise ConfigError(
            f"profile: no candidates for family {profile.family!r} (kind {profile.kind!r});"
            f" the router knows {', '.join(FAMILIES)}"
        )
    applied = [rule for rule in RULES if rule.family == profile.family and rule.applies(profile)]
    scores = []
    for name, (base, defaults) in pool.items():
        score = base
        options = dict(defaults)
        for rule in applied:
            score *= rule.factors.get(name, 1.0)
            options.update(rule.options.get(name, {}))
        relevant = tuple(rule for rule in applied if name in rule.factors)
        scores.append(PriorScore(name, score, relevant, options))
    best = min(prior.score for prior in scores)
    normalised = [PriorScore(p.name, p.score / best, p.rules, p.options) for p in scores]
    # Stable sort: ties keep the pool's order, which lists the usual favourite first.
    return sorted(normalised, key=lambda prior: prior.score)


# -- learning from History -----------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """How one model did on one past task: the router's training example."""

    family: str
    features: dict[str, float]
    model: str
    relative_score: float
    duration_s: float | None
    run_id: int


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
    for members in tasks.values():
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
                )
            )
    return observations


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


# -- routing -------------------------------------------------------------------------------


class Router:
    """Ranks candidate models for task profiles; learns from History with :meth:`fit`.

    Args:
        policy: ``"default"`` (the family's usual order, no rules: the fixed baseline),
            ``"rules"`` (rule prior only), ``"learned"`` (prior + History, ranked by the
            optimistic bound ``mean - explore * sd``: UCB for a loss, Auer et al. 2002) or
            ``"thompson"`` (ranked by a draw from each candidate's posterior, Thompson 1933;
            seeded).
        explore: width of the UCB bonus in standard deviations (0: greedy).
        seed: seeds Thompson sampling; the same seed and History give the same ranking.
        metric: the metric to learn from (default: per family, :data:`FAMILY_METRICS`).
        k, bandwidth, prior_strength: see :class:`NeighbourScores`.
    """

    def __init__(
        self,
        policy: str = "learned",
        explore: float = 1.0,
        seed: int = 0,
        metric: str | None = None,
        k: int = 10,
        bandwidth: float = 0.5,
        prior_strength: float = 2.0,
    ) -> None:
        self.policy = policy
        self.explore = explore
        self.seed = seed
        self.metric = metric
        self.k = k
        self.bandwidth = bandwidth
        self.prior_strength = prior_strength

    def fit(self, history: History | Iterable[RunRecord] | None = None) -> Router:
        """Learn from the finished runs of ``history`` (a :class:`History` or its records)."""
        if self.policy not in POLICIES:
            raise expect_one_of("policy", self.policy, POLICIES)
        if not self.explore >= 0:
            raise ConfigError(f"explore: expected a width >= 0, got {self.explore!r}")
        if self.metric is not None and self.metric not in METRIC_LOWER_IS_BETTER:
            raise expect_one_of("metric", self.metric, sorted(METRIC_LOWER_IS_BETTER))
        runs: Iterable[RunRecord] = ()
        if isinstance(history, History):
            runs = history.runs(status="done")
        elif history is not None:
            runs = history
        observations = observations_from_runs(runs, self.metric)
        self.observations_ = observations
        self.scorers_: dict[str, NeighbourScores] = {}
        for family in FAMILIES:
            mine = [o for o in observations if o.family == family]
            self.scorers_[family] = NeighbourScores(
                self.k, self.bandwidth, self.prior_strength
            ).fit(mine)
        return self

    def route(self, profile: TaskProfile, budget_s: float) -> list[Candidate]:
        """Candidates for ``profile``, best first.

        Args:
            profile: the task (from :mod:`zen.orchestrator.profile`).
            budget_s: training time available per candidate; candidates whose similar past runs
                took longer are left out (the fastest is always kept).

        Raises:
            ConfigError: bad ``budget_s``; a profile family without candidates.
            NotFittedError: :meth:`fit` was not called.
        """
        from zen.errors import NotFittedError

        if not hasattr(self, "scorers_"):
            raise NotFittedError("Router.route: call fit(history) first")
        if isinstance(budget_s, bool) or not (isinstance(budget_s, int | float) and budget_s > 0):
            raise ConfigError(f"budget_s: expected a positive number of seconds, got {budget_s!r}")
        priors = rule_prior(profile)
        scorer = self.scorers_[profile.family]
        features = profile.features()
        rng = np.random.default_rng(self.seed)
        rows = []
        for order, prior in enumerate(priors):
            if self.policy == "default":
                score = POOLS[profile.family][prior.name][0]
                estimate = Estimate(score, 0.0, 0.0, None, None, None)
            elif self.policy == "rules":
                estimate = Estimate(prior.score, 0.0, 0.0, None, None, None)
            else:
                estimate = scorer.predict(features, prior.name, prior.score)
            if self.policy == "learned":
                rank = estimate.mean - self.explore * estimate.sd
            elif self.policy == "thompson":
                rank = float(rng.normal(estimate.mean, estimate.sd))
            else:
                rank = estimate.mean
            rows.append((rank, order, prior, estimate))
        rows.sort(key=lambda row: (row[0], row[1]))
        candidates = [
            Candidate(
                name=prior.name,
                family=profile.family,
                expected_score=round(estimate.mean, 6),
                reason=self._reason(prior, estimate),
                uncertainty=round(estimate.sd, 6),
                n_similar=round(estimate.n_similar, 3),
                options=prior.options,
                expected_duration_s=estimate.duration_s,
            )
            for _, _, prior, estimate in rows
        ]
        return _within_budget(candidates, budget_s)

    def _reason(self, prior: PriorScore, estimate: Estimate) -> str:
        if self.policy == "default":
            return "the family's usual order (no rules, no history)"
        if prior.rules:
            applied = "; ".join(
                f"{rule.name} ×{rule.factors[prior.name]:g}: {rule.source}" for rule in prior.rules
            )
            parts = [f"rules {prior.score:.2f} ({applied})"]
        else:
            parts = [f"rules {prior.score:.2f} (base expectation; no rule concerns it)"]
        if self.policy in ("learned", "thompson"):
            if estimate.learned is None:
                parts.append("no similar past runs: the rules decide")
            else:
                parts.append(
                    f"history {estimate.learned:.2f} over {estimate.n_similar:.1f} similar runs"
                    f" (nearest: run {estimate.nearest_run}) → {estimate.mean:.2f}"
                    f" ± {estimate.sd:.2f}"
                )
            if self.policy == "learned" and self.explore > 0:
                parts.append(f"ranked by {estimate.mean - self.explore * estimate.sd:.2f}"
                             f" (optimistic bound, explore={self.explore:g})")  # fmt: skip
            elif self.policy == "thompson":
                parts.append(f"ranked by a posterior draw (seed {self.seed})")
        return "; ".join(parts)


def _within_budget(candidates: list[Candidate], budget_s: float) -> list[Candidate]:
    fits = [
        c for c in candidates if c.expected_duration_s is None or c.expected_duration_s <= budget_s
    ]
    if fits:
        dropped = len(candidates) - len(fits)
        if dropped:
            logger.info("router: %d candidate(s) left out: too slow for %g s", dropped, budget_s)
        return fits
    fastest = min(candidates, key=lambda c: c.expected_duration_s or math.inf)
    note = (
        f"; similar runs took {fastest.expected_duration_s:.0f} s, over the {budget_s:g} s"
        " budget: kept as the fastest candidate"
    )
    return [Candidate(**{**asdict(fastest), "reason": fastest.reason + note})]


def route(
    profile: TaskProfile,
    budget_s: float,
    history: History | Iterable[RunRecord] | None = None,
    policy: str = "learned",
    *,
    explore: float = 1.0,
    seed: int = 0,
    metric: str | None = None,
) -> list[Candidate]:
    """Candidate models for ``profile``, best first, with expected relative scores and reasons.

    A one-call :class:`Router`: ``Router(policy, explore, seed, metric).fit(history)
    .route(profile, budget_s)``. See :class:`Router` for the policies.
    """
    return Router(policy, explore, seed, metric).fit(history).route(profile, budget_s)


# -- A/B comparison of policies ------------------------------------------------------------


def assign_policy(run_key: str, policies: Sequence[str], seed: int = 0) -> str:
    """Draw the routing policy for a run, uniformly at random but repeatably.

    The draw hashes ``(seed, run_key)``, so a run restarted after a crash gets the same policy
    and no state needs storing to keep the assignment balanced in expectation. Record it with
    the run (``hyperparameters={POLICY_KEY: policy}``) for :func:`compare_policies`.

    >>> assign_policy("run-7", ["rules", "learned"], seed=1) in ("rules", "learned")
    True
    """
    if not isinstance(run_key, str) or not run_key:
        raise ConfigError(f"run_key: expected a non-empty string, got {run_key!r}")
    if isinstance(policies, str) or len(policies) < 2 or len(set(policies)) != len(policies):
        raise ConfigError(f"policies: expected two or more distinct names, got {policies!r}")
    digest = hashlib.sha256(f"{seed}\x00{run_key}".encode()).digest()
    return policies[int.from_bytes(digest[:8], "big") % len(policies)]


@dataclass(frozen=True)
class ComparisonResult:
    """The outcome of an A/B test between two routing policies.

    Attributes:
        metric: the outcome compared.
        policies: ``(a, b)``; ``difference`` is ``mean_b - mean_a``.
        n: runs per policy.
        means: mean outcome per policy.
        difference: ``mean_b - mean_a``.
        ci_low, ci_high: the confidence interval of the difference.
        confidence: its level (0.95).
        method: ``"welch"`` (Welch's t interval) or ``"bootstrap"`` (percentile).
        p_value: two-sided, for "no difference" (Welch only).
        better: the policy with the better mean when the interval excludes 0, else ``None``.
    """

    metric: str
    policies: tuple[str, str]
    n: tuple[int, int]
    means: tuple[float, float]
    difference: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    p_value: float | None
    better: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def policy_outcomes(runs: Iterable[RunRecord], metric: str) -> dict[str, list[float]]:
    """Finished runs' ``metric`` grouped by the policy recorded under :data:`POLICY_KEY`."""
    outcomes: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        policy = run.hyperparameters.get(POLICY_KEY)
        value = run.metrics.get(metric)
        if (run.status == "done" and isinstance(policy, str)
                and isinstance(value, int | float) and math.isfinite(value)):  # fmt: skip
            outcomes[policy].append(float(value))
    return dict(outcomes)


def compare_policies(
    history: History | Iterable[RunRecord],
    metric: str,
    policies: tuple[str, str] | None = None,
    *,
    method: str = "welch",
    confidence: float = 0.95,
    lower_is_better: bool | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
) -> ComparisonResult:
    """Compare two routing policies on the outcome ``metric`` of the runs assigned to each.

    Use a relative outcome such as ``regret`` (relative score of the first choice - 1): runs of
    different tasks then share a scale and the interval is narrower. Random assignment
    (:func:`assign_policy`) makes the difference of means an unbiased estimate of the effect.

    Args:
        history: a :class:`History` or its records.
        metric: the outcome recorded in each run's metrics.
        policies: ``(a, b)``; default the two policies found (an error if not exactly two).
        method: ``"welch"``: Welch's t interval (unequal variances, Welch-Satterthwaite degrees
            of freedom); ``"bootstrap"``: percentile interval of resampled differences.
        confidence: level of the interval, in (0, 1).
        lower_is_better: direction of ``metric``; default from :data:`METRIC_LOWER_IS_BETTER`
            (lower when unknown).
        n_resamples, seed: bootstrap resamples and their seed.

    Raises:
        ConfigError: bad ``method``/``confidence``; ``policies`` not found or not two.
        DataError: fewer than 2 outcomes for a policy.
    """
    if method not in ("welch", "bootstrap"):
        raise expect_one_of("method", method, ["welch", "bootstrap"])
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    runs = history.runs(status="done") if isinstance(history, History) else history
    outcomes = policy_outcomes(runs, metric)
    if policies is None:
        if len(outcomes) != 2:
            raise ConfigError(
                f"policies: runs with metric {metric!r} were routed by"
                f" {sorted(outcomes) or 'no recorded policy'}; name the two to compare"
            )
        policies = (sorted(outcomes)[0], sorted(outcomes)[1])
    first, second = policies
    for policy in policies:
        if len(outcomes.get(policy, [])) < 2:
            raise DataError(
                f"policies: {len(outcomes.get(policy, []))} finished run(s) of policy {policy!r}"
                f" report {metric!r}; a comparison needs at least 2 per policy"
            )
    a, b = np.array(outcomes[first]), np.array(outcomes[second])
    difference = float(b.mean() - a.mean())
    p_value: float | None = None
    if method == "welch":
        from scipy import stats

        var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
        error = math.sqrt(var_a + var_b)
        if error == 0.0:
            low = high = difference
            p_value = 1.0 if difference == 0 else 0.0
        else:
            dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))
            quantile = float(stats.t.ppf(0.5 + confidence / 2, dof))
            low, high = difference - quantile * error, difference + quantile * error
            p_value = float(2 * stats.t.sf(abs(difference) / error, dof))
    else:
        rng = np.random.default_rng(seed)
        resampled = rng.choice(b, (n_resamples, len(b))).mean(axis=1) - rng.choice(
            a, (n_resamples, len(a))
        ).mean(axis=1)
        tail = (1.0 - confidence) / 2
        low, high = (float(q) for q in np.quantile(resampled, [tail, 1.0 - tail]))
    if lower_is_better is None:
        lower_is_better = METRIC_LOWER_IS_BETTER.get(metric, True)
    better = None
    if low > 0 or high < 0:
        b_better = (difference < 0) == lower_is_better
        better = second if b_better else first
    return ComparisonResult(
        metric=metric,
        policies=(first, second),
        n=(len(a), len(b)),
        means=(float(a.mean()), float(b.mean())),
        difference=difference,
        ci_low=float(low),
        ci_high=float(high),
        confidence=confidence,
        method=method,
        p_value=p_value,
        better=better,
    )
