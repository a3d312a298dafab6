"""The README's Python snippets run as written (those that need no files of the reader's)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
NEEDS_READER_FILES = ("data/digits.csv", "xor.data", "mix.wav")


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_python_snippets() -> None:
    assert len(python_blocks()) >= 4


def test_self_contained_snippets_run_in_order(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    runnable = [b for b in python_blocks() if not any(f in b for f in NEEDS_READER_FILES)]
    assert len(runnable) >= 3
    for block in runnable:
        exec(compile(block, str(README), "exec"), namespace)  # our own README, trusted
    assert (tmp_path / "checkpoints" / "run1" / "model.safetensors").is_file()
    assert namespace["monitor"].summary()["samples"] == 1000


@pytest.mark.parametrize("command", ["make demo", "make test"])
def test_readme_starts_with_the_two_commands(command) -> None:
    head = README.read_text(encoding="utf-8")[:1200]
    assert command in head
