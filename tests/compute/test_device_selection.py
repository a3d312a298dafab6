"""Device selection: order of preference, ZEN_DEVICE, fallbacks and logging."""

from __future__ import annotations

import importlib
import logging
import warnings
from dataclasses import FrozenInstanceError
from types import ModuleType

import pytest
import torch

from zen.compute import (
    DeviceInfo,
    autocast_dtype,
    available_devices,
    device,
    device_info,
    supports_mixed_precision,
)
from zen.errors import ConfigError

device_module = importlib.import_module("zen.compute.device")


def enable_cuda(monkeypatch: pytest.MonkeyPatch, count: int = 1) -> None:
    monkeypatch.setattr(device_module, "_cuda_available", lambda: True)
    monkeypatch.setattr(device_module, "_cuda_device_count", lambda: count)


def enable_xpu(monkeypatch: pytest.MonkeyPatch, count: int = 1) -> None:
    monkeypatch.setattr(device_module, "_xpu_available", lambda: True)
    monkeypatch.setattr(device_module, "_xpu_device_count", lambda: count)


# --- automatic choice ----------------------------------------------------------------------------


def test_auto_picks_cuda_when_available(devices: ModuleType, monkeypatch: pytest.MonkeyPatch):
    enable_cuda(monkeypatch)
    info = device_info()
    assert info.kind == "cuda"
    assert info.device.type == "cuda"
    assert info.name == "Fake GPU 0"
    assert info.reason == "CUDA available"


def test_rocm_build_reports_kind_rocm_with_cuda_device_type(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch)
    monkeypatch.setattr(torch.version, "hip", "6.2.41133")
    info = device_info()
    assert info.kind == "rocm"
    assert info.device.type == "cuda"
    assert "ROCm" in info.reason


def test_auto_picks_mps_when_it_is_the_only_accelerator(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    info = device_info()
    assert (info.kind, info.device.type) == ("mps", "mps")


def test_auto_picks_xpu_when_it_is_the_only_accelerator(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_xpu(monkeypatch)
    info = device_info()
    assert (info.kind, info.device.type, info.name) == ("xpu", "xpu", "Fake XPU 0")


def test_auto_picks_cpu_when_no_accelerator_is_available(devices: ModuleType):
    info = device_info()
    assert info.kind == "cpu"
    assert info.device == torch.device("cpu")
    assert info.reason == "no CUDA, ROCm, MPS or XPU device available"
    assert info.name  # the CPU model or at least the architecture


def test_cuda_is_preferred_over_mps_and_xpu(devices: ModuleType, monkeypatch: pytest.MonkeyPatch):
    enable_cuda(monkeypatch)
    enable_xpu(monkeypatch)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert device_info().kind == "cuda"


def test_mps_is_preferred_over_xpu(devices: ModuleType, monkeypatch: pytest.MonkeyPatch):
    enable_xpu(monkeypatch)
    monkeypatch.setattr(devices, "_mps_available", lambda: True)
    assert device_info().kind == "mps"


@pytest.mark.parametrize("request_", ["auto", "AUTO", " auto "])
def test_auto_request_behaves_like_no_request(devices: ModuleType, request_: str):
    assert device(request_) == device(None) == torch.device("cpu")


def test_device_returns_the_torch_device_of_device_info(devices: ModuleType):
    assert device() == device_info().device


# --- explicit requests and ZEN_DEVICE --------------------------------------------------------


def test_zen_device_cpu_is_honoured_even_when_cuda_is_available(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch)
    monkeypatch.setenv("ZEN_DEVICE", "cpu")
    info = device_info()
    assert info.kind == "cpu"
    assert "ZEN_DEVICE=cpu" in info.reason


def test_zen_device_with_index_selects_that_gpu(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch, count=2)
    monkeypatch.setenv("ZEN_DEVICE", "cuda:1")
    info = device_info()
    assert info.device == torch.device("cuda", 1)
    assert info.name == "Fake GPU 1"


def test_explicit_request_overrides_zen_device(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch)
    monkeypatch.setenv("ZEN_DEVICE", "cuda")
    assert device("cpu") == torch.device("cpu")


def test_cuda_request_on_rocm_build_reports_rocm(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch)
    monkeypatch.setattr(torch.version, "hip", "6.2.41133")
    assert device_info("cuda").kind == "rocm"
    assert device_info("rocm:0").device == torch.device("cuda", 0)


def test_torch_device_request_is_accepted(devices: ModuleType, monkeypatch: pytest.MonkeyPatch):
    enable_cuda(monkeypatch, count=2)
    assert device(torch.device("cuda", 1)) == torch.device("cuda", 1)
    assert device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(
    ("zen_device", "setup", "expected_in_message"),
    [
        ("cuda", None, "CUDA is not available"),
        ("cuda:3", "one_cuda", "device index 3 is out of range: 1 CUDA device(s) visible"),
        ("rocm", "one_cuda", "this torch build uses NVIDIA CUDA, not ROCm"),
        ("mps", None, "MPS is not available"),
        ("xpu", None, "XPU is not available"),
        ("xpu:2", "one_xpu", "device index 2 is out of range: 1 XPU device(s) visible"),
    ],
)
def test_unusable_zen_device_falls_back_to_cpu_with_a_warning(
    devices: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    zen_device: str,
    setup: str | None,
    expected_in_message: str,
):
    if setup == "one_cuda":
        enable_cuda(monkeypatch, count=1)
    elif setup == "one_xpu":
        enable_xpu(monkeypatch, count=1)
    monkeypatch.setenv("ZEN_DEVICE", zen_device)
    with pytest.warns(UserWarning, match="falling back to cpu") as record:
        info = device_info()
    assert info.kind == "cpu"
    message = str(record[0].message)
    assert f"ZEN_DEVICE={zen_device}" in message
    assert expected_in_message in message
    assert expected_in_message in info.reason


def test_fallback_warning_points_at_the_caller(devices: ModuleType):
    with pytest.warns(UserWarning) as record:
        device("cuda")
    assert record[0].filename == __file__


def test_fallback_is_logged_at_info(devices: ModuleType, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="zen.compute.device")
    with pytest.warns(UserWarning):
        device("cuda:1")
    cpu_name = device_module._cpu_name()
    assert caplog.messages == [
        f"using cpu: cuda:1 requested but CUDA is not available ({cpu_name})"
    ]


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "cuda:-1", "auto:0", ""])
def test_unknown_device_name_raises_config_error_listing_valid_names(devices: ModuleType, bad: str):
    with pytest.raises(ConfigError, match=r"device: unknown value .*expected one of: auto, cuda"):
        device(bad)


def test_unknown_zen_device_raises_config_error_naming_the_variable(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ZEN_DEVICE", "tpu")
    with pytest.raises(ConfigError, match=r"ZEN_DEVICE: unknown value 'tpu'.*rocm, mps, xpu, cpu"):
        device()


def test_unknown_torch_device_type_raises_config_error(devices: ModuleType):
    with pytest.raises(ConfigError, match="'meta'"):
        device(torch.device("meta"))


def test_empty_zen_device_means_auto(devices: ModuleType, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZEN_DEVICE", "  ")
    assert device_info().reason == "no CUDA, ROCm, MPS or XPU device available"


# --- logging -------------------------------------------------------------------------------------


def test_choice_is_logged_once_for_repeated_calls(
    devices: ModuleType, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="zen.compute.device")
    for _ in range(3):
        device()
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.INFO
    assert caplog.messages[0].startswith("using cpu: no CUDA, ROCm, MPS or XPU device available")


def test_each_distinct_choice_is_logged_once(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    enable_cuda(monkeypatch, count=2)
    caplog.set_level(logging.INFO, logger="zen.compute.device")
    for request in ["cpu", "cuda:0", "cuda:1", "cpu", "cuda:1", None]:
        device(request)
    assert len(caplog.records) == 4  # cpu, cuda:0, cuda:1, auto


def test_repeated_fallback_warns_but_logs_once(
    devices: ModuleType, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="zen.compute.device")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        device("mps")
        device("mps")
    assert len(record) == 2
    assert len(caplog.records) == 1


# --- listing and robustness ------------------------------------------------------------------


def test_available_devices_lists_accelerators_first_and_cpu_last(
    devices: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    enable_cuda(monkeypatch, count=2)
    enable_xpu(monkeypatch, count=1)
    found = available_devices()
    assert [(d.kind, str(d.device)) for d in found] == [
        ("cuda", "cuda:0"),
        ("cuda", "cuda:1"),
        ("xpu", "xpu:0"),
        ("cpu", "cpu"),
    ]


def test_available_devices_on_this_machine_ends_with_the_cpu():
    found = available_devices()
    assert found[-1].kind == "cpu"
    assert all(isinstance(d, DeviceInfo) for d in found)


def test_device_info_is_frozen(devices: ModuleType):
    info = device_info()
    with pytest.raises(FrozenInstanceError):
        info.kind = "cuda"  # type: ignore[misc]


def test_probes_survive_builds_without_mps_or_xpu_modules(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr(torch.backends, "mps", raising=False)
    monkeypatch.delattr(torch, "xpu", raising=False)
    assert device_module._mps_available() is False
    assert device_module._xpu_available() is False
    assert device_module._xpu_device_count() == 0


def test_is_rocm_follows_torch_version_hip(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(torch.version, "hip", None)
    assert device_module._is_rocm() is False
    monkeypatch.setattr(torch.version, "hip", "6.2.41133")
    assert device_module._is_rocm() is True


# --- precision -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dev", "expected"),
    [("cpu", False), ("cuda", True), ("cuda:1", True), ("mps", False), ("xpu", False)],
)
def test_mixed_precision_is_used_on_cuda_only(dev: str, expected: bool):
    assert supports_mixed_precision(torch.device(dev)) is expected


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_cuda_autocasts_to_bfloat16_when_supported_else_float16(
    monkeypatch: pytest.MonkeyPatch, bf16: bool, expected: torch.dtype
):
    monkeypatch.setattr(device_module, "_cuda_bf16_supported", lambda: bf16)
    assert autocast_dtype(torch.device("cuda")) == expected


def test_cpu_autocasts_to_bfloat16():
    assert autocast_dtype(torch.device("cpu")) == torch.bfloat16


def test_non_string_request_raises_config_error_naming_the_type(devices: ModuleType):
    with pytest.raises(ConfigError, match=r"device: expected a name such as 'cuda:1'.*got int"):
        device(3)  # type: ignore[arg-type]
