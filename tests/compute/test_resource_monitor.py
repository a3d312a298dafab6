"""Monitor: wall time, throughput and peak memory of a block of work."""

from __future__ import annotations

import ast
import importlib
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from zen.compute import Monitor
from zen.errors import ConfigError, ZenError

MB = 2**20
monitor_module = importlib.import_module("zen.compute.monitor")


def allocate_touched(nbytes: int) -> np.ndarray:
    """An array whose pages are written, so they count towards RSS (np.zeros would not)."""
    return np.ones(nbytes // 8, dtype=np.float64)


def wait_for_background_samples(monitor: Monitor, count: int, timeout_s: float = 5.0) -> None:
    """Block until the sampler thread has taken ``count`` more samples (bounded, no fixed sleep)."""
    target = monitor._sample_count + count
    deadline = time.monotonic() + timeout_s
    while monitor._sample_count < target:
        assert time.monotonic() < deadline, "background sampler took no samples"
        time.sleep(0.001)


def test_peak_rss_captures_a_100mb_allocation():
    with Monitor() as monitor:
        array = allocate_touched(100 * MB)
    assert monitor.peak_rss_bytes - monitor.start_rss_bytes >= 50 * MB
    del array


def test_background_sampler_catches_memory_freed_before_the_block_ends():
    with Monitor(interval_s=0.005) as monitor:
        array = allocate_touched(100 * MB)
        wait_for_background_samples(monitor, 2)
        del array
    assert monitor.peak_rss_bytes - monitor.start_rss_bytes >= 50 * MB


def test_sampler_thread_is_a_daemon_and_stops_with_the_block():
    with Monitor() as monitor:
        sampler = monitor._sampler
        assert sampler is not None and sampler.daemon and sampler.is_alive()
    assert not sampler.is_alive()
    assert not any(t.name == "zen-monitor" for t in threading.enumerate())


def test_throughput_is_samples_divided_by_wall_time():
    with Monitor() as monitor:
        monitor.add_samples(100)
        monitor.add_samples(28)
    assert monitor.samples == 128
    assert monitor.wall_time_s > 0
    assert monitor.samples_per_s == pytest.approx(128 / monitor.wall_time_s)


def test_wall_time_is_frozen_after_the_block():
    with Monitor() as monitor:
        pass
    assert monitor.wall_time_s == monitor.wall_time_s


def test_an_unstarted_monitor_reports_zero():
    monitor = Monitor()
    assert monitor.wall_time_s == 0.0
    assert monitor.samples_per_s == 0.0


def test_summary_is_json_serialisable_and_complete():
    with Monitor() as monitor:
        monitor.add_samples(10)
    summary = json.loads(json.dumps(monitor.summary()))
    assert summary["samples"] == 10
    assert summary["device"] == "cpu"
    assert summary["peak_device_memory_bytes"] is None
    assert summary["peak_rss_bytes"] >= summary["start_rss_bytes"] > 0
    assert set(summary) >= {"wall_time_s", "samples_per_s", "peak_rss_mb"}


def test_peak_device_memory_is_none_on_cpu():
    with Monitor(device="cpu") as monitor:
        pass
    assert monitor.peak_device_memory_bytes is None


def test_repr_shows_time_throughput_and_peak_memory():
    with Monitor(device="cpu") as monitor:
        monitor.add_samples(5)
    text = repr(monitor)
    assert text.startswith("Monitor(device=cpu, wall_time=")
    assert "samples=5" in text and "samples/s" in text and "peak_rss=" in text
    assert "running" not in text


def test_stop_is_idempotent_and_a_running_monitor_cannot_start_again():
    monitor = Monitor().start()
    with pytest.raises(ZenError, match="already running"):
        monitor.start()
    monitor.stop()
    monitor.stop()
    assert not monitor.running


def test_a_monitor_can_be_reused_and_resets_its_counters():
    monitor = Monitor()
    with monitor:
        monitor.add_samples(7)
    with monitor:
        pass
    assert monitor.samples == 0


@pytest.mark.parametrize("n", [-1, -100])
def test_negative_sample_counts_are_rejected(n: int):
    with pytest.raises(ConfigError, match=f"n: expected a non-negative number of samples, got {n}"):
        Monitor().add_samples(n)


def test_interval_must_be_positive():
    with pytest.raises(ConfigError, match="interval_s"):
        Monitor(interval_s=0)


def test_monitor_module_does_not_import_zen_neural():
    tree = ast.parse(Path(monitor_module.__file__).read_text(encoding="utf-8"))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert imported and not any(str(name).startswith("zen.neural") for name in imported)


def test_unknown_device_is_rejected():
    with pytest.raises(ConfigError, match=r"device: expected a torch device.*got 'tpu'"):
        Monitor(device="tpu")
