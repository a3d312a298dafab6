"""The mixer: N tracks through their channel strips into a stereo bus and the master chain.

Per block and track: the source fills a preallocated buffer, the track's strip (a subset of
the five pillars) processes it, a delay line compensates the strips' different latencies (so
every track reaches the bus aligned, as plug-in delay compensation does in a DAW), and the
track's gain and pan, each a :class:`~zen.audio.pillars._stage.SmoothedValue`, scale it into the
bus. The bus goes through the master :class:`~zen.audio.MasterChain`.

Gain, pan, mute and solo glide over the chain's smoothing time, and the stages glide their own
parameters, so nothing a user changes while playing makes a click.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from zen.audio.chain import MasterChain
from zen.audio.pillars._stage import SmoothedValue, Stage
from zen.audio.pillars.compressor import Compressor
from zen.audio.pillars.eq import Equalizer
from zen.audio.pillars.limiter import Limiter
from zen.audio.pillars.saturator import Saturator
from zen.audio.pillars.stereo import StereoImager
from zen.audio.presets import ChainSettings
from zen.audio.realtime.sources import Source
from zen.errors import ConfigError

#: The five pillars by their ``ChainSettings`` field, in the master chain's order.
PILLARS = ("eq", "compressor", "saturator", "stereo", "limiter")
#: What a track's strip runs by default: tone and dynamics, like a console channel.
STRIP_PILLARS = ("eq", "compressor")
_STAGES: dict[str, type[Stage[Any]]] = {
    "eq": Equalizer,
    "compressor": Compressor,
    "saturator": Saturator,
    "stereo": StereoImager,
    "limiter": Limiter,
}
MIN_GAIN_DB = -120.0
MAX_GAIN_DB = 24.0


def pan_gains(pan: float, channels: int) -> tuple[float, float]:
    r"""Left and right gains of a track at ``pan`` (-1 left ... +1 right).

    A mono track is panned at constant power, :math:`\theta = (p + 1)\pi/4`, gains
    :math:`(\cos\theta, \sin\theta)` (-3 dB each in the centre). A stereo track is balanced:
    the side it moves away from is turned down, :math:`\cos(\max(\pm p, 0)\,\pi/2)`, and the
    centre leaves it unchanged.

    >>> [round(g, 4) for g in pan_gains(0.0, 1)], pan_gains(0.0, 2), pan_gains(-1.0, 2)[0]
    ([0.7071, 0.7071], (1.0, 1.0), 1.0)
    """
    if channels == 1:
        theta = (pan + 1.0) * math.pi / 4.0
        return math.cos(theta), math.sin(theta)
    return math.cos(max(pan, 0.0) * math.pi / 2.0), math.cos(max(-pan, 0.0) * math.pi / 2.0)


@dataclass(frozen=True)
class Track:
    """One track of a session: what it plays and how it is mixed.

    Args:
        source: its audio (:class:`~zen.audio.realtime.sources.ArraySource` or
            :class:`~zen.audio.realtime.sources.FileSource`).
        name: shown in reports and used by ``Session.set_track`` (default: the source's).
        gain_db: fader, -120 to +24 dB.
        pan: -1 (left) to +1 (right); see :func:`pan_gains`.
        mute, solo: as on a console; when any track is soloed only soloed tracks sound.
        settings: the track's chain; ``None`` for no processing (gain and pan only).
        pillars: which stages of ``settings`` the strip runs (default tone and dynamics).
    """

    source: Source
    name: str = ""
    gain_db: float = 0.0
    pan: float = 0.0
    mute: bool = False
    solo: bool = False
    settings: ChainSettings | None = None
    pillars: tuple[str, ...] = STRIP_PILLARS

    def __post_init__(self) -> None:
        if not isinstance(self.source, Source):
            raise ConfigError(
                f"source: expected an ArraySource or FileSource, got {type(self.source).__name__}"
            )
        if not self.name:
            object.__setattr__(self, "name", self.source.name)
        check_mix(self.name, self.gain_db, self.pan)
        if self.settings is not None and not isinstance(self.settings, ChainSettings):
            raise ConfigError(
                f"track {self.name}: settings: expected ChainSettings or None, got"
                f" {type(self.settings).__name__}"
            )
        pillars = tuple(self.pillars)
        unknown = [p for p in pillars if p not in PILLARS]
        if unknown:
            raise ConfigError(
                f"track {self.name}: pillars: unknown {unknown}; expected some of {list(PILLARS)}"
            )
        object.__setattr__(self, "pillars", pillars)


def check_mix(name: str, gain_db: float | None, pan: float | None) -> None:
    """Raise ConfigError unless ``gain_db`` and ``pan`` (when given) are in range."""
    if gain_db is not None and not (
        isinstance(gain_db, (int, float)) and MIN_GAIN_DB <= gain_db <= MAX_GAIN_DB
    ):
        raise ConfigError(
            f"track {name}: gain_db: expected {MIN_GAIN_DB:g} to +{MAX_GAIN_DB:g} dB, got"
            f" {gain_db!r}"
        )
    if pan is not None and not (isinstance(pan, (int, float)) and -1.0 <= pan <= 1.0):
        raise ConfigError(f"track {name}: pan: expected -1 (left) to +1 (right), got {pan!r}")


class ChannelStrip:
    """The stages of a track's chain that ``pillars`` names, in the master chain's order."""

    def __init__(
        self,
        settings: ChainSettings,
        pillars: Sequence[str],
        *,
        sample_rate: int,
        channels: int,
        native: bool | None = None,
        smoothing_ms: float = 20.0,
    ) -> None:
        self.pillars = tuple(p for p in PILLARS if p in pillars)
        self.stages: tuple[Stage[Any], ...] = tuple(
            _STAGES[p](
                getattr(settings, p),
                sample_rate=sample_rate,
                channels=channels,
                native=native,
                smoothing_ms=smoothing_ms,
            )
            for p in self.pillars
        )

    @property
    def latency_samples(self) -> int:
        return sum(stage.latency_samples for stage in self.stages)

    def process(self, block: np.ndarray) -> np.ndarray:
        for stage in self.stages:
            block = stage.process(block)
        return block

    def set_settings(self, settings: ChainSettings) -> None:
        """New parameters while playing; they glide (see the stages)."""
        for pillar, stage in zip(self.pillars, self.stages, strict=True):
            stage.set_params(getattr(settings, pillar))

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()

    def __repr__(self) -> str:
        return f"ChannelStrip({', '.join(self.pillars) or 'empty'})"


class _DelayLine:
    """A fixed delay of ``delay`` frames for blocks of up to ``block_size`` frames."""

    def __init__(self, delay: int, block_size: int, channels: int) -> None:
        self.delay = delay
        self._buffer = np.zeros((delay + block_size, channels))
        self._out = np.zeros((block_size, channels))

    def process(self, block: np.ndarray) -> np.ndarray:
        frames, delay = len(block), self.delay
        self._buffer[delay : delay + frames] = block
        out = self._out[:frames]
        out[...] = self._buffer[:frames]
        self._buffer[:delay] = self._buffer[frames : frames + delay]
        return out

    def reset(self) -> None:
        self._buffer[:] = 0.0


class _Channel:
    """A track's live state in the mixer (owned by the real-time thread)."""

    def __init__(self, track: Track, mixer: Mixer) -> None:
        self.track = track
        source = track.source
        self.channels = source.channels
        self.input = np.zeros((mixer.block_size, self.channels))
        self.strip = (
            None
            if track.settings is None
            else ChannelStrip(
                track.settings,
                track.pillars,
                sample_rate=mixer.sample_rate,
                channels=self.channels,
                native=mixer.native,
                smoothing_ms=mixer.smoothing_ms,
            )
        )
        self.delay: _DelayLine | None = None
        ramp = round(mixer.smoothing_ms * mixer.sample_rate / 1000.0)
        self.left = SmoothedValue(0.0, ramp)
        self.right = SmoothedValue(0.0, ramp)
        self.gains = np.zeros(2)  # steady left and right gains, broadcast over a block
        self.scratch = np.zeros(mixer.block_size)
        self.stereo_scratch = np.zeros((mixer.block_size, 2))

    @property
    def latency_samples(self) -> int:
        return 0 if self.strip is None else self.strip.latency_samples

    def mix_into(self, bus: np.ndarray) -> None:
        frames = len(bus)
        got = self.track.source.read(self.input)
        if got < frames:
            self.input[got:] = 0.0
        block = self.input if self.strip is None else self.strip.process(self.input)
        if self.delay is not None:
            block = self.delay.process(block)
        left, right = self.left.next(frames), self.right.next(frames)
        if isinstance(left, float) and isinstance(right, float):
            # Steady gains (the usual case): one broadcast multiply and one add for both sides.
            if left == 0.0 and right == 0.0:
                return
            self.gains[0], self.gains[1] = left, right
            np.multiply(block, self.gains, out=self.stereo_scratch)
            bus += self.stereo_scratch
            return
        right_channel = 0 if self.channels == 1 else 1
        for side, value, column in ((0, left, 0), (1, right, right_channel)):
            np.multiply(block[:, column], value, out=self.scratch)
            bus[:, side] += self.scratch


class Mixer:
    """N tracks into a stereo bus through the master chain, one block at a time.

    Args:
        tracks: the tracks; their sources are prepared here at ``sample_rate``.
        sample_rate: the session's rate in Hz (sources at other rates are resampled).
        block_size: frames per block.
        master: the master chain's settings (default: the ``transparent`` preset).
        native: DSP path of every stage (None: ``ZEN_AUDIO_NATIVE``).
        smoothing_ms: glide time of every parameter change.

    ``process_block()`` is the real-time work; ``set_track`` and ``set_master`` change
    parameters and must run on the same thread (a session queues them to block boundaries).
    The output lags the sources by :attr:`latency_samples`.

    Example:
        >>> from zen.audio.realtime import ArraySource, Mixer, Track
        >>> tone = np.sin(np.arange(4410) / 10.0) * 0.1
        >>> mixer = Mixer([Track(ArraySource(tone, 44100))], sample_rate=44100, block_size=256)
        >>> mixer.process_block().shape
        (256, 2)
    """

    def __init__(
        self,
        tracks: Sequence[Track],
        *,
        sample_rate: int,
        block_size: int = 512,
        master: ChainSettings | None = None,
        native: bool | None = None,
        smoothing_ms: float = 20.0,
    ) -> None:
        if not tracks:
            raise ConfigError("tracks: expected at least one track")
        names = [track.name for track in tracks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ConfigError(
                f"tracks: names must be unique, {duplicates} appear more than once; give the"
                " tracks a name"
            )
        if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 16:
            raise ConfigError(f"block_size: expected an integer >= 16 frames, got {block_size!r}")
        self.sample_rate = int(sample_rate)
        self.block_size = block_size
        self.native = native
        self.smoothing_ms = float(smoothing_ms)
        self.master = MasterChain(
            master, sample_rate=self.sample_rate, channels=2, native=native,
            smoothing_ms=smoothing_ms,
        )  # fmt: skip
        for track in tracks:
            track.source.prepare(self.sample_rate)
        self._channels = [_Channel(track, self) for track in tracks]
        self.bus_latency_samples = max(channel.latency_samples for channel in self._channels)
        for channel in self._channels:
            delay = self.bus_latency_samples - channel.latency_samples
            if delay:
                channel.delay = _DelayLine(delay, block_size, channel.channels)
        #: The mix of the last block, before the master chain (what the assistant listens to).
        self.bus = np.zeros((block_size, 2))
        self._update_gains(immediately=True)

    # -- the real-time work ----------------------------------------------------------------
    def process_block(self) -> np.ndarray:
        """Mix the next block of every track and run it through the master chain."""
        bus = self.bus
        bus[:] = 0.0
        for channel in self._channels:
            channel.mix_into(bus)
        return self.master.process(bus)

    # -- parameters (on the thread that calls process_block) --------------------------------
    @property
    def tracks(self) -> list[Track]:
        """The tracks as they are now (with the latest gain, pan, mute, solo and settings)."""
        return [channel.track for channel in self._channels]

    def index(self, track: int | str) -> int:
        """Position of a track given by index or name."""
        if isinstance(track, str):
            for index, channel in enumerate(self._channels):
                if channel.track.name == track:
                    return index
            raise ConfigError(
                f"track: no track named {track!r}; the tracks are"
                f" {[channel.track.name for channel in self._channels]}"
            )
        if isinstance(track, bool) or not isinstance(track, int):
            raise ConfigError(f"track: expected an index or a name, got {track!r}")
        if not -len(self._channels) <= track < len(self._channels):
            raise ConfigError(
                f"track: index {track} is out of range for {len(self._channels)} tracks"
            )
        return track % len(self._channels)

    def set_track(self, track: int | str, **changes: Any) -> None:
        """Change ``gain_db``, ``pan``, ``mute``, ``solo`` or ``settings`` of one track.

        Gains and pan glide; new settings glide in the stages. A track built without settings
        has no strip, and stages cannot be added while playing (they would change the latency).
        """
        channel = self._channels[self.index(track)]
        unknown = set(changes) - {"gain_db", "pan", "mute", "solo", "settings"}
        if unknown:
            raise ConfigError(f"set_track: unknown parameters {sorted(unknown)}")
        updated = dataclasses.replace(channel.track, **changes)
        if "settings" in changes:
            if channel.strip is None:
                raise ConfigError(
                    f"track {channel.track.name}: it was built without settings, so it has no"
                    " strip; give it settings (even neutral ones) when the session is built"
                )
            if updated.settings is None:
                raise ConfigError(f"track {channel.track.name}: settings cannot be removed")
            channel.strip.set_settings(updated.settings)
        channel.track = updated
        self._update_gains()

    def set_master(self, settings: ChainSettings) -> None:
        """New master settings; they glide (see :meth:`MasterChain.set_settings`)."""
        self.master.set_settings(settings)

    def _update_gains(self, immediately: bool = False) -> None:
        soloing = any(channel.track.solo for channel in self._channels)
        for channel in self._channels:
            track = channel.track
            audible = not track.mute and (track.solo or not soloing)
            gain = 10.0 ** (track.gain_db / 20.0) if audible else 0.0
            left, right = pan_gains(track.pan, channel.channels)
            channel.left.set_target(gain * left, immediately=immediately)
            channel.right.set_target(gain * right, immediately=immediately)

    # -- set-up ------------------------------------------------------------------------------
    @property
    def latency_samples(self) -> int:
        """How far the master output lags the sources (strips' compensation plus the master)."""
        return self.bus_latency_samples + self.master.latency_samples

    @property
    def frames(self) -> int:
        """Length of the longest track, in frames at the session rate."""
        return max(channel.track.source.frames for channel in self._channels)

    @property
    def loops(self) -> bool:
        """True when some track loops (the mix never ends by itself)."""
        return any(channel.track.source.loop for channel in self._channels)

    @property
    def sources(self) -> list[Source]:
        return [channel.track.source for channel in self._channels]

    def warm_up(self) -> None:
        """Compile or load every DSP kernel now, not in the first real block; state is kept."""
        for channel in self._channels:
            if channel.strip is not None:
                for stage in channel.strip.stages:
                    _warm_stage(stage, channel.channels)
        for stage in self.master.stages:
            _warm_stage(stage, 2)

    def reset(self) -> None:
        """Back to the start: sources rewound, every filter, delay and glide cleared."""
        for channel in self._channels:
            channel.track.source.rewind()
            if channel.strip is not None:
                channel.strip.reset()
            if channel.delay is not None:
                channel.delay.reset()
        self.master.reset()
        self._update_gains(immediately=True)

    def __repr__(self) -> str:
        return (
            f"Mixer({len(self._channels)} tracks, sample_rate={self.sample_rate},"
            f" block_size={self.block_size}, latency_samples={self.latency_samples})"
        )


def _warm_stage(stage: Stage[Any], channels: int) -> None:
    # A throw-away copy of the stage: warming the real one would disturb its state.
    twin = type(stage)(
        stage.params,
        sample_rate=stage.sample_rate,
        channels=channels,
        native=stage.native,
        smoothing_ms=stage.smoothing_ms,
    )
    twin.process(np.zeros((64, channels)))
