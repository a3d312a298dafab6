r"""CascadeCorrelation: a network that grows its hidden neurons one at a time.

Fahlman & Lebiere 1990, "The Cascade-Correlation Learning Architecture" (NIPS 2), trained as
libfann 2.2 trains it (``fann_cascadetrain_on_data``, fann_cascade.c): the phases are in
:mod:`zen.neural.nets.cascade_training`, the settings and their FANN defaults in
:class:`~zen.neural.nets.cascade_settings.CascadeSettings`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from zen.errors import ConfigError, DataError
from zen.neural import checkpoint
from zen.neural.data import to_tensor
from zen.neural.nets.cascade_settings import CascadeSettings, trainable_fann_activation
from zen.neural.nets.cascade_training import (
    SUM_LIMIT,
    SYMMETRIC,
    Candidate,
    EpochError,
    PhaseResult,
    TrainingState,
    initial_candidates,
    neuron_values,
    output_errors,
    reached,
    train_candidates,
    train_outputs,
)
from zen.neural.nets.shortcut import ShortcutMLP, shortcut_plan
from zen.neural.seeding import draw_seed
from zen.registry import ModelSpec, register

SAVE_FORMAT = "zen.cascade"


@dataclass(frozen=True)
class CascadeRecord:
    """One output phase of :meth:`CascadeCorrelation.fit`, as FANN reports it.

    The first record is the network without hidden neurons; each later one follows the
    installation of hidden neuron number ``hidden`` (its ``activation``, ``steepness``,
    candidate-phase ``candidate_epochs`` and ``candidate_score``). When the desired error is
    reached, FANN trains the outputs once more: that last record adds no neuron.
    """

    hidden: int
    output_epochs: int
    mse: float
    bit_fail: int
    activation: str | None = None
    steepness: float | None = None
    candidate_epochs: int = 0
    candidate_score: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class CascadeCorrelation(ShortcutMLP):
    r"""A cascade-correlation network: ``fit`` grows it neuron by neuron, as libfann does.

    Starting from outputs wired to the inputs, training alternates an output phase (train the
    output weights until the error stagnates) and a candidate phase (train a pool of candidate
    neurons, every activation x steepness x group, to explain the remaining error, and install
    the best one, frozen, reading the inputs and every earlier hidden neuron), until
    ``max_neurons`` are installed or the error reaches ``desired_error``; then the outputs are
    trained once more. The grown network is a :class:`ShortcutMLP` with single-neuron hidden
    layers: ``forward`` runs it (clamping sums as ``fann_run`` does), Trainer fine-tunes it,
    :func:`zen.neural.fann.save_fann_net` writes it for FANN.

    Args:
        num_inputs: features per sample.
        num_outputs: outputs per sample.
        hidden: the installed hidden neurons, ``[{"name": ..., "steepness": ...}, ...]``:
            empty for a new network; :meth:`config` records them so that
            :meth:`from_config` rebuilds a grown one.
        **settings: FANN's settings by FANN's names (``max_neurons``, ``desired_error``,
            ``training_algorithm``, ``cascade_num_candidate_groups``, ..., and ``seed``): see
            :class:`~zen.neural.nets.cascade_settings.CascadeSettings` for all and their
            defaults.

    Attributes:
        hidden: the installed neurons, ``[(activation, steepness), ...]`` in order.
        settings: the :class:`~zen.neural.nets.cascade_settings.CascadeSettings`.
        history_: one :class:`CascadeRecord` per output phase of the last :meth:`fit`.

    Example:
        >>> X = torch.tensor([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
        >>> y = torch.tensor([0.0, 1.0, 1.0, 0.0])  # XOR
        >>> net = CascadeCorrelation(2, 1, max_neurons=4, desired_error=0.001, seed=3).fit(X, y)
        >>> net.n_hidden_ <= 4, net(X).shape
        (True, torch.Size([4, 1]))
    """

    def __init__(
        self,
        num_inputs: int,
        num_outputs: int,
        *,
        hidden: Sequence[Mapping[str, Any]] = (),
        **settings: Any,
    ) -> None:
        for name, value in (("num_inputs", num_inputs), ("num_outputs", num_outputs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        unknown = sorted(set(settings) - {field.name for field in fields(CascadeSettings)})
        if unknown:
            known = [field.name for field in fields(CascadeSettings)]
            raise ConfigError(f"CascadeCorrelation: unknown settings {unknown}; known: {known}")
        chosen = CascadeSettings(**settings)
        neurons = [_hidden_neuron(index, entry) for index, entry in enumerate(hidden)]
        super().__init__(
            [num_inputs, *[1] * len(neurons), num_outputs],
            activation=[_fann_spec(name, steepness) for name, steepness in neurons],
            output_activation=_fann_spec(chosen.output_activation, chosen.output_steepness),
            init="fann_uniform",
        )
        self.settings = chosen
        self.hidden = neurons
        self.history_: list[CascadeRecord] = []

    @property
    def n_hidden_(self) -> int:
        """Number of installed hidden neurons."""
        return len(self.hidden)

    # ------------------------------------------------------------------------ training
    def fit(self, X: Any, y: Any) -> CascadeCorrelation:
        """Grow and train the network on ``X`` (``(samples, num_inputs)``) and ``y``.

        ``y`` holds targets, ``(samples, num_outputs)`` or ``(samples,)`` for one output; with
        several outputs, integer class labels ``(samples,)`` are one-hot encoded with FANN's
        target values (1 and 0, or -1 for symmetric output activations). Training starts
        afresh: FANN's initial weights (uniform in [-0.1, 0.1]), no hidden neurons.

        Returns:
            ``self``, grown, with :attr:`history_` filled.
        """
        settings = self.settings
        weight = self.linear_layers[-1].weight
        inputs = self._features(X).to(weight.device, weight.dtype)
        targets = self._targets(y, len(inputs)).to(weight.device, weight.dtype)
        seed = settings.seed if settings.seed is not None else draw_seed()
        state = TrainingState(torch.Generator().manual_seed(seed))

        # FANN's neuron values: the inputs, then the bias neuron's constant 1.
        values = torch.cat([inputs, torch.ones_like(inputs[:, :1])], dim=1)
        draws = state.uniform(self.out_features, values.shape[1])
        output_weights = (-0.1 + 0.2 * draws).to(values)  # fann_create_shortcut's weights
        hidden_weights: list[torch.Tensor] = []
        neurons: list[tuple[str, float]] = []
        history: list[CascadeRecord] = []
        installed: Candidate | None = None
        for _ in range(settings.max_neurons):
            phase = train_outputs(
                values, targets, output_weights, settings, settings.desired_error, state
            )
            history.append(_record(len(neurons), phase, installed))
            if reached(phase.error, settings.desired_error, settings):
                installed = None
                break
            installed = self._best_candidate(values, targets, output_weights, phase.error, state)
            _, column = neuron_values(
                values, installed.weights_in[None, :], installed.activation, installed.steepness
            )
            values = torch.cat([values, column], dim=1)
            # Each output reads the new neuron through the weight the candidate trained for
            # that output, scaled (FANN 2.2's fann_add_candidate_neuron hands them over in
            # reverse order of the outputs; that slip is not copied).
            new_output = settings.cascade_weight_multiplier * installed.weights_out[:, None]
            output_weights = torch.cat([output_weights, new_output], dim=1)
            hidden_weights.append(installed.weights_in)
            neurons.append((installed.activation, installed.steepness))
        # FANN trains the outputs once more, without a desired error, after the last neuron.
        phase = train_outputs(values, targets, output_weights, settings, 0.0, state)
        history.append(_record(len(neurons), phase, installed))
        self._install(neurons, hidden_weights, output_weights)
        self.history_ = history
        return self

    def _best_candidate(
        self,
        values: torch.Tensor,
        targets: torch.Tensor,
        output_weights: torch.Tensor,
        error: EpochError,
        state: TrainingState,
    ) -> Candidate:
        """Train a fresh candidate pool on the current network's errors; the one to install."""
        settings = self.settings
        _, outputs = neuron_values(
            values, output_weights, settings.output_activation, settings.output_steepness
        )
        errors = output_errors(targets, outputs, settings)
        pool = initial_candidates(settings, self.in_features, self.out_features, values, state)
        return train_candidates(values, errors, error, pool, settings, state)

    def _install(
        self,
        neurons: list[tuple[str, float]],
        hidden_weights: list[torch.Tensor],
        output_weights: torch.Tensor,
    ) -> None:
        """Rebuild the layers for ``neurons`` and load FANN-ordered weights (inputs, bias,
        hidden neurons) into them."""
        sizes = [self.in_features, *[1] * len(neurons), self.out_features]
        specs = [_fann_spec(name, steepness) for name, steepness in neurons]
        output = _fann_spec(self.settings.output_activation, self.settings.output_steepness)
        self._build_layers(sizes, specs, output)
        self.hidden = neurons
        rows = [weights[None, :] for weights in hidden_weights] + [output_weights]
        bias_index = self.in_features
        with torch.no_grad():
            for linear, fann_rows in zip(self.linear_layers, rows, strict=True):
                linear.weight.copy_(
                    torch.cat([fann_rows[:, :bias_index], fann_rows[:, bias_index + 1 :]], dim=1)
                )
                linear.bias.copy_(fann_rows[:, bias_index])

    def _features(self, X: Any) -> torch.Tensor:
        inputs = to_tensor(X, "X", min_dim=2)
        if inputs.dim() != 2 or inputs.shape[1] != self.in_features:
            raise DataError(
                f"X: expected shape (samples, {self.in_features}), got {tuple(inputs.shape)}"
            )
        return inputs

    def _targets(self, y: Any, samples: int) -> torch.Tensor:
        raw = to_tensor(y, "y", dtype=None)
        if raw.dim() == 1 and self.out_features > 1 and not raw.is_floating_point():
            labels = raw.long()
            if int(labels.min()) < 0 or int(labels.max()) >= self.out_features:
                raise DataError(
                    f"y: class labels must be in [0, {self.out_features}), got"
                    f" {int(labels.min())}..{int(labels.max())}"
                )
            low = -1.0 if self.settings.output_activation in SYMMETRIC else 0.0
            targets = torch.full((len(labels), self.out_features), low)
            targets[torch.arange(len(labels)), labels] = 1.0
        else:
            targets = raw.to(torch.float32)
            if targets.dim() == 1 and self.out_features == 1:
                targets = targets[:, None]
        if targets.dim() != 2 or targets.shape != (samples, self.out_features):
            raise DataError(
                f"y: expected targets of shape ({samples}, {self.out_features})"
                + (" or (samples,)" if self.out_features == 1 else " or integer labels (samples,)")
                + f", got {tuple(raw.shape)}"
            )
        return targets

    # ------------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network
        (with as many hidden neurons, fresh weights)."""
        return {
            "num_inputs": self.in_features,
            "num_outputs": self.out_features,
            "hidden": [{"name": name, "steepness": steepness} for name, steepness in self.hidden],
            **self.settings.to_json(),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CascadeCorrelation:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        return cls(**config)

    def save(self, path: str | Path) -> Path:
        """Write the network (config and :attr:`history_` as JSON, weights as safetensors) to
        directory ``path``, atomically; :meth:`load` reads it back."""
        payload = {
            "format": SAVE_FORMAT,
            "format_version": checkpoint.FORMAT_VERSION,
            "model": checkpoint.describe_model(self),
            "history": [record.to_json() for record in self.history_],
        }
        with checkpoint.atomic_directory(path) as staging:
            checkpoint.save_tensors(staging / checkpoint.MODEL_FILE, self.state_dict())
            checkpoint.write_json(staging / checkpoint.CONFIG_FILE, payload)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> CascadeCorrelation:
        """Read a network written by :meth:`save`."""
        path = Path(path)
        payload = checkpoint.read_json(path / checkpoint.CONFIG_FILE)
        if not isinstance(payload, dict) or payload.get("format") != SAVE_FORMAT:
            raise DataError(f"{path}: not a saved CascadeCorrelation (no '{SAVE_FORMAT}' format)")
        model = checkpoint.build_model(payload["model"])
        if not isinstance(model, cls):
            raise DataError(f"{path}: holds a {type(model).__name__}, not a {cls.__name__}")
        try:
            model.load_state_dict(checkpoint.load_tensors(path / checkpoint.MODEL_FILE))
        except RuntimeError as error:
            raise DataError(f"{path}: the weights do not fit the saved network: {error}") from None
        model.history_ = [CascadeRecord(**record) for record in payload.get("history", [])]
        return model

    def extra_repr(self) -> str:
        return (
            f"inputs={self.in_features}, outputs={self.out_features}, hidden={self.n_hidden_},"
            f" max_neurons={self.settings.max_neurons}"
        )


def _fann_spec(name: str, steepness: float) -> dict[str, Any]:
    """A FANN activation that clamps its sum as ``fann_run`` does."""
    return {"name": name, "steepness": steepness, "sum_limit": SUM_LIMIT / steepness}


def _hidden_neuron(index: int, entry: Mapping[str, Any]) -> tuple[str, float]:
    steepness = entry.get("steepness") if isinstance(entry, Mapping) else None
    if not isinstance(steepness, (int, float)) or isinstance(steepness, bool) or not steepness > 0:
        raise ConfigError(
            f"hidden[{index}]: expected {{'name': <FANN activation>, 'steepness': <positive"
            f" number>}}, got {entry!r}"
        )
    return trainable_fann_activation(f"hidden[{index}]", entry.get("name")), float(steepness)


def _record(hidden: int, phase: PhaseResult, installed: Candidate | None) -> CascadeRecord:
    """The record of an output phase that follows the installation of ``installed``."""
    if installed is None:
        return CascadeRecord(hidden, phase.epochs, phase.error.mse, phase.error.bit_fail)
    return CascadeRecord(
        hidden=hidden,
        output_epochs=phase.epochs,
        mse=phase.error.mse,
        bit_fail=phase.error.bit_fail,
        activation=installed.activation,
        steepness=installed.steepness,
        candidate_epochs=installed.epochs,
        candidate_score=installed.score,
    )


# Trainer checkpoints rebuild it by name (hidden neurons included), zen export traces it.
register(
    ModelSpec(
        "CascadeCorrelation",
        "network",
        model_class=CascadeCorrelation,
        export_plan=shortcut_plan,
        reference="Fahlman & Lebiere 1990, The Cascade-Correlation Learning Architecture",
    )
)
