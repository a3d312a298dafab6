"""Admission on its own: budgets, pressure and starvation decided without a scheduler loop.

The scheduler's behaviour through its public API is specified in test_scheduler.py; these tests
pin the small interface the dispatcher relies on.
"""

from __future__ import annotations

from typing import Any

import pytest

from zen.runtime import SchedulerConfig, SessionProbe, Tier, TierPolicy, VirtualClock
from zen.runtime._state import Job
from zen.runtime.accounting import Accounting
from zen.runtime.admission import Admission


def admission_with(**settings: Any) -> tuple[Admission, Accounting]:
    accounting = Accounting(SessionProbe(1000), VirtualClock(), guard_s=0.0)
    return Admission(SchedulerConfig(**settings), accounting), accounting


def job(name: str, tier: Tier, ready_since: float, seq: int = 1) -> Job:
    return Job(name, tier, seq, ready_since)


def test_a_used_up_budget_is_reported_once_holds_the_tier_and_refills_next_window() -> None:
    admission, accounting = admission_with(
        background=TierPolicy(budget_s=0.01), budget_window_s=0.1
    )
    admission.open_session(0.0)
    waiting = job("batch", Tier.BACKGROUND, 0.0)
    admission.charge(Tier.BACKGROUND, 0.008, 0.01)
    assert admission.allows(Tier.BACKGROUND, waiting)
    admission.charge(Tier.BACKGROUND, 0.004, 0.02)  # 2 ms of debt
    admission.charge(Tier.BACKGROUND, 0.001, 0.03)
    assert not admission.allows(Tier.BACKGROUND, waiting)
    waiting.promoted = True
    assert admission.allows(Tier.BACKGROUND, waiting)  # a boost ignores the budget
    stats = accounting.stats[Tier.BACKGROUND]
    assert stats.budget_exhaustions == 1 and stats.busy_s == pytest.approx(0.013)
    assert admission.next_change(Tier.BACKGROUND, [waiting]) == 0.1  # the refill
    admission.replenish(0.1)
    waiting.promoted = False
    assert admission.allows(Tier.BACKGROUND, waiting)


def test_pressure_sheds_only_skip_tiers_and_ends_after_its_hold() -> None:
    admission, accounting = admission_with(
        inference=TierPolicy(under_pressure="run"),
        background=TierPolicy(under_pressure="skip"),
        pressure_hold_s=0.05,
    )
    assert admission.update_pressure(0.0) == ()
    admission.signal_pressure(0.01)
    assert admission.update_pressure(0.02) == (Tier.BACKGROUND,)
    assert admission.is_open(Tier.INFERENCE) and not admission.is_open(Tier.BACKGROUND)
    assert admission.pressure_ends() == pytest.approx(0.06)
    admission.signal_pressure(0.03)  # renewed while on: still one episode
    assert admission.update_pressure(0.07) == (Tier.BACKGROUND,)
    assert admission.update_pressure(0.09) == ()
    assert admission.is_open(Tier.BACKGROUND) and admission.pressure_episodes == 1
    kinds = [mark.kind for mark in accounting.probe.marks]
    assert kinds == ["pressure_on", "pressure_off"]


def test_starved_jobs_are_reported_once_and_handed_out_one_at_a_time() -> None:
    admission, accounting = admission_with(
        inference=TierPolicy(starvation_s=0.5),
        background=TierPolicy(starvation_s=1.0, promote=False),
    )
    late = job("late", Tier.INFERENCE, 0.0, seq=1)
    fresh = job("fresh", Tier.INFERENCE, 0.9, seq=2)
    idle = job("idle", Tier.BACKGROUND, 0.0, seq=3)
    later = job("later", Tier.INFERENCE, 0.2, seq=4)
    starved = admission.starved([late, fresh, idle, later], 1.2)
    assert next(starved) is late
    admission.promote(late, 1.2)  # the caller requeues it before the next job is looked at
    assert next(starved) is later  # idle starves too, but its policy does not promote
    assert list(starved) == []
    assert list(admission.starved([late, fresh, idle, later], 2.0)) == [fresh]
    marks = [(mark.kind, mark.task) for mark in accounting.probe.marks]
    assert marks == [
        ("starvation", "late"),
        ("promotion", "late"),
        ("starvation", "idle"),
        ("starvation", "later"),
        ("starvation", "fresh"),
    ]
    assert late.promoted and late.effective is Tier.INFERENCE
    assert accounting.stats[Tier.INFERENCE].starvation_events == 3
