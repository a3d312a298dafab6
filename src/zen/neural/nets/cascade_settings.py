"""FANN's cascade-training settings, under FANN's names and with FANN's defaults (libfann 2.2,
``fann_allocate_structure`` and ``fann_cascade.h``), checked once where they are made."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from zen.errors import ConfigError, expect_one_of
from zen.neural import activations

TRAINING_ALGORITHMS = ("rprop", "quickprop", "sarprop")
ERROR_FUNCTIONS = ("linear", "tanh")
STOP_FUNCTIONS = ("mse", "bit")
#: FANN's default candidate activations (fann_allocate_structure), in its order.
DEFAULT_CANDIDATE_FUNCTIONS = (
    "sigmoid",
    "sigmoid_symmetric",
    "gaussian",
    "gaussian_symmetric",
    "elliot",
    "elliot_symmetric",
    "sin_symmetric",
    "cos_symmetric",
    "sin",
    "cos",
)


@dataclass(frozen=True)
class CascadeSettings:
    """FANN's cascade training settings, under FANN's names and with FANN's defaults.

    ``max_neurons`` and ``desired_error`` are the arguments of ``fann_cascadetrain_on_data``
    (defaults from FANN's cascade example); ``output_activation``/``output_steepness`` are
    those of ``fann_create_shortcut`` (FANN's ``sigmoid_stepwise``, 0.5); ``seed`` is zen's:
    it seeds the initial weights and the candidates (``None``: drawn from torch's generator).
    The training algorithm is ``"rprop"`` (FANN's iRPROP-), ``"quickprop"`` or ``"sarprop"``;
    the error function ``"tanh"`` (FANN's default, which stretches large errors) or
    ``"linear"``; the stop function ``"mse"`` or ``"bit"`` (``desired_error`` then counts
    outputs off by more than ``bit_fail_limit``).

    >>> settings = CascadeSettings(cascade_activation_functions=["tanh", "gaussian"])
    >>> settings.cascade_activation_functions, settings.num_candidates  # 2 x 4 x 2 candidates
    (('sigmoid_symmetric', 'gaussian'), 16)
    """

    max_neurons: int = 30
    desired_error: float = 0.0
    output_activation: str = "sigmoid_stepwise"
    output_steepness: float = 0.5
    training_algorithm: str = "rprop"
    train_error_function: str = "tanh"
    train_stop_function: str = "mse"
    bit_fail_limit: float = 0.35
    learning_rate: float = 0.7
    quickprop_decay: float = -0.0001
    quickprop_mu: float = 1.75
    rprop_increase_factor: float = 1.2
    rprop_decrease_factor: float = 0.5
    rprop_delta_min: float = 0.0
    rprop_delta_max: float = 50.0
    rprop_delta_zero: float = 0.1
    sarprop_weight_decay_shift: float = -6.644
    sarprop_step_error_threshold_factor: float = 0.1
    sarprop_step_error_shift: float = 1.385
    sarprop_temperature: float = 0.015
    cascade_output_change_fraction: float = 0.01
    cascade_output_stagnation_epochs: int = 12
    cascade_candidate_change_fraction: float = 0.01
    cascade_candidate_stagnation_epochs: int = 12
    cascade_weight_multiplier: float = 0.4
    cascade_candidate_limit: float = 1000.0
    cascade_max_out_epochs: int = 150
    cascade_min_out_epochs: int = 50
    cascade_max_cand_epochs: int = 150
    cascade_min_cand_epochs: int = 50
    cascade_activation_functions: tuple[str, ...] = DEFAULT_CANDIDATE_FUNCTIONS
    cascade_activation_steepnesses: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    cascade_num_candidate_groups: int = 2
    seed: int | None = None

    def __post_init__(self) -> None:
        # JSON gives lists and aliases; store FANN's canonical names in tuples.
        functions = self.cascade_activation_functions
        if isinstance(functions, str) or not functions:
            raise ConfigError(
                f"cascade_activation_functions: expected a non-empty list of activation names,"
                f" got {functions!r}"
            )
        names = tuple(
            trainable_fann_activation("cascade_activation_functions", f) for f in functions
        )
        object.__setattr__(self, "cascade_activation_functions", names)
        steepnesses = self.cascade_activation_steepnesses
        if isinstance(steepnesses, (int, float)) or not steepnesses:
            raise ConfigError(
                f"cascade_activation_steepnesses: expected a non-empty list of positive numbers,"
                f" got {steepnesses!r}"
            )
        object.__setattr__(self, "cascade_activation_steepnesses", tuple(map(float, steepnesses)))
        object.__setattr__(
            self,
            "output_activation",
            trainable_fann_activation("output_activation", self.output_activation),
        )
        self._check_choices()
        self._check_numbers()

    def _check_choices(self) -> None:
        for name, valid in (
            ("training_algorithm", TRAINING_ALGORITHMS),
            ("train_error_function", ERROR_FUNCTIONS),
            ("train_stop_function", STOP_FUNCTIONS),
        ):
            if getattr(self, name) not in valid:
                raise expect_one_of(name, getattr(self, name), valid)

    def _check_numbers(self) -> None:
        for name in (
            "max_neurons",
            "cascade_output_stagnation_epochs",
            "cascade_candidate_stagnation_epochs",
            "cascade_max_out_epochs",
            "cascade_min_out_epochs",
            "cascade_max_cand_epochs",
            "cascade_min_cand_epochs",
            "cascade_num_candidate_groups",
        ):
            value = getattr(self, name)
            least = (
                0
                if name in ("max_neurons", "cascade_min_out_epochs", "cascade_min_cand_epochs")
                else 1
            )
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ConfigError(f"{name}: expected an integer >= {least}, got {value!r}")
        positive = (
            "output_steepness",
            "bit_fail_limit",
            "learning_rate",
            "quickprop_mu",
            "rprop_delta_max",
            "rprop_delta_zero",
            "cascade_candidate_limit",
        )
        non_negative = (
            "desired_error",
            "rprop_delta_min",
            "sarprop_temperature",
            "sarprop_step_error_threshold_factor",
            "cascade_output_change_fraction",
            "cascade_candidate_change_fraction",
        )
        for name in (*positive, *non_negative):
            value = getattr(self, name)
            ok = isinstance(value, (int, float)) and math.isfinite(value)
            if not ok or (value <= 0 if name in positive else value < 0):
                bound = "> 0" if name in positive else ">= 0"
                raise ConfigError(f"{name}: expected a finite number {bound}, got {value!r}")
        if not self.rprop_increase_factor > 1.0:
            raise ConfigError(
                f"rprop_increase_factor: expected > 1, got {self.rprop_increase_factor!r}"
            )
        if not 0.0 < self.rprop_decrease_factor < 1.0:
            raise ConfigError(
                f"rprop_decrease_factor: expected in (0, 1), got {self.rprop_decrease_factor!r}"
            )
        if any(not (math.isfinite(s) and s > 0) for s in self.cascade_activation_steepnesses):
            raise ConfigError(
                f"cascade_activation_steepnesses: expected positive numbers, got"
                f" {list(self.cascade_activation_steepnesses)}"
            )
        for low, high in (
            ("cascade_min_out_epochs", "cascade_max_out_epochs"),
            ("cascade_min_cand_epochs", "cascade_max_cand_epochs"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ConfigError(
                    f"{low}: {getattr(self, low)} is more than {high} ({getattr(self, high)})"
                )
        if self.seed is not None and (
            not isinstance(self.seed, int) or isinstance(self.seed, bool)
        ):
            raise ConfigError(f"seed: expected an integer or None, got {self.seed!r}")

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON-serialisable dict (``CascadeSettings(**d)`` reads it back)."""
        values = asdict(self)
        values["cascade_activation_functions"] = list(self.cascade_activation_functions)
        values["cascade_activation_steepnesses"] = list(self.cascade_activation_steepnesses)
        return values

    @property
    def num_candidates(self) -> int:
        """Functions x steepnesses x groups (``fann_get_cascade_num_candidates``)."""
        return (
            len(self.cascade_activation_functions)
            * len(self.cascade_activation_steepnesses)
            * self.cascade_num_candidate_groups
        )


def trainable_fann_activation(argument: str, name: object) -> str:
    """The canonical name of FANN activation ``name`` if FANN can train it (all but the
    threshold functions); a :class:`ConfigError` naming ``argument`` otherwise."""
    if not isinstance(name, str):
        raise ConfigError(f"{argument}: expected activation names (str), got {name!r}")
    canonical = activations.canonical_name(name)
    module = activations.get(canonical)
    if not isinstance(module, activations.SteepActivation) or not activations.is_trainable(module):
        trainable = [
            n
            for n in activations.names()
            if isinstance(activations.get(n), activations.SteepActivation)
            and activations.is_trainable(activations.get(n))
        ]
        raise ConfigError(
            f"{argument}: {name!r} is not one of FANN's trainable activations; use one of"
            f" {trainable}"
        )
    return canonical
