"""Interoperability with FANN (Fast Artificial Neural Network Library, Nissen 2003).

For users coming from FANN or ruv-FANN:

* :func:`read_fann_data` / :func:`write_fann_data` handle FANN training files (``.data``): a
  header ``pairs inputs outputs`` followed by one input line and one output line per pair.
* :func:`load_fann_net` turns a floating-point ``.net`` file of a layered network into an
  :class:`~zen.neural.MLP` that computes the same outputs (activations and steepness included).
* :func:`save_fann_net` writes an MLP back as a ``.net`` file that FANN can load and run.

Sparse layered networks (``connection_rate < 1``) load with the missing connections as zero
weights. Shortcut networks, fixed-point files and ``gaussian_stepwise`` (unimplemented in FANN
itself) are rejected with a :class:`~zen.errors.ConfigError`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from zen.errors import ConfigError, DataError
from zen.neural import activations
from zen.neural.checkpoint import write_atomic
from zen.neural.mlp import MLP

#: FANN's ``enum fann_activationfunc_enum`` (fann_data.h, FANN 2.2) in order.
FANN_ACTIVATIONS: tuple[str | None, ...] = (
    "linear",
    "threshold",
    "threshold_symmetric",
    "sigmoid",
    "sigmoid_stepwise",
    "sigmoid_symmetric",
    "sigmoid_symmetric_stepwise",
    "gaussian",
    "gaussian_symmetric",
    None,  # gaussian_stepwise: declared but never implemented by FANN
    "elliot",
    "elliot_symmetric",
    "linear_piece",
    "linear_piece_symmetric",
    "sin_symmetric",
    "cos_symmetric",
    "sin",
    "cos",
)


# ---------------------------------------------------------------------------- training data
def read_fann_data(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a FANN ``.data`` training file into ``(X, y)`` float32 arrays.

    Values may be split over lines freely (FANN reads them with ``fscanf``); only the count
    matters. Raises :class:`DataError` naming the file and what is wrong.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: FANN data file not found")
    tokens = path.read_text(encoding="utf-8", errors="replace").split()
    if len(tokens) < 3:
        raise DataError(f"{path}: expected a header 'pairs inputs outputs', got {tokens!r}")
    try:
        pairs, inputs, outputs = (int(token) for token in tokens[:3])
    except ValueError:
        raise DataError(
            f"{path}: header must be three integers 'pairs inputs outputs', got {tokens[:3]}"
        ) from None
    if pairs < 1 or inputs < 1 or outputs < 1:
        raise DataError(f"{path}: header values must be positive, got {pairs} {inputs} {outputs}")
    expected = pairs * (inputs + outputs)
    body = tokens[3:]
    if len(body) != expected:
        raise DataError(
            f"{path}: header promises {pairs} pairs of {inputs} inputs and {outputs} outputs"
            f" ({expected} numbers) but the file has {len(body)}"
        )
    try:
        values = np.asarray(body, dtype=np.float64).reshape(pairs, inputs + outputs)
    except ValueError as error:
        raise DataError(f"{path}: non-numeric value in the data ({error})") from None
    if not np.isfinite(values).all():
        raise DataError(f"{path}: contains NaN or infinite values")
    return values[:, :inputs].astype(np.float32), values[:, inputs:].astype(np.float32)


def write_fann_data(path: str | Path, X: np.ndarray, y: np.ndarray) -> None:
    """Write ``(X, y)`` as a FANN ``.data`` file (atomically). ``y`` may be 1-D."""
    features = np.asarray(X, dtype=np.float64)
    targets = np.asarray(y, dtype=np.float64)
    if features.ndim == 1:
        features = features[:, None]
    if targets.ndim == 1:
        targets = targets[:, None]
    if features.ndim != 2 or targets.ndim != 2:
        raise DataError(f"X, y: expected 2-D arrays, got shapes {features.shape}, {targets.shape}")
    if len(features) != len(targets) or len(features) == 0:
        raise DataError(
            f"X and y: need the same, non-zero number of rows, got {len(features)}"
            f" and {len(targets)}"
        )
    if features.shape[1] == 0 or targets.shape[1] == 0:
        raise DataError(
            f"X, y: need at least one column each (FANN has no zero-size layers), got shapes"
            f" {features.shape}, {targets.shape}"
        )
    if not (np.isfinite(features).all() and np.isfinite(targets).all()):
        raise DataError("X, y: contain NaN or infinite values, which FANN cannot read")

    def write(temporary: Path) -> None:
        with temporary.open("w", encoding="utf-8") as handle:
            handle.write(f"{len(features)} {features.shape[1]} {targets.shape[1]}\n")
            for row_in, row_out in zip(features, targets, strict=True):
                handle.write(" ".join(f"{value:.9g}" for value in row_in) + "\n")
                handle.write(" ".join(f"{value:.9g}" for value in row_out) + "\n")

    write_atomic(path, write)


# ---------------------------------------------------------------------------- networks
_FANN_SUM_LIMIT = 150.0
_TUPLE = re.compile(r"\(([^)]*)\)")


def _parse_net(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise DataError(f"{path}: FANN network file not found")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if not lines:
        raise DataError(f"{path}: empty file, expected a FANN .net network")
    header = lines[0].strip()
    if header.startswith("FANN_FIX"):
        raise ConfigError(f"{path}: fixed-point FANN networks are not supported; save as float")
    if not header.startswith("FANN_FLO"):
        raise DataError(f"{path}: not a FANN network file (first line {header!r})")
    fields = {"version": header}
    for line in lines[1:]:
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
    return fields


def _tuples(text: str, width: int, what: str, path: Path) -> list[tuple[float, ...]]:
    rows = []
    for match in _TUPLE.findall(text):
        parts = match.split(",")
        try:
            if len(parts) != width:
                raise ValueError
            rows.append(tuple(float(part) for part in parts))
        except ValueError:
            raise DataError(f"{path}: malformed {what} entry ({match})") from None
    return rows


def _integers(fields: dict[str, str], key: str, path: Path) -> list[int]:
    try:
        return [int(value) for value in fields[key].split()]
    except ValueError:
        raise DataError(f"{path}: {key} must be integers, got {fields[key]!r}") from None


def load_fann_net(path: str | Path) -> MLP:
    """Build an :class:`MLP` from a FANN ``.net`` file; its outputs match ``fann_run``.

    FANN stores one bias neuron at the end of every layer; it becomes the ``bias`` of the
    following linear layer. Every neuron of a layer must share its activation and steepness
    (true for networks made by ``fann_create_standard``/``_sparse``), since an MLP has one
    activation per layer.
    """
    path = Path(path)
    fields = _parse_net(path)
    missing = [key for key in ("layer_sizes", "network_type") if key not in fields]
    neuron_key = next((key for key in fields if key.startswith("neurons")), None)
    connection_key = next((key for key in fields if key.startswith("connections")), None)
    if missing or neuron_key is None or connection_key is None:
        raise DataError(f"{path}: incomplete FANN network (missing {missing or 'neurons'})")
    if _integers(fields, "network_type", path) != [0]:
        raise ConfigError(f"{path}: shortcut networks (network_type=1) have no MLP equivalent")

    # FANN's layer sizes count one bias neuron per layer, the output layer's (unused) included.
    sizes_with_bias = _integers(fields, "layer_sizes", path)
    sizes = [size - 1 for size in sizes_with_bias]
    if len(sizes) < 2 or min(sizes) < 1:
        raise DataError(f"{path}: layer_sizes must describe at least two non-empty layers")
    neurons = _tuples(fields[neuron_key], 3, "neuron", path)
    connections = _tuples(fields[connection_key], 2, "connection", path)
    if len(neurons) != sum(sizes_with_bias):
        raise DataError(
            f"{path}: layer_sizes add up to {sum(sizes_with_bias)} neurons, found {len(neurons)}"
        )

    layer_starts = np.cumsum([0, *sizes_with_bias])
    weights, biases, specs = [], [], []
    cursor = 0
    for layer in range(1, len(sizes_with_bias)):
        previous_start = layer_starts[layer - 1]
        previous_size = sizes[layer - 1]
        bias_index = previous_start + previous_size
        start = layer_starts[layer]
        # The last layer's trailing bias neuron feeds nothing; only real neurons have inputs.
        layer_neurons = neurons[start : start + sizes[layer]]
        weight = np.zeros((sizes[layer], previous_size), dtype=np.float64)
        bias = np.zeros(sizes[layer], dtype=np.float64)
        for row, (num_inputs, _, _) in enumerate(layer_neurons):
            for target, value in connections[cursor : cursor + int(num_inputs)]:
                column = int(target) - previous_start
                if int(target) == bias_index:
                    bias[row] = value
                elif 0 <= column < previous_size:
                    weight[row, column] = value
                else:
                    raise ConfigError(
                        f"{path}: neuron {start + row} connects to neuron {int(target)} outside"
                        " the previous layer (a shortcut connection); not an MLP"
                    )
            cursor += int(num_inputs)
        specs.append(_layer_activation(layer_neurons, layer, path))
        weights.append(weight)
        biases.append(bias)
    if cursor != len(connections):
        raise DataError(f"{path}: {len(connections) - cursor} connections belong to no neuron")

    net = MLP(sizes, activation=specs[:-1], output_activation=specs[-1])
    with torch.no_grad():
        for linear, weight, bias in zip(net.linear_layers, weights, biases, strict=True):
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
    return net


def _layer_activation(neurons: list[tuple[float, ...]], layer: int, path: Path) -> dict:
    kinds = {(int(function), float(steepness)) for _, function, steepness in neurons}
    if len(kinds) != 1:
        raise ConfigError(
            f"{path}: layer {layer} mixes activations/steepness {sorted(kinds)};"
            " an MLP has one activation per layer"
        )
    function, steepness = kinds.pop()
    name = FANN_ACTIVATIONS[function] if 0 <= function < len(FANN_ACTIVATIONS) else None
    if name is None:
        raise ConfigError(f"{path}: layer {layer} uses FANN activation {function}, unsupported")
    # fann_run clamps steepness * sum to +-150 / steepness (FANN 2.2, fann.c); so do we.
    limit = _FANN_SUM_LIMIT / steepness if steepness > 0 else None
    return {"name": name, "steepness": steepness, "sum_limit": limit}


def save_fann_net(net: MLP, path: str | Path) -> None:
    """Write ``net`` as a FANN 2.2 float ``.net`` file (atomically) that ``fann_create_from_file``
    loads. Every activation must be one FANN has (see :data:`FANN_ACTIVATIONS`); batch/layer
    normalisation has no FANN counterpart and is refused.

    FANN clamps each scaled sum to +-150/steepness; a network whose sums go beyond that (rare
    outside unscaled linear outputs) computes clamped values in FANN. :func:`load_fann_net`
    reproduces the clamp, so a save/load round trip matches FANN exactly.
    """
    if net.norm is not None:
        raise ConfigError("save_fann_net: FANN has no normalisation layers; use norm=None")
    codes = []
    for layer, module in enumerate(net.activations, start=1):
        name = activations.name_of(module)
        if name not in FANN_ACTIVATIONS:
            raise ConfigError(
                f"save_fann_net: layer {layer} uses {name!r}, which FANN does not have; use one"
                f" of {[n for n in FANN_ACTIVATIONS if n]}"
            )
        steepness = module.steepness if isinstance(module, activations.SteepActivation) else 1.0
        codes.append((FANN_ACTIVATIONS.index(name), steepness))

    sizes = net.layer_sizes
    with_bias = [size + 1 for size in sizes]
    neuron_entries = [(0, 0, 0.0)] * with_bias[0]
    connection_entries: list[tuple[int, float]] = []
    first_index = 0
    for layer, (linear, (code, steepness)) in enumerate(zip(net.linear_layers, codes, strict=True)):
        weight = linear.weight.detach().double().numpy()
        bias = (
            linear.bias.detach().double().numpy()
            if linear.bias is not None
            else np.zeros(weight.shape[0])
        )
        fan_in = sizes[layer]
        for row in range(weight.shape[0]):
            neuron_entries.append((fan_in + 1, code, steepness))
            connection_entries.extend(
                (first_index + column, weight[row, column]) for column in range(fan_in)
            )
            connection_entries.append((first_index + fan_in, bias[row]))
        neuron_entries.append((0, code, 0.0))  # this layer's bias neuron
        first_index += with_bias[layer]

    def write(temporary: Path) -> None:
        header = _FANN_HEADER.format(
            num_layers=len(sizes), layer_sizes=" ".join(str(size) for size in with_bias)
        )
        neurons = " ".join(f"({n}, {code}, {s:.20e})" for n, code, s in neuron_entries)
        links = " ".join(f"({target}, {weight:.20e})" for target, weight in connection_entries)
        temporary.write_text(
            f"{header}neurons (num_inputs, activation_function, activation_steepness)={neurons} \n"
            f"connections (connected_to_neuron, weight)={links} \n",
            encoding="utf-8",
        )

    write_atomic(path, write)


# FANN's own defaults (fann_create_standard, FANN 2.2); fann_create_from_file expects every key.
_FANN_HEADER = """FANN_FLO_2.1
num_layers={num_layers}
learning_rate=0.700000
connection_rate=1.000000
network_type=0
learning_momentum=0.000000
training_algorithm=2
train_error_function=1
train_stop_function=0
cascade_output_change_fraction=0.010000
quickprop_decay=-0.000100
quickprop_mu=1.750000
rprop_increase_factor=1.200000
rprop_decrease_factor=0.500000
rprop_delta_min=0.000000
rprop_delta_max=50.000000
rprop_delta_zero=0.100000
cascade_output_stagnation_epochs=12
cascade_candidate_change_fraction=0.010000
cascade_candidate_stagnation_epochs=12
cascade_max_out_epochs=150
cascade_min_out_epochs=50
cascade_max_cand_epochs=150
cascade_min_cand_epochs=50
cascade_num_candidate_groups=2
bit_fail_limit=3.49999999999999977796e-01
cascade_candidate_limit=1.00000000000000000000e+03
cascade_weight_multiplier=4.00000000000000022204e-01
cascade_activation_functions_count=10
cascade_activation_functions=3 5 7 8 10 11 14 15 16 17
cascade_activation_steepnesses_count=4
cascade_activation_steepnesses=2.50000000000000000000e-01 5.00000000000000000000e-01 \
7.50000000000000000000e-01 1.00000000000000000000e+00
layer_sizes={layer_sizes}
scale_included=0
"""
