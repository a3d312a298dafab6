"""Weight initialisation schemes for dense layers, chosen by name.

``"auto"`` picks He (Kaiming) initialisation for rectifier-like activations and Glorot (Xavier)
for saturating ones, which is what the respective papers derive (He et al. 2015; Glorot & Bengio
2010). For users who port FANN setups: ``"fann_uniform"`` is FANN's ``fann_randomize_weights``
default range of [-0.1, 0.1]; ``"nguyen_widrow"`` is FANN's ``fann_init_weights`` (see
:func:`init_weights`), a whole-network rule scaled by the training data's input range;
``"nguyen_widrow_textbook"`` is Nguyen & Widrow's (1990) per-layer rule as textbooks give it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from zen.errors import ConfigError, DataError, expect_one_of
from zen.neural.data import to_tensor

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


def _nguyen_widrow_textbook(layer: nn.Linear, activation: str | None) -> None:
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
    "nguyen_widrow_textbook": _nguyen_widrow_textbook,
}
#: Schemes that set a whole network at once rather than one layer at a time.
NETWORK_SCHEMES = ("nguyen_widrow",)
#: Every name ``MLP(init=...)`` accepts.
INIT_NAMES = ("auto", *SCHEMES, *NETWORK_SCHEMES)
# Schemes that draw the biases like the weights (FANN's); the others start biases at zero.
_FANN_SCHEMES = {"fann_uniform", "nguyen_widrow_textbook"}
#: The input range FANN's Nguyen-Widrow assumes when no training data is given: FANN's own
#: scaling target (``fann_set_scaling_params`` maps inputs to [-1, 1]).
DEFAULT_INPUT_RANGE = (-1.0, 1.0)


def initialize(layer: nn.Linear, scheme: str = "auto", activation: str | None = None) -> None:
    """Initialise ``layer`` in place with ``scheme``; ``activation`` is the name that follows it.

    ``"auto"`` is Kaiming-uniform before rectifiers, Xavier-uniform otherwise; biases start at
    zero for every scheme except the FANN ones, which draw them like the weights. The
    whole-network ``"nguyen_widrow"`` is not a per-layer scheme: use :func:`init_weights`.
    """
    if scheme == "auto":
        scheme = "kaiming_uniform" if activation in _RECTIFIERS else "xavier_uniform"
    if scheme in NETWORK_SCHEMES:
        raise ConfigError(
            f"init: {scheme!r} (FANN's fann_init_weights) sets a whole network from its"
            " training data; use MLP(init='nguyen_widrow') or"
            " zen.neural.initializers.init_weights(net, X), or 'nguyen_widrow_textbook' for"
            " one layer"
        )
    if scheme not in SCHEMES:
        raise expect_one_of("init", scheme, list(INIT_NAMES))
    if layer.bias is not None and scheme not in _FANN_SCHEMES:
        nn.init.zeros_(layer.bias)
    SCHEMES[scheme](layer, activation)


def nguyen_widrow_scale(layer_sizes: Sequence[int], input_low: float, input_high: float) -> float:
    r"""FANN's Nguyen-Widrow scale (``fann_init_weights`` in libfann's fann.c, FANN 2.2).

    .. math:: s = \frac{(0.7\,H)^{1/I}}{x_{\max} - x_{\min}}

    with :math:`H` the hidden neurons of the whole network (all hidden layers together),
    :math:`I` the inputs, and :math:`x_{\min}, x_{\max}` the smallest and largest input value
    in the training data (over all inputs). Computed with FANN's float constants, so that the
    scale equals libfann's. A network without hidden layers gets 0, as in FANN.

    >>> round(nguyen_widrow_scale([2, 4, 1], -1.0, 1.0), 6)  # sqrt(2.8) / 2
    0.83666
    """
    sizes = [int(size) for size in layer_sizes]
    hidden = sum(sizes[1:-1])
    width = float(np.float32(input_high)) - float(np.float32(input_low))
    if not (np.isfinite(width) and width > 0):
        raise DataError(
            f"X: every input value is {input_low!r}; FANN's Nguyen-Widrow scales the weights"
            " by the inputs' range, so it needs inputs that vary"
        )
    # FANN: (float)(pow((double)(0.7f * (double)H), (double)(1.0f / (double)I)) / (double)range)
    return float(np.float32((float(np.float32(0.7)) * hidden) ** (1.0 / sizes[0]) / width))


def _fann_nguyen_widrow(
    linears: Sequence[nn.Linear], scale: float, uniform: Callable[[int, int], torch.Tensor]
) -> None:
    """Set every layer as ``fann_init_weights`` does: a neuron's input weights uniform in
    [0, s) (FANN's rule: non-negative), its bias uniform in [-s, s).

    ``uniform(rows, columns)`` gives draws in [0, 1), one row per neuron: its inputs, then its
    bias, in the order FANN draws them (the order of the connections in a ``.net`` file).
    """
    with torch.no_grad():
        for linear in linears:
            outputs, inputs = linear.weight.shape
            draws = uniform(outputs, inputs + 1).to(torch.float64)
            linear.weight.copy_(scale * draws[:, :inputs])
            if linear.bias is not None:
                linear.bias.copy_(-scale + 2.0 * scale * draws[:, inputs])


def init_weights(net: Any, X: Any, *, generator: torch.Generator | None = None) -> Any:
    """Initialise ``net`` with FANN's Nguyen-Widrow rule, scaled by the inputs of ``X``.

    zen's counterpart of ``fann_init_weights(ann, train_data)``: the scale is
    :func:`nguyen_widrow_scale` of the network's sizes and the smallest and largest value in
    ``X``; every connection weight is drawn uniform in [0, s) and every bias in [-s, s), layer
    after layer, neuron after neuron, as FANN does. ``MLP(init="nguyen_widrow")`` applies the same
    rule at construction with inputs assumed in [-1, 1]; call this once the training data is
    known (before ``Trainer.fit``).

    Args:
        net: an :class:`~zen.neural.MLP` (anything with ``layer_sizes`` and ``linear_layers``).
        X: the training inputs, ``(n_samples, n_features)`` (numpy, pandas, torch).
        generator: the torch generator to draw from; ``None`` uses torch's global generator,
            like torch's own initialisers.

    Returns:
        ``net``, initialised in place.

    Example:
        >>> from zen.neural import MLP
        >>> X = np.array([[0.0, 4.0], [2.0, 1.0]], dtype=np.float32)  # inputs range over [0, 4]
        >>> net = init_weights(MLP([2, 3, 1]), X, generator=torch.Generator().manual_seed(0))
        >>> scale = nguyen_widrow_scale([2, 3, 1], 0.0, 4.0)  # sqrt(0.7 * 3) / 4
        >>> weights = net.linears[0].weight
        >>> round(scale, 4), bool(weights.min() >= 0 and weights.max() < scale)
        (0.3623, True)
    """
    inputs = to_tensor(X, "X", min_dim=2)
    if inputs.shape[1] != net.layer_sizes[0]:
        raise DataError(
            f"X: expected {net.layer_sizes[0]} feature columns (the network's inputs), got"
            f" {inputs.shape[1]}"
        )
    low, high = torch.aminmax(inputs)
    scale = nguyen_widrow_scale(net.layer_sizes, float(low), float(high))
    _fann_nguyen_widrow(
        net.linear_layers,
        scale,
        lambda rows, columns: torch.rand(rows, columns, generator=generator, dtype=torch.float64),
    )
    return net


def init_network(linears: Sequence[nn.Linear], layer_sizes: Sequence[int], scheme: str) -> None:
    """Apply a whole-network scheme (:data:`NETWORK_SCHEMES`) at construction, without data."""
    if scheme != "nguyen_widrow":
        raise expect_one_of("init", scheme, list(NETWORK_SCHEMES))
    scale = nguyen_widrow_scale(layer_sizes, *DEFAULT_INPUT_RANGE)
    _fann_nguyen_widrow(
        linears, scale, lambda rows, columns: torch.rand(rows, columns, dtype=torch.float64)
    )
