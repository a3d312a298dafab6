"""Interoperability with FANN (Fast Artificial Neural Network Library, Nissen 2003).

For users coming from FANN or ruv-FANN:

* :func:`read_fann_data` / :func:`write_fann_data` handle FANN training files (``.data``): a
  header ``pairs inputs outputs`` followed by one input line and one output line per pair.
* :func:`load_fann_net` turns a floating-point ``.net`` file into a zen network that computes
  the same outputs (activations and steepness included): a layered network
  (``network_type=0``) into an :class:`~zen.neural.MLP`, a shortcut network
  (``network_type=1``, from ``fann_create_shortcut`` or cascade training) into a
  :class:`~zen.neural.CascadeCorrelation` when every hidden layer is one neuron (what cascade
  training grows), else a :class:`~zen.neural.ShortcutMLP`.
* :func:`save_fann_net` writes those networks back as ``.net`` files that FANN can load and run.

Sparse layered networks (``connection_rate < 1``) load with the missing connections as zero
weights. Fixed-point files and ``gaussian_stepwise`` (unimplemented in FANN itself) are
rejected with a :class:`~zen.errors.ConfigError`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.errors import ConfigError, DataError
from zen.neural import activations
from zen.neural.checkpoint import write_atomic
from zen.neural.mlp import MLP
from zen.neural.nets.cascade import CascadeCorrelation
from zen.neural.nets.cascade_settings import CascadeSettings
from zen.neural.nets.shortcut import ShortcutMLP

logger = logging.getLogger(__name__)

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


def load_fann_net(path: str | Path) -> MLP | ShortcutMLP:
    """Build a zen network from a FANN ``.net`` file; its outputs match ``fann_run``.

    A layered network becomes an :class:`MLP`: FANN stores one bias neuron at the end of every
    layer, which becomes the ``bias`` of the following linear layer. A shortcut network
    becomes a :class:`CascadeCorrelation` when every hidden layer holds one neuron of an
    activation FANN can train (its cascade settings read from the file, so ``fit`` trains as
    FANN would), otherwise a :class:`ShortcutMLP`; FANN's one bias neuron, the last of the
    input layer, becomes the ``bias`` of every layer. Every neuron of a layer must share its
    activation and steepness (true for networks FANN creates), since zen's networks have one
    activation per layer.
    """
    path = Path(path)
    fields = _parse_net(path)
    missing = [key for key in ("layer_sizes", "network_type") if key not in fields]
    neuron_key = next((key for key in fields if key.startswith("neurons")), None)
    connection_key = next((key for key in fields if key.startswith("connections")), None)
    if missing or neuron_key is None or connection_key is None:
        raise DataError(f"{path}: incomplete FANN network (missing {missing or 'neurons'})")
    network_type = _integers(fields, "network_type", path)
    if network_type == [1]:
        return _load_shortcut(path, fields, fields[neuron_key], fields[connection_key])
    if network_type != [0]:
        raise DataError(
            f"{path}: network_type must be 0 (layered) or 1 (shortcut), got"
            f" {fields['network_type']!r}"
        )

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


def _load_shortcut(
    path: Path, fields: dict[str, str], neuron_text: str, link_text: str
) -> ShortcutMLP:
    """A shortcut ``.net`` network: every neuron reads every neuron of the earlier layers,
    FANN index by index (the inputs, the bias neuron, then the hidden neurons)."""
    # Only the input layer counts a bias neuron; shortcut layers after it have none.
    sizes = _integers(fields, "layer_sizes", path)
    if len(sizes) < 2 or sizes[0] < 2 or min(sizes[1:]) < 1:
        raise DataError(f"{path}: layer_sizes must describe at least two non-empty layers")
    neurons = _tuples(neuron_text, 3, "neuron", path)
    connections = _tuples(link_text, 2, "connection", path)
    if len(neurons) != sum(sizes):
        raise DataError(f"{path}: layer_sizes add up to {sum(sizes)} neurons, found {len(neurons)}")
    bias_index = sizes[0] - 1
    layer_starts = np.cumsum([0, *sizes])
    rows_of_layers, specs = [], []
    cursor = 0
    for layer in range(1, len(sizes)):
        start = int(layer_starts[layer])
        layer_neurons = neurons[start : start + sizes[layer]]
        rows = np.zeros((sizes[layer], start), dtype=np.float64)
        for row, (num_inputs, _, _) in enumerate(layer_neurons):
            links = connections[cursor : cursor + int(num_inputs)]
            # fann_run reads a shortcut neuron's weights position by position: the file must
            # list all earlier neurons in order, as FANN writes them.
            if [int(target) for target, _ in links] != list(range(start)):
                raise ConfigError(
                    f"{path}: neuron {start + row} must connect to neurons 0..{start - 1} in"
                    " order, as in FANN's shortcut networks; sparse shortcut networks are not"
                    " supported"
                )
            rows[row] = [weight for _, weight in links]
            cursor += int(num_inputs)
        specs.append(_layer_activation(layer_neurons, layer, path))
        rows_of_layers.append(rows)
    if cursor != len(connections):
        raise DataError(f"{path}: {len(connections) - cursor} connections belong to no neuron")

    net: ShortcutMLP
    num_inputs, hidden_sizes = bias_index, sizes[1:-1]
    if all(size == 1 for size in hidden_sizes) and all(_trainable(spec) for spec in specs):
        hidden = [{"name": spec["name"], "steepness": spec["steepness"]} for spec in specs[:-1]]
        settings = _cascade_settings(fields, specs[-1], path)
        net = CascadeCorrelation(num_inputs, sizes[-1], hidden=hidden, **settings)
    else:
        net = ShortcutMLP(
            [num_inputs, *sizes[1:]], activation=specs[:-1], output_activation=specs[-1]
        )
    with torch.no_grad():
        for linear, rows in zip(net.linear_layers, rows_of_layers, strict=True):
            linear.weight.copy_(torch.from_numpy(np.delete(rows, bias_index, axis=1)))
            linear.bias.copy_(torch.from_numpy(rows[:, bias_index]))
    return net


def _trainable(spec: Mapping[str, Any]) -> bool:
    return activations.is_trainable(activations.get(spec["name"]))


#: FANN's codes of ``training_algorithm``, ``train_error_function`` and ``train_stop_function``.
_TRAINING_CODES = {2: "rprop", 3: "quickprop", 4: "sarprop"}
_ERROR_FUNCTION_CODES = ("linear", "tanh")
_STOP_FUNCTION_CODES = ("mse", "bit")
#: Header fields that are CascadeSettings of the same name, with their types.
_NUMBER_FIELDS = {
    "learning_rate": float,
    "bit_fail_limit": float,
    "quickprop_decay": float,
    "quickprop_mu": float,
    "rprop_increase_factor": float,
    "rprop_decrease_factor": float,
    "rprop_delta_min": float,
    "rprop_delta_max": float,
    "rprop_delta_zero": float,
    "cascade_output_change_fraction": float,
    "cascade_output_stagnation_epochs": int,
    "cascade_candidate_change_fraction": float,
    "cascade_candidate_stagnation_epochs": int,
    "cascade_max_out_epochs": int,
    "cascade_min_out_epochs": int,
    "cascade_max_cand_epochs": int,
    "cascade_min_cand_epochs": int,
    "cascade_num_candidate_groups": int,
    "cascade_candidate_limit": float,
    "cascade_weight_multiplier": float,
}


def _cascade_settings(
    fields: Mapping[str, str], output: Mapping[str, Any], path: Path
) -> dict[str, Any]:
    """The :class:`CascadeSettings` a ``.net`` header records (fields it lacks keep zen's
    defaults, which are FANN's)."""
    settings: dict[str, Any] = {
        "output_activation": output["name"],
        "output_steepness": output["steepness"],
    }
    try:
        for key, kind in _NUMBER_FIELDS.items():
            if key in fields:
                settings[key] = kind(fields[key])
        if "training_algorithm" in fields:
            code = int(fields["training_algorithm"])
            if code in _TRAINING_CODES:
                settings["training_algorithm"] = _TRAINING_CODES[code]
            else:
                logger.info(
                    "%s: training_algorithm %d (incremental or batch) cannot train cascades;"
                    " fit() uses rprop, FANN's default",
                    path,
                    code,
                )
        for key, names in (
            ("train_error_function", _ERROR_FUNCTION_CODES),
            ("train_stop_function", _STOP_FUNCTION_CODES),
        ):
            if key in fields:
                settings[key] = names[int(fields[key])]
        if "cascade_activation_functions" in fields:
            codes = [int(code) for code in fields["cascade_activation_functions"].split()]
            settings["cascade_activation_functions"] = [FANN_ACTIVATIONS[c] for c in codes]
        if "cascade_activation_steepnesses" in fields:
            values = fields["cascade_activation_steepnesses"].split()
            settings["cascade_activation_steepnesses"] = [float(value) for value in values]
    except (ValueError, IndexError) as error:
        raise DataError(f"{path}: malformed cascade settings in the header ({error})") from None
    return settings


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


def save_fann_net(net: MLP | ShortcutMLP, path: str | Path) -> None:
    """Write ``net`` as a FANN 2.2 float ``.net`` file (atomically) that ``fann_create_from_file``
    loads: an :class:`MLP` as a layered network, a :class:`ShortcutMLP` (a
    :class:`CascadeCorrelation` too, with its cascade settings in the header) as a shortcut
    network. Every activation must be one FANN has (see :data:`FANN_ACTIVATIONS`); batch/layer
    normalisation has no FANN counterpart and is refused.

    FANN clamps each scaled sum to +-150/steepness; a network whose sums go beyond that (rare
    outside unscaled linear outputs) computes clamped values in FANN. :func:`load_fann_net`
    reproduces the clamp, so a save/load round trip matches FANN exactly.
    """
    if isinstance(net, ShortcutMLP):
        _save_shortcut(net, path)
        return
    if net.norm is not None:
        raise ConfigError("save_fann_net: FANN has no normalisation layers; use norm=None")
    codes = _activation_codes(net.activations)
    sizes = net.layer_sizes
    with_bias = [size + 1 for size in sizes]
    neuron_entries = [(0, 0, 0.0)] * with_bias[0]
    connection_entries: list[tuple[int, float]] = []
    first_index = 0
    for layer, (linear, (code, steepness)) in enumerate(zip(net.linear_layers, codes, strict=True)):
        weight, bias = _weights_and_bias(linear)
        fan_in = sizes[layer]
        for row in range(weight.shape[0]):
            neuron_entries.append((fan_in + 1, code, steepness))
            connection_entries.extend(
                (first_index + column, weight[row, column]) for column in range(fan_in)
            )
            connection_entries.append((first_index + fan_in, bias[row]))
        neuron_entries.append((0, code, 0.0))  # this layer's bias neuron
        first_index += with_bias[layer]
    header = _fann_header(with_bias, network_type=0, settings=CascadeSettings())
    _write_net(path, header, neuron_entries, connection_entries)


def _save_shortcut(net: ShortcutMLP, path: str | Path) -> None:
    """A shortcut network: FANN's one bias neuron ends the input layer; each later neuron reads
    every earlier neuron in FANN's order (inputs, bias, earlier layers)."""
    codes = _activation_codes(net.activations)
    sizes = net.layer_sizes
    num_inputs = sizes[0]
    fann_sizes = [num_inputs + 1, *sizes[1:]]
    neuron_entries = [(0, 0, 0.0)] * fann_sizes[0]
    connection_entries: list[tuple[int, float]] = []
    for linear, (code, steepness) in zip(net.linear_layers, codes, strict=True):
        weight, bias = _weights_and_bias(linear)
        # FANN's order of the earlier neurons: inputs, then the bias neuron, then hidden ones.
        rows = np.concatenate([weight[:, :num_inputs], bias[:, None], weight[:, num_inputs:]], 1)
        for row in rows:
            neuron_entries.append((len(row), code, steepness))
            connection_entries.extend(enumerate(row.tolist()))
    settings = net.settings if isinstance(net, CascadeCorrelation) else CascadeSettings()
    header = _fann_header(fann_sizes, network_type=1, settings=settings)
    _write_net(path, header, neuron_entries, connection_entries)


def _activation_codes(modules: Iterable[torch.nn.Module]) -> list[tuple[int, float]]:
    """FANN's ``(activation code, steepness)`` of each layer's activation module."""
    codes = []
    for layer, module in enumerate(modules, start=1):
        name = activations.name_of(module)
        if name not in FANN_ACTIVATIONS:
            raise ConfigError(
                f"save_fann_net: layer {layer} uses {name!r}, which FANN does not have; use one"
                f" of {[n for n in FANN_ACTIVATIONS if n]}"
            )
        steepness = module.steepness if isinstance(module, activations.SteepActivation) else 1.0
        codes.append((FANN_ACTIVATIONS.index(name), steepness))
    return codes


def _weights_and_bias(linear: torch.nn.Linear) -> tuple[np.ndarray, np.ndarray]:
    weight = linear.weight.detach().double().cpu().numpy()
    if linear.bias is None:
        return weight, np.zeros(weight.shape[0])
    return weight, linear.bias.detach().double().cpu().numpy()


def _write_net(
    path: str | Path,
    header: str,
    neuron_entries: list[tuple[int, int, float]],
    connection_entries: list[tuple[int, float]],
) -> None:
    def write(temporary: Path) -> None:
        neurons = " ".join(f"({n}, {code}, {s:.20e})" for n, code, s in neuron_entries)
        links = " ".join(f"({target}, {weight:.20e})" for target, weight in connection_entries)
        temporary.write_text(
            f"{header}neurons (num_inputs, activation_function, activation_steepness)={neurons} \n"
            f"connections (connected_to_neuron, weight)={links} \n",
            encoding="utf-8",
        )

    write_atomic(path, write)


def _fann_header(layer_sizes: Sequence[int], network_type: int, settings: CascadeSettings) -> str:
    """The header ``fann_create_from_file`` expects, every key in FANN 2.2's order, with the
    training settings of ``settings`` (FANN's defaults for networks that have none)."""
    training = {name: code for code, name in _TRAINING_CODES.items()}
    functions = [FANN_ACTIVATIONS.index(name) for name in settings.cascade_activation_functions]
    steepnesses = settings.cascade_activation_steepnesses
    lines = [
        "FANN_FLO_2.1",
        f"num_layers={len(layer_sizes)}",
        f"learning_rate={settings.learning_rate:f}",
        "connection_rate=1.000000",
        f"network_type={network_type}",
        "learning_momentum=0.000000",
        f"training_algorithm={training[settings.training_algorithm]}",
        f"train_error_function={_ERROR_FUNCTION_CODES.index(settings.train_error_function)}",
        f"train_stop_function={_STOP_FUNCTION_CODES.index(settings.train_stop_function)}",
        f"cascade_output_change_fraction={settings.cascade_output_change_fraction:f}",
        f"quickprop_decay={settings.quickprop_decay:f}",
        f"quickprop_mu={settings.quickprop_mu:f}",
        f"rprop_increase_factor={settings.rprop_increase_factor:f}",
        f"rprop_decrease_factor={settings.rprop_decrease_factor:f}",
        f"rprop_delta_min={settings.rprop_delta_min:f}",
        f"rprop_delta_max={settings.rprop_delta_max:f}",
        f"rprop_delta_zero={settings.rprop_delta_zero:f}",
        f"cascade_output_stagnation_epochs={settings.cascade_output_stagnation_epochs}",
        f"cascade_candidate_change_fraction={settings.cascade_candidate_change_fraction:f}",
        f"cascade_candidate_stagnation_epochs={settings.cascade_candidate_stagnation_epochs}",
        f"cascade_max_out_epochs={settings.cascade_max_out_epochs}",
        f"cascade_min_out_epochs={settings.cascade_min_out_epochs}",
        f"cascade_max_cand_epochs={settings.cascade_max_cand_epochs}",
        f"cascade_min_cand_epochs={settings.cascade_min_cand_epochs}",
        f"cascade_num_candidate_groups={settings.cascade_num_candidate_groups}",
        f"bit_fail_limit={settings.bit_fail_limit:.20e}",
        f"cascade_candidate_limit={settings.cascade_candidate_limit:.20e}",
        f"cascade_weight_multiplier={settings.cascade_weight_multiplier:.20e}",
        f"cascade_activation_functions_count={len(functions)}",
        "cascade_activation_functions=" + " ".join(str(code) for code in functions),
        f"cascade_activation_steepnesses_count={len(steepnesses)}",
        "cascade_activation_steepnesses=" + " ".join(f"{value:.20e}" for value in steepnesses),
        "layer_sizes=" + " ".join(str(size) for size in layer_sizes),
        "scale_included=0",
    ]
    return "\n".join(lines) + "\n"
