"""Fetch the mastering assistant's training music from Debian packages (never committed).

    python tools/fetch_training_audio.py [--root data/assistant/audio]
                                         [--shared ../shared/data/audio]

For every package in ``zen.audio.assistant.corpus.SOURCES``: ``apt-get download`` it, extract
it with ``dpkg-deb -x`` into a scratch folder, keep only its music files and its
``copyright`` file under ``ROOT/<package>/``, and mark the folder complete. A package already
complete is skipped, so running this twice downloads nothing. Finally ``ROOT/manifest.json``
lists every track with its split (train / val / test), style and licence, and
``ROOT/LICENCES.txt`` says where each package's music comes from and under which licence.

Needs Debian's ``apt-get`` and ``dpkg-deb`` and access to a Debian mirror; without them it
stops with a message saying so. Exit codes: 0 done, 1 a package could not be fetched, 2 no apt.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from zen.audio.assistant.corpus import (  # noqa: E402
    SOURCES,
    SourcePackage,
    Track,
    shared_tracks,
    tracks_of,
    write_manifest,
)

DEFAULT_ROOT = REPO / "data" / "assistant" / "audio"
DEFAULT_SHARED = REPO.parent / "shared" / "data" / "audio"
COMPLETE = ".complete"


class FetchError(RuntimeError):
    """A package could not be downloaded or extracted."""


def _run(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit code {result.returncode}"
        raise FetchError(f"{' '.join(command)} failed: {last}")


_refreshed = False


def _refresh_package_lists() -> bool:
    """``apt-get update`` once per run, as root (a fresh machine has no package lists yet)."""
    global _refreshed
    if _refreshed or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    _refreshed = True
    result = subprocess.run(["apt-get", "update", "-qq"], capture_output=True, check=False)
    return result.returncode == 0


def fetch_package(source: SourcePackage, root: Path) -> tuple[Path, bool]:
    """Download and extract ``source`` into ``root/<name>``; returns (folder, downloaded)."""
    target = root / source.name
    if (target / COMPLETE).is_file():
        return target, False
    with tempfile.TemporaryDirectory(prefix=f"zen-{source.name}-") as scratch:
        folder = Path(scratch)
        try:
            _run(["apt-get", "download", source.name], folder)
        except FetchError:
            if not _refresh_package_lists():
                raise
            _run(["apt-get", "download", source.name], folder)
        debs = sorted(folder.glob(f"{source.name}_*.deb"))
        if not debs:
            raise FetchError(f"apt-get download {source.name}: no .deb appeared")
        extracted = folder / "extracted"
        _run(["dpkg-deb", "-x", str(debs[0]), str(extracted)], folder)
        staging = root / f".{source.name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        kept = 0
        for path in extracted.rglob("*"):
            relative = str(path.relative_to(extracted))
            if path.is_file() and fnmatch.fnmatch(relative, source.pattern):
                destination = staging / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, destination)
                kept += 1
        if not kept:
            raise FetchError(f"{source.name}: no files match {source.pattern}")
        copyright_file = extracted / "usr" / "share" / "doc" / source.name / "copyright"
        if copyright_file.is_file():
            shutil.copy2(copyright_file, staging / "copyright")
        (staging / COMPLETE).write_text(f"{debs[0].name}\n", encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target, True


def _licences(tracks: list[Track]) -> str:
    lines = ["Training music of the zen mastering assistant (not redistributed with zen).", ""]
    for source in SOURCES:
        count = sum(track.package == source.name for track in tracks)
        lines.append(f"{source.name}: {count} tracks, {source.style}; licence: {source.licence}")
        lines.append(f"  full terms: {source.name}/copyright (from the Debian package)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="where the music goes")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED,
                        help="folder of the shared Drascula excerpts (test tracks)")  # fmt: skip
    args = parser.parse_args(argv)
    root: Path = args.root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    missing_tools = [tool for tool in ("apt-get", "dpkg-deb") if shutil.which(tool) is None]
    pending = [s for s in SOURCES if not (root / s.name / COMPLETE).is_file()]
    if pending and missing_tools:
        print(
            f"error: fetching {', '.join(s.name for s in pending)} needs"
            f" {' and '.join(missing_tools)}"
            " (Debian/Ubuntu); on another system, copy the packages' music into"
            f" {root}/<package>/ by hand",
            file=sys.stderr,
        )
        return 2
    tracks: list[Track] = []
    failures = 0
    for source in SOURCES:
        try:
            folder, downloaded = fetch_package(source, root)
        except FetchError as error:
            print(
                f"error: {error}; check network access to the Debian mirror (apt-get update"
                " may be needed first)",
                file=sys.stderr,
            )
            failures += 1
            continue
        found = tracks_of(source, root)
        tracks += found
        state = "downloaded" if downloaded else "already here"
        print(f"{source.name:28s} {state:12s} {len(found):3d} tracks in {folder}")
    tracks += shared_tracks(args.shared.resolve())
    manifest = write_manifest(root, tracks)
    (root / "LICENCES.txt").write_text(_licences(tracks), encoding="utf-8")
    counts = {split: sum(t.split == split for t in tracks) for split in ("train", "val", "test")}
    print(
        f"manifest: {manifest} ({counts['train']} train, {counts['val']} val,"
        f" {counts['test']} test tracks)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
