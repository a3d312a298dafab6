"""A playing session: the mixer on the scheduler's real-time tier, an output, the assistant.

One periodic ``realtime`` task per block period (``block_size / sample_rate``) does all the
DSP: it applies the parameter changes queued since the last block, mixes and masters one block,
hands it to the output and copies the mix into the assistant's history. The assistant runs on
the ``inference`` tier (a worker thread), the read-ahead of streamed files on the ``background``
tier; neither can delay a block.

A block's deadline is when the output needs it: its release plus the output's buffer (two
periods for the null device), never less than one period. An *xrun* is a block that glitched:
its release was dropped or it finished after its deadline (a real-time deadline miss), or the
output had to play silence waiting for it (an underrun). A block that did both counts once; the
report also gives each count on its own.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zen.audio.presets import ChainSettings
from zen.audio.realtime.analysis import Analyse, LiveAssistant, describe, load_analysis
from zen.audio.realtime.mixer import Mixer, Track, check_mix
from zen.audio.realtime.outputs import NullOutput, Output, StreamFormat, resolve_output
from zen.errors import BackendUnavailable, ConfigError
from zen.runtime.clock import Clock
from zen.runtime.scheduler import Scheduler, SchedulerConfig, TierPolicy
from zen.runtime.tasks import Release
from zen.runtime.trace import SCHEDULER_LANE, Mark

logger = logging.getLogger(__name__)

#: Name of the real-time task in stats and traces.
BLOCK_TASK = "mix block"
ASSISTANT_TASK = "assistant analysis"
REFILL_TASK = "stream read-ahead"


@dataclass(frozen=True)
class SessionConfig:
    """Engine settings of a :class:`Session`; the defaults suit stereo music at 44.1/48 kHz.

    Args:
        block_size: frames per block (the real-time period is ``block_size / sample_rate``).
        sample_rate: the session's rate; ``None`` takes the first track's (others are
            resampled at load).
        smoothing_ms: glide time of every parameter change.
        native: DSP path (None: ``ZEN_AUDIO_NATIVE``).
        assistant_interval_s: time between two analyses of the mix.
        assistant_window_s: how much of the latest mix each analysis sees.
        auto_apply: apply the assistant's corrections to the master (they glide in); else
            they are only reported.
        refill_interval_s: how often streamed files are read ahead (background tier).
        realtime_priority: ask the OS for real-time priority for the block thread.
        scheduler: full scheduler settings, instead of the tiers chosen here and
            ``realtime_priority``.
    """

    block_size: int = 512
    sample_rate: int | None = None
    smoothing_ms: float = 20.0
    native: bool | None = None
    assistant_interval_s: float = 2.0
    assistant_window_s: float = 4.0
    auto_apply: bool = False
    refill_interval_s: float = 0.25
    realtime_priority: bool = True
    scheduler: SchedulerConfig | None = None

    def __post_init__(self) -> None:
        block = self.block_size
        if isinstance(block, bool) or not isinstance(block, int) or not 16 <= block <= 16384:
            raise ConfigError(f"block_size: expected 16 to 16384 frames, got {block!r}")
        if self.sample_rate is not None and (
            isinstance(self.sample_rate, bool)
            or not isinstance(self.sample_rate, int)
            or not 8000 <= self.sample_rate <= 768_000
        ):
            raise ConfigError(
                f"sample_rate: expected 8000 to 768000 Hz or None, got {self.sample_rate!r}"
            )
        for name in ("assistant_interval_s", "assistant_window_s", "refill_interval_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0 < value < math.inf):
                raise ConfigError(f"{name}: expected a positive number of seconds, got {value!r}")
        if self.scheduler is not None and not isinstance(self.scheduler, SchedulerConfig):
            raise ConfigError(f"scheduler: expected a SchedulerConfig, got {self.scheduler!r}")


@dataclass(frozen=True)
class PlaybackReport:
    """What a session did. Times in milliseconds unless the name says seconds.

    ``blocks`` counts blocks made; ``p50/p99/max_block_ms`` is the DSP time of one block (the
    mix and master), ``p99_latency_ms`` release to end of the block's job as the scheduler saw
    it. ``xruns``, ``underruns``, ``deadline_misses``: see :mod:`zen.audio.realtime.session`.
    """

    tracks: int
    sample_rate: int
    block_size: int
    output: str
    output_note: str | None
    programme_s: float
    wall_s: float
    blocks: int
    xruns: int
    underruns: int
    deadline_misses: int
    dropped_blocks: int
    p50_block_ms: float | None
    p99_block_ms: float | None
    max_block_ms: float | None
    p99_latency_ms: float | None
    latency_ms: float
    assistant: str
    assistant_analyses: int
    assistant_failures: int
    assistant_applied: int
    assistant_suggestion: Any
    streams_starved: int
    complete: bool
    interrupted: bool
    realtime_priority: str
    trace: str | None
    file: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Series:
    """A growing float64 series without per-append allocation (doubles when full)."""

    def __init__(self, capacity: int) -> None:
        self._values = np.zeros(max(capacity, 16))
        self.size = 0

    def append(self, value: float) -> None:
        if self.size == len(self._values):
            grown = np.zeros(2 * len(self._values))
            grown[: self.size] = self._values
            self._values = grown
        self._values[self.size] = value
        self.size += 1

    @property
    def values(self) -> np.ndarray:
        return self._values[: self.size]


class Session:
    """N tracks mixed through the five pillars and played in real time.

    Args:
        tracks: the :class:`~zen.audio.realtime.mixer.Track` s.
        master: master chain settings (default: the ``transparent`` preset).
        output: an :class:`~zen.audio.realtime.outputs.Output`, or a ``--device`` value:
            ``None`` (the default sound device, or the null device when there is none),
            ``"null"``, ``"file:PATH"`` or a device name.
        assistant: ``True`` for the installed assistant (run without it, and say so in the
            report, when it is not installed), a function ``fn(audio, sample_rate)``, or
            ``None``/``False`` for none.
        config: engine settings (:class:`SessionConfig`).
        clock: the scheduler's clock; a :class:`~zen.runtime.clock.VirtualClock` renders as
            fast as the DSP allows (deterministic; inference and background work run inline).

    A session plays once (``run``, or ``start`` then ``wait``/``stop``). ``set_track`` and
    ``set_master`` may be called from any thread at any time; changes apply at the next block
    boundary and glide.

    Example::

        from zen.audio.realtime import FileSource, Session, Track
        session = Session([Track(FileSource("drums.wav")), Track(FileSource("bass.wav"), pan=-0.3)],
                          output="null")
        report = session.run(seconds=10, trace="play.json")
        print(report.xruns, report.p99_block_ms)
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        *,
        master: ChainSettings | None = None,
        output: Output | str | None = None,
        assistant: Analyse | bool | None = None,
        config: SessionConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config or SessionConfig()
        if not isinstance(self.config, SessionConfig):
            raise ConfigError(f"config: expected a SessionConfig, got {config!r}")
        tracks = list(tracks)
        if not tracks:
            raise ConfigError("tracks: expected at least one track")
        for track in tracks:
            if not isinstance(track, Track):
                raise ConfigError(f"tracks: expected Track objects, got {type(track).__name__}")
        if master is not None and not isinstance(master, ChainSettings):
            raise ConfigError(f"master: expected ChainSettings, got {type(master).__name__}")
        sample_rate = self.config.sample_rate or tracks[0].source.native_rate
        self.mixer = Mixer(
            tracks,
            sample_rate=sample_rate,
            block_size=self.config.block_size,
            master=master,
            native=self.config.native,
            smoothing_ms=self.config.smoothing_ms,
        )
        self.sample_rate = sample_rate
        self.block_size = self.config.block_size
        self.output = resolve_output(output)
        self.output_note: str | None = None
        self.scheduler = Scheduler(self._scheduler_config(clock), clock=clock)
        self.clock = self.scheduler.clock
        self.assistant: LiveAssistant | None = None
        self.assistant_state = "off"
        self._master_settings = self.mixer.master.settings
        self._setup_assistant(assistant)
        self._commands: queue.SimpleQueue[tuple[str, Any, dict[str, Any]]] = queue.SimpleQueue()
        self._state = "ready"
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._interrupted = False
        self._trace_path: Path | None = None
        self._block_times = _Series(4096)
        self._blocks = self._xruns = self._dropped = 0
        self._frames_out = 0
        self._target_frames: int | None = None
        self._programme_frames: int | None = None
        self._started_s = 0.0
        self._wall_s = 0.0
        self._thread: threading.Thread | None = None
        self.report_: PlaybackReport | None = None

    # -- control, from any thread ------------------------------------------------------------
    def set_track(
        self,
        track: int | str,
        *,
        gain_db: float | None = None,
        pan: float | None = None,
        mute: bool | None = None,
        solo: bool | None = None,
        settings: ChainSettings | None = None,
    ) -> None:
        """Change one track (by index or name) at the next block boundary; values glide."""
        index = self.mixer.index(track)
        name = self.mixer.tracks[index].name
        check_mix(name, gain_db, pan)
        if settings is not None:
            if not isinstance(settings, ChainSettings):
                raise ConfigError(
                    f"track {name}: settings: expected ChainSettings, got {type(settings).__name__}"
                )
            if self.mixer.tracks[index].settings is None:
                raise ConfigError(
                    f"track {name}: it was built without settings, so it has no strip; give it"
                    " settings (even neutral ones) when the session is built"
                )
        changes: dict[str, Any] = {
            key: value
            for key, value in (
                ("gain_db", gain_db),
                ("pan", pan),
                ("mute", mute),
                ("solo", solo),
                ("settings", settings),
            )
            if value is not None
        }
        for key in ("mute", "solo"):
            if key in changes:
                changes[key] = bool(changes[key])
        self._commands.put(("track", index, changes))

    def set_master(self, settings: ChainSettings) -> None:
        """New master settings at the next block boundary; they glide. They also become what
        the assistant's corrections (with ``auto_apply``) are applied to."""
        if not isinstance(settings, ChainSettings):
            raise ConfigError(f"settings: expected ChainSettings, got {type(settings).__name__}")
        self._master_settings = settings
        if self.assistant is not None:
            self.assistant.base_settings = settings
        self._commands.put(("master", settings, {}))

    # -- running -------------------------------------------------------------------------------
    def run(
        self, seconds: float | None = None, *, trace: str | Path | None = None
    ) -> PlaybackReport:
        """Play ``seconds`` of programme (default: to the end of the longest track) and return
        the report; Ctrl-C ends it early (the report says ``interrupted``).

        Args:
            seconds: how much to play; looping tracks need it.
            trace: write the scheduler's Chrome/Perfetto trace here at the end.
        """
        if not self.clock.virtual:
            self.start(seconds, trace=trace)
            try:
                # No periodic wake-ups here: a thread of ours that wakes takes the GIL, and if
                # the OS preempts it right then, the block thread waits for the GIL as long.
                self._done.wait()
            except KeyboardInterrupt:
                self._interrupted = True
            return self._finish()
        self._prepare(seconds, trace, endless=False)
        self._started_s = time.perf_counter()
        try:
            self.scheduler.run_for(self._virtual_limit_s())
        except KeyboardInterrupt:
            self._interrupted = True
        return self._finish()

    def start(self, seconds: float | None = None, *, trace: str | Path | None = None) -> None:
        """Start playing on a thread of its own ("zen-play", real-time priority where
        permitted) and return at once; ``wait()`` or ``stop()`` ends it and gives the report.
        Real clocks only. Looping tracks may play without ``seconds`` until ``stop()``."""
        if self.clock.virtual:
            raise ConfigError("start: a virtual clock only renders with run(); use run()")
        self._prepare(seconds, trace, endless=True)
        self._started_s = time.perf_counter()
        self._thread = threading.Thread(target=self._play, name="zen-play", daemon=True)
        self._thread.start()

    def _play(self) -> None:
        """The playback thread: the scheduler's session until the programme ends or stop()."""
        if self._target_frames is None:
            limit_s = math.inf  # only stop() ends it
        else:  # far more than the programme needs even when overloaded; stop() ends it first
            limit_s = 4.0 * self._target_frames / self.sample_rate + 60.0
        try:
            self.scheduler.run_for(limit_s)
        except BaseException as error:  # surfaced by run()/wait()/stop()
            if self._error is None:
                self._error = error
        finally:
            self._done.set()

    def wait(self, timeout_s: float | None = None) -> PlaybackReport | None:
        """Wait for the programme to end; the report, or ``None`` on timeout."""
        if self._state == "finished":
            return self.report_
        if self._state != "playing":
            raise ConfigError("wait: the session is not playing; start() it first")
        if not self._done.wait(timeout_s):
            return None
        return self._finish()

    def stop(self) -> PlaybackReport:
        """End playback now (the report says ``complete=False`` if the programme had more)."""
        if self._state == "finished":
            assert self.report_ is not None
            return self.report_
        if self._state != "playing":
            raise ConfigError("stop: the session is not playing")
        return self._finish()

    @property
    def playing(self) -> bool:
        return self._state == "playing" and not self._done.is_set()

    # -- set-up and tear-down ------------------------------------------------------------------
    def _scheduler_config(self, clock: Clock | None) -> SchedulerConfig:
        virtual = clock is not None and clock.virtual
        given = self.config.scheduler
        if given is not None:
            if virtual and (given.inference.workers or given.background.workers):
                raise ConfigError(
                    "scheduler: a virtual clock needs tiers without worker threads (workers=0)"
                )
            return given
        workers = 0 if virtual else 1
        # Workers run SCHED_FIFO below the block thread when it got SCHED_FIFO itself: an
        # ordinary worker that the OS preempts while it holds the GIL (the analysis runs Python
        # between its kernels) would stall the block thread until it runs again.
        return SchedulerConfig(
            inference=TierPolicy(
                slice_s=0.0005,
                starvation_s=2.0,
                under_pressure="defer",
                workers=workers,
                fifo_priority=5,
            ),
            background=TierPolicy(
                slice_s=0.0005,
                budget_s=0.02,
                starvation_s=1.0,
                under_pressure="defer",
                workers=workers,
                fifo_priority=4,
            ),
            realtime_priority=self.config.realtime_priority,
        )

    def _setup_assistant(self, assistant: Analyse | bool | None) -> None:
        if assistant is None or assistant is False:
            return
        if assistant is True:
            try:
                analyse = load_analysis()
            except BackendUnavailable as error:
                self.assistant_state = f"unavailable: {error}"
                logger.info("playing without the assistant: %s", error)
                return
        elif callable(assistant):
            analyse = assistant
        else:
            raise ConfigError(
                f"assistant: expected True, False, None or a function, got {assistant!r}"
            )
        self.assistant = LiveAssistant(
            analyse,
            sample_rate=self.sample_rate,
            window_s=self.config.assistant_window_s,
            auto_apply=self.config.auto_apply,
            apply=lambda settings: self._commands.put(("master", settings, {})),
        )
        self.assistant.base_settings = self._master_settings
        self.assistant_state = "on"

    def _prepare(self, seconds: float | None, trace: str | Path | None, endless: bool) -> None:
        if self._state != "ready":
            raise ConfigError("a session plays once; build a new Session to play again")
        if seconds is not None and not (
            isinstance(seconds, (int, float)) and 0 < seconds < math.inf
        ):
            raise ConfigError(f"seconds: expected a positive number of seconds, got {seconds!r}")
        rate = self.sample_rate
        programme: int | None = self.mixer.frames
        if seconds is not None:
            programme = round(seconds * rate)
            if not self.mixer.loops:
                programme = min(programme, self.mixer.frames)
        elif self.mixer.loops:
            if not endless:
                raise ConfigError("seconds: a looping track plays forever; say how long to play")
            programme = None
        lead = self.mixer.latency_samples
        self._programme_frames = programme
        self._target_frames = None if programme is None else programme + lead
        self._trace_path = None if trace is None else Path(trace)
        self.mixer.warm_up()
        if self.assistant is not None:
            try:
                self.assistant.warm_up()
            except Exception as error:
                self.assistant_state = f"unavailable: its first analysis failed ({error})"
                logger.info("playing without the assistant: %s", self.assistant_state)
                self.assistant = None
        # Last before the first block: a device's stream runs from here on.
        self._open_output(StreamFormat(rate, 2, self.block_size, lead, self._programme_frames))
        frames = self._target_frames or 60 * rate
        self._block_times = _Series(-(-frames // self.block_size) + 16)
        period = self.block_size / rate
        # A block is late when the output needs it: its buffer ahead (at least one period).
        # Blocks delayed by less run back to back and catch up instead of being dropped.
        deadline = max(period, self.output.latency_s)
        self.scheduler.add_periodic(self._realtime_task, period, deadline, name=BLOCK_TASK)
        if self.assistant is not None:
            interval = self.config.assistant_interval_s
            self.scheduler.add_periodic(
                self.assistant.job,
                interval,
                tier="inference",
                name=ASSISTANT_TASK,
                phase_s=interval,
            )
        streams = [source for source in self.mixer.sources if source.streaming]
        if streams:

            def read_ahead() -> None:
                for source in streams:
                    source.refill()

            self.scheduler.add_periodic(
                read_ahead,
                self.config.refill_interval_s,
                tier="background",
                name=REFILL_TASK,
            )
        self._state = "playing"

    def _open_output(self, stream: StreamFormat) -> None:
        try:
            self.output.open(stream, self.clock)
        except BackendUnavailable as error:
            if not self.output.fallback:
                raise
            self.output_note = f"played to the null device: {error}"
            logger.info("using the null output: %s", error)
            self.output = NullOutput()
            self.output.open(stream, self.clock)
        if self.clock.virtual and not isinstance(self.output, NullOutput):
            self.output.close(complete=False)
            raise ConfigError(
                "clock: a virtual clock renders faster than real time, which a sound device"
                " cannot follow; use the null or a file output"
            )

    def _virtual_limit_s(self) -> float:
        assert self._target_frames is not None
        programme_s = self._target_frames / self.sample_rate
        return 2.0 * programme_s + 1.0  # room for releases dropped by a test's overload

    def _finish(self) -> PlaybackReport:
        if self._state == "finished":
            assert self.report_ is not None
            return self.report_
        self._state = "finished"
        try:
            self.scheduler.close()
        except KeyboardInterrupt:
            self._interrupted = True
            self.scheduler.close()
        if self._thread is not None:
            self._thread.join()
        self._wall_s = time.perf_counter() - self._started_s
        complete = self._target_frames is not None and self._frames_out >= self._target_frames
        try:
            self.output.close(complete=complete)
        finally:
            for source in self.mixer.sources:
                if source.streaming:
                    source.close()
        report = self._report(complete)
        if self._trace_path is not None:
            metadata = {"session": "zen.audio.realtime", "report": report.to_json()}
            self.scheduler.probe.write(self._trace_path, metadata)
        self.report_ = report
        if self._error is not None:
            raise self._error
        return report

    # -- the real-time task --------------------------------------------------------------------
    def _realtime_task(self) -> Generator[None, Release, None]:
        last_index = -1
        while True:
            release = yield
            if self._done.is_set():
                continue
            try:
                self._block(release, release.index - last_index - 1)
            except Exception as error:  # surfaced by run()/wait(); the stream cannot go on
                self._error = error
                self._end()
            last_index = release.index

    def _block(self, release: Release, dropped: int) -> None:
        if dropped > 0:
            self._dropped += dropped
            self._xruns += dropped
            self._mark("xrun", {"dropped_blocks": dropped})
        self._apply_commands()
        mixer, output, history = self.mixer, self.output, None
        if self.assistant is not None:
            history = self.assistant.history
        target = self._target_frames
        for _ in range(output.blocks_wanted()):
            started = time.perf_counter()
            block = mixer.process_block()
            if history is not None:
                history.write(mixer.bus)
            self._block_times.append(time.perf_counter() - started)
            silent = output.write(block)
            self._blocks += 1
            self._frames_out += len(block)
            late = self.clock.now() > release.deadline_s
            if silent or late:
                self._xruns += 1
                self._mark("xrun", {"underruns": silent, "late": late, "block": self._blocks - 1})
            if target is not None and self._frames_out >= target:
                self._end()
                return

    def _apply_commands(self) -> None:
        while True:
            try:
                kind, what, changes = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                if kind == "track":
                    self.mixer.set_track(what, **changes)
                else:
                    self.mixer.set_master(what)
            except Exception as error:  # validated when queued; never let it stop the stream
                logger.warning("parameter change %s %r ignored: %s", kind, what, error)

    def _end(self) -> None:
        self._done.set()
        self.scheduler.stop()  # from inside a task: only asks

    def _mark(self, kind: str, detail: dict[str, Any]) -> None:
        self.scheduler.probe.record_mark(
            Mark(kind, "realtime", BLOCK_TASK, self.clock.now(), SCHEDULER_LANE, detail)
        )

    # -- the report ----------------------------------------------------------------------------
    def _report(self, complete: bool) -> PlaybackReport:
        times_ms = self._block_times.values * 1e3
        stats = self.scheduler.stats
        summary = self.scheduler.probe.summary().tiers.get("realtime")
        assistant = self.assistant
        lead = self.mixer.latency_samples
        played = max(self._frames_out - lead, 0)
        if self._programme_frames is not None:
            played = min(played, self._programme_frames)
        file = getattr(self.output, "path", None)
        return PlaybackReport(
            tracks=len(self.mixer.tracks),
            sample_rate=self.sample_rate,
            block_size=self.block_size,
            output=self.output.name,
            output_note=self.output_note,
            programme_s=played / self.sample_rate,
            wall_s=self._wall_s,
            blocks=self._blocks,
            xruns=self._xruns,
            underruns=self.output.underruns,
            deadline_misses=stats.realtime.deadline_misses,
            dropped_blocks=self._dropped,
            p50_block_ms=_percentile(times_ms, 50),
            p99_block_ms=_percentile(times_ms, 99),
            max_block_ms=float(times_ms.max()) if times_ms.size else None,
            p99_latency_ms=None if summary is None else summary.p99_latency_ms,
            latency_ms=(lead / self.sample_rate + self.output.latency_s) * 1e3,
            assistant=self.assistant_state,
            assistant_analyses=0 if assistant is None else assistant.analyses,
            assistant_failures=0 if assistant is None else assistant.failures,
            assistant_applied=0 if assistant is None else assistant.applied,
            assistant_suggestion=(
                None
                if assistant is None or assistant.last_suggestion is None
                else describe(assistant.last_suggestion)
            ),
            streams_starved=sum(source.starved for source in self.mixer.sources),
            complete=complete,
            interrupted=self._interrupted,
            realtime_priority=stats.realtime_priority,
            trace=None if self._trace_path is None else str(self._trace_path),
            file=None if file is None else str(file),
        )

    def __repr__(self) -> str:
        return (
            f"Session({len(self.mixer.tracks)} tracks, {self.sample_rate} Hz, block_size"
            f"={self.block_size}, output={self.output.name!r}, assistant={self.assistant_state!r},"
            f" {self._state})"
        )


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None
