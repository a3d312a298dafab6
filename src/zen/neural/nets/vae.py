r"""VAE: a variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014).

An encoder maps ``x`` to a diagonal Gaussian posterior :math:`q(z|x) = N(\mu, \sigma^2)`, a
decoder maps a latent ``z`` to the parameters of :math:`p(x|z)`, and training maximises the
evidence lower bound (paper eq. 3, with the analytic KL of appendix B)

.. math::
    \mathrm{ELBO}(x) = E_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x) \,\|\, N(0, I))

through the reparameterisation :math:`z = \mu + \sigma \odot \epsilon`, :math:`\epsilon \sim
N(0, I)`. The loss is :math:`-E[\log p(x|z)] + w\,\mathrm{KL}` per sample (nats), where the KL
weight ``w`` rises linearly from 0 to ``beta`` over the first ``kl_warmup_epochs`` epochs (KL
warm-up, Bowman et al. 2016; Sønderby et al. 2016) and ``beta`` is the beta-VAE weight (Higgins
et al. 2017).

Inputs are tables ``(batch, features)`` (MLP encoder) or images ``(batch, channels, height,
width)`` (convolutional encoder, or the MLP one on the flattened image). Train it with the shared
Trainer on ``X`` alone: ``Trainer(max_epochs=50).fit(vae, X)``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from zen.errors import ConfigError, DataError
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    TRACE_BATCH,
    ExportPlan,
    TensorSpec,
    batch_checks,
)
from zen.neural.hub import NetworkHubMixin
from zen.neural.nets.arguments import (
    int_tuple,
    non_negative_int,
    one_of,
    positive_float,
    positive_int,
)
from zen.neural.trainer import StepOutput
from zen.registry import ModelSpec, register

ENCODERS = ("mlp", "conv")
LIKELIHOODS = ("gaussian", "bernoulli")
_DEFAULT_HIDDEN = {"mlp": (128, 64), "conv": (16, 32)}
# Bounds of the decoder's log standard deviation: a feature that is (nearly) constant in the
# training data would otherwise drive it to -inf and the ELBO to +inf.
_LOG_SCALE_BOUNDS = (-6.0, 6.0)
# Bounds of the posterior's log variance, so exp() neither overflows nor underflows.
_LOGVAR_BOUNDS = (-12.0, 12.0)
_LOG_2PI = math.log(2 * math.pi)


@dataclass
class VAEConfig:
    """The settings of a :class:`VAE`, checked and normalised on creation.

    Attributes:
        input_shape: shape of one sample: ``(features,)`` for tables, ``(channels, height,
            width)`` for images.
        latent_dim: size of the latent code ``z``.
        encoder: ``"mlp"`` (any input, flattened) or ``"conv"`` (images only).
        hidden: MLP: hidden layer widths of the encoder (the decoder mirrors them); conv:
            channels of the stride-2 convolutions. ``None``: (128, 64) and (16, 32).
        likelihood: ``"gaussian"`` (real values; a learned standard deviation per feature) or
            ``"bernoulli"`` (values in [0, 1], e.g. pixel intensities).
        beta: weight of the KL term after the warm-up (1: the ELBO; > 1: a beta-VAE).
        kl_warmup_epochs: epochs over which the KL weight rises from 0 to ``beta`` (0: none).
    """

    input_shape: tuple[int, ...]
    latent_dim: int
    encoder: str = "mlp"
    hidden: tuple[int, ...] | None = None
    likelihood: str = "gaussian"
    beta: float = 1.0
    kl_warmup_epochs: int = 10

    def __post_init__(self) -> None:
        shape = (self.input_shape,) if isinstance(self.input_shape, int) else self.input_shape
        self.input_shape = int_tuple("input_shape", shape)
        self.latent_dim = positive_int("latent_dim", self.latent_dim)
        self.encoder = one_of("encoder", self.encoder, ENCODERS)
        if self.encoder == "conv" and len(self.input_shape) != 3:
            raise ConfigError(
                f"input_shape: encoder='conv' needs images (channels, height, width), got"
                f" {self.input_shape}; use encoder='mlp' for tables"
            )
        hidden = _DEFAULT_HIDDEN[self.encoder] if self.hidden is None else self.hidden
        self.hidden = int_tuple("hidden", hidden)
        self.likelihood = one_of("likelihood", self.likelihood, LIKELIHOODS)
        self.beta = positive_float("beta", self.beta)
        self.kl_warmup_epochs = non_negative_int("kl_warmup_epochs", self.kl_warmup_epochs)

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON (tuples become lists)."""
        settings = dataclasses.asdict(self)
        settings["input_shape"] = list(self.input_shape)
        settings["hidden"] = list(self.hidden or ())
        return settings


class VAE(nn.Module, NetworkHubMixin):
    r"""A variational autoencoder for tables or small images (see the module docstring).

    Args:
        input_shape: features per sample (an int) or the shape of one sample, e.g. ``(1, 8,
            8)`` for 8x8 grey digits.
        latent_dim: size of the latent code.
        encoder, hidden, likelihood, beta, kl_warmup_epochs: see :class:`VAEConfig`.

    ``forward(x)`` is the deterministic reconstruction mean :math:`E[x|z=\mu(x)]`, what
    :meth:`Trainer.predict` returns and ONNX export traces. Random draws (the
    reparameterisation in training, :meth:`sample`, :meth:`elbo`) take a ``generator``, or use
    torch's global one, which a seeded Trainer keeps private to the fit.

    Example:
        >>> vae = VAE(6, latent_dim=2, hidden=(16,))
        >>> vae(torch.zeros(4, 6)).shape
        torch.Size([4, 6])
        >>> vae.elbo(torch.zeros(4, 6), generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4])
        >>> VAE((1, 8, 8), latent_dim=4, encoder="conv").sample(3).shape
        torch.Size([3, 1, 8, 8])
    """

    def __init__(
        self,
        input_shape: int | Sequence[int],
        latent_dim: int,
        *,
        encoder: str = "mlp",
        hidden: Sequence[int] | None = None,
        likelihood: str = "gaussian",
        beta: float = 1.0,
        kl_warmup_epochs: int = 10,
    ) -> None:
        super().__init__()
        self.hparams = VAEConfig(
            input_shape=input_shape,  # type: ignore[arg-type]  # normalised by VAEConfig
            latent_dim=latent_dim,
            encoder=encoder,
            hidden=None if hidden is None else tuple(hidden),
            likelihood=likelihood,
            beta=beta,
            kl_warmup_epochs=kl_warmup_epochs,
        )
        hp = self.hparams
        hidden_sizes = hp.hidden or ()
        if hp.encoder == "conv":
            self.encoder_body, features = _conv_encoder(hp.input_shape, hidden_sizes)
            self.decoder = _conv_decoder(hp.latent_dim, hidden_sizes, hp.input_shape)
        else:
            self.encoder_body, features = _mlp_encoder(math.prod(hp.input_shape), hidden_sizes)
            self.decoder = _mlp_decoder(hp.latent_dim, hidden_sizes, hp.input_shape)
        # One linear layer gives both posterior parameters: [mu, log sigma^2].
        self.posterior = nn.Linear(features, 2 * hp.latent_dim)
        self.log_scale: nn.Parameter | None
        if hp.likelihood == "gaussian":
            # Learned per-feature decoder scale ("calibrated decoder", Rybkin et al. 2021): a
            # fixed unit variance would weigh reconstruction against KL arbitrarily.
            self.log_scale = nn.Parameter(torch.zeros(hp.input_shape))
        else:
            self.register_parameter("log_scale", None)
        #: The KL weight of the current epoch; the Trainer sets it through on_epoch_start.
        #: Outside a Trainer it is ``beta`` (no warm-up) unless you set it.
        self.kl_weight = hp.beta
        self.reset_parameters()

    # ------------------------------------------------------------------ the model
    def reset_parameters(self) -> None:
        """Re-initialise every layer (torch's defaults) and the decoder scale (sigma = 1)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                cast(Any, module).reset_parameters()
        if self.log_scale is not None:
            nn.init.zeros_(self.log_scale)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return self.hparams.input_shape

    @property
    def latent_dim(self) -> int:
        """Size of the latent code."""
        return self.hparams.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``(batch, latent_dim)``, of ``x``
        ``(batch, *input_shape)``."""
        self._check_input(x)
        mu, logvar = self.posterior(self.encoder_body(x)).chunk(2, dim=-1)
        return mu, logvar.clamp(*_LOGVAR_BOUNDS)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of :math:`p(x|z)`, ``(batch, *input_shape)``, for latents ``(batch,
        latent_dim)`` (the Bernoulli mean is the sigmoid of the decoder's logits)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise DataError(f"z: expected shape (batch, {self.latent_dim}), got {tuple(z.shape)}")
        parameters = self.decoder(z)
        return torch.sigmoid(parameters) if self.hparams.likelihood == "bernoulli" else parameters

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction mean ``(batch, *input_shape)``: decode the posterior mean of ``x``."""
        mu, _ = self.encode(x)
        return self.decode(mu)

    def reparameterize(
        self, mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        r""":math:`z = \mu + e^{\log\sigma^2 / 2} \odot \epsilon`, differentiable in ``mu`` and
        ``logvar`` (paper section 2.4)."""
        noise = torch.randn(mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
        return mu + torch.exp(0.5 * logvar) * noise

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` new samples' means ``(n, *input_shape)``: decode ``z ~ N(0, I)``."""
        n = positive_int("n", n)
        weight = self.posterior.weight
        z = torch.randn(
            (n, self.latent_dim), generator=generator, dtype=weight.dtype, device=weight.device
        )
        with torch.no_grad():
            return self.decode(z)

    # ------------------------------------------------------------------ the bound
    def kl_divergence(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        r"""Per-sample :math:`\mathrm{KL}(N(\mu, \sigma^2) \| N(0, I)) = \frac12 \sum (\mu^2 +
        \sigma^2 - 1 - \log \sigma^2)` (paper appendix B), shape ``(batch,)``."""
        return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)

    def log_likelihood(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x|z)` per sample in nats, shape ``(batch,)``, summed over features."""
        parameters = self.decoder(z)
        if self.hparams.likelihood == "bernoulli":
            terms = -F.binary_cross_entropy_with_logits(parameters, x, reduction="none")
        else:
            assert self.log_scale is not None  # gaussian models always have one
            log_scale = self.log_scale.clamp(*_LOG_SCALE_BOUNDS)
            standardized = (x - parameters) * torch.exp(-log_scale)
            terms = -0.5 * standardized.pow(2) - log_scale - 0.5 * _LOG_2PI
        return terms.flatten(1).sum(dim=1)

    def elbo(
        self,
        x: torch.Tensor,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The evidence lower bound of each sample, ``(batch,)`` nats (beta = 1, no warm-up).

        Args:
            x: ``(batch, *input_shape)``; values in [0, 1] for the Bernoulli likelihood.
            num_samples: latent draws averaged for the expected log-likelihood (more: less
                noise, same expectation).
            generator: the source of the draws (``None``: torch's global generator).
        """
        num_samples = positive_int("num_samples", num_samples)
        self._check_values(x)
        mu, logvar = self.encode(x)
        total = torch.zeros(x.shape[0], dtype=mu.dtype, device=mu.device)
        for _ in range(num_samples):
            total = total + self.log_likelihood(x, self.reparameterize(mu, logvar, generator))
        return total / num_samples - self.kl_divergence(mu, logvar)

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error between ``x`` and its reconstruction mean, per sample
        ``(batch,)``; deterministic (no latent draw)."""
        with torch.no_grad():
            return (self(x) - x).pow(2).flatten(1).mean(dim=1)

    def anomaly_score(
        self,
        x: torch.Tensor,
        method: str = "elbo",
        num_samples: int = 16,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """How unusual each sample is, ``(batch,)``: higher means more anomalous.

        Args:
            x: ``(batch, *input_shape)``.
            method: ``"elbo"``: the negative ELBO in nats, an upper bound on :math:`-\\log
                p(x)` that also counts how unlikely the latent code is (averaged over
                ``num_samples`` draws, so repeated calls differ slightly without a
                ``generator``); ``"reconstruction"``: :meth:`reconstruction_error`, cheaper and
                deterministic, blind to codes far from the prior.
            num_samples: latent draws for ``"elbo"``.
            generator: the source of those draws.
        """
        method = one_of("method", method, ("elbo", "reconstruction"))
        if method == "reconstruction":
            return self.reconstruction_error(x)
        with torch.no_grad():
            return -self.elbo(x, num_samples=num_samples, generator=generator)

    # ------------------------------------------------------------------ training
    def kl_weight_at(self, epoch: int) -> float:
        """The KL weight of training epoch ``epoch`` (counting from 1): ``beta * (epoch - 1) /
        kl_warmup_epochs``, capped at ``beta``; the first epoch trains the reconstruction only.

        >>> [VAE(3, 1, beta=2.0, kl_warmup_epochs=4).kl_weight_at(e) for e in (1, 2, 5, 9)]
        [0.0, 0.5, 2.0, 2.0]
        """
        beta, warmup = self.hparams.beta, self.hparams.kl_warmup_epochs
        if warmup == 0:
            return beta
        return beta * min(1.0, max(0, epoch - 1) / warmup)

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        """Trainer hook: set this epoch's KL weight (after a resume, the epoch count carries
        on, and so does the warm-up)."""
        self.kl_weight = self.kl_weight_at(epoch)

    def training_loss(self, batch: Any, loss_fn: Any = None) -> StepOutput:
        """The Trainer's step: the mean over the batch of ``-log p(x|z) + w * KL``.

        ``w`` is :attr:`kl_weight` in training and ``beta`` in evaluation, so validation
        losses of different epochs compare. ``batch`` is ``(x,)`` or ``(x, y)`` (``y`` is
        ignored); the Trainer's ``loss`` setting does not apply (``loss_fn`` is unused).
        """
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        if not isinstance(x, torch.Tensor):
            raise DataError(f"batch: expected (x,) or x tensors, got {type(batch).__name__}")
        self._check_values(x)
        mu, logvar = self.encode(x)
        log_likelihood = self.log_likelihood(x, self.reparameterize(mu, logvar))
        weight = self.kl_weight if self.training else self.hparams.beta
        loss = (-log_likelihood + weight * self.kl_divergence(mu, logvar)).mean()
        return StepOutput(loss, size=x.shape[0])

    # ------------------------------------------------------------------ plumbing
    def _check_input(self, x: torch.Tensor) -> None:
        if tuple(x.shape[1:]) != self.input_shape or x.dim() != len(self.input_shape) + 1:
            expected = ", ".join(str(size) for size in ("batch", *self.input_shape))
            raise DataError(f"x: expected shape ({expected}), got {tuple(x.shape)}")

    def _check_values(self, x: torch.Tensor) -> None:
        self._check_input(x)
        if self.hparams.likelihood == "bernoulli" and bool(((x < 0) | (x > 1)).any()):
            raise DataError(
                f"x: likelihood='bernoulli' needs values in [0, 1], got values in"
                f" [{float(x.min()):g}, {float(x.max()):g}]; scale the data or use"
                " likelihood='gaussian'"
            )

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the model."""
        return self.hparams.to_json()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> VAE:
        """Rebuild a model (fresh weights) from :meth:`config` output."""
        settings = dict(config)
        return cls(settings.pop("input_shape"), settings.pop("latent_dim"), **settings)

    def extra_repr(self) -> str:
        hp = self.hparams
        shape = "x".join(str(size) for size in hp.input_shape)
        return (
            f"input_shape={shape}, latent_dim={hp.latent_dim}, encoder={hp.encoder},"
            f" likelihood={hp.likelihood}, beta={hp.beta:g}"
        )


# ---------------------------------------------------------------------- encoders/decoders
def _mlp_encoder(features: int, hidden: Sequence[int]) -> tuple[nn.Module, int]:
    """Flatten, then ``Linear -> SiLU`` per hidden width; returns the module and its width."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.SiLU()]
        width = size
    return nn.Sequential(*layers), width


def _mlp_decoder(latent_dim: int, hidden: Sequence[int], shape: tuple[int, ...]) -> nn.Module:
    """The encoder mirrored: hidden widths reversed, then a linear map to the sample's shape."""
    layers: list[nn.Module] = []
    width = latent_dim
    for size in reversed(hidden):
        layers += [nn.Linear(width, size), nn.SiLU()]
        width = size
    layers += [nn.Linear(width, math.prod(shape)), nn.Unflatten(1, shape)]
    return nn.Sequential(*layers)


def _halved(size: int, times: int) -> int:
    """A side after ``times`` stride-2 convolutions with kernel 3 and padding 1 (ceil(n/2))."""
    for _ in range(times):
        size = (size + 1) // 2
    return size


def _conv_encoder(shape: tuple[int, ...], channels: Sequence[int]) -> tuple[nn.Module, int]:
    """Stride-2 ``Conv2d -> SiLU`` per entry of ``channels``, then flatten."""
    in_channels, height, width = shape
    layers: list[nn.Module] = []
    for out_channels in channels:
        layers += [nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), nn.SiLU()]
        in_channels = out_channels
    layers.append(nn.Flatten())
    side_h, side_w = _halved(height, len(channels)), _halved(width, len(channels))
    return nn.Sequential(*layers), in_channels * side_h * side_w


class _Crop(nn.Module):
    """Keep the top-left ``height x width`` of an image batch (the decoder's doubling can
    overshoot odd sizes)."""

    def __init__(self, height: int, width: int) -> None:
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : self.height, : self.width]


def _conv_decoder(latent_dim: int, channels: Sequence[int], shape: tuple[int, ...]) -> nn.Module:
    """Linear to the encoder's last feature map, then stride-2 transposed convolutions
    (kernel 4, padding 1: each doubles the side) back to the input's channels, cropped."""
    out_channels, height, width = shape
    side_h, side_w = _halved(height, len(channels)), _halved(width, len(channels))
    reversed_channels = list(reversed(channels))
    layers: list[nn.Module] = [
        nn.Linear(latent_dim, reversed_channels[0] * side_h * side_w),
        nn.SiLU(),
        nn.Unflatten(1, (reversed_channels[0], side_h, side_w)),
    ]
    targets = [*reversed_channels[1:], out_channels]
    for index, (source, target) in enumerate(zip(reversed_channels, targets, strict=True)):
        layers.append(nn.ConvTranspose2d(source, target, 4, stride=2, padding=1))
        if index < len(targets) - 1:
            layers.append(nn.SiLU())
    layers.append(_Crop(height, width))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------- export
def vae_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a :class:`VAE`: samples in, reconstruction means out (``forward``)."""
    shape = tuple(model.input_shape)
    bernoulli = model.hparams.likelihood == "bernoulli"
    inputs = (TensorSpec("x", ("batch", *shape), description="samples"),)
    outputs = (TensorSpec("output", ("batch", *shape), description="reconstruction means"),)

    def make_inputs(
        sizes: Mapping[str, int], generator: torch.Generator
    ) -> tuple[torch.Tensor, ...]:
        # Bernoulli models are trained (and checked) on values in [0, 1].
        draw = torch.rand if bernoulli else torch.randn
        return (draw(inputs[0].resolve(sizes), generator=generator),)

    return ExportPlan(
        family="network",
        model_class=type(model).__name__,
        module=model,
        inputs=inputs,
        outputs=outputs,
        trace_sizes={"batch": TRACE_BATCH},
        check_sizes=batch_checks(batch_sizes),
        make_inputs=make_inputs,
        metadata={
            "model": model.config(),
            "normalization": {
                "inside_graph": "none",
                "outside_graph": "give the samples exactly as the model was trained on",
            },
        },
        axes={"batch": "samples per call"},
    )


register(
    ModelSpec(
        "VAE",
        "network",
        model_class=VAE,
        export_plan=vae_plan,
        reference="Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014",
    )
)
