"""Where and how zen computes: device choice, compilation, thread count and resource monitoring.

>>> from zen.compute import device, configure_threads, Monitor
>>> device("cpu")
device(type='cpu')

Notes:
    The public functions ``device`` and ``compile`` shadow their submodules of the same name as
    attributes of this package; reach the modules with ``importlib.import_module`` (e.g. to
    monkeypatch ``zen.compute.device._cuda_available`` in tests).

    :class:`MonitorCallback` subclasses ``zen.neural.callbacks.Callback`` and is imported on first
    use: ``zen.neural`` imports ``zen.compute``, so importing it eagerly here would be circular.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zen.compute.compile import CompiledModule, compile, compile_module, compile_status
from zen.compute.device import (
    DeviceInfo,
    autocast_dtype,
    available_devices,
    device,
    device_info,
    supports_mixed_precision,
)
from zen.compute.monitor import Monitor
from zen.compute.threads import available_cores, configure_threads

if TYPE_CHECKING:
    from zen.compute.monitor_callback import MonitorCallback

__all__ = [
    "CompiledModule",
    "DeviceInfo",
    "Monitor",
    "MonitorCallback",
    "autocast_dtype",
    "available_cores",
    "available_devices",
    "compile",
    "compile_module",
    "compile_status",
    "configure_threads",
    "device",
    "device_info",
    "supports_mixed_precision",
]


def __getattr__(name: str) -> Any:
    if name == "MonitorCallback":
        return importlib.import_module("zen.compute.monitor_callback").MonitorCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
