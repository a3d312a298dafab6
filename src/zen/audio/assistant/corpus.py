"""The training music: which Debian packages, under which licences, and which tracks are held out.

``tools/fetch_training_audio.py`` downloads the packages in :data:`SOURCES` with
``apt-get download``, extracts their music into ``<root>/<package>/`` with the package's
``copyright`` file, and writes ``<root>/manifest.json`` (:func:`write_manifest`). Training reads
the manifest (:func:`read_manifest`) and each track with :func:`read_track`. Whole tracks are
held out, one or two per package so that every style is evaluated on music the model never
heard: ``val`` tracks steer early stopping, ``test`` tracks give the reported errors.

The two shared excerpts (``../shared/data/audio/drascula-track{1,31}.flac``) are test tracks
when present; their full versions in ``drascula-music`` are then left out of training.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zen.errors import BackendUnavailable, DataError
from zen.neural.checkpoint import read_json, write_json

MANIFEST = "manifest.json"
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SourcePackage:
    """A Debian package whose music the assistant learns from.

    Args:
        name: the binary package (``apt-get download NAME``).
        style: what its music sounds like (for per-style reports).
        licence: the licence of the music, from the package's copyright file.
        pattern: glob (``fnmatch``) of the music files inside the extracted package.
        stems: tracks are folders of stems (``song.ogg``, ``guitar.ogg``...) mixed to one.
        held_out: ``{track name: split}`` for tracks not in ``train``; a track's name is its
            file stem (or folder name, for stems).
        excluded: tracks never used (duplicates of held-out shared excerpts).
    """

    name: str
    style: str
    licence: str
    pattern: str
    stems: bool = False
    held_out: tuple[tuple[str, str], ...] = ()
    excluded: tuple[str, ...] = ()


SOURCES: tuple[SourcePackage, ...] = (
    SourcePackage(
        "drascula-music", "orchestral (adventure game score)",
        "Drascula licence (BSD-like, free; Alcachofa Soft)",
        "usr/share/scummvm/drascula/audio/track*.ogg",
        held_out=(("track2", "val"),), excluded=("track1", "track31"),
    ),
    SourcePackage(
        "fretsonfire-songs-sectoid", "rock (guitar instrumentals)", "Expat (MIT); Carlos Viola",
        "usr/share/games/fretsonfire/data/songs/sectoid/*/*.ogg", stems=True,
        held_out=(("Metal madness", "test"), ("Feelings", "val")),
    ),
    SourcePackage(
        "fretsonfire-songs-muldjord", "metal", "CC BY-SA 3.0; El Senator",
        "usr/share/games/fretsonfire/data/songs/muldjord/*/*.ogg", stems=True,
        held_out=(("chaos_god", "test"), ("armygeddon", "val")),
    ),
    SourcePackage(
        "colobot-common-sounds", "electronic", "GPL-3+; EPSITEC SA & TerranovaTeam",
        "usr/share/games/colobot/music/*.ogg",
        held_out=(("Prototype", "test"), ("Quite", "val")),
    ),
    SourcePackage(
        "singularity-music", "ambient / cinematic electronic", "CC BY-SA 3.0; Max McCracken",
        "usr/share/games/singularity/music/*.ogg",
        held_out=(("Nebula", "test"), ("Coherence", "val")),
    ),
    SourcePackage(
        "lincity-ng-data", "blues, ambient, electronic", "GPL-2+; LinCity-NG authors",
        "usr/share/games/lincity-ng/music/default/*.ogg",
        held_out=(("02 - Robert van Herk - City Blues", "test"),
                  ("01 - pronobozo - lincity", "val")),
    ),
    SourcePackage(
        "xmoto-data", "game music (electronic, rock)", "GPL-2+; X-Moto authors",
        "usr/share/games/xmoto/Textures/Musics/*.ogg",
        held_out=(("batcave", "test"), ("menu", "val")),
    ),
)  # fmt: skip

SHARED_TRACKS = (
    ("drascula-track1.flac", "orchestral (adventure game score), quiet"),
    ("drascula-track31.flac", "orchestral (adventure game score), loud"),
)
SHARED_LICENCE = "Drascula licence (BSD-like, free; Alcachofa Soft)"


@dataclass(frozen=True)
class Track:
    """One piece of music: its files (several stems are summed), split, style and licence."""

    id: str
    package: str
    split: str
    style: str
    licence: str
    files: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def tracks_of(source: SourcePackage, root: Path) -> list[Track]:
    """The tracks of an extracted package under ``root / source.name``, sorted by name."""
    folder = root / source.name
    files = sorted(
        path for path in folder.rglob("*")
        if path.is_file() and fnmatch.fnmatch(str(path.relative_to(folder)), source.pattern)
    )  # fmt: skip
    groups: dict[str, list[Path]] = {}
    for path in files:
        name = path.parent.name if source.stems else path.stem
        groups.setdefault(name, []).append(path)
    splits = dict(source.held_out)
    return [
        Track(
            id=f"{source.name}/{name}",
            package=source.name,
            split=splits.get(name, "train"),
            style=source.style,
            licence=source.licence,
            files=tuple(str(path.relative_to(root)) for path in paths),
        )
        for name, paths in sorted(groups.items())
        if name not in source.excluded
    ]


def shared_tracks(shared_audio: Path) -> list[Track]:
    """The shared Drascula excerpts as test tracks (none when the folder is absent)."""
    return [
        Track(f"shared/{Path(name).stem}", "drascula-music", "test", style, SHARED_LICENCE,
              (str(shared_audio / name),))
        for name, style in SHARED_TRACKS
        if (shared_audio / name).is_file()
    ]  # fmt: skip


def write_manifest(root: Path, tracks: list[Track]) -> Path:
    """Write ``root/manifest.json`` listing ``tracks`` (paths relative to ``root`` or absolute)."""
    path = root / MANIFEST
    write_json(path, {"tracks": [track.to_json() for track in tracks]})
    return path


def read_manifest(root: str | Path) -> list[Track]:
    """The tracks listed in ``root/manifest.json``."""
    root = Path(root)
    data = read_json(root / MANIFEST)
    return [Track(**{**entry, "files": tuple(entry["files"])}) for entry in data["tracks"]]


def read_track(track: Track, root: Path, sample_rate: int) -> np.ndarray:
    """The track's audio at ``sample_rate`` as (frames, 2) float32; stems are summed."""
    from zen.audio.assistant.features import as_stereo, resample

    try:
        import soundfile
    except (ImportError, OSError) as error:
        raise BackendUnavailable(
            f"reading training audio needs soundfile ({error}); pip install 'zen-neural[audio]'"
        ) from None
    mix: np.ndarray | None = None
    for name in track.files:
        path = Path(name) if Path(name).is_absolute() else root / name
        if not path.is_file():
            raise DataError(
                f"track {track.id}: {path} is missing; run tools/fetch_training_audio.py"
            )
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        stereo = resample(as_stereo(audio, str(path)), int(rate), sample_rate)
        if mix is None:
            mix = stereo
        else:
            frames = min(len(mix), len(stereo))
            mix = mix[:frames] + stereo[:frames]
    if mix is None:
        raise DataError(f"track {track.id}: lists no files")
    return mix
