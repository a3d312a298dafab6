"""The scheduler's bookkeeping: periodic tasks, jobs and budgets (internal)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from zen.runtime.policy import Tier
from zen.runtime.tasks import Cooperative, Offload, Release


class Periodic:
    """A periodic task: released every ``period_s``, each release one job."""

    def __init__(
        self,
        name: str,
        tier: Tier,
        call: Callable[[], Any] | None,
        coroutine: Cooperative | None,
        period_s: float,
        deadline_s: float,
        budget_s: float,
        phase_s: float,
        drop_late: bool,
    ) -> None:
        self.name, self.tier = name, tier
        self.call, self.coroutine = call, coroutine
        self.period_s, self.deadline_s, self.budget_s = period_s, deadline_s, budget_s
        self.phase_s, self.drop_late = phase_s, drop_late
        # Release k is at anchor + k * period: computed, never accumulated, so no float drift.
        self.anchor = math.inf
        self.since_anchor = 0
        self.next_release = math.inf
        self.index = 0
        self.active = True
        self.pending: Job | None = None  # lower tiers: the job of the latest release

    def align(self, now: float) -> None:
        """First release at ``now + phase_s``."""
        self.anchor, self.since_anchor = now + self.phase_s, 0
        self.next_release = self.anchor

    def advance(self, releases: int = 1) -> None:
        self.since_anchor += releases
        self.index += releases
        self.next_release = self.anchor + self.since_anchor * self.period_s


class Job:
    """One unit of lower-tier work: a call, a cooperative task, or one release of either."""

    __slots__ = (
        "args",
        "call",
        "coroutine",
        "created_s",
        "deadline_s",
        "done",
        "effective",
        "future",
        "name",
        "offload",
        "owner",
        "promoted",
        "ready_since",
        "release",
        "send_error",
        "send_value",
        "seq",
        "slices",
        "started",
        "starving",
        "tier",
    )

    def __init__(
        self,
        name: str,
        tier: Tier,
        seq: int,
        created_s: float,
        *,
        call: Callable[..., Any] | None = None,
        args: tuple[Any, ...] = (),
        coroutine: Cooperative | None = None,
        future: Future[Any] | None = None,
        deadline_s: float | None = None,
        owner: Periodic | None = None,
        release: Release | None = None,
    ) -> None:
        self.name, self.tier, self.effective, self.seq = name, tier, tier, seq
        self.created_s = self.ready_since = created_s
        self.call, self.args, self.coroutine = call, args, coroutine
        self.future, self.deadline_s = future, deadline_s
        self.owner, self.release = owner, release
        self.offload: Offload | None = None
        self.send_value: Any = release
        self.send_error: BaseException | None = None
        self.slices: deque[float] = deque(maxlen=8)
        self.started = False
        self.done = False  # finished or dropped: nothing may resume it
        self.starving = False
        self.promoted = False

    @property
    def needs_worker(self) -> bool:
        """Its next step is a call (rather than resuming the coroutine)."""
        return self.coroutine is None or self.offload is not None

    def estimate(self, default_s: float) -> float:
        """Admission estimate of its next slice: 75th percentile of the last 8 slices."""
        if not self.slices:
            return default_s
        ordered = sorted(self.slices)
        return ordered[int(0.75 * (len(ordered) - 1))]

    def sort_key(self) -> tuple[bool, int]:
        return (not self.promoted, self.seq)


class Budget:
    """Run time a tier may use per window, replenished to full at each window (deferrable
    server); spending past zero is carried over as debt."""

    def __init__(self, capacity_s: float, window_s: float, now: float) -> None:
        self.capacity_s, self.window_s = capacity_s, window_s
        self.tokens_s = capacity_s
        self.next_refill = now + window_s

    def replenish(self, now: float) -> None:
        if now >= self.next_refill:
            windows = math.floor((now - self.next_refill) / self.window_s) + 1
            self.tokens_s = min(self.capacity_s, self.tokens_s + windows * self.capacity_s)
            self.next_refill += windows * self.window_s

    @property
    def available(self) -> bool:
        return self.tokens_s > 0
