"""The simulator: actual run times decide time, predicted ones decide order, capacity holds."""

from __future__ import annotations

import random
from collections import defaultdict

import pytest

from zen import ConfigError
from zen.collective.cubes import Cube
from zen.collective.placement import NodeCapacity, StepDemand
from zen.collective.simulate import simulate


def demand(key: str, predicted_s: float, cpus: float = 1, memory_mib: float = 100,
           cube: str | None = None) -> StepDemand:  # fmt: skip
    return StepDemand(key, "MLP", cpus, memory_mib, cube, predicted_s)


def test_the_placer_sees_predictions_and_time_follows_actuals() -> None:
    nodes = [NodeCapacity("a", 1, 1024), NodeCapacity("b", 1, 1024)]
    # "long" is predicted short: cost placement starts it last and pays for the wrong prediction.
    wrong = [(demand("s1", 2), 1.0), (demand("s2", 2), 1.0), (demand("long", 1), 4.0)]
    right = [(demand(d.key, actual), actual) for d, actual in wrong]
    assert simulate(wrong, nodes, "cost").makespan_s == 5.0
    assert simulate(right, nodes, "cost").makespan_s == 4.0
    assert simulate(wrong, nodes, "fifo").makespan_s == 5.0


def test_every_step_runs_once_within_node_capacity_and_above_the_lower_bound() -> None:
    rng = random.Random(3)
    nodes = [NodeCapacity(f"n{i}", rng.choice([1, 2, 4]), rng.choice([2048, 8192]),
                          frozenset({"graph"}) if i % 4 == 0 else frozenset())
             for i in range(12)]  # fmt: skip
    steps = []
    for i in range(200):
        actual = rng.lognormvariate(0, 1)
        cube = "graph" if i % 5 == 0 else None
        predicted = actual * rng.uniform(0.5, 2)
        memory = rng.uniform(100, 2000)
        steps.append((demand(f"s{i}", predicted, rng.choice([1, 2]), memory, cube), actual))
    capacity = {n.name: n for n in nodes}
    for policy in ("cost", "fifo"):
        result = simulate(steps, nodes, policy, [Cube("graph", quota_cpus=6)])
        assert sorted(a.step.key for a in result.assignments) == sorted(d.key for d, _ in steps)
        by_node = defaultdict(list)
        for a in result.assignments:
            by_node[a.node].append(a)
            assert a.step.cube is None or a.step.cube in capacity[a.node].cubes
        for name, runs in by_node.items():
            for moment in {a.start_s for a in runs}:
                live = [a for a in runs if a.start_s <= moment < a.end_s]
                assert sum(a.step.cpus for a in live) <= capacity[name].cpus
                assert sum(a.step.memory_mib for a in live) <= capacity[name].memory_mib
        for moment in {a.start_s for a in result.assignments}:
            graph = [a for a in result.assignments
                     if a.step.cube == "graph" and a.start_s <= moment < a.end_s]  # fmt: skip
            assert sum(a.step.cpus for a in graph) <= 6
        work = sum(d.cpus * actual for d, actual in steps)
        assert result.makespan_s >= work / sum(n.cpus for n in nodes)
        assert 0 < result.utilisation <= 1
        assert result.to_json()["steps"] == 200


@pytest.mark.parametrize("actual", [-1.0, float("nan")])
def test_bad_actual_durations_are_named(actual: float) -> None:
    with pytest.raises(ConfigError, match=r"actual run time of step 'x'"):
        simulate([(demand("x", 1), actual)], [NodeCapacity("a", 1, 1024)])
