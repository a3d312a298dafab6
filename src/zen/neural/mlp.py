"""MLP: a fully connected feed-forward network described by its layer sizes."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

from zen.errors import ConfigError, DataError, expect_one_of
from zen.neural import activations
from zen.neural.export_plan import mlp_plan
from zen.neural.hub import NetworkHubMixin
from zen.neural.initializers import NETWORK_SCHEMES, init_network, initialize
from zen.registry import ModelSpec, register

ActivationSpec = str | Mapping[str, Any] | nn.Module | None
_NORMS = {"batch": nn.BatchNorm1d, "layer": nn.LayerNorm}


def _build_activation(spec: ActivationSpec) -> nn.Module:
    if isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
        if name is None:
            raise ConfigError(f"activation: a mapping needs a 'name' key, got {dict(spec)}")
        return activations.get(name, **options)
    return activations.resolve(spec)


def _describe_activation(module: nn.Module) -> dict[str, Any]:
    """The JSON form of an activation module, enough to rebuild it with `_build_activation`."""
    name = activations.name_of(module)
    if name is None:
        raise ConfigError(
            f"activation {module!r} is not in the registry, so the network cannot be saved as a"
            " config; register it with zen.neural.activations.register"
        )
    spec: dict[str, Any] = {"name": name}
    if isinstance(module, activations.SteepActivation):
        spec["steepness"] = module.steepness
        if module.sum_limit is not None:
            spec["sum_limit"] = module.sum_limit
    elif isinstance(module, nn.LeakyReLU):
        spec["negative_slope"] = module.negative_slope
    return spec


class MLP(nn.Module, NetworkHubMixin):
    r"""A multilayer perceptron: ``Linear -> [norm] -> activation -> [dropout]`` per hidden layer.

    Each layer computes :math:`h_{l+1} = \phi_l(W_l h_l + b_l)`; the last layer applies
    ``output_activation`` (none by default, i.e. logits for classification, raw values for
    regression).

    Args:
        layer_sizes: ``[inputs, hidden..., outputs]``, at least two entries, all positive.
        activation: hidden activation: a registry name (see :mod:`zen.neural.activations`),
            a mapping ``{"name": ..., **kwargs}``, a module, or a list with one entry per
            hidden layer.
        output_activation: activation after the last layer; ``None`` means linear.
        dropout: dropout probability after each hidden activation, in [0, 1).
        norm: ``None``, ``"batch"`` or ``"layer"`` normalisation before each hidden activation.
        bias: whether the linear layers have biases.
        init: weight initialisation scheme (:func:`zen.neural.initializers.initialize`), or
            ``"nguyen_widrow"``, FANN's rule for the whole network with inputs assumed in
            [-1, 1]; :func:`zen.neural.initializers.init_weights` (``fann_init_weights``)
            redoes it with the training data's input range.

    Example:
        >>> net = MLP([64, 128, 10], activation="relu", dropout=0.1)
        >>> net(torch.zeros(5, 64)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec] = "relu",
        output_activation: ActivationSpec = None,
        dropout: float = 0.0,
        norm: str | None = None,
        bias: bool = True,
        init: str = "auto",
    ) -> None:
        super().__init__()
        sizes = [int(size) for size in layer_sizes] if _is_int_sequence(layer_sizes) else None
        if sizes is None or len(sizes) < 2 or min(sizes) < 1:
            raise ConfigError(
                f"layer_sizes: expected at least two positive integers [inputs, ..., outputs],"
                f" got {layer_sizes!r}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if norm is not None and norm not in _NORMS:
            raise expect_one_of("norm", norm, ["None", *_NORMS])

        n_hidden = len(sizes) - 2
        if isinstance(activation, Sequence) and not isinstance(activation, str):
            hidden_specs = list(activation)
            if len(hidden_specs) != n_hidden:
                raise ConfigError(
                    f"activation: got {len(hidden_specs)} activations for {n_hidden} hidden layers"
                )
        else:
            hidden_specs = [activation] * n_hidden

        self.layer_sizes = sizes
        self.dropout = float(dropout)
        self.norm = norm
        self.init = init
        self.linears = nn.ModuleList(
            nn.Linear(fan_in, fan_out, bias=bias) for fan_in, fan_out in itertools.pairwise(sizes)
        )
        self.norms = nn.ModuleList(
            _NORMS[norm](size) if norm else nn.Identity() for size in sizes[1:-1]
        )
        self.activations = nn.ModuleList(
            [_build_activation(spec) for spec in hidden_specs]
            + [_build_activation(output_activation)]
        )
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.reset_parameters()

    @property
    def in_features(self) -> int:
        """Number of input features the network expects."""
        return self.layer_sizes[0]

    @property
    def out_features(self) -> int:
        """Number of outputs per sample."""
        return self.layer_sizes[-1]

    def reset_parameters(self) -> None:
        """Re-initialise every layer with the configured scheme."""
        if self.init in NETWORK_SCHEMES:
            init_network(self.linear_layers, self.layer_sizes, self.init)
        else:
            for linear, activation in zip(self.linear_layers, self.activations, strict=True):
                initialize(linear, self.init, activations.name_of(activation))
        for norm in self.norms:
            if isinstance(norm, (nn.BatchNorm1d, nn.LayerNorm)):
                norm.reset_parameters()

    @property
    def linear_layers(self) -> list[nn.Linear]:
        """The ``nn.Linear`` layers in order (``self.linears`` typed for readers and checkers)."""
        return [cast(nn.Linear, layer) for layer in self.linears]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` of shape ``(batch, in_features)`` to ``(batch, out_features)``."""
        if x.dim() != 2 or x.shape[-1] != self.in_features:
            raise DataError(f"x: expected shape (batch, {self.in_features}), got {tuple(x.shape)}")
        last = len(self.linears) - 1
        for index, linear in enumerate(self.linears):
            x = linear(x)
            if index < last:
                x = self.drop(self.activations[index](self.norms[index](x)))
        return self.activations[last](x)

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        hidden = [_describe_activation(module) for module in self.activations[:-1]]
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": hidden,
            "output_activation": _describe_activation(self.activations[-1]),
            "dropout": self.dropout,
            "norm": self.norm,
            "bias": self.linears[0].bias is not None,
            "init": self.init,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MLP:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        sizes = "-".join(str(size) for size in self.layer_sizes)
        return f"sizes={sizes}, dropout={self.dropout:g}, norm={self.norm}"


# Trainer checkpoints rebuild an MLP by name, and zen export traces it.
register(ModelSpec("MLP", "network", model_class=MLP, export_plan=mlp_plan))


def _is_int_sequence(value: object) -> bool:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return False
    return all(isinstance(item, int) and not isinstance(item, bool) for item in value)
