"""A/B tests of routing policies: assign runs at random, compare their outcomes.

:func:`assign_policy` draws a policy per run (store it in the run's hyperparameters under
:data:`POLICY_KEY`); :func:`compare_policies` reports the difference in outcome with a
confidence interval (Welch's t or a bootstrap).
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zen.errors import ConfigError, DataError, expect_one_of
from zen.orchestrator.history import History, RunRecord
from zen.orchestrator.meta_learning import METRIC_LOWER_IS_BETTER

#: Hyperparameter key under which a run records the routing policy it was assigned (A/B tests).
POLICY_KEY = "router_policy"


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
