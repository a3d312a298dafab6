"""The runtime's threads: OS priority for the real-time thread, and the tiers' worker pools.

Priority is per thread on Linux (``sched_setscheduler`` and ``setpriority`` accept a thread id),
so the real-time thread can run ``SCHED_FIFO`` while the worker threads of the same process stay
ordinary time-shared threads. Raising priority needs privileges (root, ``CAP_SYS_NICE`` or an
``RLIMIT_RTPRIO`` grant such as audio groups get); without them we fall back to what is
permitted and log once at INFO why.

Worker threads are *not* niced down by default. They hold the GIL between native calls, and the
GIL has no priority inheritance: a worker that the OS preempts while holding it blocks the
real-time thread until it gets the CPU back, which takes longer the lower its priority. On a
loaded machine that costs more deadline misses than the nicing saves; the tiers' priority is
enforced by the scheduler's admission (what runs when) instead. A new thread inherits its
creator's policy and nice level, so workers reset theirs explicitly (:func:`worker_priority`).
Where the machine is shared with other busy processes, real-time workers (``SCHED_FIFO`` below
the scheduler thread, ``TierPolicy(fifo_priority=...)``) remove the inversion at the price of
taking their core from ordinary processes while they run.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

_logged: set[str] = set()
_PER_THREAD = sys.platform.startswith("linux")


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        logger.info(message)


@dataclass
class ThreadPriority:
    """What :func:`raise_priority` or :func:`worker_priority` did to the calling thread.

    Attributes:
        applied: e.g. ``"SCHED_FIFO 10"``, ``"nice -10"``, ``"nice 5"`` or ``"normal"``.
        reason: why nothing stronger was applied ("" when the request was met).
    """

    applied: str
    reason: str = ""
    _restore: Callable[[], None] | None = field(default=None, repr=False)

    def restore(self) -> None:
        """Undo the change on the calling thread (it must be the thread that made it)."""
        if self._restore is not None:
            restore, self._restore = self._restore, None
            try:
                restore()
            except OSError as error:
                logger.debug("could not restore thread priority: %s", error)


def raise_priority(fifo_priority: int = 10, fallback_nice: int = -10) -> ThreadPriority:
    """Give the calling thread real-time priority, or the best the OS permits.

    Tries ``SCHED_FIFO`` at ``fifo_priority`` (1-99), then nice ``fallback_nice``; logs once at
    INFO when it falls back. Linux only; elsewhere the thread keeps its priority.
    """
    if not _PER_THREAD:
        reason = f"per-thread priority is not supported on {sys.platform}"
        _log_once(f"real-time thread at normal priority: {reason}")
        return ThreadPriority("normal", reason)
    tid = threading.get_native_id()
    old_policy = os.sched_getscheduler(tid)
    old_param = os.sched_getparam(tid)
    old_nice = os.getpriority(os.PRIO_PROCESS, tid)
    try:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(fifo_priority))
    except OSError as error:
        fifo_reason = f"SCHED_FIFO not permitted ({error.strerror})"
    else:
        return ThreadPriority(
            f"SCHED_FIFO {fifo_priority}",
            _restore=lambda: os.sched_setscheduler(tid, old_policy, old_param),
        )
    if fallback_nice >= old_nice:
        _log_once(f"real-time thread at normal priority: {fifo_reason}")
        return ThreadPriority("normal", fifo_reason)
    try:
        os.setpriority(os.PRIO_PROCESS, tid, fallback_nice)
    except OSError as error:
        reason = f"{fifo_reason}; nice {fallback_nice} not permitted ({error.strerror})"
        _log_once(f"real-time thread at normal priority: {reason}")
        return ThreadPriority("normal", reason)
    _log_once(f"real-time thread at nice {fallback_nice}: {fifo_reason}")
    return ThreadPriority(
        f"nice {fallback_nice}",
        fifo_reason,
        _restore=lambda: os.setpriority(os.PRIO_PROCESS, tid, old_nice),
    )


def worker_priority(nice: int = 0, fifo_priority: int | None = None) -> ThreadPriority:
    """Give the calling worker thread its tier's priority, whatever it inherited.

    ``SCHED_FIFO`` at ``fifo_priority`` when given and permitted (else logged once and
    ignored); otherwise an ordinary time-shared thread (``SCHED_OTHER``) at ``nice``. A new
    thread inherits its creator's policy, so a worker made by a real-time thread would
    otherwise be real-time too. A ``nice`` below the current level needs privileges and is
    skipped (with the reason).
    """
    if not _PER_THREAD:
        return ThreadPriority("normal", f"per-thread priority is not supported on {sys.platform}")
    tid = threading.get_native_id()
    if fifo_priority is not None:
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(fifo_priority))
        except OSError as error:
            _log_once(f"worker threads not real-time: SCHED_FIFO not permitted ({error.strerror})")
        else:
            return ThreadPriority(f"SCHED_FIFO {fifo_priority}")
    try:
        if os.sched_getscheduler(tid) != os.SCHED_OTHER:
            os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
        if os.getpriority(os.PRIO_PROCESS, tid) != nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as error:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        return ThreadPriority(f"nice {current}", f"nice {nice} not permitted ({error.strerror})")
    return ThreadPriority(f"nice {nice}")


def pin_thread(cpus: tuple[int, ...]) -> str:
    """Restrict the calling thread to ``cpus``; returns "" or why it could not."""
    if not _PER_THREAD or not hasattr(os, "sched_setaffinity"):
        return f"thread affinity is not supported on {sys.platform}"
    try:
        os.sched_setaffinity(threading.get_native_id(), cpus)
    except OSError as error:
        return f"cannot pin to CPUs {list(cpus)} ({error.strerror})"
    return ""


@dataclass
class WorkItem:
    """One call for a worker: ``fn(*args)``; ``token`` lets the submitter find its job again."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    token: Any


#: Called on the worker thread when an item finished: (item, result, error, start_s, end_s, lane).
Report = Callable[[WorkItem, Any, BaseException | None, float, float, str], None]


class WorkerPool:
    """Threads that run :class:`WorkItem` s in the order they are given, as ordinary threads.

    The pool has no queue discipline of its own: the scheduler hands an item over only when a
    worker is idle (``idle > 0``), so priority decisions stay with the scheduler and a queued
    background batch can never sit in front of newer inference work.

    Args:
        name: thread name prefix, e.g. ``"zen-inference"``.
        size: number of threads.
        nice: nice level of the threads (Linux), whatever the creating thread had.
        fifo_priority: run the threads ``SCHED_FIFO`` at this priority instead (if permitted).
        now: the clock that timestamps runs.
        report: called on the worker thread after every item.
    """

    def __init__(
        self,
        name: str,
        size: int,
        nice: int,
        now: Callable[[], float],
        report: Report,
        fifo_priority: int | None = None,
    ) -> None:
        self.name = name
        self.size = size
        self.nice = nice
        self.fifo_priority = fifo_priority
        self._now = now
        self._report = report
        self._items: queue.SimpleQueue[WorkItem | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.busy = 0  # changed by the scheduler thread only: +1 on hand-over, -1 on report

    @property
    def idle(self) -> int:
        return self.size - self.busy

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def start(self) -> None:
        if self._threads:
            return
        for index in range(self.size):
            lane = f"worker {index}"
            thread = threading.Thread(
                target=self._work, args=(lane,), name=f"{self.name}-{index}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def hand_over(self, item: WorkItem) -> None:
        self.busy += 1
        self._items.put(item)

    def stop(self, timeout_s: float | None = None) -> bool:
        """Let running items finish, end the threads; False if some did not end in time."""
        for _ in self._threads:
            self._items.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            logger.warning("worker threads still running after stop: %s", ", ".join(alive))
        self._threads = []
        return not alive

    def _work(self, lane: str) -> None:
        worker_priority(self.nice, self.fifo_priority)
        while True:
            item = self._items.get()
            if item is None:
                return
            started = self._now()
            try:
                result, error = item.fn(*item.args), None
            except BaseException as caught:  # a worker must outlive any task
                result, error = None, caught
            try:
                self._report(item, result, error, started, self._now(), lane)
            except Exception:  # a bug in the report must not kill the worker
                logger.exception("reporting a finished work item failed")
            # Drop references now: a finished item must not keep big arrays alive until the next.
            del item, result, error
