"""Deciding what to train and running it: task profiles and the main ``fit`` job.

``fit`` and ``RunResult`` load on first use: model families import
:mod:`zen.orchestrator.profile`, and an eager import of the job module (which imports those
families) would be circular.
"""

from __future__ import annotations

import importlib
from typing import Any

from zen.orchestrator.profile import TaskProfile, detect_task, profile_table

_LAZY = {"fit": "zen.orchestrator.jobs", "RunResult": "zen.orchestrator.jobs",
         "read_table": "zen.orchestrator.jobs"}  # fmt: skip

__all__ = ["RunResult", "TaskProfile", "detect_task", "fit", "profile_table", "read_table"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'zen.orchestrator' has no attribute {name!r}")
