"""Activation registry: FANN formulas, modern functions, names and errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from zen import ConfigError
from zen.neural import activations

REQUIRED = [
    "linear", "sigmoid", "sigmoid_symmetric", "gaussian", "gaussian_symmetric", "elliot",
    "elliot_symmetric", "sin", "cos", "threshold", "relu", "leaky_relu", "elu", "selu", "gelu",
    "silu", "softplus", "mish",
]  # fmt: skip

# FANN 2.2's definitions (fann_activation.h), written out independently, per scaled sum z.
FANN_FORMULAS = {
    "linear": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + math.exp(-2 * z)),
    "sigmoid_symmetric": lambda z: 2 / (1 + math.exp(-2 * z)) - 1,
    "gaussian": lambda z: math.exp(-z * z),
    "gaussian_symmetric": lambda z: 2 * math.exp(-z * z) - 1,
    "elliot": lambda z: (z / 2) / (1 + abs(z)) + 0.5,
    "elliot_symmetric": lambda z: z / (1 + abs(z)),
    "sin": lambda z: math.sin(z) / 2 + 0.5,
    "sin_symmetric": math.sin,
    "cos": lambda z: math.cos(z) / 2 + 0.5,
    "cos_symmetric": math.cos,
    "threshold": lambda z: 1.0 if z >= 0 else 0.0,
    "threshold_symmetric": lambda z: 1.0 if z >= 0 else -1.0,
    "linear_piece": lambda z: min(max(z, 0.0), 1.0),
    "linear_piece_symmetric": lambda z: min(max(z, -1.0), 1.0),
}


def test_registry_covers_fann_and_modern_sets() -> None:
    assert set(REQUIRED) <= set(activations.names())


@pytest.mark.parametrize("name", sorted(FANN_FORMULAS))
@given(
    x=st.floats(-6, 6, allow_nan=False),
    steepness=st.sampled_from([0.25, 0.5, 1.0, 1.7]),
)
def test_fann_family_matches_fann_formula(name: str, x: float, steepness: float) -> None:
    module = activations.get(name, steepness=steepness)
    got = module(torch.tensor([x], dtype=torch.float64)).item()
    assert got == pytest.approx(FANN_FORMULAS[name](steepness * x), abs=1e-9)


def test_default_steepness_gives_textbook_functions() -> None:
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    torch.testing.assert_close(activations.get("sigmoid")(x), torch.sigmoid(x))
    torch.testing.assert_close(activations.get("tanh")(x), torch.tanh(x))
    torch.testing.assert_close(activations.get("linear")(x), x)


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("relu", torch.relu),
        ("gelu", torch.nn.functional.gelu),
        ("silu", torch.nn.functional.silu),
        ("mish", torch.nn.functional.mish),
        ("softplus", torch.nn.functional.softplus),
        ("elu", torch.nn.functional.elu),
        ("selu", torch.selu),
    ],
)
def test_modern_activations_are_pytorch_functions(name: str, reference) -> None:
    x = torch.linspace(-3, 3, 25)
    torch.testing.assert_close(activations.get(name)(x), reference(x))


def test_stepwise_sigmoid_is_exact_at_its_knots_and_monotone() -> None:
    module = activations.get("sigmoid_stepwise", steepness=0.5)
    # FANN switches to the maximum at the last knot itself, so check the first five.
    knots = torch.tensor([0.005, 0.05, 0.25, 0.75, 0.95], dtype=torch.float64)
    x = torch.log(knots / (1 - knots))  # where sigmoid(x) reaches each knot result
    torch.testing.assert_close(module(x), knots)
    dense = module(torch.linspace(-8, 8, 400, dtype=torch.float64))
    assert bool((dense.diff() >= 0).all())
    assert dense[0] == 0 and dense[-1] == 1


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown value 'reluu'.*relu.*sigmoid"):
        activations.get("reluu")


def test_aliases_and_case_resolve() -> None:
    assert activations.canonical_name("Tanh") == "sigmoid_symmetric"
    assert activations.canonical_name("swish") == "silu"


def test_threshold_is_inference_only() -> None:
    assert not activations.is_trainable(activations.get("threshold"))
    assert activations.is_trainable(activations.get("sigmoid"))


def test_register_refuses_silent_overwrite() -> None:
    with pytest.raises(ConfigError, match="already registered"):
        activations.register("relu", torch.nn.ReLU)


def test_name_of_round_trips_registry_modules() -> None:
    for name in activations.names():
        assert activations.name_of(activations.get(name)) == name
