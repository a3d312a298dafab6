"""OS priority and CPU affinity of the runtime's threads: the real-time thread and the workers.

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
taking their core from ordinary processes while they run. The pools themselves are in
:mod:`zen.runtime.workers`.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

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


def thread_affinity() -> set[int] | None:
    """CPUs the calling thread may run on, or None where the OS cannot tell."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    try:
        return os.sched_getaffinity(threading.get_native_id())
    except OSError:
        return None
