r"""Training losses for forecasting models, computed on scaled windows.

A loss says how many outputs the network makes per horizon step (``outputs_per_step``), how to
turn those outputs into the point forecast, and, for quantile losses, which quantiles they are.

* ``MAE``: :math:`\frac{1}{h}\sum_t |y_t - \hat y_t|` (the N-BEATS/N-HiTS default).
* ``MSE``: :math:`\frac{1}{h}\sum_t (y_t - \hat y_t)^2`.
* ``Huber``: quadratic below ``delta``, linear above.
* ``MQLoss``: the pinball loss averaged over quantiles,
  :math:`\rho_q(u) = \max(q u, (q - 1) u)`, :math:`u = y - \hat y_q`; with ``level=[80, 95]`` it
  learns the median and the 10/90 and 2.5/97.5 % quantiles, so forecasts carry intervals.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional

from zen.errors import ConfigError, expect_one_of


class ForecastLoss:
    """Base of the forecasting losses (point losses have one output per step)."""

    name = "loss"
    outputs_per_step = 1
    quantiles: tuple[float, ...] = ()

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``y_hat``: ``(batch, h, outputs_per_step)``; ``y``: ``(batch, h)``."""
        raise NotImplementedError

    def point(self, y_hat: torch.Tensor) -> torch.Tensor:
        """The point forecast ``(batch, h)`` from the network outputs."""
        return y_hat[..., 0]

    def config(self) -> dict:
        return {"name": self.name}


class MAE(ForecastLoss):
    """Mean absolute error."""

    name = "mae"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y_hat[..., 0] - y).abs().mean()


class MSE(ForecastLoss):
    """Mean squared error."""

    name = "mse"

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((y_hat[..., 0] - y) ** 2).mean()


class Huber(ForecastLoss):
    """Huber loss with threshold ``delta`` (in scaled units)."""

    name = "huber"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = float(delta)

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return functional.huber_loss(y_hat[..., 0], y, delta=self.delta)

    def config(self) -> dict:
        return {"name": self.name, "delta": self.delta}


class MQLoss(ForecastLoss):
    """Multi-quantile (pinball) loss for the median and the bounds of each level in %."""

    name = "mqloss"

    def __init__(self, level: Sequence[float] = (80, 90)) -> None:
        levels = sorted(float(value) for value in level)
        if not levels or any(not 0 < value < 100 for value in levels):
            raise ConfigError(f"level: expected percentages in (0, 100), got {list(level)}")
        self.level = tuple(levels)
        lows = [0.5 - value / 200 for value in reversed(levels)]
        highs = [0.5 + value / 200 for value in levels]
        self.quantiles = (*lows, 0.5, *highs)
        self.outputs_per_step = len(self.quantiles)
        self._median = len(lows)

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q = torch.tensor(self.quantiles, dtype=y_hat.dtype, device=y_hat.device)
        error = y.unsqueeze(-1) - y_hat
        return torch.maximum(q * error, (q - 1) * error).mean()

    def point(self, y_hat: torch.Tensor) -> torch.Tensor:
        return _rearranged(y_hat)[..., self._median]

    def interval(self, y_hat: torch.Tensor, level: float) -> tuple[torch.Tensor, torch.Tensor]:
        """Lower and upper bound ``(batch, h)`` of the ``level`` % interval.

        Quantiles learned separately can cross; sorting them ("rearrangement", Chernozhukov,
        Fernández-Val & Galichon 2010) restores the order and never increases the loss.
        """
        y_hat = _rearranged(y_hat)
        if float(level) not in self.level:
            raise ConfigError(
                f"level: {level} was not trained; this model's loss has levels {list(self.level)}"
            )
        low = self.quantiles.index(0.5 - float(level) / 200)
        high = self.quantiles.index(0.5 + float(level) / 200)
        return y_hat[..., low], y_hat[..., high]

    def config(self) -> dict:
        return {"name": self.name, "level": list(self.level)}


def _rearranged(y_hat: torch.Tensor) -> torch.Tensor:
    return y_hat.sort(dim=-1).values


_LOSSES = {"mae": MAE, "mse": MSE, "huber": Huber, "mqloss": MQLoss}


def get_loss(loss: str | ForecastLoss | dict) -> ForecastLoss:
    """A loss from a name (``"mae"``), a config dict (``{"name": "mqloss", "level": [80]}``) or
    an instance."""
    if isinstance(loss, ForecastLoss):
        return loss
    if isinstance(loss, dict):
        options = dict(loss)
        name = str(options.pop("name", ""))
    else:
        name, options = str(loss), {}
    key = name.lower()
    if key not in _LOSSES:
        raise expect_one_of("loss", name, sorted(_LOSSES))
    return _LOSSES[key](**options)
