"""Pick the torch device to run on: CUDA, ROCm, MPS, XPU or CPU, with an explained choice.

The search order is cuda → rocm → mps → xpu → cpu. ROCm builds of torch expose AMD GPUs through
``torch.cuda`` (with ``torch.version.hip`` set), so a ROCm GPU has ``kind == "rocm"`` while its
torch device type is ``cuda``. The environment variable ``ZEN_DEVICE`` (``cpu``, ``cuda``,
``cuda:1``, ``rocm``, ``mps``, ``xpu``, ``auto``) overrides the automatic choice when no device is
requested explicitly. A requested device that cannot be used falls back to CPU with a warning;
an unknown name raises :class:`~zen.errors.ConfigError`.

Every availability probe is a small ``_..._available()``-style helper so tests can monkeypatch
the hardware away (or into existence) without touching torch.
"""

from __future__ import annotations

import functools
import logging
import os
import platform
import sys
import threading
import warnings
from dataclasses import dataclass
from types import FrameType

import torch

from zen.errors import ConfigError, expect_one_of

logger = logging.getLogger(__name__)

ENV_VAR = "ZEN_DEVICE"
KINDS = ("cuda", "rocm", "mps", "xpu", "cpu")
_VALID_NAMES = ("auto", *KINDS)

# (request, result) pairs already logged; the choice is logged once, not on every call.
_logged_choices: set[tuple[str, str]] = set()
_logged_lock = threading.Lock()


@dataclass(frozen=True)
class DeviceInfo:
    """A usable device and why it was chosen.

    Attributes:
        kind: One of ``cuda``, ``rocm``, ``mps``, ``xpu``, ``cpu``.
        device: The torch device to move tensors to (``cuda`` for ROCm GPUs).
        name: Human-readable hardware name, e.g. ``NVIDIA A100-SXM4-40GB`` or the CPU model.
        reason: Why this device was picked, e.g. ``no CUDA, ROCm, MPS or XPU device available``.
    """

    kind: str
    device: torch.device
    name: str
    reason: str


# --- availability probes (monkeypatched in tests) --------------------------------------------


def _cuda_available() -> bool:
    """True when torch sees a CUDA or ROCm GPU."""
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # broken driver installs raise instead of returning False
        return False


def _is_rocm() -> bool:
    """True when this torch build targets ROCm (HIP) rather than NVIDIA CUDA."""
    return getattr(torch.version, "hip", None) is not None


def _cuda_device_count() -> int:
    """Number of visible CUDA/ROCm GPUs."""
    try:
        return int(torch.cuda.device_count())
    except Exception:
        return 0


def _cuda_device_name(index: int) -> str:
    """Marketing name of CUDA/ROCm GPU ``index``."""
    try:
        return str(torch.cuda.get_device_name(index))
    except Exception:
        return "ROCm GPU" if _is_rocm() else "CUDA GPU"


def _mps_available() -> bool:
    """True when Apple's Metal backend is usable (some builds lack ``torch.backends.mps``)."""
    mps = getattr(torch.backends, "mps", None)
    if mps is None:
        return False
    try:
        return bool(mps.is_available())
    except Exception:
        return False


def _xpu_available() -> bool:
    """True when an Intel GPU is usable (``torch.xpu`` only exists on recent builds)."""
    xpu = getattr(torch, "xpu", None)
    if xpu is None:
        return False
    try:
        return bool(xpu.is_available())
    except Exception:
        return False


def _xpu_device_count() -> int:
    """Number of visible Intel GPUs."""
    xpu = getattr(torch, "xpu", None)
    try:
        return int(xpu.device_count()) if xpu is not None else 0
    except Exception:
        return 0


def _xpu_device_name(index: int) -> str:
    """Name of Intel GPU ``index``."""
    try:
        return str(torch.xpu.get_device_name(index))
    except Exception:
        return "Intel XPU"


def _cuda_bf16_supported() -> bool:
    """True when the current CUDA/ROCm GPU computes in bfloat16 natively."""
    try:
        return bool(torch.cuda.is_bf16_supported())
    except Exception:
        return False


@functools.cache
def _cpu_name() -> str:
    """CPU model from ``/proc/cpuinfo`` (``platform.processor()`` is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


# --- request parsing ---------------------------------------------------------------------------


def _parse_request(requested: str | torch.device | None) -> tuple[str, int | None, str]:
    """Split a request into ``(name, index, label)``; ``label`` says where it came from."""
    if requested is None:
        env_value = os.environ.get(ENV_VAR, "").strip()
        if not env_value:
            return "auto", None, "auto"
        name, index = _split_name(env_value, argument=ENV_VAR)
        return name, index, f"{ENV_VAR}={env_value}"
    if isinstance(requested, torch.device):
        if requested.type not in _VALID_NAMES:
            raise expect_one_of("device", requested.type, _VALID_NAMES)
        return requested.type, requested.index, str(requested)
    if isinstance(requested, str):
        name, index = _split_name(requested, argument="device")
        return name, index, requested.strip()
    raise ConfigError(
        f"device: expected a name such as 'cuda:1', a torch.device or None, "
        f"got {type(requested).__name__}"
    )


def _split_name(text: str, *, argument: str) -> tuple[str, int | None]:
    """Parse ``"cuda:1"`` into ``("cuda", 1)``; raise ConfigError naming ``argument`` otherwise."""
    name, _, index_text = text.strip().lower().partition(":")
    if name not in _VALID_NAMES:
        raise expect_one_of(argument, text, _VALID_NAMES)
    if not index_text:
        return name, None
    if not index_text.isdigit() or name == "auto":
        raise expect_one_of(argument, text, [*_VALID_NAMES, "cuda:<index>", "xpu:<index>"])
    return name, int(index_text)


# --- selection ---------------------------------------------------------------------------------


def _gpu_info(kind: str, index: int | None, reason: str) -> DeviceInfo:
    """Describe CUDA/ROCm GPU ``index`` (``None``: the current device)."""
    name = _cuda_device_name(0 if index is None else index)
    return DeviceInfo(kind, _indexed("cuda", index), name, reason)


def _xpu_info(index: int | None, reason: str) -> DeviceInfo:
    """Describe Intel GPU ``index`` (``None``: the current device)."""
    name = _xpu_device_name(0 if index is None else index)
    return DeviceInfo("xpu", _indexed("xpu", index), name, reason)


def _indexed(device_type: str, index: int | None) -> torch.device:
    """``torch.device(type)`` or ``torch.device(type, index)``: no index means the current one."""
    return torch.device(device_type) if index is None else torch.device(device_type, index)


def _mps_info(reason: str) -> DeviceInfo:
    """Describe the Apple GPU (MPS exposes a single device)."""
    return DeviceInfo("mps", torch.device("mps"), "Apple GPU (MPS)", reason)


def _cpu_info(reason: str) -> DeviceInfo:
    """Describe the host CPU."""
    return DeviceInfo("cpu", torch.device("cpu"), _cpu_name(), reason)


def _auto_select() -> DeviceInfo:
    """The best available device in the order cuda → rocm → mps → xpu → cpu."""
    if _cuda_available():
        if _is_rocm():
            return _gpu_info("rocm", None, f"ROCm available (HIP {torch.version.hip})")
        return _gpu_info("cuda", None, "CUDA available")
    if _mps_available():
        return _mps_info("MPS available")
    if _xpu_available():
        return _xpu_info(None, "XPU available")
    return _cpu_info("no CUDA, ROCm, MPS or XPU device available")


def _unusable_reason(name: str, index: int | None) -> str | None:
    """Why the requested device cannot be used, or None when it can."""
    if name in ("cuda", "rocm"):
        backend = "ROCm" if name == "rocm" else "CUDA"
        if not _cuda_available():
            return f"{backend} is not available"
        if name == "rocm" and not _is_rocm():
            return "this torch build uses NVIDIA CUDA, not ROCm"
        count = _cuda_device_count()
        if index is not None and index >= count:
            return f"device index {index} is out of range: {count} {backend} device(s) visible"
    elif name == "mps":
        if not _mps_available():
            return "MPS is not available"
        if index not in (None, 0):
            return f"device index {index} is out of range: MPS has a single device (0)"
    elif name == "xpu":
        if not _xpu_available():
            return "XPU is not available"
        count = _xpu_device_count()
        if index is not None and index >= count:
            return f"device index {index} is out of range: {count} XPU device(s) visible"
    return None


def _requested_reason(label: str) -> str:
    """Reason text for an explicit request: ``set by ZEN_DEVICE=cpu`` or ``requested``."""
    return f"set by {label}" if label.startswith(ENV_VAR) else "requested"


def _select(requested: str | torch.device | None) -> tuple[DeviceInfo, str, str | None]:
    """Resolve a request to ``(info, label, fallback_reason)`` without logging or warning."""
    name, index, label = _parse_request(requested)
    if name == "auto":
        return _auto_select(), label, None
    if name == "cpu":
        return _cpu_info(_requested_reason(label)), label, None
    problem = _unusable_reason(name, index)
    if problem is not None:
        return _cpu_info(f"{label} requested but {problem}"), label, problem
    reason = _requested_reason(label)
    if name in ("cuda", "rocm"):
        # A ROCm GPU asked for as "cuda" is still reported as ROCm: kind describes the hardware.
        return _gpu_info("rocm" if _is_rocm() else "cuda", index, reason), label, None
    if name == "mps":
        return _mps_info(reason), label, None
    return _xpu_info(index, reason), label, None


def _log_once(label: str, info: DeviceInfo) -> None:
    """Log the choice at INFO the first time this (request, result) pair is seen."""
    key = (label, f"{info.kind}:{info.device}")
    with _logged_lock:
        if key in _logged_choices:
            return
        _logged_choices.add(key)
    logger.info("using %s: %s (%s)", info.device, info.reason, info.name)


def device_info(requested: str | torch.device | None = None) -> DeviceInfo:
    """Choose a device and explain the choice.

    Args:
        requested: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"rocm"``, ``"mps"``,
            ``"xpu"`` or a :class:`torch.device`. ``None`` reads ``ZEN_DEVICE`` (default auto).

    Returns:
        The chosen :class:`DeviceInfo`. An unusable request falls back to CPU with a
        ``UserWarning`` naming what was asked and why it cannot be used.

    Raises:
        ConfigError: ``requested`` (or ``ZEN_DEVICE``) names an unknown device.

    >>> device_info("cpu").kind
    'cpu'
    """
    info, label, problem = _select(requested)
    if problem is not None:
        warnings.warn(
            f"device: {label} asks for a device that cannot be used ({problem}); "
            "falling back to cpu",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )
    _log_once(label, info)
    return info


def _caller_stacklevel() -> int:
    """Stack level that points a warning at the code that called ``device``/``device_info``."""
    # device_info → (device →) user; frames from this module are skipped so the warning
    # points at the caller whichever of the two public functions it used.
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
        level += 1
    return level


def device(requested: str | torch.device | None = None) -> torch.device:
    """The torch device to run on; see :func:`device_info` for the rules.

    >>> device("cpu")
    device(type='cpu')
    """
    return device_info(requested).device


def available_devices() -> list[DeviceInfo]:
    """Every usable device here, accelerators first and the CPU last (for ``zen info``)."""
    found: list[DeviceInfo] = []
    if _cuda_available():
        kind = "rocm" if _is_rocm() else "cuda"
        found += [_gpu_info(kind, i, "available") for i in range(_cuda_device_count())]
    if _mps_available():
        found.append(_mps_info("available"))
    if _xpu_available():
        found += [_xpu_info(i, "available") for i in range(_xpu_device_count())]
    found.append(_cpu_info("available"))
    return found


# --- precision ---------------------------------------------------------------------------------


def _device_type(dev: torch.device | str) -> str:
    """The torch device type of ``dev`` (``"cuda"`` for ROCm GPUs too)."""
    return torch.device(dev).type


def supports_mixed_precision(dev: torch.device | str) -> bool:
    """Whether the Trainer should train with autocast on ``dev``.

    True on CUDA/ROCm GPUs only: CPU autocast is usually slower than float32 on CPUs without
    bf16 matrix units, and MPS/XPU autocast coverage still varies between torch releases.

    >>> supports_mixed_precision(torch.device("cpu"))
    False
    """
    return _device_type(dev) == "cuda"


def autocast_dtype(dev: torch.device | str) -> torch.dtype:
    """The low-precision dtype to autocast to on ``dev``.

    CUDA/ROCm: bfloat16 when the GPU supports it (no loss scaling needed), else float16.
    CPU and XPU autocast in bfloat16; MPS in float16.

    >>> autocast_dtype("cpu")
    torch.bfloat16
    """
    device_type = _device_type(dev)
    if device_type == "cuda":
        return torch.bfloat16 if _cuda_bf16_supported() else torch.float16
    if device_type == "mps":
        return torch.float16
    return torch.bfloat16
