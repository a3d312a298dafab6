"""Clocks the scheduler paces on: the machine's monotonic clock, or virtual time for tests.

The scheduler never calls :func:`time.time` or :func:`time.sleep` directly; it asks a clock for
``now()`` and to ``sleep_until(deadline)``. Deadlines are absolute times on that clock, so a late
wake-up does not push every later release back (no sleep drift).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from zen.errors import ConfigError


class Clock(Protocol):
    """What the scheduler needs from a clock (seconds, monotonic, arbitrary origin)."""

    #: True when time only moves when the program moves it (tests, simulations).
    virtual: bool

    def now(self) -> float:
        """Current time in seconds."""
        ...

    def sleep_until(self, deadline_s: float, wake: threading.Event) -> None:
        """Block until ``deadline_s`` or until ``wake`` is set, whichever comes first."""
        ...


class MonotonicClock:
    """The machine's monotonic high-resolution clock (:func:`time.perf_counter`).

    Sleeping waits on an event with a timeout computed from the absolute deadline, so another
    thread can wake the scheduler early (new work arrived) and oversleeping never accumulates.
    """

    virtual = False

    def now(self) -> float:
        return time.perf_counter()

    def sleep_until(self, deadline_s: float, wake: threading.Event) -> None:
        timeout_s = deadline_s - time.perf_counter()
        if timeout_s >= threading.TIMEOUT_MAX:
            # Nothing is due (e.g. no periodic task): wait for work or stop() to wake us.
            # Event.wait raises OverflowError for timeouts beyond TIMEOUT_MAX.
            wake.wait()
        elif timeout_s > 0:
            wake.wait(timeout_s)

    def __repr__(self) -> str:
        return "MonotonicClock()"


class VirtualClock:
    """Time that advances only when told to: deterministic scheduler tests without sleeping.

    A task simulates ``cost_s`` of work with ``clock.advance(cost_s)``; when the scheduler has
    nothing to do it jumps straight to its next deadline. Use it with ``Scheduler.run_for`` and
    tiers without worker threads (``TierPolicy(workers=0)``): real threads would read a clock
    that other threads move, which is no longer deterministic.

    >>> clock = VirtualClock()
    >>> clock.advance(0.5); clock.now()
    0.5
    """

    virtual = True

    def __init__(self, start_s: float = 0.0) -> None:
        self._now = float(start_s)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        if not seconds >= 0:
            raise ConfigError(f"seconds: time only moves forward, got {seconds!r}")
        self._now += seconds

    def sleep_until(self, deadline_s: float, wake: threading.Event) -> None:
        # Nothing else can happen in virtual time while the scheduler sleeps: jump.
        self._now = max(self._now, deadline_s)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now:g})"
