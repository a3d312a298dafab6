"""Session probe: every run, wait and miss of a scheduler session, as a summary or a trace file.

The scheduler records two kinds of things into a :class:`SessionProbe`:

- :class:`Span` — one piece of work that ran: a real-time job, a cooperative slice, or a call on
  a worker thread, with how long it waited to start and, when it finished a job, the job's
  latency (release or submission to completion).
- :class:`Mark` — one event at an instant: a deadline miss, an overrun, starvation, a promotion,
  a skipped job, an error, pressure on/off.

:meth:`SessionProbe.summary` condenses them (p50/p99 latency per tier, misses, overruns,
starvation events); :meth:`SessionProbe.chrome_trace` turns them into Chrome trace-event JSON
(the format of ``chrome://tracing``, which https://ui.perfetto.dev opens as well): complete
events (``"ph": "X"``, ``ts``/``dur`` in microseconds) on one process per tier and one thread
track per lane (the scheduler thread, each worker), instant events (``"ph": "i"``) for misses
and starvation, and metadata events naming processes and threads.

The probe keeps the newest ``capacity`` spans and marks (a ring buffer, so a long session does
not grow without bound); ``dropped`` says how many older records fell out.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zen.atomic import write_atomic
from zen.errors import ConfigError

#: The tiers in rank order; each becomes one trace process (pid 1, 2, 3).
TIERS = ("realtime", "inference", "background")
#: Lane of work that runs on the scheduler's own thread; workers are "worker 0", "worker 1", ...
SCHEDULER_LANE = "scheduler"

_MARK_TITLES = {
    "miss": "deadline miss",
    "overrun": "overrun",
    "starvation": "starvation",
    "promotion": "promotion",
    "skip": "skipped",
    "error": "error",
    "budget_exhausted": "budget exhausted",
    "pressure_on": "real-time pressure on",
    "pressure_off": "real-time pressure off",
}


@dataclass(frozen=True, slots=True)
class Span:
    """One piece of work that ran; times in seconds on the scheduler's clock.

    Attributes:
        tier: the tier it ran as (``"realtime"``, ``"inference"``, ``"background"``).
        task: the task's name.
        lane: ``"scheduler"`` (the scheduler thread) or ``"worker N"`` of that tier.
        kind: ``"job"`` (a real-time job), ``"slice"`` (a cooperative slice) or ``"work"``
            (a call on a worker thread, or inline when the tier has no workers).
        start_s, end_s: when it ran.
        wait_s: from ready (released, submitted or resumed) to start.
        latency_s: set on the span that finished a job: from release or submission to the end.
        deadline_s: the job's absolute deadline, if it has one.
        outcome: ``"ok"``, ``"miss"`` (finished after its deadline) or ``"error"``.
    """

    tier: str
    task: str
    lane: str
    kind: str
    start_s: float
    end_s: float
    wait_s: float | None = None
    latency_s: float | None = None
    deadline_s: float | None = None
    outcome: str = "ok"

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Mark:
    """One event at an instant: ``kind`` is ``"miss"``, ``"overrun"``, ``"starvation"``,
    ``"promotion"``, ``"skip"``, ``"error"``, ``"budget_exhausted"``, ``"pressure_on"`` or
    ``"pressure_off"``; ``detail`` holds JSON-ready numbers and strings."""

    kind: str
    tier: str
    task: str
    time_s: float
    lane: str = SCHEDULER_LANE
    detail: Mapping[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between order statistics
    (numpy's default, Hyndman & Fan type 7); ``None`` for no values.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 50)
    2.5
    >>> percentile([], 99) is None
    True
    """
    if not 0 <= q <= 100:
        raise ConfigError(f"q: expected a percentile between 0 and 100, got {q!r}")
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        return None
    return float(np.percentile(array, q))


@dataclass(frozen=True)
class TierSummary:
    """What one tier did in a session. Latencies and waits in milliseconds (None: no data).

    ``jobs`` counts finished jobs (spans carrying a latency); ``runs`` counts every span.
    """

    tier: str
    runs: int
    jobs: int
    busy_ms: float
    p50_latency_ms: float | None
    p99_latency_ms: float | None
    max_latency_ms: float | None
    p50_wait_ms: float | None
    p99_wait_ms: float | None
    deadline_misses: int
    overruns: int
    starvation_events: int
    promotions: int
    skipped: int
    errors: int


@dataclass(frozen=True)
class TraceSummary:
    """Per-tier summaries of a session plus its totals (see :meth:`SessionProbe.summary`)."""

    duration_s: float
    tiers: Mapping[str, TierSummary]
    pressure_episodes: int
    dropped_records: int

    @property
    def deadline_misses(self) -> int:
        return sum(tier.deadline_misses for tier in self.tiers.values())

    @property
    def starvation_events(self) -> int:
        return sum(tier.starvation_events for tier in self.tiers.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "deadline_misses": self.deadline_misses,
            "starvation_events": self.starvation_events,
            "pressure_episodes": self.pressure_episodes,
            "dropped_records": self.dropped_records,
            "tiers": {name: asdict(summary) for name, summary in self.tiers.items()},
        }


class SessionProbe:
    """Records what a scheduler session did; summarises it and exports it as a Chrome trace.

    Args:
        capacity: how many spans (and, separately, marks) to keep; the oldest fall out first.

    Thread-safe for one writer at a time per record kind plus any number of readers; the
    scheduler writes from its own thread only.

    Example::

        probe = scheduler.probe
        print(probe.summary().tiers["realtime"].p99_latency_ms)
        probe.write("session.json")      # open in https://ui.perfetto.dev
    """

    def __init__(self, capacity: int = 500_000) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ConfigError(f"capacity: expected a positive integer, got {capacity!r}")
        self.capacity = capacity
        #: Time (on the scheduler's clock) that trace timestamps count from.
        self.origin_s: float | None = None
        self._spans: deque[Span] = deque(maxlen=capacity)
        self._marks: deque[Mark] = deque(maxlen=capacity)
        self._recorded = 0
        self._lock = threading.Lock()

    # -- recording -------------------------------------------------------------------------
    def start(self, now_s: float) -> None:
        """Set the time origin, unless an earlier session of this probe already did."""
        if self.origin_s is None:
            self.origin_s = now_s

    def record_span(self, span: Span) -> None:
        with self._lock:
            self._spans.append(span)
            self._recorded += 1

    def record_mark(self, mark: Mark) -> None:
        with self._lock:
            self._marks.append(mark)
            self._recorded += 1

    def clear(self) -> None:
        """Forget everything recorded, including the time origin."""
        with self._lock:
            self._spans.clear()
            self._marks.clear()
            self._recorded = 0
            self.origin_s = None

    # -- reading ---------------------------------------------------------------------------
    @property
    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    @property
    def marks(self) -> list[Mark]:
        with self._lock:
            return list(self._marks)

    @property
    def dropped(self) -> int:
        """Records that fell out of the ring buffer."""
        with self._lock:
            return self._recorded - len(self._spans) - len(self._marks)

    def summary(self) -> TraceSummary:
        """Latency and wait percentiles per tier, and counts of misses, overruns, starvation."""
        return summarize(self.spans, self.marks, dropped=self.dropped)

    def chrome_trace(self, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The session as a Chrome trace-event JSON object (``{"traceEvents": [...], ...}``)."""
        spans, marks = self.spans, self.marks
        origin = self.origin_s
        if origin is None:
            starts = [span.start_s for span in spans] + [mark.time_s for mark in marks]
            origin = min(starts, default=0.0)
        return chrome_trace(spans, marks, origin_s=origin, metadata=metadata)

    def write(self, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
        """Write :meth:`chrome_trace` to ``path`` atomically; returns the path."""
        return write_chrome_trace(self.chrome_trace(metadata), path)


def summarize(spans: Iterable[Span], marks: Iterable[Mark], *, dropped: int = 0) -> TraceSummary:
    """Condense spans and marks into a :class:`TraceSummary` (see :class:`TierSummary`)."""
    latencies: dict[str, list[float]] = {tier: [] for tier in TIERS}
    waits: dict[str, list[float]] = {tier: [] for tier in TIERS}
    runs = dict.fromkeys(TIERS, 0)
    busy = dict.fromkeys(TIERS, 0.0)
    first, last = float("inf"), float("-inf")
    for span in spans:
        runs[span.tier] = runs.get(span.tier, 0) + 1
        busy[span.tier] = busy.get(span.tier, 0.0) + span.duration_s
        if span.latency_s is not None:
            latencies.setdefault(span.tier, []).append(span.latency_s)
        if span.wait_s is not None:
            waits.setdefault(span.tier, []).append(span.wait_s)
        first, last = min(first, span.start_s), max(last, span.end_s)
    counts: dict[tuple[str, str], int] = {}
    pressure_episodes = 0
    for mark in marks:
        key = (mark.tier, mark.kind)
        # A mark may stand for several events (e.g. releases dropped in one go).
        counts[key] = counts.get(key, 0) + int(mark.detail.get("count", 1))
        pressure_episodes += mark.kind == "pressure_on"
        first, last = min(first, mark.time_s), max(last, mark.time_s)
    tiers = {}
    for tier in runs:
        tier_latency = np.asarray(latencies.get(tier, []), dtype=float) * 1e3
        tier_wait = np.asarray(waits.get(tier, []), dtype=float) * 1e3
        tiers[tier] = TierSummary(
            tier=tier,
            runs=runs[tier],
            jobs=int(tier_latency.size),
            busy_ms=busy[tier] * 1e3,
            p50_latency_ms=percentile(tier_latency, 50),
            p99_latency_ms=percentile(tier_latency, 99),
            max_latency_ms=float(tier_latency.max()) if tier_latency.size else None,
            p50_wait_ms=percentile(tier_wait, 50),
            p99_wait_ms=percentile(tier_wait, 99),
            deadline_misses=counts.get((tier, "miss"), 0),
            overruns=counts.get((tier, "overrun"), 0),
            starvation_events=counts.get((tier, "starvation"), 0),
            promotions=counts.get((tier, "promotion"), 0),
            skipped=counts.get((tier, "skip"), 0),
            errors=counts.get((tier, "error"), 0),
        )
    duration = last - first if last >= first else 0.0
    return TraceSummary(duration, tiers, pressure_episodes, dropped)


def _lane_tid(lane: str) -> int:
    if lane == SCHEDULER_LANE:
        return 1
    _, _, number = lane.rpartition(" ")
    return 2 + int(number) if number.isdigit() else 1


def _tier_pid(tier: str) -> int:
    return TIERS.index(tier) + 1 if tier in TIERS else len(TIERS) + 1


def _microseconds(seconds: float) -> float:
    return round(seconds * 1e6, 3)


def chrome_trace(
    spans: Iterable[Span],
    marks: Iterable[Mark],
    *,
    origin_s: float = 0.0,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Chrome trace-event JSON for ``spans`` and ``marks``; timestamps count from ``origin_s``.

    Every tier is a process (``pid`` 1 realtime, 2 inference, 3 background), every lane a
    thread (``tid`` 1 the scheduler thread, 2 + N worker N). ``metadata`` and the summary go
    into ``otherData``.
    """
    spans, marks = list(spans), list(marks)
    lanes: set[tuple[str, str]] = set()
    events: list[dict[str, Any]] = []
    for span in spans:
        lanes.add((span.tier, span.lane))
        args: dict[str, Any] = {"kind": span.kind, "outcome": span.outcome}
        if span.wait_s is not None:
            args["wait_ms"] = round(span.wait_s * 1e3, 4)
        if span.latency_s is not None:
            args["latency_ms"] = round(span.latency_s * 1e3, 4)
        if span.deadline_s is not None:
            args["deadline_ms"] = round((span.deadline_s - origin_s) * 1e3, 4)
        events.append(
            {
                "name": span.task,
                "cat": span.tier,
                "ph": "X",
                "ts": _microseconds(span.start_s - origin_s),
                "dur": _microseconds(max(span.end_s - span.start_s, 0.0)),
                "pid": _tier_pid(span.tier),
                "tid": _lane_tid(span.lane),
                "args": args,
            }
        )
    for mark in marks:
        pressure = mark.kind in ("pressure_on", "pressure_off")
        if not pressure:
            lanes.add((mark.tier, mark.lane))
        event: dict[str, Any] = {
            "name": _MARK_TITLES.get(mark.kind, mark.kind),
            "cat": mark.kind,
            "ph": "i",
            "ts": _microseconds(mark.time_s - origin_s),
            "pid": _tier_pid(mark.tier),
            "tid": _lane_tid(mark.lane),
            # Pressure concerns the whole session: a global line across all tracks.
            "s": "g" if pressure else "t",
            "args": {"task": mark.task, **mark.detail},
        }
        events.append(event)
    events.sort(key=lambda item: item["ts"])
    names: list[dict[str, Any]] = []
    for tier in sorted({tier for tier, _ in lanes}, key=_tier_pid):
        pid = _tier_pid(tier)
        names.append(_metadata("process_name", pid, 0, {"name": tier}))
        names.append(_metadata("process_sort_index", pid, 0, {"sort_index": pid}))
    for tier, lane in sorted(lanes, key=lambda item: (_tier_pid(item[0]), _lane_tid(item[1]))):
        title = "scheduler thread" if lane == SCHEDULER_LANE else lane
        names.append(_metadata("thread_name", _tier_pid(tier), _lane_tid(lane), {"name": title}))
    other = {"origin_s": origin_s, "summary": summarize(spans, marks).to_json()}
    if metadata:
        other.update(metadata)
    return {"traceEvents": names + events, "displayTimeUnit": "ms", "otherData": other}


def _metadata(name: str, pid: int, tid: int, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": args}


def write_chrome_trace(trace: Mapping[str, Any], path: str | Path) -> Path:
    """Write a trace object as JSON to ``path`` atomically (its folder is created)."""

    path = Path(path)
    text = json.dumps(trace, separators=(",", ":"), default=_json_default)
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)
