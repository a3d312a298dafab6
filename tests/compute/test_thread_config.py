"""configure_threads and available_cores: argument, ZEN_NUM_THREADS, cores, validation, and a
count the user chose (torch.set_num_threads, OMP_NUM_THREADS) staying as it is."""

from __future__ import annotations

import importlib
import logging
import os

import pytest
import torch

from zen.compute import available_cores, configure_threads
from zen.errors import ConfigError

thread_count_module = importlib.import_module("zen.compute.thread_count")


@pytest.fixture(autouse=True)
def restore_torch_threads(monkeypatch: pytest.MonkeyPatch):
    """Put torch's thread count back and keep the once-per-process interop setting untouched;
    each test starts as if torch's current count were its untouched default."""
    interop_calls: list[int] = []
    monkeypatch.setattr(torch, "set_num_interop_threads", interop_calls.append)
    monkeypatch.setattr(thread_count_module, "_interop_attempted", False)
    monkeypatch.setattr(thread_count_module, "_applied", None)
    monkeypatch.setattr(thread_count_module, "_untouched_count", torch.get_num_threads())
    for name in thread_count_module.TORCH_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    before = torch.get_num_threads()
    yield interop_calls
    torch.set_num_threads(before)


def test_explicit_count_is_applied_and_returned():
    assert configure_threads(1) == 1
    assert torch.get_num_threads() == 1


def test_zen_num_threads_is_honoured_without_an_argument(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZEN_NUM_THREADS", " 1 ")
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_argument_overrides_zen_num_threads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ZEN_NUM_THREADS", "2")
    assert configure_threads(1) == 1


def untouched_torch_with(monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Make ``count`` torch's thread count as if it were torch's own default."""
    torch.set_num_threads(count)
    monkeypatch.setattr(thread_count_module, "_untouched_count", count)


def test_default_caps_torch_at_the_cores_available_to_the_process(
    monkeypatch: pytest.MonkeyPatch,
):
    untouched_torch_with(monkeypatch, 2)
    monkeypatch.setattr(thread_count_module, "available_cores", lambda: 1)
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_default_never_raises_torchs_own_count(monkeypatch: pytest.MonkeyPatch):
    untouched_torch_with(monkeypatch, 1)
    monkeypatch.setattr(thread_count_module, "available_cores", lambda: 8)
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_a_count_set_with_torch_before_the_first_call_stays(monkeypatch: pytest.MonkeyPatch):
    untouched_torch_with(monkeypatch, 2)
    monkeypatch.setattr(thread_count_module, "available_cores", lambda: 1)
    torch.set_num_threads(3)  # the user's choice, even above the usable cores
    assert configure_threads() == 3
    assert torch.get_num_threads() == 3


@pytest.mark.parametrize("variable", ["OMP_NUM_THREADS", "MKL_NUM_THREADS"])
def test_a_count_given_to_torch_through_its_environment_stays(
    monkeypatch: pytest.MonkeyPatch, variable: str
):
    untouched_torch_with(monkeypatch, 2)
    monkeypatch.setattr(thread_count_module, "available_cores", lambda: 1)
    monkeypatch.setenv(variable, "2")
    assert configure_threads() == 2
    assert torch.get_num_threads() == 2


def test_zen_num_threads_overrides_a_count_set_with_torch(monkeypatch: pytest.MonkeyPatch):
    torch.set_num_threads(2)
    monkeypatch.setenv("ZEN_NUM_THREADS", "1")
    assert configure_threads() == 1 and torch.get_num_threads() == 1


@pytest.mark.parametrize("value", ["abc", "0", "-2", "1.5", "two"])
def test_invalid_zen_num_threads_raises_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, value: str
):
    monkeypatch.setenv("ZEN_NUM_THREADS", value)
    with pytest.raises(
        ConfigError, match=f"ZEN_NUM_THREADS: expected a positive integer, got '{value}'"
    ):
        configure_threads()


@pytest.mark.parametrize("value", [0, -1, True, 2.0, "2"])
def test_invalid_argument_raises_config_error_naming_it(value: object):
    with pytest.raises(ConfigError, match="num_threads: expected a positive integer or None"):
        configure_threads(value)  # type: ignore[arg-type]


def test_interop_threads_are_set_at_most_once(restore_torch_threads: list[int]):
    configure_threads(1)
    configure_threads(2)
    assert restore_torch_threads == [1]


def test_interop_runtime_error_is_swallowed(monkeypatch: pytest.MonkeyPatch):
    def already_set(count: int) -> None:
        raise RuntimeError("cannot set number of interop threads after parallel work has started")

    monkeypatch.setattr(torch, "set_num_interop_threads", already_set)
    assert configure_threads(1) == 1


def test_repeated_calls_are_idempotent_and_log_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="zen.compute.thread_count")
    calls: list[int] = []
    configure_threads(1)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    for _ in range(3):
        assert configure_threads(1) == 1
    assert calls == []  # already applied: torch is not touched again
    assert caplog.messages == ["using 1 CPU thread(s): num_threads argument"]


def test_available_cores_follows_the_affinity_mask(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert available_cores() == 3


def test_available_cores_falls_back_to_cpu_count(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert available_cores() == 7
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert available_cores() == 1


def test_available_cores_on_this_machine_is_positive():
    assert available_cores() >= 1


def test_default_is_applied_once_so_a_users_setting_holds():
    configure_threads()
    torch.set_num_threads(1)
    assert configure_threads() == 1
    assert torch.get_num_threads() == 1


def test_env_var_still_applies_after_the_default(monkeypatch: pytest.MonkeyPatch):
    configure_threads()
    monkeypatch.setenv("ZEN_NUM_THREADS", "1")
    assert configure_threads() == 1 and torch.get_num_threads() == 1
