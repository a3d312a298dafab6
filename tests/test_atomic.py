"""Atomic writes: whole results or none, with the mode of an ordinary new file, without torch."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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
