"""Worker pools of the lower tiers: threads that run the calls the scheduler hands them.

Workers are ordinary threads; :mod:`zen.runtime.priority` says why they are not niced down and
how the opt-in ``SCHED_FIFO`` workers differ.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zen.runtime.priority import worker_priority

logger = logging.getLogger(__name__)


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
