"""A job's random routing is seeded by the run: its A/B draw and its exploration differ from run
to run whatever ``--seed`` says, and a run resumed after a crash keeps both."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from zen.orchestrator.history import History
from zen.orchestrator.orchestration import (
    RUN_KEY_FILE,
    exploration_seed,
    run_key,
    start_job,
    trained_device,
)
from zen.orchestrator.profile import TaskProfile
from zen.orchestrator.router import POLICY_KEY, RANDOMISED_KEY, route

GRAPH_MODELS = {"GCN", "GAT", "GraphSAGE"}


def graph_profile() -> TaskProfile:
    """A graph on which the rules barely prefer one architecture: the posterior is wide."""
    return TaskProfile(kind="node classification", reason="", target="y", n_rows=2708,
                       layout="graph", num_nodes=2708, homophily=0.6, n_classes=7,
                       num_node_features=1433, mean_degree=3.9)  # fmt: skip


def job_settings(tmp_path, policy: str, task: int, **changes: Any) -> dict[str, Any]:
    """start_job's arguments for one job; the same ``task`` makes the same content key."""
    settings = dict(budget_s=60.0, policy=policy, seed=0, source="graph", runs_dir=tmp_path,
                    settings={}, key_parts={"task": task}, resume=True, tune=False)  # fmt: skip
    return {**settings, **changes}


def test_thompson_runs_with_the_same_seed_draw_different_rankings(tmp_path) -> None:
    firsts = []
    for task in range(40):
        settings = job_settings(tmp_path, "thompson", task)
        with start_job(graph_profile(), GRAPH_MODELS, **settings) as job:
            firsts.append(job.candidates[0].name)
        seed = exploration_seed(job.run_key)
        with History() as history:
            assert history.get(job.run.id).hyperparameters["explore_seed"] == seed
            again = route(graph_profile(), 60, history, "thompson", seed=seed)
        assert [c.name for c in again] == [c.name for c in job.candidates]
    counts = Counter(firsts)
    # Each run explores: the prior's favourite leads often, the others lead too.
    assert len(counts) >= 2 and counts.most_common(1)[0][1] <= 36


@pytest.mark.parametrize("policy", ["ab", "thompson"])
def test_a_resumed_run_keeps_its_policy_and_its_draw(tmp_path, policy) -> None:
    for task in range(8):
        settings = job_settings(tmp_path, policy, task)
        with pytest.raises(KeyboardInterrupt), start_job(graph_profile(), GRAPH_MODELS,
                                                         **settings) as crashed:  # fmt: skip
            raise KeyboardInterrupt
        with start_job(graph_profile(), GRAPH_MODELS, **settings) as resumed:
            assert resumed.run_id != crashed.run_id and resumed.run_key == crashed.run_key
            assert resumed.policy == crashed.policy
            assert resumed.candidates == crashed.candidates
        with History() as history:
            recorded = history.get(resumed.run.id).hyperparameters
        assert recorded[RANDOMISED_KEY] is (policy == "ab")
        assert recorded[POLICY_KEY] == resumed.policy


def test_a_fresh_start_draws_a_fresh_key(tmp_path) -> None:
    settings = job_settings(tmp_path, "ab", 0)
    with pytest.raises(KeyboardInterrupt), start_job(graph_profile(), GRAPH_MODELS,
                                                     **settings) as crashed:  # fmt: skip
        raise KeyboardInterrupt
    fresh = {**settings, "resume": False}
    with start_job(graph_profile(), GRAPH_MODELS, **fresh) as restarted:
        assert restarted.run_key == restarted.run_id != crashed.run_key


def test_run_key_is_kept_in_the_scratch_directory_and_ignores_junk(tmp_path) -> None:
    assert run_key(tmp_path, "20261206-010000-aaaa") == "20261206-010000-aaaa"
    assert run_key(tmp_path, "20261206-020000-bbbb") == "20261206-010000-aaaa"
    (tmp_path / RUN_KEY_FILE).write_text("../../etc/passwd\n")
    assert run_key(tmp_path, "20261206-030000-cccc") == "20261206-030000-cccc"


def test_exploration_seeds_differ_between_runs_and_suit_scikit_learn() -> None:
    seeds = {exploration_seed(f"20261206-0100{i:02d}-abcd") for i in range(100)}
    assert len(seeds) == 100 and all(0 <= seed < 2**32 for seed in seeds)


def test_trained_device_is_where_the_parameters_are() -> None:
    torch = pytest.importorskip("torch")
    assert trained_device(torch.nn.Linear(3, 2, device="meta")) == "meta"
    assert trained_device(torch.nn.Linear(3, 2)) == "cpu"
    assert trained_device(torch.nn.BatchNorm1d(3, affine=False, device="meta")) == "meta"
    assert trained_device(None) == "cpu"  # a statistical baseline computes on the CPU
