"""The router: rule prior, learning from History, seeded exploration (A/B tests:
test_ab_test.py)."""

from __future__ import annotations

import numpy as np
import pytest

from zen import ConfigError, DataError
from zen.orchestrator.history import History
from zen.orchestrator.profile import TaskProfile
from zen.orchestrator.router import (
    Router,
    assign_policy,
    compare_policies,
    relative_scores,
    route,
    rule_prior,
)


def series_profile(**statistics) -> TaskProfile:
    base = {"n_series": 10, "horizon": 24, "median_series_length": 1000.0, "season_length": 1}
    return TaskProfile(kind="forecasting", reason="", target="y", n_rows=10_000,
                       **{**base, **statistics})  # fmt: skip


def graph_profile(homophily: float, num_nodes: int = 2708) -> TaskProfile:
    return TaskProfile(kind="node classification", reason="", target="y", n_rows=num_nodes,
                       layout="graph", num_nodes=num_nodes, homophily=homophily, n_classes=7,
                       num_node_features=1433, mean_degree=3.9)  # fmt: skip


def table_profile(n_rows: int) -> TaskProfile:
    return TaskProfile(kind="regression", reason="", target="y", n_rows=n_rows,
                       numeric_features=[f"x{i}" for i in range(8)])  # fmt: skip


@pytest.mark.parametrize(
    ("profile", "first", "after"),
    [
        (series_profile(season_length=24, seasonal_acf=0.8), "NHITS", "SeasonalNaive"),
        (series_profile(median_series_length=40.0, zero_ratio=0.7, adi=3.0), "HistoricAverage",
         "NHITS"),
        (series_profile(trend_strength=0.9), "NBEATS", "HistoricAverage"),  # trend basis
        (graph_profile(homophily=0.81), "GCN", "GraphSAGE"),
        (graph_profile(homophily=0.2), "GraphSAGE", "GCN"),
        (table_profile(n_rows=300), "MLP-regularised", "MLP-wide"),
        (table_profile(n_rows=100_000), "MLP-wide", "MLP-regularised"),
    ],
)  # fmt: skip
def test_rule_prior_puts_the_literatures_choice_first(profile, first, after) -> None:
    names = [prior.name for prior in rule_prior(profile)]
    assert names[0] == first
    assert names.index(first) < names.index(after)
    candidates = route(profile, budget_s=60, policy="rules")
    assert [c.name for c in candidates] == names
    assert candidates[0].expected_score == 1.0 and all(c.reason for c in candidates)


def test_intermittent_counts_suggest_deepar_with_a_negative_binomial() -> None:
    profile = series_profile(zero_ratio=0.6, adi=2.5)
    deepar = next(c for c in route(profile, 60, policy="rules") if c.name == "DeepAR")
    assert deepar.options["distribution"] == "NegativeBinomial"
    assert "intermittent demand" in deepar.reason and "Salinas" in deepar.reason


def test_default_policy_ignores_the_rules() -> None:
    names = [c.name for c in route(graph_profile(homophily=0.1), 60, policy="default")]
    assert names == ["GCN", "GAT", "GraphSAGE"]


def record_graph_tasks(history: History, winner: str, n_tasks: int = 6) -> None:
    """Workflow runs on homophilous graphs in which ``winner`` always has the best accuracy."""
    rng = np.random.default_rng(0)
    for task in range(n_tasks):
        profile = graph_profile(homophily=0.8 + 0.01 * task, num_nodes=2500 + 50 * task)
        parent = history.start_run("node classification", "workflow", data=f"graph-{task}")
        for model in ("GCN", "GAT", "GraphSAGE"):
            run = history.start_run("node classification", model, profile=profile, parent=parent)
            accuracy = 0.8 + (0.05 if model == winner else 0.0) + rng.normal(0, 0.005)
            history.finish_run(run, {"val_accuracy": accuracy})
        history.finish_run(parent)


def test_history_where_another_model_always_wins_changes_the_ranking(tmp_path) -> None:
    profile = graph_profile(homophily=0.82, num_nodes=2600)
    with History(path=tmp_path / "zen.db") as history:
        assert route(profile, 60, history, policy="learned")[0].name == "GCN"  # nothing learned
        record_graph_tasks(history, winner="GraphSAGE")
        learned = route(profile, 60, history, policy="learned")
        greedy = route(profile, 60, history, policy="learned", explore=0.0)
        rules = route(profile, 60, history, policy="rules")
    assert learned[0].name == "GraphSAGE" and greedy[0].name == "GraphSAGE"
    assert rules[0].name == "GCN"
    best = learned[0]
    assert best.n_similar > 3 and "similar runs" in best.reason
    # Evidence shrinks the uncertainty below what the prior alone has.
    prior_only = route(profile, 60, None, policy="learned")[0]
    assert best.uncertainty < prior_only.uncertainty
    assert best.expected_score < next(c for c in learned if c.name == "GCN").expected_score


def test_boosting_learner_learns_the_same_winner_and_gives_back_the_prior_without_history(
    tmp_path,
) -> None:
    profile = graph_profile(homophily=0.82, num_nodes=2600)
    empty = route(profile, 60, None, policy="learned", learner="boosting", explore=0.0)
    assert [c.expected_score for c in empty] == [
        c.expected_score for c in route(profile, 60, policy="rules")
    ]
    with History(path=tmp_path / "zen.db") as history:
        record_graph_tasks(history, winner="GraphSAGE")
        learned = route(profile, 60, history, policy="learned", learner="boosting", explore=0.0)
    assert learned[0].name == "GraphSAGE"
    assert "gradient boosting" in learned[0].reason
    assert learned[0].uncertainty > 0


def test_history_of_dissimilar_tasks_barely_moves_the_prior(tmp_path) -> None:
    with History(path=tmp_path / "zen.db") as history:
        record_graph_tasks(history, winner="GraphSAGE")
        # A heterophilous giant is far from the recorded citation graphs in feature space.
        other = graph_profile(homophily=0.05, num_nodes=2_000_000)
        candidates = route(other, 60, history, policy="learned", explore=0.0)
    assert all(c.n_similar < 0.5 for c in candidates)


def test_thompson_sampling_is_repeatable_with_a_seed_and_varies_across_seeds() -> None:
    profile = graph_profile(homophily=0.6)
    rankings = {
        seed: [c.name for c in route(profile, 60, policy="thompson", seed=seed)]
        for seed in range(20)
    }
    again = [c.name for c in route(profile, 60, policy="thompson", seed=3)]
    assert again == rankings[3]
    assert len({tuple(ranking) for ranking in rankings.values()}) > 1


def test_candidates_too_slow_for_the_budget_are_left_out(tmp_path) -> None:
    profile = graph_profile(homophily=0.8)
    with History(path=tmp_path / "zen.db") as history:
        parent = history.start_run("node classification", "workflow")
        for model, accuracy in (("GCN", 0.8), ("GAT", 0.82)):
            run = history.start_run("node classification", model, profile=profile, parent=parent)
            history.finish_run(run, {"val_accuracy": accuracy})
        runs = history.runs(status="done")
    # Durations measured in the test are ~0 s; pretend GAT took 10 minutes.
    slow = [r if r.model != "GAT" else type(r)(**{**r.to_json(), "duration_s": 600.0})
            for r in runs]  # fmt: skip
    names = [c.name for c in route(profile, 60, slow)]
    assert "GAT" not in names and names[0] == "GCN"
    assert "GAT" in [c.name for c in route(profile, 3600, slow)]


@pytest.mark.parametrize(
    ("metric", "values", "expected"),
    [
        ("mase", {"NHITS": 0.9, "Naive": 1.8}, {"NHITS": 1.0, "Naive": 2.0}),
        ("val_accuracy", {"GCN": 0.9, "GAT": 0.8}, {"GCN": 1.0, "GAT": 2.0}),
        ("accuracy", {"MLP": 1.0, "MLP-wide": 0.5}, {"MLP": 1.0, "MLP-wide": 10.0}),  # capped
    ],
)
def test_relative_scores_are_loss_ratios_to_the_best(metric, values, expected) -> None:
    assert relative_scores(values, metric) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: route(table_profile(10), 60, policy="oracle"), ConfigError, "policy: unknown"),
        (lambda: route(table_profile(10), 0), ConfigError, "budget_s: expected a positive"),
        (lambda: route(table_profile(10), 60, explore=-1), ConfigError, "explore:"),
        (lambda: route(table_profile(10), 60, learner="trees"), ConfigError, "learner: unknown"),
        (lambda: route(TaskProfile(kind="ranking", reason="", target="y", n_rows=1), 60),
         ConfigError, "no candidates for family 'ranking'"),
        (lambda: assign_policy("", ["a", "b"]), ConfigError, "run_key:"),
        (lambda: assign_policy("r", ["a"]), ConfigError, "policies:"),
        (lambda: compare_policies([], "regret"), ConfigError, "policies:"),
        (lambda: compare_policies([], "regret", ("a", "b")), DataError, "0 finished run"),
        (lambda: compare_policies([], "regret", ("a", "a")), ConfigError, "two different"),
        (lambda: compare_policies([], "regret", ("a", "b"), min_runs=1), ConfigError,
         "min_runs:"),
        (lambda: compare_policies([], "regret", method="bayes"), ConfigError, "method:"),
        (lambda: relative_scores({"a": 1.0}, "auc"), ConfigError, "metric: unknown"),
    ],
)  # fmt: skip
def test_bad_router_requests_name_the_argument(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()


def test_router_must_be_fitted_before_routing() -> None:
    from zen.errors import NotFittedError

    with pytest.raises(NotFittedError, match="fit"):
        Router().route(table_profile(10), 60)
