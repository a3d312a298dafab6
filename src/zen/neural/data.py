"""Turning user data (numpy, pandas, torch) into checked tensors, splits and batches.

Validation happens here, once, at the boundary: shapes, lengths, NaN/inf and emptiness are
reported as :class:`~zen.errors.DataError` naming the argument. In-memory data is batched by
slicing a permuted index rather than through ``DataLoader``: per-sample collation costs more
than the forward pass of a small MLP.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from zen.errors import ConfigError, DataError

ArrayLike = np.ndarray | pd.DataFrame | pd.Series | torch.Tensor | list


def to_tensor(
    values: Any,
    name: str,
    *,
    dtype: torch.dtype | None = torch.float32,
    min_dim: int = 1,
    allow_nan: bool = False,
) -> torch.Tensor:
    """Convert ``values`` to a tensor, rejecting empty, non-numeric, NaN and infinite input.

    Args:
        values: numpy array, pandas DataFrame/Series, torch tensor or nested list.
        name: the argument name used in error messages (``"X"``, ``"y"``).
        dtype: target dtype; ``None`` keeps the dtype (after numpy conversion).
        min_dim: 1 for targets, 2 for feature matrices (a 1-D X becomes one column).
        allow_nan: accept NaN (sequences padded with NaN after their end, for networks whose
            ``nan_padding`` attribute is True); infinities are still refused.
    """
    if values is None:
        raise DataError(f"{name}: expected an array, got None")
    if isinstance(values, (pd.DataFrame, pd.Series)):
        non_numeric = _non_numeric_columns(values)
        if non_numeric:
            raise DataError(
                f"{name}: columns {non_numeric} are not numeric; encode them first"
                " (zen.tabular.TabularModel does this for you)"
            )
        values = values.to_numpy()
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        try:
            array = np.asarray(values)
        except (ValueError, TypeError) as error:
            raise DataError(f"{name}: could not be read as an array: {error}") from None
        if array.dtype.kind not in "biuf":
            raise DataError(f"{name}: expected numbers, got values of dtype {array.dtype}")
        if not array.flags.writeable:  # e.g. pandas' copy-on-write views
            array = array.copy()
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if dtype is not None and tensor.dtype != dtype:
        tensor = tensor.to(dtype)
    if tensor.numel() == 0 or tensor.shape[0] == 0:
        raise DataError(f"{name}: is empty (shape {tuple(tensor.shape)}); need at least one row")
    if min_dim == 2 and tensor.dim() == 1:
        tensor = tensor.unsqueeze(1)
    if tensor.is_floating_point():
        finite = torch.isfinite(tensor) | (torch.isnan(tensor) if allow_nan else False)
        if not bool(finite.all()):
            bad_rows = (~finite).reshape(tensor.shape[0], -1).any(dim=1).nonzero().flatten()
            kind = "NaN" if bool(torch.isnan(tensor[~finite]).any()) else "infinite"
            raise DataError(
                f"{name}: contains {kind} values in {len(bad_rows)} row(s) (first: row"
                f" {int(bad_rows[0])}); drop or impute them before training"
            )
    return tensor


def _non_numeric_columns(frame: pd.DataFrame | pd.Series) -> list[str]:
    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    return [
        str(column)
        for column, dtype in frame.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]


def check_features(x: torch.Tensor, expected: int | None, name: str = "X") -> None:
    """Raise when ``x`` does not have ``expected`` feature columns (when that is known)."""
    if expected is not None and (x.dim() != 2 or x.shape[1] != expected):
        got = x.shape[1] if x.dim() == 2 else f"shape {tuple(x.shape)}"
        raise DataError(f"{name}: expected {expected} feature columns, got {got}")


def check_lengths(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise when X and y disagree on the number of samples."""
    if x.shape[0] != y.shape[0]:
        raise DataError(f"X and y: lengths differ (X has {x.shape[0]} rows, y has {y.shape[0]})")


def class_targets(y: torch.Tensor, name: str = "y") -> torch.Tensor:
    """Class indices (int64, 1-D) from integer-valued targets, for cross-entropy.

    Fractional or negative labels are a :class:`ConfigError`: they suit another loss, not
    ``cross_entropy``.
    """
    if y.dim() == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.dim() != 1:
        raise DataError(f"{name}: expected one class index per row, got shape {tuple(y.shape)}")
    if y.is_floating_point():
        fractional = (y != y.round()).nonzero().flatten()
        if len(fractional):
            first = int(fractional[0])
            raise ConfigError(
                f"{name}: loss='cross_entropy' needs integer class labels 0..C-1, but the"
                f" targets ({str(y.dtype).removeprefix('torch.')}, shape {tuple(y.shape)}) hold"
                f" fractional values (first: {float(y[first]):g} in row {first}); class labels"
                " must be integers, and for real-valued targets use loss='mse' (or 'mae',"
                " 'huber')"
            )
    labels = y.long()
    if int(labels.min()) < 0:
        raise ConfigError(
            f"{name}: loss='cross_entropy' needs class labels 0..C-1, but the smallest is"
            f" {int(labels.min())}; encode the labels as 0..C-1"
        )
    return labels


@dataclass(frozen=True)
class Split:
    """Indices of a train/validation split."""

    train: torch.Tensor
    val: torch.Tensor | None


def split_indices(n: int, val_fraction: float, generator: torch.Generator) -> Split:
    """Shuffle ``range(n)`` and hold out ``val_fraction`` of it (at least one sample)."""
    order = torch.randperm(n, generator=generator)
    if val_fraction <= 0:
        return Split(order, None)
    n_val = max(1, round(n * val_fraction))
    if n - n_val < 1:
        raise DataError(
            f"val_split={val_fraction} leaves no training data for {n} sample(s);"
            " lower val_split or provide more data"
        )
    return Split(order[n_val:], order[:n_val])


class TensorBatches:
    """Mini-batches of in-memory tensors, reshuffled every pass when ``shuffle`` is set.

    Iterating yields ``(x_batch, y_batch)`` tuples, like a ``DataLoader`` over a
    ``TensorDataset`` but without per-sample collation.
    """

    def __init__(
        self,
        tensors: tuple[torch.Tensor, ...],
        batch_size: int,
        *,
        shuffle: bool,
        generator: torch.Generator | None = None,
    ) -> None:
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return self.tensors[0].shape[0]

    def __len__(self) -> int:
        return -(-self.num_samples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = self.num_samples
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            shuffled = tuple(tensor[order] for tensor in self.tensors)
        else:
            shuffled = self.tensors
        for start in range(0, n, self.batch_size):
            yield tuple(tensor[start : start + self.batch_size] for tensor in shuffled)
