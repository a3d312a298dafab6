"""Dynamic micro-batching: requests that arrive within a short window run as one batch.

One worker thread per model. The first request of a batch opens a window of ``max_wait_s``;
the batch goes when the window closes or when ``max_batch_size`` rows are queued, whichever is
first (the dynamic batcher of NVIDIA Triton, with its ``max_queue_delay``). A request larger
than ``max_batch_size`` runs alone. While a batch runs, the next one fills up, so under load
batches grow by themselves and the window rarely matters.

Deadlines are checked twice against :class:`LatencyModel`'s estimate of a batch's latency:
when a request arrives (the queue ahead of it, the batch running now and the window) and when
its batch is formed. A request that cannot make it is rejected then with
:class:`~zen.runtime.errors.DeadlineExceeded` (``early=True``) instead of running late.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from zen.errors import ConfigError
from zen.runtime.errors import DeadlineExceeded, ModelNotReady, Overloaded
from zen.runtime.servables import Prepared

logger = logging.getLogger(__name__)

__all__ = ["LatencyModel", "MicroBatcher", "Pending"]


@dataclass(eq=False)
class Pending:
    """A request waiting for its batch.

    Attributes:
        deadline: ``time.monotonic()`` by which it must finish, or None.
        enqueued: when it was queued (``time.monotonic()``).
        key: its result-cache key (None when the cache is off).
    """

    prepared: Prepared
    future: Future[Any]
    deadline: float | None
    enqueued: float = field(default_factory=time.monotonic)
    key: bytes | None = None

    @property
    def rows(self) -> int:
        return self.prepared.rows


class LatencyModel:
    """Estimated seconds for a batch of ``rows``: ``(intercept + per_row * rows) * ratio``.

    ``intercept`` and ``per_row`` come from the backend's timings at two batch sizes; ``ratio``
    follows how observed batches compare with that (an exponential moving average, so the
    engine's own overhead and a busier machine are learned within a few batches).
    """

    def __init__(self, latency_s: Mapping[int, float], smoothing: float = 0.2) -> None:
        if not latency_s:
            raise ConfigError("latency_s: expected timings at one batch size at least")
        sizes = sorted(latency_s)
        small, large = sizes[0], sizes[-1]
        if large > small:
            slope = (latency_s[large] - latency_s[small]) / (large - small)
            self.per_row = max(slope, 0.0)
        else:
            self.per_row = 0.0
        self.intercept = max(latency_s[small] - self.per_row * small, 1e-6)
        self.smoothing = smoothing
        self.ratio = 1.0
        self._lock = threading.Lock()

    def predict(self, rows: int) -> float:
        """Estimated seconds to run a batch of ``rows``."""
        return (self.intercept + self.per_row * max(rows, 0)) * self.ratio

    def observe(self, rows: int, seconds: float) -> None:
        """Learn from a batch of ``rows`` that took ``seconds``."""
        base = self.intercept + self.per_row * rows
        ratio = min(max(seconds / base, 0.25), 50.0)
        with self._lock:
            self.ratio += self.smoothing * (ratio - self.ratio)

    def __repr__(self) -> str:
        return (
            f"LatencyModel({self.intercept * 1e3:.3f} ms + {self.per_row * 1e3:.4f} ms/row,"
            f" x{self.ratio:.2f})"
        )


Execute = Callable[[list[Pending]], None]


class MicroBatcher:
    """The queue and worker thread of one model (see the module docstring).

    Args:
        name: the model's name (thread name, messages).
        execute: runs one batch and completes every pending future; called on the worker
            with requests already marked running (``Future.set_running_or_notify_cancel``).
        latency: the estimate deadlines are checked against.
        max_batch_size: rows per batch; 1 turns batching off (one request at a time).
        max_wait_s: how long the first request of a batch waits for others.
        max_queue: requests queued at most; more are turned away (:class:`Overloaded`).
    """

    def __init__(
        self,
        name: str,
        execute: Execute,
        latency: LatencyModel,
        *,
        max_batch_size: int = 32,
        max_wait_s: float = 0.002,
        max_queue: int = 1024,
    ) -> None:
        if (
            isinstance(max_batch_size, bool)
            or not isinstance(max_batch_size, int)
            or max_batch_size < 1
        ):
            raise ConfigError(f"max_batch_size: expected an integer >= 1, got {max_batch_size!r}")
        if not 0 <= max_wait_s < math.inf:
            raise ConfigError(f"max_wait_ms: expected a number >= 0, got {max_wait_s * 1e3!r}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 1:
            raise ConfigError(f"max_queue: expected an integer >= 1, got {max_queue!r}")
        self.name = name
        self.execute = execute
        self.latency = latency
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self._queue: deque[Pending] = deque()
        self._queued_rows = 0
        self._cond = threading.Condition()
        self._closing = False
        self._busy_until: float | None = None  # estimated end of the batch running now
        #: Requests rejected when their batch formed (their deadline could no longer be met).
        self.late_rejections = 0
        self._thread = threading.Thread(target=self._loop, name=f"zen-batch-{name}", daemon=True)
        self._thread.start()

    @property
    def queue_depth(self) -> int:
        """Requests waiting (not counting the batch running now)."""
        return len(self._queue)

    # ------------------------------------------------------------------ callers
    def submit(self, pending: Pending) -> None:
        """Queue ``pending``; raises when it is turned away (full, closing, too late)."""
        with self._cond:
            if self._closing:
                raise ModelNotReady(f"model {self.name!r}: the engine is shutting down")
            if len(self._queue) >= self.max_queue:
                raise Overloaded(
                    f"model {self.name!r}: {len(self._queue)} requests are queued (max_queue);"
                    " retry later"
                )
            if pending.deadline is not None:
                now = time.monotonic()
                if pending.deadline <= now:
                    raise DeadlineExceeded(
                        f"model {self.name!r}: rejected, its deadline passed"
                        f" {(now - pending.deadline) * 1e3:.2f} ms ago, before it was queued",
                        early=True,
                    )
                finish = now + self._estimate_locked(pending.rows, now)
                if finish > pending.deadline:
                    raise DeadlineExceeded(
                        f"model {self.name!r}: rejected, the request would finish in about"
                        f" {(finish - now) * 1e3:.1f} ms ({len(self._queue)} queued ahead,"
                        f" batch latency ~{self.latency.predict(pending.rows) * 1e3:.1f} ms) but"
                        f" its deadline is in {(pending.deadline - now) * 1e3:.1f} ms",
                        early=True,
                    )
            self._queue.append(pending)
            self._queued_rows += pending.rows
            self._cond.notify()

    def estimate_s(self, rows: int) -> float:
        """Estimated seconds from now until a request of ``rows`` queued now would finish."""
        with self._cond:
            return self._estimate_locked(rows, time.monotonic())

    def _estimate_locked(self, rows: int, now: float) -> float:
        size = self.max_batch_size
        total = self._queued_rows + rows
        full, rest = divmod(total, size)
        run = full * self.latency.predict(size) + (self.latency.predict(rest) if rest else 0.0)
        if self._busy_until is not None:
            start = max(self._busy_until - now, 0.0)
        elif total >= size:
            start = 0.0
        else:
            opened = self._queue[0].enqueued if self._queue else now
            start = max(opened + self.max_wait_s - now, 0.0)
        return start + run

    def close(self, drain: bool = True, timeout_s: float | None = 30.0) -> None:
        """Stop taking requests; run the queued ones (``drain``) or fail them, then end the
        worker (waiting up to ``timeout_s``)."""
        with self._cond:
            self._closing = True
            if not drain:
                while self._queue:
                    pending = self._queue.popleft()
                    if pending.future.set_running_or_notify_cancel():
                        pending.future.set_exception(
                            ModelNotReady(f"model {self.name!r}: the engine shut down first")
                        )
                self._queued_rows = 0
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    # ------------------------------------------------------------------ worker
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return  # closing, nothing left
                window_end = self._queue[0].enqueued + self.max_wait_s
                while self._queued_rows < self.max_batch_size and not self._closing:
                    remaining = window_end - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if not self._queue:
                    continue  # close(drain=False) failed them meanwhile
                batch = self._take_locked()
                rows = sum(pending.rows for pending in batch)
                self._busy_until = time.monotonic() + self.latency.predict(rows)
            batch = self._admit(batch)
            if not batch:
                with self._cond:
                    self._busy_until = None
                continue
            try:
                self.execute(batch)
            except BaseException as error:  # execute completes futures itself; this is a guard
                logger.exception("model %s: batch failed outside the engine's handling", self.name)
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(error)
            finally:
                with self._cond:
                    self._busy_until = None

    def _admit(self, batch: list[Pending]) -> list[Pending]:
        """The requests of ``batch`` to run: not cancelled meanwhile, and able to finish by
        their deadline if the batch starts now (the others get DeadlineExceeded)."""
        live = [pending for pending in batch if pending.future.set_running_or_notify_cancel()]
        now = time.monotonic()
        estimate = self.latency.predict(sum(pending.rows for pending in live))
        admitted = []
        for pending in live:
            if pending.deadline is not None and now + estimate > pending.deadline:
                self.late_rejections += 1
                pending.future.set_exception(
                    DeadlineExceeded(
                        f"model {self.name!r}: rejected, its batch would finish in about"
                        f" {estimate * 1e3:.1f} ms, after its deadline (in"
                        f" {(pending.deadline - now) * 1e3:.1f} ms)",
                        early=True,
                    )
                )
            else:
                admitted.append(pending)
        return admitted

    def _take_locked(self) -> list[Pending]:
        batch = [self._queue.popleft()]
        rows = batch[0].rows
        while self._queue and rows + self._queue[0].rows <= self.max_batch_size:
            pending = self._queue.popleft()
            batch.append(pending)
            rows += pending.rows
        self._queued_rows -= rows
        return batch

    def __repr__(self) -> str:
        return (
            f"MicroBatcher({self.name!r}, max_batch_size={self.max_batch_size},"
            f" max_wait_ms={self.max_wait_s * 1e3:g}, queued={len(self._queue)})"
        )
