"""The standard mixed workload behind ``zen runtime check``, ``zen trace`` and the benchmark.

Three kinds of work share one process, as in an AI-assisted audio engine:

- real-time: a stereo block of 512 samples at 44.1 kHz every 11.6 ms (deadline: the period),
  through real DSP — an 8-band EQ of RBJ biquads (``scipy.signal.sosfilt`` with its state
  carried between blocks), an RMS compressor (one-pole envelope via ``lfilter``, soft-knee
  gain computer, make-up gain), a tanh saturator and meters (peak, RMS, spectrum);
- inference: continuous analysis of the recent output — log spectra of the last 64 blocks
  (a slice on the scheduler thread), a ``zen.neural.MLP`` of 257-1024-1024-16 on them (on a
  worker thread, torch releasing the GIL), class scores (another slice); one job in flight,
  the next one submitted as soon as the last finished;
- background: every 50 ms a batch of statistics over 64k samples (sort, percentiles, a long
  FFT) in numpy.

:func:`run_workload` runs it under the :class:`~zen.runtime.scheduler.Scheduler`, or on plain
threads (one thread per kind, no priorities, no admission control) for comparison, optionally
next to a :class:`StressProcess` spinning on another core. Both ways record into a
:class:`~zen.runtime.trace.SessionProbe`, so their traces and summaries compare directly.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from scipy import signal

from zen.errors import ConfigError, expect_one_of
from zen.filters import rbj_biquad
from zen.runtime.scheduler import Scheduler, SchedulerConfig, TierPolicy
from zen.runtime.tasks import offload
from zen.runtime.trace import SCHEDULER_LANE, Mark, SessionProbe, Span

SAMPLE_RATE = 44_100
BLOCK_SIZE = 512
HISTORY_BLOCKS = 64
MODEL_SIZES = (BLOCK_SIZE // 2 + 1, 1024, 1024, 16)
BACKGROUND_PERIOD_S = 0.05
INFERENCE_DEADLINE_S = 0.1
MODES = ("scheduler", "threads")

#: (kind, centre or corner frequency in Hz, gain in dB, Q) of the 8 EQ bands.
EQ_BANDS = (
    ("low_shelf", 100.0, 2.0, 0.707),
    ("peak", 200.0, -1.5, 1.0),
    ("peak", 400.0, 1.0, 1.2),
    ("peak", 800.0, -2.0, 1.4),
    ("peak", 1600.0, 1.5, 1.0),
    ("peak", 3200.0, -1.0, 0.9),
    ("peak", 6400.0, 2.0, 1.0),
    ("high_shelf", 10_000.0, 1.5, 0.707),
)


class StereoChain:
    """The real-time job: make one stereo block, EQ, compress, saturate and meter it.

    Args:
        sample_rate: samples per second.
        block_size: samples per block and channel.
        seed: seed of the noise in the test signal.

    Filter states (``zi``) carry over from block to block, so the output is one continuous
    signal, exactly what the same chain gives on the whole signal at once.
    """

    def __init__(
        self, sample_rate: int = SAMPLE_RATE, block_size: int = BLOCK_SIZE, seed: int = 0
    ) -> None:
        self.sample_rate, self.block_size = sample_rate, block_size
        self.eq = np.stack(
            [rbj_biquad(kind, freq_hz, sample_rate, gain_db=gain_db, q=q)
             for kind, freq_hz, gain_db, q in EQ_BANDS]
        )  # fmt: skip
        self._eq_state = np.zeros((len(self.eq), 2, 2))
        # Compressor: RMS over ~10 ms, threshold -18 dBFS, ratio 4:1, 6 dB knee, +3 dB make-up.
        self._rms_pole = math.exp(-1.0 / (0.010 * sample_rate))
        self._rms_state = np.zeros((1,))
        self.threshold_db, self.ratio, self.knee_db, self.makeup_db = -18.0, 4.0, 6.0, 3.0
        self._rng = np.random.default_rng(seed)
        self._phase = 0.0
        self._window = np.hanning(block_size)
        #: Mid signal of the last blocks (ring), what the analysis reads.
        self.history = np.zeros((HISTORY_BLOCKS, block_size), dtype=np.float32)
        self.blocks = 0
        self.peak = np.zeros(2)
        self.rms = np.zeros(2)
        self.spectrum = np.zeros(block_size // 2 + 1)
        self.gain_reduction_db = 0.0

    def source(self) -> np.ndarray:
        """The next block of the test signal: two tones and noise, shape (2, block_size)."""
        n = self.block_size
        t = self._phase + np.arange(n) / self.sample_rate
        self._phase += n / self.sample_rate
        tones = 0.2 * np.sin(2 * np.pi * 220.0 * t) + 0.1 * np.sin(2 * np.pi * 1_000.0 * t)
        noise = 0.05 * self._rng.standard_normal((2, n))
        return tones + noise

    def process(self, block: np.ndarray) -> np.ndarray:
        """EQ, compressor and saturator on a (2, n) block; updates state and meters."""
        equalised, self._eq_state = signal.sosfilt(self.eq, block, axis=-1, zi=self._eq_state)
        # Linked stereo detector: the louder channel's power, smoothed by a one-pole filter.
        power = np.max(equalised * equalised, axis=0)
        pole = self._rms_pole
        smoothed, self._rms_state = signal.lfilter(
            [1.0 - pole], [1.0, -pole], power, zi=self._rms_state
        )
        level_db = 10.0 * np.log10(smoothed + 1e-12)
        gain_db = self.makeup_db - self._reduction_db(level_db)
        compressed = equalised * 10.0 ** (gain_db / 20.0)
        output: np.ndarray = np.tanh(compressed)
        self.gain_reduction_db = float(self.makeup_db - gain_db.min())
        return output

    def _reduction_db(self, level_db: np.ndarray) -> np.ndarray:
        """Soft-knee gain computer (Giannoulis, Massberg & Reiss 2012, eq. 4)."""
        over = level_db - self.threshold_db
        slope = 1.0 - 1.0 / self.ratio
        half = self.knee_db / 2.0
        in_knee = np.abs(over) <= half
        reduction = np.where(over > half, slope * over, 0.0)
        return np.where(in_knee, slope * (over + half) ** 2 / (2.0 * self.knee_db), reduction)

    def process_block(self) -> None:
        """One real-time job: the next source block through the chain, then the meters."""
        output = self.process(self.source())
        self.peak = np.max(np.abs(output), axis=1)
        self.rms = np.sqrt(np.mean(output * output, axis=1))
        mid = 0.5 * (output[0] + output[1])
        self.spectrum = np.abs(np.fft.rfft(mid * self._window))
        self.history[self.blocks % HISTORY_BLOCKS] = mid
        self.blocks += 1


class Analysis:
    """The inference job: log spectra of recent blocks, an MLP on them, class scores."""

    def __init__(self, chain: StereoChain, seed: int = 0) -> None:
        import torch

        from zen.neural import MLP, private_rng

        self._torch = torch
        self.chain = chain
        with private_rng(seed):  # repeatable weights without reseeding the caller's torch
            self.model = MLP(list(MODEL_SIZES), activation="relu").eval()
        self._window = np.hanning(chain.block_size).astype(np.float32)
        self.runs = 0
        self.label_counts = np.zeros(MODEL_SIZES[-1], dtype=np.int64)

    def features(self) -> Any:
        """(64, 257) log-magnitude spectra of the last blocks, as a float32 tensor."""
        spectra = np.abs(np.fft.rfft(self.chain.history * self._window, axis=-1))
        return self._torch.from_numpy(np.log1p(spectra).astype(np.float32))

    def forward(self, features: Any) -> Any:
        """The model call; torch releases the GIL inside its kernels."""
        with self._torch.inference_mode():
            return self.model(features)

    def postprocess(self, scores: Any) -> int:
        labels = scores.argmax(dim=1).numpy()
        self.label_counts += np.bincount(labels, minlength=len(self.label_counts))
        self.runs += 1
        return int(np.bincount(labels).argmax())

    def job(self) -> Generator[Any, Any, int]:
        """Cooperative form: a slice, the model on a worker, a slice."""
        features = self.features()
        scores = yield offload(self.forward, features)
        return self.postprocess(scores)

    def run_inline(self) -> int:
        """Plain form, for a thread of its own."""
        return self.postprocess(self.forward(self.features()))


class BackgroundStats:
    """The background job: statistics of the recent signal over a long window."""

    def __init__(self, chain: StereoChain) -> None:
        self.chain = chain
        self.batches = 0
        self.latest: dict[str, float] = {}

    def run(self) -> None:
        signal_ = self.chain.history.ravel().astype(np.float64)
        ordered = np.sort(signal_)
        low, median, high = np.percentile(ordered, [1, 50, 99])
        spectrum = np.abs(np.fft.rfft(signal_ * np.hanning(signal_.size)))
        bins = np.arange(spectrum.size)
        centroid = float((bins * spectrum).sum() / max(spectrum.sum(), 1e-12))
        self.latest = {"p1": low, "median": median, "p99": high, "centroid_bin": centroid}
        self.batches += 1


def standard_config(**overrides: Any) -> SchedulerConfig:
    """The scheduler settings of the standard workload: inference deferred and background
    skipped while the audio block is at risk; background limited to 20% of a core."""
    settings: dict[str, Any] = {
        "inference": TierPolicy(slice_s=0.002, starvation_s=0.5, under_pressure="defer"),
        "background": TierPolicy(
            slice_s=0.002, budget_s=0.02, starvation_s=1.0, under_pressure="skip"
        ),
    }
    settings.update(overrides)
    return SchedulerConfig(**settings)


@dataclass(frozen=True)
class WorkloadResult:
    """What a run of the standard workload did (block latencies in milliseconds).

    ``blocks`` counts real-time releases (run or dropped); ``deadline_misses`` those that
    finished late or were dropped. ``starvation_events`` is ``None`` on plain threads, which
    cannot tell.
    """

    mode: str
    seconds: float
    stress: bool
    blocks: int
    deadline_misses: int
    p50_block_ms: float | None
    p99_block_ms: float | None
    max_block_ms: float | None
    starvation_events: int | None
    inference_runs: int
    background_batches: int
    overruns: int | None
    realtime_priority: str
    trace: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "blocks": self.blocks,
            "deadline_misses": self.deadline_misses,
            "p50_block_ms": self.p50_block_ms,
            "p99_block_ms": self.p99_block_ms,
            "starvation_events": self.starvation_events,
            "trace": self.trace,
            "mode": self.mode,
            "seconds": self.seconds,
            "stress": self.stress,
            "max_block_ms": self.max_block_ms,
            "inference_runs": self.inference_runs,
            "background_batches": self.background_batches,
            "overruns": self.overruns,
            "realtime_priority": self.realtime_priority,
            "summary": self.summary,
        }


def default_trace_path(prefix: str = "runtime") -> Path:
    """``$ZEN_HOME/traces/<prefix>-<UTC time>.json`` (``ZEN_HOME`` defaults to ``~/.zen``)."""
    home = Path(os.environ.get("ZEN_HOME") or "~/.zen").expanduser()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return home / "traces" / f"{prefix}-{stamp}.json"


class StressProcess:
    """A separate process spinning on one CPU (default: the last this process may use).

    A context manager; the process is terminated on exit. With a single usable CPU it shares
    that one (``cpu`` says which CPU it was pinned to, ``None`` when unpinned).
    """

    _SPIN = (
        "import os, sys\n"
        "cpu = int(sys.argv[1])\n"
        "if cpu >= 0 and hasattr(os, 'sched_setaffinity'):\n"
        "    os.sched_setaffinity(0, {cpu})\n"
        "while True:\n"
        "    pass\n"
    )

    def __init__(self, cpu: int | None = None) -> None:
        if cpu is None and hasattr(os, "sched_getaffinity"):
            cpu = max(os.sched_getaffinity(0))
        self.cpu = cpu
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> StressProcess:
        cpu = -1 if self.cpu is None else self.cpu
        self._process = subprocess.Popen(
            [sys.executable, "-c", self._SPIN, str(cpu)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        return self

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_workload(
    seconds: float = 10.0,
    *,
    mode: str = "scheduler",
    stress: bool = False,
    trace_path: str | Path | None = None,
    config: SchedulerConfig | None = None,
) -> WorkloadResult:
    """Run the standard mixed workload for ``seconds`` and summarise it.

    Args:
        seconds: wall-clock duration.
        mode: ``"scheduler"`` (the tiered scheduler) or ``"threads"`` (plain threads).
        stress: run a :class:`StressProcess` on another core meanwhile.
        trace_path: write the session's Chrome trace here (``None``: no file).
        config: scheduler settings (default :func:`standard_config`).

    Torch runs single-threaded during the run (restored after) so that the inference worker
    stays on one core, as an audio engine would configure it.
    """
    if not seconds > 0 or math.isinf(seconds):
        raise ConfigError(f"seconds: expected a positive, finite duration, got {seconds!r}")
    if mode not in MODES:
        raise expect_one_of("mode", mode, MODES)
    import torch

    threads_before = torch.get_num_threads()
    torch.set_num_threads(1)
    chain = StereoChain()
    analysis = Analysis(chain)
    background = BackgroundStats(chain)
    analysis.run_inline()  # first call pays one-off set-up; keep it out of the measurement
    background.run()
    analysis.runs = background.batches = 0
    try:
        with StressProcess() if stress else _nothing():
            if mode == "scheduler":
                probe, priority, starvation, overruns = _run_scheduled(
                    seconds, chain, analysis, background, config or standard_config()
                )
            else:
                probe = _run_threads(seconds, chain, analysis, background)
                priority, starvation, overruns = "normal (plain threads)", None, None
    finally:
        torch.set_num_threads(threads_before)
    summary = probe.summary()
    realtime = summary.tiers["realtime"]
    blocks = sum(1 for span in probe.spans if span.tier == "realtime") + sum(
        int(mark.detail.get("count", 1))
        for mark in probe.marks
        if mark.tier == "realtime" and mark.kind == "miss" and mark.detail.get("dropped")
    )
    written = None
    if trace_path is not None:
        metadata = {"workload": "zen runtime check", "mode": mode, "stress": stress}
        written = str(probe.write(trace_path, metadata))
    return WorkloadResult(
        mode=mode,
        seconds=seconds,
        stress=stress,
        blocks=blocks,
        deadline_misses=realtime.deadline_misses,
        p50_block_ms=_rounded(realtime.p50_latency_ms),
        p99_block_ms=_rounded(realtime.p99_latency_ms),
        max_block_ms=_rounded(realtime.max_latency_ms),
        starvation_events=starvation,
        inference_runs=analysis.runs,
        background_batches=background.batches,
        overruns=overruns,
        realtime_priority=priority,
        trace=written,
        summary=summary.to_json(),
    )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _run_scheduled(
    seconds: float,
    chain: StereoChain,
    analysis: Analysis,
    background: BackgroundStats,
    config: SchedulerConfig,
) -> tuple[SessionProbe, str, int, int]:
    scheduler = Scheduler(config)
    period_s = chain.block_size / chain.sample_rate
    scheduler.add_periodic(chain.process_block, period_s, name="audio block")
    scheduler.add_periodic(
        background.run, BACKGROUND_PERIOD_S, tier="background", name="background stats"
    )
    running = True

    def resubmit(finished: Any = None) -> None:
        if running:
            future = scheduler.submit(
                analysis.job, tier="inference", name="analysis", deadline_s=INFERENCE_DEADLINE_S
            )
            future.add_done_callback(resubmit)

    resubmit()
    try:
        stats = scheduler.run_for(seconds)
    finally:
        running = False
        scheduler.close()
    overruns = stats.realtime.overruns + stats.inference.overruns + stats.background.overruns
    return scheduler.probe, stats.realtime_priority, stats.starvation_events, overruns


def _run_threads(
    seconds: float, chain: StereoChain, analysis: Analysis, background: BackgroundStats
) -> SessionProbe:
    """The same work on three plain threads: what one writes without a scheduler.

    The audio thread paces on absolute release times too (no sleep drift), so the comparison
    measures scheduling, not a naive ``sleep(period)``. It never drops a block: a late block
    is processed late and counted as a miss.
    """
    probe = SessionProbe()
    period_s = chain.block_size / chain.sample_rate
    started = time.perf_counter()
    end = started + seconds
    probe.start(started)
    stop = threading.Event()

    def audio() -> None:
        release = started
        while release < end:
            _sleep_until(release)
            begin = time.perf_counter()
            chain.process_block()
            done = time.perf_counter()
            deadline = release + period_s
            probe.record_span(
                Span("realtime", "audio block", SCHEDULER_LANE, "job", begin, done,
                     wait_s=begin - release, latency_s=done - release, deadline_s=deadline,
                     outcome="miss" if done > deadline else "ok")
            )  # fmt: skip
            if done > deadline:
                _miss(probe, done, done - release, period_s)
            release += period_s
        stop.set()

    def looped(tier: str, name: str, work: Callable[[], object], period: float | None) -> None:
        release = started
        while not stop.is_set():
            if period is not None:
                _sleep_until(release)
            begin = time.perf_counter()
            work()
            done = time.perf_counter()
            probe.record_span(
                Span(tier, name, "worker 0", "work", begin, done,
                     wait_s=max(begin - release, 0.0), latency_s=done - release)
            )  # fmt: skip
            release = release + period if period is not None else done

    workers = [
        threading.Thread(target=audio, name="audio"),
        threading.Thread(target=looped, args=("inference", "analysis", analysis.run_inline, None)),
        threading.Thread(
            target=looped,
            args=("background", "background stats", background.run, BACKGROUND_PERIOD_S),
        ),
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return probe


def _miss(probe: SessionProbe, now: float, latency_s: float, deadline_s: float) -> None:
    detail = {"latency_ms": round(latency_s * 1e3, 4), "deadline_ms": round(deadline_s * 1e3, 4)}
    probe.record_mark(Mark("miss", "realtime", "audio block", now, detail=detail))


def _sleep_until(deadline: float) -> None:
    remaining = deadline - time.perf_counter()
    if remaining > 0:
        time.sleep(remaining)
