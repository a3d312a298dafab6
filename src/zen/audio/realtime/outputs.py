"""Where the master goes: a sound device, a null device paced by the clock, or a file.

Every output is fed one block at a time by the real-time task (``write``) and says how many
of its periods it had to fill with silence because that block was not there yet (an
*underrun*: the listener hears a gap). A sound device pulls from a ring buffer in its own
callback; the null device *models* one on the session's clock — it consumes one block every
``block_size / sample_rate`` seconds, starting ``buffer_blocks`` periods after the first block —
so tests and benchmarks see the same underruns a device would, without a sound card. A file
output is a null device that also records, and writes the file atomically at the end.

:func:`resolve_output` turns the CLI's ``--device`` value into an output.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zen.audio.io import output_format, write_audio
from zen.errors import BackendUnavailable, ConfigError
from zen.runtime.clock import Clock

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamFormat:
    """What an output is opened for.

    Attributes:
        sample_rate: in Hz.
        channels: 2 (the master is stereo).
        block_size: frames per ``write``.
        lead_frames: frames at the start that are the engine's latency, not programme (a file
            drops them so that it lines up with the sources).
        programme_frames: frames of programme the session will play (``None``: unknown).
    """

    sample_rate: int
    channels: int
    block_size: int
    lead_frames: int = 0
    programme_frames: int | None = None

    @property
    def period_s(self) -> float:
        return self.block_size / self.sample_rate


class Output(ABC):
    """A place the master stream goes; ``open``, ``write`` per block, ``close``.

    Attributes:
        underruns: periods the output filled with silence because the next block was late.
    """

    underruns: int = 0
    #: Fall back to the null device when this output cannot be opened (the default device).
    fallback: bool = False

    @property
    @abstractmethod
    def name(self) -> str:
        """Shown in reports: ``"null"``, ``"file:<path>"`` or ``"device:<name>"``."""

    @abstractmethod
    def open(self, stream: StreamFormat, clock: Clock) -> None:
        """Get ready for a stream (not real-time)."""

    @abstractmethod
    def write(self, block: np.ndarray) -> int:
        """Queue one block (block_size, channels); return the periods played as silence since
        the previous block because this one was not there yet. Real-time safe."""

    def blocks_wanted(self) -> int:
        """Blocks the real-time task should make this period: 1, or 0 / 2 to follow a device
        whose clock drifts from the session's."""
        return 1

    @property
    def latency_s(self) -> float:
        """Time from a block's write to when it is heard."""
        return 0.0

    def close(self, complete: bool = True) -> None:  # noqa: B027  (optional: most have nothing to do)
        """End the stream (``complete`` False: the session was interrupted)."""


class NullOutput(Output):
    """Discards the audio, consuming it as a device would: one block per period, on the clock.

    Args:
        buffer_blocks: blocks queued ahead, i.e. the device starts playing this many periods
            after the first block arrives (2 gives a late block one period of grace).

    The device is modelled, not run: at each write, every consumption instant
    :math:`t_0 + (j + B)\\,T` that has passed takes the next queued block or, if none is
    queued, plays silence (an underrun; the stream then resumes one period later). Exact on a
    virtual clock, paced by the real one.
    """

    def __init__(self, buffer_blocks: int = 2) -> None:
        if isinstance(buffer_blocks, bool) or not isinstance(buffer_blocks, int):
            raise ConfigError(f"buffer_blocks: expected an integer >= 1, got {buffer_blocks!r}")
        if buffer_blocks < 1:
            raise ConfigError(f"buffer_blocks: expected an integer >= 1, got {buffer_blocks!r}")
        self.buffer_blocks = buffer_blocks
        self.underruns = 0
        #: Blocks written and blocks the modelled device has played.
        self.written = 0
        self.played = 0
        self._clock: Clock | None = None
        self._period_s = 0.0
        self._start_s: float | None = None
        self._instant = 0

    @property
    def name(self) -> str:
        return "null"

    def open(self, stream: StreamFormat, clock: Clock) -> None:
        self._clock = clock
        self._period_s = stream.period_s
        self._start_s = None
        self._instant = 0
        self.written = self.played = self.underruns = 0

    def write(self, block: np.ndarray) -> int:
        assert self._clock is not None, "open() the output first"
        now = self._clock.now()
        if self._start_s is None:
            self._start_s = now
        silent = self._consume_until(now)
        self.written += 1
        return silent

    def _consume_until(self, now: float) -> int:
        assert self._start_s is not None
        before = self.underruns
        while self._start_s + (self._instant + self.buffer_blocks) * self._period_s <= now:
            if self.written > self.played:
                self.played += 1
            else:
                self.underruns += 1
            self._instant += 1
        return self.underruns - before

    @property
    def latency_s(self) -> float:
        return self.buffer_blocks * self._period_s

    def __repr__(self) -> str:
        return f"NullOutput(buffer_blocks={self.buffer_blocks}, underruns={self.underruns})"


class FileOutput(NullOutput):
    """Records the master and writes it to ``path`` at the end (atomically), aligned with the
    sources: the engine's latency is dropped from the start, the file is as long as the
    programme played. Paced like :class:`NullOutput`, so a real-time render counts underruns.

    Args:
        path: ``.wav`` or ``.flac`` (24-bit PCM) or ``.ogg`` (Vorbis).
        buffer_blocks: see :class:`NullOutput`.

    After ``close``, ``audio_`` holds what was written (frames, channels).
    """

    def __init__(self, path: str | Path, buffer_blocks: int = 2) -> None:
        super().__init__(buffer_blocks)
        output_format(path)  # an unsupported extension fails now, not after the render
        self.path = Path(path)
        self._recording = np.zeros((0, 2))
        self._recorded = 0
        self._stream: StreamFormat | None = None

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def open(self, stream: StreamFormat, clock: Clock) -> None:
        super().open(stream, clock)
        self._stream = stream
        frames = (stream.programme_frames or 30 * stream.sample_rate) + stream.lead_frames
        blocks = -(-frames // stream.block_size)
        self._recording = np.zeros((blocks * stream.block_size, stream.channels))
        self._recorded = 0

    def write(self, block: np.ndarray) -> int:
        end = self._recorded + len(block)
        if end > len(self._recording):  # only when the length was not known up front
            grown = np.zeros((2 * end, self._recording.shape[1]))
            grown[: self._recorded] = self._recording[: self._recorded]
            self._recording = grown
        self._recording[self._recorded : end] = block
        self._recorded = end
        return super().write(block)

    def close(self, complete: bool = True) -> None:
        stream = self._stream
        if stream is None:
            return
        self._stream = None
        audio = self._recording[stream.lead_frames : self._recorded]
        if stream.programme_frames is not None:
            audio = audio[: stream.programme_frames]
        self.audio_ = np.ascontiguousarray(audio)
        self._recording = np.zeros((0, 2))
        write_audio(self.path, self.audio_, stream.sample_rate)

    def __repr__(self) -> str:
        return f"FileOutput({str(self.path)!r}, underruns={self.underruns})"


def _sounddevice() -> Any:
    try:
        import sounddevice
    except ImportError:
        raise BackendUnavailable(
            "sound device: the sounddevice package is not installed (pip install"
            " 'zen-neural[audio]')"
        ) from None
    except OSError as error:  # the PortAudio library itself is missing
        raise BackendUnavailable(
            f"sound device: {error} (install PortAudio, e.g. Debian's libportaudio2)"
        ) from None
    return sounddevice


class DeviceOutput(Output):
    """A sound device through ``sounddevice`` (PortAudio), fed through a ring buffer.

    Args:
        device: a device name (or part of one) or index; ``None`` for the default output.
        buffer_blocks: blocks of silence queued before the first block, i.e. the output's
            latency in periods; the ring holds two more for the drift between clocks.
        fallback: when the device cannot be opened, play to the null device instead (and log
            why once) rather than fail; what the default device does.

    The device's callback (PortAudio's thread) copies one block out of the ring, or, if the
    ring runs dry, what there is followed by silence (an underrun). The session's period and the
    device's clock drift apart slowly; :meth:`blocks_wanted` asks for no block when the ring is
    full and for two when it is about to run dry, which keeps the fill level in range.
    """

    def __init__(
        self, device: str | int | None = None, *, buffer_blocks: int = 3, fallback: bool = False
    ) -> None:
        if isinstance(buffer_blocks, bool) or not isinstance(buffer_blocks, int):
            raise ConfigError(f"buffer_blocks: expected an integer >= 1, got {buffer_blocks!r}")
        if buffer_blocks < 1:
            raise ConfigError(f"buffer_blocks: expected an integer >= 1, got {buffer_blocks!r}")
        self.device = device
        self.buffer_blocks = buffer_blocks
        self.fallback = fallback
        self.underruns = 0
        self._device_name = "default" if device is None else str(device)
        self._stream: Any = None
        self._ring = np.zeros((0, 2), dtype=np.float32)
        self._block = 0
        # Frames written by the real-time task and read by the callback since the start.
        self._written = 0
        self._read = 0
        self._reported = 0
        self._period_s = 0.0

    @property
    def name(self) -> str:
        return f"device:{self._device_name}"

    def open(self, stream: StreamFormat, clock: Clock) -> None:
        sounddevice = _sounddevice()
        try:
            info = sounddevice.query_devices(self.device, "output")
            sounddevice.check_output_settings(
                device=self.device,
                channels=stream.channels,
                samplerate=stream.sample_rate,
                dtype="float32",
            )
        except (ValueError, sounddevice.PortAudioError) as error:
            if self.device is None:
                raise BackendUnavailable(f"no default output device ({error})") from None
            raise BackendUnavailable(f"sound device {self._device_name!r}: {error}") from None
        self._device_name = str(info.get("name", self._device_name))
        self._block = stream.block_size
        self._period_s = stream.period_s
        self._ring = np.zeros(((self.buffer_blocks + 2) * self._block, stream.channels), np.float32)
        self._read = self._reported = self.underruns = 0
        self._written = self.buffer_blocks * self._block  # the lead-in is silence
        try:
            self._stream = sounddevice.OutputStream(
                samplerate=stream.sample_rate,
                blocksize=self._block,
                device=self.device,
                channels=stream.channels,
                dtype="float32",
                callback=self._callback,
            )
            self._stream.start()
        except sounddevice.PortAudioError as error:
            self._stream = None
            raise BackendUnavailable(f"sound device {self._device_name!r}: {error}") from None

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        """PortAudio's thread: the next ``frames`` out of the ring, silence for what is missing."""
        available = self._written - self._read
        count = min(frames, available)
        capacity = len(self._ring)
        start = self._read % capacity
        first = min(count, capacity - start)
        outdata[:first] = self._ring[start : start + first]
        outdata[first:count] = self._ring[: count - first]
        if count < frames:
            outdata[count:] = 0.0
            self.underruns += 1
        elif status and getattr(status, "output_underflow", False):
            self.underruns += 1  # the device ran dry before our callback got to run
        self._read += count

    def blocks_wanted(self) -> int:
        fill = self._written - self._read
        if fill + self._block > len(self._ring):
            return 0
        return 2 if fill < self._block else 1

    def write(self, block: np.ndarray) -> int:
        count = len(block)
        capacity = len(self._ring)
        if self._written + count - self._read > capacity:
            return 0  # full: blocks_wanted() said so; a caller that ignores it loses the block
        start = self._written % capacity
        first = min(count, capacity - start)
        self._ring[start : start + first] = block[:first]
        self._ring[: count - first] = block[first:]
        self._written += count
        silent = self.underruns - self._reported
        self._reported += silent
        return silent

    @property
    def latency_s(self) -> float:
        return self.buffer_blocks * self._period_s

    def close(self, complete: bool = True) -> None:
        stream, self._stream = self._stream, None
        if stream is None:
            return
        if complete:
            # Let the device play out what is queued (bounded: the ring holds a few blocks).
            deadline = time.monotonic() + (len(self._ring) / self._block + 2) * self._period_s
            while self._written > self._read and time.monotonic() < deadline:
                time.sleep(self._period_s / 2)
        stream.stop()
        stream.close()

    def __repr__(self) -> str:
        return f"DeviceOutput({self._device_name!r}, underruns={self.underruns})"


def resolve_output(device: Output | str | None) -> Output:
    """The output for a ``--device`` value.

    ``None`` or ``"default"``: the default sound device, falling back to the null device when
    there is none (or no PortAudio); ``"null"``: :class:`NullOutput`; ``"file:PATH"``:
    :class:`FileOutput`; anything else names a sound device (an error if it cannot be opened).

    >>> resolve_output("null").name, resolve_output("file:mix.wav").name
    ('null', 'file:mix.wav')
    """
    if isinstance(device, Output):
        return device
    if device is None or device == "default":
        return DeviceOutput(None, fallback=True)
    if not isinstance(device, str) or not device.strip():
        raise ConfigError(f"device: expected a device name, 'null' or 'file:PATH', got {device!r}")
    if device == "null":
        return NullOutput()
    if device.startswith("file:"):
        path = device[len("file:") :]
        if not path:
            raise ConfigError("device: 'file:' needs a path, e.g. file:mix.wav")
        return FileOutput(path)
    return DeviceOutput(int(device) if device.isdigit() else device)
