"""What a scheduler session did: counters per tier, spans and marks, events, finished futures.

The scheduler's parts count what happens where it happens (the real-time tier its jobs, the
dispatcher its slices and skips, admission its budgets and promotions) into the per-tier
:class:`~zen.runtime.events.TierStats` held here. What the scheduler thread hands to user code
(the futures it completes, and observers' events) is queued and delivered by
:meth:`Accounting.flush` only in slack time, never while a real-time job is due.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any

from zen.runtime._state import Job
from zen.runtime.clock import Clock
from zen.runtime.events import EventKind, SchedulerEvent, TierStats, detail_ms
from zen.runtime.policy import Tier
from zen.runtime.trace import SCHEDULER_LANE, Mark, SessionProbe, Span

# The scheduler's logger: users filter task errors under "zen.runtime.scheduler".
logger = logging.getLogger("zen.runtime.scheduler")

Observer = Callable[[SchedulerEvent], object]


class Accounting:
    """Counters, trace and events of a scheduler, and the results waiting for slack time.

    Args:
        probe: where spans (work that ran) and marks (events) are recorded.
        clock: the scheduler's clock.
        guard_s: time kept free before a real-time release; :meth:`flush` stops that early.
    """

    def __init__(self, probe: SessionProbe, clock: Clock, guard_s: float) -> None:
        self.probe = probe
        self.stats = {tier: TierStats() for tier in Tier}
        self.observers: list[Observer] = []
        self._clock = clock
        self._guard_s = guard_s
        self._events: deque[SchedulerEvent] = deque()
        self._outbox: deque[tuple[Future[Any], Any, BaseException | None]] = deque()
        self._logged_errors: set[str] = set()

    def add_observer(self, observer: Observer) -> Callable[[], None]:
        """Deliver every event to ``observer`` from now on; returns a remover."""
        self.observers.append(observer)

        def remove() -> None:
            if observer in self.observers:
                self.observers.remove(observer)

        return remove

    def emit(
        self,
        kind: EventKind,
        tier: Tier,
        task: str,
        now: float,
        detail: Mapping[str, Any],
        error: BaseException | None = None,
    ) -> None:
        """Mark an event on the probe, and queue it for the observers (if any)."""
        self.probe.record_mark(Mark(kind.value, tier.value, task, now, detail=dict(detail)))
        if self.observers:
            self._events.append(SchedulerEvent(kind, tier, task, now, dict(detail), error))

    def record_span(
        self,
        job: Job,
        ran_as: Tier,
        lane: str,
        kind: str,
        start: float,
        end: float,
        ready_since: float,
        latency: float | None,
        outcome: str = "ok",
    ) -> None:
        """Record one slice or call of a lower-tier job (``latency`` set when it ended the job)."""
        self.probe.record_span(
            Span(
                ran_as.value,
                job.name,
                lane,
                kind,
                start,
                end,
                wait_s=max(start - ready_since, 0.0),
                latency_s=latency,
                deadline_s=job.deadline_s if latency is not None else None,
                outcome=outcome,
            )
        )

    def finish(
        self,
        job: Job,
        ran_as: Tier,
        lane: str,
        kind: str,
        start: float,
        end: float,
        ready_since: float,
        result: Any,
        error: BaseException | None,
    ) -> None:
        """A lower-tier job ended with ``result`` or ``error``: count it, record its last span,
        report a miss or an error, and queue its future (unless a worker completed it)."""
        job.done = True
        stats = self.stats[job.tier]
        missed = job.deadline_s is not None and end > job.deadline_s
        if error is None:
            stats.completed += 1
        else:
            stats.failed += 1
        outcome = "error" if error is not None else "miss" if missed else "ok"
        self.record_span(
            job, ran_as, lane, kind, start, end, ready_since, end - job.created_s, outcome
        )
        if missed:
            assert job.deadline_s is not None
            stats.deadline_misses += 1
            self.emit(
                EventKind.MISS,
                job.tier,
                job.name,
                end,
                {
                    "latency_ms": detail_ms(end - job.created_s),
                    "deadline_ms": detail_ms(job.deadline_s - job.created_s),
                },
            )
        if error is not None:
            self.record_error(job.tier, job.name, error, end)
        if job.owner is not None:
            job.owner.pending = None
        if job.future is not None and (job.coroutine is not None or lane == SCHEDULER_LANE):
            # (Calls run by a worker had their future completed on that worker.)
            self.complete(job.future, result, error)

    def skipped(self, job: Job, reason: str) -> None:
        """Count and report a job dropped before it ran to the end."""
        self.stats[job.tier].skipped += 1
        self.emit(EventKind.SKIP, job.tier, job.name, self._clock.now(), {"reason": reason})

    def record_error(self, tier: Tier, name: str, error: BaseException, now: float) -> None:
        """Report a task's exception: logged at WARNING the first time per task, then DEBUG."""
        if name not in self._logged_errors:
            self._logged_errors.add(name)
            logger.warning(
                "task %s (%s) raised %s: %s; further errors of this task are logged at DEBUG",
                name,
                tier.value,
                type(error).__name__,
                error,
                exc_info=error,
            )
        else:
            logger.debug("task %s raised %r", name, error)
        detail = {"error": f"{type(error).__name__}: {error}"}
        self.emit(EventKind.ERROR, tier, name, now, detail, error)

    def complete(self, future: Future[Any], result: Any, error: BaseException | None) -> None:
        """Queue a future's outcome; :meth:`flush` sets it (its callbacks are user code)."""
        self._outbox.append((future, result, error))

    def flush(self, horizon: float) -> bool:
        """Complete futures and call observers while there is slack before ``horizon`` (the next
        real-time release); True if it did any."""
        did = False
        while self._outbox or self._events:
            if self._clock.now() + self._guard_s >= horizon:
                break
            did = True
            if self._outbox:
                future, result, error = self._outbox.popleft()
                if future.done():
                    continue
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)
            else:
                event = self._events.popleft()
                for observer in list(self.observers):
                    try:
                        observer(event)
                    except Exception:
                        logger.exception("scheduler observer %r failed", observer)
        return did

    def flush_all(self) -> None:
        """Deliver everything queued, whatever the time (the session is over)."""
        self.flush(math.inf)
