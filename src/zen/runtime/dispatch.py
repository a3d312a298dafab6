"""Lower-tier work from release to result: ready queues, worker pools and cooperative slices.

Jobs of the inference and background tiers (submissions, and releases of periodic tasks of
those tiers) wait in ready queues, promoted jobs first, then in arrival order. A job whose next
step is a call goes to the tier's workers when one is idle; a cooperative job runs its next
slice on the scheduler thread, and only if ``now + estimate + guard_s`` is before the next
real-time release (backfilling: a shorter slice further down the queue may fit where the first
does not). :class:`~zen.runtime.admission.Admission` says whether a tier may start anything.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
from collections.abc import Callable
from concurrent.futures import InvalidStateError
from typing import Any

from zen.runtime._state import Job, Periodic
from zen.runtime.accounting import Accounting
from zen.runtime.admission import Admission
from zen.runtime.clock import Clock
from zen.runtime.events import EventKind, detail_ms
from zen.runtime.policy import LOWER_TIERS, SchedulerConfig, Tier, TierPolicy
from zen.runtime.tasks import Release, TaskSkipped, bad_yield, close_task, step
from zen.runtime.trace import SCHEDULER_LANE
from zen.runtime.workers import WorkerPool, WorkItem

#: What a worker's call carries back: the job, the tier it ran as, when it became ready, the pool.
Token = tuple[Job, Tier, float, WorkerPool]


class ReadyQueues:
    """Jobs of one tier ready to run, each list sorted by :meth:`Job.sort_key`."""

    __slots__ = ("slice_ready", "worker_ready")

    def __init__(self) -> None:
        self.slice_ready: list[Job] = []  # next step on the scheduler thread
        self.worker_ready: list[Job] = []  # next step a call for the tier's workers

    def jobs(self) -> list[Job]:
        return self.slice_ready + self.worker_ready


class Dispatcher:
    """Ready queues, worker pools, periodic tasks and slices of the lower tiers.

    Args:
        config: the scheduler's settings.
        clock: the scheduler's clock.
        admission: whether a tier may start work, and budgets to charge.
        accounting: counters, trace, events and futures.
        post: sends a message to the scheduler thread (worker threads report through it).
    """

    def __init__(
        self,
        config: SchedulerConfig,
        clock: Clock,
        admission: Admission,
        accounting: Accounting,
        post: Callable[[tuple[Any, ...]], None],
    ) -> None:
        self.periodic: list[Periodic] = []  # periodic tasks of the lower tiers
        self.queues = {tier: ReadyQueues() for tier in LOWER_TIERS}
        self.pools: dict[Tier, WorkerPool | None] = dict.fromkeys(LOWER_TIERS)
        self._policies: dict[Tier, TierPolicy] = admission.policies
        self._guard_s = config.guard_s
        self._clock = clock
        self._admission = admission
        self._accounting = accounting
        self._stats = accounting.stats
        self._post = post
        self._seq = 0
        self._seq_lock = threading.Lock()

    def next_seq(self) -> int:
        """Arrival order of jobs (any thread)."""
        with self._seq_lock:
            self._seq += 1
            return self._seq

    # -- sessions ------------------------------------------------------------------------------
    def start_workers(self, realtime: bool) -> None:
        """Start each tier's pool; ``realtime``: the scheduler thread is ``SCHED_FIFO``, so
        tiers that ask for real-time workers may have them (never above that thread)."""
        for tier in LOWER_TIERS:
            policy = self._policies[tier]
            if policy.workers > 0:
                pool = WorkerPool(
                    f"zen-{tier.value}",
                    policy.workers,
                    policy.nice,
                    self._clock.now,
                    self._report,
                    policy.fifo_priority if realtime else None,
                )
                self.pools[tier] = pool
                pool.start()

    def stop_workers(self) -> None:
        """Let running calls finish and end the threads (their reports are still to drain)."""
        for tier in LOWER_TIERS:
            pool = self.pools[tier]
            if pool is not None:
                pool.stop(timeout_s=10.0)

    def end_session(self, reason: str) -> None:
        """Forget the pools and drop every job left: queued, or parked on a lost call."""
        for tier in LOWER_TIERS:
            self.pools[tier] = None
        self.drop_ready(reason)
        for periodic in list(self.periodic):
            if periodic.pending is not None:
                # Parked on an offload whose worker never reported (the pool stop timed out).
                self.drop(periodic.pending, reason)

    def align(self, now: float) -> None:
        for periodic in self.periodic:
            periodic.align(now)

    # -- arrivals and releases -----------------------------------------------------------------
    def submit(self, job: Job, now: float) -> None:
        """A submitted job arrives on the scheduler thread."""
        self._stats[job.tier].jobs += 1
        self._make_ready(job, now)

    def add(self, periodic: Periodic, now: float) -> None:
        periodic.align(now)
        self.periodic.append(periodic)

    def deactivate(self, periodic: Periodic) -> None:
        """Release the task no more: its pending job leaves the queues, its generator closes."""
        if not periodic.active:
            return
        periodic.active = False
        if periodic in self.periodic:
            self.periodic.remove(periodic)
        if periodic.pending is not None:
            job, periodic.pending = periodic.pending, None
            self._unready(job)
        if periodic.coroutine is not None:
            close_task(periodic.coroutine)

    def release_periodic(self, now: float) -> None:
        """Queue one job for each periodic task with a release due."""
        for periodic in self.periodic:
            if periodic.next_release > now:
                continue
            release_s, index = periodic.next_release, periodic.index
            # One job per due release; releases that passed meanwhile are not made up for.
            periodic.advance(math.floor((now - release_s) / periodic.period_s) + 1)
            stats = self._stats[periodic.tier]
            stats.jobs += 1
            if periodic.pending is not None:
                # The previous release is still queued or running: do not pile up.
                stats.skipped += 1
                self._accounting.emit(
                    EventKind.SKIP,
                    periodic.tier,
                    periodic.name,
                    now,
                    {"reason": "previous release still pending"},
                )
                continue
            deadline = release_s + periodic.deadline_s
            job = Job(
                periodic.name,
                periodic.tier,
                self.next_seq(),
                release_s,
                call=periodic.call,
                coroutine=periodic.coroutine,
                deadline_s=deadline,
                owner=periodic,
                release=Release(index, release_s, deadline, periodic.period_s),
            )
            periodic.pending = job
            self._make_ready(job, now)

    # -- ready queues --------------------------------------------------------------------------
    def ready_jobs(self, tier: Tier) -> list[Job]:
        """Jobs queued in ``tier`` (their own, or promoted into it)."""
        return self.queues[tier].jobs()

    def _make_ready(self, job: Job, now: float) -> None:
        job.ready_since = now
        job.starving = False
        self._insert(job)

    def _insert(self, job: Job) -> None:
        tier = job.effective
        queues = self.queues[tier]
        needs_pool = job.needs_worker and self.pools[tier]
        queue = queues.worker_ready if needs_pool else queues.slice_ready
        bisect.insort(queue, job, key=Job.sort_key)

    def _unready(self, job: Job) -> None:
        for tier in LOWER_TIERS:
            queues = self.queues[tier]
            for queue in (queues.slice_ready, queues.worker_ready):
                if job in queue:
                    queue.remove(job)
                    return

    def promote_starving(self, now: float) -> None:
        """Report jobs waiting too long; move those admission promotes to the front."""
        admission = self._admission
        for tier in LOWER_TIERS:
            for job in admission.starved(self.queues[tier].jobs(), now):
                self._unready(job)
                admission.promote(job, now)
                self._insert(job)

    def shed(self, tier: Tier, reason: str) -> None:
        """Drop the jobs queued in ``tier`` that have not started."""
        for job in [job for job in self.queues[tier].jobs() if not job.started]:
            self._unready(job)
            self.drop(job, reason)

    def drop_ready(self, reason: str) -> None:
        """Drop every queued job."""
        for tier in LOWER_TIERS:
            queues = self.queues[tier]
            for job in queues.jobs():
                self.drop(job, reason)
            queues.slice_ready.clear()
            queues.worker_ready.clear()

    def drop(self, job: Job, reason: str) -> None:
        """Drop a job that will not run (to the end): its future raises TaskSkipped."""
        job.done = True
        self._accounting.skipped(job, reason)
        owner = job.owner
        if owner is not None:
            owner.pending = None
            if job.started and owner.coroutine is not None:
                # Dropped mid-job: the generator cannot be resumed with a new release.
                self.deactivate(owner)
        elif job.coroutine is not None:
            close_task(job.coroutine)  # runs its finally blocks
        if job.future is not None:
            self._accounting.complete(job.future, None, TaskSkipped(f"{job.name}: {reason}"))

    def next_wake(self, horizon: float) -> float:
        """The earliest of ``horizon``, a periodic release, and a change in admission."""
        wake = horizon
        for periodic in self.periodic:
            wake = min(wake, periodic.next_release)
        for tier in LOWER_TIERS:
            ready = self.queues[tier].jobs()
            if ready:
                wake = min(wake, self._admission.next_change(tier, ready))
        return wake

    def _end_quantum(self, job: Job) -> None:
        """A boost lasts one quantum: back to the job's own tier."""
        job.promoted = False
        job.effective = job.tier

    def _begin(self, job: Job) -> bool:
        """Mark a job as started; False if its caller cancelled it meanwhile."""
        if not job.started:
            job.started = True
            if job.future is not None and not job.future.set_running_or_notify_cancel():
                self._stats[job.tier].skipped += 1
                return False
        return True

    # -- workers -------------------------------------------------------------------------------
    def dispatch_workers(self) -> None:
        """Hand calls to idle workers, tier by tier, as admission permits."""
        admission = self._admission
        for tier in LOWER_TIERS:
            pool = self.pools[tier]
            worker_ready = self.queues[tier].worker_ready
            if pool is None or not worker_ready or not admission.is_open(tier):
                continue
            index = 0
            while pool.idle > 0 and index < len(worker_ready):
                job = worker_ready[index]
                if not admission.allows(tier, job):
                    index += 1
                    continue
                del worker_ready[index]
                if not self._begin(job):
                    continue
                if job.offload is not None:
                    fn, args = job.offload.fn, job.offload.args
                else:
                    assert job.call is not None
                    fn, args = job.call, job.args
                self._end_quantum(job)
                token: Token = (job, tier, job.ready_since, pool)
                pool.hand_over(WorkItem(fn, args, token=token))

    def _report(
        self,
        item: WorkItem,
        result: Any,
        error: BaseException | None,
        start_s: float,
        end_s: float,
        lane: str,
    ) -> None:
        """Called on a worker thread when a call finished."""
        job: Job = item.token[0]
        future = job.future
        if job.coroutine is None and future is not None and not future.done():
            # Complete plain calls here, so the caller's callbacks run on the worker thread.
            with contextlib.suppress(InvalidStateError):  # dropped meanwhile
                if error is None:
                    future.set_result(result)
                else:
                    future.set_exception(error)
        self._post(("done", item.token, result, error, start_s, end_s, lane))

    def worker_done(
        self,
        token: Token,
        result: Any,
        error: BaseException | None,
        start_s: float,
        end_s: float,
        lane: str,
    ) -> None:
        """A worker's report, back on the scheduler thread."""
        job, ran_as, ready_since, pool = token
        if pool is self.pools[ran_as] and pool.busy > 0:
            pool.busy -= 1
        self._admission.charge(ran_as, end_s - start_s, end_s)
        if job.done:
            return  # dropped while its call ran (a stop that did not wait for it)
        if job.coroutine is not None and job.offload is not None:
            # An offloaded call: resume the task in its next slice.
            job.offload = None
            job.send_value, job.send_error = result, error
            self._accounting.record_span(
                job, ran_as, lane, "work", start_s, end_s, ready_since, None
            )
            self._make_ready(job, end_s)
            return
        self._accounting.finish(
            job, ran_as, lane, "work", start_s, end_s, ready_since, result, error
        )

    # -- slices --------------------------------------------------------------------------------
    def run_slice(self, now: float, horizon: float) -> bool:
        """Run one slice that fits before ``horizon``, highest tier first; True if one ran."""
        admission = self._admission
        for tier in LOWER_TIERS:
            slice_ready = self.queues[tier].slice_ready
            if not slice_ready or not admission.is_open(tier):
                continue
            slice_s = self._policies[tier].slice_s
            for job in slice_ready[:16]:
                if not admission.allows(tier, job):
                    continue
                if now + job.estimate(slice_s) + self._guard_s > horizon:
                    continue  # backfill: a shorter slice further down may fit
                slice_ready.remove(job)
                if not self._begin(job):
                    return True
                self._slice(job, tier, now, horizon)
                return True
        return False

    def _slice(self, job: Job, ran_as: Tier, start: float, horizon: float) -> None:
        ready_since = job.ready_since
        self._end_quantum(job)
        accounting = self._accounting
        if job.coroutine is None:  # a call without workers: one inline slice
            assert job.call is not None
            try:
                result, error = job.call(*job.args), None
            except Exception as caught:
                result, error = None, caught
            end = self._clock.now()
            self._after_slice(job, ran_as, start, end, horizon)
            accounting.finish(
                job, ran_as, SCHEDULER_LANE, "work", start, end, ready_since, result, error
            )
            return
        if job.offload is not None:  # no workers: the offloaded call runs inline
            try:
                job.send_value, job.send_error = job.offload.fn(*job.offload.args), None
            except Exception as caught:
                job.send_value, job.send_error = None, caught
            job.offload = None
        outcome, value = step(job.coroutine, job.send_value, job.send_error)
        job.send_value = job.send_error = None
        end = self._clock.now()
        self._after_slice(job, ran_as, start, end, horizon)
        job_ends = job.owner is not None and outcome == "slice"
        if outcome == "slice" and not job_ends:
            accounting.record_span(
                job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None
            )
            self._make_ready(job, end)
        elif outcome == "offload":
            job.offload = value
            accounting.record_span(
                job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None
            )
            self._make_ready(job, end)
        elif outcome == "bad":
            error = bad_yield(job.name, value)
            close_task(job.coroutine)
            accounting.finish(
                job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None, error
            )
            if job.owner is not None:
                self.deactivate(job.owner)
        else:
            result = value if outcome == "return" else None
            error = value if outcome == "error" else None
            accounting.finish(
                job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, result, error
            )
            if job.owner is not None and not job_ends:
                self.deactivate(job.owner)  # its generator returned or raised

    def _after_slice(
        self, job: Job, ran_as: Tier, start: float, end: float, horizon: float
    ) -> None:
        """Charge the slice, keep its length for the estimate, report an overrun."""
        duration = end - start
        job.slices.append(duration)
        self._admission.charge(ran_as, duration, end)
        slice_s = self._policies[ran_as].slice_s
        if duration > slice_s:
            self._stats[job.tier].overruns += 1
            detail: dict[str, Any] = {
                "slice_ms": detail_ms(duration),
                "limit_ms": detail_ms(slice_s),
            }
            if end > horizon:
                detail["delayed_realtime_ms"] = detail_ms(end - horizon)
            self._accounting.emit(EventKind.OVERRUN, job.tier, job.name, end, detail)
