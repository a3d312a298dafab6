"""``play``: files in, a session out — what ``zen flow play`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zen.audio.presets import preset as find_preset
from zen.audio.realtime.mixer import Track
from zen.audio.realtime.outputs import NullOutput, resolve_output
from zen.audio.realtime.session import PlaybackReport, Session, SessionConfig
from zen.audio.realtime.sources import FileSource
from zen.errors import ConfigError
from zen.runtime.clock import VirtualClock


def play(
    paths: Sequence[str | Path],
    *,
    block_size: int = 512,
    seconds: float | None = None,
    device: str | None = None,
    trace: str | Path | None = None,
    assistant: bool = True,
    auto_apply: bool = False,
    preset: str = "transparent",
    fast: bool = False,
) -> PlaybackReport:
    """Play audio files as the tracks of one session through a master chain; the report.

    Args:
        paths: WAV, FLAC or OGG files, mono or stereo, one track each (files longer than
            :data:`~zen.audio.realtime.sources.STREAM_ABOVE_S` are streamed; other rates are
            resampled to the first file's).
        block_size: frames per block.
        seconds: how much to play (default: to the end of the longest file).
        device: ``None`` for the default sound device (the null device when there is none),
            ``"null"``, ``"file:PATH"`` or a device name.
        trace: write the scheduler's trace here.
        assistant: run the installed assistant on the mix (and say so when it is missing).
        auto_apply: apply the assistant's corrections to the master while playing.
        preset: the master chain's preset.
        fast: render as fast as the DSP allows (virtual clock; null or file output only).
    """
    if not paths:
        raise ConfigError("tracks: expected at least one audio file")
    tracks = []
    taken: set[str] = set()
    for path in paths:
        source = FileSource(path)
        name, copy = source.name, 2
        while name in taken:  # the same file name twice: keep the tracks apart
            name, copy = f"{source.name} ({copy})", copy + 1
        taken.add(name)
        tracks.append(Track(source, name=name))
    output = resolve_output(device)
    clock = None
    if fast:
        if device is None:
            output = NullOutput()
        elif not isinstance(output, NullOutput):
            raise ConfigError(
                "fast: rendering faster than real time works with the null or a file output, not"
                f" a sound device ({device!r}); use --device null or file:PATH"
            )
        clock = VirtualClock()
    session = Session(
        tracks,
        master=find_preset(preset),
        output=output,
        assistant=assistant,
        config=SessionConfig(block_size=block_size, auto_apply=auto_apply),
        clock=clock,
    )
    return session.run(seconds, trace=trace)
