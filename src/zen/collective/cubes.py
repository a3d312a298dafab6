"""Cubes and Matrons: groups of nodes with a speciality, and the queue that guards each one.

A :class:`Cube` is a named group of nodes that share a speciality (``graph``, ``gpu``, ...); on Ray
a node joins a cube through a custom resource ``cube_<name>``. Its :class:`Matron` holds the steps
waiting for the cube, in the order they should start, and keeps the cube within its CPU quota: a
step that would push the cube past its quota stays queued, and the Matron says why with a
``"quota_exceeded"`` reason that the Queen publishes as an event.

The queue order is the placement policy: ``"cost"`` starts the highest ``priority`` first and,
within one priority, the longest predicted step first (longest-processing-time-first list
scheduling, Graham 1969, which bounds the makespan by 4/3 of the optimum on identical machines);
``"fifo"`` starts steps in submission order, as Ray does by default.

>>> matron = Matron(Cube("graph", quota_cpus=2))
>>> from zen.collective.placement import StepDemand
>>> matron.admit(StepDemand("a", "GCN", 1, 100, "graph", predicted_s=5.0))
True
>>> matron.admit(StepDemand("b", "GAT", 1, 100, "graph", predicted_s=9.0))
True
>>> [step.key for step in matron.queued()]
['b', 'a']
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zen.errors import ConfigError, expect_one_of

if TYPE_CHECKING:
    from zen.collective.placement import StepDemand

POLICIES = ("cost", "fifo")
#: The event kind a Matron reports when its cube is full (one of zen.collective.events.EVENT_KINDS).
QUOTA_EXCEEDED = "quota_exceeded"


@dataclass(frozen=True)
class Cube:
    """A named group of nodes with a speciality and an optional CPU quota.

    Args:
        name: the cube's name; Ray nodes join it with the custom resource ``cube_<name>``.
        speciality: what the cube is for, for humans (``"graph neural networks"``).
        quota_cpus: at most this many CPUs in use by the cube's steps at once; None: no limit.
    """

    name: str
    speciality: str = ""
    quota_cpus: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ConfigError("Cube.name: expected a non-empty name, got ''")
        if self.quota_cpus is not None and not self.quota_cpus > 0:
            raise ConfigError(
                f"Cube.quota_cpus: expected a positive number of CPUs or None, "
                f"got {self.quota_cpus!r} for cube {self.name!r}"
            )


class Matron:
    """The queue and the quota of one cube.

    Steps are admitted (queued) with :meth:`admit`, started with :meth:`start` when the placer has
    found them a node, and released with :meth:`finish`. The Matron never picks nodes: it only
    says which of its steps may start, in which order, within its quota.

    Args:
        cube: the cube this Matron guards.
        policy: ``"cost"`` (priority, then longest predicted first) or ``"fifo"``
            (submission order).
    """

    def __init__(self, cube: Cube, policy: str = "cost") -> None:
        if policy not in POLICIES:
            raise expect_one_of("policy", policy, POLICIES)
        self.cube = cube
        self.policy = policy
        self._queue: list[tuple[tuple[Any, ...], StepDemand]] = []
        self._running: dict[str, StepDemand] = {}
        self._cpus_in_use = 0.0
        # Submission order across all Matrons breaks ties, so equal keys keep a stable order.
        self._sequence = itertools.count()
        self._reported: set[str] = set()

    def order_key(self, step: StepDemand, sequence: int) -> tuple[Any, ...]:
        """The sort key of ``step`` in this Matron's queue (smaller starts first)."""
        if self.policy == "fifo":
            return (sequence,)
        return (-step.priority, -step.predicted_s, sequence)

    def admit(self, step: StepDemand, sequence: int | None = None) -> bool:
        """Queue ``step``; True when the quota leaves room to start it now, False when it must wait.

        Args:
            step: the step to queue.
            sequence: its submission number (the placer numbers steps across cubes); None: the
                Matron's own counter.

        Raises:
            PlacementError: the step needs more CPUs than the cube's whole quota, so it never runs.
        """
        from zen.collective.placement import PlacementError

        quota = self.cube.quota_cpus
        if quota is not None and step.cpus > quota:
            raise PlacementError(
                f"step {step.key!r} ({step.model}) needs {step.cpus:g} CPUs but cube "
                f"{self.cube.name!r} has a quota of {quota:g} CPUs; raise the quota or ask for "
                "fewer"
            )
        if step.key in self._running or any(s.key == step.key for _, s in self._queue):
            raise ConfigError(f"step.key: {step.key!r} is already queued or running in this cube")
        number = next(self._sequence) if sequence is None else sequence
        bisect.insort(self._queue, (self.order_key(step, number), step), key=lambda e: e[0])
        return self.has_room(step)

    def has_room(self, step: StepDemand) -> bool:
        """Whether starting ``step`` now keeps the cube within its quota."""
        quota = self.cube.quota_cpus
        return quota is None or self._cpus_in_use + step.cpus <= quota + 1e-9

    def quota_reason(self, step: StepDemand) -> str | None:
        """Why ``step`` waits for quota (a ``"quota_exceeded"`` reason), or None when it need not.

        Each step is reported once, so the Queen publishes one event per waiting step.
        """
        if self.has_room(step) or step.key in self._reported:
            return None
        self._reported.add(step.key)
        return (
            f"{QUOTA_EXCEEDED}: cube {self.cube.name!r} has {self._cpus_in_use:g} of "
            f"{self.cube.quota_cpus:g} CPUs in use; step {step.key!r} ({step.model}, "
            f"{step.cpus:g} CPUs) waits"
        )

    def queued(self) -> list[StepDemand]:
        """The waiting steps, in the order they should start."""
        return [step for _, step in self._queue]

    def queue_entries(self) -> list[tuple[tuple[Any, ...], StepDemand]]:
        """The waiting steps with their sort keys (for merging several Matrons' queues)."""
        return list(self._queue)

    def running(self) -> list[StepDemand]:
        """The steps started and not finished yet."""
        return list(self._running.values())

    def start(self, step: StepDemand) -> None:
        """Move ``step`` from the queue to running (the placer found it a node)."""
        for index, (_, queued) in enumerate(self._queue):
            if queued.key == step.key:
                del self._queue[index]
                break
        else:
            raise ConfigError(f"step.key: {step.key!r} is not queued in cube {self.cube.name!r}")
        self._running[step.key] = step
        self._cpus_in_use += step.cpus
        self._reported.discard(step.key)

    def finish(self, key: str) -> StepDemand:
        """Release the CPUs of the running step ``key`` (done, failed or lost); returns the step."""
        step = self._running.pop(key, None)
        if step is None:
            raise ConfigError(f"key: step {key!r} is not running in cube {self.cube.name!r}")
        self._cpus_in_use = max(0.0, self._cpus_in_use - step.cpus)
        return step

    def load(self) -> dict[str, Any]:
        """How busy the cube is: queued and running steps, CPUs in use and the quota."""
        return {
            "queued": len(self._queue),
            "running": len(self._running),
            "cpus_in_use": self._cpus_in_use,
            "quota_cpus": self.cube.quota_cpus,
        }

    def __repr__(self) -> str:
        load = self.load()
        return (
            f"Matron(cube={self.cube.name!r}, policy={self.policy!r}, queued={load['queued']}, "
            f"running={load['running']}, cpus_in_use={load['cpus_in_use']:g})"
        )
