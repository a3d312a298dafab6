"""compile(): torch.compile when it works and helps, eager otherwise, never raising for it.

Real inductor compiles take seconds on small machines, so all but one test replace
``torch.compile`` with fakes.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from zen.compute import CompiledModule, compile, compile_module
from zen.errors import ConfigError

compile_source = importlib.import_module("zen.compute.compile")


class FailingCompiled:
    """Stands in for a compiled module whose first call fails inside the compiler."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        raise RuntimeError("BackendCompilerFailed: no C++ compiler found\n(long dynamo trace)")


@pytest.fixture
def fake_compile(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[..., Any]], None]:
    """Make torch.compile(module, mode=...) return what ``factory(module)`` builds."""

    def install(factory: Callable[..., Any]) -> None:
        monkeypatch.setattr(torch, "compile", lambda module, mode=None: factory(module))
        monkeypatch.setattr(compile_source, "_unsupported_reason", lambda: None)

    return install


@pytest.fixture
def layer() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(4, 3)


def test_compile_is_an_alias_of_compile_module():
    assert compile is compile_module


# --- switching off -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "false", "OFF", "no", " No "])
def test_zen_compile_off_returns_the_module_unchanged_without_compiling(
    monkeypatch: pytest.MonkeyPatch, layer: nn.Linear, value: str
):
    monkeypatch.setenv("ZEN_COMPILE", value)

    def must_not_compile(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("torch.compile called although ZEN_COMPILE is off")

    monkeypatch.setattr(torch, "compile", must_not_compile)
    assert compile_module(layer) is layer


def test_zen_compile_off_is_logged_once_at_info(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, layer: nn.Linear
):
    monkeypatch.setenv("ZEN_COMPILE", "0")
    caplog.set_level(logging.INFO, logger="zen.compute.compile")
    compile_module(layer)
    compile_module(layer)
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.INFO
    assert "ZEN_COMPILE" in caplog.messages[0]


@pytest.mark.parametrize("value", ["1", "true", "yes", ""])
def test_other_zen_compile_values_leave_compilation_on(
    monkeypatch: pytest.MonkeyPatch, fake_compile, layer: nn.Linear, value: str
):
    monkeypatch.setenv("ZEN_COMPILE", value)
    fake_compile(lambda module: module)
    assert isinstance(compile_module(layer), CompiledModule)


def test_missing_torch_compile_runs_eager_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, layer: nn.Linear
):
    monkeypatch.delattr(torch, "compile")
    caplog.set_level(logging.INFO, logger="zen.compute.compile")
    assert compile_module(layer) is layer
    assert caplog.messages == ["running eager: this torch build has no torch.compile"]


def test_python_unsupported_by_dynamo_runs_eager_and_says_why(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, layer: nn.Linear
):
    import torch._dynamo

    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    caplog.set_level(logging.INFO, logger="zen.compute.compile")
    assert compile_module(layer) is layer
    assert "does not support Python" in caplog.messages[0]


# --- fallback on failure -------------------------------------------------------------------------


def test_failure_on_first_call_falls_back_to_eager_for_good(fake_compile, layer: nn.Linear):
    compiled = FailingCompiled()
    fake_compile(lambda module: compiled)
    model = compile_module(layer)
    x = torch.randn(2, 4)
    for _ in range(3):
        torch.testing.assert_close(model(x), layer(x))
    assert compiled.calls == 1
    assert not model.is_compiled
    assert "no C++ compiler found" in model.fallback_reason


def test_fallback_is_logged_once_at_warning_with_the_reason(
    fake_compile, layer: nn.Linear, caplog: pytest.LogCaptureFixture
):
    fake_compile(lambda module: FailingCompiled())
    model = compile_module(layer)
    caplog.set_level(logging.INFO, logger="zen.compute.compile")
    for _ in range(3):
        model(torch.randn(2, 4))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "RuntimeError: BackendCompilerFailed: no C++ compiler found" in warnings[0].getMessage()
    assert "long dynamo trace" not in warnings[0].getMessage()  # first line only


def test_torch_compile_raising_up_front_returns_the_eager_module(
    monkeypatch: pytest.MonkeyPatch, layer: nn.Linear
):
    def broken_compile(module: nn.Module, mode: str | None = None) -> None:
        raise RuntimeError("inductor unavailable")

    monkeypatch.setattr(torch, "compile", broken_compile)
    monkeypatch.setattr(compile_source, "_unsupported_reason", lambda: None)
    assert compile_module(layer) is layer


def test_errors_in_the_inputs_still_raise_and_keep_the_compiled_path(
    fake_compile, layer: nn.Linear
):
    fake_compile(lambda module: module)
    model = compile_module(layer)
    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        model(torch.randn(2, 5))
    assert model.is_compiled


# --- the wrapper behaves like the module ---------------------------------------------------------


def test_wrapper_state_dict_has_the_original_keys(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    model = compile_module(layer)
    assert list(model.state_dict()) == list(layer.state_dict()) == ["weight", "bias"]


def test_state_dicts_load_across_wrapper_and_plain_module(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    model = compile_module(layer)
    fresh = nn.Linear(4, 3)
    fresh.load_state_dict(model.state_dict())
    torch.testing.assert_close(fresh.weight, layer.weight)
    other = nn.Linear(4, 3)
    model.load_state_dict(other.state_dict())
    torch.testing.assert_close(layer.weight, other.weight)


def test_wrapper_nested_in_a_parent_keeps_the_parents_keys(fake_compile):
    fake_compile(lambda module: module)
    plain = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    wrapped = nn.Sequential(compile_module(nn.Linear(4, 3)), nn.BatchNorm1d(3))
    assert list(wrapped.state_dict()) == list(plain.state_dict())
    wrapped.load_state_dict(plain.state_dict())  # strict
    torch.testing.assert_close(wrapped[0].weight, plain[0].weight)


def test_wrapper_shares_parameters_mode_and_attributes(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    model = compile_module(layer)
    assert [id(p) for p in model.parameters()] == [id(p) for p in layer.parameters()]
    assert model.in_features == 4
    model.eval()
    assert not layer.training
    assert "running=compiled" in repr(model)


def test_non_modules_are_rejected():
    with pytest.raises(ConfigError, match=r"module: expected a torch\.nn\.Module, got function"):
        compile_module(lambda x: x)  # type: ignore[arg-type]


def test_unknown_mode_is_rejected(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    with pytest.raises(ConfigError, match=r"mode: unknown value 'fastest'; expected one of: "):
        compile_module(layer, mode="fastest")


def test_example_inputs_must_be_a_tuple(layer: nn.Linear):
    with pytest.raises(ConfigError, match=r"example_inputs: .*got Tensor; wrap a single tensor"):
        compile_module(layer, example_inputs=torch.randn(2, 4))  # type: ignore[arg-type]


# --- "when it helps" -----------------------------------------------------------------------------


@pytest.fixture
def timings(monkeypatch: pytest.MonkeyPatch) -> dict[str, float]:
    """Replace the stopwatch: eager and compiled calls 'take' what the test sets."""
    measured = {"eager": 1e-3, "compiled": 1e-3}

    def fake_median(fn: Callable[..., Any], example_inputs: tuple[Any, ...]) -> float:
        fn(*example_inputs)
        return measured["compiled" if isinstance(fn, CompiledModule) else "eager"]

    monkeypatch.setattr(compile_source, "_median_call_time_s", fake_median)
    return measured


@pytest.mark.parametrize(
    ("compiled_s", "keeps_compiled"), [(0.5e-3, True), (1e-3, False), (2e-3, False)]
)
def test_example_inputs_keep_compiled_only_when_faster(
    fake_compile, timings, layer: nn.Linear, compiled_s: float, keeps_compiled: bool
):
    fake_compile(lambda module: module)
    timings["compiled"] = compiled_s
    model = compile_module(layer, example_inputs=(torch.randn(2, 4),))
    assert isinstance(model, CompiledModule) is keeps_compiled
    if not keeps_compiled:
        assert model is layer


def test_benchmark_decision_is_logged(
    fake_compile, timings, layer: nn.Linear, caplog: pytest.LogCaptureFixture
):
    fake_compile(lambda module: module)
    caplog.set_level(logging.INFO, logger="zen.compute.compile")
    compile_module(layer, example_inputs=(torch.randn(2, 4),))
    assert "keeping Linear eager" in caplog.messages[-1]


def test_example_inputs_failing_to_compile_return_the_eager_module(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: FailingCompiled())
    assert compile_module(layer, example_inputs=(torch.randn(2, 4),)) is layer


def test_benchmarking_leaves_buffers_untouched(fake_compile):
    fake_compile(lambda module: module)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    compile_module(model, example_inputs=(torch.randn(8, 4) + 5,))
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_example_inputs_the_module_rejects_raise_config_error(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    with pytest.raises(ConfigError, match="example_inputs: Linear raised RuntimeError"):
        compile_module(layer, example_inputs=(torch.randn(2, 5),))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_real_compile_of_a_tiny_module_matches_eager(layer: nn.Linear):
    model = compile_module(layer)
    x = torch.randn(2, 4)
    torch.testing.assert_close(model(x), layer(x))


def test_an_already_compiled_module_is_not_wrapped_twice(fake_compile, layer: nn.Linear):
    fake_compile(lambda module: module)
    model = compile_module(layer)
    assert compile_module(model) is model
