"""Ready-made networks: GCN, GAT, GraphSAGE and GIN stacks for node and graph classification.

They share :class:`GNN`, which owns the layer loop, dropout, the optional graph readout and the
``training_loss`` hook through which :class:`zen.neural.Trainer` trains them::

    model = GCN(data.num_features, 16, num_layers=2, out_channels=data.num_classes, dropout=0.5)
    Trainer(max_epochs=200, lr=0.01, weight_decay=5e-4, loss="cross_entropy").fit(
        model, NodeLoader(g, "train"), NodeLoader(g, "val"))

With ``readout="mean"`` (or ``max``/``add``) the node vectors of each graph are pooled and a
linear head classifies the graph; train on a :class:`~zen.graph.loader.GraphLoader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Self

import torch
import torch.nn.functional as F
from torch import nn

from zen.errors import ConfigError, expect_one_of
from zen.estimator import Estimator, to_json
from zen.graph.data import Graph
from zen.graph.export import graph_plan
from zen.graph.inits import reset
from zen.graph.layers import GATConv, GCNConv, GINConv, SAGEConv
from zen.graph.loader import NodeSplit
from zen.graph.pool import global_add_pool, global_max_pool, global_mean_pool
from zen.neural import activations
from zen.neural.hub import NetworkHubMixin
from zen.neural.trainer import StepOutput
from zen.registry import ModelSpec, register

READOUTS = {
    "mean": global_mean_pool,
    "max": global_max_pool,
    "add": global_add_pool,
    "sum": global_add_pool,
}


class GNN(Estimator, nn.Module, NetworkHubMixin, pipeline_tag="graph-ml", tags=["graph", "gnn"]):
    """A stack of ``num_layers`` convolutions: dropout before each, activation between them.

    Dropout on the input of every layer follows the GCN and GAT papers' training setup. Without
    ``readout`` the last layer outputs ``out_channels`` per node (logits); with it every layer
    outputs hidden features, which are pooled per graph and mapped to ``out_channels``.

    Subclasses implement :meth:`build_conv` (and :meth:`layer_output_size` when a layer's
    output is not ``out_channels``); their own settings are keyword arguments, the ones below
    pass through ``**base``.

    The settings follow the estimator contract (:class:`~zen.estimator.Estimator`): stored as
    given, read back by ``get_params``; ``zen.estimator.clone`` (or ``sklearn.base.clone``)
    builds the same architecture with fresh weights. ``set_params`` rebuilds the layers.

    Args:
        in_channels: node features.
        hidden_channels: features between layers.
        num_layers: number of convolutions (>= 1).
        out_channels: classes (or targets) per node, or per graph with ``readout``.
        dropout: dropout probability before each layer.
        activation: name (see :mod:`zen.neural.activations`) or module; a per-model default.
        readout: ``None`` (node-level), ``mean``, ``max`` or ``add`` (graph-level).
    """

    default_activation = "relu"

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        dropout: float = 0.0,
        activation: str | nn.Module | None = None,
        readout: str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels = in_channels, hidden_channels
        self.num_layers, self.out_channels = num_layers, out_channels
        self.dropout, self.readout = dropout, readout
        self.activation = activation  # a module is registered (and saved) under this name
        self._build()

    def _build(self) -> None:
        """Check the settings and build the layers from them (fresh weights)."""
        if self.num_layers < 1:
            raise ConfigError(f"num_layers: expected at least 1, got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout: expected a probability in [0, 1), got {self.dropout}")
        if self.readout is not None and self.readout not in READOUTS:
            raise expect_one_of("readout", self.readout, list(READOUTS))
        if not isinstance(self.activation, nn.Module):
            self._named_activation = activations.resolve(self.activation or self.default_activation)
        self.convs = nn.ModuleList()
        size, hidden, out = self.in_channels, self.hidden_channels, self.out_channels
        for layer in range(self.num_layers):
            last = layer == self.num_layers - 1 and self.readout is None
            self.convs.append(self.build_conv(size, out if last else hidden, last))
            size = self.layer_output_size(out if last else hidden, last)
        self.head = nn.Linear(size, out) if self.readout is not None else None

    @property
    def act(self) -> nn.Module:
        """The activation module between layers (``activation``, or built from its name)."""
        if isinstance(self.activation, nn.Module):
            return self.activation
        return self._named_activation

    def set_params(self, **params: Any) -> Self:
        """Change settings and rebuild the layers with them: fresh weights, as a new model."""
        if "activation" in params:
            self._modules.pop("activation", None)  # a module setting may become a name
        super().set_params(**params)
        self._build()
        return self

    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        """The convolution of one layer; ``last`` marks the output layer of a node model."""
        raise NotImplementedError

    def layer_output_size(self, out_channels: int, last: bool) -> int:
        """Features a layer built with ``out_channels`` outputs (GAT concatenates heads)."""
        return out_channels

    def conv_forward(
        self, conv: nn.Module, x: torch.Tensor, edge_index: torch.Tensor, graph_kwargs: dict
    ) -> torch.Tensor:
        """Call one convolution; models whose layers take edge inputs pass them on."""
        return conv(x, edge_index)

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        for module in self.children():
            reset(module)

    def forward(
        self,
        x: torch.Tensor,
        edge_index: torch.Tensor,
        batch: torch.Tensor | None = None,
        **graph_kwargs: Any,
    ) -> torch.Tensor:
        """Logits per node ``(num_nodes, out_channels)``, or per graph with a readout.

        ``graph_kwargs`` carries edge inputs some models use (``edge_weight`` for GCN).
        """
        for layer, conv in enumerate(self.convs):
            x = F.dropout(x, p=self.dropout, training=self.training)
            x = self.conv_forward(conv, x, edge_index, graph_kwargs)
            if layer < self.num_layers - 1 or self.head is not None:
                x = self.act(x)
        if self.head is None or self.readout is None:
            return x
        pooled = READOUTS[self.readout](x, batch)
        pooled = F.dropout(pooled, p=self.dropout, training=self.training)
        return self.head(pooled)

    def forward_graph(self, graph: Graph) -> torch.Tensor:
        """:meth:`forward` on a :class:`Graph` or :class:`~zen.graph.Batch`."""
        extra = {key: getattr(graph, key) for key in ("edge_weight", "edge_attr") if key in graph}
        if graph.x is None:
            raise ConfigError("x: the model needs node features; give the graph an x")
        return self(graph.x, graph.edge_index, getattr(graph, "batch", None), **extra)

    @torch.no_grad()
    def predict(self, graph: Graph) -> torch.Tensor:
        """Logits in evaluation mode (no dropout), without changing the training mode."""
        was_training = self.training
        self.eval()
        try:
            return self.forward_graph(graph.to(_device_of(self)))
        finally:
            self.train(was_training)

    def training_loss(self, batch: NodeSplit | Graph, loss_fn: Any) -> StepOutput:
        """The Trainer hook: loss on a node split (node models) or on a batch of graphs."""
        graph, mask = (batch.graph, batch.mask) if isinstance(batch, NodeSplit) else (batch, None)
        device = _device_of(self)
        if graph.edge_index.device != device:
            graph = graph.to(device)
            mask = None if mask is None else mask.to(device)
        if graph.y is None:
            raise ConfigError("y: training needs labels on the graph")
        predictions, targets = self.forward_graph(graph), graph.y
        if mask is not None and self.readout is None:
            predictions, targets = predictions[mask], targets[mask]
        loss = loss_fn(predictions, targets)
        return StepOutput(loss, predictions.detach(), targets, int(targets.size(0)))

    def hyperparameters(self) -> dict[str, Any]:
        """The settings in JSON form (:meth:`Estimator.hyperparameters`), the activation by
        its registry name (also for the default or a registry module)."""
        activation = activations.name_of(self.act)
        if activation is None:
            raise ConfigError(
                "activation: a custom module cannot be saved by name; use a registered"
                " activation (zen.neural.activations.names())"
            )
        params = {**self.get_params(deep=False), "activation": activation}
        return {name: to_json(value, name) for name, value in params.items()}

    def config(self) -> dict[str, Any]:
        """Constructor arguments (JSON) from which :meth:`from_config` rebuilds the model;
        with them :class:`zen.neural.Trainer` checkpoints restore it by class name."""
        return self.hyperparameters()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GNN:
        """A fresh (untrained) model with the settings of :meth:`config`."""
        return cls(**config)

    def __repr__(self) -> str:
        readout = f", readout={self.readout!r}" if self.readout else ""
        return (
            f"{type(self).__name__}({self.in_channels}, {self.hidden_channels},"
            f" num_layers={self.num_layers}, out_channels={self.out_channels}{readout})"
        )


class GCN(GNN):
    """Graph convolutional network (Kipf & Welling 2017): :class:`GCNConv` layers.

    Example: ``GCN(1433, 16, num_layers=2, out_channels=7, dropout=0.5)``, the paper's Cora
    model. Extra args: ``cached=True`` reuses the normalised adjacency (one fixed graph).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        *,
        cached: bool = False,
        **base: Any,
    ) -> None:
        self.cached = cached
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, **base)

    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return GCNConv(in_channels, out_channels, cached=self.cached)

    def conv_forward(
        self, conv: nn.Module, x: torch.Tensor, edge_index: torch.Tensor, graph_kwargs: dict
    ) -> torch.Tensor:
        return conv(x, edge_index, graph_kwargs.get("edge_weight"))


class GraphSAGE(GNN):
    """GraphSAGE (Hamilton et al. 2017): :class:`SAGEConv` layers; ``aggr`` mean or max."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        *,
        aggr: str = "mean",
        **base: Any,
    ) -> None:
        self.aggr = aggr
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, **base)

    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return SAGEConv(in_channels, out_channels, aggr=self.aggr)


class GAT(GNN):
    """Graph attention network (Veličković et al. 2018): :class:`GATConv` layers.

    ``hidden_channels`` is per head: hidden layers output ``heads * hidden_channels``
    (concatenated); the output layer averages ``output_heads`` heads. Attention dropout equals
    ``dropout``, as in the paper. The paper's Cora model:
    ``GAT(1433, 8, num_layers=2, out_channels=7, heads=8, dropout=0.6)`` (ELU by default).
    """

    default_activation = "elu"

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        *,
        heads: int = 8,
        output_heads: int = 1,
        **base: Any,
    ) -> None:
        self.heads, self.output_heads = heads, output_heads
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, **base)

    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        if last:
            return GATConv(
                in_channels, out_channels, self.output_heads, concat=False, dropout=self.dropout
            )
        return GATConv(in_channels, out_channels, self.heads, dropout=self.dropout)

    def layer_output_size(self, out_channels: int, last: bool) -> int:
        return out_channels if last else out_channels * self.heads


class GIN(GNN):
    """Graph isomorphism network (Xu et al. 2019): :class:`GINConv` with two-layer MLPs
    (Linear, BatchNorm, activation, Linear), the paper's architecture. ``train_eps`` learns
    :math:`\\epsilon` (GIN-:math:`\\epsilon`); the default is GIN-0, the paper's best."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        num_layers: int,
        out_channels: int,
        *,
        train_eps: bool = False,
        **base: Any,
    ) -> None:
        self.train_eps = train_eps
        super().__init__(in_channels, hidden_channels, num_layers, out_channels, **base)

    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        mlp = nn.Sequential(
            nn.Linear(in_channels, self.hidden_channels),
            nn.BatchNorm1d(self.hidden_channels),
            self.act,
            nn.Linear(self.hidden_channels, out_channels),
        )
        return GINConv(mlp, train_eps=self.train_eps)


# -- declarations ------------------------------------------------------------------------------
# Adam's learning rate and L2 penalty around the papers' 0.005-0.01 and 5e-4 (the ranges Shchur
# et al. 2018, "Pitfalls of GNN evaluation", searched).
GRAPH_LR = (1e-3, 1e-1)
GRAPH_WEIGHT_DECAY = (1e-5, 1e-2)


def _graph_training(trial: Any) -> dict[str, Any]:
    return {
        "dropout": trial.suggest_float("dropout", 0.0, 0.8),
        "lr": trial.suggest_float("lr", *GRAPH_LR, log=True),
        "weight_decay": trial.suggest_float("weight_decay", *GRAPH_WEIGHT_DECAY, log=True),
    }


def gcn_space(trial: Any) -> dict[str, Any]:
    """GCN (Kipf & Welling, ICLR 2017; paper: 16 hidden, dropout 0.5, lr 0.01, L2 5e-4)."""
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [16, 32, 64, 128]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        **_graph_training(trial),
    }


def gat_space(trial: Any) -> dict[str, Any]:
    """GAT (Veličković et al., ICLR 2018; paper: 8 heads of 8, dropout 0.6, lr 0.005).

    ``hidden_channels`` is per head, so hidden layers are ``heads * hidden_channels`` wide.
    """
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [8, 16, 32]),
        "heads": trial.suggest_categorical("heads", [4, 8]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        **_graph_training(trial),
    }


def graphsage_space(trial: Any) -> dict[str, Any]:
    """GraphSAGE (Hamilton et al., NeurIPS 2017): width and the mean or max aggregator."""
    return {
        "hidden_channels": trial.suggest_categorical("hidden_channels", [32, 64, 128, 256]),
        "num_layers": trial.suggest_int("num_layers", 2, 3),
        "aggr": trial.suggest_categorical("aggr", ["mean", "max"]),
        **_graph_training(trial),
    }


def node_classifier(
    model_class: type[GNN], **paper: Any
) -> Callable[[int, int, Mapping[str, Any]], GNN]:
    """A builder ``build(in_channels, out_channels, options)`` of ``model_class`` with its
    paper's architecture (``paper``: ``hidden_channels``, ``num_layers`` and extras), which
    ``options`` (e.g. tuned ones) override."""

    def build(in_channels: int, out_channels: int, options: Mapping[str, Any]) -> GNN:
        settings = {**paper, **options}
        hidden, layers = settings.pop("hidden_channels"), settings.pop("num_layers")
        return model_class(in_channels, hidden, layers, out_channels, **settings)

    return build


# The node classifiers zen fit trains, each with its paper's settings on citation graphs. GCN,
# GAT and GraphSAGE are within a point of each other once tuned alike, GCN the most robust
# (Shchur et al. 2018); the factors say how the router's findings about a graph move that.
register(
    ModelSpec(
        "GCN",
        "node classifier",
        model_class=GCN,
        prior=1.00,
        rule_factors={"homophilous graph": 0.98, "heterophilous graph": 1.05},
        build=node_classifier(GCN, hidden_channels=16, num_layers=2, dropout=0.5, cached=True),
        training={"lr": 0.01, "weight_decay": 5e-4, "max_epochs": 200},
        search_space=gcn_space,
        export_plan=graph_plan,
        reference="Kipf & Welling, ICLR 2017",
    )
)
register(
    ModelSpec(
        "GAT",
        "node classifier",
        model_class=GAT,
        prior=1.01,
        rule_factors={"heterophilous graph": 0.95, "large graph": 1.05, "many neighbours": 0.97},
        build=node_classifier(GAT, hidden_channels=8, num_layers=2, heads=8, dropout=0.6),
        training={"lr": 0.005, "weight_decay": 5e-4, "max_epochs": 200},
        search_space=gat_space,
        export_plan=graph_plan,
        reference="Veličković et al., ICLR 2018",
    )
)
register(
    ModelSpec(
        "GraphSAGE",
        "node classifier",
        model_class=GraphSAGE,
        prior=1.02,
        rule_factors={"homophilous graph": 1.02, "heterophilous graph": 0.9, "large graph": 0.95},
        build=node_classifier(GraphSAGE, hidden_channels=64, num_layers=2, dropout=0.5),
        training={"lr": 0.01, "weight_decay": 5e-4, "max_epochs": 200},
        search_space=graphsage_space,
        export_plan=graph_plan,
        reference="Hamilton et al., NeurIPS 2017",
    )
)
# Known to Trainer checkpoints and export, not proposed by zen fit: GIN (graph classification)
# and any other GNN stack, a user's included, through the base class.
register(ModelSpec("GIN", "network", model_class=GIN, export_plan=graph_plan))
register(ModelSpec("GNN", "network", model_class=GNN, export_plan=graph_plan))


def _device_of(module: nn.Module) -> torch.device:
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
