"""Saving and loading models: safetensors for tensors, JSON for everything else, written atomically.

A checkpoint is a directory::

    config.json            what to rebuild (model class + config, trainer settings, progress)
    model.safetensors      the model's state_dict
    optimizer.safetensors  optional: the optimizer's tensors, to resume training

Nothing here unpickles: loading a checkpoint cannot execute code from the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from zen import registry

# Re-exported: callers have always reached the atomic writers through this module.
from zen.atomic import atomic_directory as atomic_directory
from zen.atomic import write_atomic as write_atomic
from zen.errors import ConfigError, DataError

CONFIG_FILE = "config.json"
MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
FORMAT_VERSION = 1


def register_model(cls: type[nn.Module]) -> type[nn.Module]:
    """Let checkpoints rebuild ``cls`` by name; it needs ``config()`` and ``from_config()``.

    Usable as a class decorator. It declares ``cls`` to :mod:`zen.registry` as a network
    (unless it is already registered, e.g. as a node classifier).
    """
    if not (hasattr(cls, "config") and hasattr(cls, "from_config")):
        raise ConfigError(f"{cls.__name__} needs config() and from_config() to be registered")
    if registry.model_class(cls.__name__) is not cls:
        registry.register(registry.ModelSpec(cls.__name__, "network", model_class=cls))
    return cls


def describe_model(model: nn.Module) -> dict[str, Any] | None:
    """``{"class": name, "config": {...}}`` for registered models, else None."""
    name = type(model).__name__
    if registry.model_class(name) is type(model) and hasattr(model, "from_config"):
        return {"class": name, "config": cast(Any, model).config()}
    return None


def build_model(description: Mapping[str, Any]) -> nn.Module:
    """Rebuild a model (fresh weights) from :func:`describe_model` output."""
    name = description.get("class")
    cls = registry.model_class(name) if isinstance(name, str) else None
    if cls is None or not hasattr(cls, "from_config"):
        known = sorted(c.__name__ for c in registry.model_classes() if hasattr(c, "from_config"))
        raise ConfigError(
            f"checkpoint model class {name!r} is not registered; known: {known}."
            " Pass model= to load into your own module"
        )
    return cast(Any, cls).from_config(description["config"])


def write_json(path: str | Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically."""
    text = json.dumps(payload, indent=2, default=_json_default)
    write_atomic(path, lambda temporary: temporary.write_text(text + "\n", encoding="utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a JSON checkpoint")


def read_json(path: str | Path) -> Any:
    """Read a JSON file, with a clear error when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found; expected a zen checkpoint directory with {path.name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: not valid JSON ({error})") from None


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    """Write tensors with safetensors (contiguous CPU copies; shared storage is duplicated)."""
    save_file(
        {key: value.detach().cpu().contiguous().clone() for key, value in tensors.items()},
        str(path),
    )


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file onto the CPU."""
    if not path.is_file():
        raise DataError(f"{path}: not found; the checkpoint is incomplete")
    try:
        return load_file(str(path), device="cpu")
    except SafetensorError as error:
        raise DataError(
            f"{path}: not a readable safetensors file ({error}); the checkpoint is corrupt or was"
            " not written by zen"
        ) from None


def split_optimizer_state(
    state: Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-able tensors and JSON-able rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, entries in state["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: Mapping[str, torch.Tensor], rest: Mapping[str, Any]) -> dict:
    """Inverse of :func:`split_optimizer_state`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for index, entries in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": rest["param_groups"]}
