"""The real-time tier: periodic jobs released on absolute times, run on the scheduler thread.

Release ``k`` of a task is at ``anchor + k * period_s`` and due ``deadline_s`` later. Of the
jobs due, the one with the earliest deadline runs first (EDF among real-time tasks). A job
whose deadline passed before it could start is dropped when the task says ``drop_late`` (each
dropped release counts as a miss and the task catches up with the clock). A job that misses,
or uses more than ``pressure_ratio`` of its deadline window, puts the scheduler under pressure.
"""

from __future__ import annotations

import math

from zen.errors import ConfigError
from zen.runtime._state import Periodic
from zen.runtime.accounting import Accounting
from zen.runtime.admission import Admission
from zen.runtime.clock import Clock
from zen.runtime.events import EventKind, detail_ms
from zen.runtime.policy import Tier
from zen.runtime.tasks import Offload, Release, bad_yield, close_task, step
from zen.runtime.trace import SCHEDULER_LANE, Span


class RealtimeTier:
    """The periodic tasks of the real-time tier, and the running of their jobs.

    Args:
        clock: the scheduler's clock.
        accounting: counters, trace and events.
        admission: told when real-time work is at risk.
        pressure_ratio: latency over this fraction of the deadline signals pressure.
    """

    def __init__(
        self, clock: Clock, accounting: Accounting, admission: Admission, pressure_ratio: float
    ) -> None:
        self.tasks: list[Periodic] = []
        self._clock = clock
        self._accounting = accounting
        self._admission = admission
        self._stats = accounting.stats[Tier.REALTIME]
        self._pressure_ratio = pressure_ratio

    def add(self, periodic: Periodic, now: float) -> None:
        periodic.align(now)
        self.tasks.append(periodic)

    def align(self, now: float) -> None:
        """A new session: every task's first release at ``now`` plus its phase."""
        for periodic in self.tasks:
            periodic.align(now)

    def deactivate(self, periodic: Periodic) -> None:
        """Release the task no more (its generator, if any, is closed)."""
        if not periodic.active:
            return
        periodic.active = False
        if periodic in self.tasks:
            self.tasks.remove(periodic)
        if periodic.coroutine is not None:
            close_task(periodic.coroutine)

    def next_release(self) -> float:
        return min((periodic.next_release for periodic in self.tasks), default=math.inf)

    def due(self, now: float) -> Periodic | None:
        """The released task with the earliest deadline (dropping late releases), or None."""
        due: Periodic | None = None
        for periodic in self.tasks:
            if periodic.next_release > now:
                continue
            if periodic.drop_late and periodic.next_release + periodic.deadline_s <= now:
                self._drop_releases(periodic, now)
                if periodic.next_release > now:
                    continue
            deadline = periodic.next_release + periodic.deadline_s
            if due is None or deadline < due.next_release + due.deadline_s:
                due = periodic
        return due

    def _drop_releases(self, periodic: Periodic, now: float) -> None:
        """Skip the releases whose deadline already passed; each one is a miss."""
        late_s = now - periodic.deadline_s - periodic.next_release
        count = math.floor(late_s / periodic.period_s) + 1
        first = periodic.next_release
        periodic.advance(count)
        self._stats.jobs += count
        self._stats.deadline_misses += count
        origin = self._accounting.probe.origin_s
        self._accounting.emit(
            EventKind.MISS,
            Tier.REALTIME,
            periodic.name,
            now,
            {
                "count": count,
                "dropped": True,
                "release_ms": detail_ms(first - (origin if origin is not None else 0.0)),
            },
        )
        self._admission.signal_pressure(now)

    def run(self, periodic: Periodic, now: float) -> None:
        """Run the job of the task's current release now, and account for it."""
        release_s = periodic.next_release
        deadline = release_s + periodic.deadline_s
        release = Release(periodic.index, release_s, deadline, periodic.period_s)
        stats = self._stats
        stats.jobs += 1
        error: BaseException | None = None
        finished = False
        if periodic.call is not None:
            try:
                periodic.call()
            except Exception as caught:
                error = caught
        else:
            assert periodic.coroutine is not None
            outcome, value = step(periodic.coroutine, release, None)
            finished = outcome != "slice"
            if outcome == "error":
                error = value
            elif outcome == "offload":
                error = _offload_error(periodic.name, value)
            elif outcome == "bad":
                error = bad_yield(periodic.name, value)
        end = self._clock.now()
        periodic.advance()
        execution = end - now
        latency = end - release_s
        stats.busy_s += execution
        missed = end > deadline
        if error is None:
            stats.completed += 1
        else:
            stats.failed += 1
        self._accounting.probe.record_span(
            Span(
                Tier.REALTIME.value,
                periodic.name,
                SCHEDULER_LANE,
                "job",
                now,
                end,
                wait_s=now - release_s,
                latency_s=latency,
                deadline_s=deadline,
                outcome="error" if error else "miss" if missed else "ok",
            )
        )
        if missed:
            stats.deadline_misses += 1
            self._accounting.emit(
                EventKind.MISS,
                Tier.REALTIME,
                periodic.name,
                end,
                {"latency_ms": detail_ms(latency), "deadline_ms": detail_ms(periodic.deadline_s)},
            )
        if execution > periodic.budget_s:
            stats.overruns += 1
            self._accounting.emit(
                EventKind.OVERRUN,
                Tier.REALTIME,
                periodic.name,
                end,
                {"run_ms": detail_ms(execution), "budget_ms": detail_ms(periodic.budget_s)},
            )
        if latency >= self._pressure_ratio * periodic.deadline_s:
            self._admission.signal_pressure(end)
        if error is not None:
            self._accounting.record_error(Tier.REALTIME, periodic.name, error, end)
        if finished:
            self.deactivate(periodic)


def _offload_error(name: str, offload: Offload) -> ConfigError:
    return ConfigError(
        f"task {name}: a real-time job cannot {offload!r}; it would wait for a worker. Do the"
        " heavy part on the inference tier (submit or a periodic inference task)"
    )
