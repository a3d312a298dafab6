"""Activation functions by name: FANN's classic set and the modern ones.

Every activation is an ``nn.Module`` built by :func:`get` from a registry, so a network can be
described by strings in a JSON config and rebuilt later. The FANN family takes a ``steepness``
(FANN multiplies the weighted sum by it before applying the function), and follows FANN's own
definitions (``fann_activation.h``, FANN 2.2) so that networks loaded from ``.net`` files compute
exactly what FANN computes:

=====================  ===========================================  ==========
name                   formula, with :math:`z = s\\,x`                 range
=====================  ===========================================  ==========
linear                 :math:`z`                                    (-inf, inf)
sigmoid                :math:`1 / (1 + e^{-2z})`                    (0, 1)
sigmoid_symmetric      :math:`\\tanh(z)`                             (-1, 1)
gaussian               :math:`e^{-z^2}`                             (0, 1]
gaussian_symmetric     :math:`2 e^{-z^2} - 1`                        (-1, 1]
elliot                 :math:`\\frac{z/2}{1 + |z|} + 1/2`            (0, 1)
elliot_symmetric       :math:`\\frac{z}{1 + |z|}`                     (-1, 1)
sin / sin_symmetric    :math:`\\sin(z)/2 + 1/2` / :math:`\\sin(z)`    [0, 1] / [-1, 1]
cos / cos_symmetric    :math:`\\cos(z)/2 + 1/2` / :math:`\\cos(z)`    [0, 1] / [-1, 1]
threshold(_symmetric)  :math:`[z \\ge 0]` / :math:`\\mathrm{sign}`      {0, 1} / {-1, 1}
linear_piece(_sym.)    :math:`z` clipped to [0, 1] / [-1, 1]
sigmoid(_symmetric)_stepwise  six-knot piecewise-linear sigmoid / tanh (FANN's fast variants)
=====================  ===========================================  ==========

The default steepness gives the textbook function: 1 everywhere except ``sigmoid``, where FANN's
own default of 0.5 makes it the logistic function :math:`1/(1+e^{-x})`. Networks loaded from FANN
files carry their own steepness. The threshold functions have no useful gradient, so they are
inference-only: :func:`is_trainable` says so and the Trainer refuses them.

Modern activations (relu, leaky_relu, elu, selu, gelu, silu, softplus, mish) are PyTorch's own.

Example:
    >>> import torch
    >>> act = get("sigmoid_symmetric")
    >>> act(torch.tensor([0.0])).item()
    0.0
    >>> "mish" in names()
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from zen.errors import ConfigError, expect_one_of

#: FANN's default steepness for hidden and output neurons (``fann_create_standard``).
FANN_DEFAULT_STEEPNESS = 0.5


class SteepActivation(nn.Module):
    """Base of the FANN family: ``forward(x) = function(steepness * x)``."""

    name: str = ""
    trainable: bool = True
    default_steepness: float = 1.0

    def __init__(self, steepness: float | None = None, sum_limit: float | None = None) -> None:
        super().__init__()
        self.steepness = float(self.default_steepness if steepness is None else steepness)
        # FANN's fann_run clamps the scaled sum to +-150/steepness; networks loaded from FANN
        # files set this so that huge sums give what FANN gives. None: no clamp.
        self.sum_limit = None if sum_limit is None else float(sum_limit)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x * self.steepness
        if self.sum_limit is not None:
            z = z.clamp(-self.sum_limit, self.sum_limit)
        return self.function(z)

    def function(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        limit = "" if self.sum_limit is None else f", sum_limit={self.sum_limit:g}"
        return f"steepness={self.steepness:g}{limit}"


def _steep(
    name: str,
    function: Callable[[torch.Tensor], torch.Tensor],
    *,
    trainable: bool = True,
    default_steepness: float = 1.0,
) -> type[SteepActivation]:
    """Make a SteepActivation subclass from a plain function of the scaled sum."""
    class_name = "".join(part.capitalize() for part in name.split("_"))
    return type(
        class_name,
        (SteepActivation,),
        {
            "name": name,
            "trainable": trainable,
            "default_steepness": default_steepness,
            "function": lambda self, z: function(z),
            "__doc__": f"FANN's ``{name}`` activation (see :mod:`zen.neural.activations`).",
            "__module__": __name__,
        },
    )


def _elliot(z: torch.Tensor) -> torch.Tensor:
    return (z / 2) / (1 + z.abs()) + 0.5


Linear = _steep("linear", lambda z: z)
Sigmoid = _steep(
    "sigmoid", lambda z: torch.sigmoid(2 * z), default_steepness=FANN_DEFAULT_STEEPNESS
)
SigmoidSymmetric = _steep("sigmoid_symmetric", torch.tanh)
Gaussian = _steep("gaussian", lambda z: torch.exp(-z * z))
GaussianSymmetric = _steep("gaussian_symmetric", lambda z: 2 * torch.exp(-z * z) - 1)
Elliot = _steep("elliot", _elliot)
ElliotSymmetric = _steep("elliot_symmetric", lambda z: z / (1 + z.abs()))
Sin = _steep("sin", lambda z: torch.sin(z) / 2 + 0.5)
SinSymmetric = _steep("sin_symmetric", torch.sin)
Cos = _steep("cos", lambda z: torch.cos(z) / 2 + 0.5)
CosSymmetric = _steep("cos_symmetric", torch.cos)
Threshold = _steep("threshold", lambda z: (z >= 0).to(z.dtype), trainable=False)
ThresholdSymmetric = _steep(
    "threshold_symmetric", lambda z: torch.where(z >= 0, 1.0, -1.0).to(z.dtype), trainable=False
)

LinearPiece = _steep("linear_piece", lambda z: z.clamp(0.0, 1.0))
LinearPieceSymmetric = _steep("linear_piece_symmetric", lambda z: z.clamp(-1.0, 1.0))


class _Stepwise(SteepActivation):
    """FANN's piecewise-linear sigmoid: exact at six results, linear in between, flat outside.

    The knots are where the smooth function reaches those results (FANN 2.2,
    ``fann_update_stepwise``), so the knot positions follow from the results.
    """

    results: tuple[float, ...] = ()
    low: float = 0.0
    high: float = 1.0

    def function(self, z: torch.Tensor) -> torch.Tensor:
        results = torch.tensor(self.results, dtype=z.dtype, device=z.device)
        knots = self.knots(results)
        # Index of the segment each z falls in, then linear interpolation on that segment.
        segment = torch.bucketize(z, knots).clamp(1, len(self.results) - 1)
        left, right = knots[segment - 1], knots[segment]
        value = results[segment - 1] + (results[segment] - results[segment - 1]) * (
            (z - left) / (right - left)
        )
        value = torch.where(z < knots[0], torch.full_like(z, self.low), value)
        return torch.where(z >= knots[-1], torch.full_like(z, self.high), value)

    def knots(self, results: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


class SigmoidStepwise(_Stepwise):
    """FANN's ``sigmoid_stepwise``: a six-knot approximation of ``sigmoid``."""

    name = "sigmoid_stepwise"
    default_steepness = FANN_DEFAULT_STEEPNESS
    results = (0.005, 0.05, 0.25, 0.75, 0.95, 0.995)

    def knots(self, results: torch.Tensor) -> torch.Tensor:
        return 0.5 * torch.log(results / (1 - results))


class SigmoidSymmetricStepwise(_Stepwise):
    """FANN's ``sigmoid_symmetric_stepwise``: a six-knot approximation of ``tanh``."""

    name = "sigmoid_symmetric_stepwise"
    results = (-0.99, -0.9, -0.5, 0.5, 0.9, 0.99)
    low = -1.0

    def knots(self, results: torch.Tensor) -> torch.Tensor:
        return torch.atanh(results)


_FANN_FAMILY: tuple[type[SteepActivation], ...] = (
    LinearPiece,
    LinearPieceSymmetric,
    SigmoidStepwise,
    SigmoidSymmetricStepwise,
    Linear,
    Sigmoid,
    SigmoidSymmetric,
    Gaussian,
    GaussianSymmetric,
    Elliot,
    ElliotSymmetric,
    Sin,
    SinSymmetric,
    Cos,
    CosSymmetric,
    Threshold,
    ThresholdSymmetric,
)

_MODERN: dict[str, Callable[..., nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "mish": nn.Mish,
}

_REGISTRY: dict[str, Callable[..., nn.Module]] = {cls.name: cls for cls in _FANN_FAMILY}
_REGISTRY.update(_MODERN)

#: Other spellings users reach for; they resolve to a canonical name.
ALIASES: dict[str, str] = {
    "identity": "linear",
    "none": "linear",
    "tanh": "sigmoid_symmetric",
    "logistic": "sigmoid",
    "swish": "silu",
    "step": "threshold",
}


def names() -> list[str]:
    """Canonical names of all registered activations, sorted."""
    return sorted(_REGISTRY)


def canonical_name(name: str) -> str:
    """Resolve aliases and case (``"Tanh"`` -> ``"sigmoid_symmetric"``); raise on unknown names."""
    if not isinstance(name, str):
        raise ConfigError(f"activation: expected a name (str), got {type(name).__name__}")
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise expect_one_of("activation", name, names())
    return key


def get(name: str, **kwargs: float) -> nn.Module:
    """Build the activation called ``name`` (aliases accepted).

    Args:
        name: a registered name, e.g. ``"relu"`` or ``"sigmoid_symmetric"``.
        **kwargs: passed to the constructor, e.g. ``steepness=1.0`` for the FANN family or
            ``negative_slope=0.1`` for ``leaky_relu``.

    Raises:
        ConfigError: unknown name (the message lists the valid ones) or bad keyword.
    """
    key = canonical_name(name)
    try:
        return _REGISTRY[key](**kwargs)
    except TypeError as error:
        raise ConfigError(f"activation {key!r}: bad arguments {kwargs}: {error}") from None


def register(name: str, factory: Callable[..., nn.Module], *, overwrite: bool = False) -> None:
    """Add an activation under ``name`` so configs and the CLI can refer to it."""
    key = name.strip().lower()
    if not overwrite and (key in _REGISTRY or key in ALIASES):
        raise ConfigError(f"activation {name!r} is already registered; pass overwrite=True")
    _REGISTRY[key] = factory


def resolve(spec: str | nn.Module | None) -> nn.Module:
    """Turn a name, a module or ``None`` (meaning linear/identity) into a module."""
    if spec is None:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    return get(spec)


def name_of(module: nn.Module) -> str | None:
    """The registry name of an activation module (None for modules not from the registry)."""
    if isinstance(module, nn.Identity):
        return "linear"
    if isinstance(module, SteepActivation):
        return module.name
    for key, factory in _MODERN.items():
        if type(module) is factory:
            return key
    return None


def is_trainable(module: nn.Module) -> bool:
    """False for activations without a useful gradient (FANN's threshold functions)."""
    return getattr(module, "trainable", True)
