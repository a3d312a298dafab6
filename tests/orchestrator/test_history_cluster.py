"""One History for a cluster: runs written by several nodes into one PostgreSQL database, and a
router that learns from all of them."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest

from zen.orchestrator.history import History
from zen.orchestrator.meta_learning import observations_from_runs
from zen.orchestrator.profile import TaskProfile
from zen.orchestrator.router import route


def graph_profile(homophily: float, num_nodes: int) -> TaskProfile:
    return TaskProfile(kind="node classification", reason="", target="y", n_rows=num_nodes,
                       layout="graph", num_nodes=num_nodes, homophily=homophily, n_classes=7,
                       num_node_features=1433, mean_degree=3.9)  # fmt: skip


def _record_candidates(url: str, node: str, first_task: int, barrier) -> None:
    """A node's workflow runs on homophilous graphs where GraphSAGE always wins (at module level
    so that spawn can import it)."""
    rng = np.random.default_rng(first_task)
    with History(url) as history:
        barrier.wait()
        for task in range(first_task, first_task + 3):
            profile = graph_profile(0.8 + 0.01 * task, 2500 + 50 * task)
            with history.record("node classification", "workflow", data=f"graph-{task}") as flow:
                flow.node = node
                for model in ("GCN", "GAT", "GraphSAGE"):
                    with history.record(
                        "node classification", model, profile=profile, parent=flow.id
                    ) as run:
                        run.node, run.attempts = node, 1
                        bonus = 0.05 if model == "GraphSAGE" else 0.0
                        run.metrics["val_accuracy"] = 0.8 + bonus + rng.normal(0, 0.005)


@pytest.mark.slow  # two fresh interpreters importing zen: ~25 s on two shared cores
def test_the_router_learns_from_the_candidate_runs_of_every_node(fresh_postgres) -> None:
    History(fresh_postgres).close()  # migrated once, so the nodes race on runs only
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    nodes = [
        context.Process(
            target=_record_candidates, args=(fresh_postgres, f"node-{i}", 3 * i, barrier)
        )
        for i in range(2)
    ]
    for node in nodes:
        node.start()
    for node in nodes:
        node.join(timeout=120)
    assert [node.exitcode for node in nodes] == [0, 0]

    profile = graph_profile(homophily=0.82, num_nodes=2600)
    with History(fresh_postgres) as history:
        runs = history.runs(status="done")
        learned = route(profile, 60, history, policy="learned", explore=0.0)
        one_node = route(profile, 60, [r for r in runs if r.node == "node-0"], policy="learned",
                         explore=0.0)  # fmt: skip
    observations = observations_from_runs(runs)
    by_node = {run.id: run.node for run in runs}
    assert {by_node[o.run_id] for o in observations} == {"node-0", "node-1"}
    assert len({o.task for o in observations}) == 6  # three tasks from each node
    assert learned[0].name == "GraphSAGE"
    # Both nodes' evidence counts: more similar runs than one node alone gives.
    assert learned[0].n_similar > one_node[0].n_similar
    assert rules_first(profile) == "GCN"  # what the router would say without History


def rules_first(profile: TaskProfile) -> str:
    return route(profile, 60, policy="rules")[0].name
