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
    The ONNX functions (:func:`export_onnx`, :func:`load_onnx_session`, :func:`quantize_int8`,
    :func:`convert_fp16`) are imported on first use too: they need the optional ``onnx`` extra
    and reach into every model family.
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
from zen.compute.thread_count import available_cores, configure_threads

if TYPE_CHECKING:
    from zen.compute.export import ExportReport, export_onnx, load_onnx_session
    from zen.compute.monitor_callback import MonitorCallback
    from zen.compute.quantize import QuantizeReport, convert_fp16, quantize_int8

# Public names imported on first access, and the module each lives in.
_LAZY = {
    "MonitorCallback": "zen.compute.monitor_callback",
    "ExportReport": "zen.compute.export",
    "export_onnx": "zen.compute.export",
    "load_onnx_session": "zen.compute.export",
    "QuantizeReport": "zen.compute.quantize",
    "convert_fp16": "zen.compute.quantize",
    "quantize_int8": "zen.compute.quantize",
}

__all__ = [
    "CompiledModule",
    "DeviceInfo",
    "ExportReport",
    "Monitor",
    "MonitorCallback",
    "QuantizeReport",
    "autocast_dtype",
    "available_cores",
    "available_devices",
    "compile",
    "compile_module",
    "compile_status",
    "configure_threads",
    "convert_fp16",
    "device",
    "device_info",
    "export_onnx",
    "load_onnx_session",
    "quantize_int8",
    "supports_mixed_precision",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
