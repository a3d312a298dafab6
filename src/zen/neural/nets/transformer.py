"""TransformerNet: an encoder-only transformer over variable-length sequences.

Self-attention follows Vaswani et al. 2017 ("Attention is all you need"), with the layer norm
before each sub-layer (pre-norm, Xiong et al. 2020, "On layer normalization in the transformer
architecture"), which trains without a learning-rate warm-up. Tokens are the time steps, or
non-overlapping patches of ``patch_size`` steps (PatchTST, Nie et al. 2023). NaN padding after
a sequence's end becomes a key-padding mask, so padding never changes a result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from zen.errors import ConfigError, expect_one_of
from zen.neural.export_plan import DEFAULT_BATCH_SIZES, DEFAULT_GRAPH_SIZES, ExportPlan
from zen.neural.nets.candidates import SEQUENCE_TRAINING, sequence_classifier, training_space
from zen.neural.nets.export_plans import sequence_plan
from zen.neural.nets.moe import MixtureOfExperts
from zen.neural.nets.sequence_checks import check_padding, check_sequence_shape
from zen.neural.nets.sequence_mask import masked_mean, padding_mask
from zen.registry import ModelSpec, register

_POSITIONALS = ("sinusoidal", "learned")
_POOLINGS = ("cls", "mean")


class SelfAttention(nn.Module):
    r"""Multi-head self-attention with a key-padding mask (Vaswani et al. 2017, eq. 1).

    :math:`\mathrm{softmax}(Q K^\top / \sqrt{d_k}) V` per head, through
    :func:`torch.nn.functional.scaled_dot_product_attention`; padding tokens are never attended
    to.

    Shapes:
        ``h``: ``(batch, tokens, d_model)``; ``mask``: ``(batch, tokens)``, True at real
        tokens; output: ``(batch, tokens, d_model)``.
    """

    def __init__(self, d_model: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        batch, tokens, d_model = h.shape
        # (batch, tokens, 3 * d_model) -> three (batch, heads, tokens, head_size)
        query, key, value = (
            self.qkv(h).reshape(batch, tokens, 3, self.heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        )
        attended = functional.scaled_dot_product_attention(
            query,
            key,
            value,
            attn_mask=mask[:, None, None, :],
            dropout_p=self.dropout if self.training else 0.0,
        )
        return self.out(attended.transpose(1, 2).reshape(batch, tokens, d_model))


#: Weight of the experts' load-balancing loss (Fedus et al. 2022 use 0.01).
MOE_AUX_WEIGHT = 0.01


class FeedForward(nn.Module):
    """The position-wise MLP of a block: ``Linear -> GELU -> dropout -> Linear``."""

    def __init__(self, d_model: int, ff_mult: int, dropout: float) -> None:
        super().__init__()
        self.expand = nn.Linear(d_model, ff_mult * d_model)
        self.drop = nn.Dropout(dropout)
        self.project = nn.Linear(ff_mult * d_model, d_model)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.project(self.drop(functional.gelu(self.expand(h))))


class EncoderBlock(nn.Module):
    r"""Pre-norm encoder block (Xiong et al. 2020, fig. 1b).

    :math:`h \leftarrow h + \mathrm{Attn}(\mathrm{LN}(h))`, then
    :math:`h \leftarrow h + \mathrm{FF}(\mathrm{LN}(h))`, with dropout on each branch.
    """

    def __init__(self, d_model: int, heads: int, feed_forward: nn.Module, dropout: float) -> None:
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = SelfAttention(d_model, heads, dropout)
        self.feed_forward_norm = nn.LayerNorm(d_model)
        self.feed_forward = feed_forward
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        h = h + self.drop(self.attention(self.attention_norm(h), mask))
        normed = self.feed_forward_norm(h)
        if isinstance(self.feed_forward, MixtureOfExperts):  # padding tokens are not routed
            return h + self.drop(self.feed_forward(normed, mask))
        return h + self.drop(self.feed_forward(normed))


class TransformerNet(nn.Module):
    r"""Encoder-only transformer for sequence classification and regression.

    Each time step (or each patch of ``patch_size`` steps) is linearly embedded to ``d_model``,
    a positional encoding is added, ``layers`` pre-norm blocks attend over the real tokens, and
    a final layer norm and linear head read the ``[CLS]`` token (``pooling="cls"``) or the
    mean of the real tokens (``"mean"``). Sinusoidal positions (Vaswani et al. 2017, sec. 3.5)
    are computed for any length; learned positions need ``max_length``.

    With patches, a sequence is padded up to a multiple of ``patch_size`` and each patch also
    carries which of its steps are real, so a sequence's last, partial patch is told apart from
    zeros.

    Args:
        in_channels: channels per time step.
        num_outputs: outputs per sequence (classes for classification).
        d_model: width of the tokens; a multiple of ``heads``.
        heads: attention heads per block.
        layers: encoder blocks.
        ff_mult: the feed-forward layer is ``ff_mult * d_model`` wide.
        dropout: dropout probability on embeddings, attention weights and block branches.
        patch_size: ``None`` (a token per step) or the steps per patch.
        positional: ``"sinusoidal"`` or ``"learned"``.
        max_length: the longest sequence accepted, in steps (required for learned positions).
        pooling: ``"cls"`` or ``"mean"``.
        moe_experts: a sparse mixture-of-experts feed-forward in every block, with this many
            experts and top-2 routing (:class:`~zen.neural.nets.moe.MixtureOfExperts`); its
            load-balancing loss reaches the Trainer through :meth:`auxiliary_loss`.

    Shapes:
        ``x``: ``(batch, in_channels, length)``, NaN in every channel after a sequence's end;
        output: ``(batch, num_outputs)``.

    Example:
        >>> net = TransformerNet(3, 2, d_model=16, heads=2, layers=1, patch_size=4)
        >>> x = torch.randn(5, 3, 30)
        >>> x[0, :, 11:] = float("nan")  # the first sequence has 11 steps
        >>> net(x).shape
        torch.Size([5, 2])
    """

    #: Tells the Trainer that NaN in ``x`` is padding, not missing data.
    nan_padding = True

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        *,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        ff_mult: int = 4,
        dropout: float = 0.1,
        patch_size: int | None = None,
        positional: str = "sinusoidal",
        max_length: int | None = None,
        pooling: str = "cls",
        moe_experts: int | None = None,
    ) -> None:
        super().__init__()
        sizes = {
            "in_channels": in_channels,
            "num_outputs": num_outputs,
            "d_model": d_model,
            "heads": heads,
            "layers": layers,
            "ff_mult": ff_mult,
            "patch_size": patch_size,
            "max_length": max_length,
        }
        for name, value in sizes.items():
            optional = name in ("patch_size", "max_length")
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                kind = "None or a positive integer" if optional else "a positive integer"
                raise ConfigError(f"{name}: expected {kind}, got {value!r}")
        if d_model % heads:
            raise ConfigError(
                f"d_model: expected a multiple of heads={heads}, got {d_model}; each head gets"
                " d_model / heads channels"
            )
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ConfigError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if positional not in _POSITIONALS:
            raise expect_one_of("positional", positional, _POSITIONALS)
        if positional == "learned" and max_length is None:
            raise ConfigError(
                "max_length: learned positions need the longest sequence length, got None;"
                " give max_length or use positional='sinusoidal'"
            )
        if pooling not in _POOLINGS:
            raise expect_one_of("pooling", pooling, _POOLINGS)
        if moe_experts is not None and (
            isinstance(moe_experts, bool) or not isinstance(moe_experts, int) or moe_experts < 2
        ):
            raise ConfigError(f"moe_experts: expected None or at least 2 experts, got"
                              f" {moe_experts!r}")  # fmt: skip
        self.in_channels = in_channels
        self.num_outputs = num_outputs
        self.d_model = d_model
        self.heads = heads
        self.layers = layers
        self.ff_mult = ff_mult
        self.dropout = float(dropout)
        self.patch_size = patch_size
        self.positional = positional
        self.max_length = max_length
        self.pooling = pooling
        self.moe_experts = moe_experts

        # A patch holds its values and a 0/1 row saying which of its steps are real.
        token_features = in_channels if patch_size is None else (in_channels + 1) * patch_size
        self.embedding = nn.Linear(token_features, d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model)) if pooling == "cls" else None
        self.position_embedding: nn.Parameter | None = None
        if positional == "learned" and max_length is not None:  # max_length checked above
            self.position_embedding = nn.Parameter(
                torch.zeros(self._tokens_for(max_length), d_model)
            )
        else:
            # Frequencies 1 / 10000^(2i / d_model), i = 0 .. ceil(d_model / 2) - 1.
            exponents = torch.arange(0, d_model, 2, dtype=torch.float32) / d_model
            self.register_buffer("inverse_frequency", 10000.0**-exponents, persistent=False)
        self.drop = nn.Dropout(self.dropout)
        self.blocks = nn.ModuleList(
            EncoderBlock(d_model, heads, self._feed_forward(), self.dropout) for _ in range(layers)
        )
        self.final_norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_outputs)
        self.reset_parameters()

    def _feed_forward(self) -> nn.Module:
        """A block's feed-forward: dense, or a sparse top-2 mixture of ``moe_experts`` experts
        of the same width (Shazeer et al. 2017; Fedus et al. 2022's load-balancing loss)."""
        if self.moe_experts is None:
            return FeedForward(self.d_model, self.ff_mult, self.dropout)
        return MixtureOfExperts(self.d_model, num_experts=self.moe_experts, k=2,
                                hidden=self.d_model * self.ff_mult)  # fmt: skip

    def auxiliary_loss(self) -> torch.Tensor:
        """What the Trainer adds to the task loss: :data:`MOE_AUX_WEIGHT` times the experts'
        load-balancing losses of the last forward (0 without experts, and in eval)."""
        losses = [block.feed_forward.aux_loss for block in self.blocks
                  if isinstance(block.feed_forward, MixtureOfExperts)]  # fmt: skip
        if not losses:
            return torch.zeros(())
        return MOE_AUX_WEIGHT * torch.stack(losses).sum()

    def reset_parameters(self) -> None:
        """Re-initialise: weights and learned embeddings from N(0, 0.02), zero biases."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:  # a mixture's gate has none
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                module.reset_parameters()
        for parameter in (self.cls_token, self.position_embedding):
            if parameter is not None:
                nn.init.normal_(parameter, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map NaN-padded sequences ``(batch, in_channels, length)`` to ``(batch, num_outputs)``."""
        check_sequence_shape(x, self.in_channels)
        x_filled, mask = padding_mask(x)
        check_padding(mask, self.max_length)
        h, token_mask = self._embed(x_filled, mask)
        h = h + self._positions(h.shape[1]).to(h.dtype)
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(h.shape[0], -1, -1), h], dim=1)
            token_mask = torch.cat([token_mask.new_ones(h.shape[0], 1), token_mask], dim=1)
        h = self.drop(h)
        for block in self.blocks:
            h = block(h, token_mask)
        h = self.final_norm(h)
        pooled = (
            h[:, 0] if self.cls_token is not None else masked_mean(h.transpose(1, 2), token_mask)
        )
        return self.head(pooled)

    def _embed(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embedded tokens ``(batch, tokens, d_model)`` and their mask ``(batch, tokens)``."""
        if self.patch_size is None:
            return self.embedding(x.transpose(1, 2)), mask
        size = self.patch_size
        batch, length = x.shape[0], x.shape[2]
        # Whole patches plus one of padding (masked like all padding): with at least two
        # patches, and their count written as one floor division, torch.export can prove the
        # reshapes below valid for every length instead of pinning the length.
        count = (length + 2 * size - 1) // size
        values = torch.cat([x, mask.unsqueeze(1).to(x.dtype)], dim=1)
        values = functional.pad(values, (0, count * size - length))
        patches = values.reshape(batch, self.in_channels + 1, -1, size).transpose(1, 2)
        real = patches[:, :, -1, :].amax(dim=-1) > 0  # a patch with any real step is real
        flat = patches.reshape(batch, -1, (self.in_channels + 1) * size)
        return self.embedding(flat), real

    def _positions(self, count: int) -> torch.Tensor:
        """``(count, d_model)`` position encodings of tokens ``0 .. count - 1``."""
        if self.position_embedding is not None:
            # Padding tokens beyond max_length (a longer batch) reuse the last position: they
            # are masked, and clamping keeps the gather in range in ONNX too.
            index = torch.arange(count, device=self.position_embedding.device)
            return self.position_embedding[index.clamp(max=self.position_embedding.shape[0] - 1)]
        frequency: torch.Tensor = self.inverse_frequency  # type: ignore[assignment]
        # In float32 whatever the autocast dtype: half precision cannot count positions far.
        positions = torch.arange(count, device=frequency.device, dtype=torch.float32)
        angles = positions.unsqueeze(1) * frequency
        # PE(p, 2i) = sin(p / 10000^(2i/d)), PE(p, 2i + 1) = cos(p / 10000^(2i/d)).
        encoding = torch.stack([angles.sin(), angles.cos()], dim=-1).flatten(1)
        return encoding[:, : self.d_model]

    def _tokens_for(self, length: int) -> int:
        return length if self.patch_size is None else math.ceil(length / self.patch_size)

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        return {
            "in_channels": self.in_channels,
            "num_outputs": self.num_outputs,
            "d_model": self.d_model,
            "heads": self.heads,
            "layers": self.layers,
            "ff_mult": self.ff_mult,
            "dropout": self.dropout,
            "patch_size": self.patch_size,
            "positional": self.positional,
            "max_length": self.max_length,
            "pooling": self.pooling,
            "moe_experts": self.moe_experts,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransformerNet:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        config = dict(config)
        return cls(config.pop("in_channels"), config.pop("num_outputs"), **config)

    def extra_repr(self) -> str:
        tokens = "steps" if self.patch_size is None else f"patches of {self.patch_size}"
        return (
            f"in_channels={self.in_channels}, num_outputs={self.num_outputs},"
            f" d_model={self.d_model}, heads={self.heads}, layers={self.layers}, tokens={tokens},"
            f" positional={self.positional}, pooling={self.pooling}"
        )


def transformer_plan(
    model: TransformerNet,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The export plan of a :class:`TransformerNet`: dynamic batch and length, NaN-padded checks.

    With learned positions the checked lengths stop at ``max_length``.
    """
    longest = model.max_length if model.max_length is not None else 64
    trace_length = max(2, min(11, longest))
    lengths = sorted({min(2, longest), trace_length, longest if longest < 64 else 50})
    return sequence_plan(
        model,
        family="transformer",
        in_channels=model.in_channels,
        num_outputs=model.num_outputs,
        trace_length=trace_length,
        lengths=tuple(lengths),
        batch_sizes=tuple(batch_sizes),
        metadata=model.config(),
    )


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the attention candidate: width, heads, depth, dropout, tokens (steps,
    or patches of 8 or 16 steps), and the learning rate and batch size.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"d_model": 32, "heads": 2, "layers": 1, "dropout": 0.1,
    ...     "patch_size": 1, "lr": 1e-3, "batch_size": 16}))["patch_size"] is None
    True
    """
    # Optuna stores scalars: a patch of one step stands for "steps as tokens" (None).
    patch = trial.suggest_categorical("patch_size", [1, 8, 16])
    return {
        "d_model": trial.suggest_categorical("d_model", [32, 64, 128]),
        "heads": trial.suggest_categorical("heads", [2, 4]),
        "layers": trial.suggest_int("layers", 1, 4),
        "dropout": trial.suggest_float("dropout", 0.0, 0.3),
        "patch_size": None if patch == 1 else patch,
        **training_space(trial),
    }


register(
    ModelSpec(
        "TransformerNet",
        "network",
        model_class=TransformerNet,
        export_plan=transformer_plan,
        reference="Vaswani et al. 2017; pre-norm: Xiong et al. 2020; patches: Nie et al. 2023",
    )
)
# zen fit's attention candidate: a small pre-norm encoder; attention needs more data than the
# convolutional networks (Zerveas et al. 2021), and patches keep long sequences affordable
# (Nie et al. 2023).
register(
    ModelSpec(
        "TransformerNet",
        "sequence classifier",
        model_class=TransformerNet,
        prior=1.06,
        rule_factors={"few sequences per class": 1.05},
        rule_options={"long sequences": {"patch_size": 16}},
        build=sequence_classifier(TransformerNet, d_model=64, heads=4, layers=2),
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=transformer_plan,
        reference="Fawaz et al. 2019 (protocol)",
    )
)
