"""A/B tests of routing policies: assign runs at random, compare their outcomes.

:func:`assignment` draws a policy per run and returns the hyperparameters that record the draw
(the policy under :data:`POLICY_KEY`, :data:`RANDOMISED_KEY` and the arms under
:data:`ARMS_KEY`); :func:`compare_policies` reports the difference in outcome with a confidence
interval (Welch's t or a bootstrap), counting only the runs whose policy was drawn at random:
a run that merely *ran* under a policy was routed by whoever chose it, for whatever task they
had, and pooling such runs compares tasks as much as policies.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from zen.errors import ConfigError, DataError, expect_one_of
from zen.orchestrator.history import History, RunRecord
from zen.orchestrator.meta_learning import METRIC_LOWER_IS_BETTER

#: Hyperparameter key under which a run records the routing policy it was routed by.
POLICY_KEY = "router_policy"
#: Hyperparameter key that is ``True`` when that policy was drawn at random (an A/B test run).
RANDOMISED_KEY = "ab_test"
#: Hyperparameter key of the policies the draw was between (the A/B test's arms).
ARMS_KEY = "ab_arms"
#: Fewest randomised runs per policy before :func:`compare_policies` names a better policy.
#: Outcomes such as regret are skewed (mostly 0, now and then 3): below about ten runs per arm,
#: Welch's t interval and the percentile bootstrap both cover the true difference markedly less
#: often than their nominal level, and the random split of fewer than twenty tasks still leaves
#: the two arms with quite different mixes of tasks.
MIN_RUNS_PER_POLICY = 10


def assign_policy(run_key: str, policies: Sequence[str], seed: int = 0) -> str:
    """Draw the routing policy for a run, uniformly at random but repeatably.

    The draw hashes ``(seed, run_key)``, so a run restarted after a crash with the same key
    gets the same policy and no state needs storing to keep the assignment balanced in
    expectation. Record it with the run through :func:`assignment`, which marks it as drawn,
    for :func:`compare_policies`.

    >>> assign_policy("run-7", ["rules", "learned"], seed=1) in ("rules", "learned")
    True
    """
    if not isinstance(run_key, str) or not run_key:
        raise ConfigError(f"run_key: expected a non-empty string, got {run_key!r}")
    if isinstance(policies, str) or len(policies) < 2 or len(set(policies)) != len(policies):
        raise ConfigError(f"policies: expected two or more distinct names, got {policies!r}")
    digest = hashlib.sha256(f"{seed}\x00{run_key}".encode()).digest()
    return policies[int.from_bytes(digest[:8], "big") % len(policies)]


def assignment(run_key: str, policies: Sequence[str], seed: int = 0) -> dict[str, Any]:
    """Draw a run's policy (:func:`assign_policy`); the hyperparameters that record the draw.

    Store them with the run: :func:`compare_policies` counts a run only when they say its
    policy was drawn at random, between arms that include both policies compared.

    >>> assignment("run-7", ["rules", "learned"], seed=1)[RANDOMISED_KEY]
    True
    """
    return {
        POLICY_KEY: assign_policy(run_key, policies, seed),
        RANDOMISED_KEY: True,
        ARMS_KEY: list(policies),
    }


def is_randomised(run: RunRecord, policies: Collection[str] = ()) -> bool:
    """Whether ``run``'s policy was drawn at random between arms that include ``policies``.

    Runs recorded before the arms were stored (``ab_test`` without ``ab_arms``) count as drawn
    between any policies.
    """
    recorded = run.hyperparameters
    if recorded.get(RANDOMISED_KEY) is not True:
        return False
    arms = recorded.get(ARMS_KEY)
    return arms is None or (isinstance(arms, list) and set(policies) <= set(arms))


@dataclass(frozen=True)
class ComparisonResult:
    """The outcome of an A/B test between two routing policies.

    Attributes:
        metric: the outcome compared.
        policies: ``(a, b)``; ``difference`` is ``mean_b - mean_a``.
        n: randomised runs per policy (the only ones compared).
        means: mean outcome per policy.
        difference: ``mean_b - mean_a``.
        ci_low, ci_high: the confidence interval of the difference.
        confidence: its level (0.95).
        method: ``"welch"`` (Welch's t interval) or ``"bootstrap"`` (percentile).
        p_value: two-sided, for "no difference" (Welch only).
        better: the policy with the better mean when the interval excludes 0 and each policy
            has at least ``min_runs`` runs, else ``None``.
        min_runs: the fewest runs per policy needed to name a better one.
        enough_runs: whether both policies have ``min_runs`` runs; when not, the numbers are
            shown but settle nothing.
        left_out: finished runs under these policies that report ``metric`` but whose policy
            was not drawn at random (ordinary ``zen fit`` runs): not compared.
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
    min_runs: int = MIN_RUNS_PER_POLICY
    enough_runs: bool = True
    left_out: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def policy_outcomes(
    runs: Iterable[RunRecord],
    metric: str,
    *,
    randomised: bool = True,
    between: Collection[str] = (),
) -> dict[str, list[float]]:
    """Finished runs' ``metric`` grouped by the policy recorded under :data:`POLICY_KEY`.

    Args:
        randomised: only runs whose policy was drawn at random (:func:`is_randomised`, between
            arms that include ``between``); ``False``: every run that recorded a policy, which
            is an observational comparison, confounded by who chose the policy for which task.
    """
    outcomes: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        policy = run.hyperparameters.get(POLICY_KEY)
        value = run.metrics.get(metric)
        if (run.status == "done" and isinstance(policy, str)
                and isinstance(value, int | float) and math.isfinite(value)
                and (not randomised or is_randomised(run, between))):  # fmt: skip
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
    min_runs: int = MIN_RUNS_PER_POLICY,
) -> ComparisonResult:
    """Compare two routing policies on the outcome ``metric`` of the runs assigned to each.

    Only runs whose policy was drawn at random between arms that include both policies count
    (:func:`assignment`, ``zen fit --policy ab``): random assignment makes the difference of
    means an unbiased estimate of the effect, whereas runs that merely ran under a policy differ
    in their tasks as well. Use a relative outcome such as ``regret`` (relative score of the
    first choice - 1): runs of different tasks then share a scale and the interval is narrower.

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
        min_runs: the fewest runs per policy to name a better one (at least 2; default
            :data:`MIN_RUNS_PER_POLICY`). With fewer, the result carries the numbers with
            ``enough_runs=False`` and ``better=None``.

    Raises:
        ConfigError: bad ``method``/``confidence``/``min_runs``; ``policies`` not found or not
            two.
        DataError: fewer than 2 randomised outcomes for a policy (no interval can be computed).
    """
    if method not in ("welch", "bootstrap"):
        raise expect_one_of("method", method, ["welch", "bootstrap"])
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence: expected a level in (0, 1), got {confidence!r}")
    if isinstance(min_runs, bool) or not isinstance(min_runs, int) or min_runs < 2:
        raise ConfigError(f"min_runs: expected a whole number of runs >= 2, got {min_runs!r}")
    runs = list(history.runs(status="done") if isinstance(history, History) else history)
    if policies is None:
        found = sorted(policy_outcomes(runs, metric))
        if len(found) != 2:
            recorded = sorted(policy_outcomes(runs, metric, randomised=False))
            hint = (
                f" (runs under {recorded} were not randomised; `zen fit --policy ab` draws the"
                " policy of each run)"
                if recorded and not found
                else ""
            )
            raise ConfigError(
                f"policies: randomised runs with metric {metric!r} were routed by"
                f" {found or 'no policy'}{hint}; name the two to compare"
            )
        policies = (found[0], found[1])
    first, second = policies
    if first == second:
        raise ConfigError(f"policies: expected two different policies, got {policies!r}")
    outcomes = policy_outcomes(runs, metric, between=policies)
    observed = policy_outcomes(runs, metric, randomised=False)
    left_out = sum(len(observed.get(p, [])) - len(outcomes.get(p, [])) for p in policies)
    for policy in policies:
        if len(outcomes.get(policy, [])) < 2:
            raise DataError(
                f"policies: {len(outcomes.get(policy, []))} finished run(s) drawn at random for"
                f" policy {policy!r} report {metric!r} ({left_out} run(s) under these policies"
                " were not randomised and do not count); a comparison needs at least 2 per"
                " policy: run `zen fit --policy ab` on more tasks"
            )
    a, b = np.array(outcomes[first]), np.array(outcomes[second])
    enough_runs = min(len(a), len(b)) >= min_runs
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
    if enough_runs and (low > 0 or high < 0):
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
        min_runs=min_runs,
        enough_runs=enough_runs,
        left_out=left_out,
    )
