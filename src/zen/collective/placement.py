"""Placement: which step runs on which node, and in which order.

A workflow hands the Queen many steps (candidate fits, tuning trials); each says what it needs
(:class:`StepDemand`: CPUs, memory, an optional cube, a predicted run time from
:class:`~zen.collective.cost.CostModel`), and each node says what it has (:class:`NodeCapacity`).
The :class:`Placer` decides, each time nodes have room, which queued steps start where:

* ``"cost"``: highest priority first, then the longest predicted step first, onto the node of the
  step's cube that it fits most tightly (best fit), keeping cube nodes for their speciality when a
  plain node has room. Starting the long steps first is longest-processing-time-first list
  scheduling (Graham 1969): no long step is left to start last and stretch the makespan.
* ``"fifo"``: submission order, first node with room: what Ray does by default.

Both policies skip a step that does not fit now and start a later one that does (backfilling).
A step that fits no node at all (too many CPUs or too much memory for every node of its cube, or a
cube no node belongs to) is refused up front with a :class:`PlacementError`, instead of waiting
forever.

:func:`place` plans a whole batch ahead of time by running the Placer on the predicted run times;
the real Queen drives the same Placer incrementally (:meth:`Placer.submit`,
:meth:`Placer.next_for` as nodes free up, :meth:`Placer.done`), and
:func:`zen.collective.simulate.simulate` replays it with actual run times.

>>> nodes = [NodeCapacity("a", cpus=1, memory_mib=1024), NodeCapacity("b", cpus=1, memory_mib=1024)]
>>> steps = [StepDemand(k, "MLP", 1, 100, None, s) for k, s in [("x", 1), ("y", 1), ("z", 2)]]
>>> plan = place(steps, nodes, policy="cost")
>>> [(a.step.key, a.node, a.start_s) for a in plan.assignments]
[('z', 'a', 0.0), ('x', 'b', 0.0), ('y', 'b', 1.0)]
>>> plan.makespan_s, place(steps, nodes, policy="fifo").makespan_s
(2.0, 3.0)
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from zen.collective.cubes import POLICIES, QUOTA_EXCEEDED, Cube, Matron
from zen.errors import ConfigError, ZenError, expect_one_of

#: The cube of steps that need no speciality; they may run on any node.
DEFAULT_CUBE = "default"


class PlacementError(ZenError):
    """A step can never be placed: no node (of its cube) is big enough for it."""


@dataclass(frozen=True)
class NodeCapacity:
    """What one node offers to steps.

    Args:
        name: the node's name (Ray node id or host name).
        cpus: CPUs steps may use on it.
        memory_mib: memory steps may use on it, in MiB.
        cubes: the cubes the node belongs to (Ray custom resources ``cube_<name>``).
    """

    name: str
    cpus: float
    memory_mib: float
    cubes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.cpus > 0 or not self.memory_mib > 0:
            raise ConfigError(
                f"NodeCapacity: node {self.name!r} needs positive cpus and memory_mib, got "
                f"cpus={self.cpus!r}, memory_mib={self.memory_mib!r}"
            )
        object.__setattr__(self, "cubes", frozenset(self.cubes))


@dataclass(frozen=True)
class StepDemand:
    """What one step needs, and how long it is expected to take.

    Args:
        key: unique name of the step within a submission (e.g. ``"fit/NHITS/3"``).
        model: the model family it trains (for messages and the cost model).
        cpus: CPUs it occupies while it runs.
        memory_mib: its predicted peak memory, in MiB.
        cube: the cube whose nodes it must run on; None: any node.
        predicted_s: its predicted run time in seconds (``CostModel.predict(...).seconds``).
        priority: higher starts earlier, before any run-time consideration.
    """

    key: str
    model: str
    cpus: float
    memory_mib: float
    cube: str | None
    predicted_s: float
    priority: int = 0

    def __post_init__(self) -> None:
        if not self.cpus > 0:
            raise ConfigError(
                f"StepDemand.cpus: step {self.key!r} needs cpus > 0, got {self.cpus!r}"
            )
        if not self.memory_mib >= 0:
            raise ConfigError(
                f"StepDemand.memory_mib: step {self.key!r} needs memory_mib >= 0, "
                f"got {self.memory_mib!r}"
            )
        if not (self.predicted_s >= 0 and math.isfinite(self.predicted_s)):
            raise ConfigError(
                f"StepDemand.predicted_s: step {self.key!r} needs a finite run time >= 0 s, "
                f"got {self.predicted_s!r}"
            )


@dataclass(frozen=True)
class Assignment:
    """One step on one node; ``start_s``/``end_s`` are planned (predicted) or replayed times."""

    step: StepDemand
    node: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Plan:
    """The order and node of each step, with the times the plan expects.

    Attributes:
        assignments: in start order.
        policy: the policy that made the plan.
        events: ``(kind, payload)`` events raised while planning (``"quota_exceeded"``).
    """

    assignments: tuple[Assignment, ...]
    policy: str
    events: tuple[tuple[str, dict[str, Any]], ...] = ()

    @property
    def makespan_s(self) -> float:
        """When the last step ends, from the start of the first."""
        return max((a.end_s for a in self.assignments), default=0.0)

    @property
    def order(self) -> list[str]:
        """The step keys in start order."""
        return [a.step.key for a in self.assignments]

    def node_of(self, key: str) -> str:
        """The node step ``key`` runs on."""
        for assignment in self.assignments:
            if assignment.step.key == key:
                return assignment.node
        raise ConfigError(f"key: no step {key!r} in this plan")


@dataclass
class _NodeState:
    capacity: NodeCapacity
    free_cpus: float
    free_memory_mib: float
    running: set[str] = field(default_factory=set)

    def fits(self, step: StepDemand) -> bool:
        # A tolerance so that fractional CPUs summing to a whole node still fit.
        return (
            step.cpus <= self.free_cpus + 1e-9
            and step.memory_mib <= self.free_memory_mib + 1e-6
            and (step.cube is None or step.cube in self.capacity.cubes)
        )


class Placer:
    """Incremental placement: submit steps, ask what to start as nodes free up, report ends.

    The Placer keeps one :class:`~zen.collective.cubes.Matron` per cube (steps without a cube go
    to :data:`DEFAULT_CUBE`) and the free CPUs and memory of every node, counting what it started.

    Args:
        nodes: the nodes of the cluster.
        policy: ``"cost"`` or ``"fifo"`` (see the module docstring).
        cubes: cubes with a speciality or a quota; a cube named by a node or a step but not given
            here gets no quota.
    """

    def __init__(
        self, nodes: Sequence[NodeCapacity], policy: str = "cost", cubes: Iterable[Cube] = ()
    ) -> None:
        if policy not in POLICIES:
            raise expect_one_of("policy", policy, POLICIES)
        self.policy = policy
        self._nodes: dict[str, _NodeState] = {}
        for node in nodes:
            self.add_node(node)
        self._matrons: dict[str, Matron] = {}
        for cube in cubes:
            self._matrons[cube.name] = Matron(cube, policy)
        self._where: dict[str, tuple[str, str]] = {}  # running step key -> (cube, node)
        self._steps: dict[str, StepDemand] = {}
        self._sequence = itertools.count()
        self._events: list[tuple[str, dict[str, Any]]] = []

    # -- the cluster -------------------------------------------------------------------------
    def add_node(self, node: NodeCapacity) -> None:
        """A node joined (or came back): it can take steps from now on."""
        if node.name in self._nodes:
            raise ConfigError(f"node.name: node {node.name!r} is already known")
        self._nodes[node.name] = _NodeState(node, node.cpus, node.memory_mib)

    def remove_node(self, name: str) -> list[StepDemand]:
        """A node left or died: forget it and return the steps that were running on it.

        The returned steps are released from their cube; :meth:`submit` them again to retry.
        """
        state = self._nodes.pop(name, None)
        if state is None:
            raise ConfigError(f"name: no node {name!r}; known: {', '.join(self._nodes) or 'none'}")
        lost = []
        for key in sorted(state.running):
            cube, _ = self._where.pop(key)
            lost.append(self._matrons[cube].finish(key))
            self._steps.pop(key, None)
        return lost

    @property
    def nodes(self) -> list[NodeCapacity]:
        """The nodes currently known."""
        return [state.capacity for state in self._nodes.values()]

    # -- steps ----------------------------------------------------------------------------------
    def submit(self, steps: Iterable[StepDemand]) -> list[str]:
        """Queue ``steps``; returns the ``"quota_exceeded"`` reasons of steps whose cube is full.

        Raises:
            PlacementError: a step fits no node at all; nothing of this call is queued then.
            ConfigError: a step key is already queued or running.
        """
        steps = list(steps)
        seen: set[str] = set()
        for step in steps:
            if step.key in self._steps or step.key in seen:
                raise ConfigError(f"step.key: {step.key!r} is submitted twice")
            seen.add(step.key)
            self._check_fits_somewhere(step)
        reasons = []
        for step in steps:
            matron = self._matron(step.cube)
            self._steps[step.key] = step
            if not matron.admit(step, next(self._sequence)):
                reason = matron.quota_reason(step)
                if reason is not None:
                    reasons.append(reason)
                    self._report_quota(matron, step, reason)
        return reasons

    def next_for(self, free_nodes: Iterable[str] | None = None) -> list[tuple[StepDemand, str]]:
        """Start what fits now: ``[(step, node name)]`` in start order.

        Args:
            free_nodes: the nodes to fill (those that just freed up or joined); None: all nodes.
                Restricting the call to them keeps each decision cheap on large clusters.
        """
        names = list(self._nodes) if free_nodes is None else list(free_nodes)
        candidates = [self._nodes[n] for n in names if n in self._nodes]
        candidates = [s for s in candidates if s.free_cpus > 1e-9]
        if not candidates:
            return []
        started: list[tuple[StepDemand, str]] = []
        # A step that found no node rules out, for this call, every step of its cube that needs
        # at least as many CPUs and as much memory: without this, a long queue on a large
        # cluster would try every node for every step.
        no_room: dict[str | None, list[tuple[float, float]]] = {}
        for step in self._queued_in_order():
            failed = no_room.get(step.cube, [])
            if any(step.cpus >= c and step.memory_mib >= m for c, m in failed):
                continue
            matron = self._matron(step.cube)
            if not matron.has_room(step):
                reason = matron.quota_reason(step)
                if reason is not None:
                    self._report_quota(matron, step, reason)
                continue
            node = self._choose(step, candidates)
            if node is None:
                no_room.setdefault(step.cube, []).append((step.cpus, step.memory_mib))
                continue
            matron.start(step)
            node.free_cpus -= step.cpus
            node.free_memory_mib -= step.memory_mib
            node.running.add(step.key)
            self._where[step.key] = (matron.cube.name, node.capacity.name)
            started.append((step, node.capacity.name))
            candidates = [s for s in candidates if s.free_cpus > 1e-9]
            if not candidates:
                break
        return started

    def done(self, key: str) -> str:
        """Step ``key`` ended (finished or failed): free its node; returns the node's name."""
        where = self._where.pop(key, None)
        if where is None:
            raise ConfigError(f"key: step {key!r} is not running")
        cube, node_name = where
        step = self._matrons[cube].finish(key)
        self._steps.pop(key, None)
        node = self._nodes.get(node_name)
        if node is not None:
            node.free_cpus = min(node.capacity.cpus, node.free_cpus + step.cpus)
            node.free_memory_mib = min(
                node.capacity.memory_mib, node.free_memory_mib + step.memory_mib
            )
            node.running.discard(key)
        return node_name

    def load(self) -> dict[str, dict[str, Any]]:
        """Each cube's :meth:`Matron.load`, by cube name."""
        return {name: matron.load() for name, matron in self._matrons.items()}

    @property
    def has_quotas(self) -> bool:
        """Whether any cube has a CPU quota (then a step's end can unblock any node)."""
        return any(m.cube.quota_cpus is not None for m in self._matrons.values())

    @property
    def pending(self) -> int:
        """How many steps are queued, not started yet."""
        return sum(matron.load()["queued"] for matron in self._matrons.values())

    @property
    def running(self) -> int:
        """How many steps are started and not done."""
        return len(self._where)

    def drain_events(self) -> list[tuple[str, dict[str, Any]]]:
        """The events raised since the last call (``("quota_exceeded", payload)``), oldest first."""
        events, self._events = self._events, []
        return events

    # -- internals ------------------------------------------------------------------------------
    def _matron(self, cube: str | None) -> Matron:
        name = DEFAULT_CUBE if cube is None else cube
        matron = self._matrons.get(name)
        if matron is None:
            matron = self._matrons[name] = Matron(Cube(name), self.policy)
        return matron

    def _queued_in_order(self) -> list[StepDemand]:
        # Each Matron's queue is sorted by the same kind of key, so a merge keeps the policy's
        # order across cubes; a list, because starting a step changes the queues.
        queues = [m.queue_entries() for m in self._matrons.values()]
        return [step for _, step in heapq.merge(*queues, key=lambda entry: entry[0])]

    def _choose(self, step: StepDemand, candidates: list[_NodeState]) -> _NodeState | None:
        fitting = [state for state in candidates if state.fits(step)]
        if not fitting:
            return None
        if self.policy == "fifo":
            return fitting[0]
        # Plain nodes before cube nodes for cube-less steps (keep specialists free), then the
        # tightest fit in CPUs and memory so big nodes stay free for big steps.
        key: Callable[[_NodeState], tuple[float, ...]] = lambda s: (  # noqa: E731
            len(s.capacity.cubes) if step.cube is None else 0,
            s.free_cpus - step.cpus,
            s.free_memory_mib - step.memory_mib,
        )
        return min(fitting, key=key)

    def _check_fits_somewhere(self, step: StepDemand) -> None:
        if step.cube is not None and self._matron(step.cube).cube.quota_cpus is not None:
            quota = self._matron(step.cube).cube.quota_cpus
            if quota is not None and step.cpus > quota:
                raise PlacementError(
                    f"step {step.key!r} ({step.model}) needs {step.cpus:g} CPUs but cube "
                    f"{step.cube!r} has a quota of {quota:g} CPUs; raise the quota or ask for fewer"
                )
        eligible = [
            n.capacity
            for n in self._nodes.values()
            if step.cube is None or step.cube in n.capacity.cubes
        ]
        if any(
            step.cpus <= n.cpus + 1e-9 and step.memory_mib <= n.memory_mib + 1e-6 for n in eligible
        ):
            return
        where = "any node" if step.cube is None else f"any node of cube {step.cube!r}"
        if not eligible:
            raise PlacementError(
                f"step {step.key!r} ({step.model}) needs {where}, and none is known; "
                f"add a node with the resource 'cube_{step.cube}' or drop the cube"
            )
        largest = max(eligible, key=lambda n: (n.cpus, n.memory_mib))
        raise PlacementError(
            f"step {step.key!r} ({step.model}) needs {step.cpus:g} CPUs and "
            f"{step.memory_mib:.0f} MiB, more than {where} offers; the largest, {largest.name!r}, "
            f"has {largest.cpus:g} CPUs and {largest.memory_mib:.0f} MiB"
        )

    def _report_quota(self, matron: Matron, step: StepDemand, reason: str) -> None:
        self._events.append(
            (
                QUOTA_EXCEEDED,
                {"cube": matron.cube.name, "step": step.key, "model": step.model, "reason": reason}
                | {k: v for k, v in matron.load().items() if k in ("cpus_in_use", "quota_cpus")},
            )
        )


def run_schedule(
    placer: Placer,
    steps: Sequence[StepDemand],
    duration_s: Callable[[StepDemand], float],
) -> list[Assignment]:
    """Drive ``placer`` through ``steps`` in simulated time, each step taking ``duration_s(step)``.

    The event loop shared by :func:`place` (predicted durations) and
    :func:`zen.collective.simulate.simulate` (actual durations): submit everything at time 0,
    start what fits, and each time a step ends, free its node and fill that node again.
    """
    placer.submit(steps)
    assignments: list[Assignment] = []
    ends: list[tuple[float, int, str]] = []  # (end time, tie-break, step key)
    counter = itertools.count()
    now = 0.0
    free: list[str] | None = None  # None: every node, for the first call
    while True:
        for step, node in placer.next_for(free):
            end = now + duration_s(step)
            assignments.append(Assignment(step, node, now, end))
            heapq.heappush(ends, (end, next(counter), step.key))
        if not ends:
            break
        now, _, key = heapq.heappop(ends)
        freed = {placer.done(key)}
        # Steps ending at the same instant free their nodes together, so the policy chooses among
        # all of them rather than the first one popped.
        while ends and ends[0][0] <= now:
            freed.add(placer.done(heapq.heappop(ends)[2]))
        # A cube under quota may now start a step on a node that did not just free up.
        free = None if placer.has_quotas else sorted(freed, key=_node_order(placer))
    if placer.pending:
        # Unreachable by construction (submit refuses what fits nowhere); kept as a guard
        # against an endless plan if a quota makes a step wait forever.
        raise PlacementError(f"{placer.pending} step(s) could never start")
    return assignments


def _node_order(placer: Placer) -> Callable[[str], int]:
    position = {node.name: i for i, node in enumerate(placer.nodes)}
    return lambda name: position.get(name, len(position))


def place(
    steps: Sequence[StepDemand],
    nodes: Sequence[NodeCapacity],
    policy: str = "cost",
    cubes: Iterable[Cube] = (),
) -> Plan:
    """Plan where and in which order ``steps`` run on ``nodes``, from their predicted run times.

    Args:
        steps: the steps, in submission order.
        nodes: the cluster's nodes.
        policy: ``"cost"`` (priority, then longest predicted first, best-fit node of the step's
            cube) or ``"fifo"`` (submission order, first node with room).
        cubes: cubes with quotas or specialities (see :class:`~zen.collective.cubes.Cube`).

    Returns:
        The plan; its times are predictions (``StepDemand.predicted_s``).

    Raises:
        PlacementError: a step fits no node (named in the message, with the largest node).
    """
    placer = Placer(nodes, policy, cubes)
    assignments = run_schedule(placer, steps, lambda step: step.predicted_s)
    return Plan(tuple(assignments), policy, tuple(placer.drain_events()))
