"""Deciding what to train and running it: task profiles, the router, History, workflows,
tuning and the main ``fit`` job.

>>> from zen.orchestrator import History, Workflow, route
>>> from zen.orchestrator.tune import tune

``tune`` is not exported here: the function would be shadowed by its module
(``zen.orchestrator.tune``) as soon as anything imports that module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from zen.orchestrator.ab_test import compare_policies
from zen.orchestrator.history import History
from zen.orchestrator.router import Router, route
from zen.orchestrator.workflow import Step, Workflow, run_workflow
from zen.profile import TaskProfile, detect_task, profile_table

if TYPE_CHECKING:
    from zen.orchestrator.jobs import RunResult, fit
    from zen.tabular import read_table

# CLI start-up time, not an import cycle: these need every model family (torch and the
# models take ~1.8 s to import), while `zen history`, `zen router compare` and the workflow
# commands import this package for History and the router alone (0.6 s). Nothing in zen
# imports them from here.
_HEAVY = {"fit": "zen.orchestrator.jobs", "RunResult": "zen.orchestrator.jobs",
          "read_table": "zen.tabular"}  # fmt: skip

__all__ = [
    "History",
    "Router",
    "RunResult",
    "Step",
    "TaskProfile",
    "Workflow",
    "compare_policies",
    "detect_task",
    "fit",
    "profile_table",
    "read_table",
    "route",
    "run_workflow",
]


def __getattr__(name: str) -> Any:
    if name in _HEAVY:
        return getattr(importlib.import_module(_HEAVY[name]), name)
    raise AttributeError(f"module 'zen.orchestrator' has no attribute {name!r}")
