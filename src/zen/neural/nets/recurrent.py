"""RecurrentNet: an RNN, GRU or LSTM read over variable-length sequences, pooled to one output.

Padding never changes a result. In eager mode the sequences are packed
(:func:`torch.nn.utils.rnn.pack_padded_sequence`), so each is read over its own steps only.
``torch.export`` cannot trace packing, so when compiling or exporting the network takes an exact
equivalent made of gathers: every layer reads the padded batch (a forward direction never sees
steps after a sequence's end before its last real step), and the backward direction reads each
sequence reversed within its own length, then reversed back. While exporting, each layer and
direction runs as a ``while_loop`` over the steps, so the ONNX graph keeps the length dynamic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from zen.errors import ConfigError, expect_one_of
from zen.neural.export_plan import DEFAULT_BATCH_SIZES, DEFAULT_GRAPH_SIZES, ExportPlan
from zen.neural.nets.candidates import SEQUENCE_TRAINING, sequence_classifier, training_space
from zen.neural.nets.export_plans import sequence_plan
from zen.neural.nets.sequence_checks import check_padding, check_sequence_shape
from zen.neural.nets.sequence_mask import masked_mean, padding_mask
from zen.registry import ModelSpec, register

_CELLS: dict[str, Callable[..., nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
_POOLINGS = ("last", "mean")


class RecurrentNet(nn.Module):
    r"""Recurrent layers over ``(batch, channels, length)`` sequences, pooled, then a linear head.

    The cells are PyTorch's: ``"rnn"`` (Elman, :math:`h_t = \tanh(W_{ih} x_t + W_{hh} h_{t-1}
    + b)`), ``"gru"`` (Cho et al. 2014) and ``"lstm"`` (Hochreiter & Schmidhuber 1997; forget
    gate bias initialised to 1, Jozefowicz et al. 2015). Pooling ``"last"`` takes the state
    after each sequence's last real step (and, bidirectional, the backward state after its
    first step); ``"mean"`` averages the last layer's outputs over the real steps.

    Args:
        in_channels: channels per time step.
        num_outputs: outputs per sequence (classes for classification).
        cell: ``"rnn"``, ``"gru"`` or ``"lstm"``.
        hidden_size: units per direction and layer.
        layers: stacked recurrent layers.
        bidirectional: also read every sequence backwards (outputs are concatenated).
        dropout: dropout probability between recurrent layers and before the head, in [0, 1).
        pooling: ``"last"`` or ``"mean"``.

    Shapes:
        ``x``: ``(batch, in_channels, length)``, NaN in every channel after a sequence's end;
        output: ``(batch, num_outputs)``.

    Example:
        >>> net = RecurrentNet(3, 2, cell="gru", hidden_size=8)
        >>> x = torch.randn(4, 3, 10)
        >>> x[1, :, 6:] = float("nan")  # the second sequence has 6 steps
        >>> net(x).shape
        torch.Size([4, 2])
    """

    #: Tells the Trainer that NaN in ``x`` is padding, not missing data.
    nan_padding = True

    def __init__(
        self,
        in_channels: int,
        num_outputs: int,
        *,
        cell: str = "rnn",
        hidden_size: int = 64,
        layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        pooling: str = "last",
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("num_outputs", num_outputs),
            ("hidden_size", hidden_size),
            ("layers", layers),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
        if cell not in _CELLS:
            raise expect_one_of("cell", cell, list(_CELLS))
        if pooling not in _POOLINGS:
            raise expect_one_of("pooling", pooling, _POOLINGS)
        if not isinstance(bidirectional, bool):
            raise ConfigError(f"bidirectional: expected True or False, got {bidirectional!r}")
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ConfigError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        self.in_channels = in_channels
        self.num_outputs = num_outputs
        self.cell = cell
        self.hidden_size = hidden_size
        self.layers = layers
        self.bidirectional = bidirectional
        self.dropout = float(dropout)
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        # torch applies its dropout between layers only and warns when there is one layer.
        self.rnn = _CELLS[cell](
            in_channels,
            hidden_size,
            num_layers=layers,
            bidirectional=bidirectional,
            dropout=self.dropout if layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(self.dropout)
        self.head = nn.Linear(self.directions * hidden_size, num_outputs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise: torch's defaults, and LSTM forget gates biased to remember."""
        self.rnn.reset_parameters()
        if self.cell == "lstm":
            # Gates are stacked (input, forget, cell, output); the two biases add up.
            with torch.no_grad():
                for name, bias in self.rnn.named_parameters():
                    if name.startswith("bias_"):
                        forget = bias[self.hidden_size : 2 * self.hidden_size]
                        forget.fill_(1.0 if name.startswith("bias_ih") else 0.0)
        self.head.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map NaN-padded sequences ``(batch, in_channels, length)`` to ``(batch, num_outputs)``."""
        return self.head(self.drop(self.encode(x)))

    def encode(self, x: torch.Tensor, *, packed: bool | None = None) -> torch.Tensor:
        """The pooled features the head reads: ``(batch, directions * hidden_size)``.

        Args:
            x: ``(batch, in_channels, length)``, NaN-padded.
            packed: ``True`` reads packed sequences, ``False`` the gather form export traces
                (equal results); ``None`` packs in eager mode only.
        """
        check_sequence_shape(x, self.in_channels)
        x_filled, mask = padding_mask(x)
        check_padding(mask)
        lengths = mask.sum(dim=1)
        steps = x_filled.transpose(1, 2)  # (batch, length, channels), as the cells read them
        if packed is None:
            packed = not torch.compiler.is_compiling()
        outputs = (
            self._read_packed(steps, lengths) if packed else self._read_gathered(steps, lengths)
        )
        if self.pooling == "mean":
            return masked_mean(outputs.transpose(1, 2), mask)
        last = _take_steps(outputs, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        if not self.bidirectional:
            return last
        # The backward direction has read the whole sequence once it reaches the first step.
        return torch.cat([last[:, : self.hidden_size], outputs[:, 0, self.hidden_size :]], -1)

    def _read_packed(self, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Outputs of the last layer, ``(batch, length, directions * hidden)``, zero at padding."""
        packed = pack_padded_sequence(steps, lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, _ = self.rnn(packed)
        unpacked, _ = pad_packed_sequence(outputs, batch_first=True, total_length=steps.shape[1])
        return unpacked

    def _read_gathered(self, steps: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The same outputs at real steps as :meth:`_read_packed` (other steps hold garbage)."""
        reverse = _reversal_index(lengths, steps.shape[1]) if self.bidirectional else None
        for layer in range(self.layers):
            if layer > 0:
                steps = functional.dropout(steps, self.dropout, self.training)
            outputs = [self._read_layer(steps, layer, backward=False)]
            if reverse is not None:
                backward = self._read_layer(_take_steps(steps, reverse), layer, backward=True)
                outputs.append(_take_steps(backward, reverse))  # the reversal is its own inverse
            steps = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
        return steps

    def _read_layer(self, steps: torch.Tensor, layer: int, *, backward: bool) -> torch.Tensor:
        """One direction of one layer over ``steps`` (batch, length, features), from zero state."""
        suffix = f"l{layer}_reverse" if backward else f"l{layer}"
        weights = [
            getattr(self.rnn, f"{kind}_{suffix}")
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        if torch.compiler.is_exporting():
            return _while_loop_layer(self.cell, steps, *weights)
        initial = steps.new_zeros(1, steps.shape[0], self.hidden_size)
        # torch's functional RNNs; the flags are has_biases, num_layers, dropout, train,
        # bidirectional, batch_first (dropout between layers is applied by the caller).
        flags = (True, 1, 0.0, False, False, True)
        if self.cell == "lstm":
            outputs, *_ = torch.lstm(steps, (initial, initial), weights, *flags)
        elif self.cell == "gru":
            outputs, _ = torch.gru(steps, initial, weights, *flags)
        else:
            outputs, _ = torch.rnn_tanh(steps, initial, weights, *flags)
        return outputs

    def config(self) -> dict[str, Any]:
        """A JSON-serialisable description from which :meth:`from_config` rebuilds the network."""
        return {
            "in_channels": self.in_channels,
            "num_outputs": self.num_outputs,
            "cell": self.cell,
            "hidden_size": self.hidden_size,
            "layers": self.layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "pooling": self.pooling,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecurrentNet:
        """Rebuild a network (fresh weights) from :meth:`config` output."""
        config = dict(config)
        return cls(config.pop("in_channels"), config.pop("num_outputs"), **config)

    def extra_repr(self) -> str:
        direction = "bidirectional " if self.bidirectional else ""
        return (
            f"in_channels={self.in_channels}, num_outputs={self.num_outputs},"
            f" {direction}{self.cell} {self.layers}x{self.hidden_size}, pooling={self.pooling}"
        )


def _take_steps(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``values[b, index[b, t]]`` for ``values`` (batch, length, features), index (batch, k)."""
    return values.gather(1, index.unsqueeze(-1).expand(-1, -1, values.shape[-1]))


def _reversal_index(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """``(batch, length)`` step indices reversing each sequence within its own length.

    Step ``t < lengths[b]`` maps to ``lengths[b] - 1 - t``; padding steps stay where they are.
    """
    positions = torch.arange(length, device=lengths.device).unsqueeze(0)
    ends = lengths.unsqueeze(1)
    return torch.where(positions < ends, ends - 1 - positions, positions)


def _step_elman(inputs: torch.Tensor, recurrent: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    return torch.tanh(inputs + recurrent)


def _step_gru(inputs: torch.Tensor, recurrent: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
    # torch's gate order is (reset, update, new); the reset gate scales W_hn h + b_hn.
    input_reset, input_update, input_new = inputs.chunk(3, dim=-1)
    recurrent_reset, recurrent_update, recurrent_new = recurrent.chunk(3, dim=-1)
    reset = torch.sigmoid(input_reset + recurrent_reset)
    update = torch.sigmoid(input_update + recurrent_update)
    new = torch.tanh(input_new + reset * recurrent_new)
    return new + update * (state - new)  # (1 - z) n + z h


def _step_lstm(
    inputs: torch.Tensor, recurrent: torch.Tensor, cell: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    # torch's gate order is (input, forget, cell, output).
    input_gate, forget_gate, candidate, output_gate = (inputs + recurrent).chunk(4, dim=-1)
    cell = torch.sigmoid(forget_gate) * cell + torch.sigmoid(input_gate) * torch.tanh(candidate)
    return torch.sigmoid(output_gate) * torch.tanh(cell), cell


def _while_loop_layer(
    cell: str,
    steps: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
) -> torch.Tensor:
    """One direction of one layer as a ``while_loop``, which exports with a dynamic step count.

    torch decomposes its RNN ops into Python loops, which export unrolls to the example's
    length. Its while-loop forms of LSTM and GRU (``torch.export._patches``) are not applied
    to every call when a network makes several, and there is none for the tanh RNN, so the
    cells are written here with torch's gate layout and weights. Inference only (the loop has
    no autograd).

    Args:
        steps: ``(batch, length, features)``.

    Returns:
        ``(batch, length, hidden)``, from a zero initial state.
    """
    from torch._higher_order_ops.while_loop import while_loop

    # The loop indexes the leading axis; input projections are computed for all steps at once.
    projected = functional.linear(steps, weight_ih, bias_ih).transpose(0, 1)
    count = projected.shape[0]
    # while_loop refuses closure tensors that share storage with each other.
    weight_hh, bias_hh = weight_hh.clone(), bias_hh.clone()

    def more(index: torch.Tensor, outputs: torch.Tensor, *states: torch.Tensor) -> torch.Tensor:
        return index < count

    def step(
        index: torch.Tensor, outputs: torch.Tensor, *states: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        t = cast(int, index.item())  # a symbolic int while tracing: int() would pin it
        torch._check(t >= 0)
        torch._check(t < count)
        recurrent = functional.linear(states[0], weight_hh, bias_hh)
        if cell == "lstm":
            states = _step_lstm(projected[t], recurrent, states[1])
        else:
            step_cell = _step_gru if cell == "gru" else _step_elman
            states = (step_cell(projected[t], recurrent, states[0]),)
        outputs = outputs.clone()
        outputs[t] = states[0]
        return index + 1, outputs, *states

    hidden = weight_hh.shape[1]
    initial = [steps.new_zeros(steps.shape[0], hidden)]
    if cell == "lstm":
        initial.append(steps.new_zeros(steps.shape[0], hidden))  # the cell state
    outputs = steps.new_zeros(count, steps.shape[0], hidden)
    start = torch.zeros((), dtype=torch.int64)
    outputs = while_loop(more, step, (start, outputs, *initial))[1]
    return outputs.transpose(0, 1)


def recurrent_plan(
    model: RecurrentNet,
    batch_sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    graph_sizes: tuple[tuple[int, int], ...] = DEFAULT_GRAPH_SIZES,
) -> ExportPlan:
    """The export plan of a :class:`RecurrentNet`: dynamic batch and length, NaN-padded checks."""
    return sequence_plan(
        model,
        family="recurrent",
        in_channels=model.in_channels,
        num_outputs=model.num_outputs,
        trace_length=9,
        lengths=(2, 9, 40),
        batch_sizes=tuple(batch_sizes),
        metadata=model.config(),
    )


def search_space(trial: Any) -> dict[str, Any]:
    """Optuna space of the recurrent candidate: cell, width, depth, direction, pooling,
    dropout between layers, and the learning rate and batch size.

    >>> from optuna.trial import FixedTrial
    >>> search_space(FixedTrial({"cell": "gru", "hidden_size": 32, "layers": 1,
    ...     "bidirectional": True, "pooling": "mean", "dropout": 0.0, "lr": 1e-3,
    ...     "batch_size": 16}))["cell"]
    'gru'
    """
    return {
        "cell": trial.suggest_categorical("cell", ["lstm", "gru"]),
        "hidden_size": trial.suggest_categorical("hidden_size", [32, 64, 128]),
        "layers": trial.suggest_int("layers", 1, 2),
        "bidirectional": trial.suggest_categorical("bidirectional", [True, False]),
        "pooling": trial.suggest_categorical("pooling", list(_POOLINGS)),
        "dropout": trial.suggest_float("dropout", 0.0, 0.5),
        **training_space(trial),
    }


register(
    ModelSpec(
        "RecurrentNet",
        "network",
        model_class=RecurrentNet,
        export_plan=recurrent_plan,
        reference="Elman 1990; Cho et al. 2014 (GRU); Hochreiter & Schmidhuber 1997 (LSTM)",
    )
)
# zen fit's recurrent candidate: a bidirectional LSTM, behind the convolutional networks on
# the UCR sets (Fawaz et al. 2019 left RNNs out for that reason; Karim et al. 2019 pair one
# with an FCN), and weaker still on long sequences.
register(
    ModelSpec(
        "RecurrentNet",
        "sequence classifier",
        model_class=RecurrentNet,
        prior=1.1,
        rule_factors={"long sequences": 1.10},
        build=sequence_classifier(RecurrentNet, cell="lstm", hidden_size=64, bidirectional=True),
        search_space=search_space,
        training=SEQUENCE_TRAINING,
        export_plan=recurrent_plan,
        reference="Fawaz et al. 2019 (protocol)",
    )
)
