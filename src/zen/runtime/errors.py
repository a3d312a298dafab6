"""What the inference engine raises, besides :class:`~zen.errors.DataError` for bad requests.

Each class is what a caller handles differently; the server maps them to HTTP statuses:
:class:`ModelNotFound` 404, :class:`ModelNotReady` and :class:`Overloaded` 503,
:class:`DeadlineExceeded` 503 when rejected before running (``early``) and 504 otherwise.
"""

from __future__ import annotations

from zen.errors import ZenError

__all__ = ["DeadlineExceeded", "ModelNotFound", "ModelNotReady", "Overloaded"]


class ModelNotFound(ZenError, LookupError):
    """No model of that name is registered; ``known`` lists the names that are."""

    def __init__(self, name: str, known: list[str]) -> None:
        listed = ", ".join(sorted(known)) if known else "none"
        super().__init__(f"unknown model {name!r}; known models: {listed}")
        self.name = name
        self.known = sorted(known)


class ModelNotReady(ZenError, RuntimeError):
    """The model is still loading, failed to load, or the engine is shutting down."""


class Overloaded(ZenError, RuntimeError):
    """The request was turned away for lack of capacity (queue full, work shed); retry later."""


class DeadlineExceeded(ZenError, TimeoutError):
    """The request could not finish by its deadline.

    Attributes:
        early: True when it was rejected before running because the estimate (queue wait plus
            measured batch latency) already passed the deadline; False when time ran out.
    """

    def __init__(self, message: str, *, early: bool) -> None:
        super().__init__(message)
        self.early = early
