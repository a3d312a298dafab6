"""Where and how zen computes: device choice, compilation, thread count and resource monitoring.

>>> from zen.compute import device, configure_threads, Monitor
>>> device("cpu")
device(type='cpu')

``zen.compute`` is the layer right above ``zen.errors``: it imports nothing else from zen, and
every model family builds on it.

Notes:
    The public functions ``device`` and ``compile`` shadow their submodules of the same name as
    attributes of this package; reach the modules with ``importlib.import_module`` (e.g. to
    monkeypatch ``zen.compute.device._cuda_available`` in tests).

    ONNX export, compression and saved-model loading moved to :mod:`zen.export`, and
    ``MonitorCallback`` to :mod:`zen.neural`. Their old names here (``zen.compute.export_onnx``,
    ``zen.compute.MonitorCallback``...) still work and warn (``DeprecationWarning``).
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

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

# Names that moved up out of this layer, and where they live now. Kept importable from here
# for code written against earlier versions (rule: public names are a contract); nothing in zen
# uses these aliases, so they hide no import cycle.
_MOVED = {
    "MonitorCallback": "zen.neural",
    "ExportReport": "zen.export",
    "export_onnx": "zen.export",
    "load_onnx_session": "zen.export",
    "QuantizeReport": "zen.export",
    "convert_fp16": "zen.export",
    "quantize_int8": "zen.export",
}

__all__ = [
    "CompiledModule",
    "DeviceInfo",
    "Monitor",
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
    if name in _MOVED:
        warnings.warn(
            f"zen.compute.{name} moved to {_MOVED[name]}.{name}; import it from there",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
