"""Turning a mixed-type table into the float matrix a network needs, and back for targets.

Numeric columns: missing values become the training median, then each column is standardised
(networks train poorly on raw scales). Text/boolean columns: one-hot over the most frequent
levels; levels unseen in training (or rare ones) become all zeros. The fitted state is plain
JSON, so a saved model needs no pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from zen.errors import DataError


class TablePreprocessor:
    """Encode feature columns as a standardised float32 matrix (estimator contract: fit/transform).

    Args:
        numeric: numeric feature columns.
        categorical: text/boolean feature columns.
        max_categories: one-hot levels kept per categorical column (the most frequent).
    """

    def __init__(
        self, numeric: Sequence[str], categorical: Sequence[str], max_categories: int = 30
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.max_categories = max_categories

    def fit(self, frame: pd.DataFrame) -> TablePreprocessor:
        """Learn medians, means, scales and category levels from ``frame``."""
        self._check_columns(frame)
        numbers = frame[self.numeric].astype(np.float64)
        self.median_ = numbers.median().fillna(0.0).to_dict()
        filled = numbers.fillna(self.median_)
        self.mean_ = filled.mean().to_dict()
        # A constant column gets scale 1 so it encodes as zeros instead of dividing by zero.
        self.scale_ = filled.std(ddof=0).replace(0.0, 1.0).fillna(1.0).to_dict()
        self.levels_ = {
            column: [
                str(level)
                for level in frame[column].astype(str).value_counts().index[: self.max_categories]
            ]
            for column in self.categorical
        }
        self.feature_names_ = self._feature_names()
        return self

    def _feature_names(self) -> list[str]:
        return list(self.numeric) + [
            f"{column}={level}" for column in self.categorical for level in self.levels_[column]
        ]

    @property
    def n_features_out(self) -> int:
        """Width of the encoded matrix."""
        return len(self.feature_names_)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode ``frame`` (it must have every training column; extra columns are ignored)."""
        self._check_columns(frame)
        parts = []
        if self.numeric:
            numbers = frame[self.numeric].apply(pd.to_numeric, errors="coerce")
            bad = [
                column
                for column in self.numeric
                if (numbers[column].isna() & frame[column].notna()).any()
            ]
            if bad:
                raise DataError(f"columns {bad}: expected numbers, found text")
            numbers = numbers.astype(np.float64).fillna(self.median_)
            if np.isinf(numbers.to_numpy()).any():
                raise DataError("features: contain infinite values; replace them first")
            mean = pd.Series(self.mean_)[self.numeric]
            scale = pd.Series(self.scale_)[self.numeric]
            parts.append(((numbers - mean) / scale).to_numpy(dtype=np.float32))
        for column in self.categorical:
            values = frame[column].astype(str).to_numpy()
            levels = np.asarray(self.levels_[column])
            parts.append((values[:, None] == levels[None, :]).astype(np.float32))
        if not parts:
            return np.zeros((len(frame), 0), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts, axis=1))

    def _check_columns(self, frame: pd.DataFrame) -> None:
        missing = [column for column in self.numeric + self.categorical if column not in frame]
        if missing:
            raise DataError(
                f"data: missing feature column(s) {missing} that the model needs; it reads"
                f" {self.numeric + self.categorical} (other columns are ignored)"
            )

    def state(self) -> dict[str, Any]:
        """JSON-serialisable fitted state."""
        return {
            "numeric": self.numeric,
            "categorical": self.categorical,
            "max_categories": self.max_categories,
            "median": self.median_,
            "mean": self.mean_,
            "scale": self.scale_,
            "levels": self.levels_,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TablePreprocessor:
        """Rebuild a fitted preprocessor from :meth:`state`."""
        encoder = cls(state["numeric"], state["categorical"], state["max_categories"])
        encoder.median_ = dict(state["median"])
        encoder.mean_ = dict(state["mean"])
        encoder.scale_ = dict(state["scale"])
        encoder.levels_ = {key: list(value) for key, value in state["levels"].items()}
        encoder.feature_names_ = encoder._feature_names()
        return encoder
