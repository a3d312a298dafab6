"""What a scheduler reports: events for observers, and counters per tier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from zen.runtime.policy import Tier

__all__ = ["EventKind", "SchedulerEvent", "SchedulerStats", "TierStats"]


class EventKind(StrEnum):
    """What a :class:`SchedulerEvent` reports."""

    MISS = "miss"
    OVERRUN = "overrun"
    STARVATION = "starvation"
    PROMOTION = "promotion"
    SKIP = "skip"
    ERROR = "error"
    BUDGET_EXHAUSTED = "budget_exhausted"
    PRESSURE_ON = "pressure_on"
    PRESSURE_OFF = "pressure_off"


@dataclass(frozen=True)
class SchedulerEvent:
    """Something observers hear about (see :meth:`Scheduler.add_observer`).

    Attributes:
        kind: what happened.
        tier: the tier concerned (the real-time tier for pressure events).
        task: the task's name ("" for pressure events).
        time_s: when, on the scheduler's clock.
        detail: numbers and strings, e.g. ``{"latency_ms": 12.1, "deadline_ms": 11.6}``;
            ``"count"`` when one event stands for several (releases dropped in one go).
        error: the exception, for ``kind == "error"``.

    Example, counting misses for a metrics exporter (a prometheus_client Counter)::

        def count_misses(event: SchedulerEvent) -> None:
            if event.kind == "miss":
                misses.labels(tier=event.tier).inc(event.count)

        scheduler.add_observer(count_misses)
    """

    kind: EventKind
    tier: Tier
    task: str
    time_s: float
    detail: Mapping[str, Any] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def count(self) -> int:
        """How many occurrences this event stands for (usually 1)."""
        return int(self.detail.get("count", 1))


@dataclass
class TierStats:
    """Counters of one tier (jobs are releases of periodic tasks, or submissions)."""

    jobs: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    deadline_misses: int = 0
    overruns: int = 0
    starvation_events: int = 0
    promotions: int = 0
    budget_exhaustions: int = 0
    busy_s: float = 0.0


@dataclass(frozen=True)
class SchedulerStats:
    """A snapshot of the scheduler's counters (see :attr:`Scheduler.stats`)."""

    realtime: TierStats
    inference: TierStats
    background: TierStats
    pressure_episodes: int
    under_pressure: bool
    realtime_priority: str
    elapsed_s: float

    def tier(self, tier: Tier | str) -> TierStats:
        tiers = {Tier.REALTIME: self.realtime, Tier.INFERENCE: self.inference}
        return tiers.get(Tier.parse(tier), self.background)

    @property
    def deadline_misses(self) -> int:
        return sum(self.tier(tier).deadline_misses for tier in Tier)

    @property
    def starvation_events(self) -> int:
        return sum(self.tier(tier).starvation_events for tier in Tier)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def detail_ms(seconds: float) -> float:
    """Seconds as milliseconds for an event's ``detail`` (rounded to 0.1 microsecond).

    >>> detail_ms(0.0116099773)
    11.61
    """
    return round(seconds * 1e3, 4)
