"""The session probe: summaries on known data, and Chrome trace JSON that Perfetto can load."""

from __future__ import annotations

import json

import pytest

from zen.errors import ConfigError
from zen.runtime import Scheduler, SchedulerConfig, SessionProbe, TierPolicy, VirtualClock
from zen.runtime.trace import Mark, Span, percentile, summarize


def realtime_span(start_ms: float, latency_ms: float, **fields) -> Span:
    start, end = start_ms / 1e3, (start_ms + latency_ms) / 1e3
    return Span("realtime", "block", "scheduler", "job", start, end, wait_s=0.0,
                latency_s=latency_ms / 1e3, **fields)  # fmt: skip


def test_summary_percentiles_on_known_latencies() -> None:
    spans = [realtime_span(10.0 * k, float(k)) for k in range(1, 101)]  # 1..100 ms
    summary = summarize(spans, [])
    realtime = summary.tiers["realtime"]
    # numpy's linear interpolation: p50 between the 50th and 51st value, p99 near the top.
    assert realtime.p50_latency_ms == pytest.approx(50.5)
    assert realtime.p99_latency_ms == pytest.approx(99.01)
    assert realtime.max_latency_ms == pytest.approx(100.0)
    assert realtime.jobs == realtime.runs == 100
    assert realtime.busy_ms == pytest.approx(sum(range(1, 101)))
    assert summary.tiers["inference"].p50_latency_ms is None
    assert summary.duration_s == pytest.approx(1.1 - 0.01)


def test_summary_counts_misses_overruns_and_starvation_per_tier() -> None:
    marks = [
        Mark("miss", "realtime", "block", 0.1),
        Mark("miss", "realtime", "block", 0.2, detail={"count": 3, "dropped": True}),
        Mark("overrun", "realtime", "block", 0.2),
        Mark("starvation", "background", "batch", 0.3),
        Mark("promotion", "background", "batch", 0.3),
        Mark("skip", "inference", "analysis", 0.4),
        Mark("pressure_on", "realtime", "", 0.1),
        Mark("pressure_off", "realtime", "", 0.5),
    ]
    summary = summarize([], marks, dropped=7)
    assert summary.tiers["realtime"].deadline_misses == 4
    assert summary.tiers["realtime"].overruns == 1
    assert summary.tiers["background"].starvation_events == 1
    assert summary.tiers["background"].promotions == 1
    assert summary.tiers["inference"].skipped == 1
    assert (summary.deadline_misses, summary.starvation_events) == (4, 1)
    assert summary.pressure_episodes == 1 and summary.dropped_records == 7
    assert json.loads(json.dumps(summary.to_json()))["tiers"]["realtime"]["deadline_misses"] == 4


def test_percentile_rejects_a_level_outside_0_to_100() -> None:
    assert percentile([3.0], 100) == 3.0
    with pytest.raises(ConfigError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_the_probe_keeps_the_newest_records_and_counts_the_dropped() -> None:
    probe = SessionProbe(capacity=3)
    for k in range(5):
        probe.record_span(realtime_span(k, 1.0))
    probe.record_mark(Mark("miss", "realtime", "block", 0.0))
    assert [span.start_s for span in probe.spans] == pytest.approx([0.002, 0.003, 0.004])
    assert probe.dropped == 2
    with pytest.raises(ConfigError, match="capacity"):
        SessionProbe(capacity=0)


@pytest.fixture
def session() -> Scheduler:
    """A virtual-time session with every kind of record: jobs, slices, a miss, starvation,
    on all three tiers."""
    clock = VirtualClock(start_s=100.0)  # trace timestamps count from the session start
    config = SchedulerConfig(
        inference=TierPolicy(workers=0, starvation_s=0.02),
        background=TierPolicy(workers=0, budget_s=None),
    )
    scheduler = Scheduler(config, clock=clock)
    releases = iter(range(1000))

    def block() -> None:
        clock.advance(0.012 if next(releases) == 2 else 0.002)

    def analysis():
        for _ in range(3):
            clock.advance(0.001)
            yield

    def hog():
        while True:
            clock.advance(0.009)
            yield

    scheduler.add_periodic(block, 0.010, name="block")
    # The hog's first 9 ms slice is admitted on the default estimate; later ones never fit.
    scheduler.submit(hog, tier="inference", name="hog")
    scheduler.submit(analysis, tier="background", name="analysis")
    scheduler.run_for(0.1)
    return scheduler


def test_chrome_trace_has_the_trace_event_schema(session) -> None:
    trace = json.loads(json.dumps(session.probe.chrome_trace({"machine": "test"})))
    assert trace["displayTimeUnit"] == "ms" and trace["otherData"]["machine"] == "test"
    events = trace["traceEvents"]
    assert {event["ph"] for event in events} == {"M", "X", "i"}
    for event in events:
        assert isinstance(event["name"], str) and event["name"]
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int)
        if event["ph"] == "X":
            assert isinstance(event["ts"], float | int) and event["ts"] >= 0
            assert isinstance(event["dur"], float | int) and event["dur"] >= 0
            assert event["cat"] in ("realtime", "inference", "background")
        elif event["ph"] == "i":
            assert event["s"] in ("t", "p", "g") and event["ts"] >= 0
    processes = {e["pid"]: e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert processes == {1: "realtime", 2: "inference", 3: "background"}
    threads = {(e["pid"], e["tid"]) for e in events if e["name"] == "thread_name"}
    used = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X" or e.get("s") == "t"}
    assert used <= threads  # every track that holds events has a name


def test_chrome_trace_times_are_microseconds_from_the_session_start(session) -> None:
    events = session.probe.chrome_trace()["traceEvents"]
    blocks = [e for e in events if e["ph"] == "X" and e["name"] == "block"]
    # Releases every 10 ms from the start of the session, 2 ms each (job 2: 12 ms); the hog's
    # first slice ran 1 ms into the second release.
    assert [e["ts"] for e in blocks[:3]] == pytest.approx([0.0, 11_000.0, 20_000.0])
    assert [e["dur"] for e in blocks[:3]] == pytest.approx([2_000.0, 2_000.0, 12_000.0])
    assert blocks[1]["args"]["wait_ms"] == pytest.approx(1.0)
    assert blocks[2]["args"]["outcome"] == "miss"
    assert blocks[2]["args"]["latency_ms"] == pytest.approx(12.0)
    misses = [e for e in events if e["ph"] == "i" and e["cat"] == "miss"]
    assert misses[0]["ts"] == pytest.approx(32_000.0) and misses[0]["pid"] == 1


def test_chrome_trace_marks_starvation_on_the_tier_that_waited(session) -> None:
    events = session.probe.chrome_trace()["traceEvents"]
    (starving,) = [e for e in events if e["ph"] == "i" and e["cat"] == "starvation"]
    assert starving["pid"] == 2 and starving["args"]["task"] == "hog"
    summary = session.probe.summary()
    assert summary.tiers["inference"].starvation_events == 1
    assert summary.tiers["realtime"].deadline_misses == 1


def test_write_creates_a_loadable_file_atomically(session, tmp_path) -> None:
    path = session.probe.write(tmp_path / "traces" / "session.json")
    assert path.parent.is_dir()
    loaded = json.loads(path.read_text())
    assert loaded["traceEvents"] == session.probe.chrome_trace()["traceEvents"]
    assert [p.name for p in path.parent.iterdir()] == ["session.json"]  # no temporary left
