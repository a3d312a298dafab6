"""A discrete-event simulator of a cluster running steps, driven by the real placement code.

:func:`simulate` replays steps with their *actual* run times on simulated nodes: it submits every
step at time 0 to a :class:`~zen.collective.placement.Placer` (the same object, with the same
:class:`~zen.collective.cubes.Matron` queues and quotas, that the Queen drives on a real cluster),
starts what the Placer chooses, and each time a step ends frees its node and asks the Placer to
fill it again. The Placer only ever sees the *predicted* run times in ``StepDemand.predicted_s``;
the actual times decide when nodes free up. So the result measures what a policy gains with the
cost model's real errors, and running it with ``predicted_s`` equal to the actual time gives the
bound a perfect cost model would reach.

What it models: each node's CPUs and memory (a step holds its ``cpus`` and ``memory_mib`` until
it ends), cubes (a step with a cube runs only on that cube's nodes) and cube CPU quotas, priorities,
and steps that run for exactly their recorded duration, unaffected by what else runs on the node.

What it ignores: the network and data transfer (shipping a dataset or a model to a node costs
nothing), scheduling latency (the Queen decides instantly), contention between steps sharing a
node (memory bandwidth, caches), failures and retries, nodes joining or leaving mid-run, and steps
submitted over time (everything is submitted at 0).

>>> from zen.collective.placement import NodeCapacity, StepDemand
>>> nodes = [NodeCapacity("a", 1, 1024), NodeCapacity("b", 1, 1024)]
>>> steps = [(StepDemand(k, "MLP", 1, 10, None, predicted_s=p), actual)
...          for k, p, actual in [("x", 1, 1), ("y", 1, 1), ("z", 2, 2)]]
>>> simulate(steps, nodes, "cost").makespan_s, simulate(steps, nodes, "fifo").makespan_s
(2.0, 3.0)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from zen.collective.cubes import Cube
from zen.collective.placement import Assignment, NodeCapacity, Placer, StepDemand, run_schedule
from zen.errors import ConfigError


@dataclass(frozen=True)
class SimResult:
    """The outcome of one simulated run.

    Attributes:
        makespan_s: when the last step ended (all steps submitted at 0).
        policy: the placement policy simulated.
        assignments: every step with its node, start and end, in start order.
        busy_cpu_s: CPU-seconds the steps occupied.
        utilisation: ``busy_cpu_s`` over the cluster's CPUs times the makespan.
        mean_wait_s: mean time a step waited in its queue before starting.
        events: ``(kind, payload)`` events the placer raised (``"quota_exceeded"``).
    """

    makespan_s: float
    policy: str
    assignments: tuple[Assignment, ...]
    busy_cpu_s: float
    utilisation: float
    mean_wait_s: float
    events: tuple[tuple[str, dict[str, Any]], ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The summary numbers (not the assignments), for reports and benchmark files."""
        return {
            "policy": self.policy,
            "makespan_s": self.makespan_s,
            "steps": len(self.assignments),
            "busy_cpu_s": self.busy_cpu_s,
            "utilisation": self.utilisation,
            "mean_wait_s": self.mean_wait_s,
            "quota_events": len(self.events),
        }


def simulate(
    steps: Sequence[tuple[StepDemand, float]],
    nodes: Sequence[NodeCapacity],
    policy: str = "cost",
    cubes: Iterable[Cube] = (),
) -> SimResult:
    """Replay ``steps`` with their actual run times on ``nodes`` under ``policy``.

    Args:
        steps: ``(demand, actual_s)`` pairs in submission order; the placer sees only
            ``demand.predicted_s``, ``actual_s`` is how long the step really runs.
        nodes: the simulated cluster.
        policy: ``"cost"`` or ``"fifo"`` (see :mod:`zen.collective.placement`).
        cubes: cubes with quotas or specialities.

    Raises:
        PlacementError: a step fits no node.
        ConfigError: an actual run time is negative or not finite.
    """
    actual: dict[str, float] = {}
    for demand, seconds in steps:
        if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds >= 0):
            raise ConfigError(
                f"steps: actual run time of step {demand.key!r} must be a finite number of "
                f"seconds >= 0, got {seconds!r}"
            )
        actual[demand.key] = float(seconds)
    placer = Placer(nodes, policy, cubes)
    assignments = run_schedule(placer, [d for d, _ in steps], lambda step: actual[step.key])
    makespan = max((a.end_s for a in assignments), default=0.0)
    busy = sum((a.end_s - a.start_s) * a.step.cpus for a in assignments)
    capacity = sum(node.cpus for node in nodes) * makespan
    return SimResult(
        makespan_s=makespan,
        policy=policy,
        assignments=tuple(assignments),
        busy_cpu_s=busy,
        utilisation=busy / capacity if capacity > 0 else 0.0,
        mean_wait_s=sum(a.start_s for a in assignments) / len(assignments) if assignments else 0.0,
        events=tuple(placer.drain_events()),
    )
