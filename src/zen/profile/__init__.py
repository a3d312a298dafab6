"""Task profiles: look at data and say what kind of learning problem it is, and why.

A leaf of zen (it imports only :mod:`zen.errors`, NumPy and pandas), so that the model families,
the orchestrator and the runtime can all describe data the same way:

* :class:`TaskProfile` (:mod:`zen.profile.task`): kind, family, sizes, statistics, reasons;
* :func:`profile_table` and :func:`detect_task` (:mod:`zen.profile.tables`);
* :func:`profile_series`, :func:`series_table` (:mod:`zen.profile.series`) with the statistics
  of :mod:`zen.profile.series_stats` and the time axis of :mod:`zen.profile.calendar`;
* :func:`profile_graph` (:mod:`zen.profile.graphs`) with :mod:`zen.profile.graph_stats`;
* :func:`profile_sequences` (:mod:`zen.profile.sequences`) for labelled sequences.

>>> import pandas as pd
>>> profile_table(pd.DataFrame({"x": range(20), "label": ["a", "b"] * 10}), "label").kind
'classification'
"""

from __future__ import annotations

from zen.profile.graphs import is_undirected, profile_graph
from zen.profile.sequences import profile_images, profile_sequences
from zen.profile.series import (
    SeriesTable,
    is_time_series,
    profile_series,
    series_table,
    wide_to_long,
)
from zen.profile.tables import detect_task, profile_table
from zen.profile.task import (
    FAMILIES,
    LONG_COLUMNS,
    MAX_CLASSES,
    MIN_ROWS_PER_CLASS,
    TASK_KINDS,
    TIME_COLUMNS,
    Explanation,
    TaskProfile,
    family_of,
)

__all__ = [
    "FAMILIES",
    "LONG_COLUMNS",
    "MAX_CLASSES",
    "MIN_ROWS_PER_CLASS",
    "TASK_KINDS",
    "TIME_COLUMNS",
    "Explanation",
    "SeriesTable",
    "TaskProfile",
    "detect_task",
    "family_of",
    "is_time_series",
    "is_undirected",
    "profile_graph",
    "profile_images",
    "profile_sequences",
    "profile_series",
    "profile_table",
    "series_table",
    "wide_to_long",
]
