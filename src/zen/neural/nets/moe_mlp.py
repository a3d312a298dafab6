r"""MoEMLP: a feed-forward network whose hidden blocks are sparse mixtures of experts.

``features -> Linear(d_model) -> layers x [h + MoE(LayerNorm(h))] -> LayerNorm -> Linear``:
the pre-norm residual block of a Transformer with its feed-forward sublayer replaced by a
:class:`~zen.neural.nets.moe.MixtureOfExperts` (as in the Switch Transformer, Fedus et al.
2022), applied to one feature vector per sample. Its ``training_loss`` adds ``aux_weight``
times the mean load-balancing loss of the layers to the task loss (Switch uses 0.01).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn

from zen.errors import DataError
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    ExportPlan,
    feature_plan,
)
from zen.neural.hub import NetworkHubMixin
from zen.neural.nets.arguments import non_negative_float, positive_float, positive_int
from zen.neural.nets.moe import MixtureOfExperts
from zen.neural.trainer import StepOutput, align_targets
from zen.registry import ModelSpec, register


@dataclass
class MoEMLPConfig:
    """The settings of a :class:`MoEMLP`, checked on creation (the layer checks its own).

    Attributes:
        in_features: features per sample.
        num_outputs: outputs per sample (logits for classification).
        d_model: width of the residual stream.
        num_experts, k, hidden, capacity_factor, noisy_gating: of every
            :class:`~zen.neural.nets.moe.MixtureOfExperts` layer.
        layers: number of mixture-of-experts blocks.
        aux_weight: weight of the load-balancing loss in :meth:`MoEMLP.training_loss`.
    """

    in_features: int
    num_outputs: int
    d_model: int = 32
    num_experts: int = 4
    k: int = 2
    layers: int = 2
    hidden: int | None = None
    capacity_factor: float | None = None
    noisy_gating: bool = False
    aux_weight: float = 0.01

    def __post_init__(self) -> None:
        self.in_features = positive_int("in_features", self.in_features)
        self.num_outputs = positive_int("num_outputs", self.num_outputs)
        self.layers = positive_int("layers", self.layers)
        self.aux_weight = non_negative_float("aux_weight", self.aux_weight)
        if self.capacity_factor is not None:
            self.capacity_factor = positive_float("capacity_factor", self.capacity_factor)


class MoEMLP(nn.Module, NetworkHubMixin):
    """Features ``(batch, in_features)`` -> ``(batch, num_outputs)`` through mixture-of-experts
    blocks (see the module docstring; arguments as :class:`MoEMLPConfig`).

    Example:
        >>> net = MoEMLP(5, 3, d_model=16, num_experts=4, k=2, layers=2)
        >>> net(torch.zeros(7, 5)).shape
        torch.Size([7, 3])
    """

    def __init__(
        self,
        in_features: int,
        num_outputs: int,
        d_model: int = 32,
        num_experts: int = 4,
        k: int = 2,
        layers: int = 2,
        *,
        hidden: int | None = None,
        capacity_factor: float | None = None,
        noisy_gating: bool = False,
        aux_weight: float = 0.01,
    ) -> None:
        super().__init__()
        self.hparams = MoEMLPConfig(
            in_features,
            num_outputs,
            d_model,
            num_experts,
            k,
            layers,
            hidden,
            capacity_factor,
            noisy_gating,
            aux_weight,
        )
        hp = self.hparams
        self.embed = nn.Linear(hp.in_features, hp.d_model)
        self.norms = nn.ModuleList(nn.LayerNorm(hp.d_model) for _ in range(hp.layers))
        self.experts = nn.ModuleList(
            MixtureOfExperts(
                hp.d_model,
                hp.num_experts,
                hp.k,
                hp.hidden,
                hp.capacity_factor,
                noisy_gating=hp.noisy_gating,
            )
            for _ in range(hp.layers)
        )
        self.final_norm = nn.LayerNorm(hp.d_model)
        self.head = nn.Linear(hp.d_model, hp.num_outputs)

    @property
    def in_features(self) -> int:
        """Number of input features the network expects."""
        return self.hparams.in_features

    @property
    def moe_layers(self) -> list[MixtureOfExperts]:
        """The mixture-of-experts layers in order (``self.experts`` typed for readers)."""
        return [cast(MixtureOfExperts, layer) for layer in self.experts]

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for module in (self.embed, *self.norms, *self.experts, self.final_norm, self.head):
            cast(Any, module).reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(batch, in_features)`` to ``(batch, num_outputs)``."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise DataError(f"x: expected shape (batch, {self.in_features}), got {tuple(x.shape)}")
        hidden = self.embed(x)
        for norm, experts in zip(self.norms, self.experts, strict=True):
            hidden = hidden + experts(norm(hidden))
        return self.head(self.final_norm(hidden))

    @property
    def aux_loss(self) -> torch.Tensor:
        """Mean load-balancing loss of the layers in the last forward (0 in eval)."""
        losses = [layer.aux_loss for layer in self.moe_layers]
        return torch.stack([loss.to(losses[0].device) for loss in losses]).mean()

    def utilisation(self) -> torch.Tensor:
        """Per layer, the share of assignments each expert received: ``(layers,
        num_experts)``, rows summing to 1 (see :meth:`MixtureOfExperts.utilisation`)."""
        return torch.stack([layer.utilisation() for layer in self.moe_layers])

    def reset_utilisation(self) -> None:
        """Start counting :meth:`utilisation` afresh in every layer."""
        for layer in self.moe_layers:
            layer.reset_utilisation()

    def training_loss(self, batch: Any, loss_fn: Any) -> StepOutput:
        """The Trainer's step: ``loss_fn(outputs, y) + aux_weight * aux_loss`` on a batch
        ``(x, y)``; targets are shaped as in the Trainer's own step."""
        if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
            raise DataError("batch: MoEMLP trains on (inputs, targets) pairs; pass y to fit()")
        inputs, targets = batch[0], batch[1]
        predictions = self(inputs)
        targets = align_targets(predictions, targets, loss_fn)
        loss = loss_fn(predictions, targets) + self.hparams.aux_weight * self.aux_loss
        return StepOutput(loss, predictions, targets, inputs.shape[0])

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        return dataclasses.asdict(self.hparams)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> MoEMLP:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        return cls(**config)

    def extra_repr(self) -> str:
        hp = self.hparams
        return (
            f"in_features={hp.in_features}, num_outputs={hp.num_outputs}, d_model={hp.d_model},"
            f" layers={hp.layers}, num_experts={hp.num_experts}, k={hp.k},"
            f" aux_weight={hp.aux_weight:g}"
        )


def moe_mlp_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a :class:`MoEMLP`: features in, network outputs out."""
    hp = model.hparams
    return feature_plan(model, hp.in_features, hp.num_outputs, batch_sizes)


register(
    ModelSpec(
        "MoEMLP",
        "network",
        model_class=MoEMLP,
        export_plan=moe_mlp_plan,
        reference="Shazeer et al., ICLR 2017; Fedus et al., Switch Transformers, JMLR 2022",
    )
)
