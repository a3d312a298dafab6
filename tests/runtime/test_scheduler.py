"""The tiered scheduler: releases, priorities, misses and overruns, starvation, degradation.

Logic tests run in virtual time (``VirtualClock``) with tiers that have no worker threads, so
every outcome is exact; a task "costs" time by advancing the clock. A few tests use the real
clock and worker threads to check threading behaviour (results, errors, clean stop) without
asserting anything about timing.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

import pytest

from zen.errors import ConfigError
from zen.runtime import (
    EventKind,
    Release,
    Scheduler,
    SchedulerConfig,
    SchedulerEvent,
    TaskSkipped,
    Tier,
    TierPolicy,
    VirtualClock,
    next_slice,
    offload,
    priority,
    workers,
)

PERIOD = 0.010


def inline(
    inference: dict[str, Any] | None = None,
    background: dict[str, Any] | None = None,
    **settings: Any,
) -> SchedulerConfig:
    """Tiers without worker threads: every call runs on the scheduler thread, in order."""
    return SchedulerConfig(
        inference=TierPolicy(workers=0, **(inference or {})),
        background=TierPolicy(workers=0, **{"budget_s": None, **(background or {})}),
        **settings,
    )


def virtual(config: SchedulerConfig | None = None) -> tuple[Scheduler, VirtualClock]:
    clock = VirtualClock()
    return Scheduler(config or inline(), clock=clock), clock


def costs(clock: VirtualClock, seconds: float, log: list[Any] | None = None, label: Any = None):
    def work() -> None:
        if log is not None:
            log.append((label, clock.now()))
        clock.advance(seconds)

    return work


def events_of(scheduler: Scheduler) -> list[SchedulerEvent]:
    heard: list[SchedulerEvent] = []
    scheduler.add_observer(heard.append)
    return heard


# -- real-time tier -----------------------------------------------------------------------------
def test_realtime_jobs_start_at_their_absolute_release_times() -> None:
    scheduler, clock = virtual()
    scheduler.add_periodic(costs(clock, 0.003), PERIOD, name="block")
    stats = scheduler.run_for(0.1)
    spans = scheduler.probe.spans
    # Each job costs 3 ms, yet releases stay on the 10 ms grid: no sleep drift.
    assert [span.start_s for span in spans] == pytest.approx([PERIOD * k for k in range(10)])
    assert [span.latency_s for span in spans] == pytest.approx([0.003] * 10)
    assert stats.realtime.completed == 10 and stats.realtime.deadline_misses == 0


def test_tiers_run_in_priority_order_and_fifo_within_a_tier() -> None:
    scheduler, clock = virtual()
    order: list[Any] = []
    scheduler.submit(costs(clock, 0.001, order, "background"), tier="background")
    scheduler.submit(costs(clock, 0.001, order, "inference 1"), tier="inference")
    scheduler.submit(costs(clock, 0.001, order, "inference 2"), tier=Tier.INFERENCE)
    scheduler.add_periodic(costs(clock, 0.001, order, "realtime"), PERIOD)
    scheduler.run_for(0.009)
    assert [label for label, _ in order] == [
        "realtime", "inference 1", "inference 2", "background"
    ]  # fmt: skip


def test_a_late_job_is_a_miss_and_a_slow_job_an_overrun() -> None:
    scheduler, clock = virtual()
    heard = events_of(scheduler)

    def block():
        while True:
            release = yield
            clock.advance(0.015 if release.index == 3 else 0.001)

    scheduler.add_periodic(block, PERIOD, name="block")
    stats = scheduler.run_for(0.1)
    # Job 3 ran 15 ms against a 10 ms deadline and budget: one miss, one overrun. Job 4 starts
    # late (at 45 ms) but still meets its deadline (50 ms): late start alone is no miss.
    assert stats.realtime.deadline_misses == 1
    assert stats.realtime.overruns == 1
    about_block = [event for event in heard if event.task == "block"]
    assert [event.kind for event in about_block] == [EventKind.MISS, EventKind.OVERRUN]
    assert about_block[0].detail["latency_ms"] == pytest.approx(15.0)
    # 15 ms is more than 80% of the deadline: real-time work was at risk for a while.
    assert stats.pressure_episodes == 1
    outcomes = [span.outcome for span in scheduler.probe.spans]
    assert outcomes.count("miss") == 1 and outcomes[3] == "miss"


def test_an_overrun_is_reported_even_when_the_deadline_is_met() -> None:
    scheduler, clock = virtual()
    scheduler.add_periodic(costs(clock, 0.003), PERIOD, budget_s=0.002)
    stats = scheduler.run_for(0.05)
    assert stats.realtime.overruns == 5
    assert stats.realtime.deadline_misses == 0


def test_a_late_start_misses_without_overrunning_and_the_slice_is_blamed() -> None:
    scheduler, clock = virtual()
    heard = events_of(scheduler)
    scheduler.add_periodic(costs(clock, 0.001), PERIOD, 0.002, drop_late=False, name="block")
    # A call estimated at one slice (2 ms) that runs 12 ms: it delays the next release.
    scheduler.submit(costs(clock, 0.012), tier="background", name="hog")
    stats = scheduler.run_for(0.03)
    assert stats.realtime.deadline_misses == 1
    assert stats.realtime.overruns == 0
    assert stats.background.overruns == 1
    (slice_overrun,) = [event for event in heard if event.kind is EventKind.OVERRUN]
    assert slice_overrun.task == "hog"
    assert slice_overrun.detail["delayed_realtime_ms"] == pytest.approx(3.0)


@pytest.mark.parametrize(("drop_late", "jobs_run"), [(True, 3), (False, 5)])
def test_releases_whose_deadline_passed_are_dropped_as_misses(drop_late, jobs_run) -> None:
    scheduler, clock = virtual()
    heard = events_of(scheduler)

    def block():
        while True:
            release = yield
            clock.advance(0.035 if release.index == 0 else 0.001)

    scheduler.add_periodic(block, PERIOD, drop_late=drop_late)
    stats = scheduler.run_for(0.05)
    # Job 0 ends at 35 ms: releases 1 and 2 (deadlines 20 and 30 ms) are already lost.
    assert stats.realtime.jobs == 5
    assert stats.realtime.deadline_misses == 3
    assert len(scheduler.probe.spans) == jobs_run
    dropped = [event for event in heard if event.detail.get("dropped")]
    assert [event.count for event in dropped] == ([2] if drop_late else [])
    assert sum(event.count for event in heard if event.kind is EventKind.MISS) == 3


def test_a_periodic_generator_gets_a_release_per_job_after_its_set_up() -> None:
    scheduler, _ = virtual()
    seen: list[Any] = []

    def block():
        seen.append("set-up")
        while True:
            release = yield
            seen.append(release)

    handle = scheduler.add_periodic(block, PERIOD, 0.004)
    assert seen == ["set-up"]  # set-up runs at once, on the caller's thread
    scheduler.run_for(0.025)
    releases = seen[1:]
    assert all(isinstance(release, Release) for release in releases)
    assert [release.index for release in releases] == [0, 1, 2]
    assert [r.deadline_s - r.release_s for r in releases] == pytest.approx([0.004] * 3)
    assert handle.releases == 3 and handle.active


def test_offloading_from_a_realtime_job_is_reported_and_stops_the_task() -> None:
    scheduler, _ = virtual()
    heard = events_of(scheduler)

    def block():
        yield  # end of set-up
        yield  # end of job 0
        yield offload(sum, [1, 2])  # job 1

    handle = scheduler.add_periodic(block, PERIOD)
    stats = scheduler.run_for(0.05)
    assert not handle.active
    assert stats.realtime.completed == 1 and stats.realtime.failed == 1
    (error,) = [event for event in heard if event.kind is EventKind.ERROR]
    assert isinstance(error.error, ConfigError) and "cannot offload" in str(error.error)


# -- slices ----------------------------------------------------------------------------------
def test_a_slice_starts_only_when_its_estimate_fits_before_the_next_release() -> None:
    scheduler, clock = virtual()
    scheduler.add_periodic(costs(clock, 0.006), PERIOD)

    def chunks():
        for _ in range(10):
            clock.advance(0.003)
            yield

    future = scheduler.submit(chunks, tier="inference")
    stats = scheduler.run_for(0.15)
    slices = [span for span in scheduler.probe.spans if span.kind == "slice"]
    jobs = [span for span in scheduler.probe.spans if span.tier == "realtime"]
    # 4 ms of slack per period: after one 3 ms slice (+0.5 ms guard) there is no room for a
    # second, so exactly one slice per period and every real-time job starts on time.
    assert len(slices) == 11  # ten chunks, then the slice that returns
    assert all(span.wait_s == pytest.approx(0.0) for span in jobs)
    for span in slices:
        assert int(span.start_s / PERIOD + 1e-9) == int(span.end_s / PERIOD - 1e-9)
    assert stats.realtime.deadline_misses == 0
    assert future.done() and future.result() is None


def test_a_task_whose_slices_never_fit_starves_while_shorter_work_fills_the_gaps() -> None:
    scheduler, clock = virtual(inline(inference={"starvation_s": 0.05}))
    heard = events_of(scheduler)
    scheduler.add_periodic(costs(clock, 0.005), PERIOD)

    def long_slices():
        while True:
            clock.advance(0.008)  # the first one is admitted on the default estimate
            yield

    scheduler.submit(long_slices, tier="inference", name="long")
    short = [scheduler.submit(costs(clock, 0.001), tier="background") for _ in range(5)]
    stats = scheduler.run_for(0.2)
    assert all(future.done() for future in short)
    assert stats.inference.starvation_events == 1
    starving = [event for event in heard if event.kind is EventKind.STARVATION]
    assert starving[0].task == "long" and starving[0].detail["limit_ms"] == pytest.approx(50)
    long_runs = [span for span in scheduler.probe.spans if span.task == "long"]
    assert len(long_runs) == 1


# -- starvation, budgets, degradation --------------------------------------------------------
def looping(clock: VirtualClock, seconds: float):
    def loop():
        while True:
            clock.advance(seconds)
            yield

    return loop


@pytest.mark.parametrize("promote", [True, False])
def test_a_starving_background_job_is_reported_and_promoted_by_policy(promote) -> None:
    config = inline(background={"starvation_s": 0.05, "promote": promote})
    scheduler, clock = virtual(config)
    heard = events_of(scheduler)
    scheduler.add_periodic(costs(clock, 0.001), PERIOD)
    scheduler.submit(looping(clock, 0.001), tier="inference", name="busy")
    ran: list[Any] = []
    future = scheduler.submit(costs(clock, 0.001, ran, "waited"), tier="background", name="low")
    stats = scheduler.run_for(0.2)
    kinds = [event.kind for event in heard if event.task == "low"]
    assert stats.background.starvation_events == 1
    if promote:
        assert kinds == [EventKind.STARVATION, EventKind.PROMOTION]
        assert stats.background.promotions == 1 and stats.background.completed == 1
        (run,) = [span for span in scheduler.probe.spans if span.task == "low"]
        assert run.tier == "inference"  # boosted for one quantum
        assert run.start_s > 0.05 and run.wait_s > 0.05
        assert future.result() is None
    else:
        assert kinds[0] is EventKind.STARVATION and EventKind.PROMOTION not in kinds
        assert ran == [] and stats.background.completed == 0
        with pytest.raises(TaskSkipped, match="stopped"):
            future.result()


def test_a_tier_over_budget_waits_for_its_next_window() -> None:
    config = inline(background={"budget_s": 0.002, "promote": False}, budget_window_s=0.01)
    scheduler, clock = virtual(config)
    heard = events_of(scheduler)
    scheduler.submit(looping(clock, 0.001), tier="background", name="batch")
    stats = scheduler.run_for(0.1)
    # 2 ms per 10 ms window: two 1 ms slices per window, ten windows.
    assert stats.background.busy_s == pytest.approx(0.020)
    assert stats.background.budget_exhaustions == 10
    assert sum(event.kind is EventKind.BUDGET_EXHAUSTED for event in heard) == 10


@pytest.mark.parametrize("policy", ["run", "defer", "skip"])
def test_lower_tiers_degrade_while_realtime_work_is_at_risk(policy) -> None:
    config = inline(inference={"under_pressure": policy, "slice_s": 0.0005}, pressure_hold_s=0.05)
    scheduler, clock = virtual(config)
    heard = events_of(scheduler)

    def block():
        while True:
            release = yield
            # 85% of the deadline for the first five blocks (at risk), then 10%.
            clock.advance(0.0085 if release.index < 5 else 0.001)

    scheduler.add_periodic(block, PERIOD)
    ran: list[Any] = []
    future = scheduler.submit(costs(clock, 0.0005, ran, "analysis"), tier="inference")
    stats = scheduler.run_for(0.2)
    pressure = [event for event in heard if event.kind.value.startswith("pressure")]
    assert [event.kind for event in pressure] == [EventKind.PRESSURE_ON, EventKind.PRESSURE_OFF]
    assert stats.pressure_episodes == 1
    # Pressure starts with the first block (8.5 ms) and ends 50 ms after the last risky one.
    assert pressure[0].time_s == pytest.approx(0.0085)
    assert pressure[1].time_s == pytest.approx(0.0485 + 0.05)
    if policy == "run":
        assert ran[0][1] == pytest.approx(0.0085)  # in the 1.5 ms of slack after block 0
    elif policy == "defer":
        assert ran[0][1] >= pressure[1].time_s
        assert future.result() is None
    else:
        assert ran == [] and stats.inference.skipped == 1
        with pytest.raises(TaskSkipped, match="at risk"):
            future.result()


def test_a_lower_tier_periodic_task_skips_releases_instead_of_piling_up() -> None:
    config = inline(background={"promote": False})
    scheduler, clock = virtual(config)
    scheduler.add_periodic(costs(clock, 0.001), PERIOD)
    scheduler.submit(looping(clock, 0.001), tier="inference", name="busy")
    handle = scheduler.add_periodic(costs(clock, 0.001), 0.02, tier="background", name="batch")
    stats = scheduler.run_for(0.1)
    # The busy inference task leaves background no slack: the first release stays queued and
    # the four after it are skipped rather than queued behind it.
    assert handle.releases == 5
    assert stats.background.jobs == 5 and stats.background.skipped == 5
    assert stats.background.completed == 0


# -- cooperative tasks, futures, errors --------------------------------------------------------
def test_coroutines_and_generators_speak_the_same_protocol() -> None:
    scheduler, _ = virtual()

    async def coroutine_task(x):
        await next_slice()
        y = await offload(lambda v: v + 1, x)
        return y * 2

    def generator_task(x):
        yield
        y = yield offload(lambda v: v + 1, x)
        return y * 2

    futures = [
        scheduler.submit(coroutine_task, 20),
        scheduler.submit(generator_task(20), tier="background"),
    ]
    scheduler.run_for(0.01)
    assert [future.result() for future in futures] == [42, 42]


def test_exceptions_are_recorded_and_the_scheduler_keeps_going(caplog) -> None:
    scheduler, clock = virtual()
    heard = events_of(scheduler)
    calls = []

    def flaky() -> None:
        calls.append(clock.now())
        clock.advance(0.001)
        if len(calls) == 2:
            raise ValueError("bad block")

    def failing_task():
        yield
        raise KeyError("lost")

    def boom() -> None:
        raise RuntimeError("boom")

    scheduler.add_periodic(flaky, PERIOD, name="flaky")
    call = scheduler.submit(boom, name="boom")
    task = scheduler.submit(failing_task, tier="background", name="failing")
    with caplog.at_level(logging.WARNING, logger="zen.runtime.scheduler"):
        stats = scheduler.run_for(0.05)
    assert len(calls) == 5  # the release after the error ran as usual
    assert stats.realtime.failed == 1 and stats.realtime.completed == 4
    with pytest.raises(RuntimeError, match="boom"):
        call.result()
    with pytest.raises(KeyError, match="lost"):
        task.result()
    errors = [event for event in heard if event.kind is EventKind.ERROR]
    assert sorted(event.task for event in errors) == ["boom", "failing", "flaky"]
    assert isinstance(next(e.error for e in errors if e.task == "flaky"), ValueError)
    assert "task flaky (realtime) raised ValueError: bad block" in caplog.text


def test_a_failing_observer_is_logged_and_others_still_hear(caplog) -> None:
    scheduler, clock = virtual()
    heard = events_of(scheduler)

    def broken(event: SchedulerEvent) -> None:
        raise RuntimeError("observer bug")

    scheduler.add_observer(broken)
    scheduler.add_periodic(costs(clock, 0.011), PERIOD, drop_late=False)
    with caplog.at_level(logging.ERROR, logger="zen.runtime.scheduler"):
        stats = scheduler.run_for(0.03)
    assert stats.realtime.deadline_misses == len([e for e in heard if e.kind is EventKind.MISS])
    assert stats.realtime.deadline_misses > 0
    assert "observer" in caplog.text and "failed" in caplog.text


def test_a_cancelled_job_never_runs() -> None:
    scheduler, clock = virtual()
    ran: list[Any] = []
    future = scheduler.submit(costs(clock, 0.001, ran, "job"))
    assert future.cancel()
    stats = scheduler.run_for(0.01)
    assert ran == [] and stats.inference.skipped == 1


def test_a_task_can_stop_the_scheduler() -> None:
    scheduler, clock = virtual()
    blocks: list[Any] = []

    def block() -> None:
        blocks.append(clock.now())
        if len(blocks) == 3:
            scheduler.stop()

    scheduler.add_periodic(block, PERIOD)
    stats = scheduler.run_for(10.0)
    assert len(blocks) == 3 and not scheduler.running
    assert stats.elapsed_s == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.add_periodic(print, 0), "period_s: expected a positive"),
        (lambda s: s.add_periodic(print, 0.01, -1), "deadline_s: expected a positive"),
        (lambda s: s.add_periodic(print, 0.01, tier="urgent"), "tier: unknown value 'urgent'"),
        (lambda s: s.add_periodic(iter(()), 0.01), "expected a callable, generator"),
        (lambda s: s.submit(print, tier="realtime"), "realtime work is periodic"),
        (lambda s: s.submit(print, deadline_s=0), "deadline_s: expected a positive"),
        (lambda s: s.run_for(float("inf")), "seconds: a virtual clock needs a finite session"),
        (lambda s: s.start(), "virtual clock only runs with run_for"),
    ],
)
def test_invalid_arguments_are_config_errors(call, message) -> None:
    scheduler, _ = virtual()
    with pytest.raises(ConfigError, match=message):
        call(scheduler)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"inference": TierPolicy(workers=0), "pressure_ratio": 1.5}, "pressure_ratio"),
        ({"guard_s": -1}, "guard_s"),
        ({"fifo_priority": 0}, "fifo_priority"),
        (
            {"fifo_priority": 10, "inference": TierPolicy(fifo_priority=10)},
            "inference.fifo_priority: 10 would preempt the real-time thread",
        ),
    ],
)
def test_invalid_config_is_rejected(settings, message) -> None:
    with pytest.raises(ConfigError, match=message):
        SchedulerConfig(**settings)


def test_invalid_tier_policy_is_rejected() -> None:
    with pytest.raises(ConfigError, match="under_pressure: unknown value 'panic'"):
        TierPolicy(under_pressure="panic")
    with pytest.raises(ConfigError, match="workers: expected an integer >= 0"):
        TierPolicy(workers=-1)


def test_a_task_yielding_something_else_fails_with_a_clear_error() -> None:
    scheduler, _ = virtual()

    def confused():
        yield 42

    future = scheduler.submit(confused)
    scheduler.run_for(0.01)
    with pytest.raises(ConfigError, match="yielded 42"):
        future.result()


# -- real threads ------------------------------------------------------------------------------
def quiet_config() -> SchedulerConfig:
    """Real clock and workers, but no process-wide side effects in the test process."""
    return SchedulerConfig(realtime_priority=False, gil_switch_interval_s=None, freeze_gc=False)


def test_worker_threads_return_results_and_errors_and_stop_cleanly() -> None:
    scheduler = Scheduler(quiet_config())
    ticks: list[int] = []
    scheduler.add_periodic(lambda: ticks.append(1), 0.005, name="tick")
    entered, closed = threading.Event(), threading.Event()

    def forever():
        entered.set()
        try:
            while True:
                yield offload(sum, range(100))
        finally:
            closed.set()

    def offloading(values):
        total = yield offload(sum, values)
        return total

    scheduler.start()
    squares = [scheduler.submit(pow, k, 2) for k in range(20)]
    failing = scheduler.submit(int, "not a number", tier="background")
    summed = scheduler.submit(offloading, list(range(10)))
    endless = scheduler.submit(forever, tier="background")
    assert [future.result(timeout=30) for future in squares] == [k * k for k in range(20)]
    assert summed.result(timeout=30) == 45
    with pytest.raises(ValueError):
        failing.result(timeout=30)
    assert entered.wait(30)
    stats = scheduler.stop()
    assert not scheduler.running
    alive = [thread.name for thread in threading.enumerate() if thread.name.startswith("zen-")]
    assert alive == []
    assert closed.is_set()  # the endless task was closed: its finally block ran
    with pytest.raises(TaskSkipped, match="stopped"):
        endless.result(timeout=1)
    assert stats.inference.completed == 21 and stats.background.failed == 1
    assert ticks and stats.realtime.completed == len(ticks)
    scheduler.start()
    with pytest.raises(ConfigError, match="already running"):
        scheduler.start()
    scheduler.close()
    assert not scheduler.running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_without_privileges_the_realtime_thread_falls_back_and_says_why(
    monkeypatch, caplog
) -> None:
    def refuse(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    monkeypatch.setattr(os, "setpriority", refuse)
    monkeypatch.setattr(priority, "_logged", set())
    with caplog.at_level(logging.INFO, logger="zen.runtime.priority"):
        first = priority.raise_priority()
        second = priority.raise_priority()
    assert first.applied == "normal"
    assert "SCHED_FIFO not permitted" in first.reason and "nice -10 not permitted" in first.reason
    assert second.applied == "normal"
    assert caplog.text.count("real-time thread at normal priority") == 1  # logged once


def test_stop_ends_a_run_for_on_another_thread_and_waits_for_it() -> None:
    scheduler = Scheduler(quiet_config())
    ticked = threading.Event()
    scheduler.add_periodic(ticked.set, 0.005)
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(scheduler.run_for(3600.0)))
    runner.start()
    assert ticked.wait(30)
    stats = scheduler.stop()
    # stop() returned after the session closed, not merely after asking it to.
    assert not scheduler.running and stats.realtime.completed >= 1
    runner.join(30)
    assert not runner.is_alive() and results[0].realtime.completed == stats.realtime.completed


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority: Linux")
def test_workers_do_not_inherit_the_realtime_threads_priority() -> None:
    """A thread inherits its creator's policy; workers made by a SCHED_FIFO scheduler thread
    must still be ordinary threads at their tier's nice level."""
    seen: dict[str, Any] = {}

    def creator() -> None:
        tid = threading.get_native_id()
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(5))
        except PermissionError:
            seen["skip"] = True
            return
        os.setpriority(os.PRIO_PROCESS, tid, 0)
        done = threading.Event()

        def report(item, result, error, start_s, end_s, lane) -> None:
            seen["worker"] = result
            done.set()

        pool = workers.WorkerPool("zen-test", 1, 3, lambda: 0.0, report)
        pool.start()
        native = threading.get_native_id
        pool.hand_over(
            workers.WorkItem(
                lambda: (
                    os.sched_getscheduler(native()),
                    os.getpriority(os.PRIO_PROCESS, native()),
                ),
                (),
                None,
            )
        )
        done.wait(30)
        pool.stop(timeout_s=30)

    thread = threading.Thread(target=creator)
    thread.start()
    thread.join(60)
    if seen.get("skip"):
        pytest.skip("SCHED_FIFO not permitted here")
    assert seen["worker"] == (os.SCHED_OTHER, 3)


def test_session_settings_apply_during_the_session_and_are_restored_after() -> None:
    import gc

    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    config = SchedulerConfig(
        realtime_priority=False,
        gil_switch_interval_s=0.002,
        freeze_gc=True,
        realtime_cpus=None if cpu is None else (cpu,),
    )
    scheduler = Scheduler(config)
    before = (sys.getswitchinterval(), gc.get_freeze_count())
    affinity = os.sched_getaffinity(0) if cpu is not None else None
    inside: list[Any] = []

    def block() -> None:
        if not inside:
            pinned = os.sched_getaffinity(0) if cpu is not None else None
            inside.append((sys.getswitchinterval(), gc.get_freeze_count() > 0, pinned))
            scheduler.stop()

    scheduler.add_periodic(block, 0.005)
    scheduler.run_for(30.0)
    assert inside[0][:2] == (0.002, True)
    if cpu is not None:
        assert inside[0][2] == {cpu}
        assert os.sched_getaffinity(0) == affinity
    assert (sys.getswitchinterval(), gc.get_freeze_count()) == before


def test_a_scheduler_without_periodic_tasks_waits_for_work_instead_of_dying() -> None:
    """Regression: with nothing periodic the next wake-up is "never", which Event.wait rejected
    with OverflowError, killing the scheduler thread."""
    scheduler = Scheduler(quiet_config())
    scheduler.start()
    try:
        assert scheduler.submit(pow, 3, 4).result(timeout=30) == 81
        assert scheduler.submit(pow, 2, 5, tier="background").result(timeout=30) == 32
        assert scheduler.running
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_run_for_inf_serves_on_the_calling_thread_until_stopped() -> None:
    scheduler = Scheduler(quiet_config())
    stats: list[Any] = []
    session = threading.Thread(target=lambda: stats.append(scheduler.run_for(float("inf"))))
    session.start()
    try:
        assert scheduler.submit(pow, 2, 10).result(timeout=30) == 1024
        assert session.is_alive()  # still serving: nothing ends an infinite session but stop()
    finally:
        scheduler.stop()
        session.join(30)
    assert not session.is_alive() and len(stats) == 1


def test_run_for_refuses_nan_and_negative_infinity_on_a_real_clock() -> None:
    for seconds in (float("nan"), float("-inf")):
        with pytest.raises(ConfigError, match="seconds: expected a positive number"):
            Scheduler(quiet_config()).run_for(seconds)
