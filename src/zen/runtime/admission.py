"""Which lower-tier work may start now: real-time pressure, tier budgets, starvation, promotion.

- *Pressure*: a real-time job at risk (latency over ``pressure_ratio`` of its deadline, or a
  miss) degrades the lower tiers for ``pressure_hold_s``: ``defer`` tiers start nothing new,
  ``skip`` tiers also drop the jobs that have not started.
- *Budgets*: a tier with ``budget_s`` may run that long per ``budget_window_s`` (a deferrable
  server, Strosnider, Lehoczky & Sha 1995); over budget it gets no new slices or calls.
- *Starvation*: a job ready for longer than its tier's ``starvation_s`` is reported once per
  wait and, when the tier's policy says ``promote``, boosted for one quantum: it goes to the
  front of its queue, background jumps to inference, and the budget does not hold it back.

Admission decides; the dispatcher, which owns the ready queues, moves the jobs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from zen.runtime._state import Budget, Job
from zen.runtime.accounting import Accounting
from zen.runtime.events import EventKind, detail_ms
from zen.runtime.policy import LOWER_TIERS, SchedulerConfig, Tier, TierPolicy


class Admission:
    """Pressure state, budgets and policies of the lower tiers.

    Args:
        config: the scheduler's settings (tier policies, budget window, pressure hold).
        accounting: where budget use is counted and events are reported.
    """

    def __init__(self, config: SchedulerConfig, accounting: Accounting) -> None:
        self.policies: dict[Tier, TierPolicy] = {tier: config.policy(tier) for tier in LOWER_TIERS}
        self.budgets: dict[Tier, Budget | None] = dict.fromkeys(LOWER_TIERS)
        self.under_pressure = False
        self._pressure_until = -math.inf
        self.pressure_episodes = 0
        self._accounting = accounting
        self._stats = accounting.stats
        self._hold_s = config.pressure_hold_s
        self._window_s = config.budget_window_s
        # Tiers whose policy drops unstarted jobs under pressure, in rank order.
        self._shedding = tuple(
            tier for tier in LOWER_TIERS if self.policies[tier].under_pressure == "skip"
        )

    def open_session(self, now: float) -> None:
        """Fresh budgets (full, first refill one window from now), no pressure carried over."""
        self._pressure_until = -math.inf
        for tier in LOWER_TIERS:
            budget_s = self.policies[tier].budget_s
            if budget_s is not None:
                self.budgets[tier] = Budget(budget_s, self._window_s, now)

    def close_session(self, now: float) -> None:
        if self.under_pressure:
            self._set_pressure(False, now)

    # -- pressure ------------------------------------------------------------------------------
    def signal_pressure(self, now: float) -> None:
        """Real-time work is at risk: degrade lower tiers for the next ``pressure_hold_s``."""
        self._pressure_until = now + self._hold_s
        if not self.under_pressure:
            self._set_pressure(True, now)

    def update_pressure(self, now: float) -> tuple[Tier, ...]:
        """End pressure whose hold has passed; returns the tiers that must drop their jobs not
        started yet (policy ``skip``, under pressure), else ``()``."""
        if self.under_pressure and now >= self._pressure_until:
            self._set_pressure(False, now)
        return self._shedding if self.under_pressure else ()

    def pressure_ends(self) -> float:
        """When the current pressure ends unless renewed (``inf`` when there is none)."""
        return self._pressure_until if self.under_pressure else math.inf

    def is_open(self, tier: Tier) -> bool:
        """May the tier start new work now (pressure permitting)?"""
        return not self.under_pressure or self.policies[tier].under_pressure == "run"

    def _set_pressure(self, on: bool, now: float) -> None:
        self.under_pressure = on
        if on:
            self.pressure_episodes += 1
        kind = EventKind.PRESSURE_ON if on else EventKind.PRESSURE_OFF
        self._accounting.emit(kind, Tier.REALTIME, "", now, {})

    # -- budgets -------------------------------------------------------------------------------
    def replenish(self, now: float) -> None:
        for tier in LOWER_TIERS:
            budget = self.budgets[tier]
            if budget is not None:
                budget.replenish(now)

    def allows(self, tier: Tier, job: Job) -> bool:
        """Does the budget of the tier ``job`` is queued in let it start (a boost always may)?"""
        budget = self.budgets[tier]
        return budget is None or budget.available or job.promoted

    def charge(self, tier: Tier, seconds: float, now: float) -> None:
        """Count run time against a tier (it ran as ``tier``); report a budget just used up."""
        self._stats[tier].busy_s += seconds
        budget = self.budgets[tier]
        if budget is None:
            return
        was_available = budget.available
        budget.tokens_s -= seconds
        if was_available and not budget.available:
            self._stats[tier].budget_exhaustions += 1
            self._accounting.emit(
                EventKind.BUDGET_EXHAUSTED,
                tier,
                "",
                now,
                {
                    "budget_ms": detail_ms(budget.capacity_s),
                    "window_ms": detail_ms(budget.window_s),
                },
            )

    # -- starvation and promotion --------------------------------------------------------------
    def starved(self, jobs: list[Job], now: float) -> Iterator[Job]:
        """Report each job that waited past its own tier's ``starvation_s`` (once per wait), and
        yield those whose policy promotes them, one at a time: the caller requeues each around
        :meth:`promote` before the next is looked at, so events stay in order."""
        for job in jobs:
            if job.starving:
                continue
            policy = self.policies[job.tier]
            waited = now - job.ready_since
            if waited <= policy.starvation_s:
                continue
            job.starving = True
            self._stats[job.tier].starvation_events += 1
            self._accounting.emit(
                EventKind.STARVATION,
                job.tier,
                job.name,
                now,
                {"waited_ms": detail_ms(waited), "limit_ms": detail_ms(policy.starvation_s)},
            )
            if policy.promote:
                yield job

    def promote(self, job: Job, now: float) -> None:
        """Boost a job for one quantum: front of its queue, background runs as inference."""
        job.promoted = True
        if job.effective is Tier.BACKGROUND:
            job.effective = Tier.INFERENCE
        self._stats[job.tier].promotions += 1
        self._accounting.emit(
            EventKind.PROMOTION, job.tier, job.name, now, {"to": job.effective.value}
        )

    def next_change(self, tier: Tier, ready: list[Job]) -> float:
        """When admission of the ``ready`` jobs queued in ``tier`` may change next: the tier's
        budget refill (if used up) or a job reaching its starvation limit."""
        change = math.inf
        budget = self.budgets[tier]
        if budget is not None and not budget.available:
            change = budget.next_refill
        for job in ready:
            if not job.starving:
                change = min(change, job.ready_since + self.policies[job.tier].starvation_s)
        return change
