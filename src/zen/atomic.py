"""Atomic, durable writes: a result appears whole under its name, or not at all.

A result is written to a temporary name next to its target, flushed to disk (``fsync``), renamed
over the target, and the directory is flushed too, so that after a crash or power cut the name
holds the old result or the whole new one. The temporary file or directory is created with the
mode an ordinary ``open(path, "w")`` or ``mkdir`` would give (``0o666`` / ``0o777`` less the
umask, applied by the kernel), so the process umask is never read or changed.

Torch-free on purpose: the CLI's audio and runtime commands write files without loading torch.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

# Errors with which some file systems refuse to fsync a directory; the rename still happened.
_DIRECTORY_SYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF}
_ATTEMPTS = 100


def _fresh_name(directory: Path, prefix: str, create: Callable[[Path], None]) -> Path:
    """Create a new entry ``directory/prefix<random>.tmp`` with ``create`` and return it."""
    for _ in range(_ATTEMPTS):
        candidate = directory / f"{prefix}{secrets.token_hex(6)}.tmp"
        try:
            create(candidate)
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"{directory}: no free temporary name after {_ATTEMPTS} attempts")


def _create_file(path: Path) -> None:
    # O_EXCL: never reuse someone else's file; 0o666 less the umask, as for any new file.
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def _create_directory(path: Path) -> None:
    os.mkdir(path, 0o777)


def fsync_file(path: str | Path) -> None:
    """Flush a file's data and metadata to disk."""
    # Windows flushes only handles opened for writing; POSIX accepts a read-only descriptor,
    # which also works for files the writer made read-only.
    descriptor = os.open(path, os.O_RDWR if os.name == "nt" else os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_directory(path: str | Path) -> None:
    """Flush a directory's entries to disk, so that a rename in it survives a power cut.

    A no-op on Windows, which cannot open directories (NTFS journals renames itself).
    """
    if os.name == "nt":
        return
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in _DIRECTORY_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(descriptor)


def _fsync_tree(root: Path) -> None:
    """fsync every file and directory under ``root`` (children before their directory)."""
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            file_path = Path(directory) / name
            if not file_path.is_symlink():
                fsync_file(file_path)
        fsync_directory(directory)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block succeeds.

    The temporary directory lives next to ``target`` so the final rename stays on one file
    system; an existing ``target`` is swapped out, then removed. Everything written in the block
    is flushed to disk before the swap, and the parent directory after it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = _fresh_name(target.parent, f".{target.name}.", _create_directory)
    try:
        yield staging
        _fsync_tree(staging)
        if target.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.replace(target, retired / target.name)
            os.replace(staging, target)
            fsync_directory(target.parent)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
            fsync_directory(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call ``write(temporary_path)`` and rename the result onto ``path`` when it succeeds.

    ``temporary_path`` exists (empty) when ``write`` is called, with the mode a new file gets;
    writers that open it for writing keep that mode. The result is on disk (file and directory
    flushed) when this returns.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _fresh_name(path.parent, f".{path.name}.", _create_file)
    try:
        write(temporary)
        fsync_file(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
