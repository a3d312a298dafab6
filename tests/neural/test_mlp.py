"""MLP construction, shapes, configs and errors."""

from __future__ import annotations

import pytest
import torch

from zen import ConfigError, DataError
from zen.neural import MLP


def test_forward_maps_inputs_to_outputs() -> None:
    net = MLP([64, 128, 128, 10], activation="relu", output_activation=None, dropout=0.1)
    assert net(torch.zeros(7, 64)).shape == (7, 10)
    assert (net.in_features, net.out_features) == (64, 10)


@pytest.mark.parametrize("norm", [None, "batch", "layer"])
def test_norms_build_and_run(norm: str | None) -> None:
    net = MLP([3, 8, 2], norm=norm)
    assert net(torch.randn(4, 3)).shape == (4, 2)


def test_per_layer_activations_and_steepness() -> None:
    net = MLP([2, 4, 4, 1], activation=["relu", {"name": "sigmoid", "steepness": 1.0}])
    assert [type(module).__name__ for module in net.activations] == ["ReLU", "Sigmoid", "Identity"]
    assert net.activations[1].steepness == 1.0


def test_config_rebuilds_an_equivalent_network() -> None:
    net = MLP([5, 6, 3], activation="leaky_relu", output_activation="sigmoid", dropout=0.2)
    rebuilt = MLP.from_config(net.config())
    rebuilt.load_state_dict(net.state_dict())
    x = torch.randn(4, 5)
    net.eval(), rebuilt.eval()
    torch.testing.assert_close(net(x), rebuilt(x))
    assert rebuilt.config() == net.config()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_sizes": [5]}, "layer_sizes"),
        ({"layer_sizes": [5, 0, 2]}, "layer_sizes"),
        ({"layer_sizes": "5-3"}, "layer_sizes"),
        ({"layer_sizes": [5, 2], "dropout": 1.0}, "dropout"),
        ({"layer_sizes": [5, 2], "norm": "group"}, "norm"),
        ({"layer_sizes": [5, 3, 2], "activation": ["relu", "relu"]}, "2 activations for 1"),
        ({"layer_sizes": [5, 3, 2], "activation": "nope"}, "activation"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MLP(**kwargs)


def test_wrong_feature_count_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"expected shape \(batch, 4\), got \(2, 3\)"):
        MLP([4, 2])(torch.zeros(2, 3))


@pytest.mark.parametrize(
    "init",
    [
        "auto",
        "xavier_uniform",
        "xavier_normal",
        "kaiming_uniform",
        "kaiming_normal",
        "orthogonal",
        "fann_uniform",
        "nguyen_widrow",
        "nguyen_widrow_textbook",
    ],
)
def test_init_schemes_give_finite_distinct_weights(init: str) -> None:
    torch.manual_seed(0)
    net = MLP([16, 32, 4], init=init, activation="sigmoid_symmetric")
    weight = net.linears[0].weight
    assert torch.isfinite(weight).all() and weight.std() > 0


def test_fann_uniform_stays_in_fann_range() -> None:
    net = MLP([16, 32, 4], init="fann_uniform")
    for linear in net.linears:
        assert linear.weight.abs().max() <= 0.1 and linear.bias.abs().max() <= 0.1


def test_unknown_init_lists_schemes() -> None:
    with pytest.raises(ConfigError, match="nguyen_widrow"):
        MLP([2, 2], init="zeros")
