"""Flow in real time: N tracks, each through its own strip, into the five-pillar master, played.

>>> from zen.audio.realtime import play
>>> report = play(["drums.flac", "bass.flac"], device="null", seconds=10)  # doctest: +SKIP
>>> report.xruns, report.p99_block_ms                                        # doctest: +SKIP
(0, 1.9)

The parts, each in its own module:

- :mod:`~zen.audio.realtime.sources`: :class:`ArraySource`, :class:`FileSource` (read fully or
  streamed from disk; other sample rates resampled at load);
- :mod:`~zen.audio.realtime.mixer`: :class:`Track`, :class:`Mixer` (channel strips, latency
  compensation, smoothed gain/pan/mute/solo, the master :class:`~zen.audio.MasterChain`);
- :mod:`~zen.audio.realtime.outputs`: :class:`DeviceOutput` (sounddevice), :class:`NullOutput`
  (a device modelled on the clock), :class:`FileOutput`;
- :mod:`~zen.audio.realtime.analysis`: the assistant on the inference tier;
- :mod:`~zen.audio.realtime.session`: :class:`Session`, which runs it all on the runtime's
  :class:`~zen.runtime.Scheduler` and reports blocks, xruns, block times and the trace.
"""

from zen.audio.realtime.analysis import LiveAssistant, MixHistory, load_analysis
from zen.audio.realtime.mixer import PILLARS, STRIP_PILLARS, ChannelStrip, Mixer, Track, pan_gains
from zen.audio.realtime.outputs import (
    DeviceOutput,
    FileOutput,
    NullOutput,
    Output,
    StreamFormat,
    resolve_output,
)
from zen.audio.realtime.play import play
from zen.audio.realtime.session import PlaybackReport, Session, SessionConfig
from zen.audio.realtime.sources import ArraySource, FileSource, Source, resample

__all__ = [
    "PILLARS",
    "STRIP_PILLARS",
    "ArraySource",
    "ChannelStrip",
    "DeviceOutput",
    "FileOutput",
    "FileSource",
    "LiveAssistant",
    "MixHistory",
    "Mixer",
    "NullOutput",
    "Output",
    "PlaybackReport",
    "Session",
    "SessionConfig",
    "Source",
    "StreamFormat",
    "Track",
    "load_analysis",
    "pan_gains",
    "play",
    "resample",
    "resolve_output",
]
