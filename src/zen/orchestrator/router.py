"""Router: which models to train for a task, best first, each with the reason for its place.

Three layers, each explainable on its own:

1. **Rule prior** (:mod:`~zen.orchestrator.router_rules`): what the literature says works for
   such data (seasonal long series → N-HiTS/N-BEATS, intermittent counts → DeepAR with a
   negative binomial...), as multipliers on a base expectation of each candidate's *relative
   score*.
2. **Learned from History** (:mod:`~zen.orchestrator.meta_learning`): the relative scores
   candidates reached on past tasks with similar profiles shrink the prior towards what
   actually happened.
3. **Exploration**: the ranking uses an optimistic bound (``policy="learned"``, UCB) or a
   posterior sample (``policy="thompson"``), so a candidate with little evidence still gets
   tried now and then and the router keeps learning.

A *relative score* is a candidate's loss divided by the best loss any candidate reached on the
same task: 1.0 is the winner, 1.2 is 20 % worse; ``relative score - 1`` of the first choice is
the router's regret. Routing policies are compared by A/B tests
(:mod:`~zen.orchestrator.ab_test`).

>>> from zen.profile import TaskProfile
>>> profile = TaskProfile(kind="node classification", reason="", target="y", n_rows=2708,
...                       layout="graph", homophily=0.81)
>>> [c.name for c in route(profile, budget_s=300, policy="rules")]
['GCN', 'GAT', 'GraphSAGE']
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from zen.errors import ConfigError, expect_one_of
from zen.orchestrator.ab_test import (
    ARMS_KEY,
    MIN_RUNS_PER_POLICY,
    POLICY_KEY,
    RANDOMISED_KEY,
    ComparisonResult,
    assign_policy,
    assignment,
    compare_policies,
    is_randomised,
    policy_outcomes,
)
from zen.orchestrator.history import History, RunRecord
from zen.orchestrator.meta_learning import (
    FAMILY_METRICS,
    MAX_RELATIVE_SCORE,
    METRIC_LOWER_IS_BETTER,
    BoostedScores,
    Estimate,
    NeighbourScores,
    Observation,
    model_key,
    observations_from_runs,
    relative_scores,
)
from zen.orchestrator.router_rules import POOLS, RULES, PriorScore, Rule, rule_prior
from zen.profile import FAMILIES, TaskProfile

# Re-exported: callers reach the router's whole vocabulary from this module.
__all__ = [
    "ARMS_KEY",
    "FAMILY_METRICS",
    "LEARNERS",
    "MAX_RELATIVE_SCORE",
    "METRIC_LOWER_IS_BETTER",
    "MIN_RUNS_PER_POLICY",
    "POLICIES",
    "POLICY_KEY",
    "POOLS",
    "RANDOMISED_KEY",
    "RULES",
    "BoostedScores",
    "Candidate",
    "ComparisonResult",
    "Estimate",
    "NeighbourScores",
    "Observation",
    "PriorScore",
    "Router",
    "Rule",
    "assign_policy",
    "assignment",
    "compare_policies",
    "is_randomised",
    "model_key",
    "observations_from_runs",
    "policy_outcomes",
    "relative_scores",
    "route",
    "rule_prior",
]  # fmt: skip

logger = logging.getLogger(__name__)

POLICIES = ("default", "rules", "learned", "thompson")
#: How the learned policies predict a candidate's score from History (see :class:`Router`).
LEARNERS = ("neighbours", "boosting")


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
        seed: seeds the Thompson draws (and the boosting learner's bagging); the same seed and
            History give the same ranking. Exploration only explores if successive runs draw
            differently: ``zen fit`` passes a seed derived from each run's key
            (:func:`~zen.orchestrator.orchestration.exploration_seed`), not its training
            seed.
        metric: the metric to learn from (default: per family, :data:`FAMILY_METRICS`).
        learner: ``"neighbours"`` (:class:`NeighbourScores`, the default) or ``"boosting"``
            (:class:`BoostedScores`, bagged gradient boosting from scikit-learn). With the
            tens of tasks a History holds, neighbours shrunk to the prior did better in the
            leave-one-source-out benchmark (``bench/bench_orchestrator_router.py``,
            BENCHMARKS.md): boosting extrapolates to data unlike any past task (it put Naive
            first on every M4 task when no M4 task was in History), while neighbours fall back
            to the prior; they also need no training and can name the nearest past run.
        k, bandwidth, prior_strength: see :class:`NeighbourScores` (``prior_strength`` also
            :class:`BoostedScores`).
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
        learner: str = "neighbours",
    ) -> None:
        self.policy = policy
        self.learner = learner
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
        if self.learner not in LEARNERS:
            raise expect_one_of("learner", self.learner, LEARNERS)
        runs: Iterable[RunRecord] = ()
        if isinstance(history, History):
            runs = history.runs(status="done")
        elif history is not None:
            runs = history
        observations = observations_from_runs(runs, self.metric)
        self.observations_ = observations
        self.scorers_: dict[str, NeighbourScores | BoostedScores] = {}
        for family in FAMILIES:
            mine = [o for o in observations if o.family == family]
            scorer: NeighbourScores | BoostedScores = (
                NeighbourScores(self.k, self.bandwidth, self.prior_strength)
                if self.learner == "neighbours"
                else BoostedScores(prior_strength=self.prior_strength, seed=self.seed)
            )
            self.scorers_[family] = scorer.fit(mine)
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
                score = prior.base
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
                reason=self._reason(prior, estimate, rank),
                uncertainty=round(estimate.sd, 6),
                n_similar=round(estimate.n_similar, 3),
                options=prior.options,
                expected_duration_s=estimate.duration_s,
            )
            for rank, _, prior, estimate in rows
        ]
        return _within_budget(candidates, budget_s)

    def _reason(self, prior: PriorScore, estimate: Estimate, rank: float) -> str:
        if self.policy == "default":
            return "the family's usual order (no rules, no history)"
        if prior.rules:
            applied = "; ".join(
                f"{rule.name} ×{prior.factors[rule.name]:g}: {rule.source}" for rule in prior.rules
            )
            parts = [f"rules {prior.score:.2f} ({applied})"]
        else:
            parts = [f"rules {prior.score:.2f} (base expectation; no rule concerns it)"]
        if self.policy in ("learned", "thompson"):
            if estimate.learned is None:
                parts.append("no similar past runs: the rules decide")
            else:
                nearest = (
                    f" (nearest: run {estimate.nearest_run})"
                    if estimate.nearest_run is not None
                    else " (gradient boosting)"
                )
                parts.append(
                    f"history {estimate.learned:.2f} over {estimate.n_similar:.1f} similar runs"
                    f"{nearest} → {estimate.mean:.2f} ± {estimate.sd:.2f}"
                )
            if self.policy == "learned" and self.explore > 0:
                parts.append(f"ranked by {rank:.2f} (optimistic bound, explore={self.explore:g})")
            elif self.policy == "thompson":
                parts.append(f"ranked by {rank:.2f}, a draw from that posterior (seed {self.seed})")
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
    learner: str = "neighbours",
) -> list[Candidate]:
    """Candidate models for ``profile``, best first, with expected relative scores and reasons.

    A one-call :class:`Router`: ``Router(policy, explore, seed, metric).fit(history)
    .route(profile, budget_s)``. See :class:`Router` for the policies.
    """
    return (
        Router(policy, explore, seed, metric, learner=learner).fit(history).route(profile, budget_s)
    )
