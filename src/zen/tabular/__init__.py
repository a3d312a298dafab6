"""Learning on tables: encode mixed columns, train a dense network, predict labels or values."""

from __future__ import annotations

from zen.tabular.io import read_table
from zen.tabular.metrics import score, train_test_split
from zen.tabular.model import TabularModel
from zen.tabular.preprocessing import TablePreprocessor

__all__ = ["TablePreprocessor", "TabularModel", "read_table", "score", "train_test_split"]
