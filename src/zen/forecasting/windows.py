"""Cutting training windows out of :class:`~zen.forecasting.data.SeriesData` with tensor ops.

A window is ``input_size`` observed values followed by ``h`` values to forecast. Windows are
never materialised all at once: each batch draws series uniformly (every series counts the same,
whatever its length), then a start position uniformly within that series, and gathers the values
with one index tensor. Memory is ``O(batch · window)``, so a 10-million-point series trains in the
same memory as a short one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import numpy as np
import torch

from zen.forecasting.data import SeriesData


class WindowSampler:
    """An endless iterable of ``{"window": (batch, input_size + h)}`` training batches.

    With temporal covariates, batches also hold ``"exog": (batch, input_size + h, k)`` cut at
    the same positions; with static ones, ``"static": (batch, s)`` of each window's series.

    Args:
        data: the training series (each at least ``input_size + h`` long).
        input_size: length of the model's input.
        h: forecast horizon.
        batch_size: windows per batch.
        generator: the random generator (seeded by the model's ``random_seed``).
        end_trim: values at the end of every series kept out of training (the validation part).
        exog: temporal covariates aligned with ``data.values``, ``(total_points, k)``.
        static: static covariates, ``(n_series, s)``.
    """

    def __init__(
        self,
        data: SeriesData,
        input_size: int,
        h: int,
        batch_size: int,
        generator: torch.Generator,
        end_trim: int = 0,
        exog: torch.Tensor | None = None,
        static: torch.Tensor | None = None,
    ) -> None:
        self.values = data.values
        self.exog, self.static = exog, static
        self.window = input_size + h
        self.batch_size = batch_size
        self.generator = generator
        self.starts = torch.from_numpy(data.indptr[:-1].copy())
        # Number of valid window positions per series (>= 1 by the length check upstream).
        counts = data.lengths - end_trim - self.window + 1
        self.counts = torch.from_numpy(np.maximum(counts, 1).astype(np.int64))
        self.offsets = torch.arange(self.window)
        self.rank, self.num_replicas = 0, 1

    def shard(self, rank: int, num_replicas: int, model: object = None) -> WindowSampler:
        """Worker ``rank``'s share for data-parallel training (``Trainer(strategy="ddp")``).

        Every shard draws the same ``batch_size * num_replicas`` windows per step from a copy
        of this sampler's generator and keeps every ``num_replicas``-th: the workers' batches
        are disjoint and together make the batch one process would draw with that size.
        ``model`` is unused (part of the loaders' ``shard`` protocol).
        """
        part = copy.copy(self)
        part.generator = torch.Generator().manual_seed(0)
        part.generator.set_state(self.generator.get_state())
        part.rank, part.num_replicas = rank, num_replicas
        return part

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        n_series = len(self.counts)
        drawn = self.batch_size * self.num_replicas
        while True:
            series = torch.randint(n_series, (drawn,), generator=self.generator)
            fraction = torch.rand(drawn, generator=self.generator, dtype=torch.float64)
            if self.num_replicas > 1:
                series = series[self.rank :: self.num_replicas]
                fraction = fraction[self.rank :: self.num_replicas]
            start = (fraction * self.counts[series]).long()
            index = (self.starts[series] + start).unsqueeze(1) + self.offsets
            batch = {"window": self.values[index]}
            if self.exog is not None:
                batch["exog"] = self.exog[index]
            if self.static is not None:
                batch["static"] = self.static[series]
            yield batch


def last_windows(
    data: SeriesData, length: int, end_trim: int = 0, values: torch.Tensor | None = None
) -> torch.Tensor:
    """The last ``length`` values of every series (before ``end_trim`` values), ``(n, length)``.

    ``values`` (default ``data.values``) may be any tensor aligned with the series' points,
    e.g. covariates ``(total_points, k)``, giving ``(n, length, k)``.
    """
    ends = torch.from_numpy(data.indptr[1:] - end_trim)
    index = (ends - length).unsqueeze(1) + torch.arange(length)
    return (data.values if values is None else values)[index]


def validation_index(
    data: SeriesData, input_size: int, h: int, val_size: int, max_windows: int = 32768
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of the validation windows: those whose ``h`` targets lie in the last
    ``val_size`` points of each series, ``(n_windows, input_size + h)``, and each window's
    series ``(n_windows,)``.

    Every such window is used (stride 1, as in the long-horizon literature's validation) unless
    there are more than ``max_windows``; then they are evenly thinned to bound the cost of a
    validation pass.
    """
    per_series = val_size - h + 1
    stride = max(1, math.ceil(data.n_series * per_series / max_windows))
    offsets = torch.arange(0, per_series, stride)
    ends = torch.from_numpy(data.indptr[1:])
    starts = (ends - val_size - input_size).unsqueeze(1) + offsets  # (n_series, per_series)
    index = starts.reshape(-1, 1) + torch.arange(input_size + h)
    series = torch.arange(data.n_series).repeat_interleave(len(offsets))
    return index, series
