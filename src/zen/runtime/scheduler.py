"""A cooperative, priority-tiered scheduler for real-time and heavy work in one Python process.

Three tiers, highest first:

- ``realtime``: periodic jobs with a hard deadline each period (an audio block every 11.6 ms).
  They run on the scheduler's own thread, released on absolute times of a monotonic clock.
- ``inference``: deferrable work (model calls, analysis) run in the time left between real-time
  jobs, and on its own worker threads.
- ``background``: batched, lowest-priority work, also with its own workers and a budget.

Why cooperative
    A Python thread cannot be preempted at a useful granularity: the GIL hands the interpreter
    over every ``sys.getswitchinterval()`` (5 ms by default), and no thread can be interrupted
    safely in the middle of a Python function. So tasks are generators or coroutines that give
    control back at slice boundaries (``yield`` / ``await next_slice()``), and heavy numeric
    work, which releases the GIL in torch, numpy, scipy and onnxruntime, is handed to worker
    threads (``yield offload(fn, x)``) where it runs in parallel with the real-time thread.
    This is a cyclic executive with slack stealing: real-time jobs run at their releases, the
    slack between them is lent to the lower tiers, and the real-time thread never waits for
    them.

How a slice is bounded
    A slice cannot be interrupted, so it is bounded *before* it starts: it is admitted only if
    ``now + estimate + guard_s`` is before the next real-time release. The estimate is the
    75th percentile of the task's last 8 slices (the tier's ``slice_s`` before it has run), so
    one outlier (a first call that imports something) does not bar a task for good, while a
    task that keeps running long slices only gets the large gaps. A slice longer than its
    tier's ``slice_s`` is an *overrun* of the cooperative contract and is reported; the trace
    shows whether it also delayed a real-time release.

Miss versus overrun
    A *deadline miss* is about the outcome: a job finished after its absolute deadline (for a
    real-time job ``release + deadline_s``), or was dropped because its deadline had already
    passed when the thread got to it. It can happen without any fault of the job (a late
    wake-up, the OS or another thread holding the CPU or the GIL). An *overrun* is about
    the work: a real-time job's own execution took longer than its ``budget_s`` (default: its
    deadline), or a slice took longer than ``slice_s``. Overruns tell you which task to make
    cheaper; misses tell you whether the output glitched.

Budgets, starvation, degradation
    Each lower tier may have a budget (``budget_s`` of run time per ``budget_window_s``,
    replenished at every window like a deferrable server, Strosnider, Lehoczky & Sha 1995);
    a tier over budget gets no new slices or worker calls until it is replenished. A job that
    waits longer than its tier's ``starvation_s`` is reported once per wait and, when the
    tier's policy says ``promote``, boosted for one quantum (one slice or one worker call):
    background jumps to the inference tier, any promoted job goes to the front of its queue
    and is exempt from the budget. Boosts never reach the real-time tier. When real-time work
    is at risk (a job used more than ``pressure_ratio`` of its deadline window, or missed),
    the scheduler is *under pressure* for ``pressure_hold_s``: tiers whose policy is
    ``defer`` get no new work, tiers whose policy is ``skip`` also drop the jobs that have not
    started (their futures raise :class:`TaskSkipped`).

Threads and OS priority
    ``start()`` runs the scheduler on a dedicated thread; ``run_for(seconds)`` runs it on the
    calling thread. That thread asks for ``SCHED_FIFO`` (or a negative nice) where the OS
    permits and logs the fallback otherwise; worker threads stay ordinary threads (nicing
    them down backfires: one preempted while holding the GIL stalls the real-time thread).
    During a session the GIL switch interval is lowered (``gil_switch_interval_s``), which
    bounds how long the real-time thread waits for the GIL when a worker runs Python code,
    and the objects alive at the start are frozen out of the garbage collector
    (``gc.freeze``), which keeps collections short. Both are process-wide and restored when
    the session ends.

Example::

    from zen.runtime import Scheduler

    scheduler = Scheduler()
    scheduler.add_periodic(process_block, period_s=512 / 44_100)   # tier="realtime"
    future = scheduler.submit(analyse, frames, tier="inference", deadline_s=0.1)
    with scheduler:                                # start() ... stop()
        labels = future.result()
    print(scheduler.stats.realtime.deadline_misses, scheduler.probe.summary())
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import logging
import math
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, InvalidStateError
from dataclasses import replace
from types import TracebackType
from typing import Any

from zen.errors import ConfigError
from zen.runtime._state import Budget, Job, Periodic, TierState
from zen.runtime.clock import Clock, MonotonicClock
from zen.runtime.events import EventKind, SchedulerEvent, SchedulerStats, TierStats
from zen.runtime.policy import LOWER_TIERS, SchedulerConfig, Tier, TierPolicy, positive_seconds
from zen.runtime.priority import ThreadPriority, pin_thread, raise_priority, thread_affinity
from zen.runtime.tasks import (
    Cooperative,
    Offload,
    Release,
    TaskSkipped,
    close_task,
    is_cooperative,
    is_cooperative_function,
    step,
    task_name,
)
from zen.runtime.trace import SCHEDULER_LANE, Mark, SessionProbe, Span
from zen.runtime.workers import WorkerPool, WorkItem

logger = logging.getLogger(__name__)

__all__ = [
    "EventKind",
    "PeriodicTask",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerEvent",
    "SchedulerStats",
    "TaskSkipped",
    "Tier",
    "TierPolicy",
    "TierStats",
]


class PeriodicTask:
    """Handle of a task added with :meth:`Scheduler.add_periodic`."""

    def __init__(self, scheduler: Scheduler, periodic: Periodic) -> None:
        self._scheduler = scheduler
        self._periodic = periodic

    @property
    def name(self) -> str:
        return self._periodic.name

    @property
    def tier(self) -> Tier:
        return self._periodic.tier

    @property
    def period_s(self) -> float:
        return self._periodic.period_s

    @property
    def deadline_s(self) -> float:
        return self._periodic.deadline_s

    @property
    def budget_s(self) -> float:
        return self._periodic.budget_s

    @property
    def active(self) -> bool:
        """False once cancelled, or when its generator finished or failed."""
        return self._periodic.active

    @property
    def releases(self) -> int:
        """Releases so far (jobs run, skipped or dropped)."""
        return self._periodic.index

    def cancel(self) -> None:
        """Stop releasing the task (its generator, if any, is closed)."""
        self._scheduler._post(("cancel", self._periodic))

    def __repr__(self) -> str:
        p = self._periodic
        return (
            f"PeriodicTask({p.name!r}, tier={p.tier.value}, period_s={p.period_s:g},"
            f" deadline_s={p.deadline_s:g}, active={p.active})"
        )


Observer = Callable[[SchedulerEvent], object]


class Scheduler:
    """Runs periodic real-time jobs on deadline and lower-tier work in the time between them.

    Args:
        config: tier policies and session settings (:class:`SchedulerConfig`).
        clock: where time comes from; a :class:`~zen.runtime.clock.VirtualClock` makes
            ``run_for`` deterministic (use tiers with ``workers=0`` then).
        probe: where runs, waits and misses are recorded (one is made if not given).

    Thread-safety: ``submit``, ``add_periodic``, ``PeriodicTask.cancel``, ``stats`` and
    ``stop`` may be called from any thread; everything else about tasks happens on the
    scheduler thread.
    """

    def __init__(
        self,
        config: SchedulerConfig | None = None,
        *,
        clock: Clock | None = None,
        probe: SessionProbe | None = None,
    ) -> None:
        self.config = config or SchedulerConfig()
        if not isinstance(self.config, SchedulerConfig):
            raise ConfigError(f"config: expected a SchedulerConfig, got {config!r}")
        self.clock: Clock = clock or MonotonicClock()
        self.probe = probe or SessionProbe(self.config.trace_capacity)
        self._tiers = {tier: TierState(tier, None) for tier in Tier}
        for tier in LOWER_TIERS:
            self._tiers[tier].policy = self.config.policy(tier)
        self._periodic: list[Periodic] = []
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._observers: list[Observer] = []
        self._events: deque[SchedulerEvent] = deque()
        self._outbox: deque[tuple[Future[Any], Any, BaseException | None]] = deque()
        self._seq = 0
        self._seq_lock = threading.Lock()
        self._stopping = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._session_thread: int | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._pressure_until = -math.inf
        self._under_pressure = False
        self._pressure_episodes = 0
        self._priority = "not started"
        self._elapsed_s = 0.0
        self._session_start = 0.0
        self._logged_errors: set[str] = set()

    # -- public API ------------------------------------------------------------------------
    def add_periodic(
        self,
        task: Callable[[], Any] | Cooperative,
        period_s: float,
        deadline_s: float | None = None,
        *,
        tier: Tier | str = Tier.REALTIME,
        name: str | None = None,
        budget_s: float | None = None,
        phase_s: float = 0.0,
        drop_late: bool = True,
    ) -> PeriodicTask:
        """Release ``task`` every ``period_s`` seconds, each job due ``deadline_s`` later.

        Args:
            task: a callable (called with no arguments once per release), or a generator /
                coroutine (or a function making one). A cooperative task is started at once
                and runs up to its first ``yield`` as set-up; after that each release resumes
                it with a :class:`Release` (``release = yield``) and one job lasts until its
                next ``yield``. Lower-tier cooperative jobs may ``yield offload(...)`` inside
                a job; real-time jobs may not (they would wait for a worker).
            period_s: time between releases.
            deadline_s: relative deadline of each job (default: ``period_s``).
            tier: ``"realtime"`` (default) runs jobs on the scheduler thread at their release;
                a lower tier queues each release as a job of that tier.
            name: shown in stats, events and traces (default: the function's name).
            budget_s: execution time a job should take at most; longer is an overrun
                (default: ``deadline_s``).
            phase_s: offset of the first release from the start of the session.
            drop_late: drop a real-time job whose deadline passed before it could start
                (counted as a miss; the task catches up with the clock) instead of running it.

        Returns:
            a :class:`PeriodicTask` handle (``cancel()``, ``releases``, ``active``).
        """
        tier = Tier.parse(tier)
        positive_seconds("period_s", period_s)
        deadline_s = period_s if deadline_s is None else deadline_s
        positive_seconds("deadline_s", deadline_s)
        budget_s = deadline_s if budget_s is None else budget_s
        positive_seconds("budget_s", budget_s)
        if not 0 <= phase_s < math.inf:
            raise ConfigError(f"phase_s: expected seconds >= 0, got {phase_s!r}")
        name = name or task_name(task)
        call, coroutine = self._periodic_body(task, name)
        periodic = Periodic(
            name, tier, call, coroutine, period_s, deadline_s, budget_s, phase_s, drop_late
        )
        self._post(("periodic", periodic))
        return PeriodicTask(self, periodic)

    def submit(
        self,
        task: Callable[..., Any] | Cooperative,
        *args: Any,
        tier: Tier | str = Tier.INFERENCE,
        name: str | None = None,
        deadline_s: float | None = None,
    ) -> Future[Any]:
        """Queue one job on a lower tier; returns a future of its result.

        A plain callable runs ``task(*args)`` on a worker thread of the tier (inline when the
        tier has no workers). A generator or coroutine (or a function making one, called with
        ``args``) runs cooperatively in slices on the scheduler thread, with its
        ``offload(...)`` calls on the workers; its return value is the result.

        Args:
            tier: ``"inference"`` (default) or ``"background"``.
            name: shown in stats, events and traces.
            deadline_s: relative deadline from now; finishing later counts as a miss.

        The future raises the task's exception if it failed, :class:`TaskSkipped` if the
        degradation policy dropped it or the scheduler stopped first. ``future.cancel()``
        withdraws a job that has not started. Use ``asyncio.wrap_future`` to await it.
        """
        tier = Tier.parse(tier)
        if tier is Tier.REALTIME:
            raise ConfigError(
                "tier: realtime work is periodic; use add_periodic(...) for it, or submit to"
                " 'inference' or 'background'"
            )
        positive_seconds("deadline_s", deadline_s, allow_none=True)  # type: ignore[arg-type]
        name = name or task_name(task)
        coroutine: Cooperative | None = None
        call: Callable[..., Any] | None = None
        if is_cooperative(task):
            if args:
                raise ConfigError(f"submit {name}: arguments given for a task already created")
            coroutine = task  # type: ignore[assignment]
        elif is_cooperative_function(task):
            coroutine = task(*args)  # type: ignore[operator]
            args = ()
        elif callable(task):
            call = task
        else:
            raise ConfigError(
                f"task: expected a callable, generator or coroutine, got {type(task).__name__}"
            )
        now = self.clock.now()
        future: Future[Any] = Future()
        job = Job(
            name,
            tier,
            self._next_seq(),
            now,
            call=call,
            args=args,
            coroutine=coroutine,
            future=future,
            deadline_s=None if deadline_s is None else now + deadline_s,
        )
        self._post(("job", job))
        return future

    def add_observer(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event)`` for every :class:`SchedulerEvent`; returns a remover.

        Observers run on the scheduler thread, but only in slack time (never while a
        real-time job is due) and in order; keep them short (count, enqueue), and do not
        block. An observer that raises is logged and kept.
        """
        self._observers.append(observer)

        def remove() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return remove

    @property
    def running(self) -> bool:
        return self._running

    @property
    def under_pressure(self) -> bool:
        """True while real-time work is at risk and lower tiers are degraded."""
        return self._under_pressure

    @property
    def stats(self) -> SchedulerStats:
        """A snapshot of the counters (approximate while the scheduler runs)."""
        elapsed = self._elapsed_s
        if self._running:
            elapsed += self.clock.now() - self._session_start
        return SchedulerStats(
            realtime=replace(self._tiers[Tier.REALTIME].stats),
            inference=replace(self._tiers[Tier.INFERENCE].stats),
            background=replace(self._tiers[Tier.BACKGROUND].stats),
            pressure_episodes=self._pressure_episodes,
            under_pressure=self._under_pressure,
            realtime_priority=self._priority,
            elapsed_s=elapsed,
        )

    def now(self) -> float:
        """The scheduler clock's current time in seconds."""
        return self.clock.now()

    def run_for(self, seconds: float) -> SchedulerStats:
        """Run a session on the calling thread for ``seconds`` of clock time; return the stats.

        ``seconds=math.inf`` (real clock only) runs until :meth:`stop` is called from another
        thread or from a task: the calling thread becomes the real-time thread, as with
        :meth:`start` but without a new one. Jobs still queued at the end are dropped (their
        futures raise :class:`TaskSkipped`); periodic tasks stay registered for the next session.
        """
        if not (isinstance(seconds, float) and math.isinf(seconds) and seconds > 0):
            positive_seconds("seconds", seconds)
        elif self.clock.virtual:
            raise ConfigError(
                "seconds: a virtual clock needs a finite session (nothing could stop it); got inf"
            )
        self._claim()
        try:
            self._session(self.clock.now() + seconds)
        finally:
            self._release()
        return self.stats

    def start(self) -> None:
        """Run a session on a new thread ("zen-realtime") until :meth:`stop`."""
        if self.clock.virtual:
            raise ConfigError("clock: a virtual clock only runs with run_for(seconds)")
        self._claim()
        self._thread_error = None
        self._thread = threading.Thread(target=self._thread_main, name="zen-realtime", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float | None = 10.0) -> SchedulerStats:
        """End the session (of :meth:`start`, or of :meth:`run_for` on another thread) and wait
        for it: queued jobs are dropped, running worker calls finish, cooperative tasks are
        closed. Safe to call twice; from a task it only asks, since it cannot wait for itself.
        """
        self._stopping = True
        self._wake.set()
        if self._session_thread == threading.get_ident():
            return self.stats
        if not self._idle.wait(timeout_s):
            raise TimeoutError(
                f"stop: the scheduler did not end within {timeout_s} s; a task is probably"
                " blocking without yielding"
            )
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout_s)
        if self._thread_error is not None:
            error, self._thread_error = self._thread_error, None
            raise error
        return self.stats

    def close(self) -> None:
        """Stop, drop jobs submitted since, and cancel every periodic task (closing their
        generators). The scheduler can be used again afterwards, empty."""
        if self._session_thread == threading.get_ident():
            raise ConfigError("close: not from inside a task; call stop() there")
        self.stop()
        self._drain_inbox()
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            for job in state.ready_jobs():
                self._drop(job, "the scheduler was closed")
            state.slice_ready.clear()
            state.worker_ready.clear()
        for periodic in list(self._periodic):
            self._deactivate(periodic)
        self._flush(math.inf)

    def __enter__(self) -> Scheduler:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"Scheduler({state}, periodic={len(self._periodic)}, clock={self.clock!r})"

    # -- set-up helpers --------------------------------------------------------------------
    def _periodic_body(
        self, task: object, name: str
    ) -> tuple[Callable[[], Any] | None, Cooperative | None]:
        if is_cooperative_function(task):
            task = task()  # type: ignore[operator]
        if not is_cooperative(task):
            if not callable(task):
                raise ConfigError(
                    f"task: expected a callable, generator or coroutine, got {type(task).__name__}"
                )
            return task, None
        coroutine: Cooperative = task  # type: ignore[assignment]
        # Run the set-up part (up to the first yield) now, on the caller's thread.
        try:
            first = coroutine.send(None)
        except StopIteration:
            raise ConfigError(
                f"task {name}: the generator finished during set-up; a periodic task must"
                " yield once per release"
            ) from None
        if isinstance(first, Offload):
            coroutine.close()
            raise ConfigError(f"task {name}: offload(...) is not allowed in set-up")
        return None, coroutine

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._seq += 1
            return self._seq

    def _post(self, message: tuple[Any, ...]) -> None:
        self._inbox.put(message)
        self._wake.set()

    def _claim(self) -> None:
        if self._running:
            raise ConfigError("scheduler: already running; stop() it first")
        self._running = True
        self._stopping = False
        self._idle.clear()

    def _release(self) -> None:
        self._running = False
        self._session_thread = None
        self._idle.set()

    def _thread_main(self) -> None:
        try:
            self._session(math.inf)
        except BaseException as error:  # surfaced by stop()
            logger.exception("scheduler thread failed")
            self._thread_error = error
        finally:
            self._release()

    # -- the session -------------------------------------------------------------------------
    def _session(self, until: float) -> None:
        self._session_thread = threading.get_ident()
        config = self.config
        priority: ThreadPriority | None = None
        old_affinity: set[int] | None = None
        old_switch = sys.getswitchinterval()
        froze = False
        if config.realtime_priority and not self.clock.virtual:
            priority = raise_priority(config.fifo_priority)
            self._priority = priority.applied
        else:
            self._priority = "normal"
        if config.realtime_cpus is not None and not self.clock.virtual:
            old_affinity = thread_affinity()
            reason = pin_thread(config.realtime_cpus)
            if reason:
                logger.info("scheduler thread not pinned: %s", reason)
                old_affinity = None
        if config.gil_switch_interval_s is not None and not self.clock.virtual:
            sys.setswitchinterval(config.gil_switch_interval_s)
        # Someone else's freeze is left alone: unfreezing at the end would undo it.
        if config.freeze_gc and not self.clock.virtual and gc.get_freeze_count() == 0:
            gc.freeze()
            froze = True
        try:
            self._open_session()
            self._loop(until)
        finally:
            try:
                self._close_session()
            finally:
                if froze:
                    gc.unfreeze()
                sys.setswitchinterval(old_switch)
                if old_affinity is not None:
                    pin_thread(tuple(old_affinity))
                if priority is not None:
                    priority.restore()

    def _open_session(self) -> None:
        now = self.clock.now()
        self._session_start = now
        self.probe.start(now)
        self._pressure_until = -math.inf
        # Real-time workers only under a real-time scheduler thread, never above it.
        realtime = self._priority.startswith("SCHED_FIFO")
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            policy = state.policy
            assert policy is not None
            if policy.budget_s is not None:
                state.budget = Budget(policy.budget_s, self.config.budget_window_s, now)
            if policy.workers > 0:
                state.pool = WorkerPool(
                    f"zen-{tier.value}",
                    policy.workers,
                    policy.nice,
                    self.clock.now,
                    self._report,
                    policy.fifo_priority if realtime else None,
                )
                state.pool.start()
        for periodic in self._periodic:
            periodic.align(now)

    def _close_session(self) -> None:
        for tier in LOWER_TIERS:
            pool = self._tiers[tier].pool
            if pool is not None:
                pool.stop(timeout_s=10.0)
        self._drain_inbox()  # completions of the calls that were still running
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            state.pool = None
            for job in state.ready_jobs():
                self._drop(job, "the scheduler stopped")
            state.slice_ready.clear()
            state.worker_ready.clear()
        for periodic in list(self._periodic):
            if periodic.pending is not None:
                # Parked on an offload whose worker never reported (the pool stop timed out).
                self._drop(periodic.pending, "the scheduler stopped")
        self._elapsed_s += self.clock.now() - self._session_start
        if self._under_pressure:
            self._set_pressure(False, self.clock.now())
        self._flush(math.inf)

    def _loop(self, until: float) -> None:
        clock = self.clock
        while not self._stopping:
            self._wake.clear()
            self._drain_inbox()
            now = clock.now()
            if now >= until:
                return
            periodic = self._due_realtime(now)
            if periodic is not None:
                self._run_realtime(periodic, now)
                continue
            self._release_lower(now)
            self._update_pressure(now)
            self._replenish(now)
            self._scan_starvation(now)
            horizon = min(self._next_realtime_release(), until)
            self._dispatch_workers()
            if self._run_slice(now, horizon):
                continue
            if self._flush(horizon):
                continue
            wake_at = self._next_wake(now, horizon)
            clock.sleep_until(wake_at, self._wake)

    # -- inbox -----------------------------------------------------------------------------
    def _drain_inbox(self) -> None:
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return
            kind = message[0]
            if kind == "job":
                job: Job = message[1]
                self._tiers[job.tier].stats.jobs += 1
                self._make_ready(job, self.clock.now())
            elif kind == "done":
                self._worker_done(*message[1:])
            elif kind == "periodic":
                periodic: Periodic = message[1]
                periodic.align(self.clock.now())
                self._periodic.append(periodic)
            elif kind == "cancel":
                self._deactivate(message[1])

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

    # -- real-time tier ----------------------------------------------------------------------
    def _next_realtime_release(self) -> float:
        releases = [p.next_release for p in self._periodic if p.tier is Tier.REALTIME]
        return min(releases, default=math.inf)

    def _due_realtime(self, now: float) -> Periodic | None:
        due: Periodic | None = None
        for periodic in self._periodic:
            if periodic.tier is not Tier.REALTIME or periodic.next_release > now:
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
        stats = self._tiers[Tier.REALTIME].stats
        stats.jobs += count
        stats.deadline_misses += count
        self._emit(
            EventKind.MISS,
            Tier.REALTIME,
            periodic.name,
            now,
            {"count": count, "dropped": True, "release_ms": _ms(first - self._origin())},
        )
        self._signal_pressure(now)

    def _run_realtime(self, periodic: Periodic, now: float) -> None:
        release_s = periodic.next_release
        deadline = release_s + periodic.deadline_s
        release = Release(periodic.index, release_s, deadline, periodic.period_s)
        stats = self._tiers[Tier.REALTIME].stats
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
                error = _misuse(periodic.name, value)
            elif outcome == "bad":
                error = _bad_yield(periodic.name, value)
        end = self.clock.now()
        periodic.advance()
        execution = end - now
        latency = end - release_s
        stats.busy_s += execution
        missed = end > deadline
        if error is None:
            stats.completed += 1
        else:
            stats.failed += 1
        self.probe.record_span(
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
            self._emit(
                EventKind.MISS,
                Tier.REALTIME,
                periodic.name,
                end,
                {"latency_ms": _ms(latency), "deadline_ms": _ms(periodic.deadline_s)},
            )
        if execution > periodic.budget_s:
            stats.overruns += 1
            self._emit(
                EventKind.OVERRUN,
                Tier.REALTIME,
                periodic.name,
                end,
                {"run_ms": _ms(execution), "budget_ms": _ms(periodic.budget_s)},
            )
        if latency >= self.config.pressure_ratio * periodic.deadline_s:
            self._signal_pressure(end)
        if error is not None:
            self._record_error(Tier.REALTIME, periodic.name, error, end)
        if finished:
            self._deactivate(periodic)

    # -- lower tiers: releases, pressure, budgets, starvation ------------------------------
    def _release_lower(self, now: float) -> None:
        for periodic in self._periodic:
            if periodic.tier is Tier.REALTIME or periodic.next_release > now:
                continue
            release_s, index = periodic.next_release, periodic.index
            # One job per due release; releases that passed meanwhile are not made up for.
            periodic.advance(math.floor((now - release_s) / periodic.period_s) + 1)
            state = self._tiers[periodic.tier]
            state.stats.jobs += 1
            if periodic.pending is not None:
                # The previous release is still queued or running: do not pile up.
                state.stats.skipped += 1
                self._emit(
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
                self._next_seq(),
                release_s,
                call=periodic.call,
                coroutine=periodic.coroutine,
                deadline_s=deadline,
                owner=periodic,
                release=Release(index, release_s, deadline, periodic.period_s),
            )
            periodic.pending = job
            self._make_ready(job, now)

    def _update_pressure(self, now: float) -> None:
        if self._under_pressure and now >= self._pressure_until:
            self._set_pressure(False, now)
        if not self._under_pressure:
            return
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            assert state.policy is not None
            if state.policy.under_pressure != "skip":
                continue
            for job in [j for j in state.ready_jobs() if not j.started]:
                self._unready(job)
                self._drop(job, "real-time work is at risk (degradation policy 'skip')")

    def _signal_pressure(self, now: float) -> None:
        """Real-time work is at risk: degrade lower tiers for the next ``pressure_hold_s``."""
        self._pressure_until = now + self.config.pressure_hold_s
        if not self._under_pressure:
            self._set_pressure(True, now)

    def _set_pressure(self, on: bool, now: float) -> None:
        self._under_pressure = on
        if on:
            self._pressure_episodes += 1
        kind = EventKind.PRESSURE_ON if on else EventKind.PRESSURE_OFF
        self._emit(kind, Tier.REALTIME, "", now, {})

    def _replenish(self, now: float) -> None:
        for tier in LOWER_TIERS:
            budget = self._tiers[tier].budget
            if budget is not None:
                budget.replenish(now)

    def _open(self, state: TierState) -> bool:
        """May the tier start new work now (pressure permitting)?"""
        assert state.policy is not None
        return not self._under_pressure or state.policy.under_pressure == "run"

    def _budget_allows(self, state: TierState, job: Job) -> bool:
        return state.budget is None or state.budget.available or job.promoted

    def _charge(self, state: TierState, seconds: float, now: float) -> None:
        state.stats.busy_s += seconds
        budget = state.budget
        if budget is None:
            return
        was_available = budget.available
        budget.tokens_s -= seconds
        if was_available and not budget.available:
            state.stats.budget_exhaustions += 1
            self._emit(
                EventKind.BUDGET_EXHAUSTED,
                state.tier,
                "",
                now,
                {"budget_ms": _ms(budget.capacity_s), "window_ms": _ms(budget.window_s)},
            )

    def _scan_starvation(self, now: float) -> None:
        for tier in LOWER_TIERS:
            for job in self._tiers[tier].ready_jobs():
                if job.starving:
                    continue
                policy = self._tiers[job.tier].policy
                assert policy is not None
                waited = now - job.ready_since
                if waited <= policy.starvation_s:
                    continue
                job.starving = True
                self._tiers[job.tier].stats.starvation_events += 1
                self._emit(
                    EventKind.STARVATION,
                    job.tier,
                    job.name,
                    now,
                    {"waited_ms": _ms(waited), "limit_ms": _ms(policy.starvation_s)},
                )
                if policy.promote:
                    self._promote(job, now)

    def _promote(self, job: Job, now: float) -> None:
        self._unready(job)
        job.promoted = True
        if job.effective is Tier.BACKGROUND:
            job.effective = Tier.INFERENCE
        self._tiers[job.tier].stats.promotions += 1
        self._emit(EventKind.PROMOTION, job.tier, job.name, now, {"to": job.effective.value})
        self._insert(job)

    # -- ready queues ------------------------------------------------------------------------
    def _make_ready(self, job: Job, now: float) -> None:
        job.ready_since = now
        job.starving = False
        self._insert(job)

    def _insert(self, job: Job) -> None:
        state = self._tiers[job.effective]
        queue_ = state.worker_ready if job.needs_worker and state.pool else state.slice_ready
        bisect.insort(queue_, job, key=Job.sort_key)

    def _unready(self, job: Job) -> None:
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            for queue_ in (state.slice_ready, state.worker_ready):
                if job in queue_:
                    queue_.remove(job)
                    return

    def _end_quantum(self, job: Job) -> None:
        """A boost lasts one quantum: back to the job's own tier."""
        job.promoted = False
        job.effective = job.tier

    # -- workers -----------------------------------------------------------------------------
    def _dispatch_workers(self) -> None:
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            pool = state.pool
            if pool is None or not state.worker_ready or not self._open(state):
                continue
            index = 0
            while pool.idle > 0 and index < len(state.worker_ready):
                job = state.worker_ready[index]
                if not self._budget_allows(state, job):
                    index += 1
                    continue
                del state.worker_ready[index]
                if not self._begin(job):
                    continue
                if job.offload is not None:
                    fn, args = job.offload.fn, job.offload.args
                else:
                    assert job.call is not None
                    fn, args = job.call, job.args
                self._end_quantum(job)
                pool.hand_over(WorkItem(fn, args, token=(job, tier, job.ready_since, pool)))

    def _worker_done(
        self,
        token: tuple[Job, Tier, float, WorkerPool],
        result: Any,
        error: BaseException | None,
        start_s: float,
        end_s: float,
        lane: str,
    ) -> None:
        job, ran_as, ready_since, pool = token
        state = self._tiers[ran_as]
        if pool is state.pool and pool.busy > 0:
            pool.busy -= 1
        self._charge(state, end_s - start_s, end_s)
        if job.done:
            return  # dropped while its call ran (a stop that did not wait for it)
        if job.coroutine is not None and job.offload is not None:
            # An offloaded call: resume the task in its next slice.
            job.offload = None
            job.send_value, job.send_error = result, error
            self._record_span(job, ran_as, lane, "work", start_s, end_s, ready_since, None)
            self._make_ready(job, end_s)
            return
        self._finish(job, ran_as, lane, "work", start_s, end_s, ready_since, result, error)

    def _begin(self, job: Job) -> bool:
        """Mark a job as started; False if its caller cancelled it meanwhile."""
        if not job.started:
            job.started = True
            if job.future is not None and not job.future.set_running_or_notify_cancel():
                self._tiers[job.tier].stats.skipped += 1
                return False
        return True

    # -- slices ------------------------------------------------------------------------------
    def _run_slice(self, now: float, horizon: float) -> bool:
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            assert state.policy is not None
            if not state.slice_ready or not self._open(state):
                continue
            for job in state.slice_ready[:16]:
                if not self._budget_allows(state, job):
                    continue
                if now + job.estimate(state.policy.slice_s) + self.config.guard_s > horizon:
                    continue  # backfill: a shorter slice further down may fit
                state.slice_ready.remove(job)
                if not self._begin(job):
                    return True
                self._slice(job, state, now, horizon)
                return True
        return False

    def _slice(self, job: Job, state: TierState, start: float, horizon: float) -> None:
        ran_as = state.tier
        ready_since = job.ready_since
        self._end_quantum(job)
        policy = state.policy
        assert policy is not None
        if job.coroutine is None:  # a call without workers: one inline slice
            assert job.call is not None
            try:
                result, error = job.call(*job.args), None
            except Exception as caught:
                result, error = None, caught
            end = self.clock.now()
            self._after_slice(job, state, start, end, horizon)
            self._finish(
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
        end = self.clock.now()
        self._after_slice(job, state, start, end, horizon)
        job_ends = job.owner is not None and outcome == "slice"
        if outcome == "slice" and not job_ends:
            self._record_span(job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None)
            self._make_ready(job, end)
        elif outcome == "offload":
            job.offload = value
            self._record_span(job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None)
            self._make_ready(job, end)
        elif outcome == "bad":
            error = _bad_yield(job.name, value)
            close_task(job.coroutine)
            self._finish(job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, None, error)
            if job.owner is not None:
                self._deactivate(job.owner)
        else:
            result = value if outcome == "return" else None
            error = value if outcome == "error" else None
            self._finish(
                job, ran_as, SCHEDULER_LANE, "slice", start, end, ready_since, result, error
            )
            if job.owner is not None and not job_ends:
                self._deactivate(job.owner)  # its generator returned or raised

    def _after_slice(
        self, job: Job, state: TierState, start: float, end: float, horizon: float
    ) -> None:
        duration = end - start
        job.slices.append(duration)
        self._charge(state, duration, end)
        assert state.policy is not None
        if duration > state.policy.slice_s:
            self._tiers[job.tier].stats.overruns += 1
            detail: dict[str, Any] = {
                "slice_ms": _ms(duration),
                "limit_ms": _ms(state.policy.slice_s),
            }
            if end > horizon:
                detail["delayed_realtime_ms"] = _ms(end - horizon)
            self._emit(EventKind.OVERRUN, job.tier, job.name, end, detail)

    # -- completion ----------------------------------------------------------------------------
    def _finish(
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
        job.done = True
        stats = self._tiers[job.tier].stats
        missed = job.deadline_s is not None and end > job.deadline_s
        if error is None:
            stats.completed += 1
        else:
            stats.failed += 1
        outcome = "error" if error is not None else "miss" if missed else "ok"
        self._record_span(job, ran_as, lane, kind, start, end, ready_since, end - job.created_s,
                          outcome)  # fmt: skip
        if missed:
            assert job.deadline_s is not None
            stats.deadline_misses += 1
            self._emit(
                EventKind.MISS,
                job.tier,
                job.name,
                end,
                {
                    "latency_ms": _ms(end - job.created_s),
                    "deadline_ms": _ms(job.deadline_s - job.created_s),
                },
            )
        if error is not None:
            self._record_error(job.tier, job.name, error, end)
        if job.owner is not None:
            job.owner.pending = None
        if job.future is not None and (job.coroutine is not None or lane == SCHEDULER_LANE):
            # (Calls run by a worker had their future completed on that worker.)
            self._outbox.append((job.future, result, error))

    def _record_span(
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

    def _drop(self, job: Job, reason: str) -> None:
        """Drop a job that will not run (to the end): its future raises TaskSkipped."""
        job.done = True
        self._tiers[job.tier].stats.skipped += 1
        self._emit(EventKind.SKIP, job.tier, job.name, self.clock.now(), {"reason": reason})
        owner = job.owner
        if owner is not None:
            owner.pending = None
            if job.started and owner.coroutine is not None:
                # Dropped mid-job: the generator cannot be resumed with a new release.
                self._deactivate(owner)
        elif job.coroutine is not None:
            close_task(job.coroutine)  # runs its finally blocks
        if job.future is not None:
            self._outbox.append((job.future, None, TaskSkipped(f"{job.name}: {reason}")))

    def _deactivate(self, periodic: Periodic) -> None:
        if not periodic.active:
            return
        periodic.active = False
        if periodic in self._periodic:
            self._periodic.remove(periodic)
        if periodic.pending is not None:
            job, periodic.pending = periodic.pending, None
            self._unready(job)
        if periodic.coroutine is not None:
            close_task(periodic.coroutine)

    def _record_error(self, tier: Tier, name: str, error: BaseException, now: float) -> None:
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
        self._emit(EventKind.ERROR, tier, name, now, detail, error)

    # -- events and housekeeping ---------------------------------------------------------------
    def _origin(self) -> float:
        return self.probe.origin_s if self.probe.origin_s is not None else 0.0

    def _emit(
        self,
        kind: EventKind,
        tier: Tier,
        task: str,
        now: float,
        detail: Mapping[str, Any],
        error: BaseException | None = None,
    ) -> None:
        self.probe.record_mark(Mark(kind.value, tier.value, task, now, detail=dict(detail)))
        if self._observers:
            self._events.append(SchedulerEvent(kind, tier, task, now, dict(detail), error))

    def _flush(self, horizon: float) -> bool:
        """Complete futures and call observers while there is slack; True if it did any."""
        did = False
        while self._outbox or self._events:
            if self.clock.now() + self.config.guard_s >= horizon:
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
                for observer in list(self._observers):
                    try:
                        observer(event)
                    except Exception:
                        logger.exception("scheduler observer %r failed", observer)
        return did

    def _next_wake(self, now: float, horizon: float) -> float:
        wake = horizon
        for periodic in self._periodic:
            if periodic.tier is not Tier.REALTIME:
                wake = min(wake, periodic.next_release)
        if self._under_pressure:
            wake = min(wake, self._pressure_until)
        for tier in LOWER_TIERS:
            state = self._tiers[tier]
            ready = state.ready_jobs()
            if not ready:
                continue
            if state.budget is not None and not state.budget.available:
                wake = min(wake, state.budget.next_refill)
            for job in ready:
                own = self._tiers[job.tier].policy
                if not job.starving and own is not None:
                    wake = min(wake, job.ready_since + own.starvation_s)
        # Never sleep "until now": with a virtual clock that would not move time at all.
        return max(wake, now + 1e-6)


def _bad_yield(name: str, value: object) -> ConfigError:
    return ConfigError(
        f"task {name} yielded {value!r}; yield nothing (a slice boundary) or offload(fn, ...),"
        " or in a coroutine await next_slice() or offload(...)"
    )


def _misuse(name: str, offload: Offload) -> ConfigError:
    return ConfigError(
        f"task {name}: a real-time job cannot {offload!r}; it would wait for a worker. Do the"
        " heavy part on the inference tier (submit or a periodic inference task)"
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1e3, 4)
