"""A/B tests of routing policies: random assignment, and comparisons of randomised runs only."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from zen.orchestrator.history import History, RunRecord
from zen.orchestrator.router import (
    ARMS_KEY,
    MIN_RUNS_PER_POLICY,
    POLICY_KEY,
    RANDOMISED_KEY,
    assign_policy,
    assignment,
    compare_policies,
    is_randomised,
)

ARMS = ["rules", "learned"]


def run(index: int, hyperparameters: dict[str, Any], metrics: dict[str, float]) -> RunRecord:
    """A finished parent run as History returns it."""
    return RunRecord(id=index, kind="forecasting", model="zen fit", status="done",
                     hyperparameters=hyperparameters, profile={}, metrics=metrics, started_at="",
                     finished_at=None, duration_s=None, hardware={}, seed=None, zen_version="",
                     data=None, error=None, parent_id=None, pid=None, hostname=None)  # fmt: skip


def randomised_runs(regret: dict[str, float], n: int, seed: int = 0) -> list[RunRecord]:
    """``n`` runs whose policy was drawn between :data:`ARMS`, regret ~ N(regret[policy], 0.1)."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n):
        drawn = assignment(f"run-{seed}-{i}", ARMS)
        value = regret[drawn[POLICY_KEY]] + rng.normal(0, 0.1)
        runs.append(run(i, {**drawn, "horizon": 24}, {"regret": value}))
    return runs


def test_assign_policy_is_repeatable_and_balanced() -> None:
    draws = [assign_policy(f"run-{i}", ARMS, seed=7) for i in range(1000)]
    assert draws == [assign_policy(f"run-{i}", ARMS, seed=7) for i in range(1000)]
    assert 450 <= Counter(draws)["learned"] <= 550
    assert draws != [assign_policy(f"run-{i}", ARMS, seed=8) for i in range(1000)]


def test_assignment_records_the_draw_and_its_arms() -> None:
    drawn = assignment("run-7", ARMS, seed=1)
    assert drawn == {POLICY_KEY: assign_policy("run-7", ARMS, seed=1), RANDOMISED_KEY: True,
                     ARMS_KEY: ARMS}  # fmt: skip


@pytest.mark.parametrize("method", ["welch", "bootstrap"])
def test_compare_policies_interval_contains_the_true_difference(tmp_path, method) -> None:
    with History(path=tmp_path / "zen.db") as history:
        for record in randomised_runs({"rules": 0.30, "learned": 0.15}, 80, seed=1):
            started = history.start_run("forecasting", "zen fit", record.hyperparameters)
            history.finish_run(started, record.metrics)
        result = compare_policies(history, "regret", ("rules", "learned"), method=method)
    assert result.policies == ("rules", "learned") and sum(result.n) == 80
    assert result.enough_runs and result.left_out == 0
    assert result.ci_low < -0.15 < result.ci_high
    assert result.ci_high < 0 and result.better == "learned"  # lower regret wins
    assert (result.p_value is not None) == (method == "welch")


def test_compare_policies_without_a_difference_names_no_winner() -> None:
    result = compare_policies(randomised_runs({"rules": 0.2, "learned": 0.2}, 40, seed=2), "regret")
    assert result.policies == ("learned", "rules") and result.ci_low < 0 < result.ci_high
    assert result.better is None


def test_compare_policies_leaves_out_runs_whose_policy_was_not_drawn() -> None:
    # No effect between randomly assigned runs; ordinary runs where users chose "learned" for
    # easy tasks and "rules" for hard ones would make "learned" look far better if pooled.
    runs = randomised_runs({"rules": 0.2, "learned": 0.2}, 40, seed=3)
    easy_or_hard = (("learned", 0.0), ("rules", 0.6))
    chosen = [run(100 + i, {POLICY_KEY: policy, RANDOMISED_KEY: False}, {"regret": regret})
              for i in range(40) for policy, regret in easy_or_hard]  # fmt: skip
    result = compare_policies(runs + chosen, "regret", ("rules", "learned"))
    assert result.enough_runs
    assert result.n == tuple(Counter(r.hyperparameters[POLICY_KEY] for r in runs)[p]
                             for p in ("rules", "learned"))  # fmt: skip
    assert result.left_out == 80
    assert result.better is None and result.ci_low < 0 < result.ci_high


def test_compare_policies_counts_only_draws_between_arms_that_hold_both_policies() -> None:
    runs = randomised_runs({"rules": 0.2, "learned": 0.2}, 40, seed=4)
    other_test = [run(200 + i, {**assignment(f"other-{i}", ["rules", "thompson"]), "x": 1},
                      {"regret": 0.9}) for i in range(40)]  # fmt: skip
    result = compare_policies(runs + other_test, "regret", ("rules", "learned"))
    assert sum(result.n) == 40  # the rules runs of the rules/thompson test are left out
    versus_thompson = compare_policies(other_test, "regret", ("rules", "thompson"))
    assert sum(versus_thompson.n) == 40


def test_compare_policies_below_the_minimum_gives_numbers_but_names_no_winner() -> None:
    runs = randomised_runs({"rules": 0.6, "learned": 0.1}, 12, seed=5)
    n_per_policy = Counter(r.hyperparameters[POLICY_KEY] for r in runs)
    assert max(n_per_policy.values()) < MIN_RUNS_PER_POLICY
    result = compare_policies(runs, "regret", ("rules", "learned"))
    assert not result.enough_runs and result.min_runs == MIN_RUNS_PER_POLICY
    assert result.ci_high < 0  # the interval alone would call it
    assert result.better is None
    lowered = compare_policies(runs, "regret", ("rules", "learned"), min_runs=2)
    assert lowered.enough_runs and lowered.better == "learned"


@pytest.mark.parametrize(
    ("hyperparameters", "randomised"),
    [
        ({POLICY_KEY: "learned"}, False),  # zen before `--policy ab` existed
        ({POLICY_KEY: "learned", RANDOMISED_KEY: False}, False),
        ({POLICY_KEY: "learned", RANDOMISED_KEY: True}, True),  # before arms were recorded
        ({POLICY_KEY: "learned", RANDOMISED_KEY: True, ARMS_KEY: ARMS}, True),
        ({POLICY_KEY: "learned", RANDOMISED_KEY: True, ARMS_KEY: ["learned", "default"]}, False),
    ],
)
def test_runs_count_as_randomised_only_when_recorded_as_drawn(hyperparameters, randomised):
    assert is_randomised(run(1, hyperparameters, {}), ("rules", "learned")) is randomised


def test_compare_policies_without_randomised_runs_says_how_to_get_them() -> None:
    chosen = [run(i, {POLICY_KEY: ARMS[i % 2]}, {"regret": 0.1}) for i in range(20)]
    with pytest.raises(Exception, match=r"were not randomised.*--policy ab"):
        compare_policies(chosen, "regret")
