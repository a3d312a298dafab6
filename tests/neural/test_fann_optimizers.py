"""FANN's batch training rules (zen.neural.fann_optimizers) against FANN 2.2.

Two references: a weight-by-weight transliteration of fann_train.c's update functions (checked
on random states with hypothesis), and libfann's own training runs (``fann_train_epoch`` with
Quickprop and SARPROP, committed in tests/fixtures/fann/ by make_cascade_reference.py), which
zen's optimizers must follow epoch after epoch from the same initial network.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
import torch
from cascade_cases import OPTIMIZER_DATA, TRAIN_CASES, TrainCase, reference
from fann_cases import REFERENCE_DIR, TRAINING, training_data
from fann_cases import REFERENCE_FILE as FANN_REFERENCE_FILE
from hypothesis import given, settings
from hypothesis import strategies as st

from zen import ConfigError
from zen.neural import MLP, SARPROP, Quickprop, Trainer, checkpoint, private_rng
from zen.neural.fann import load_fann_net, read_fann_data
from zen.neural.fann_optimizers import (
    QuickpropSettings,
    RpropSettings,
    SarpropSettings,
    irprop_minus_update,
    quickprop_update,
    sarprop_update,
)
from zen.neural.optim import FULL_BATCH_OPTIMIZERS, build_optimizer


# ---------------------------------------------------------------------------- fann_train.c
# One weight at a time, line by line as FANN 2.2 writes it (the slope is FANN's: minus the
# gradient). Deviations from the C are marked; the vectorised rules must agree with these.
def c_irpropm(w: float, slope: float, prev_step: float, prev_slope: float) -> tuple[float, ...]:
    prev_step = max(prev_step, 0.0001)
    if prev_slope * slope >= 0.0:
        next_step = min(prev_step * 1.2, 50.0)
    else:
        next_step = max(prev_step * 0.5, 0.0)
        slope = 0.0
    w = max(w - next_step, -1500.0) if slope < 0 else min(w + next_step, 1500.0)
    return w, next_step, slope


def c_quickprop(
    w: float, slope: float, prev_step: float, prev_slope: float, epsilon: float
) -> tuple[float, ...]:
    decay, mu = -0.0001, 1.75
    shrink_factor = mu / (1.0 + mu)
    slope = slope + decay * w
    next_step = 0.0

    def parabola() -> float:  # zen: no step instead of FANN's division by zero
        return 0.0 if prev_slope == slope else prev_step * slope / (prev_slope - slope)

    if prev_step > 0.001:
        if slope > 0.0:
            next_step += epsilon * slope
        next_step += mu * prev_step if slope > shrink_factor * prev_slope else parabola()
    elif prev_step < -0.001:
        if slope < 0.0:
            next_step += epsilon * slope
        next_step += mu * prev_step if slope < shrink_factor * prev_slope else parabola()
    else:
        next_step += epsilon * slope
    w = min(max(w + next_step, -1500.0), 1500.0)
    return w, next_step, slope


def c_sarprop(
    w: float, slope: float, prev_step: float, prev_slope: float, epoch: int, mse: float, u: float
) -> tuple[float, ...]:
    """``u`` is the draw FANN takes from rand()/RAND_MAX."""
    prev_step = max(prev_step, 0.000001)
    slope = -slope - w * 2.0 ** (-0.015 * epoch - 6.644)
    same_sign = prev_slope * slope
    if same_sign > 0.0:
        next_step = min(prev_step * 1.2, 50.0)
        w = w + next_step if slope < 0.0 else w - next_step
    elif same_sign < 0.0:
        if prev_step < 0.1 * mse:
            next_step = prev_step * 0.5 + u * math.sqrt(mse) * 2.0 ** (-0.015 * epoch + 1.385)
        else:
            next_step = max(prev_step * 0.5, 0.000001)
        slope = 0.0
    else:
        w = w + prev_step if slope < 0.0 else w - prev_step
        next_step = prev_step  # zen: its own step (FANN: the previous weight's, uninitialised)
    return w, next_step, slope


values = st.floats(-3.0, 3.0, allow_nan=False, width=64)
# Steps on both sides of Quickprop's +-0.001 threshold, and exactly zero.
steps = st.one_of(st.just(0.0), st.floats(-2.0, 2.0), st.floats(-0.002, 0.002))
slopes = st.one_of(st.just(0.0), values)
states = st.lists(st.tuples(values, slopes, steps, slopes), min_size=1, max_size=30)


def columns(rows: list[tuple[float, ...]]) -> list[torch.Tensor]:
    return [torch.tensor(column, dtype=torch.float64) for column in zip(*rows, strict=True)]


def assert_states(got: tuple[torch.Tensor, ...], expected: list[tuple[float, ...]], rtol: float,
                  atol: float) -> None:  # fmt: skip
    """Weights, steps and slopes after the update against the C rule's, weight by weight."""
    for tensor, column in zip(got, zip(*expected, strict=True), strict=True):
        np.testing.assert_allclose(tensor.numpy(), column, rtol=rtol, atol=atol)


@given(states)
@settings(max_examples=100, deadline=None)
def test_irprop_minus_update_is_fanns_rule_weight_by_weight(rows: list[tuple[float, ...]]) -> None:
    weights, slope, prev_steps, prev_slopes = columns([(w, s, abs(p), q) for w, s, p, q in rows])
    irprop_minus_update(weights, slope, prev_steps, prev_slopes, RpropSettings())
    expected = [c_irpropm(w, s, abs(p), q) for w, s, p, q in rows]
    assert_states((weights, prev_steps, prev_slopes), expected, rtol=1e-12, atol=1e-15)


@given(states, st.floats(0.001, 0.1))
@settings(max_examples=100, deadline=None)
def test_quickprop_update_is_fanns_rule_weight_by_weight(
    rows: list[tuple[float, ...]], epsilon: float
) -> None:
    weights, slope, prev_steps, prev_slopes = columns(rows)
    quickprop_update(weights, slope, prev_steps, prev_slopes, epsilon, QuickpropSettings())
    expected = [c_quickprop(*row, epsilon) for row in rows]
    assert_states((weights, prev_steps, prev_slopes), expected, rtol=1e-9, atol=1e-12)


@given(states, st.integers(0, 300), st.floats(0.0, 2.0))
@settings(max_examples=100, deadline=None)
def test_sarprop_update_is_fanns_rule_weight_by_weight(
    rows: list[tuple[float, ...]], epoch: int, mse: float
) -> None:
    weights, slope, prev_steps, prev_slopes = columns([(w, s, abs(p), q) for w, s, p, q in rows])
    kicks = torch.rand(len(rows), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    generator = torch.Generator().manual_seed(3)
    sarprop_update(
        weights, slope, prev_steps, prev_slopes, epoch, mse, SarpropSettings(), generator
    )
    expected = [
        c_sarprop(w, s, abs(p), q, epoch, mse, float(u))
        for (w, s, p, q), u in zip(rows, kicks, strict=True)
    ]
    assert_states((weights, prev_steps, prev_slopes), expected, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------- libfann runs
def half_sse_epoch(net: torch.nn.Module, X: torch.Tensor, Y: torch.Tensor) -> float:
    """Set the gradients of FANN's error (half the squared error summed over the samples) and
    return the epoch's MSE, as fann_train_epoch does before it updates."""
    net.zero_grad()
    errors = net(X) - Y
    (0.5 * errors.pow(2).sum()).backward()
    return float(errors.detach().pow(2).mean())


@pytest.mark.parametrize("case", TRAIN_CASES, ids=[case.id for case in TRAIN_CASES])
def test_optimizer_follows_libfann_epoch_by_epoch(case: TrainCase) -> None:
    X, Y = map(torch.from_numpy, read_fann_data(OPTIMIZER_DATA))
    fann = reference()["train"][case.id]
    net = load_fann_net(case.initial)
    optimizer: Any
    if case.algorithm == "quickprop":
        # FANN steps by learning_rate / num_data along slopes summed over the samples.
        optimizer = Quickprop(net.parameters(), lr=0.7 / len(X))
    else:
        optimizer = SARPROP(net.parameters(), generator=torch.Generator().manual_seed(0))
    mse = []
    for _ in range(case.epochs):
        mse.append(half_sse_epoch(net, X, Y))
        optimizer.step(**({"mse": mse[-1]} if case.algorithm == "sarprop" else {}))
    # float32 sums in another order drift apart slowly over Quickprop's quadratic steps.
    np.testing.assert_allclose(mse, fann["epoch_mse"], rtol=2e-4)
    with torch.no_grad():
        final = float((net(X) - Y).pow(2).mean())
    assert final == pytest.approx(fann["final_mse"], rel=5e-4)
    trained = load_fann_net(case.net)
    # Quickprop's parabola steps amplify those rounding differences in the weights (a 30-epoch
    # drift of ~0.5%); SARPROP's sign-driven steps do not.
    tolerance = 1e-2 if case.algorithm == "quickprop" else 1e-5
    for mine, fanns in zip(net.parameters(), trained.parameters(), strict=True):
        torch.testing.assert_close(mine.detach(), fanns.detach(), rtol=tolerance, atol=tolerance)


def test_irprop_minus_update_follows_libfann_epoch_by_epoch() -> None:
    # libfann's full-batch iRPROP- run of tests/neural/fann_reference (made for test_fann.py).
    entry = json.loads(FANN_REFERENCE_FILE.read_text(encoding="utf-8"))[TRAINING.id]
    X, Y = map(torch.from_numpy, training_data())
    net = load_fann_net(REFERENCE_DIR / entry["initial_path"])
    state = [(torch.full_like(p, 0.1), torch.zeros_like(p)) for p in net.parameters()]
    mse = []
    for _ in range(TRAINING.epochs):
        mse.append(half_sse_epoch(net, X, Y))
        with torch.no_grad():
            for parameter, (prev_steps, prev_slopes) in zip(net.parameters(), state, strict=True):
                irprop_minus_update(
                    parameter, -parameter.grad, prev_steps, prev_slopes, RpropSettings()
                )
    np.testing.assert_allclose(mse, entry["epoch_mse"], rtol=1e-4)


# ---------------------------------------------------------------------------- as optimizers
def separable_problem() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(64, 2, generator=generator) * 2 - 1
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).long()


def test_trainer_learns_a_separable_problem_with_quickprop() -> None:
    X, y = separable_problem()
    net = MLP([2, 8, 2], activation="sigmoid_symmetric")
    assert "quickprop" in FULL_BATCH_OPTIMIZERS  # one step per pass over the data
    result = Trainer(
        optimizer="quickprop", lr=0.7, loss="cross_entropy", max_epochs=60, seed=0
    ).fit(net, X, y)
    assert result.steps == 60
    with torch.no_grad():
        accuracy = float((net(X).argmax(1) == y).float().mean())
    assert accuracy >= 0.95
    assert result.history["train_loss"][-1] < 0.5 * result.history["train_loss"][0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sarprop_learns_a_separable_problem(seed: int) -> None:
    """Set up as FANN runs it (weights in [-0.1, 0.1], symmetric outputs whose error and MSE
    are halved). SARPROP's random steps make the run noisy, and FANN's sign of the annealed
    weight term lets weights grow once the gradient vanishes, so the test looks at the best
    epoch of the first 150."""
    X, y = separable_problem()
    targets = 2.0 * y[:, None].float() - 1.0
    with private_rng(seed):
        net = MLP([2, 4, 1], activation={"name": "elliot_symmetric", "steepness": 0.5},
                  output_activation={"name": "sigmoid_symmetric", "steepness": 0.5},
                  init="fann_uniform")  # fmt: skip
    optimizer = SARPROP(net.parameters(), generator=torch.Generator().manual_seed(seed))
    errors = []
    for _ in range(150):
        net.zero_grad()
        halved = (net(X) - targets) / 2
        (0.5 * halved.pow(2).sum()).backward()
        errors.append(float(halved.detach().pow(2).mean()))
        optimizer.step(mse=errors[-1])
    assert min(errors) < 0.1 * errors[0]


def test_sarprop_draws_from_its_own_generator_only() -> None:
    parameter = torch.nn.Parameter(torch.zeros(50))
    optimizer = SARPROP([parameter], generator=torch.Generator().manual_seed(0))
    before = torch.get_rng_state()
    for sign in (1.0, -1.0, 1.0):  # a sign change makes the annealed random steps
        parameter.grad = torch.full_like(parameter, sign)
        optimizer.step(mse=1.0)
    assert torch.equal(torch.get_rng_state(), before)
    assert optimizer.param_groups[0]["epoch"] == 3


def test_sarprop_takes_the_error_from_a_closure() -> None:
    parameter = torch.nn.Parameter(torch.ones(3))

    def closure() -> float:
        parameter.grad = None
        loss = parameter.pow(2).sum()
        loss.backward()
        return float(loss.detach())

    optimizer = SARPROP([parameter])
    assert optimizer.step(closure) == pytest.approx(3.0)
    assert torch.all(parameter < 1.0)


def test_quickprop_state_survives_a_checkpoint() -> None:
    parameter = torch.nn.Parameter(torch.ones(4))
    optimizer = Quickprop([parameter])
    for _ in range(3):
        parameter.grad = parameter.detach() * 2
        optimizer.step()
    tensors, rest = checkpoint.split_optimizer_state(optimizer.state_dict())
    again = Quickprop([torch.nn.Parameter(parameter.detach().clone())])
    again.load_state_dict(checkpoint.join_optimizer_state(tensors, rest))
    for key in ("prev_step", "prev_slope"):
        assert torch.equal(again.state_dict()["state"][0][key], optimizer.state[parameter][key])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: Quickprop(p, lr=0.0), "lr: expected a positive"),
        (lambda p: Quickprop(p, mu=-1.0), "mu: expected a positive"),
        (lambda p: Quickprop(p, decay=0.1), "decay: expected zero or a negative"),
        (lambda p: SARPROP(p, decrease_factor=2.0), "decrease_factor"),
        (lambda p: SARPROP(p, increase_factor=0.9), "increase_factor"),
        (lambda p: SARPROP(p, temperature=-1.0), "temperature"),
        (lambda p: build_optimizer("quickprop", p, lr=0.1, weight_decay=0.1), "weight_decay"),
        (lambda p: build_optimizer("quickprop", p, lr=0.1, options={"beta": 1}), "bad options"),
    ],
    ids=["lr", "mu", "decay", "decrease", "increase", "temperature", "weight-decay", "options"],
)
def test_bad_optimizer_settings_raise_config_errors(make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make([torch.nn.Parameter(torch.zeros(2))])


@pytest.mark.parametrize("mse", [None, float("nan"), -1.0])
def test_sarprop_step_needs_a_valid_error(mse: float | None) -> None:
    parameter = torch.nn.Parameter(torch.zeros(2))
    parameter.grad = torch.ones(2)
    with pytest.raises(ConfigError, match=r"mse|error"):
        SARPROP([parameter]).step(mse=mse)
