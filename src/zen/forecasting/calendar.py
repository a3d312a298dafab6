"""The time axis of real-world series (dates, frequency, gaps): :mod:`zen.profile.calendar`.

The functions live with the task profiles, which read time stamps too; they are importable
from here as well, and :func:`fill_gaps` from :mod:`zen.forecasting` (utilsforecast's name).
"""

from __future__ import annotations

from zen.profile.calendar import (
    GapReport,
    check_freq,
    describe_gaps,
    fill_gaps,
    infer_freq,
    mean_of_duplicates,
    parse_dates,
)

__all__ = [
    "GapReport",
    "check_freq",
    "describe_gaps",
    "fill_gaps",
    "infer_freq",
    "mean_of_duplicates",
    "parse_dates",
]
