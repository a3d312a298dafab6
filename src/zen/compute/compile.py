"""Compile an ``nn.Module`` with ``torch.compile`` when it works and helps; run eager otherwise.

``torch.compile`` is lazy: most failures (missing C++ compiler, unsupported ops, graph breaks in
``fullgraph`` code) only surface on the first call. :class:`CompiledModule` therefore tries the
compiled path and, the first time it raises where eager succeeds, logs the reason once and
stays eager for good. Compilation never raises to the caller.

Set ``ZEN_COMPILE=0`` (or ``false``/``off``/``no``) to switch compilation off entirely.
"""

from __future__ import annotations

import logging
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from zen.errors import ConfigError, expect_one_of

logger = logging.getLogger(__name__)

ENV_VAR = "ZEN_COMPILE"
_DISABLED_VALUES = frozenset({"0", "false", "off", "no"})
_BENCHMARK_REPEATS = 5
# Used only when torch cannot list its own modes (older releases).
_FALLBACK_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

_logged_messages: set[str] = set()
_logged_lock = threading.Lock()


def _log_once(level: int, message: str) -> None:
    """Log ``message`` the first time it occurs in this process."""
    with _logged_lock:
        if message in _logged_messages:
            return
        _logged_messages.add(message)
    logger.log(level, message)


def _disabled_by_env() -> bool:
    """True when ``ZEN_COMPILE`` switches compilation off."""
    return os.environ.get(ENV_VAR, "").strip().lower() in _DISABLED_VALUES


def _unsupported_reason() -> str | None:
    """Why ``torch.compile`` cannot run here, or None when it can."""
    if not callable(getattr(torch, "compile", None)):
        return "this torch build has no torch.compile"
    try:
        import torch._dynamo as dynamo  # heavy import (~2 s): only paid when compiling
    except Exception as error:
        return f"torch._dynamo cannot be imported ({error})"
    is_supported = getattr(dynamo, "is_dynamo_supported", None)
    try:
        if callable(is_supported) and not is_supported():
            return (
                f"torch.compile does not support Python {platform.python_version()} "
                f"on {sys.platform} in torch {torch.__version__}"
            )
    except Exception as error:
        return f"torch._dynamo.is_dynamo_supported() failed ({error})"
    return None


def compile_status() -> str:
    """One line for humans: whether :func:`compile_module` would try ``torch.compile`` here."""
    if _disabled_by_env():
        return f"off ({ENV_VAR}={os.environ[ENV_VAR]})"
    reason = _unsupported_reason()
    return f"unavailable: {reason}" if reason else "available (torch.compile, eager fallback)"


def _known_modes() -> tuple[str, ...]:
    """The ``mode`` values this torch release accepts."""
    try:
        from torch._inductor import list_mode_options

        return tuple(list_mode_options())
    except Exception:
        return _FALLBACK_MODES


def _short_reason(error: BaseException) -> str:
    """One line naming an exception; dynamo messages run to pages."""
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
    if len(first_line) > 300:
        first_line = first_line[:297] + "..."
    return f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__


class CompiledModule(nn.Module):
    """An ``nn.Module`` that runs ``torch.compile``'s version of a module and falls back to eager.

    The original module is kept as ``_orig_mod`` (the name ``torch.compile`` uses), so
    parameters, buffers, ``.to()`` and ``.train()`` are shared with it. ``state_dict`` and
    ``load_state_dict`` use the original module's keys, so checkpoints move freely between
    the wrapper and the plain module; unknown attributes are looked up on the original too.

    Attributes:
        fallback_reason: None while the compiled path is in use; otherwise why it was dropped.
    """

    def __init__(self, module: nn.Module, compiled: Callable[..., Any], mode: str | None = None):
        super().__init__()
        self._orig_mod = module
        # Stored outside nn.Module's registries: torch.compile returns an nn.Module that holds
        # the same parameters, and registering it would duplicate them in modules()/state_dict.
        object.__setattr__(self, "_compiled_forward", compiled)
        self.mode = mode
        self.fallback_reason: str | None = None
        self.register_load_state_dict_pre_hook(_add_wrapper_prefix)

    @property
    def is_compiled(self) -> bool:
        """True while calls go through the compiled path."""
        return self.fallback_reason is None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the compiled module; on its first failure, switch to eager for good."""
        if self.fallback_reason is not None:
            return self._orig_mod(*args, **kwargs)
        try:
            return self._compiled_forward(*args, **kwargs)
        except Exception as error:
            compile_error = error
        # If eager raises as well, the inputs are at fault, not the compiler: let that
        # error through and keep the compiled path for the next (valid) call.
        output = self._orig_mod(*args, **kwargs)
        self._fall_back(compile_error)
        return output

    def _fall_back(self, error: Exception) -> None:
        """Stop using the compiled path and say why, once."""
        self.fallback_reason = _short_reason(error)
        logger.warning(
            "torch.compile failed for %s, running eager from now on: %s",
            type(self._orig_mod).__name__,
            self.fallback_reason,
        )
        logger.debug("torch.compile failure details", exc_info=error)

    def state_dict(  # type: ignore[override]
        self, *args: Any, destination: Any = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Any]:
        """The original module's state dict (no ``_orig_mod.`` prefix in the keys)."""
        return self._orig_mod.state_dict(
            *args, destination=destination, prefix=prefix, keep_vars=keep_vars
        )

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Load a state dict saved from the original module (or from this wrapper)."""
        return self._orig_mod.load_state_dict(state_dict, strict=strict, assign=assign)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "_orig_mod":  # not yet set (during __init__ or unpickling)
                raise
            return getattr(self._orig_mod, name)

    def extra_repr(self) -> str:
        state = "compiled" if self.is_compiled else f"eager ({self.fallback_reason})"
        return f"mode={self.mode!r}, running={state}"


def _add_wrapper_prefix(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, *_: Any
) -> None:
    """Map ``prefix.weight`` to ``prefix._orig_mod.weight`` when a parent module loads a wrapper."""
    inner = prefix + "_orig_mod."
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(inner)]:
        state_dict[inner + key[len(prefix) :]] = state_dict.pop(key)


def _median_call_time_s(
    module: Callable[..., Any], example_inputs: tuple[Any, ...], repeats: int = _BENCHMARK_REPEATS
) -> float:
    """Median wall time of ``repeats`` calls, after one untimed warm-up (which compiles)."""
    module(*example_inputs)
    timings = []
    for _ in range(repeats):
        _synchronize(example_inputs)
        start = time.perf_counter()
        module(*example_inputs)
        _synchronize(example_inputs)
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _synchronize(example_inputs: tuple[Any, ...]) -> None:
    """Wait for queued GPU work so timings measure it (CUDA kernels run asynchronously)."""
    if any(isinstance(x, torch.Tensor) and x.is_cuda for x in example_inputs):
        torch.cuda.synchronize()


def _choose_faster(
    module: nn.Module, wrapper: CompiledModule, example_inputs: tuple[Any, ...]
) -> nn.Module:
    """Time eager against compiled on ``example_inputs`` and return the faster one."""
    # Training-mode calls update buffers (BatchNorm running stats); benchmarking must not.
    saved_buffers = {name: b.detach().clone() for name, b in module.named_buffers()}
    try:
        try:
            eager_s = _median_call_time_s(module, example_inputs)
        except Exception as error:
            raise ConfigError(
                f"example_inputs: {type(module).__name__} raised {_short_reason(error)} when "
                "called on them in eager mode; pass a tuple of inputs the module accepts"
            ) from error
        compiled_s = _median_call_time_s(wrapper, example_inputs)
    finally:
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                if name in saved_buffers:
                    buffer.copy_(saved_buffers[name])
    if not wrapper.is_compiled:
        return module  # the wrapper already logged why
    name = type(module).__name__
    if compiled_s >= eager_s:
        logger.info(
            "keeping %s eager: compiled median %.3f ms is not faster than eager %.3f ms",
            name,
            compiled_s * 1e3,
            eager_s * 1e3,
        )
        return module
    logger.info(
        "compiled %s: median %.3f ms vs eager %.3f ms", name, compiled_s * 1e3, eager_s * 1e3
    )
    return wrapper


def compile_module(
    module: nn.Module, *, mode: str | None = None, example_inputs: tuple[Any, ...] | None = None
) -> nn.Module:
    """Return ``module`` compiled with ``torch.compile`` when that works and helps, else eager.

    Args:
        module: The module to compile.
        mode: ``torch.compile`` mode (``"default"``, ``"reduce-overhead"``, ``"max-autotune"``...).
        example_inputs: Positional inputs for one forward call. When given, eager and compiled
            are timed on them now (median of a few calls) and compiled is kept only if faster.

    Returns:
        Either ``module`` itself (compilation off, unsupported or not faster) or a
        :class:`CompiledModule` wrapping it that falls back to eager if compiled calls fail.
        Both share parameters and ``state_dict`` keys with ``module``.

    Raises:
        ConfigError: ``module`` is not an ``nn.Module``, ``mode`` is unknown, or
            ``example_inputs`` is not a tuple the module accepts.

    Example::

        model = compile_module(model, example_inputs=(x_batch,))
        loss = loss_fn(model(x_batch), y_batch)  # compiled, or eager if compiling failed
    """
    if not isinstance(module, nn.Module):
        raise ConfigError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
    if isinstance(module, CompiledModule):
        return module  # already wrapped: compiling the wrapper would nest two fallbacks
    if mode is not None and not isinstance(mode, str):
        raise ConfigError(f"mode: expected a string or None, got {type(mode).__name__}")
    if example_inputs is not None and not isinstance(example_inputs, tuple):
        raise ConfigError(
            f"example_inputs: expected a tuple of positional inputs, got "
            f"{type(example_inputs).__name__}; wrap a single tensor as (x,)"
        )
    if _disabled_by_env():
        _log_once(logging.INFO, f"running eager: torch.compile disabled by {ENV_VAR}")
        return module
    unsupported = _unsupported_reason()
    if unsupported is not None:
        _log_once(logging.INFO, f"running eager: {unsupported}")
        return module
    if mode is not None and mode not in (modes := _known_modes()):
        raise expect_one_of("mode", mode, modes)

    try:
        compiled = torch.compile(module, mode=mode)
    except Exception as error:
        logger.warning(
            "torch.compile failed for %s, running eager: %s",
            type(module).__name__,
            _short_reason(error),
        )
        return module
    wrapper = CompiledModule(module, compiled, mode)
    if example_inputs is not None:
        return _choose_faster(module, wrapper, example_inputs)
    return wrapper


compile = compile_module
