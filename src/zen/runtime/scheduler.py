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

Parts
    :class:`Scheduler` keeps the public API, the session and the loop; four parts do the work,
    each owning its state: :class:`~zen.runtime.realtime.RealtimeTier` (real-time tasks and
    their jobs), :class:`~zen.runtime.admission.Admission` (pressure, budgets, starvation,
    promotion), :class:`~zen.runtime.dispatch.Dispatcher` (lower-tier periodic tasks, ready
    queues, workers, slices) and :class:`~zen.runtime.accounting.Accounting` (counters,
    trace, events, futures).

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

import gc
import logging
import math
import queue
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from types import TracebackType
from typing import Any

from zen.errors import ConfigError
from zen.runtime._state import Job, Periodic
from zen.runtime.accounting import Accounting, Observer
from zen.runtime.admission import Admission
from zen.runtime.clock import Clock, MonotonicClock
from zen.runtime.dispatch import Dispatcher
from zen.runtime.events import EventKind, SchedulerEvent, SchedulerStats, TierStats
from zen.runtime.policy import SchedulerConfig, Tier, TierPolicy, positive_seconds
from zen.runtime.priority import ThreadPriority, pin_thread, raise_priority, thread_affinity
from zen.runtime.realtime import RealtimeTier
from zen.runtime.tasks import (
    Cooperative,
    Offload,
    TaskSkipped,
    is_cooperative,
    is_cooperative_function,
    task_name,
)
from zen.runtime.trace import SessionProbe

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
        # Messages from other threads (submissions, tasks, cancellations, worker reports).
        self._inbox: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._wake = threading.Event()
        # The parts, each owning its state and given the parts it uses (never the other way).
        self._accounting = Accounting(self.probe, self.clock, self.config.guard_s)
        self._admission = Admission(self.config, self._accounting)
        self._realtime = RealtimeTier(
            self.clock, self._accounting, self._admission, self.config.pressure_ratio
        )
        self._dispatcher = Dispatcher(
            self.config, self.clock, self._admission, self._accounting, self._post
        )
        self._stopping = False
        self._running = False
        self._thread: threading.Thread | None = None
        self._thread_error: BaseException | None = None
        self._session_thread: int | None = None
        self._idle = threading.Event()
        self._idle.set()
        self._priority = "not started"
        self._elapsed_s = 0.0
        self._session_start = 0.0

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
            self._dispatcher.next_seq(),
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
        return self._accounting.add_observer(observer)

    @property
    def running(self) -> bool:
        return self._running

    @property
    def under_pressure(self) -> bool:
        """True while real-time work is at risk and lower tiers are degraded."""
        return self._admission.under_pressure

    @property
    def stats(self) -> SchedulerStats:
        """A snapshot of the counters (approximate while the scheduler runs)."""
        elapsed = self._elapsed_s
        if self._running:
            elapsed += self.clock.now() - self._session_start
        stats = self._accounting.stats
        return SchedulerStats(
            realtime=replace(stats[Tier.REALTIME]),
            inference=replace(stats[Tier.INFERENCE]),
            background=replace(stats[Tier.BACKGROUND]),
            pressure_episodes=self._admission.pressure_episodes,
            under_pressure=self._admission.under_pressure,
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
        self._dispatcher.drop_ready("the scheduler was closed")
        for periodic in [*self._realtime.tasks, *self._dispatcher.periodic]:
            self._deactivate(periodic)
        self._accounting.flush_all()

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
        periodic = len(self._realtime.tasks) + len(self._dispatcher.periodic)
        return f"Scheduler({state}, periodic={periodic}, clock={self.clock!r})"

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
        self._admission.open_session(now)
        # Real-time workers only under a real-time scheduler thread, never above it.
        self._dispatcher.start_workers(realtime=self._priority.startswith("SCHED_FIFO"))
        self._realtime.align(now)
        self._dispatcher.align(now)

    def _close_session(self) -> None:
        self._dispatcher.stop_workers()
        self._drain_inbox()  # completions of the calls that were still running
        self._dispatcher.end_session("the scheduler stopped")
        self._elapsed_s += self.clock.now() - self._session_start
        self._admission.close_session(self.clock.now())
        self._accounting.flush_all()

    def _loop(self, until: float) -> None:
        clock = self.clock
        realtime, admission = self._realtime, self._admission
        dispatcher, accounting = self._dispatcher, self._accounting
        while not self._stopping:
            self._wake.clear()
            self._drain_inbox()
            now = clock.now()
            if now >= until:
                return
            periodic = realtime.due(now)
            if periodic is not None:
                realtime.run(periodic, now)
                continue
            dispatcher.release_periodic(now)
            for tier in admission.update_pressure(now):
                dispatcher.shed(tier, "real-time work is at risk (degradation policy 'skip')")
            admission.replenish(now)
            dispatcher.promote_starving(now)
            horizon = min(realtime.next_release(), until)
            dispatcher.dispatch_workers()
            if dispatcher.run_slice(now, horizon):
                continue
            if accounting.flush(horizon):
                continue
            wake_at = self._next_wake(now, horizon)
            clock.sleep_until(wake_at, self._wake)

    def _next_wake(self, now: float, horizon: float) -> float:
        wake = min(self._dispatcher.next_wake(horizon), self._admission.pressure_ends())
        # Never sleep "until now": with a virtual clock that would not move time at all.
        return max(wake, now + 1e-6)

    # -- inbox -----------------------------------------------------------------------------
    def _drain_inbox(self) -> None:
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return
            kind = message[0]
            if kind == "job":
                self._dispatcher.submit(message[1], self.clock.now())
            elif kind == "done":
                self._dispatcher.worker_done(*message[1:])
            elif kind == "periodic":
                periodic: Periodic = message[1]
                owner = self._realtime if periodic.tier is Tier.REALTIME else self._dispatcher
                owner.add(periodic, self.clock.now())
            elif kind == "cancel":
                self._deactivate(message[1])

    def _deactivate(self, periodic: Periodic) -> None:
        if periodic.tier is Tier.REALTIME:
            self._realtime.deactivate(periodic)
        else:
            self._dispatcher.deactivate(periodic)
