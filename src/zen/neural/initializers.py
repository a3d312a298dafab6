"""Weight initialisation schemes for dense layers, chosen by name.

``"auto"`` picks He (Kaiming) initialisation for rectifier-like activations and Glorot (Xavier)
for saturating ones, which is what the respective papers derive (He et al. 2015; Glorot & Bengio
2010). ``"nguyen_widrow"`` is FANN's ``fann_init_weights`` rule (Nguyen & Widrow 1990), kept for
users who port FANN training setups; ``"fann_uniform"`` is FANN's ``fann_randomize_weights``
default range of [-0.1, 0.1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import nn

from zen.errors import expect_one_of

_RECTIFIERS = {"relu", "leaky_relu", "elu", "selu", "gelu", "silu", "softplus", "mish"}


def _xavier_uniform(layer: nn.Linear, activation: str | None) -> None:
    nn.init.xavier_uniform_(layer.weight, gain=_gain(activation))


def _xavier_normal(layer: nn.Linear, activation: str | None) -> None:
    nn.init.xavier_normal_(layer.weight, gain=_gain(activation))


def _kaiming_uniform(layer: nn.Linear, activation: str | None) -> None:
    nn.init.kaiming_uniform_(layer.weight, nonlinearity=_kaiming_nonlinearity(activation))


def _kaiming_normal(layer: nn.Linear, activation: str | None) -> None:
    nn.init.kaiming_normal_(layer.weight, nonlinearity=_kaiming_nonlinearity(activation))


def _orthogonal(layer: nn.Linear, activation: str | None) -> None:
    nn.init.orthogonal_(layer.weight, gain=_gain(activation))


def _fann_uniform(layer: nn.Linear, activation: str | None) -> None:
    nn.init.uniform_(layer.weight, -0.1, 0.1)
    if layer.bias is not None:
        nn.init.uniform_(layer.bias, -0.1, 0.1)


def _nguyen_widrow(layer: nn.Linear, activation: str | None) -> None:
    # beta = 0.7 * H^(1/I): weights drawn in [-beta, beta] spread each hidden unit's active
    # region over the input range, so fewer units start saturated.
    hidden, inputs = layer.weight.shape
    beta = 0.7 * hidden ** (1.0 / max(inputs, 1))
    with torch.no_grad():
        layer.weight.uniform_(-0.5, 0.5)
        norms = layer.weight.norm(dim=1, keepdim=True).clamp_min(1e-12)
        layer.weight.mul_(beta / norms)
        if layer.bias is not None:
            layer.bias.uniform_(-beta, beta)


def _gain(activation: str | None) -> float:
    if activation in {"sigmoid_symmetric"}:
        return nn.init.calculate_gain("tanh")
    if activation in _RECTIFIERS:
        return nn.init.calculate_gain("relu")
    return 1.0


def _kaiming_nonlinearity(activation: str | None) -> Literal["relu", "leaky_relu"]:
    return "leaky_relu" if activation == "leaky_relu" else "relu"


SCHEMES: dict[str, Callable[[nn.Linear, str | None], None]] = {
    "xavier_uniform": _xavier_uniform,
    "xavier_normal": _xavier_normal,
    "kaiming_uniform": _kaiming_uniform,
    "kaiming_normal": _kaiming_normal,
    "orthogonal": _orthogonal,
    "fann_uniform": _fann_uniform,
    "nguyen_widrow": _nguyen_widrow,
}


def initialize(layer: nn.Linear, scheme: str = "auto", activation: str | None = None) -> None:
    """Initialise ``layer`` in place with ``scheme``; ``activation`` is the name that follows it.

    ``"auto"`` is Kaiming-uniform before rectifiers, Xavier-uniform otherwise; biases start at
    zero for every scheme except the FANN ones, which draw them like the weights.
    """
    if scheme == "auto":
        scheme = "kaiming_uniform" if activation in _RECTIFIERS else "xavier_uniform"
    if scheme not in SCHEMES:
        raise expect_one_of("init", scheme, ["auto", *SCHEMES])
    if layer.bias is not None and scheme not in {"fann_uniform", "nguyen_widrow"}:
        nn.init.zeros_(layer.bias)
    SCHEMES[scheme](layer, activation)
