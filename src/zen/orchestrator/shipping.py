"""Candidate models travel back with their step's outcome, not through a shared folder.

A candidate step may run in this process, in a local worker process, or on another machine of a
Ray cluster whose disks this driver cannot see. :func:`shipped_step` runs a job's step with a
model folder of its own on whichever node it lands on, and returns the folder packed in the
outcome (a tar archive, a few kB to a few MB); the driver unpacks it with :func:`unpack_model`
where the job expects it. So the workflow's cached outcome holds the model too, and a job resumed
on another machine (its cache on an fsspec URL) finds both.
"""

from __future__ import annotations

import importlib
import io
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zen.atomic import atomic_directory
from zen.errors import ConfigError

#: The outcome key that holds the packed model folder (removed by :func:`unpack_model`).
MODEL_FILES = "model_files"


def step_reference(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a module-level step function (what :func:`shipped_step` imports).

    Raises:
        ConfigError: ``fn`` is a lambda, a nested function or another object without a name
            that another process could import.
    """
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if not module or not qualname or "<" in qualname:
        raise ConfigError(
            f"step: {fn!r} is not a module-level function; candidate steps run in other"
            " processes and machines, which import them by name"
        )
    return f"{module}:{qualname}"


def _resolve(reference: str) -> Callable[..., Any]:
    module, _, qualname = reference.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def shipped_step(
    task: dict[str, Any], *, step: str, name: str, options: dict[str, Any], parent_id: int
) -> dict[str, Any]:
    """Run candidate step ``step`` (``module:qualname``) with a fresh model folder here and
    return its outcome with the folder packed under :data:`MODEL_FILES` (when it saved one)."""
    fn = _resolve(step)
    with tempfile.TemporaryDirectory(prefix="zen-candidate-") as scratch:
        folder = Path(scratch) / "model"
        outcome = dict(fn(task, name=name, options=options, parent_id=parent_id,
                          model_dir=str(folder)))  # fmt: skip
        if folder.is_dir():
            outcome[MODEL_FILES] = _pack(folder)
    return outcome


def _pack(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:  # safetensors barely compress
        for path in sorted(folder.rglob("*")):
            archive.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    return buffer.getvalue()


def unpack_model(outcome: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """The outcome without its packed model, which is written to ``model_dir`` (replacing what
    was there; whole or not at all). An outcome without one is returned as it is."""
    packed = outcome.get(MODEL_FILES)
    if packed is None:
        return outcome
    with (
        tarfile.open(fileobj=io.BytesIO(packed), mode="r") as archive,
        atomic_directory(model_dir) as staging,
    ):
        # "data": no absolute paths, links out of the folder or device files, whatever the
        # archive says (it is zen's own, but a cache file could be damaged).
        archive.extractall(staging, filter="data")
    return {key: value for key, value in outcome.items() if key != MODEL_FILES}
