r"""FANN's batch training rules: iRPROP-, Quickprop and SARPROP, as FANN 2.2 computes them.

Each rule is one in-place update of a weight tensor from its *slope*, FANN's name for the
negative gradient of the epoch's error summed over the training set
(:math:`s = -\partial E / \partial w`, ``train_slopes`` in ``fann_train.c``). They are
epoch algorithms: one update per pass over the whole training set. The functions here are the
rules themselves (cascade training calls them on its own slopes); :class:`Quickprop` and
:class:`SARPROP` wrap them as ``torch.optim.Optimizer`` s that read ``p.grad``.

References: Riedmiller & Braun 1993 and Igel & Hüsken 2000 (iRPROP-); Fahlman 1988, "An
Empirical Study of Learning Speed in Back-Propagation Networks" (Quickprop); Treadgold &
Gedeon 1998, "Simulated annealing and weight decay in adaptive learning: the SARPROP algorithm";
libfann 2.2 ``fann_update_weights_irpropm``/``_quickprop``/``_sarprop`` for the exact forms.

Example:
    >>> net = torch.nn.Linear(2, 1)
    >>> optimizer = Quickprop(net.parameters(), lr=0.7)
    >>> loss = net(torch.ones(4, 2)).pow(2).mean()
    >>> loss.backward()
    >>> optimizer.step()
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from zen.errors import ConfigError

#: FANN keeps every weight within +-1500 after an iRPROP- or Quickprop step.
WEIGHT_LIMIT = 1500.0


@dataclass(frozen=True)
class RpropSettings:
    """FANN's ``rprop_*`` settings (defaults: ``fann_create_*``)."""

    increase_factor: float = 1.2
    decrease_factor: float = 0.5
    delta_min: float = 0.0
    delta_max: float = 50.0
    delta_zero: float = 0.1


@dataclass(frozen=True)
class QuickpropSettings:
    """FANN's ``learning_rate``, ``quickprop_decay`` and ``quickprop_mu`` (their defaults)."""

    learning_rate: float = 0.7
    decay: float = -0.0001
    mu: float = 1.75


@dataclass(frozen=True)
class SarpropSettings:
    """FANN's ``sarprop_*`` settings and the ``rprop_*`` ones SARPROP shares (defaults)."""

    weight_decay_shift: float = -6.644
    step_error_threshold_factor: float = 0.1
    step_error_shift: float = 1.385
    temperature: float = 0.015
    increase_factor: float = 1.2
    decrease_factor: float = 0.5
    delta_max: float = 50.0
    # FANN 2.2 fixes SARPROP's smallest step at 1e-6 (Braun & Riedmiller's value).
    delta_min: float = 0.000001


def irprop_minus_update(
    weights: torch.Tensor,
    slopes: torch.Tensor,
    prev_steps: torch.Tensor,
    prev_slopes: torch.Tensor,
    settings: RpropSettings,
) -> None:
    r"""One iRPROP- step in place (``fann_update_weights_irpropm``).

    With :math:`\Delta` the previous step (at least 1e-4), the step grows to
    :math:`\min(\eta^+\Delta, \Delta_{\max})` when the slope kept its sign and shrinks to
    :math:`\max(\eta^-\Delta, \Delta_{\min})` when it changed (the slope is then forgotten).
    The weight moves by the step along the slope (the negative gradient), and upwards when the
    slope was forgotten or is zero, as FANN does. Weights stay within +-1500.

    Args:
        weights, slopes, prev_steps, prev_slopes: tensors of one shape; all but ``slopes``
            are updated in place (``prev_*`` start at ``delta_zero`` and 0).
        settings: the ``rprop_*`` settings.
    """
    step = prev_steps.clamp_min(0.0001)
    same = prev_slopes * slopes >= 0
    grown = (step * settings.increase_factor).clamp_max(settings.delta_max)
    shrunk = (step * settings.decrease_factor).clamp_min(settings.delta_min)
    step = torch.where(same, grown, shrunk)
    kept = torch.where(same, slopes, torch.zeros_like(slopes))
    moved = torch.where(kept < 0, weights - step, weights + step)
    weights.copy_(moved.clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT))
    prev_steps.copy_(step)
    prev_slopes.copy_(kept)


def quickprop_update(
    weights: torch.Tensor,
    slopes: torch.Tensor,
    prev_steps: torch.Tensor,
    prev_slopes: torch.Tensor,
    epsilon: float,
    settings: QuickpropSettings,
) -> None:
    r"""One Quickprop step in place (``fann_update_weights_quickprop``).

    With the decayed slope :math:`s = s_{raw} + d\,w` (FANN's ``quickprop_decay`` :math:`d<0`)
    and the previous step :math:`\Delta w'` and slope :math:`s'`:

    * :math:`|\Delta w'| \le 0.001`: a gradient step :math:`\epsilon s`;
    * otherwise the minimum of the parabola through the two slopes,
      :math:`\Delta w' \, s / (s' - s)`, capped at :math:`\mu \Delta w'` once
      :math:`s` is beyond :math:`\frac{\mu}{1+\mu} s'` (Fahlman 1988), plus :math:`\epsilon s`
      while the slope still points the way of the last step.

    FANN divides by :math:`s' - s` unguarded; here a zero denominator gives no parabola step
    rather than NaN. Weights stay within +-1500.

    Args:
        weights, slopes, prev_steps, prev_slopes: tensors of one shape; ``prev_*`` start at 0.
        epsilon: the gradient step factor: FANN uses ``learning_rate / num_data`` with slopes
            summed over the ``num_data`` samples.
        settings: ``decay`` and ``mu`` (its ``learning_rate`` is not used here).
    """
    slope = slopes + settings.decay * weights
    shrink = settings.mu / (1.0 + settings.mu)
    denominator = prev_slopes - slope
    safe = torch.where(denominator == 0, torch.ones_like(denominator), denominator)
    parabola = torch.where(denominator == 0, torch.zeros_like(slope), prev_steps * slope / safe)
    capped = settings.mu * prev_steps
    linear = epsilon * slope

    up = prev_steps > 0.001
    up_step = torch.where(slope > 0, linear, torch.zeros_like(slope)) + torch.where(
        slope > shrink * prev_slopes, capped, parabola
    )
    down = prev_steps < -0.001
    down_step = torch.where(slope < 0, linear, torch.zeros_like(slope)) + torch.where(
        slope < shrink * prev_slopes, capped, parabola
    )
    step = torch.where(up, up_step, torch.where(down, down_step, linear))
    weights.copy_((weights + step).clamp(-WEIGHT_LIMIT, WEIGHT_LIMIT))
    prev_steps.copy_(step)
    prev_slopes.copy_(slope)


def sarprop_update(
    weights: torch.Tensor,
    slopes: torch.Tensor,
    prev_steps: torch.Tensor,
    prev_slopes: torch.Tensor,
    epoch: int,
    mse: float,
    settings: SarpropSettings,
    generator: torch.Generator | None = None,
) -> None:
    r"""One SARPROP step in place (``fann_update_weights_sarprop``, FANN 2.2).

    SARPROP is iRPROP- with simulated annealing (Treadgold & Gedeon 1998). FANN works with the
    gradient :math:`g = -s` plus an annealed weight term,
    :math:`g' = g - w\,2^{-T t + \text{weight\_decay\_shift}}` at epoch :math:`t` (FANN's sign;
    the paper adds it as a decay), and

    * same sign as before: the step grows (:math:`\times` ``increase_factor``, at most
      ``delta_max``) and the weight moves against :math:`g'`;
    * sign change: the weight stays, the slope is forgotten, and the step shrinks
      (:math:`\times` ``decrease_factor``, at least ``delta_min``); a step already below
      ``step_error_threshold_factor`` :math:`\times` MSE gets an annealed random kick instead,
      :math:`\Delta \leftarrow \eta^-\Delta + u\,\sqrt{\text{MSE}}\;2^{-T t +
      \text{step\_error\_shift}}` with :math:`u \sim U[0, 1]`;
    * no previous slope: the weight moves by the previous step against :math:`g'`.

    Steps start at 0 (FANN clears them), so the first moves are ``delta_min``. In the last case
    FANN 2.2 stores the step left over from the previous weight in its array (an uninitialised
    variable); here the weight keeps its own step. FANN's sign of the weight term pushes
    weights outwards once the gradient vanishes; FANN's own gradients rarely vanish (its
    derivatives of sigmoid-like activations are clipped away from 0), exact ones do: expect
    saturated networks to drift late in long runs.

    Args:
        weights, slopes, prev_steps, prev_slopes: tensors of one shape; ``prev_*`` start at 0.
        epoch: FANN's ``sarprop_epoch``: 0 at the first step, one more per epoch.
        mse: the epoch's mean squared error (``fann_get_MSE``), which scales the kicks.
        settings: the ``sarprop_*`` settings.
        generator: where the kicks are drawn (``None``: torch's global generator).
    """
    step = prev_steps.clamp_min(0.000001)
    gradient = -slopes - weights * 2.0 ** (
        -settings.temperature * epoch + settings.weight_decay_shift
    )
    product = prev_slopes * gradient
    direction = torch.where(gradient < 0, torch.ones_like(step), -torch.ones_like(step))

    grown = (step * settings.increase_factor).clamp_max(settings.delta_max)
    kick = torch.rand(step.shape, generator=generator, dtype=step.dtype).to(step.device)
    annealed = step * settings.decrease_factor + kick * math.sqrt(max(mse, 0.0)) * 2.0 ** (
        -settings.temperature * epoch + settings.step_error_shift
    )
    shrunk = torch.where(
        step < settings.step_error_threshold_factor * mse,
        annealed,
        (step * settings.decrease_factor).clamp_min(settings.delta_min),
    )
    same, changed = product > 0, product < 0
    new_step = torch.where(same, grown, torch.where(changed, shrunk, step))
    move = torch.where(changed, torch.zeros_like(step), direction * new_step)
    weights.add_(move)
    prev_steps.copy_(new_step)
    prev_slopes.copy_(torch.where(changed, torch.zeros_like(gradient), gradient))


class Quickprop(torch.optim.Optimizer):
    r"""Fahlman's Quickprop as FANN 2.2 runs it (:func:`quickprop_update`), one step per epoch.

    The slope of each parameter is ``-p.grad``; FANN's epoch is this optimizer with the
    gradient of half the squared error summed over the ``N`` samples (FANN's slopes) and
    ``lr = learning_rate / N``. Equivalently, with a loss averaged over samples, ``lr`` is
    FANN's ``learning_rate`` (then ``decay`` weighs ``N`` times more than in FANN). Call
    :meth:`step` once per pass over the whole training set: Quickprop fits a parabola through
    the gradients of successive epochs, which mini-batch noise makes meaningless.

    Args:
        params: parameters or parameter groups.
        lr: the gradient step factor :math:`\epsilon` (FANN's ``learning_rate``, 0.7).
        decay: FANN's ``quickprop_decay`` (-0.0001), added to the slope times the weight.
        mu: FANN's ``quickprop_mu`` (1.75), the largest growth of a step.
    """

    def __init__(
        self, params: Iterable[Any], lr: float = 0.7, decay: float = -0.0001, mu: float = 1.75
    ) -> None:
        if not lr > 0:
            raise ConfigError(f"lr: expected a positive learning rate, got {lr!r}")
        if not mu > 0:
            raise ConfigError(f"mu: expected a positive growth limit (FANN: 1.75), got {mu!r}")
        if not decay <= 0:
            raise ConfigError(
                f"decay: expected zero or a negative number (FANN's quickprop_decay: -0.0001),"
                f" got {decay!r}"
            )
        super().__init__(params, {"lr": lr, "decay": decay, "mu": mu})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One Quickprop epoch; ``closure`` (optional) re-evaluates and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            settings = QuickpropSettings(group["lr"], group["decay"], group["mu"])
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state["prev_step"] = torch.zeros_like(parameter)
                    state["prev_slope"] = torch.zeros_like(parameter)
                quickprop_update(
                    parameter,
                    -parameter.grad,
                    state["prev_step"],
                    state["prev_slope"],
                    group["lr"],
                    settings,
                )
        return loss


class SARPROP(torch.optim.Optimizer):
    r"""SARPROP (Treadgold & Gedeon 1998) as FANN 2.2 runs it (:func:`sarprop_update`).

    An epoch algorithm: call :meth:`step` once per pass over the whole training set, with that
    epoch's mean squared error (``mse=``, or a closure returning it), which sizes the annealed
    kicks. The slope of each parameter is ``-p.grad``; only its sign and the annealed weight
    term matter, so FANN's epoch is this optimizer with the gradient of half the squared error
    summed over the samples (a mean-reduced loss weighs the weight term ``N`` times more).

    Args:
        params: parameters or parameter groups.
        weight_decay_shift: FANN's ``sarprop_weight_decay_shift`` (-6.644, i.e. log2 0.01).
        step_error_threshold_factor: ``sarprop_step_error_threshold_factor`` (0.1).
        step_error_shift: ``sarprop_step_error_shift`` (1.385).
        temperature: ``sarprop_temperature`` (0.015).
        increase_factor, decrease_factor, delta_max: FANN's ``rprop_*`` (1.2, 0.5, 50).
        generator: the torch generator of the kicks (``None``: torch's global generator).
    """

    def __init__(
        self,
        params: Iterable[Any],
        weight_decay_shift: float = -6.644,
        step_error_threshold_factor: float = 0.1,
        step_error_shift: float = 1.385,
        temperature: float = 0.015,
        increase_factor: float = 1.2,
        decrease_factor: float = 0.5,
        delta_max: float = 50.0,
        generator: torch.Generator | None = None,
    ) -> None:
        if not increase_factor > 1.0:
            raise ConfigError(f"increase_factor: expected > 1, got {increase_factor!r}")
        if not 0.0 < decrease_factor < 1.0:
            raise ConfigError(f"decrease_factor: expected in (0, 1), got {decrease_factor!r}")
        if not delta_max > 0:
            raise ConfigError(f"delta_max: expected a positive step, got {delta_max!r}")
        if not temperature >= 0:
            raise ConfigError(f"temperature: expected >= 0, got {temperature!r}")
        defaults = {
            "weight_decay_shift": weight_decay_shift,
            "step_error_threshold_factor": step_error_threshold_factor,
            "step_error_shift": step_error_shift,
            "temperature": temperature,
            "increase_factor": increase_factor,
            "decrease_factor": decrease_factor,
            "delta_max": delta_max,
        }
        super().__init__(params, defaults)
        self.generator = generator

    @torch.no_grad()
    def step(  # type: ignore[override]
        self, closure: Callable[[], float] | None = None, *, mse: float | None = None
    ) -> float | None:
        """One SARPROP epoch.

        Args:
            closure: re-evaluates and returns the loss; taken as the MSE when ``mse`` is None.
            mse: the epoch's mean squared error.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        error = mse if mse is not None else loss
        if error is None:
            raise ConfigError(
                "SARPROP.step: needs the epoch's mean squared error, which sizes its annealed"
                " steps; pass mse=... or a closure that returns it"
            )
        error = float(error)
        if not (math.isfinite(error) and error >= 0):
            raise ConfigError(f"mse: expected a finite error >= 0, got {error!r}")
        for group in self.param_groups:
            settings = SarpropSettings(
                weight_decay_shift=group["weight_decay_shift"],
                step_error_threshold_factor=group["step_error_threshold_factor"],
                step_error_shift=group["step_error_shift"],
                temperature=group["temperature"],
                increase_factor=group["increase_factor"],
                decrease_factor=group["decrease_factor"],
                delta_max=group["delta_max"],
            )
            epoch = group.setdefault("epoch", 0)
            for parameter in group["params"]:
                if parameter.grad is None:
                    continue
                state = self.state[parameter]
                if not state:
                    state["prev_step"] = torch.zeros_like(parameter)
                    state["prev_slope"] = torch.zeros_like(parameter)
                sarprop_update(
                    parameter,
                    -parameter.grad,
                    state["prev_step"],
                    state["prev_slope"],
                    epoch,
                    error,
                    settings,
                    self.generator,
                )
            group["epoch"] = epoch + 1
        return loss
