r"""Link prediction: score node pairs from GNN embeddings, trained by :class:`zen.neural.Trainer`.

The encoder-decoder of the graph auto-encoder (Kipf & Welling, "Variational Graph
Auto-Encoders", 2016): a GNN embeds every node from the training edges,
:math:`Z = \operatorname{GNN}(X, A_\text{train})`, and a decoder scores a pair,

.. math::
    s_{ij} = \mathbf{z}_i^\top \mathbf{z}_j \quad (\texttt{dot}) \qquad\text{or}\qquad
    s_{ij} = \operatorname{MLP}(\mathbf{z}_i \odot \mathbf{z}_j) \quad (\texttt{mlp}),

trained with binary cross entropy on logits over the known edges (label 1) and as many
sampled non-edges (label 0), fresh negatives every epoch (the negative-sampling objective of
GraphSAGE's unsupervised loss, Hamilton et al. 2017, eq. 1)::

    split = split_edges(g, val=0.05, test=0.1)
    model = LinkPredictor(GCN(g.num_features, 64, num_layers=2, out_channels=32))
    Trainer(loss="bce", lr=0.01, max_epochs=100).fit(
        model, LinkLoader(split, split="train"), LinkLoader(split, split="val"))
    model.roc_auc(next(iter(LinkLoader(split, split="test"))))

The Trainer's default ``bce`` metric is accuracy at logit 0; ROC AUC, the usual link-prediction
score, comes from :meth:`LinkPredictor.roc_auc` or the :class:`RocAucLogger` callback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from zen.errors import ConfigError, DataError, expect_one_of
from zen.graph.data import Graph
from zen.graph.metrics import roc_auc_score
from zen.graph.sampling import EdgeSplit, negative_sampling
from zen.neural.callbacks import Callback
from zen.neural.trainer import StepOutput, Trainer

DECODERS = ("dot", "mlp")
SPLITS = ("train", "val", "test")


@dataclass
class LinkBatch:
    """Node pairs to score and their labels, with the graph to compute embeddings on.

    Attributes:
        graph: node features and the message-passing (training) edges.
        pairs: ``(2, num_pairs)`` node pairs, sources in row 0.
        labels: ``(num_pairs,)`` floats, 1 for edges and 0 for non-edges.
    """

    graph: Graph
    pairs: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.numel())


class LinkPredictor(nn.Module):
    r"""A node encoder plus a pair decoder that outputs one logit per node pair.

    Args:
        encoder: a module giving node embeddings ``(num_nodes, d)``: a
            :class:`~zen.graph.models.GNN` (called through ``forward_graph``) or any module
            called as ``encoder(x, edge_index)``.
        decoder: ``dot`` (:math:`\mathbf{z}_i^\top \mathbf{z}_j`, symmetric and parameter-free)
            or ``mlp`` (a two-layer MLP on :math:`\mathbf{z}_i \odot \mathbf{z}_j`).
        embedding_channels: ``d``, needed by ``mlp``; defaults to ``encoder.out_channels``.
        hidden_channels: hidden width of the ``mlp`` decoder (default ``d``).

    Example:
        >>> from zen.graph import GCN
        >>> LinkPredictor(GCN(8, 16, num_layers=2, out_channels=16), decoder="mlp")
        LinkPredictor(GCN(8, 16, num_layers=2, out_channels=16), decoder='mlp')
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: str = "dot",
        embedding_channels: int | None = None,
        hidden_channels: int | None = None,
    ) -> None:
        super().__init__()
        if decoder not in DECODERS:
            raise expect_one_of("decoder", decoder, DECODERS)
        self.encoder, self.decoder = encoder, decoder
        self.mlp: nn.Module | None = None
        if decoder == "mlp":
            size = embedding_channels or getattr(encoder, "out_channels", None)
            if not isinstance(size, int) or size < 1:
                raise ConfigError(
                    "embedding_channels: the mlp decoder needs the embedding size; pass"
                    " embedding_channels= (the encoder has no integer out_channels)"
                )
            hidden = hidden_channels or size
            self.mlp = nn.Sequential(nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def encode(self, graph: Graph) -> torch.Tensor:
        """Node embeddings ``(num_nodes, d)`` from the graph's features and edges."""
        forward_graph = getattr(self.encoder, "forward_graph", None)
        if forward_graph is not None:
            return forward_graph(graph)
        if graph.x is None:
            raise DataError("x: the encoder needs node features; give the graph an x")
        return self.encoder(graph.x, graph.edge_index)

    def decode(self, z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
        """One logit per pair, shape ``(num_pairs,)``."""
        if self.mlp is None:
            return (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)
        return self.mlp(z[pairs[0]] * z[pairs[1]]).squeeze(-1)

    def forward(self, graph: Graph, pairs: torch.Tensor) -> torch.Tensor:
        """Logits of ``pairs`` ``(2, num_pairs)`` with embeddings computed on ``graph``."""
        return self.decode(self.encode(graph), pairs)

    @torch.no_grad()
    def score(self, graph: Graph, edge_pairs: torch.Tensor) -> torch.Tensor:
        """Logits in evaluation mode (no dropout), without changing the training mode.

        Pass the graph with the *training* edges (``edge_split.graph``) so that the scored
        pairs are not already among the message-passing edges.
        """
        _check_pairs("edge_pairs", edge_pairs, graph.num_nodes)
        device = _device_of(self)
        was_training = self.training
        self.eval()
        try:
            return self(graph.to(device), edge_pairs.to(device))
        finally:
            self.train(was_training)

    def roc_auc(self, batch: LinkBatch) -> float:
        """ROC AUC of the scores of a labelled batch (e.g. from ``LinkLoader(split="test")``)."""
        return roc_auc_score(self.score(batch.graph, batch.pairs).cpu(), batch.labels.cpu())

    def training_loss(self, batch: LinkBatch, loss_fn: Any) -> StepOutput:
        """The Trainer hook: ``loss_fn(logits, labels)`` on a :class:`LinkBatch` (use ``bce``)."""
        if not isinstance(batch, LinkBatch):
            raise DataError(
                f"batch: LinkPredictor trains on LinkBatch items (from LinkLoader), got"
                f" {type(batch).__name__}"
            )
        device = _device_of(self)
        graph, pairs, labels = batch.graph, batch.pairs, batch.labels
        if pairs.device != device:
            graph, pairs, labels = graph.to(device), pairs.to(device), labels.to(device)
        logits = self(graph, pairs)
        return StepOutput(loss_fn(logits, labels), logits.detach(), labels, len(batch))

    def __repr__(self) -> str:
        return f"LinkPredictor({self.encoder!r}, decoder={self.decoder!r})"


class LinkLoader:
    """Batches of an :class:`~zen.graph.sampling.EdgeSplit` for :class:`LinkPredictor`.

    ``split="train"`` yields the training edges as positives with freshly sampled negatives each
    epoch (non-edges of the training graph; held-out edges may be drawn, as they are unknown
    at training time); ``val``/``test`` yield the split's fixed positives and negatives in one
    batch. Every batch carries the graph with only the training edges for message passing.

    Args:
        edge_split: from :func:`~zen.graph.sampling.split_edges`.
        graph: the node features; defaults to ``edge_split.graph``. Its edges are replaced by
            ``edge_split.train_edge_index``.
        split: ``train``, ``val`` or ``test``.
        negative_ratio: negatives per positive when training.
        batch_size: positives per training batch (about; the epoch is cut into equal parts);
            ``None`` puts all of them in one batch (full-batch training).
        seed: makes negatives and orders repeatable (epoch ``k`` uses ``seed + k``).

    Raises:
        ConfigError: unknown ``split``, non-positive ``negative_ratio`` or ``batch_size``.
        DataError: no graph, an empty or malformed edge set, node ids out of range.
    """

    def __init__(
        self,
        edge_split: EdgeSplit,
        graph: Graph | None = None,
        split: str = "train",
        negative_ratio: float = 1.0,
        batch_size: int | None = None,
        seed: int = 0,
    ) -> None:
        if split not in SPLITS:
            raise expect_one_of("split", split, SPLITS)
        if not negative_ratio > 0:
            raise ConfigError(f"negative_ratio: expected a positive number, got {negative_ratio!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ConfigError(
                f"batch_size: expected a positive integer or None, got {batch_size!r}"
            )
        if not isinstance(edge_split, EdgeSplit):
            raise DataError(
                f"edge_split: expected an EdgeSplit from zen.graph.sampling.split_edges, got"
                f" {type(edge_split).__name__}"
            )
        base = graph if graph is not None else edge_split.graph
        if base is None:
            raise DataError(
                "graph: the edge split carries no graph; pass graph= (the node features)"
            )
        train_edges = edge_split.train_edge_index
        num_nodes = base.num_nodes
        _check_pairs("edge_split.train_edge_index", train_edges, num_nodes)
        self.graph = base.replace(
            edge_index=train_edges, edge_attr=None, edge_weight=None, edge_type=None
        )
        self.split, self.negative_ratio, self.batch_size = split, negative_ratio, batch_size
        self.seed, self._epoch = seed, 0
        if split == "train":
            if train_edges.size(1) == 0:
                raise DataError("edge_split.train_edge_index: no training edges to learn from")
            self.positives = train_edges
            self.negatives: torch.Tensor | None = None
        else:
            self.positives = getattr(edge_split, f"{split}_pos")
            self.negatives = getattr(edge_split, f"{split}_neg")
            for kind, pairs in (("pos", self.positives), ("neg", self.negatives)):
                name = f"edge_split.{split}_{kind}"
                _check_pairs(name, pairs, num_nodes)
                if pairs.size(1) == 0:
                    raise DataError(
                        f"{name}: no {'positive' if kind == 'pos' else 'negative'} pairs; give"
                        f" split_edges a non-zero {split} fraction"
                    )

    def __iter__(self) -> Iterator[LinkBatch]:
        if self.negatives is not None:
            yield _labelled(self.graph, self.positives, self.negatives)
            return
        generator = torch.Generator().manual_seed(self.seed + self._epoch)
        self._epoch += 1
        positives = self.positives
        wanted = max(1, round(self.negative_ratio * positives.size(1)))
        negatives = negative_sampling(positives, self.graph.num_nodes, wanted, generator)
        parts = len(self)
        if parts > 1:
            order = torch.randperm(positives.size(1), generator=generator)
            positives = positives[:, order.to(positives.device)]
        for pos, neg in zip(
            positives.tensor_split(parts, dim=1), negatives.tensor_split(parts, dim=1), strict=True
        ):
            yield _labelled(self.graph, pos, neg)

    def __len__(self) -> int:
        if self.negatives is not None or self.batch_size is None:
            return 1
        return -(-self.positives.size(1) // self.batch_size)

    def __repr__(self) -> str:
        return f"LinkLoader(split={self.split!r}, positives={self.positives.size(1)})"


class RocAucLogger(Callback):
    """Adds ROC AUC on a labelled loader to each epoch's logs (``history["val_auc"]``).

    It runs after the Trainer has picked its best epoch, so it reports rather than monitors.

    Example: ``Trainer(loss="bce", callbacks=[RocAucLogger(LinkLoader(split, split="val"))])``.
    """

    def __init__(self, loader: LinkLoader, name: str = "val_auc") -> None:
        self.loader, self.name = loader, name

    def on_epoch_end(self, trainer: Trainer, epoch: int, logs: dict[str, Any]) -> None:
        model = trainer.model
        if not isinstance(model, LinkPredictor):
            raise ConfigError("RocAucLogger: the trained model must be a LinkPredictor")
        logs[self.name] = model.roc_auc(next(iter(self.loader)))


def _labelled(graph: Graph, positives: torch.Tensor, negatives: torch.Tensor) -> LinkBatch:
    labels = torch.cat(
        [
            torch.ones(positives.size(1), device=positives.device),
            torch.zeros(negatives.size(1), device=positives.device),
        ]
    )
    return LinkBatch(graph, torch.cat([positives, negatives.to(positives.device)], dim=1), labels)


def _check_pairs(name: str, pairs: Any, num_nodes: int) -> None:
    if not isinstance(pairs, torch.Tensor) or pairs.is_floating_point() or pairs.dim() != 2:
        raise DataError(f"{name}: expected an integer tensor of shape (2, num_pairs)")
    if pairs.size(0) != 2:
        raise DataError(f"{name}: expected shape (2, num_pairs), got {tuple(pairs.shape)}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= num_nodes):
        raise DataError(
            f"{name}: node ids must be in [0, {num_nodes}), got [{int(pairs.min())},"
            f" {int(pairs.max())}]"
        )


def _device_of(module: nn.Module) -> torch.device:
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")
