"""Shared folders (a path or an fsspec URL) and candidate models shipped inside outcomes."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from zen.errors import ConfigError
from zen.orchestrator.executors import InlineExecutor
from zen.orchestrator.locations import Location
from zen.orchestrator.shipping import MODEL_FILES, shipped_step, step_reference, unpack_model
from zen.orchestrator.workflow import Step, Workflow, run_workflow


@pytest.mark.parametrize("kind", ["path", "file-url", "memory-url"])
def test_a_location_writes_whole_files_and_removes_itself(tmp_path: Path, kind: str) -> None:
    where = {"path": str(tmp_path / "a"), "file-url": (tmp_path / "a").as_uri(),
             "memory-url": f"memory://{tmp_path.name}/a"}[kind]  # fmt: skip
    folder = Location(where).child("b")
    assert not folder.exists() and folder.read_bytes("x") is None
    folder.write_bytes("x", b"one")
    folder.write_bytes("x", b"two")
    assert folder.read_bytes("x") == b"two" and folder.exists()
    if kind != "memory-url":  # no temporary files are left beside it
        assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["x"]
    folder.remove()
    assert not folder.exists()


def test_an_unknown_protocol_is_named_with_the_argument() -> None:
    with pytest.raises(ConfigError, match=r"ZEN_FIT_CACHE: cannot open 'nosuch://x/y'"):
        Location("nosuch://x/y", "ZEN_FIT_CACHE")


def add(a: int, b: int) -> int:
    return a + b


def test_the_workflow_cache_on_a_url_is_found_by_a_later_run() -> None:
    calls: list[int] = []

    def counted(x: int) -> int:
        calls.append(x)
        return x * 2

    flow = Workflow(inputs=["x"])
    flow.add(Step("double", counted, needs=("x",)))
    for _ in range(2):
        result = run_workflow(flow, {"x": 4}, executor=InlineExecutor(),
                              cache_dir="memory://zen-test-workflow/cache")  # fmt: skip
        assert result["double"].output == 8
    assert calls == [4]


def saving_step(task, *, name, options, parent_id, model_dir):
    folder = Path(model_dir)
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00" * 10)
    (folder / "sub" / "config.json").write_text(f'{{"name": "{name}"}}')
    return {"model": name, "score": options["score"]}


def test_a_step_ships_its_model_folder_back_in_its_outcome(tmp_path: Path) -> None:
    outcome = shipped_step({}, step=step_reference(saving_step), name="A",
                           options={"score": 1.0}, parent_id=1)  # fmt: skip
    assert isinstance(outcome[MODEL_FILES], bytes)
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "stale.txt").write_text("from an earlier attempt")
    unpacked = unpack_model(outcome, tmp_path / "A")
    assert unpacked == {"model": "A", "score": 1.0}
    assert sorted(p.relative_to(tmp_path / "A").as_posix() for p in (tmp_path / "A").rglob("*")) \
        == ["sub", "sub/config.json", "weights.bin"]  # fmt: skip


def test_an_archive_reaching_out_of_the_model_folder_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        data = b"owned"
        member = tarfile.TarInfo("../escaped.txt")
        member.size = len(data)
        archive.addfile(member, io.BytesIO(data))
    with pytest.raises(tarfile.OutsideDestinationError):
        unpack_model({"model": "A", MODEL_FILES: buffer.getvalue()}, tmp_path / "model")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "model").exists()


def test_only_importable_step_functions_can_be_shipped() -> None:
    with pytest.raises(ConfigError, match=r"step: .* not a module-level function"):
        step_reference(lambda task: task)
    assert step_reference(add).endswith(":add")
