"""What a scheduler can be told: the tiers, each lower tier's policy, and session settings."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from zen.errors import ConfigError, expect_one_of

__all__ = ["LOWER_TIERS", "SchedulerConfig", "Tier", "TierPolicy", "positive_seconds"]


class Tier(StrEnum):
    """Priority tiers, highest first."""

    REALTIME = "realtime"
    INFERENCE = "inference"
    BACKGROUND = "background"

    @property
    def rank(self) -> int:
        """0 for realtime, 1 for inference, 2 for background."""
        return _RANKS[self]

    @classmethod
    def parse(cls, value: Tier | str) -> Tier:
        """``Tier`` from a member or its name; a :class:`ConfigError` for anything else."""
        try:
            return cls(value)
        except ValueError:
            raise expect_one_of("tier", value, [tier.value for tier in cls]) from None


_RANKS = {tier: rank for rank, tier in enumerate(Tier)}
LOWER_TIERS = (Tier.INFERENCE, Tier.BACKGROUND)
_PRESSURE_POLICIES = ("run", "defer", "skip")


def positive_seconds(name: str, value: float, *, allow_none: bool = False) -> None:
    """Raise a ConfigError unless ``value`` is a positive, finite number (or allowed None)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
    if math.isinf(value):
        raise ConfigError(f"{name}: expected a finite number of seconds, got {value!r}")


@dataclass(frozen=True)
class TierPolicy:
    """How one lower tier (inference or background) is scheduled.

    Args:
        slice_s: longest cooperative slice a task of this tier should run before yielding;
            also the admission estimate for a task that has not run yet.
        budget_s: run time the tier may use per ``SchedulerConfig.budget_window_s`` (slices
            and worker calls together); ``None`` for no limit.
        starvation_s: a job ready for longer than this is reported as starving.
        promote: boost starving jobs for one quantum (see the module docstring).
        under_pressure: what the tier does while real-time work is at risk: ``"run"`` as
            usual, ``"defer"`` (start nothing new) or ``"skip"`` (also drop jobs not started).
        workers: threads for calls and offloaded work; 0 runs them inline on the scheduler
            thread, as slices (deterministic, for tests and virtual time).
        nice: nice level of the tier's worker threads (Linux). 0 by default: a niced worker
            preempted while it holds the GIL stalls the real-time thread (no priority
            inheritance), see :mod:`zen.runtime.priority`.
        fifo_priority: run the tier's workers ``SCHED_FIFO`` at this priority (below the
            scheduler thread's) where permitted, so other processes cannot preempt them
            while they hold the GIL. Opt-in: a busy FIFO worker leaves ordinary processes
            little of its core; bound it with ``budget_s``. ``None`` (default): ordinary.
    """

    slice_s: float = 0.002
    budget_s: float | None = None
    starvation_s: float = 1.0
    promote: bool = True
    under_pressure: str = "defer"
    workers: int = 1
    nice: int = 0
    fifo_priority: int | None = None

    def __post_init__(self) -> None:
        positive_seconds("slice_s", self.slice_s)
        positive_seconds("budget_s", self.budget_s, allow_none=True)  # type: ignore[arg-type]
        positive_seconds("starvation_s", self.starvation_s)
        if self.under_pressure not in _PRESSURE_POLICIES:
            raise expect_one_of("under_pressure", self.under_pressure, _PRESSURE_POLICIES)
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 0:
            raise ConfigError(f"workers: expected an integer >= 0, got {self.workers!r}")
        if not isinstance(self.nice, int) or not -20 <= self.nice <= 19:
            raise ConfigError(f"nice: expected an integer from -20 to 19, got {self.nice!r}")
        if self.fifo_priority is not None and not 1 <= self.fifo_priority <= 98:
            raise ConfigError(f"fifo_priority: expected 1-98 or None, got {self.fifo_priority!r}")


@dataclass(frozen=True)
class SchedulerConfig:
    """Settings of a :class:`Scheduler`; the defaults suit an audio block of a few ms.

    Args:
        inference: policy of the inference tier.
        background: policy of the background tier.
        budget_window_s: replenishment period of the tier budgets.
        guard_s: time kept free before every real-time release (wake-up and GIL latency).
        pressure_ratio: a real-time job whose latency exceeds this fraction of its deadline
            puts the scheduler under pressure.
        pressure_hold_s: how long pressure lasts after the last real-time job at risk.
        realtime_priority: ask the OS for real-time priority for the scheduler thread.
        fifo_priority: ``SCHED_FIFO`` priority (1-99) to ask for.
        realtime_cpus: pin the scheduler thread to these CPUs (``None``: leave it to the OS).
        gil_switch_interval_s: ``sys.setswitchinterval`` during a session (``None``: leave).
        freeze_gc: ``gc.freeze()`` during a session, so collections skip set-up objects
            (unless something froze objects already).
        trace_capacity: spans and marks the session probe keeps (ring buffer).
    """

    inference: TierPolicy = field(
        default_factory=lambda: TierPolicy(starvation_s=0.5, under_pressure="defer")
    )
    background: TierPolicy = field(
        default_factory=lambda: TierPolicy(budget_s=0.03, starvation_s=2.0, under_pressure="defer")
    )
    budget_window_s: float = 0.1
    guard_s: float = 0.0005
    pressure_ratio: float = 0.8
    pressure_hold_s: float = 0.25
    realtime_priority: bool = True
    fifo_priority: int = 10
    realtime_cpus: tuple[int, ...] | None = None
    gil_switch_interval_s: float | None = 0.001
    freeze_gc: bool = True
    trace_capacity: int = 500_000

    def __post_init__(self) -> None:
        for name in ("inference", "background"):
            if not isinstance(getattr(self, name), TierPolicy):
                raise ConfigError(f"{name}: expected a TierPolicy, got {getattr(self, name)!r}")
        positive_seconds("budget_window_s", self.budget_window_s)
        if not 0 <= self.guard_s < 1:
            raise ConfigError(f"guard_s: expected seconds in [0, 1), got {self.guard_s!r}")
        if not 0 < self.pressure_ratio <= 1:
            raise ConfigError(
                f"pressure_ratio: expected a fraction in (0, 1], got {self.pressure_ratio!r}"
            )
        positive_seconds("pressure_hold_s", self.pressure_hold_s)
        if not 1 <= self.fifo_priority <= 99:
            raise ConfigError(f"fifo_priority: expected 1-99, got {self.fifo_priority!r}")
        for name in ("inference", "background"):
            worker_fifo = getattr(self, name).fifo_priority
            if worker_fifo is not None and worker_fifo >= self.fifo_priority:
                raise ConfigError(
                    f"{name}.fifo_priority: {worker_fifo} would preempt the real-time thread"
                    f" ({self.fifo_priority}); choose a lower one"
                )
        positive_seconds("gil_switch_interval_s", self.gil_switch_interval_s, allow_none=True)  # type: ignore[arg-type]
        if self.trace_capacity < 1:
            raise ConfigError(f"trace_capacity: expected >= 1, got {self.trace_capacity!r}")

    def policy(self, tier: Tier | str) -> TierPolicy:
        """The policy of a lower tier."""
        tier = Tier.parse(tier)
        if tier is Tier.REALTIME:
            raise ConfigError("tier: the realtime tier has no TierPolicy; it is periodic only")
        return self.inference if tier is Tier.INFERENCE else self.background
