"""Deciding what to train and running it: task profiles, the router, History, workflows,
tuning and the main ``fit`` job.

>>> from zen.orchestrator import History, Workflow, route
>>> from zen.orchestrator.tune import tune

Everything but the profile loads on first use: model families import
:mod:`zen.orchestrator.profile`, so an eager import of the jobs (which import those families)
would be circular. ``tune`` is not exported here: the function would be shadowed by its module
(``zen.orchestrator.tune``) as soon as anything imports that module.
"""

from __future__ import annotations

import importlib
from typing import Any

from zen.profile import TaskProfile, detect_task, profile_table

_LAZY = {
    "fit": "zen.orchestrator.jobs",
    "RunResult": "zen.orchestrator.jobs",
    "read_table": "zen.orchestrator.jobs",
    "History": "zen.orchestrator.history",
    "Router": "zen.orchestrator.router",
    "route": "zen.orchestrator.router",
    "compare_policies": "zen.orchestrator.ab_test",
    "Step": "zen.orchestrator.workflow",
    "Workflow": "zen.orchestrator.workflow",
    "run_workflow": "zen.orchestrator.workflow",
}

__all__ = ["TaskProfile", "detect_task", "profile_table", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zen.orchestrator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
