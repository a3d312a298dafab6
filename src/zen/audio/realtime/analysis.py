"""The assistant while playing: it listens to the mix and suggests corrections, off the block path.

The real-time task writes every block of the mix (the master bus before the master chain, so a
suggestion never feeds back into what it analyses, as in ``zen flow master``) into a
:class:`MixHistory` ring: one small copy. A periodic job on the scheduler's ``inference`` tier
runs on a worker thread: it copies the last few seconds out of the ring (checking that the
real-time thread did not overwrite them meanwhile), calls the analysis, and delivers the
suggestion — reported, and with ``auto_apply`` turned into master settings
(:func:`~zen.audio.apply_corrections`) that the session applies at the next block boundary,
where the stages glide to them. Nothing of this runs inside a block's deadline.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from zen.audio.presets import ChainSettings, Corrections, apply_corrections
from zen.errors import BackendUnavailable, ConfigError

logger = logging.getLogger(__name__)

Analyse = Callable[[np.ndarray, int], Any]


class MixHistory:
    """The last ``capacity`` frames of a stream: one writer (the real-time thread), readers
    on other threads that copy without locking and detect an overwrite.

    >>> history = MixHistory(8, channels=1)
    >>> history.write(np.arange(6.0)[:, None]); history.write(np.arange(6.0, 12.0)[:, None])
    >>> history.latest(4)[:, 0].tolist()
    [8.0, 9.0, 10.0, 11.0]
    >>> history.latest(9) is None
    True
    """

    def __init__(self, capacity: int, channels: int = 2) -> None:
        if capacity < 1:
            raise ConfigError(f"capacity: expected a positive number of frames, got {capacity}")
        self._ring = np.zeros((capacity, channels), dtype=np.float32)
        self._written = 0  # frames since the start; only the writer moves it

    @property
    def capacity(self) -> int:
        return len(self._ring)

    @property
    def written(self) -> int:
        return self._written

    def write(self, block: np.ndarray) -> None:
        """Append a block (frames, channels); real-time safe."""
        frames = len(block)
        capacity = len(self._ring)
        skip = max(frames - capacity, 0)  # a block longer than the ring: keep its end
        count = frames - skip
        start = (self._written + skip) % capacity
        first = min(count, capacity - start)
        self._ring[start : start + first] = block[skip : skip + first]
        self._ring[: count - first] = block[skip + first :]
        self._written += frames

    def latest(self, frames: int) -> np.ndarray | None:
        """A copy of the newest ``frames`` frames, or ``None`` when there are not that many
        yet (or the writer lapped the copy twice, which a big enough ring never allows)."""
        capacity = len(self._ring)
        if frames > capacity:
            return None
        for _ in range(2):
            end = self._written
            start = end - frames
            if start < 0:
                return None
            out = np.empty((frames, self._ring.shape[1]), dtype=np.float32)
            offset = start % capacity
            first = min(frames, capacity - offset)
            out[:first] = self._ring[offset : offset + first]
            out[first:] = self._ring[: frames - first]
            # The writer may have moved on while we copied; the copy is good if it did not
            # reach the first frame we copied.
            if self._written - start <= capacity:
                return out
        return None


def load_analysis() -> Analyse:
    """The installed assistant's analysis, as ``fn(audio, sample_rate) -> suggestion``.

    ``zen.audio.assistant.analyse`` if the module has it, else its ``suggest_corrections``.

    Raises:
        BackendUnavailable: the assistant (or something it needs) is not installed.
    """
    try:
        module = importlib.import_module("zen.audio.assistant")
    except ModuleNotFoundError as error:
        if error.name == "zen.audio.assistant":
            raise BackendUnavailable(
                "the mastering assistant (zen.audio.assistant) is not part of this installation"
            ) from None
        raise BackendUnavailable(
            f"the mastering assistant needs {error.name!r}, which is not installed"
        ) from None
    except ImportError as error:
        raise BackendUnavailable(f"the mastering assistant does not import: {error}") from None
    for name in ("analyse", "suggest_corrections"):
        function = getattr(module, name, None)
        if callable(function):
            return function
    raise BackendUnavailable(
        "zen.audio.assistant has neither analyse(audio, sample_rate) nor"
        " suggest_corrections(audio, sample_rate)"
    )


def as_corrections(suggestion: Any) -> Corrections | None:
    """The :class:`Corrections` in an analysis result (itself, ``.corrections`` or
    ``["corrections"]``), or ``None`` when it holds none."""
    if isinstance(suggestion, Corrections):
        return suggestion
    inner = getattr(suggestion, "corrections", None)
    if inner is None and isinstance(suggestion, Mapping):
        inner = suggestion.get("corrections")
    return inner if isinstance(inner, Corrections) else None


def describe(suggestion: Any) -> Any:
    """A JSON-ready form of an analysis result."""
    corrections = as_corrections(suggestion)
    if corrections is not None:
        return dataclasses.asdict(corrections)
    if dataclasses.is_dataclass(suggestion) and not isinstance(suggestion, type):
        return _jsonable(dataclasses.asdict(suggestion))
    return _jsonable(suggestion)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "size", 2) == 1:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return repr(value)


class LiveAssistant:
    """Runs an analysis of the recent mix every ``interval_s`` and delivers what it suggests.

    Args:
        analyse: ``fn(audio (frames, 2) float32, sample_rate) -> suggestion``; a
            :class:`Corrections` (or something holding one) can be applied.
        sample_rate: of the mix.
        window_s: how much of the latest mix each analysis sees.
        auto_apply: turn each suggestion into master settings (``apply_corrections`` on the
            settings the user chose last) and hand them to ``apply``.
        apply: called with the new settings (by the session: queued to the next block).

    ``job()`` is the periodic inference-tier work; counters and the last suggestion are read
    from any thread.
    """

    def __init__(
        self,
        analyse: Analyse,
        *,
        sample_rate: int,
        window_s: float = 4.0,
        auto_apply: bool = False,
        apply: Callable[[ChainSettings], None] | None = None,
    ) -> None:
        if not callable(analyse):
            raise ConfigError(f"assistant: expected a callable, got {type(analyse).__name__}")
        if not window_s > 0:
            raise ConfigError(f"window_s: expected a positive number of seconds, got {window_s!r}")
        self.analyse = analyse
        self.sample_rate = sample_rate
        self.window_frames = max(round(window_s * sample_rate), 1)
        self.auto_apply = auto_apply
        self._apply = apply
        # Room for a window plus two seconds of blocks written while a worker copies it.
        self.history = MixHistory(self.window_frames + 2 * sample_rate)
        self.base_settings: ChainSettings | None = None
        self.analyses = 0
        self.failures = 0
        self.applied = 0
        self.last_suggestion: Any = None
        self.last_analysis_ms: float | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """One analysis of quiet noise before playing: imports and model loading happen now,
        not on a worker while blocks are due."""
        noise = np.random.default_rng(0).normal(scale=0.01, size=(self.window_frames, 2))
        self.analyse(noise.astype(np.float32), self.sample_rate)

    def job(self) -> None:
        """Analyse the latest window of the mix (on an inference worker) and deliver."""
        window = self.history.latest(self.window_frames)
        if window is None:
            return  # not enough audio yet
        started = time.perf_counter()
        try:
            suggestion = self.analyse(window, self.sample_rate)
        except Exception as error:
            with self._lock:
                self.failures += 1
                first = self.failures == 1
            if first:
                logger.warning(
                    "assistant analysis failed (%s: %s); playback goes on, further failures are"
                    " counted",
                    type(error).__name__,
                    error,
                )
            return
        elapsed_ms = (time.perf_counter() - started) * 1e3
        with self._lock:
            self.analyses += 1
            self.last_suggestion = suggestion
            self.last_analysis_ms = elapsed_ms
        corrections = as_corrections(suggestion)
        base, apply = self.base_settings, self._apply
        if self.auto_apply and corrections is not None and base is not None and apply is not None:
            apply(apply_corrections(base, corrections))
            with self._lock:
                self.applied += 1

    def __repr__(self) -> str:
        return (
            f"LiveAssistant(window_frames={self.window_frames}, auto_apply={self.auto_apply},"
            f" analyses={self.analyses})"
        )
