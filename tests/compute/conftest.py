"""Shared fixtures for zen.compute: a clean environment and no real accelerators."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
import torch

# The public functions `device` and `compile` shadow their submodules on the package.
device_module = importlib.import_module("zen.compute.device")
compile_source = importlib.import_module("zen.compute.compile")


@pytest.fixture(autouse=True)
def clean_compute_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset zen's env vars and forget which choices were already logged."""
    for name in ("ZEN_DEVICE", "ZEN_COMPILE", "ZEN_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(device_module, "_logged_choices", set())
    monkeypatch.setattr(compile_source, "_logged_messages", set())


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The device module with every accelerator switched off; tests switch on what they need."""
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(device_module, "_cuda_available", lambda: False)
    monkeypatch.setattr(device_module, "_cuda_device_count", lambda: 0)
    monkeypatch.setattr(device_module, "_cuda_device_name", lambda index: f"Fake GPU {index}")
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)
    monkeypatch.setattr(device_module, "_xpu_available", lambda: False)
    monkeypatch.setattr(device_module, "_xpu_device_count", lambda: 0)
    monkeypatch.setattr(device_module, "_xpu_device_name", lambda index: f"Fake XPU {index}")
    return device_module
