"""The micro-batcher and its latency model, with a plain Python batch function.

The batch function records the batches it sees and answers each request with its rows, so
tests see exactly how requests were grouped. Timing only enters through windows far longer
or far shorter than the work (never asserted on).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np
import pytest

from zen.errors import ConfigError
from zen.runtime.batcher import LatencyModel, MicroBatcher, Pending
from zen.runtime.cache import ResultCache
from zen.runtime.errors import DeadlineExceeded, ModelNotReady, Overloaded
from zen.runtime.servables import Prepared


class Recorder:
    """A batch function: remembers each batch's row counts, optionally waits for a gate."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.started = threading.Event()

    def __call__(self, batch: list[Pending]) -> None:
        self.started.set()
        if self.gate is not None:
            self.gate.wait(30)
        self.batches.append([pending.rows for pending in batch])
        for pending in batch:
            pending.future.set_result(pending.rows)


def request(rows: int, deadline: float | None = None) -> Pending:
    prepared = Prepared({"x": np.zeros((rows, 1), np.float32)}, rows)
    return Pending(prepared, Future(), deadline)


def batcher(execute, latency_s: float = 0.001, **settings) -> MicroBatcher:
    return MicroBatcher("m", execute, LatencyModel({1: latency_s}), **settings)


def test_a_batch_goes_as_soon_as_it_is_full() -> None:
    recorder = Recorder()
    queue = batcher(recorder, max_batch_size=4, max_wait_s=60.0)
    pending = [request(rows) for rows in (1, 3, 2, 2)]
    for each in pending:
        queue.submit(each)
    assert [each.future.result(timeout=30) for each in pending] == [1, 3, 2, 2]
    assert recorder.batches == [[1, 3], [2, 2]]
    queue.close()


def test_a_request_larger_than_a_batch_runs_alone() -> None:
    recorder = Recorder()
    queue = batcher(recorder, max_batch_size=2, max_wait_s=0.0)
    big = request(5)
    queue.submit(big)
    assert big.future.result(timeout=30) == 5
    queue.close()
    assert recorder.batches == [[5]]


def test_requests_queued_while_a_batch_runs_form_the_next_batch() -> None:
    gate = threading.Event()
    recorder = Recorder(gate)
    queue = batcher(recorder, max_batch_size=8, max_wait_s=0.0)
    first = request(1)
    queue.submit(first)
    assert recorder.started.wait(30)
    later = [request(1) for _ in range(3)]
    for each in later:
        queue.submit(each)
    assert queue.queue_depth == 3
    gate.set()
    for each in [first, *later]:
        each.future.result(timeout=30)
    queue.close()
    assert recorder.batches == [[1], [1, 1, 1]]


def test_max_batch_size_one_runs_requests_one_by_one() -> None:
    recorder = Recorder()
    queue = batcher(recorder, max_batch_size=1, max_wait_s=60.0)
    pending = [request(1) for _ in range(3)]
    for each in pending:
        queue.submit(each)
    for each in pending:
        each.future.result(timeout=30)
    queue.close()
    assert recorder.batches == [[1], [1], [1]]


def test_the_estimate_counts_the_queue_the_running_batch_and_the_window() -> None:
    gate = threading.Event()
    queue = batcher(Recorder(gate), latency_s=0.1, max_batch_size=2, max_wait_s=0.0)
    running = request(2)
    queue.submit(running)
    queue.submit(request(2))  # a full batch waiting behind the running one
    # Ours comes after: the rest of the running batch, one full batch, then ours.
    estimate = queue.estimate_s(1)
    assert 0.2 <= estimate <= 0.31
    gate.set()
    queue.close()
    idle = batcher(Recorder(), latency_s=0.1, max_batch_size=4, max_wait_s=5.0)
    assert 5.0 < idle.estimate_s(1) <= 5.2  # it would wait for company first
    assert 0.1 <= idle.estimate_s(4) < 0.2  # a full batch goes at once
    idle.close()


def test_a_request_that_would_finish_late_is_rejected_on_arrival() -> None:
    queue = batcher(Recorder(), latency_s=1.0, max_batch_size=4, max_wait_s=0.0)
    late = request(1, deadline=_now() + 0.5)
    with pytest.raises(DeadlineExceeded, match="would finish in about") as caught:
        queue.submit(late)
    assert caught.value.early and queue.queue_depth == 0
    queue.close()


def test_a_request_whose_deadline_slips_while_it_waits_is_rejected_before_running() -> None:
    gate = threading.Event()
    recorder = Recorder(gate)
    queue = batcher(recorder, latency_s=0.001, max_batch_size=1, max_wait_s=0.0)
    blocking = request(1)
    queue.submit(blocking)
    assert recorder.started.wait(30)
    # Accepted: the estimate says ~2 ms, but the running batch takes until the gate opens.
    hurried = request(1, deadline=_now() + 0.2)
    queue.submit(hurried)
    threading.Timer(0.4, gate.set).start()
    with pytest.raises(DeadlineExceeded, match="its batch would finish") as caught:
        hurried.future.result(timeout=30)
    assert caught.value.early and queue.late_rejections == 1
    assert recorder.batches == [[1]]  # it never ran
    queue.close()


def test_cancelled_requests_are_skipped() -> None:
    recorder = Recorder()
    queue = batcher(recorder, max_batch_size=4, max_wait_s=60.0)
    dropped, kept = request(1), request(3)
    queue.submit(dropped)
    assert dropped.future.cancel()
    queue.submit(kept)
    assert kept.future.result(timeout=30) == 3
    queue.close()
    assert recorder.batches == [[3]]


def test_a_full_queue_refuses_and_closing_refuses_new_requests() -> None:
    queue = batcher(Recorder(), max_batch_size=8, max_wait_s=60.0, max_queue=2)
    queue.submit(request(1))
    queue.submit(request(1))
    with pytest.raises(Overloaded, match="max_queue"):
        queue.submit(request(1))
    queue.close(drain=True)
    with pytest.raises(ModelNotReady, match="shutting down"):
        queue.submit(request(1))


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="max_batch_size"):
        batcher(Recorder(), max_batch_size=0)
    with pytest.raises(ConfigError, match="max_wait_ms"):
        batcher(Recorder(), max_wait_s=-1.0)
    with pytest.raises(ConfigError, match="max_queue"):
        batcher(Recorder(), max_queue=0)


def test_the_latency_model_fits_two_sizes_and_learns_from_batches() -> None:
    model = LatencyModel({1: 0.002, 33: 0.010})
    assert model.predict(1) == pytest.approx(0.002)
    assert model.predict(17) == pytest.approx(0.006)
    for _ in range(50):
        model.observe(1, 0.004)  # the machine turned out twice as slow
    assert model.predict(1) == pytest.approx(0.004, rel=0.01)
    flat = LatencyModel({4: 0.003})
    assert flat.predict(1) == flat.predict(64) == pytest.approx(0.003)


def test_the_result_cache_bounds_bytes_and_freezes_entries() -> None:
    cache = ResultCache(max_entries=10, max_bytes=100)
    cache.put(b"a", [np.zeros(10)])  # 80 bytes
    stored = cache.get(b"a")
    assert stored is not None and not stored[0].flags.writeable
    cache.put(b"b", [np.zeros(5)])  # 40 more: over 100, so `a` goes
    assert cache.get(b"a") is None and cache.get(b"b") is not None
    cache.put(b"huge", [np.zeros(20)])  # larger than the whole cache: never stored
    assert cache.get(b"huge") is None
    stats = cache.stats()
    assert stats.entries == 1 and stats.bytes == 40 and stats.evictions == 1
    assert stats.hit_rate == pytest.approx(0.5)


def _now() -> float:
    import time

    return time.monotonic()
