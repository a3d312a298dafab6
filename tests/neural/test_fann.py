"""FANN interoperability: .data files, and .net files checked against FANN itself.

The network tests run FANN through Debian's ``python3-fann2`` bindings, which exist for the
system interpreter only, so FANN runs in a ``/usr/bin/python3`` subprocess that talks JSON. They
skip when that interpreter or the bindings are missing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from zen import ConfigError, DataError
from zen.neural import MLP, activations
from zen.neural.fann import load_fann_net, read_fann_data, save_fann_net, write_fann_data

# ---------------------------------------------------------------------------- .data files

float32_values = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def training_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    pairs = draw(st.integers(1, 6))
    X = draw(arrays(np.float32, (pairs, draw(st.integers(1, 5))), elements=float32_values))
    y = draw(arrays(np.float32, (pairs, draw(st.integers(1, 3))), elements=float32_values))
    return X, y


@settings(max_examples=60, deadline=None)
@given(training_sets())
def test_write_then_read_fann_data_gives_the_same_float32_values(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    X, y = data
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "train.data"
        write_fann_data(path, X, y)
        X_read, y_read = read_fann_data(path)
    assert X_read.dtype == np.float32 and y_read.dtype == np.float32
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_write_fann_data_writes_fann_layout_and_accepts_1d_targets(tmp_path: Path) -> None:
    path = tmp_path / "xor.data"
    write_fann_data(path, np.array([[0, 1], [1, 1]]), np.array([1, 0]))
    assert path.read_text().split("\n") == ["2 2 1", "0 1", "1", "1 1", "0", ""]


@settings(max_examples=40, deadline=None)
@given(training_sets(), st.data())
def test_read_fann_data_ignores_how_values_are_spread_over_lines(
    data: tuple[np.ndarray, np.ndarray], draw: st.DataObject
) -> None:
    # FANN reads the numbers with fscanf, so any whitespace may separate any two of them.
    X, y = data
    tokens = [f"{len(X)} {X.shape[1]} {y.shape[1]}"]
    for row_in, row_out in zip(X, y, strict=True):
        tokens += [repr(float(value)) for value in (*row_in, *row_out)]
    separators = st.sampled_from([" ", "\n", "\t", "\n\n", "  \r\n "])
    text = "".join(token + draw.draw(separators) for token in tokens)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "spread.data"
        path.write_text(text, encoding="utf-8")
        X_read, y_read = read_fann_data(path)
    np.testing.assert_array_equal(X_read, X)
    np.testing.assert_array_equal(y_read, y)


def test_read_fann_data_accepts_values_spread_over_lines_arbitrarily(tmp_path: Path) -> None:
    path = tmp_path / "spread.data"
    path.write_text("2\n3 1   -0.5\n0.25\n\n1e-3 7\t\n 8 9\n1.5e2 -4", encoding="utf-8")
    X, y = read_fann_data(path)
    np.testing.assert_array_equal(X, np.float32([[-0.5, 0.25, 1e-3], [8, 9, 150]]))
    np.testing.assert_array_equal(y, np.float32([[7], [-4]]))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "expected a header"),
        ("two 3 1\n1 2 3 4\n", "header must be three integers"),
        ("0 3 1\n", "header values must be positive"),
        ("2 2 1\n1 2 3\n4 5\n", r"promises 2 pairs .* \(6 numbers\) but the file has 5"),
        ("1 2 1\n0.5 abc\n1\n", "non-numeric value"),
        ("1 1 1\nnan 1\n", "NaN or infinite"),
    ],
    ids=["missing", "empty", "bad-header", "zero-pairs", "wrong-count", "non-numeric", "nan"],
)
def test_read_fann_data_rejects_bad_files_with_a_data_error(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "bad.data"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message) as error:
        read_fann_data(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize(("x_shape", "y_shape"), [((3, 0), (3,)), ((3, 2), (3, 0))])
def test_write_fann_data_rejects_arrays_without_columns(
    tmp_path: Path, x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> None:
    with pytest.raises(DataError, match="at least one column"):
        write_fann_data(tmp_path / "empty.data", np.ones(x_shape), np.ones(y_shape))
    assert os.listdir(tmp_path) == []


def test_write_fann_data_leaves_no_temporary_files(tmp_path: Path) -> None:
    write_fann_data(tmp_path / "train.data", np.ones((3, 2)), np.zeros(3))
    write_fann_data(tmp_path / "train.data", np.ones((4, 2)), np.zeros(4))  # replaces
    assert os.listdir(tmp_path) == ["train.data"]
    assert read_fann_data(tmp_path / "train.data")[0].shape == (4, 2)


def test_write_fann_data_refuses_nan_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "train.data"
    write_fann_data(path, np.ones((2, 2)), np.zeros(2))
    original = path.read_bytes()
    with pytest.raises(DataError, match="NaN or infinite"):
        write_fann_data(path, np.array([[1.0, np.nan]]), np.zeros(1))
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["train.data"]


def test_write_fann_data_failing_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    # A file size limit makes the operating system refuse the write part-way, as a full disk
    # would; the temporary file must go and the old file must stay as it was.
    resource = pytest.importorskip("resource", reason="file size limits need a POSIX system")
    path = tmp_path / "train.data"
    write_fann_data(path, np.ones((2, 2)), np.zeros(2))
    original = path.read_bytes()
    X = np.random.default_rng(0).normal(size=(2000, 10))
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, hard))
    try:
        with pytest.raises(OSError):
            write_fann_data(path, X, np.zeros(len(X)))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert path.read_bytes() == original
    assert os.listdir(tmp_path) == ["train.data"]


# ---------------------------------------------------------------------------- FANN itself

FANN_PYTHON = Path("/usr/bin/python3")

# Runs under /usr/bin/python3 with fann2. Reads a request on stdin:
#   {"create": [case, ...]}: build each network with FANN, save it, run the inputs through it;
#   {"load": [{"id", "path", "inputs"}, ...]}: load each .net file with FANN and run it;
#   {"data": [path, ...]}: read each .data file with FANN.
# and prints {id or path: outputs or [inputs, outputs]} as JSON.
FANN_SCRIPT = r"""
import ctypes, json, sys
from fann2 import libfann

# fann2 1.2 has no names for FANN_SIN and FANN_COS; these are their values in fann_data.h.
MISSING_CODES = {"SIN": 16, "COS": 17}


def code(name):
    key = name.upper()
    return getattr(libfann, key) if hasattr(libfann, key) else MISSING_CODES[key]


libc = ctypes.CDLL(None)
request = json.load(sys.stdin)
results = {}
for case in request.get("create", []):
    net = libfann.neural_net()
    if case["kind"] == "sparse":
        net.create_sparse_array(case["connection_rate"], case["layers"])
    elif case["kind"] == "shortcut":
        net.create_shortcut_array(case["layers"])
    else:
        net.create_standard_array(case["layers"])
    net.set_activation_function_hidden(code(case["hidden"]))
    net.set_activation_steepness_hidden(case["hidden_steepness"])
    net.set_activation_function_output(code(case["output"]))
    net.set_activation_steepness_output(case["output_steepness"])
    # fann_create_* seeds rand() from /dev/urandom; reseeding makes the weights repeatable
    # (not the connections of a sparse network, which are drawn during creation).
    libc.srand(case["seed"])
    net.randomize_weights(-1.0, 1.0)
    if case["kind"] == "fixed":
        net.save_to_fixed(case["path"])  # returns the position of the decimal point
    elif not net.save(case["path"]):
        sys.exit("FANN could not save " + case["path"])
    results[case["id"]] = [net.run(row) for row in case["inputs"]]
for case in request.get("load", []):
    net = libfann.neural_net()
    if not net.create_from_file(case["path"]):
        sys.exit("FANN could not load " + case["path"])
    results[case["id"]] = [net.run(row) for row in case["inputs"]]
for path in request.get("data", []):
    data = libfann.training_data()
    if not data.read_train_from_file(path):
        sys.exit("FANN could not read " + path)
    results[path] = [data.get_input(), data.get_output()]
print(json.dumps(results))
"""


@pytest.fixture(scope="session")
def fann_python() -> Path:
    """The interpreter that has FANN's Python bindings; skips the test when there is none."""
    if not FANN_PYTHON.is_file():
        pytest.skip(f"{FANN_PYTHON} not found; FANN's Python bindings need the system Python")
    probe = subprocess.run(
        [str(FANN_PYTHON), "-c", "import fann2.libfann"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(f"fann2 is not importable by {FANN_PYTHON} (apt install python3-fann2)")
    return FANN_PYTHON


def run_fann(python: Path, request: dict[str, Any]) -> dict[str, Any]:
    completed = subprocess.run(
        [str(python), "-c", FANN_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, f"FANN subprocess failed:\n{completed.stderr}"
    return json.loads(completed.stdout)


def batch_of_inputs(size: int, seed: int) -> np.ndarray:
    """Inputs that float32 represents exactly, so both sides see the same numbers."""
    return np.random.default_rng(seed).uniform(-1, 1, size=(16, size)).astype(np.float32)


class FannNet(NamedTuple):
    """A network that FANN builds: layer sizes, hidden and output activation with steepness."""

    id: str
    layers: list[int]
    hidden: str
    hidden_steepness: float
    output: str
    output_steepness: float
    kind: str = "standard"
    connection_rate: float = 1.0


FANN_NETS = [
    FannNet("defaults", [5, 7, 3], "sigmoid", 0.5, "sigmoid", 0.5),
    FannNet("tanh-linear", [5, 7, 3], "sigmoid_symmetric", 0.3, "linear", 1.0),
    FannNet("gaussian-elliot", [5, 7, 3], "gaussian", 1.7, "elliot", 0.5),
    FannNet("elliot_symmetric-tanh", [5, 7, 3], "elliot_symmetric", 0.5, "sigmoid_symmetric", 1.7),
    FannNet("sin_symmetric-cos_symmetric", [5, 7, 3], "sin_symmetric", 1.7, "cos_symmetric", 0.3),
    FannNet("sigmoid-threshold", [5, 7, 3], "sigmoid", 0.5, "threshold_symmetric", 0.5),
    FannNet("sin-cos", [4, 6, 5, 2], "sin", 0.3, "cos", 1.7),
    FannNet("linear_piece-stepwise", [4, 6, 5, 2], "linear_piece", 1.7, "sigmoid_stepwise", 0.5),
    FannNet(
        "symmetric_stepwise-linear", [4, 6, 5, 2], "sigmoid_symmetric_stepwise", 0.5, "linear", 0.3
    ),
    FannNet(
        "gaussian_symmetric-linear_piece_symmetric",
        [4, 6, 5, 2],
        "gaussian_symmetric",
        0.5,
        "linear_piece_symmetric",
        1.7,
    ),
    FannNet("sparse", [4, 6, 5, 2], "sigmoid_symmetric", 0.5, "sigmoid", 0.5, "sparse", 0.5),
]
UNSUPPORTED_NETS = [
    FannNet("shortcut", [5, 4, 3], "sigmoid_symmetric", 0.5, "sigmoid", 0.5, "shortcut"),
    FannNet("fixed", [5, 4, 3], "sigmoid_symmetric", 0.5, "sigmoid", 0.5, "fixed"),
]


@pytest.fixture(scope="module")
def fann_made(
    fann_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[Path, np.ndarray, np.ndarray]]:
    """Every network of FANN_NETS and UNSUPPORTED_NETS built, saved and run by FANN, at once.

    Maps the case id to (.net path, inputs, FANN's outputs).
    """
    directory = tmp_path_factory.mktemp("fann_made")
    cases = []
    for seed, net in enumerate(FANN_NETS + UNSUPPORTED_NETS):
        path = directory / f"{net.id}.net"
        inputs = batch_of_inputs(net.layers[0], seed)
        cases.append({**net._asdict(), "path": str(path), "seed": seed, "inputs": inputs.tolist()})
    outputs = run_fann(fann_python, {"create": cases})
    return {
        case["id"]: (
            Path(case["path"]),
            np.array(case["inputs"], dtype=np.float32),
            np.array(outputs[case["id"]]),
        )
        for case in cases
    }


@pytest.mark.parametrize("case", FANN_NETS, ids=[net.id for net in FANN_NETS])
def test_load_fann_net_computes_what_fann_run_computes(
    case: FannNet, fann_made: dict[str, tuple[Path, np.ndarray, np.ndarray]]
) -> None:
    path, inputs, fann_outputs = fann_made[case.id]
    net = load_fann_net(path)
    assert net.layer_sizes == case.layers
    hidden_layers = len(case.layers) - 2
    assert [activations.name_of(module) for module in net.activations] == (
        [case.hidden] * hidden_layers + [case.output]
    )
    assert [module.steepness for module in net.activations] == pytest.approx(
        [case.hidden_steepness] * hidden_layers + [case.output_steepness]
    )
    with torch.no_grad():
        outputs = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(outputs, fann_outputs, rtol=1e-5, atol=1e-5)


def test_load_fann_net_keeps_missing_sparse_connections_at_zero(
    fann_made: dict[str, tuple[Path, np.ndarray, np.ndarray]],
) -> None:
    net = load_fann_net(fann_made["sparse"][0])
    weights = torch.cat([linear.weight.flatten() for linear in net.linears])
    # connection_rate 0.5: FANN keeps about half of the 4*6 + 6*5 + 5*2 = 64 weights.
    assert 0 < int((weights == 0).sum()) < len(weights)


@pytest.mark.parametrize(
    ("case", "message"),
    [("shortcut", "shortcut networks"), ("fixed", "fixed-point")],
)
def test_load_fann_net_rejects_networks_an_mlp_cannot_express(
    case: str, message: str, fann_made: dict[str, tuple[Path, np.ndarray, np.ndarray]]
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_fann_net(fann_made[case][0])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "empty file"),
        ("layer_sizes=3 2\nneurons=(0, 0, 0)\n", "not a FANN network file"),
        ("FANN_FLO_2.1\nnum_layers=2\nnetwork_type=0\n", "incomplete FANN network"),
    ],
    ids=["missing", "empty", "not-fann", "incomplete"],
)
def test_load_fann_net_rejects_files_that_are_not_fann_networks(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "model.net"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_fann_net(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("network_type=0", "network_type=zero", "network_type must be integers"),
        ("layer_sizes=3 2", "layer_sizes=3 two", "layer_sizes must be integers"),
        ("layer_sizes=3 2", "layer_sizes=3", "at least two non-empty layers"),
        ("=(0, 0, 0.0", "=(0, 0, x", "malformed neuron entry"),
        ("weight)=(", "weight)=(0, 1, 2) (", "malformed connection entry"),
    ],
    ids=["network-type", "layer-sizes", "one-layer", "neuron", "connection"],
)
def test_load_fann_net_reports_malformed_fields_as_data_errors(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = tmp_path / "model.net"
    save_fann_net(MLP([2, 1]), path)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_fann_net(path)


class ZenNet(NamedTuple):
    """An MLP that zen saves for FANN to load."""

    id: str
    layers: list[int]
    activation: Any
    output_activation: Any


ZEN_NETS = [
    ZenNet("tanh-sigmoid", [5, 7, 3], {"name": "sigmoid_symmetric", "steepness": 0.5}, "sigmoid"),
    ZenNet("elliot-identity", [4, 6, 5, 2], {"name": "elliot", "steepness": 1.7}, None),
    ZenNet("gaussian-sin", [3, 8, 1], "gaussian", {"name": "sin", "steepness": 0.3}),
    ZenNet(
        "per-layer",
        [4, 6, 5, 2],
        ["sigmoid_symmetric_stepwise", {"name": "cos", "steepness": 1.7}],
        "linear_piece_symmetric",
    ),
]


@pytest.fixture(scope="module")
def fann_loaded(
    fann_python: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[MLP, np.ndarray, np.ndarray]]:
    """Every MLP of ZEN_NETS saved by zen, then loaded and run by FANN, at once.

    Maps the case id to (MLP, inputs, FANN's outputs).
    """
    directory = tmp_path_factory.mktemp("fann_loaded")
    nets, requests = {}, []
    for seed, case in enumerate(ZEN_NETS):
        torch.manual_seed(seed)
        net = MLP(case.layers, activation=case.activation, output_activation=case.output_activation)
        with torch.no_grad():
            for parameter in net.parameters():
                parameter.uniform_(-1.0, 1.0)
        path = directory / f"{case.id}.net"
        save_fann_net(net, path)
        inputs = batch_of_inputs(case.layers[0], seed)
        nets[case.id] = (net, inputs)
        requests.append({"id": case.id, "path": str(path), "inputs": inputs.tolist()})
    outputs = run_fann(fann_python, {"load": requests})
    return {key: (net, inputs, np.array(outputs[key])) for key, (net, inputs) in nets.items()}


@pytest.mark.parametrize("case", ZEN_NETS, ids=[net.id for net in ZEN_NETS])
def test_fann_runs_a_saved_mlp_like_the_mlp(
    case: ZenNet, fann_loaded: dict[str, tuple[MLP, np.ndarray, np.ndarray]]
) -> None:
    net, inputs, fann_outputs = fann_loaded[case.id]
    with torch.no_grad():
        outputs = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(fann_outputs, outputs, rtol=1e-5, atol=1e-5)


def test_loaded_net_clamps_sums_beyond_fanns_limit_like_fann(
    fann_python: Path, tmp_path: Path
) -> None:
    net = MLP([1, 1], output_activation="linear")
    with torch.no_grad():
        net.linears[0].weight.fill_(100.0)
        net.linears[0].bias.zero_()
    path = tmp_path / "wide.net"
    save_fann_net(net, path)
    inputs = np.float32([[0.5], [2.0]])  # sums 50 and 200; FANN clips the second to 150
    fann_outputs = run_fann(
        fann_python, {"load": [{"id": "wide", "path": str(path), "inputs": inputs.tolist()}]}
    )["wide"]
    loaded = load_fann_net(path)
    with torch.no_grad():
        outputs = loaded(torch.from_numpy(inputs)).numpy()
        unclamped = net(torch.from_numpy(inputs)).numpy()
    np.testing.assert_allclose(fann_outputs, outputs, rtol=1e-6)
    assert unclamped[1, 0] == pytest.approx(200.0)  # zen's own nets do not clamp


def test_fann_reads_data_written_by_write_fann_data(fann_python: Path, tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    y = np.float32([[0, 1], [1, 0], [0, 1], [1, 1], [0, 0]])
    path = tmp_path / "train.data"
    write_fann_data(path, X, y)
    fann_inputs, fann_outputs = run_fann(fann_python, {"data": [str(path)]})[str(path)]
    np.testing.assert_array_equal(np.float32(fann_inputs), X)
    np.testing.assert_array_equal(np.float32(fann_outputs), y)


def test_save_fann_net_refuses_activations_fann_does_not_have(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'relu', which FANN does not have"):
        save_fann_net(MLP([3, 4, 1], activation="relu"), tmp_path / "relu.net")
    assert not (tmp_path / "relu.net").exists()
