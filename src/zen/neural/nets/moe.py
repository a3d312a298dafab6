r"""MixtureOfExperts: a sparsely gated feed-forward layer (Shazeer et al., "Outrageously Large
Neural Networks", ICLR 2017), with the load-balancing loss of the Switch Transformer (Fedus et
al., JMLR 2022).

A linear router scores every token against ``num_experts`` two-layer feed-forward experts; each
token goes to its ``k`` best experts and the layer returns their outputs weighted by the gate:

.. math::
    p(x) = \mathrm{softmax}(x W_g), \qquad
    y = \sum_{i \in \mathrm{TopK}(p(x), k)} g_i(x)\, E_i(x)

with :math:`g = p` for ``k = 1`` (Switch: the router then learns from the task loss too) and
:math:`g_i = p_i / \sum_{j \in \mathrm{TopK}} p_j` for ``k > 1`` (the softmax over the kept
logits, Shazeer et al. eq. 3-5). Noisy top-k gating (eq. 4) adds
:math:`\epsilon \cdot \mathrm{softplus}(x W_{noise})` to the logits in training.
The auxiliary loss :math:`N \sum_i f_i P_i` (Switch eq. 4-6; :math:`f_i` is the share of token
assignments routed to expert ``i``, :math:`P_i` its mean router probability) is 1 when routing
is uniform and grows up to ``N`` as it collapses onto one expert; add a small multiple of
:attr:`MixtureOfExperts.aux_loss` to the task loss to keep the experts in use.

It is a layer, shared by the networks that use it (:class:`~zen.neural.nets.moe_mlp.MoEMLP`,
a Transformer's feed-forward blocks).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zen.errors import ConfigError, DataError
from zen.neural.nets.arguments import positive_float, positive_int


class MixtureOfExperts(nn.Module):
    r"""Sparse top-k mixture of feed-forward experts: ``(..., d_model)`` -> ``(..., d_model)``.

    Args:
        d_model: features per token.
        num_experts: experts :math:`N`, at least 2.
        k: experts per token, 1 <= k <= num_experts.
        hidden: hidden width of each expert (``Linear -> ReLU -> Linear``, as Shazeer et al. and
            the Switch Transformer); ``None``: 4 *
            d_model, as a Transformer's feed-forward block.
        capacity_factor: in training, each expert takes at most ``ceil(capacity_factor * tokens
            * k / num_experts)`` assignments; the rest are dropped (they get no output from that
            expert), first choices before second choices, then in token order (GShard,
            Lepikhin et al. 2021). ``None``: no limit. Evaluation never drops, so a token's
            output does not depend on the rest of the batch.
        noisy_gating: add trainable Gaussian noise to the router logits in training.

    Attributes:
        aux_loss: the load-balancing loss of the last forward, a scalar tensor (0 in eval).
        dropped_fraction: share of the last training forward's assignments dropped by the
            capacity limit.

    ``forward(x, mask=None)``: ``mask`` (``x.shape[:-1]``, True for real tokens) leaves padding
    out of routing, of the losses and of :meth:`utilisation`; padded tokens must be finite (set
    them to 0) and their output is 0. Eager calls compute each expert on its own tokens only;
    an ONNX export evaluates every expert on every token and masks the gate, which is exact.

    Example:
        >>> layer = MixtureOfExperts(8, num_experts=4, k=2)
        >>> layer(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 8])
        >>> float(layer.utilisation().sum())
        1.0
    """

    routed_counts: torch.Tensor

    def __init__(
        self,
        d_model: int,
        num_experts: int = 4,
        k: int = 2,
        hidden: int | None = None,
        capacity_factor: float | None = None,
        *,
        noisy_gating: bool = False,
    ) -> None:
        super().__init__()
        self.d_model = positive_int("d_model", d_model)
        self.num_experts = positive_int("num_experts", num_experts)
        if self.num_experts < 2:
            raise ConfigError(f"num_experts: expected at least 2 experts, got {num_experts!r}")
        self.k = positive_int("k", k)
        if self.k > self.num_experts:
            raise ConfigError(f"k: expected at most num_experts={num_experts} experts, got {k!r}")
        self.hidden = 4 * self.d_model if hidden is None else positive_int("hidden", hidden)
        self.capacity_factor = (
            None if capacity_factor is None else positive_float("capacity_factor", capacity_factor)
        )
        if not isinstance(noisy_gating, bool):
            raise ConfigError(f"noisy_gating: expected True or False, got {noisy_gating!r}")
        self.noisy_gating = noisy_gating

        self.gate = nn.Linear(self.d_model, self.num_experts, bias=False)
        self.noise = nn.Linear(self.d_model, self.num_experts, bias=False) if noisy_gating else None
        # The experts' weights stacked on a leading expert axis: one parameter per role, and
        # the dense (export) path is two batched matrix products.
        experts, width = self.num_experts, self.hidden
        self.w_in = nn.Parameter(torch.empty(experts, self.d_model, width))
        self.b_in = nn.Parameter(torch.empty(experts, width))
        self.w_out = nn.Parameter(torch.empty(experts, width, self.d_model))
        self.b_out = nn.Parameter(torch.empty(experts, self.d_model))
        # Assignments per expert since reset_utilisation(); bookkeeping, not saved with weights.
        self.register_buffer("routed_counts", torch.zeros(experts), persistent=False)
        self.aux_loss: torch.Tensor = torch.zeros(())
        self.dropped_fraction = 0.0
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``nn.Linear``'s default initialisation, expert by expert; router included."""
        self.gate.reset_parameters()
        if self.noise is not None:
            # Start with little noise: softplus(0) would already add N(0, 0.69^2) to the logits.
            nn.init.zeros_(self.noise.weight)
        for weight, bias, fan_in in (
            (self.w_in, self.b_in, self.d_model),
            (self.w_out, self.b_out, self.hidden),
        ):
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(weight, -bound, bound)
            nn.init.uniform_(bias, -bound, bound)

    # ------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Route every token of ``x`` ``(..., d_model)`` to its ``k`` experts; same shape out."""
        if x.dim() < 1 or x.shape[-1] != self.d_model:
            raise DataError(f"x: expected shape (..., {self.d_model}), got {tuple(x.shape)}")
        if mask is not None and tuple(mask.shape) != tuple(x.shape[:-1]):
            raise DataError(
                f"mask: expected shape {tuple(x.shape[:-1])} (x without its last axis), got"
                f" {tuple(mask.shape)}"
            )
        tokens = x.reshape(-1, self.d_model)
        valid = None if mask is None else mask.reshape(-1).to(torch.bool)
        probabilities, top_index, gates = self._route(tokens)
        routed = torch.ones_like(top_index, dtype=torch.bool)
        if valid is not None:
            routed = routed & valid[:, None]
        exporting = torch.compiler.is_exporting()
        if not exporting:
            kept = routed
            if self.training and self.capacity_factor is not None:
                kept = routed & self._within_capacity(top_index, routed)
            self._record(probabilities, top_index, routed, kept)
            routed = kept
        gates = gates * routed.to(gates.dtype)
        if exporting:
            output = self._combine_dense(tokens, top_index, gates)
        else:
            output = self._combine_sparse(tokens, top_index, gates, routed)
        return output.reshape(x.shape)

    def _route(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router probabilities ``(T, N)``, the top-k experts ``(T, k)`` and their gates."""
        logits = self.gate(tokens)
        if self.noise is not None and self.training:
            logits = logits + torch.randn_like(logits) * F.softplus(self.noise(tokens))
        probabilities = logits.softmax(dim=-1)
        top_probabilities, top_index = probabilities.topk(self.k, dim=-1)
        if self.k == 1:
            return probabilities, top_index, top_probabilities
        return probabilities, top_index, top_probabilities / top_probabilities.sum(-1, True)

    def _expert(self, index: int, tokens: torch.Tensor) -> torch.Tensor:
        """Expert ``index`` on ``tokens`` ``(n, d_model)``."""
        hidden = F.relu(tokens @ self.w_in[index] + self.b_in[index])
        return hidden @ self.w_out[index] + self.b_out[index]

    def _combine_sparse(
        self,
        tokens: torch.Tensor,
        top_index: torch.Tensor,
        gates: torch.Tensor,
        routed: torch.Tensor,
    ) -> torch.Tensor:
        """Each expert computes only the tokens routed to it (what makes the layer sparse).

        The assignments are sorted by expert, so one gather feeds every expert a contiguous
        slice and one ``index_add`` scatters the weighted results back to their tokens.
        """
        expert_of = top_index.reshape(-1)
        token_of = torch.arange(tokens.shape[0], device=tokens.device).repeat_interleave(self.k)
        gate_of = gates.reshape(-1)
        kept = routed.reshape(-1)
        if not bool(kept.all()):
            expert_of, token_of, gate_of = expert_of[kept], token_of[kept], gate_of[kept]
        order = torch.argsort(expert_of, stable=True)
        counts = torch.bincount(expert_of, minlength=self.num_experts).tolist()
        token_of, gate_of = token_of[order], gate_of[order]
        slices = tokens[token_of].split(counts)
        results = [self._expert(expert, chunk) for expert, chunk in enumerate(slices) if len(chunk)]
        output = torch.zeros_like(tokens)
        if not results:
            return output
        return output.index_add(0, token_of, torch.cat(results) * gate_of[:, None])

    def _combine_dense(
        self, tokens: torch.Tensor, top_index: torch.Tensor, gates: torch.Tensor
    ) -> torch.Tensor:
        """Every expert on every token, weighted by a gate that is 0 off the top k: the same
        numbers as :meth:`_combine_sparse` without data-dependent shapes (for export)."""
        weights = torch.zeros(
            tokens.shape[0], self.num_experts, dtype=gates.dtype, device=gates.device
        ).scatter(1, top_index, gates)
        hidden = F.relu(torch.einsum("td,edh->teh", tokens, self.w_in) + self.b_in)
        expert_outputs = torch.einsum("teh,ehd->ted", hidden, self.w_out) + self.b_out
        return torch.einsum("te,ted->td", weights, expert_outputs)

    # ------------------------------------------------------------------ balance
    def _within_capacity(self, top_index: torch.Tensor, routed: torch.Tensor) -> torch.Tensor:
        """``(T, k)``: assignments that fit their expert's capacity; first choices of every
        token queue before second choices, then in token order."""
        assert self.capacity_factor is not None
        tokens = int(routed[:, 0].sum())
        capacity = math.ceil(self.capacity_factor * tokens * self.k / self.num_experts)
        choice_major = top_index.t().reshape(-1)
        queued = F.one_hot(choice_major, self.num_experts) * routed.t().reshape(-1, 1)
        position = (queued.cumsum(dim=0) * queued).sum(dim=-1)  # 1-based place in the queue
        return (position <= capacity).reshape(self.k, -1).t()

    def _record(
        self,
        probabilities: torch.Tensor,
        top_index: torch.Tensor,
        routed: torch.Tensor,
        kept: torch.Tensor,
    ) -> None:
        """Update :attr:`aux_loss`, :attr:`dropped_fraction` and the utilisation counts."""
        assignments = F.one_hot(top_index, self.num_experts) * routed[..., None]  # (T, k, N)
        per_expert = assignments.sum(dim=(0, 1)).to(probabilities.dtype)
        with torch.no_grad():
            self.routed_counts += per_expert.to(self.routed_counts.dtype)
        if not self.training:
            self.aux_loss = torch.zeros((), device=probabilities.device)
            self.dropped_fraction = 0.0
            return
        real = routed[:, 0].to(probabilities.dtype)
        count = real.sum().clamp_min(1.0)
        share_routed = per_expert / (count * self.k)  # f_i
        mean_probability = (probabilities * real[:, None]).sum(dim=0) / count  # P_i
        self.aux_loss = self.num_experts * (share_routed * mean_probability).sum()
        if self.capacity_factor is not None:  # reading the counts costs a device sync
            total = int(routed.sum())
            self.dropped_fraction = 1.0 - int(kept.sum()) / total if total else 0.0

    def utilisation(self) -> torch.Tensor:
        """Share of the token assignments each expert received since the last
        :meth:`reset_utilisation`, ``(num_experts,)``, summing to 1 (zeros before any)."""
        total = self.routed_counts.sum()
        if float(total) == 0.0:
            return torch.zeros_like(self.routed_counts)
        return self.routed_counts / total

    def reset_utilisation(self) -> None:
        """Start counting :meth:`utilisation` afresh."""
        self.routed_counts.zero_()

    def extra_repr(self) -> str:
        return (
            f"d_model={self.d_model}, num_experts={self.num_experts}, k={self.k},"
            f" hidden={self.hidden}, capacity_factor={self.capacity_factor},"
            f" noisy_gating={self.noisy_gating}"
        )
