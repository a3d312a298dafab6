"""Placement: cost and FIFO policies, cubes, quotas, refusal of steps that fit nowhere."""

from __future__ import annotations

import pytest

from zen import ConfigError, ZenError
from zen.collective.cost import Cost
from zen.collective.cubes import QUOTA_EXCEEDED, Cube, Matron
from zen.collective.placement import (
    NodeCapacity,
    PlacementError,
    Placer,
    StepDemand,
    nodes_from_ray,
    place,
)


def node(name: str, cpus: float = 1, memory_mib: float = 4096, *cubes: str) -> NodeCapacity:
    return NodeCapacity(name, cpus, memory_mib, frozenset(cubes))


def step(key: str, predicted_s: float = 1.0, cpus: float = 1, memory_mib: float = 100,
         cube: str | None = None, priority: int = 0) -> StepDemand:  # fmt: skip
    return StepDemand(key, "MLP", cpus, memory_mib, cube, predicted_s, priority)


def test_cost_starts_the_longest_first_and_beats_fifo() -> None:
    steps = [step("a", 1), step("b", 1), step("c", 1), step("d", 3)]
    nodes = [node("n1"), node("n2")]
    cost, fifo = place(steps, nodes, "cost"), place(steps, nodes, "fifo")
    assert cost.order[0] == "d"
    assert fifo.order == ["a", "b", "c", "d"]
    assert (cost.makespan_s, fifo.makespan_s) == (3.0, 4.0)


def test_priority_comes_before_run_time() -> None:
    plan = place([step("long", 9), step("urgent", 1, priority=1)], [node("n1")], "cost")
    assert plan.order == ["urgent", "long"]


def test_cube_steps_run_only_on_cube_nodes_and_others_keep_off_them() -> None:
    nodes = [node("graph-1", 1, 4096, "graph"), node("plain-1"), node("plain-2")]
    steps = [step("t1", 5), step("t2", 5), step("g1", 2, cube="graph"), step("g2", 2, cube="graph")]
    plan = place(steps, nodes, "cost")
    assert {plan.node_of("g1"), plan.node_of("g2")} == {"graph-1"}
    assert {plan.node_of("t1"), plan.node_of("t2")} == {"plain-1", "plain-2"}
    # FIFO fills the first node with room, the graph node included, and the graph steps wait.
    assert (place(steps, nodes, "fifo").makespan_s, plan.makespan_s) == (9.0, 5.0)


def test_cube_less_steps_do_not_take_a_cube_node_its_own_steps_wait_for() -> None:
    nodes = [node("graph-1", 1, 4096, "graph"), node("plain-1")]
    steps = [step("t1", 5), step("t2", 4), step("g1", 3, cube="graph"), step("g2", 3, cube="graph")]
    plan = place(steps, nodes, "cost")
    # Optimal: both graph steps back to back on the graph node, t2 after t1 on the plain one.
    assert plan.makespan_s == 9.0
    assert plan.node_of("t2") == "plain-1"


def test_a_cube_node_is_kept_only_for_waiting_steps_it_could_hold() -> None:
    nodes = [
        node("graph-small", 1, 8192, "graph"),
        node("graph-wide", 2, 4096, "graph"),
        node("plain", 1, 2048),
    ]
    steps = [
        step("g0", 10, cpus=2, cube="graph"),
        step("g1", 5, cpus=2, cube="graph"),  # waits for graph-wide, cannot use graph-small
        step("big-plain", 1, memory_mib=6000),  # only graph-small has the memory
    ]
    plan = place(steps, nodes, "cost")
    assert (plan.node_of("big-plain"), plan.makespan_s) == ("graph-small", 15.0)
    assert next(a.start_s for a in plan.assignments if a.step.key == "big-plain") == 0.0


def test_memory_is_respected_as_well_as_cpus() -> None:
    plan = place([step("x", 1, memory_mib=3000), step("y", 1, memory_mib=3000)],
                 [node("n1", cpus=2, memory_mib=4096)])  # fmt: skip
    starts = sorted(a.start_s for a in plan.assignments)
    assert starts == [0.0, 1.0]


@pytest.mark.parametrize(
    ("demand", "message"),
    [
        (step("huge", cpus=16), r"'huge'.*16 CPUs.*largest, 'big', has 8 CPUs"),
        (step("fat", memory_mib=100_000), r"'fat'.*100000 MiB.*largest, 'big'"),
        (step("gpu-step", cube="gpu"), r"'gpu-step'.*cube 'gpu'.*none is known"),
    ],
)
def test_a_step_that_fits_no_node_is_refused_up_front(demand: StepDemand, message: str) -> None:
    placer = Placer([node("small", 2, 4096), node("big", 8, 32768)])
    with pytest.raises(PlacementError, match=message):
        placer.submit([step("fine"), demand])
    assert placer.pending == 0  # nothing of the refused submission was queued
    assert issubclass(PlacementError, ZenError)


def test_a_full_cube_queues_and_reports_quota_exceeded() -> None:
    nodes = [node("g1", 1, 4096, "graph"), node("g2", 1, 4096, "graph")]
    cubes = [Cube("graph", "graph neural networks", quota_cpus=1)]
    plan = place([step("a", 2, cube="graph"), step("b", 1, cube="graph")], nodes, "cost", cubes)
    assert [(a.step.key, a.start_s) for a in plan.assignments] == [("a", 0.0), ("b", 2.0)]
    [(kind, payload)] = plan.events
    assert kind == QUOTA_EXCEEDED == "quota_exceeded"
    assert payload["cube"] == "graph" and payload["step"] == "b"
    assert payload["reason"].startswith("quota_exceeded: cube 'graph' has 1 of 1 CPUs in use")


def test_placer_is_incremental_as_nodes_free_up_join_and_leave() -> None:
    placer = Placer([node("n1"), node("n2")], "cost")
    assert placer.submit([step("a", 5), step("b", 3), step("c", 1)]) == []
    assert [(s.key, n) for s, n in placer.next_for()] == [("a", "n1"), ("b", "n2")]
    assert placer.next_for() == []  # no room left
    assert placer.done("b") == "n2"
    assert [(s.key, n) for s, n in placer.next_for(["n2"])] == [("c", "n2")]
    assert [s.key for s in placer.remove_node("n1")] == ["a"]  # lost with its node
    placer.add_node(node("n3"))
    placer.submit([step("a", 5)])  # the Queen retries it
    assert [(s.key, n) for s, n in placer.next_for(["n3"])] == [("a", "n3")]
    assert placer.load()["default"] == {
        "queued": 0, "running": 2, "cpus_in_use": 2.0, "quota_cpus": None,
    }  # fmt: skip


def test_matron_orders_by_priority_then_longest_and_fifo_by_submission() -> None:
    steps = [step("short", 1), step("long", 9), step("urgent", 2, priority=5)]
    cost, fifo = Matron(Cube("c"), "cost"), Matron(Cube("c"), "fifo")
    for s in steps:
        assert cost.admit(s) and fifo.admit(s)
    assert [s.key for s in cost.queued()] == ["urgent", "long", "short"]
    assert [s.key for s in fifo.queued()] == ["short", "long", "urgent"]
    cost.start(steps[1])
    assert cost.load() == {"queued": 2, "running": 1, "cpus_in_use": 1.0, "quota_cpus": None}


def test_matron_refuses_a_step_bigger_than_its_quota() -> None:
    matron = Matron(Cube("graph", quota_cpus=2))
    with pytest.raises(PlacementError, match=r"'wide'.*4 CPUs.*quota of 2"):
        matron.admit(step("wide", cpus=4, cube="graph"))


def test_matron_admit_says_false_when_the_cube_is_full() -> None:
    matron = Matron(Cube("graph", quota_cpus=1))
    first = step("a", cube="graph")
    assert matron.admit(first)
    matron.start(first)
    assert not matron.admit(step("b", cube="graph"))
    assert matron.quota_reason(step("b", cube="graph")) is not None


@pytest.mark.parametrize(
    ("build", "names"),
    [
        (lambda: place([step("a")], [node("n")], policy="random"), "policy"),
        (lambda: Placer([node("n")]).submit([step("a"), step("a")]), "submitted twice"),
        (lambda: step("a", cpus=0), "cpus"),
        (lambda: step("a", predicted_s=float("inf")), "predicted_s"),
        (lambda: NodeCapacity("n", 0, 1024), "cpus"),
        (lambda: Cube("c", quota_cpus=0), "quota_cpus"),
        (lambda: Placer([node("n")]).done("ghost"), "ghost"),
    ],
)
def test_bad_arguments_are_named(build, names: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=names):
        build()


def test_nodes_from_ray_reads_cpus_memory_and_cubes_of_live_nodes() -> None:
    ray_nodes = [
        {"NodeID": "head", "Alive": True, "Resources": {"CPU": 1.0, "memory": 2**30}},
        {"NodeID": "w1", "Alive": True,
         "Resources": {"CPU": 1.0, "memory": 2**31, "cube_graph": 1.0, "node:10.0.0.2": 1.0}},
        {"NodeID": "gone", "Alive": False, "Resources": {"CPU": 8.0, "memory": 2**33}},
    ]  # fmt: skip
    assert nodes_from_ray(ray_nodes) == [
        NodeCapacity("head", 1.0, 1024.0),
        NodeCapacity("w1", 1.0, 2048.0, frozenset({"graph"})),
    ]


def test_step_demand_from_cost_takes_time_and_memory_from_the_prediction() -> None:
    demand = StepDemand.from_cost("k", "GCN", Cost(3.0, 700.0, known=False), cpus=2, cube="graph")
    assert (demand.predicted_s, demand.memory_mib, demand.cpus, demand.cube) == (
        3.0,
        700.0,
        2,
        "graph",
    )
