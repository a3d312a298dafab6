"""Exogenous variables (covariates) of window models: which ones, how they are scaled and cut.

Three kinds, with neuralforecast's argument names:

* ``hist_exog_list``: temporal variables known only up to the forecast origin (e.g. a measured
  load); a model sees them over its ``input_size`` steps.
* ``futr_exog_list``: temporal variables known in advance (calendar, prices, planned events);
  a model sees them over the input and the ``h`` forecast steps, so ``predict`` needs their
  future values (``futr_df``).
* ``stat_exog_list``: one value per series (``static_df``), e.g. a store's size or category.

Covariates are standardised per column with the mean and standard deviation of the training
data, kept as buffers of the network so that saved models scale new data identically. Unlike
the target they are not rescaled per window: a per-window scaler would erase the level of a
slowly moving covariate, and turn a flag that is constant within a window into zeros.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
from torch import nn

from zen.errors import ConfigError

EXOGENOUS_KINDS = {
    "hist_exog_list": "historic",
    "futr_exog_list": "future",
    "stat_exog_list": "static",
}
_EPSILON = 1e-6


class Covariates(NamedTuple):
    """Scaled covariates of a batch of windows (each part None when the model has none).

    Attributes:
        hist: historic variables over the input, ``(batch, input_size, n_hist)``.
        futr: future variables over input and horizon, ``(batch, input_size + h, n_futr)``.
        static: static variables, ``(batch, n_stat)``.
    """

    hist: torch.Tensor | None
    futr: torch.Tensor | None
    static: torch.Tensor | None

    def flat(self) -> torch.Tensor:
        """Every value of the three parts side by side, ``(batch, features)`` (N-HiTS' input)."""
        parts = [part.flatten(1) for part in self if part is not None]
        return torch.cat(parts, dim=1)


def exogenous_lists(
    model_name: str, supported: Sequence[str], lists: Mapping[str, Sequence[str] | None]
) -> dict[str, list[str]]:
    """Validate a model's ``*_exog_list`` arguments; returns them as lists (``[]`` for None).

    Raises:
        ConfigError: a list for a kind the model's paper does not use, entries that are not
            strings, repeated names, or a name listed as both historic and future.
    """
    checked: dict[str, list[str]] = {}
    for argument, names in lists.items():
        names = [] if names is None else names
        if isinstance(names, str) or not all(isinstance(name, str) for name in names):
            raise ConfigError(f"{argument}: expected a list of column names, got {names!r}")
        names = list(names)
        if names and argument not in supported:
            usable = ", ".join(supported) or "none"
            raise ConfigError(
                f"{argument}: {model_name} does not use {EXOGENOUS_KINDS[argument]} exogenous"
                f" variables (it supports: {usable}); use NHITS or TCN for them"
            )
        if len(set(names)) != len(names):
            raise ConfigError(f"{argument}: repeated column names in {names}")
        checked[argument] = names
    both = set(checked.get("hist_exog_list", ())) & set(checked.get("futr_exog_list", ()))
    if both:
        raise ConfigError(
            f"hist_exog_list: {sorted(both)} also in futr_exog_list; a future variable is"
            " already seen over the input, list it once"
        )
    return checked


class CovariateScaler(nn.Module):
    """Standardise covariates with training statistics and split a batch into its parts.

    Temporal batches hold the historic columns first, then the future ones:
    ``exog (batch, input_size + h, n_hist + n_futr)``.
    """

    temporal_location: torch.Tensor
    temporal_scale: torch.Tensor
    static_location: torch.Tensor
    static_scale: torch.Tensor

    def __init__(self, n_hist: int, n_futr: int, n_stat: int, input_size: int) -> None:
        super().__init__()
        self.n_hist, self.n_futr, self.n_stat = n_hist, n_futr, n_stat
        self.input_size = input_size
        self.register_buffer("temporal_location", torch.zeros(n_hist + n_futr))
        self.register_buffer("temporal_scale", torch.ones(n_hist + n_futr))
        self.register_buffer("static_location", torch.zeros(n_stat))
        self.register_buffer("static_scale", torch.ones(n_stat))

    @property
    def active(self) -> bool:
        return self.n_hist + self.n_futr + self.n_stat > 0

    def fit(self, exog: torch.Tensor | None, static: torch.Tensor | None) -> CovariateScaler:
        """Take each column's mean and standard deviation from the training data."""
        for values, location, scale in (
            (exog, self.temporal_location, self.temporal_scale),
            (static, self.static_location, self.static_scale),
        ):
            if values is not None and values.shape[1]:
                location.copy_(values.mean(dim=0))
                # A constant column keeps scale 1 rather than dividing by ~0.
                spread = values.std(dim=0, correction=0) if len(values) > 1 else None
                if spread is not None:
                    scale.copy_(torch.where(spread > _EPSILON, spread, torch.ones_like(spread)))
        return self

    def split(self, exog: torch.Tensor | None, static: torch.Tensor | None) -> Covariates | None:
        """Scaled :class:`Covariates` of a batch, or None for a model without covariates."""
        if not self.active:
            return None
        hist = futr = None
        if exog is not None and exog.shape[-1]:
            scaled = (exog - self.temporal_location) / self.temporal_scale
            if self.n_hist:
                hist = scaled[:, : self.input_size, : self.n_hist]
            if self.n_futr:
                futr = scaled[:, :, self.n_hist :]
        if static is not None and self.n_stat:
            static = (static - self.static_location) / self.static_scale
        return Covariates(hist, futr, static if self.n_stat else None)

    def extra_repr(self) -> str:
        return f"hist={self.n_hist}, futr={self.n_futr}, static={self.n_stat}"
