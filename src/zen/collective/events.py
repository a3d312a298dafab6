"""The event bus: typed events that every part of a run publishes, persisted to History.

In one process the bus is an :class:`InMemoryBus`; on a cluster it is a :class:`RayBus`, a
named, detached Ray actor that the driver, the Queen and the Drones publish to and that
``zen cluster status`` and ``zen fit``'s progress lines read. Both keep the recent events and the
running steps (with their newest ``step_progress``: epoch and losses) in memory for quick reads
and write every other event to History
(:meth:`~zen.orchestrator.history.History.record_event`), so the record outlives the process or
the cluster.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from zen.errors import ConfigError, expect_one_of

if TYPE_CHECKING:
    from zen.collective.cluster import Cluster

logger = logging.getLogger(__name__)

#: Every kind of event; anything else is refused.
EVENT_KINDS = (
    "run_started",
    "run_finished",
    "run_failed",
    "step_placed",
    "step_started",
    "step_progress",
    "step_finished",
    "node_joined",
    "node_lost",
    "quota_exceeded",
)
#: The kinds saved to History: all but ``step_progress``, which a running step sends about once a
#: second; the bus keeps only the newest one per step, in its list of running steps.
PERSISTED = frozenset(EVENT_KINDS) - {"step_progress"}
#: Name of the cluster's bus actor (in the ``zen`` Ray namespace).
BUS_ACTOR = "zen-event-bus"
#: Events kept in memory for ``recent``.
KEEP = 1000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Event:
    """Something that happened in a run or on the cluster.

    Attributes:
        kind: one of :data:`EVENT_KINDS`.
        payload: what it is about (``step``, ``node``, ``cube``, ``seconds``...), JSON-able.
        run_id: the History run it belongs to, if any.
        at: ISO 8601 time in UTC.
    """

    kind: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    at: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise expect_one_of("kind", self.kind, EVENT_KINDS)
        if not isinstance(self.payload, Mapping):
            raise ConfigError(f"payload: expected a mapping, got {type(self.payload).__name__}")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "payload": dict(self.payload),
            "run_id": self.run_id,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        return cls(data["kind"], dict(data.get("payload") or {}), data.get("run_id"), data["at"])


class EventBus(Protocol):
    """Where events go: ``publish`` one, read the ``recent`` ones (oldest first)."""

    def publish(self, event: Event) -> None: ...

    def recent(self, limit: int = 50) -> list[Event]: ...


class _Ledger:
    """What both buses keep: recent events, the steps running now, queue lengths per cube."""

    def __init__(self) -> None:
        self.events: collections.deque[Event] = collections.deque(maxlen=KEEP)
        self.running: dict[str, dict[str, Any]] = {}
        self.queued: dict[str, int] = {}

    def add(self, event: Event) -> None:
        step = str(event.payload.get("step", ""))
        # A Drone's token tells apart steps of the same name in two runs ("MLP" twice).
        key = str(event.payload.get("token") or step)
        if event.kind == "step_progress":  # the newest epoch of a running step, not a record
            if key in self.running:
                self.running[key].update(event.payload)
            return
        self.events.append(event)
        if event.kind == "step_started":
            self.running[key] = {"step": step, **dict(event.payload), "since": event.at}
        elif event.kind in ("step_finished", "run_failed", "run_finished"):
            self.running.pop(key, None)
        if "cube" in event.payload and "queued" in event.payload:
            self.queued[str(event.payload["cube"])] = int(event.payload["queued"])

    def recent(self, limit: int) -> list[Event]:
        return list(self.events)[-limit:] if limit > 0 else []


def persist(event: Event, history: Any) -> None:
    """Write ``event`` to ``history`` (a :class:`~zen.orchestrator.history.History`)."""
    try:
        history.record_event(event.kind, dict(event.payload), run_id=event.run_id)
    except Exception as error:  # the bus must not stop a run because History is busy
        logger.warning("event %s not saved to History: %s", event.kind, error)


class InMemoryBus:
    """The bus of one process; thread-safe.

    Args:
        history: where events are persisted (a History); None keeps them in memory only.
    """

    def __init__(self, history: Any = None) -> None:
        self.history = history
        self._ledger = _Ledger()
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        with self._lock:
            self._ledger.add(event)
        if self.history is not None and event.kind in PERSISTED:
            persist(event, self.history)

    def recent(self, limit: int = 50) -> list[Event]:
        with self._lock:
            return self._ledger.recent(limit)

    def running(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._ledger.running.values())

    def queues(self) -> dict[str, int]:
        with self._lock:
            return dict(self._ledger.queued)


class _BusActor:
    """The body of the Ray actor behind :class:`RayBus`; persists through its own History."""

    def __init__(self) -> None:
        from zen.orchestrator.history import History

        self._ledger = _Ledger()
        try:
            self._history: Any = History()
        except Exception as error:  # no History here: keep events in memory
            logger.warning("event bus: History unavailable (%s); events kept in memory", error)
            self._history = None

    def publish(self, data: dict[str, Any]) -> None:
        event = Event.from_json(data)
        self._ledger.add(event)
        if self._history is not None and event.kind in PERSISTED:
            persist(event, self._history)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        return [event.to_json() for event in self._ledger.recent(limit)]

    def running(self) -> list[dict[str, Any]]:
        return list(self._ledger.running.values())

    def queues(self) -> dict[str, int]:
        return dict(self._ledger.queued)


class RayBus:
    """The cluster's bus: a handle on the named, detached actor :data:`BUS_ACTOR`.

    ``publish`` does not wait for the actor (a Drone must not stall on it); reads do. Build it
    with :meth:`get` (creates the actor when missing) or :meth:`find` (None when missing).
    """

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    @classmethod
    def get(cls, cluster: Cluster) -> RayBus:
        from zen.collective.cluster import control_options

        ray = cluster.ray()
        actor = (
            ray.remote(_BusActor)
            .options(
                name=BUS_ACTOR,
                lifetime="detached",
                get_if_exists=True,
                **control_options(ray),
                max_restarts=-1,
                max_task_retries=-1,
            )
            .remote()
        )
        return cls(actor)

    @classmethod
    def find(cls, cluster: Cluster) -> RayBus | None:
        ray = cluster.ray()
        try:
            return cls(ray.get_actor(BUS_ACTOR))
        except ValueError:
            return None

    def publish(self, event: Event) -> None:
        self.actor.publish.remote(event.to_json())

    def recent(self, limit: int = 50) -> list[Event]:
        import ray

        return [Event.from_json(data) for data in ray.get(self.actor.recent.remote(limit))]

    def running(self) -> list[dict[str, Any]]:
        import ray

        return list(ray.get(self.actor.running.remote()))

    def queues(self) -> dict[str, int]:
        import ray

        return dict(ray.get(self.actor.queues.remote()))
