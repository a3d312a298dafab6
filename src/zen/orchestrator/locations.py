"""Folders that may live on another machine: a local path, or any URL fsspec knows.

Caches that nodes of a cluster share (the workflow's step outputs, ``zen fit``'s resume folder)
are a :class:`Location`: a plain path is written with :func:`zen.atomic.write_atomic` (temporary
file, fsync, rename); a URL (``s3://bucket/zen``, ``gcs://...``, ``sftp://host/path``,
``file:///mnt/shared``, ``memory://...``) through `fsspec <https://filesystem-spec.readthedocs.io>`_
with the protocol's own package installed (``s3fs``, ``gcsfs``...). On a URL a file is written to a
temporary name and then moved onto its own, so a reader on another node sees the whole file or
none (object stores publish an object only when its upload completes).

>>> here = Location("memory://zen-doctest/cache")
>>> here.write_bytes("a.bin", b"zen")
>>> here.read_bytes("a.bin"), here.read_bytes("missing.bin")
(b'zen', None)
>>> here.remove()
>>> here.read_bytes("a.bin") is None
True
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from zen.atomic import write_atomic
from zen.errors import ConfigError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: str | Path) -> bool:
    """True for ``protocol://...`` (fsspec), False for a local path.

    >>> is_url("s3://bucket/cache"), is_url("/tmp/cache"), is_url(Path("cache"))
    (True, False, False)
    """
    return isinstance(location, str) and bool(_URL.match(location))


class Location:
    """A folder at a local path or an fsspec URL; files are read and written whole.

    Args:
        location: the folder (created on first write).
        argument: what errors call it (the caller's argument or variable name).

    Raises:
        ConfigError: a URL whose protocol fsspec does not know or whose package is missing.
    """

    def __init__(self, location: str | Path, argument: str = "location") -> None:
        self.url = str(location)
        self.fs: Any = None
        if is_url(location):
            import fsspec

            try:
                self.fs, self.root = fsspec.core.url_to_fs(self.url)
            except (ImportError, ValueError) as error:
                raise ConfigError(
                    f"{argument}: cannot open {self.url!r} ({error}); install the fsspec"
                    " package of its protocol (s3fs, gcsfs, adlfs...) or pass a local folder"
                ) from None
            self.root = str(self.root).rstrip("/")
        else:
            self.path = Path(location).expanduser()

    @property
    def is_local(self) -> bool:
        return self.fs is None

    def __repr__(self) -> str:
        return f"Location({self.url!r})"

    def child(self, *names: str) -> Location:
        """The folder ``names`` below this one."""
        if self.is_local:
            return Location(self.path.joinpath(*names))
        return Location(self.url.rstrip("/") + "/" + "/".join(names))

    def _remote(self, name: str) -> str:
        return f"{self.root}/{name}"

    def read_bytes(self, name: str) -> bytes | None:
        """The content of file ``name``, or None when there is none."""
        if self.is_local:
            try:
                return (self.path / name).read_bytes()
            except FileNotFoundError:
                return None
        try:
            return bytes(self.fs.cat_file(self._remote(name)))
        except FileNotFoundError:
            return None

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write file ``name`` whole: readers see the old content, or all of ``data``."""
        if self.is_local:
            write_atomic(self.path / name, lambda temporary: temporary.write_bytes(data))
            return
        self.fs.makedirs(self.root, exist_ok=True)
        temporary = self._remote(f".{name}.{uuid.uuid4().hex}.tmp")
        try:
            self.fs.pipe_file(temporary, data)
            self.fs.mv(temporary, self._remote(name))
        except BaseException:
            if self.fs.exists(temporary):
                self.fs.rm(temporary)
            raise

    def exists(self) -> bool:
        """Whether the folder holds anything (or, local, exists)."""
        if self.is_local:
            return self.path.is_dir()
        return bool(self.fs.exists(self.root))

    def remove(self) -> None:
        """Delete the folder and everything in it (nothing when it is absent)."""
        if self.is_local:
            shutil.rmtree(self.path, ignore_errors=True)
        elif self.fs.exists(self.root):
            self.fs.rm(self.root, recursive=True)
