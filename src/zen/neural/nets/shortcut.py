r"""ShortcutMLP: a feed-forward network whose every layer sees the inputs and all earlier layers.

FANN's shortcut network (``fann_create_shortcut``, ``network_type=1`` in ``.net`` files) and
the shape cascade-correlation grows (:class:`~zen.neural.nets.cascade.CascadeCorrelation`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn
from torch.nn.utils import skip_init

from zen.errors import ConfigError, DataError
from zen.neural import activations
from zen.neural.export_plan import DEFAULT_BATCH_SIZES, DEFAULT_GRAPH_SIZES, ExportPlan, mlp_plan
from zen.neural.hub import NetworkHubMixin
from zen.neural.initializers import NETWORK_SCHEMES, initialize

# The MLP's JSON form of an activation, shared so both networks save activations alike.
from zen.neural.mlp import ActivationSpec, _build_activation, _describe_activation
from zen.registry import ModelSpec, register


class ShortcutMLP(nn.Module, NetworkHubMixin):
    r"""A shortcut network: layer :math:`l` reads the inputs and the outputs of every layer
    before it,

    .. math:: h_l = \phi_l\big(W_l\,[x, h_1, \dots, h_{l-1}] + b_l\big),

    and the last layer gives the outputs. FANN builds these with ``fann_create_shortcut``;
    cascade-correlation grows them one single-neuron layer at a time.

    Args:
        layer_sizes: ``[inputs, hidden..., outputs]``, at least two positive entries.
        activation: hidden activation (registry name, ``{"name": ..., **kwargs}`` mapping or
            module), or a list with one per hidden layer.
        output_activation: activation of the last layer; ``None`` means linear.
        init: weight initialisation (:func:`zen.neural.initializers.initialize`), e.g.
            ``"fann_uniform"`` for FANN's [-0.1, 0.1].

    Example:
        >>> net = ShortcutMLP([3, 4, 2, 1], activation="sigmoid_symmetric")
        >>> [linear.in_features for linear in net.linear_layers]  # 3, 3 + 4, 3 + 4 + 2
        [3, 7, 9]
        >>> net(torch.zeros(5, 3)).shape
        torch.Size([5, 1])
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: ActivationSpec | Sequence[ActivationSpec] = "relu",
        output_activation: ActivationSpec = None,
        init: str = "auto",
    ) -> None:
        super().__init__()
        sizes = _positive_sizes(layer_sizes)
        if init in NETWORK_SCHEMES:
            raise ConfigError(
                f"init: {init!r} sets a layered network; a shortcut network takes a per-layer"
                " scheme such as 'fann_uniform' or 'auto'"
            )
        hidden_count = len(sizes) - 2
        if isinstance(activation, Sequence) and not isinstance(activation, str):
            hidden_specs = list(activation)
            if len(hidden_specs) != hidden_count:
                raise ConfigError(
                    f"activation: got {len(hidden_specs)} activations for {hidden_count} hidden"
                    " layers"
                )
        else:
            hidden_specs = [activation] * hidden_count
        self.init = init
        self._build_layers(sizes, hidden_specs, output_activation)
        self.reset_parameters()

    def _build_layers(
        self,
        sizes: list[int],
        hidden_specs: Sequence[ActivationSpec],
        output_activation: ActivationSpec,
    ) -> None:
        """(Re)create the layers for ``sizes``, on the device of the current ones if any, with
        uninitialised weights (:meth:`reset_parameters` or the caller sets them; drawing
        throw-away initial weights would consume the global random generator)."""
        device = self.linear_layers[0].weight.device if hasattr(self, "linears") else "cpu"
        self.layer_sizes = sizes
        # Layer l reads the inputs and every earlier layer: sizes[0] + ... + sizes[l].
        self.linears = nn.ModuleList(
            skip_init(nn.Linear, sum(sizes[: index + 1]), sizes[index + 1], device=device)
            for index in range(len(sizes) - 1)
        )
        self.activations = nn.ModuleList(
            [_build_activation(spec) for spec in hidden_specs]
            + [_build_activation(output_activation)]
        )

    @property
    def in_features(self) -> int:
        """Number of input features the network expects."""
        return self.layer_sizes[0]

    @property
    def out_features(self) -> int:
        """Number of outputs per sample."""
        return self.layer_sizes[-1]

    @property
    def linear_layers(self) -> list[nn.Linear]:
        """The ``nn.Linear`` layers in order (``self.linears`` typed for readers and checkers)."""
        return [cast(nn.Linear, layer) for layer in self.linears]

    def reset_parameters(self) -> None:
        """Re-initialise every layer with the configured scheme."""
        for linear, activation in zip(self.linear_layers, self.activations, strict=True):
            initialize(linear, self.init, activations.name_of(activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` of shape ``(batch, in_features)`` to ``(batch, out_features)``."""
        if x.dim() != 2 or x.shape[-1] != self.in_features:
            raise DataError(f"x: expected shape (batch, {self.in_features}), got {tuple(x.shape)}")
        features = x
        for linear, activation in zip(self.linears[:-1], self.activations[:-1], strict=True):
            features = torch.cat([features, activation(linear(features))], dim=1)
        return cast(torch.Tensor, self.activations[-1](self.linears[-1](features)))

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        return {
            "layer_sizes": list(self.layer_sizes),
            "activation": [_describe_activation(module) for module in self.activations[:-1]],
            "output_activation": _describe_activation(self.activations[-1]),
            "init": self.init,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ShortcutMLP:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        return "sizes=" + "-".join(str(size) for size in self.layer_sizes) + ", shortcut=True"


def shortcut_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The export plan of a shortcut network (features in, outputs out, as an MLP's)."""
    plan = mlp_plan(model, batch_sizes, graph_sizes)
    return dataclasses.replace(plan, family="shortcut")


def _positive_sizes(layer_sizes: Sequence[int]) -> list[int]:
    valid = (
        isinstance(layer_sizes, Sequence)
        and not isinstance(layer_sizes, str)
        and all(isinstance(size, int) and not isinstance(size, bool) for size in layer_sizes)
        and len(layer_sizes) >= 2
        and min(layer_sizes) >= 1
    )
    if not valid:
        raise ConfigError(
            f"layer_sizes: expected at least two positive integers [inputs, ..., outputs], got"
            f" {layer_sizes!r}"
        )
    return [int(size) for size in layer_sizes]


# Trainer checkpoints rebuild it by name, zen export traces it, load_fann_net returns it.
register(ModelSpec("ShortcutMLP", "network", model_class=ShortcutMLP, export_plan=shortcut_plan))
