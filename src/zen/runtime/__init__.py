"""Serving models under real-time deadlines: the tiered scheduler and its session probe.

Names are imported on first use (``from zen.runtime import Scheduler``), so importing one part
of the runtime does not load the others (or torch).

>>> from zen.runtime import Scheduler, Tier
>>> Tier("inference").rank
1
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> module that defines it; add new modules' public names here and to __all__.
_EXPORTS = {
    "Scheduler": "zen.runtime.scheduler",
    "SchedulerConfig": "zen.runtime.scheduler",
    "SchedulerEvent": "zen.runtime.scheduler",
    "SchedulerStats": "zen.runtime.scheduler",
    "EventKind": "zen.runtime.scheduler",
    "PeriodicTask": "zen.runtime.scheduler",
    "Tier": "zen.runtime.scheduler",
    "TierPolicy": "zen.runtime.scheduler",
    "TierStats": "zen.runtime.scheduler",
    "Release": "zen.runtime.tasks",
    "TaskSkipped": "zen.runtime.tasks",
    "next_slice": "zen.runtime.tasks",
    "offload": "zen.runtime.tasks",
    "MonotonicClock": "zen.runtime.clock",
    "VirtualClock": "zen.runtime.clock",
    "SessionProbe": "zen.runtime.trace",
    "TraceSummary": "zen.runtime.trace",
    "InferenceEngine": "zen.runtime.engine",
    "EngineConfig": "zen.runtime.engine",
    "ModelSpec": "zen.runtime.engine",
    "Prediction": "zen.runtime.engine",
    "DeadlineExceeded": "zen.runtime.errors",
    "ModelNotFound": "zen.runtime.errors",
    "ModelNotReady": "zen.runtime.errors",
    "Overloaded": "zen.runtime.errors",
    "load_model": "zen.runtime.servables",
    "create_app": "zen.runtime.server",
}

__all__ = [
    "DeadlineExceeded",
    "EngineConfig",
    "EventKind",
    "InferenceEngine",
    "ModelNotFound",
    "ModelNotReady",
    "ModelSpec",
    "MonotonicClock",
    "Overloaded",
    "PeriodicTask",
    "Prediction",
    "Release",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerEvent",
    "SchedulerStats",
    "SessionProbe",
    "TaskSkipped",
    "Tier",
    "TierPolicy",
    "TierStats",
    "TraceSummary",
    "VirtualClock",
    "create_app",
    "load_model",
    "next_slice",
    "offload",
]

if TYPE_CHECKING:
    from zen.runtime.clock import MonotonicClock, VirtualClock
    from zen.runtime.engine import EngineConfig, InferenceEngine, ModelSpec, Prediction
    from zen.runtime.errors import DeadlineExceeded, ModelNotFound, ModelNotReady, Overloaded
    from zen.runtime.scheduler import (
        EventKind,
        PeriodicTask,
        Scheduler,
        SchedulerConfig,
        SchedulerEvent,
        SchedulerStats,
        Tier,
        TierPolicy,
        TierStats,
    )
    from zen.runtime.servables import load_model
    from zen.runtime.server import create_app
    from zen.runtime.tasks import Release, TaskSkipped, next_slice, offload
    from zen.runtime.trace import SessionProbe, TraceSummary


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'zen.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next lookup skips this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
