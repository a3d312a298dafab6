"""How a task talks to the scheduler: slice boundaries, offloaded heavy work, releases.

A cooperative task is a generator or a coroutine. Every ``yield`` (or ``await next_slice()``)
ends a slice and hands control back to the scheduler; ``yield offload(fn, *args)`` (or
``await offload(fn, *args)``) runs ``fn`` on a worker thread of the task's tier and resumes the
task with its result (or raises its exception inside the task). Generators and coroutines speak
the same protocol; coroutines only need the two awaitables defined here, not an asyncio loop.

>>> def analyse(frames):
...     features = frames.mean(axis=-1)            # slice 1, on the scheduler thread
...     scores = yield offload(model, features)    # heavy: worker thread, GIL released
...     return scores.argmax()                     # slice 2
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any

from zen.errors import ConfigError, ZenError

logger = logging.getLogger(__name__)

Cooperative = Generator[Any, Any, Any] | Coroutine[Any, Any, Any]


class TaskSkipped(ZenError, RuntimeError):
    """A job was dropped before it ran: degradation policy ``skip``, or the scheduler stopped."""


@dataclass(frozen=True)
class Release:
    """One release of a periodic task, on the scheduler's clock (seconds).

    Attributes:
        index: 0 for the first release of the task, then 1, 2, ...
        release_s: when the job became due.
        deadline_s: when it must be finished (absolute).
        period_s: time between releases.
    """

    index: int
    release_s: float
    deadline_s: float
    period_s: float


class _SliceBoundary:
    """What ``next_slice()`` yields; a bare ``yield`` (None) means the same."""

    def __repr__(self) -> str:
        return "<slice boundary>"


SLICE = _SliceBoundary()


class _NextSlice:
    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, Any]:
        value = yield SLICE
        return value


def next_slice() -> _NextSlice:
    """Awaitable ending the current slice; evaluates to the next :class:`Release` in a periodic
    task, ``None`` otherwise (a generator writes ``yield`` instead)."""
    return _NextSlice()


class Offload:
    """A call to run on a worker thread; yield or await it from a cooperative task."""

    __slots__ = ("args", "fn")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args

    def __await__(self) -> Generator[Any, Any, Any]:
        result = yield self
        return result

    def __repr__(self) -> str:
        return f"offload({task_name(self.fn)})"


def offload(fn: Callable[..., Any], *args: Any) -> Offload:
    """Run ``fn(*args)`` on a worker thread of the calling task's tier.

    Worth it for work that releases the GIL (torch, numpy, scipy, onnxruntime kernels): it runs
    in parallel with the real-time thread. ``result = yield offload(fn, x)`` in a generator,
    ``result = await offload(fn, x)`` in a coroutine.
    """
    if not callable(fn):
        raise TypeError(f"offload: expected a callable, got {type(fn).__name__}")
    return Offload(fn, args)


def is_cooperative(task: object) -> bool:
    """True for generator and coroutine objects (already created tasks)."""
    return inspect.isgenerator(task) or inspect.iscoroutine(task)


def is_cooperative_function(task: object) -> bool:
    """True for generator functions and ``async def`` functions (also behind functools.partial)."""
    return inspect.isgeneratorfunction(task) or inspect.iscoroutinefunction(task)


def task_name(task: object) -> str:
    """A readable name for a task: its function's qualified name."""
    if inspect.isgenerator(task):
        return task.gi_code.co_qualname
    if inspect.iscoroutine(task):
        return task.cr_code.co_qualname
    inner = getattr(task, "func", task)  # functools.partial
    return getattr(inner, "__qualname__", None) or type(inner).__name__


def step(coroutine: Cooperative, value: Any, error: BaseException | None) -> tuple[str, Any]:
    """Resume a task (send ``value``, or throw ``error``) until it yields or ends.

    Returns ``("slice", None)``, ``("offload", Offload)``, ``("return", value)``,
    ``("error", exception)`` or ``("bad", what_it_yielded)``.
    """
    try:
        yielded = coroutine.throw(error) if error is not None else coroutine.send(value)
    except StopIteration as stop:
        return "return", stop.value
    except Exception as caught:
        return "error", caught
    if yielded is None or yielded is SLICE:
        return "slice", None
    if isinstance(yielded, Offload):
        return "offload", yielded
    return "bad", yielded


def bad_yield(name: str, value: object) -> ConfigError:
    """The error of a task that yielded something other than a slice boundary or an offload."""
    return ConfigError(
        f"task {name} yielded {value!r}; yield nothing (a slice boundary) or offload(fn, ...),"
        " or in a coroutine await next_slice() or offload(...)"
    )


def close_task(coroutine: Cooperative) -> None:
    """Close a task (its ``finally`` blocks run); an error there is logged, not raised."""
    try:
        coroutine.close()
    except Exception as error:  # a finally block that raises: report, do not propagate
        logger.warning("closing task %s raised %r", task_name(coroutine), error)
