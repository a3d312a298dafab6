r"""Training losses for forecasting models, computed on scaled windows.

A loss says how many outputs the network makes per horizon step (``outputs_per_step``), how to
turn those outputs into the point forecast, and, for quantile losses, which quantiles they are.

* ``MAE``: :math:`\frac{1}{h}\sum_t |y_t - \hat y_t|` (the N-BEATS/N-HiTS default).
* ``MSE``: :math:`\frac{1}{h}\sum_t (y_t - \hat y_t)^2`.
* ``Huber``: quadratic below ``delta``, linear above.
* ``MQLoss``: the pinball loss averaged over quantiles,
  :math:`\rho_q(u) = \max(q u, (q - 1) u)`, :math:`u = y - \hat y_q`; with ``level=[80, 95]`` it
  learns the median and the 10/90 and 2.5/97.5 % quantiles, so forecasts carry intervals.
* ``DistributionLoss``: the negative log-likelihood of a Normal, StudentT or NegativeBinomial
  (DeepAR); forecasts are sample paths, summarised by their median and quantiles.
"""

from __future__ import annotations

import math
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


_DISTRIBUTIONS = ("Normal", "StudentT", "NegativeBinomial")
_HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)
_POSITIVE = 1e-6  # keeps scales and shapes strictly positive after softplus


class DistributionLoss(ForecastLoss):
    r"""Negative log-likelihood of a parametric distribution, for probabilistic models (DeepAR).

    The network emits ``outputs_per_step`` raw values per step; :meth:`parameters` maps them to
    the distribution's domain (softplus for scales and shapes, as in DeepAR, Salinas et al. 2020,
    sec. 3.1 and GluonTS' ``DistributionOutput``):

    * ``"Normal"``: :math:`\mu = o_1,\ \sigma = \mathrm{softplus}(o_2)`;
      :math:`\log\ell = -\log\sigma - \tfrac12\log 2\pi - \tfrac12 ((z-\mu)/\sigma)^2`.
    * ``"StudentT"``: :math:`\mu = o_1,\ \sigma = \mathrm{softplus}(o_2),\
      \nu = 2 + \mathrm{softplus}(o_3)` (finite variance);
      :math:`\log\ell = \log\Gamma(\tfrac{\nu+1}{2}) - \log\Gamma(\tfrac{\nu}{2})
      - \tfrac12\log(\nu\pi) - \log\sigma
      - \tfrac{\nu+1}{2}\log(1 + \tfrac{(z-\mu)^2}{\nu\sigma^2})`.
    * ``"NegativeBinomial"`` (counts): mean :math:`\mu = \mathrm{softplus}(o_1)`, shape
      :math:`\alpha = \mathrm{softplus}(o_2)` (paper eq. for :math:`\ell_{NB}`);
      :math:`\log\ell = \log\Gamma(z + \tfrac1\alpha) - \log\Gamma(z+1) - \log\Gamma(\tfrac1\alpha)
      - \tfrac1\alpha\log(1+\alpha\mu) + z\log\tfrac{\alpha\mu}{1+\alpha\mu}`.

    A ``scale`` :math:`\nu_i` (one per series window) can be given: Normal and StudentT then
    use :math:`(\nu_i\mu, \nu_i\sigma)`; NegativeBinomial uses :math:`(\nu_i\mu,
    \alpha/\sqrt{\nu_i})`, the paper's scale handling (sec. 3.3) for counts.

    Forecasts are sample paths ``(..., n_samples)``: :meth:`point` is their median and
    :meth:`interval` their empirical quantiles, so any ``level`` can be asked for after
    training; ``level`` lists the default levels (neuralforecast's argument).

    Example:
        >>> loss = DistributionLoss("Normal", level=[80, 90])
        >>> loss.outputs_per_step
        2
    """

    name = "distributionloss"

    def __init__(self, distribution: str = "StudentT", level: Sequence[float] = (80, 90)) -> None:
        if distribution not in _DISTRIBUTIONS:
            raise expect_one_of("distribution", distribution, _DISTRIBUTIONS)
        levels = sorted(float(value) for value in level)
        if any(not 0 < value < 100 for value in levels):
            raise ConfigError(f"level: expected percentages in (0, 100), got {list(level)}")
        self.distribution = distribution
        self.level = tuple(levels)
        self.outputs_per_step = 3 if distribution == "StudentT" else 2
        lows = [0.5 - value / 200 for value in reversed(levels)]
        self.quantiles = (*lows, 0.5, *[0.5 + value / 200 for value in levels])

    def parameters(
        self, outputs: torch.Tensor, scale: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Distribution parameters from raw outputs ``(..., outputs_per_step)``.

        Returns ``(mu, sigma)`` (Normal), ``(mu, sigma, df)`` (StudentT) or ``(mu, alpha)``
        (NegativeBinomial), each shaped ``outputs[..., 0]``; ``scale`` must broadcast to that.
        """
        if self.distribution == "NegativeBinomial":
            mu = functional.softplus(outputs[..., 0]) + _POSITIVE
            alpha = functional.softplus(outputs[..., 1]) + _POSITIVE
            if scale is not None:
                mu, alpha = mu * scale, alpha / scale.sqrt()
            return mu, alpha
        mu = outputs[..., 0]
        sigma = functional.softplus(outputs[..., 1]) + _POSITIVE
        if scale is not None:
            mu, sigma = mu * scale, sigma * scale
        if self.distribution == "Normal":
            return mu, sigma
        return mu, sigma, 2.0 + functional.softplus(outputs[..., 2])

    def log_likelihood(
        self, outputs: torch.Tensor, y: torch.Tensor, scale: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Log-likelihood of ``y`` (shaped ``outputs[..., 0]``), element by element."""
        if self.distribution == "Normal":
            mu, sigma = self.parameters(outputs, scale)
            return -sigma.log() - _HALF_LOG_TWO_PI - 0.5 * ((y - mu) / sigma) ** 2
        if self.distribution == "StudentT":
            mu, sigma, df = self.parameters(outputs, scale)
            z = (y - mu) / sigma
            return (
                torch.lgamma((df + 1) / 2)
                - torch.lgamma(df / 2)
                - 0.5 * torch.log(df * math.pi)
                - sigma.log()
                - (df + 1) / 2 * torch.log1p(z**2 / df)
            )
        mu, alpha = self.parameters(outputs, scale)
        shape = 1 / alpha
        alpha_mu = alpha * mu
        # log1p and log(alpha mu) keep the large-count, small-alpha (near Poisson) case exact.
        return (
            torch.lgamma(y + shape)
            - torch.lgamma(y + 1)
            - torch.lgamma(shape)
            - shape * torch.log1p(alpha_mu)
            + y * (torch.log(alpha_mu) - torch.log1p(alpha_mu))
        )

    def sample(self, outputs: torch.Tensor, scale: torch.Tensor | None = None) -> torch.Tensor:
        """One draw per element of ``outputs[..., 0]`` from torch's global generator (seed it,
        e.g. under ``torch.random.fork_rng``, for repeatable draws)."""
        parameters = self.parameters(outputs, scale)
        distribution: torch.distributions.Distribution
        if self.distribution == "Normal":
            mu, sigma = parameters
            distribution = torch.distributions.Normal(mu, sigma)
        elif self.distribution == "StudentT":
            mu, sigma, df = parameters
            distribution = torch.distributions.StudentT(df, mu, sigma)
        else:
            mu, alpha = parameters
            # torch's NegativeBinomial counts successes with odds p/(1-p) = alpha mu.
            distribution = torch.distributions.NegativeBinomial(
                total_count=1 / alpha, logits=torch.log(alpha * mu)
            )
        return distribution.sample()

    def __call__(self, y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood; ``y_hat`` holds raw outputs ``(batch, h, k)``."""
        return -self.log_likelihood(y_hat, y).mean()

    def point(self, y_hat: torch.Tensor) -> torch.Tensor:
        """The median of sample paths ``(batch, h, n_samples)``."""
        return sample_quantile(y_hat, 0.5)

    def interval(self, y_hat: torch.Tensor, level: float) -> tuple[torch.Tensor, torch.Tensor]:
        """The central ``level`` % interval of sample paths ``(batch, h, n_samples)``."""
        if not 0 < float(level) < 100:
            raise ConfigError(f"level: expected a percentage in (0, 100), got {level!r}")
        return (
            sample_quantile(y_hat, 0.5 - float(level) / 200),
            sample_quantile(y_hat, 0.5 + float(level) / 200),
        )

    def config(self) -> dict:
        return {"name": self.name, "distribution": self.distribution, "level": list(self.level)}


def sample_quantile(samples: torch.Tensor, q: float) -> torch.Tensor:
    """The ``q`` quantile over the last dimension, interpolating linearly (``torch.quantile``'s
    default), without ``torch.quantile``'s 16-million-element limit."""
    ordered = samples.sort(dim=-1).values
    position = q * (samples.shape[-1] - 1)
    below = math.floor(position)
    above = min(below + 1, samples.shape[-1] - 1)
    weight = position - below
    return ordered[..., below] * (1 - weight) + ordered[..., above] * weight


def get_distribution_loss(loss: str | ForecastLoss | dict) -> DistributionLoss:
    """A :class:`DistributionLoss` from an instance, a distribution name (``"StudentT"``) or
    its config dict (``{"name": "distributionloss", "distribution": "Normal", ...}``)."""
    if isinstance(loss, DistributionLoss):
        return loss
    if isinstance(loss, dict) and loss.get("name") == DistributionLoss.name:
        options = {key: value for key, value in loss.items() if key != "name"}
        return DistributionLoss(**options)
    if isinstance(loss, str) and loss in _DISTRIBUTIONS:
        return DistributionLoss(loss)
    shown = loss.name if isinstance(loss, ForecastLoss) else loss
    raise ConfigError(
        f"loss: expected a DistributionLoss (e.g. DistributionLoss('StudentT')) or one of"
        f" {', '.join(_DISTRIBUTIONS)}, got {shown!r}"
    )
