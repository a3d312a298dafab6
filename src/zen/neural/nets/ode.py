r"""NeuralODE: a continuous-depth network (Chen et al., "Neural Ordinary Differential Equations",
NeurIPS 2018).

The features are encoded to a state :math:`h(0)`, which flows along the learned dynamics

.. math::
    \frac{dh}{dt} = f_\theta(h(t), t), \qquad h(t_1) = h(0) + \int_0^{t_1} f_\theta(h, t)\,dt

(``f`` a small MLP that also sees ``t``, as the paper's time-concatenating layers), and a linear
head reads the outputs from :math:`h(t_1)`. The integral is solved by ``torchdiffeq``'s
``odeint`` (an adaptive Dormand-Prince solver, or fixed-step RK4 / Euler); ``adjoint=True``
backpropagates by solving the adjoint ODE backwards (paper section 2), which needs memory
constant in the number of solver steps, at the price of a second solve.

Sequences ``(batch, channels, length)`` (NaN-padded after their end) are pooled first: the
network reads the mean of each channel over a sequence's real steps, so order within the
sequence is ignored. An ODE-RNN or latent ODE (Rubanova et al. 2019) that follows the sequence
in time is out of scope; use a sequence network when order matters.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from zen.errors import BackendUnavailable, ConfigError, DataError
from zen.neural.export_plan import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    ExportPlan,
    feature_plan,
)
from zen.neural.hub import NetworkHubMixin
from zen.neural.nets.arguments import one_of, positive_float, positive_int
from zen.registry import ModelSpec, register

ADAPTIVE_SOLVERS = ("dopri5",)
FIXED_STEP_SOLVERS = ("rk4", "euler")
SOLVERS = ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS
_INSTALL_HINT = "pip install 'zen-neural[ode]'"


def _torchdiffeq() -> Any:
    """The ``torchdiffeq`` module, or :class:`BackendUnavailable` naming the extra."""
    try:
        import torchdiffeq
    except ImportError:
        raise BackendUnavailable(
            f"NeuralODE needs torchdiffeq; install it: {_INSTALL_HINT}"
        ) from None
    return torchdiffeq


@dataclass
class NeuralODEConfig:
    """The settings of a :class:`NeuralODE`, checked on creation.

    Attributes:
        in_features: features per sample (channels, for sequences).
        num_outputs: outputs per sample (logits for classification).
        hidden: size of the ODE state ``h`` and width of the dynamics MLP.
        solver: ``"dopri5"`` (adaptive, error-controlled by ``rtol``/``atol``), ``"rk4"`` or
            ``"euler"`` (fixed steps of ``step_size``).
        rtol, atol: relative and absolute error tolerances of the adaptive solver.
        step_size: step of the fixed-step solvers (required for them, refused for dopri5).
        adjoint: gradients by the adjoint method (memory O(1) in the steps) instead of
            backpropagating through the solver's operations.
        t1: the integration time: the state flows from t = 0 to t = t1.
    """

    in_features: int
    num_outputs: int
    hidden: int = 64
    solver: str = "dopri5"
    rtol: float = 1e-3
    atol: float = 1e-4
    step_size: float | None = None
    adjoint: bool = False
    t1: float = 1.0

    def __post_init__(self) -> None:
        self.in_features = positive_int("in_features", self.in_features)
        self.num_outputs = positive_int("num_outputs", self.num_outputs)
        self.hidden = positive_int("hidden", self.hidden)
        self.solver = one_of("solver", self.solver, SOLVERS)
        self.rtol = positive_float("rtol", self.rtol)
        self.atol = positive_float("atol", self.atol)
        self.t1 = positive_float("t1", self.t1)
        if not isinstance(self.adjoint, bool):
            raise ConfigError(f"adjoint: expected True or False, got {self.adjoint!r}")
        if self.solver in FIXED_STEP_SOLVERS:
            if self.step_size is None:
                raise ConfigError(
                    f"step_size: solver={self.solver!r} takes fixed steps; pass step_size (e.g."
                    f" {self.t1 / 10:g} for 10 steps up to t1={self.t1:g})"
                )
            self.step_size = positive_float("step_size", self.step_size)
        elif self.step_size is not None:
            raise ConfigError(
                f"step_size: only the fixed-step solvers {list(FIXED_STEP_SOLVERS)} take one;"
                f" solver={self.solver!r} chooses its steps from rtol and atol, got"
                f" step_size={self.step_size!r}"
            )


class ODEDynamics(nn.Module):
    r"""The learned vector field :math:`f_\theta(h, t)`: ``[h, t] -> Linear -> tanh -> [., t]
    -> Linear``; it counts its evaluations (:attr:`calls`)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.inner = nn.Linear(size + 1, size)
        self.outer = nn.Linear(size + 1, size)
        self.calls = 0

    def reset_parameters(self) -> None:
        """Re-initialise both layers."""
        self.inner.reset_parameters()
        self.outer.reset_parameters()

    def forward(self, t: torch.Tensor | float, h: torch.Tensor) -> torch.Tensor:
        """:math:`dh/dt` at time ``t`` (a scalar) for states ``h`` ``(batch, size)``."""
        self.calls += 1
        time = torch.ones_like(h[:, :1]) * t
        hidden = torch.tanh(self.inner(torch.cat([h, time], dim=1)))
        return self.outer(torch.cat([hidden, time], dim=1))


class NeuralODE(nn.Module, NetworkHubMixin):
    """Features ``(batch, in_features)`` (or sequences ``(batch, in_features, length)``, pooled)
    -> ``(batch, num_outputs)`` through an ODE block (arguments as :class:`NeuralODEConfig`).

    Attributes:
        nfe: evaluations of the dynamics in the last forward (the backward pass adds more,
            not counted here); a measure of how hard the learned flow is to integrate.

    Example:
        >>> net = NeuralODE(3, 2, hidden=8, solver="rk4", step_size=0.25)
        >>> net(torch.zeros(5, 3)).shape, net.nfe
        (torch.Size([5, 2]), 16)
    """

    #: Sequences may be NaN-padded after their end (the Trainer lets NaN through).
    nan_padding = True

    def __init__(
        self,
        in_features: int,
        num_outputs: int,
        *,
        hidden: int = 64,
        solver: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-4,
        step_size: float | None = None,
        adjoint: bool = False,
        t1: float = 1.0,
    ) -> None:
        super().__init__()
        self.hparams = NeuralODEConfig(
            in_features, num_outputs, hidden, solver, rtol, atol, step_size, adjoint, t1
        )
        _torchdiffeq()  # fail at construction, not at the first forward
        hp = self.hparams
        self.encoder = nn.Linear(hp.in_features, hp.hidden)
        self.dynamics = ODEDynamics(hp.hidden)
        self.head = nn.Linear(hp.hidden, hp.num_outputs)
        self.nfe = 0
        # Python floats, computed eagerly: tensor arithmetic here would be traced by export.
        self._grid = _time_grid(hp.t1, hp.step_size) if hp.step_size is not None else []

    def reset_parameters(self) -> None:
        """Re-initialise every layer."""
        self.encoder.reset_parameters()
        self.dynamics.reset_parameters()
        self.head.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``x`` ``(batch, in_features)`` or ``(batch, in_features, length)`` to ``(batch,
        num_outputs)``."""
        features = self._features(x)
        return self.head(self.integrate(self.encoder(features)))

    def integrate(self, h0: torch.Tensor) -> torch.Tensor:
        """The state at ``t1`` from states ``h0`` ``(batch, hidden)`` at 0; sets :attr:`nfe`."""
        hp = self.hparams
        self.dynamics.calls = 0
        if torch.compiler.is_exporting():
            # torchdiffeq's checks and step-count arithmetic read tensor values, which
            # torch.export cannot trace; the same fixed-grid steps in plain code can be.
            final = self._integrate_fixed_grid(h0)
        else:
            torchdiffeq = _torchdiffeq()
            times = torch.tensor([0.0, hp.t1], dtype=h0.dtype, device=h0.device)
            options = {} if hp.step_size is None else {"step_size": hp.step_size}
            solve = torchdiffeq.odeint_adjoint if hp.adjoint else torchdiffeq.odeint
            path = solve(
                self.dynamics,
                h0,
                times,
                rtol=hp.rtol,
                atol=hp.atol,
                method=hp.solver,
                options=options,
            )
            final = path[-1]
        self.nfe = self.dynamics.calls
        return final

    def _integrate_fixed_grid(self, h0: torch.Tensor) -> torch.Tensor:
        """torchdiffeq's fixed-grid integration of ``[0, t1]``, step for step (its RK4 is the
        3/8 rule, ``rk4_alt_step_func``)."""
        hp = self.hparams
        if hp.solver not in FIXED_STEP_SOLVERS:
            raise ConfigError(_EXPORT_HINT.format(solver=hp.solver))
        f = self.dynamics
        h = h0
        for start, end in itertools.pairwise(self._grid):
            dt = end - start
            k1 = f(start, h)
            if hp.solver == "euler":
                h = h + dt * k1
                continue
            k2 = f(start + dt / 3, h + dt * k1 / 3)
            k3 = f(start + dt * 2 / 3, h + dt * (k2 - k1 / 3))
            k4 = f(end, h + dt * (k1 - k2 + k3))
            h = h + (k1 + 3 * (k2 + k3) + k4) * dt * 0.125
        return h

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_features)``: ``x`` itself, or a sequence's mean over its real steps."""
        channels = self.hparams.in_features
        if x.dim() == 3 and x.shape[1] == channels:
            padding = torch.isnan(x).any(dim=1, keepdim=True)  # (batch, 1, length)
            values = torch.where(padding, torch.zeros_like(x), x)
            steps = (~padding).to(x.dtype).sum(dim=-1).clamp_min(1.0)
            return values.sum(dim=-1) / steps
        if x.dim() == 2 and x.shape[1] == channels:
            if not torch.compiler.is_exporting() and bool(torch.isnan(x).any()):
                raise DataError(
                    "x: contains NaN; only sequences (batch, channels, length) may be NaN-padded"
                )
            return x
        raise DataError(
            f"x: expected shape (batch, {channels}) or (batch, {channels}, length), got"
            f" {tuple(x.shape)}"
        )

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        return dataclasses.asdict(self.hparams)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NeuralODE:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        settings = dict(config)
        return cls(settings.pop("in_features"), settings.pop("num_outputs"), **settings)

    def extra_repr(self) -> str:
        hp = self.hparams
        steps = f", step_size={hp.step_size:g}" if hp.step_size is not None else ""
        return (
            f"in_features={hp.in_features}, num_outputs={hp.num_outputs}, hidden={hp.hidden},"
            f" solver={hp.solver}{steps}, t1={hp.t1:g}, adjoint={hp.adjoint}"
        )


def _time_grid(t1: float, step_size: float) -> list[float]:
    """The time points torchdiffeq's fixed-grid solvers step through from 0 to ``t1``
    (``_grid_constructor_from_step_size``), computed the same way in float32."""
    end = torch.tensor(t1, dtype=torch.float32)
    count = int(torch.ceil(end / step_size + 1).item())
    grid = torch.arange(0, count, dtype=torch.float32) * step_size
    grid[-1] = end
    return [float(point) for point in grid]


_EXPORT_HINT = (
    "solver: ONNX export needs a fixed-step solver (an adaptive one chooses its steps at run"
    " time), got solver={solver!r}; build the model with solver='rk4', step_size=... (e.g."
    " t1/10) and train it, or load its weights into one"
)


def neural_ode_plan(
    model: Any,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The plan of a :class:`NeuralODE` with a fixed-step solver: features in, outputs out.

    Raises:
        ConfigError: the model integrates with an adaptive solver.
    """
    hp = model.hparams
    if hp.solver not in FIXED_STEP_SOLVERS:
        raise ConfigError(_EXPORT_HINT.format(solver=hp.solver))
    return feature_plan(
        model, hp.in_features, hp.num_outputs, batch_sizes,
        outside_graph="give the features exactly as the network was trained on; sequences:"
        " their per-channel means over the real steps",
    )  # fmt: skip


register(
    ModelSpec(
        "NeuralODE",
        "network",
        model_class=NeuralODE,
        export_plan=neural_ode_plan,
        reference="Chen et al., Neural Ordinary Differential Equations, NeurIPS 2018",
    )
)
