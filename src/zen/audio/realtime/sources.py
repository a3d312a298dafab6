"""Where a track's audio comes from: an array in memory, or a file read fully or streamed.

A :class:`Source` is prepared once, off the real-time thread, at the session's sample rate
(resampled there with :func:`scipy.signal.resample_poly` when the rates differ, and logged), and
then read block by block on the real-time thread with :meth:`Source.read`, which copies into a
buffer the mixer owns and never allocates.

A streamed :class:`FileSource` keeps a few seconds of the file in a ring buffer; the session tops
it up from the background tier (a worker thread; libsndfile releases the GIL while it reads), so
the real-time thread never touches the disk.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from zen.audio.io import _soundfile, read_audio
from zen.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

#: A streamed file keeps this much audio read ahead (seconds).
STREAM_BUFFER_S = 4.0
#: With ``stream=None``, files longer than this (seconds) are streamed, shorter ones read.
STREAM_ABOVE_S = 120.0


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """``audio`` (frames, channels) from ``from_rate`` to ``to_rate`` Hz by a polyphase filter.

    >>> resample(np.ones((441, 1)), 44100, 48000).shape
    (480, 1)
    """
    if from_rate == to_rate:
        return audio
    common = math.gcd(from_rate, to_rate)
    up, down = to_rate // common, from_rate // common
    return np.ascontiguousarray(signal.resample_poly(audio, up, down, axis=0))


class Source(ABC):
    """Audio one track plays: ``prepare(sample_rate)`` once, then ``read(out)`` per block.

    Attributes:
        name: shown in reports and errors.
        channels: 1 or 2.
        native_rate: the rate the audio came in, in Hz.
        loop: start again from the beginning at the end.
        starved: blocks a streamed source could not fill in time (the rest played as silence).
    """

    name: str
    channels: int
    native_rate: int
    loop: bool = False
    starved: int = 0

    @property
    @abstractmethod
    def frames(self) -> int:
        """Length of the audio at the prepared rate (one pass, even when looping)."""

    @property
    def streaming(self) -> bool:
        """True when ``refill`` must be called off the real-time thread to keep it fed."""
        return False

    @abstractmethod
    def prepare(self, sample_rate: int) -> None:
        """Get ready to play at ``sample_rate`` (read, resample, fill buffers); not real-time."""

    @abstractmethod
    def read(self, out: np.ndarray) -> int:
        """Copy the next frames into ``out`` (frames, channels); return how many were copied.

        Fewer than ``len(out)`` means the end (or a starved stream); the rest of ``out`` is
        left as it was. Real-time safe: no allocation, no I/O.
        """

    @abstractmethod
    def rewind(self) -> None:
        """Back to the first frame (not real-time safe for streamed files)."""

    def refill(self) -> None:  # noqa: B027  (optional: only streams have work here)
        """Top up a streamed source's buffer (background work; nothing for in-memory audio)."""

    def close(self) -> None:  # noqa: B027  (optional: only streams hold a file)
        """Release files and buffers."""


def _as_audio(audio: Any, name: str) -> np.ndarray:
    data = np.asarray(audio)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] not in (1, 2):
        raise DataError(
            f"{name}: expected audio of shape (frames,) or (frames, 1 or 2 channels), got"
            f" {data.shape}"
        )
    if data.shape[0] == 0:
        raise DataError(f"{name}: has no samples")
    if not np.issubdtype(data.dtype, np.floating):
        raise DataError(f"{name}: expected floating-point samples, got dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise DataError(f"{name}: contains NaN or infinite samples")
    return np.ascontiguousarray(data, dtype=np.float64)


class ArraySource(Source):
    """Audio already in memory, shape (frames,) or (frames, channels).

    Args:
        audio: the samples, floating point.
        sample_rate: their rate in Hz.
        name: shown in reports.
        loop: play it again from the start at the end.

    >>> source = ArraySource(np.arange(6.0), sample_rate=44100)
    >>> source.prepare(44100)
    >>> out = np.zeros((4, 1)); source.read(out), out[:, 0].tolist()
    (4, [0.0, 1.0, 2.0, 3.0])
    >>> source.read(out), out[:2, 0].tolist()
    (2, [4.0, 5.0])
    """

    def __init__(
        self, audio: Any, sample_rate: int, *, name: str = "array", loop: bool = False
    ) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
            raise ConfigError(f"sample_rate: expected an integer in Hz, got {sample_rate!r}")
        if sample_rate <= 0:
            raise ConfigError(f"sample_rate: expected a positive rate in Hz, got {sample_rate}")
        self.name = name
        self._original = _as_audio(audio, name)
        self.native_rate = int(sample_rate)
        self.channels = int(self._original.shape[1])
        self.loop = bool(loop)
        self._audio = self._original
        self._position = 0

    @property
    def frames(self) -> int:
        return len(self._audio)

    @property
    def audio(self) -> np.ndarray:
        """The samples at the prepared rate (frames, channels)."""
        return self._audio

    def prepare(self, sample_rate: int) -> None:
        if sample_rate != self.native_rate:
            logger.info(
                "%s: resampled from %d Hz to the session's %d Hz at load",
                self.name,
                self.native_rate,
                sample_rate,
            )
        self._audio = resample(self._original, self.native_rate, sample_rate)
        self._position = 0

    def read(self, out: np.ndarray) -> int:
        wanted = len(out)
        done = 0
        audio = self._audio
        while done < wanted:
            if self._position >= len(audio):
                if not self.loop:
                    break
                self._position = 0
            count = min(wanted - done, len(audio) - self._position)
            out[done : done + count] = audio[self._position : self._position + count]
            self._position += count
            done += count
        return done

    def rewind(self) -> None:
        self._position = 0

    def __repr__(self) -> str:
        seconds = len(self._original) / self.native_rate
        return (
            f"ArraySource({self.name!r}, {seconds:.2f} s, {self.native_rate} Hz,"
            f" channels={self.channels}, loop={self.loop})"
        )


class FileSource(Source):
    """A WAV, FLAC or OGG file, read fully at ``prepare`` or streamed from disk.

    Args:
        path: the file (mono or stereo).
        stream: keep only ``buffer_s`` seconds in memory and read ahead off the real-time
            thread; ``None`` streams files longer than ``STREAM_ABOVE_S``. A file whose rate
            differs from the session's is read fully instead (it is resampled at load), which
            is logged.
        loop: play it again from the start at the end.
        buffer_s: read-ahead of a streamed file, in seconds.

    Raises:
        DataError: the file is missing, unreadable, or has more than two channels.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        stream: bool | None = None,
        loop: bool = False,
        buffer_s: float = STREAM_BUFFER_S,
    ) -> None:
        soundfile = _soundfile()
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise DataError(f"track {self.path}: not found")
        try:
            info = soundfile.info(str(self.path))
        except (RuntimeError, soundfile.LibsndfileError, ValueError) as error:
            raise DataError(
                f"track {self.path}: cannot read it as audio ({error}); expected WAV, FLAC or OGG"
            ) from None
        if info.channels not in (1, 2):
            raise DataError(
                f"track {self.path}: has {info.channels} channels; tracks are mono or stereo,"
                " so mix it down or split it into stereo pairs first"
            )
        if info.frames <= 0:
            raise DataError(f"track {self.path}: has no samples")
        if not buffer_s > 0:
            raise ConfigError(f"buffer_s: expected a positive number of seconds, got {buffer_s!r}")
        self.native_rate = int(info.samplerate)
        self.channels = int(info.channels)
        self.loop = bool(loop)
        duration_s = info.frames / info.samplerate
        self.stream = duration_s > STREAM_ABOVE_S if stream is None else bool(stream)
        self.buffer_s = float(buffer_s)
        self._file_frames = int(info.frames)
        self._memory: ArraySource | None = None
        self._file: Any = None
        self._ring = np.zeros((0, self.channels))
        # Frames put into / taken out of the ring since the start: one writer (refill, on a
        # worker) and one reader (read, on the real-time thread), so plain counters suffice.
        self._filled = 0
        self._taken = 0
        self._eof = False
        self._frames = self._file_frames

    @property
    def frames(self) -> int:
        return self._frames

    @property
    def streaming(self) -> bool:
        return self._file is not None

    def prepare(self, sample_rate: int) -> None:
        self.close()
        if self.stream and sample_rate == self.native_rate:
            soundfile = _soundfile()
            self._file = soundfile.SoundFile(str(self.path))
            self._ring = np.zeros((max(round(self.buffer_s * sample_rate), 1), self.channels))
            self._filled = self._taken = 0
            self._eof = False
            self._frames = self._file_frames
            self.refill()
            return
        if self.stream:
            logger.info(
                "%s: read fully instead of streamed, to resample it from %d Hz to %d Hz at load",
                self.name,
                self.native_rate,
                sample_rate,
            )
        loaded = read_audio(self.path, name="track")
        self._memory = ArraySource(loaded.audio, loaded.sample_rate, name=self.name, loop=self.loop)
        self._memory.prepare(sample_rate)
        self._frames = self._memory.frames

    def read(self, out: np.ndarray) -> int:
        if self._memory is not None:
            return self._memory.read(out)
        available = self._filled - self._taken
        count = min(len(out), available)
        capacity = len(self._ring)
        start = self._taken % capacity
        first = min(count, capacity - start)
        out[:first] = self._ring[start : start + first]
        out[first:count] = self._ring[: count - first]
        self._taken += count
        if count < len(out) and not self._eof:
            self.starved += 1
        return count

    def refill(self) -> None:
        file = self._file
        if file is None:
            return
        capacity = len(self._ring)
        while not self._eof:
            free = capacity - (self._filled - self._taken)
            if free <= 0:
                return
            start = self._filled % capacity
            count = min(free, capacity - start)
            got = file.read(count, always_2d=True, out=self._ring[start : start + count])
            self._filled += len(got)
            if len(got) < count:
                if self.loop:
                    file.seek(0)
                else:
                    self._eof = True

    def rewind(self) -> None:
        if self._memory is not None:
            self._memory.rewind()
            return
        if self._file is not None:
            self._file.seek(0)
            self._filled = self._taken = 0
            self._eof = False
            self.refill()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._memory = None

    def __repr__(self) -> str:
        how = "streamed" if self.streaming else "in memory" if self._memory else "not prepared"
        return (
            f"FileSource({str(self.path)!r}, {self.native_rate} Hz, channels={self.channels},"
            f" {how}, loop={self.loop})"
        )
