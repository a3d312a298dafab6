"""Atomic writes: whole results or none, on disk when done, with the mode of an ordinary new file
under the umask in force (never touching it), without torch."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import zen.atomic
from zen.atomic import atomic_directory, write_atomic


def test_a_written_file_gets_the_mode_of_an_ordinary_new_file(tmp_path) -> None:
    ordinary = tmp_path / "plain.txt"
    ordinary.write_text("x")
    write_atomic(tmp_path / "atomic.txt", lambda path: path.write_text("y"))
    assert (tmp_path / "atomic.txt").stat().st_mode == ordinary.stat().st_mode
    with atomic_directory(tmp_path / "folder") as staging:
        (staging / "inside").write_text("z")
    (tmp_path / "plain_dir").mkdir()
    assert (tmp_path / "folder").stat().st_mode == (tmp_path / "plain_dir").stat().st_mode


def test_a_failed_write_leaves_nothing(tmp_path) -> None:
    def broken(path) -> None:
        path.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(tmp_path / "result.txt", broken)
    assert list(tmp_path.iterdir()) == []


def test_importing_it_does_not_load_torch() -> None:
    code = "import sys, zen.atomic; print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "False", out.stderr


@pytest.fixture
def strict_umask():
    """A non-default umask for the test (group keeps read, others get nothing), then back."""
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def test_written_files_and_directories_follow_the_umask_in_force(tmp_path, strict_umask) -> None:
    # The umask is the one in force when writing (zen used to read it once, at import).
    ordinary = tmp_path / "plain.txt"
    with open(ordinary, "w") as handle:
        handle.write("x")
    write_atomic(tmp_path / "atomic.txt", lambda path: path.write_text("y"))
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "atomic.txt").stat().st_mode == ordinary.stat().st_mode
    (tmp_path / "plain_dir").mkdir()
    with atomic_directory(tmp_path / "folder") as staging:
        (staging / "inside").write_text("z")
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "folder").stat().st_mode == (tmp_path / "plain_dir").stat().st_mode


def test_zen_never_touches_the_process_umask(tmp_path, monkeypatch) -> None:
    # Setting the umask, even to read it, is process-wide: another thread creating a file in
    # between would get the temporary value.
    def forbidden(mask: int) -> int:
        raise AssertionError("os.umask was called")

    monkeypatch.setattr(os, "umask", forbidden)
    importlib.reload(zen.atomic)
    zen.atomic.write_atomic(tmp_path / "a.txt", lambda path: path.write_text("a"))
    with zen.atomic.atomic_directory(tmp_path / "d") as staging:
        (staging / "b.txt").write_text("b")


def test_importing_zen_leaves_the_umask_as_the_user_set_it() -> None:
    code = (
        "import os; os.umask(0o027); import zen, zen.atomic, zen.neural, zen.audio.io;"
        " print(oct(os.umask(0o022)))"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "0o27", out.stderr


def fsync_spy(monkeypatch) -> list[str]:
    """Record the path behind every descriptor passed to os.fsync (Linux: /proc/self/fd)."""
    synced: list[str] = []
    real_fsync = os.fsync

    def spy(descriptor: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", spy)
    return synced


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc/self/fd")
def test_a_finished_write_is_flushed_file_then_directory(tmp_path, monkeypatch) -> None:
    synced = fsync_spy(monkeypatch)
    write_atomic(tmp_path / "result.json", lambda path: path.write_text("{}"))
    # The temporary file (the data, before the rename), then the directory (the rename).
    assert len(synced) == 2
    assert Path(synced[0]).parent == tmp_path and Path(synced[0]).name.startswith(".result.json.")
    assert synced[1] == str(tmp_path)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc/self/fd")
def test_an_atomic_directory_is_flushed_before_and_after_the_swap(tmp_path, monkeypatch) -> None:
    (tmp_path / "model").mkdir()  # an old version, swapped out
    synced = fsync_spy(monkeypatch)
    with atomic_directory(tmp_path / "model") as staging:
        (staging / "weights.bin").write_bytes(b"w")
        (staging / "sub").mkdir()
        (staging / "sub" / "config.json").write_text("{}")
    names = [Path(path).name for path in synced]
    staging_name = Path(synced[-2]).name
    assert names[:2] == ["config.json", "sub"]  # children before their directory
    assert "weights.bin" in names and staging_name.startswith(".model.")
    assert synced[-1] == str(tmp_path)  # the parent, after the rename
    assert sorted(os.listdir(tmp_path)) == ["model"]
