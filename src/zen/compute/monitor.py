"""Measure a block of work: wall time, throughput, peak process memory and peak GPU memory.

``resource.getrusage().ru_maxrss`` is the peak over the whole process lifetime, so it cannot
tell what one block used. :class:`Monitor` instead samples the resident set size from a daemon
thread every few milliseconds (plus at start and stop) and keeps the maximum.

This module must not import ``zen.neural``, which sits above it; the Trainer hook built on it
is :class:`zen.neural.MonitorCallback`.
"""

from __future__ import annotations

import threading
import time
from types import TracebackType
from typing import Any

import psutil
import torch

from zen.errors import ConfigError, ZenError

_MB = 2**20


class Monitor:
    """Context manager that records wall time, samples/s, peak RSS and peak CUDA memory.

    Args:
        device: Device whose memory to track. CUDA devices report
            ``peak_device_memory_bytes``; others leave it None. Default: CUDA when available.
        interval_s: Seconds between RSS samples taken by the background thread.

    Example::

        with Monitor() as monitor:
            for batch in loader:
                step(batch)
                monitor.add_samples(len(batch))
        print(monitor.samples_per_s, monitor.peak_rss_bytes)
    """

    def __init__(self, device: torch.device | str | None = None, interval_s: float = 0.005):
        if interval_s <= 0:
            raise ConfigError(
                f"interval_s: expected a positive number of seconds, got {interval_s}"
            )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ConfigError(
                f"device: expected a torch device such as 'cpu' or 'cuda:0', got {device!r}"
            ) from error
        self.interval_s = interval_s
        self.samples = 0
        self.start_rss_bytes = 0
        self.peak_rss_bytes = 0
        self.peak_device_memory_bytes: int | None = None
        self._process = psutil.Process()
        self._start_time: float | None = None
        self._stop_time: float | None = None
        self._rss_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._sampler: threading.Thread | None = None
        self._sample_count = 0

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._start_time is not None and self._stop_time is None

    def start(self) -> Monitor:
        """Reset the counters and start measuring; returns ``self``."""
        if self.running:
            raise ZenError("Monitor.start: already running; call stop() before starting again")
        self.samples = 0
        self.peak_device_memory_bytes = None
        self.start_rss_bytes = self._process.memory_info().rss
        self.peak_rss_bytes = self.start_rss_bytes
        if self._tracks_cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        self._stop_event.clear()
        self._stop_time = None
        self._start_time = time.perf_counter()
        self._sampler = threading.Thread(target=self._sample_loop, name="zen-monitor", daemon=True)
        self._sampler.start()
        return self

    def stop(self) -> Monitor:
        """Stop measuring (idempotent); returns ``self``."""
        if not self.running:
            return self
        self._stop_time = time.perf_counter()
        self._stop_event.set()
        if self._sampler is not None:
            self._sampler.join()
            self._sampler = None
        self.sample()
        if self._tracks_cuda:
            self.peak_device_memory_bytes = int(torch.cuda.max_memory_allocated(self.device))
        return self

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- measurements ------------------------------------------------------------------------

    def add_samples(self, n: int) -> None:
        """Count ``n`` more processed samples (rows, sequences, graphs...)."""
        if n < 0:
            raise ConfigError(f"n: expected a non-negative number of samples, got {n}")
        self.samples += int(n)

    def sample(self) -> int:
        """Read the RSS now, fold it into the peak and return it (bytes)."""
        rss = self._process.memory_info().rss
        with self._rss_lock:
            self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
            self._sample_count += 1
        return rss

    @property
    def wall_time_s(self) -> float:
        """Seconds from start to stop (to now while running; 0 before start)."""
        if self._start_time is None:
            return 0.0
        end = self._stop_time if self._stop_time is not None else time.perf_counter()
        return end - self._start_time

    @property
    def samples_per_s(self) -> float:
        """Throughput: samples added divided by wall time (0 when no time has passed)."""
        wall_time_s = self.wall_time_s
        return self.samples / wall_time_s if wall_time_s > 0 else 0.0

    @property
    def peak_rss_mb(self) -> float:
        """Peak resident set size in MiB."""
        return self.peak_rss_bytes / _MB

    def summary(self) -> dict[str, Any]:
        """All measurements as a JSON-serialisable dict."""
        return {
            "device": str(self.device),
            "wall_time_s": self.wall_time_s,
            "samples": self.samples,
            "samples_per_s": self.samples_per_s,
            "start_rss_bytes": self.start_rss_bytes,
            "peak_rss_bytes": self.peak_rss_bytes,
            "peak_rss_mb": self.peak_rss_mb,
            "peak_device_memory_bytes": self.peak_device_memory_bytes,
        }

    def __repr__(self) -> str:
        state = "running, " if self.running else ""
        device_memory = (
            f", peak_device_memory={self.peak_device_memory_bytes / _MB:.1f} MB"
            if self.peak_device_memory_bytes is not None
            else ""
        )
        return (
            f"Monitor({state}device={self.device}, wall_time={self.wall_time_s:.3f} s, "
            f"samples={self.samples}, throughput={self.samples_per_s:.1f} samples/s, "
            f"peak_rss={self.peak_rss_mb:.1f} MB{device_memory})"
        )

    # --- internals ---------------------------------------------------------------------------

    @property
    def _tracks_cuda(self) -> bool:
        return self.device.type == "cuda" and torch.cuda.is_available()

    def _sample_loop(self) -> None:
        while not self._stop_event.wait(self.interval_s):
            self.sample()
