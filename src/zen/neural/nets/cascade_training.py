r"""The two phases of cascade-correlation training, as libfann 2.2 runs them (fann_cascade.c).

Fahlman & Lebiere (1990) grow a network one hidden neuron at a time:

1. **Output phase** (``fann_train_outputs``): train only the weights into the outputs, one
   batch update per epoch, until the error stops improving by ``cascade_output_change_fraction``
   within ``cascade_output_stagnation_epochs`` (at least ``cascade_min_out_epochs``, at most
   ``cascade_max_out_epochs``).
2. **Candidate phase** (``fann_train_candidates``): train a pool of candidate neurons, every
   activation function x steepness x ``cascade_num_candidate_groups``, each reading the
   inputs, the bias and every hidden neuron. FANN gives each candidate output weights
   :math:`v_o` too and scores it by how much of the residual error it would explain,

   .. math:: S = \sum_{p,o} e_{p,o}^2 - \sum_{p,o} (a_p v_o - e_{p,o})^2,

   with :math:`e = t - y` the output errors (halved for symmetric outputs, as FANN's MSE) and
   :math:`a_p` the candidate's activation on sample :math:`p`: FANN's version of the paper's
   covariance. Training maximises :math:`S` until the best score stagnates
   (``cascade_candidate_change_fraction``, ``_stagnation_epochs``, ``_min/_max_cand_epochs``,
   ``cascade_candidate_limit``).

The chosen candidate is installed by :class:`~zen.neural.nets.cascade.CascadeCorrelation`;
the settings, under FANN's names, are :class:`~zen.neural.nets.cascade_settings.CascadeSettings`.
Everything works on ``values``, the ``(samples, inputs + 1 + hidden)`` matrix of FANN's neuron
values (the inputs, the bias neuron's 1, the hidden neurons) that feed the outputs: hidden
neurons are frozen, so it is computed once per neuron added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import cast

import numpy as np
import torch

from zen.neural import activations
from zen.neural.fann_optimizers import (
    QuickpropSettings,
    RpropSettings,
    SarpropSettings,
    irprop_minus_update,
    quickprop_update,
    sarprop_update,
)
from zen.neural.nets.cascade_settings import CascadeSettings

#: fann_run clamps a neuron's scaled sum to +-150/steepness so that exp() cannot overflow.
SUM_LIMIT = 150.0
#: Outputs whose error FANN halves (their range is twice as wide), in its MSE and its slopes.
SYMMETRIC = frozenset(
    {
        "linear_piece_symmetric",
        "threshold_symmetric",
        "sigmoid_symmetric",
        "sigmoid_symmetric_stepwise",
        "elliot_symmetric",
        "gaussian_symmetric",
        "sin_symmetric",
        "cos_symmetric",
    }
)


# ---------------------------------------------------------------------------- neuron maths
@cache
def _function(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    module = cast(activations.SteepActivation, activations.get(name))
    return module.function


def activate(name: str, scaled_sum: torch.Tensor) -> torch.Tensor:
    """FANN's activation ``name`` of the already scaled (steepness x) sum."""
    return _function(name)(scaled_sum)


def fann_derivative(
    name: str, steepness: torch.Tensor | float, value: torch.Tensor, total: torch.Tensor
) -> torch.Tensor:
    """``fann_activation_derived`` (fann_train.c): FANN's derivative of a neuron's value.

    ``total`` is what FANN passes as the neuron's sum: the scaled sum for neurons of the
    network, the unscaled one for candidates (FANN's own inconsistency, kept so that the
    slopes are FANN's). The sigmoid-like values are clipped first, so saturated neurons keep a
    small slope.
    """
    if name in ("linear", "linear_piece", "linear_piece_symmetric"):
        return torch.ones_like(value) * steepness
    if name in ("sigmoid", "sigmoid_stepwise"):
        clipped = value.clamp(0.01, 0.99)
        return 2.0 * steepness * clipped * (1.0 - clipped)
    if name in ("sigmoid_symmetric", "sigmoid_symmetric_stepwise"):
        clipped = value.clamp(-0.98, 0.98)
        return steepness * (1.0 - clipped * clipped)
    if name == "gaussian":
        return -2.0 * total * value * steepness * steepness
    if name == "gaussian_symmetric":
        return -2.0 * total * (value + 1.0) * steepness * steepness
    if name == "elliot":
        return steepness / (2.0 * (1.0 + total.abs()) ** 2)
    if name == "elliot_symmetric":
        return steepness / (1.0 + total.abs()) ** 2
    if name == "sin_symmetric":
        return steepness * torch.cos(steepness * total)
    if name == "cos_symmetric":
        return -steepness * torch.sin(steepness * total)
    if name == "sin":
        return steepness * torch.cos(steepness * total) / 2.0
    if name == "cos":
        return -steepness * torch.sin(steepness * total) / 2.0
    return torch.zeros_like(value)  # the threshold functions: FANN cannot train them


def neuron_values(
    values: torch.Tensor, weights: torch.Tensor, name: str, steepness: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """What ``fann_run`` computes for neurons of one activation reading ``values``: the scaled,
    clamped sums and the activations, each ``(samples, neurons)``."""
    limit = SUM_LIMIT / steepness
    scaled = (values @ weights.T * steepness).clamp(-limit, limit)
    return scaled, activate(name, scaled)


def sample_sums(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``weights.T @ values``: ``(samples, rows)`` and ``(samples, neurons)`` to ``(rows,
    neurons)``, the sums over samples that make FANN's batch slopes."""
    if weights.shape[1] == 1:
        # One row (one output): a broadcast sum; torch's threaded kernel for a transposed
        # single-row product can take milliseconds on a busy machine for microseconds of work.
        return (weights * values).sum(dim=0, keepdim=True)
    return weights.T.contiguous() @ values


# ---------------------------------------------------------------------------- weight updates
@dataclass
class TrainingState:
    """What lives across phases: FANN's ``sarprop_epoch`` and the random generator."""

    generator: torch.Generator
    sarprop_epoch: int = 0

    def uniform(self, rows: int, columns: int) -> torch.Tensor:
        """Draws in [0, 1), ``(rows, columns)`` in float64, row after row (where FANN draws
        ``rand()`` once per connection, in the order of its connections)."""
        return torch.rand(rows, columns, generator=self.generator, dtype=torch.float64)


@dataclass
class WeightRule:
    """The configured training algorithm on one weight tensor, with its per-weight memory.

    A new rule starts as FANN clears its arrays before each phase: previous steps at
    ``rprop_delta_zero`` (iRPROP-) or 0, previous slopes at 0.
    """

    settings: CascadeSettings
    weights: torch.Tensor
    prev_steps: torch.Tensor = field(init=False)
    prev_slopes: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        start = (
            self.settings.rprop_delta_zero if self.settings.training_algorithm == "rprop" else 0.0
        )
        self.prev_steps = torch.full_like(self.weights, start)
        self.prev_slopes = torch.zeros_like(self.weights)

    def update(self, slopes: torch.Tensor, num_data: int, mse: float, state: TrainingState) -> None:
        """Move :attr:`weights` (in place) along FANN's ``slopes`` (the negative gradient)."""
        s = self.settings
        if s.training_algorithm == "rprop":
            rprop = RpropSettings(
                s.rprop_increase_factor,
                s.rprop_decrease_factor,
                s.rprop_delta_min,
                s.rprop_delta_max,
                s.rprop_delta_zero,
            )
            irprop_minus_update(self.weights, slopes, self.prev_steps, self.prev_slopes, rprop)
        elif s.training_algorithm == "quickprop":
            quickprop = QuickpropSettings(s.learning_rate, s.quickprop_decay, s.quickprop_mu)
            quickprop_update(
                self.weights,
                slopes,
                self.prev_steps,
                self.prev_slopes,
                s.learning_rate / num_data,
                quickprop,
            )
        else:
            sarprop = SarpropSettings(
                weight_decay_shift=s.sarprop_weight_decay_shift,
                step_error_threshold_factor=s.sarprop_step_error_threshold_factor,
                step_error_shift=s.sarprop_step_error_shift,
                temperature=s.sarprop_temperature,
                increase_factor=s.rprop_increase_factor,
                decrease_factor=s.rprop_decrease_factor,
                delta_max=s.rprop_delta_max,
            )
            sarprop_update(
                self.weights,
                slopes,
                self.prev_steps,
                self.prev_slopes,
                state.sarprop_epoch,
                mse,
                sarprop,
                state.generator,
            )


# ---------------------------------------------------------------------------- output phase
@dataclass(frozen=True)
class EpochError:
    """The error of one epoch, measured before its update: FANN's ``MSE_value`` (a sum of
    squares, ``sse``), its MSE and its bit failures."""

    sse: float
    mse: float
    bit_fail: int


@dataclass(frozen=True)
class PhaseResult:
    """What an output phase reports: its epochs and the error of its last epoch."""

    epochs: int
    error: EpochError


def output_errors(
    targets: torch.Tensor, outputs: torch.Tensor, settings: CascadeSettings
) -> torch.Tensor:
    """``target - output``, halved for symmetric output activations (FANN's ``neuron_diff``)."""
    difference = targets - outputs
    return difference / 2.0 if settings.output_activation in SYMMETRIC else difference


def measure(errors: torch.Tensor, settings: CascadeSettings) -> EpochError:
    """FANN's MSE bookkeeping (``fann_update_MSE``) over a whole epoch of ``errors``."""
    sse = float((errors * errors).sum())
    bit_fail = int((errors.abs() >= settings.bit_fail_limit).sum())
    return EpochError(sse=sse, mse=sse / errors.numel(), bit_fail=bit_fail)


def reached(error: EpochError, desired_error: float, settings: CascadeSettings) -> bool:
    """``fann_desired_error_reached``: the MSE, or the bit failures, at or below the goal."""
    if settings.train_stop_function == "bit":
        return error.bit_fail <= int(desired_error)
    return error.mse <= desired_error


def output_epoch(
    values: torch.Tensor,
    targets: torch.Tensor,
    rule: WeightRule,
    settings: CascadeSettings,
    state: TrainingState,
) -> EpochError:
    r"""``fann_train_outputs_epoch``: measure the error, then one update of the output weights.

    The slope of output :math:`o` from neuron :math:`k` is
    :math:`\sum_p \delta_{p,o}\, v_{p,k}` with :math:`\delta = \phi'(\cdot)\, E(e)`,
    :math:`E` FANN's error function (``tanh``: :math:`\ln\frac{1+e}{1-e}`, capped at 17).
    """
    name, steepness = settings.output_activation, settings.output_steepness
    scaled, outputs = neuron_values(values, rule.weights, name, steepness)
    errors = output_errors(targets, outputs, settings)
    error = measure(errors, settings)
    if settings.train_error_function == "tanh":
        errors = torch.where(
            errors < -0.9999999,
            torch.full_like(errors, -17.0),
            torch.where(
                errors > 0.9999999,
                torch.full_like(errors, 17.0),
                torch.log((1.0 + errors) / (1.0 - errors).clamp_min(1e-30)),
            ),
        )
    deltas = fann_derivative(name, steepness, outputs, scaled) * errors
    rule.update(sample_sums(deltas, values), len(values), error.mse, state)
    if settings.training_algorithm == "sarprop":
        state.sarprop_epoch += 1
    return error


def train_outputs(
    values: torch.Tensor,
    targets: torch.Tensor,
    weights: torch.Tensor,
    settings: CascadeSettings,
    desired_error: float,
    state: TrainingState,
) -> PhaseResult:
    """``fann_train_outputs``: train ``weights`` (``(outputs, neurons)``, in place) until the
    error stagnates, the epochs run out or ``desired_error`` is reached."""
    rule = WeightRule(settings, weights)
    first = output_epoch(values, targets, rule, settings, state)
    if reached(first, desired_error, settings):
        return PhaseResult(1, first)
    fraction = settings.cascade_output_change_fraction
    target_improvement, backslide_improvement = 0.0, -1.0e20
    stagnation = settings.cascade_max_out_epochs
    error = first
    for epoch in range(1, settings.cascade_max_out_epochs):
        error = output_epoch(values, targets, rule, settings, state)
        if reached(error, desired_error, settings):
            return PhaseResult(epoch + 1, error)
        improvement = first.mse - error.mse
        # After any significant change (FANN: either way), set a new goal and allow a new
        # quota of epochs to reach it.
        if (
            target_improvement >= 0
            and (improvement > target_improvement or improvement < backslide_improvement)
        ) or (
            target_improvement < 0
            and (improvement < target_improvement or improvement > backslide_improvement)
        ):
            target_improvement = improvement * (1.0 + fraction)
            backslide_improvement = improvement * (1.0 - fraction)
            stagnation = epoch + settings.cascade_output_stagnation_epochs
        if epoch >= stagnation and epoch >= settings.cascade_min_out_epochs:
            return PhaseResult(epoch + 1, error)
    return PhaseResult(settings.cascade_max_out_epochs, error)


# ---------------------------------------------------------------------------- candidate phase
@dataclass
class CandidatePool:
    """The candidates: activation and steepness of each, input weights ``(candidates,
    neurons)`` in FANN's neuron order, and output weights ``(candidates, outputs)``."""

    functions: tuple[str, ...]
    steepness: torch.Tensor
    weights_in: torch.Tensor
    weights_out: torch.Tensor
    #: ``(activation, slice)`` for each run of candidates with one activation (FANN orders the
    #: pool by function, so usually one run per function).
    runs: list[tuple[str, slice]] = field(init=False)

    def __post_init__(self) -> None:
        self.runs = []
        start = 0
        for index in range(1, len(self.functions) + 1):
            if index == len(self.functions) or self.functions[index] != self.functions[start]:
                self.runs.append((self.functions[start], slice(start, index)))
                start = index


def candidate_scale(num_inputs: int, num_hidden: int) -> float:
    """FANN's "semi Widrow + Nguyen" range of candidate weights (``fann_initialize_candidates``):
    :math:`2 (0.7 H)^{1/I}`, clipped to [0.5, 8], in FANN's float arithmetic. FANN counts the
    bias neuron in :math:`H` (``total_neurons - num_input - num_output``): so does this."""
    hidden = num_hidden + 1
    scale = float(np.float32(2.0 * (float(np.float32(0.7)) * hidden) ** (1.0 / num_inputs)))
    return min(max(scale, 0.5), 8.0)


def initial_candidates(
    settings: CascadeSettings,
    num_inputs: int,
    num_outputs: int,
    values: torch.Tensor,
    state: TrainingState,
) -> CandidatePool:
    """A fresh pool for the neuron ``values`` (``(samples, neurons)``), ordered as FANN orders
    it (function, then steepness, then group), on their device and in their dtype.

    Weights are uniform in [0, s) and the bias weight in [-s, s), with ``s`` from
    :func:`candidate_scale`; output weights are drawn like input weights, as in FANN.
    """
    num_neurons = values.shape[1]
    functions, steepness = [], []
    for name in settings.cascade_activation_functions:
        for value in settings.cascade_activation_steepnesses:
            for _ in range(settings.cascade_num_candidate_groups):
                functions.append(name)
                steepness.append(value)
    scale = candidate_scale(num_inputs, num_neurons - num_inputs - 1)
    count = len(functions)
    draws = state.uniform(count, num_neurons + num_outputs)
    weights = scale * draws
    weights[:, num_inputs] = -scale + 2.0 * scale * draws[:, num_inputs]  # the bias neuron
    weights = weights.to(values)
    return CandidatePool(
        functions=tuple(functions),
        steepness=torch.tensor(steepness).to(values),
        weights_in=weights[:, :num_neurons].contiguous(),
        weights_out=weights[:, num_neurons:].contiguous(),
    )


def candidate_epoch(
    values: torch.Tensor, errors: torch.Tensor, sse: float, pool: CandidatePool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``fann_update_candidate_slopes`` over an epoch: every candidate's score and slopes.

    Returns ``(scores, input slopes, output slopes)``, shaped ``(candidates,)``,
    ``(candidates, neurons)`` and ``(candidates, outputs)``.
    """
    limit = SUM_LIMIT / pool.steepness
    # FANN clamps a candidate's unscaled sum (a network neuron's scaled one): kept as FANN.
    sums = torch.maximum(torch.minimum(values @ pool.weights_in.T, limit), -limit)
    scaled = sums * pool.steepness
    activations, derivatives = [], []
    for name, run in pool.runs:
        value = activate(name, scaled[:, run])
        activations.append(value)
        derivatives.append(fann_derivative(name, pool.steepness[run], value, sums[:, run]))
    activation = torch.cat(activations, dim=1)
    derivative = torch.cat(derivatives, dim=1)
    # diff[p, c, o] = a_pc v_co - e_po: what candidate c leaves of output o's error.
    diff = activation[:, :, None] * pool.weights_out[None, :, :] - errors[:, None, :]
    scores = sse - (diff * diff).sum(dim=(0, 2))
    slopes_out = -2.0 * (diff * activation[:, :, None]).sum(dim=0)
    # FANN's input slopes drop the factor 2 of the output slopes; kept for Quickprop's sake.
    backward = (diff * pool.weights_out[None, :, :]).sum(dim=2) * derivative
    slopes_in = -sample_sums(backward, values)
    return scores, slopes_in, slopes_out


@dataclass(frozen=True)
class Candidate:
    """The candidate a phase chose, with its trained weights (inputs in FANN's neuron order),
    the phase's epochs and the candidate's score in its last epoch."""

    activation: str
    steepness: float
    weights_in: torch.Tensor
    weights_out: torch.Tensor
    epochs: int
    score: float


def train_candidates(
    values: torch.Tensor,
    errors: torch.Tensor,
    error: EpochError,
    pool: CandidatePool,
    settings: CascadeSettings,
    state: TrainingState,
) -> Candidate:
    """``fann_train_candidates``: train the pool (in place) until the best score stagnates.

    Args:
        values: the neuron values feeding the outputs, ``(samples, neurons)``.
        errors: the output errors of the current network, ``(samples, outputs)``.
        error: the last output epoch's error; its ``sse`` is where the scores start.

    Returns:
        The best candidate as scored in the last epoch (FANN installs that one, with the
        weights of after the epoch's update).
    """
    rule_in = WeightRule(settings, pool.weights_in)
    rule_out = WeightRule(settings, pool.weights_out)
    fraction = settings.cascade_candidate_change_fraction
    target_score, backslide_score = 0.0, -1.0e20
    stagnation = settings.cascade_max_cand_epochs
    best, best_score, epochs = 0, 0.0, settings.cascade_max_cand_epochs
    for epoch in range(settings.cascade_max_cand_epochs):
        scores, slopes_in, slopes_out = candidate_epoch(values, errors, error.sse, pool)
        rule_in.update(slopes_in, len(values), error.mse, state)
        rule_out.update(slopes_out, len(values), error.mse, state)
        best = int(torch.argmax(scores))  # the first of equal scores, as FANN's strict ">"
        best_score = float(scores[best])
        if error.sse > 0 and best_score / error.sse > settings.cascade_candidate_limit:
            epochs = epoch + 1
            break
        if best_score > target_score or best_score < backslide_score:
            target_score = best_score * (1.0 + fraction)
            backslide_score = best_score * (1.0 - fraction)
            stagnation = epoch + settings.cascade_candidate_stagnation_epochs
        if epoch >= stagnation and epoch >= settings.cascade_min_cand_epochs:
            epochs = epoch + 1
            break
    return Candidate(
        activation=pool.functions[best],
        steepness=float(pool.steepness[best]),
        weights_in=pool.weights_in[best].clone(),
        weights_out=pool.weights_out[best].clone(),
        epochs=epochs,
        score=best_score,
    )
