"""The FANN parity cases, shared by tests/neural/test_fann.py and tools/make_fann_reference.py.

Each case is checked against libfann itself when Debian's ``python3-fann2`` is installed, and
everywhere against the reference files in ``fann_reference/`` that the tool made with libfann.
FANN runs in ``/usr/bin/python3`` (the only interpreter with the bindings) through
``tools/fann_driver.py``, which talks JSON.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from zen.neural import MLP

REPO = Path(__file__).resolve().parents[2]
REFERENCE_DIR = Path(__file__).resolve().parent / "fann_reference"
REFERENCE_FILE = REFERENCE_DIR / "reference.json"
DRIVER = REPO / "tools" / "fann_driver.py"
FANN_PYTHON = Path("/usr/bin/python3")
INPUT_ROWS = 8


def fann_unavailable() -> str | None:
    """Why libfann cannot run here, or None when it can."""
    if not FANN_PYTHON.is_file():
        return f"{FANN_PYTHON} not found; FANN's Python bindings need the system Python"
    probe = subprocess.run(
        [str(FANN_PYTHON), "-c", "import fann2.libfann"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return f"fann2 is not importable by {FANN_PYTHON} (apt install python3-fann2)"
    return None


def run_fann(request: dict[str, Any]) -> dict[str, Any]:
    """Send ``request`` to tools/fann_driver.py under the system Python; its JSON answer."""
    completed = subprocess.run(
        [str(FANN_PYTHON), str(DRIVER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"FANN driver failed:\n{completed.stderr}")
    return json.loads(completed.stdout)


def batch_of_inputs(size: int, seed: int) -> np.ndarray:
    """Inputs that float32 represents exactly, so both sides see the same numbers."""
    return np.random.default_rng(seed).uniform(-1, 1, size=(INPUT_ROWS, size)).astype(np.float32)


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
    FannNet("shortcut", [5, 4, 3], "sigmoid_symmetric", 0.5, "sigmoid", 0.5, "shortcut"),
]
UNSUPPORTED_NETS = [
    FannNet("fixed", [5, 4, 3], "sigmoid_symmetric", 0.5, "sigmoid", 0.5, "fixed"),
]


def create_requests(directory: Path) -> list[dict[str, Any]]:
    """FANN ``create`` cases for every network of FANN_NETS and UNSUPPORTED_NETS."""
    return [
        {
            **net._asdict(),
            "path": str(directory / f"{net.id}.net"),
            "seed": seed,
            "inputs": batch_of_inputs(net.layers[0], seed).tolist(),
        }
        for seed, net in enumerate(FANN_NETS + UNSUPPORTED_NETS)
    ]


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
#: A net whose sums (50 and 200) straddle FANN's limit of 150 on a neuron's input sum.
WIDE_ID = "wide"
WIDE_INPUTS = np.float32([[0.5], [2.0]])


def zen_net(case: ZenNet, seed: int) -> MLP:
    """The MLP of ``case`` with weights uniform in [-1, 1] from NumPy's generator ``seed``."""
    net = MLP(case.layers, activation=case.activation, output_activation=case.output_activation)
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for parameter in net.parameters():
            values = rng.uniform(-1.0, 1.0, size=tuple(parameter.shape)).astype(np.float32)
            parameter.copy_(torch.from_numpy(values))
    return net


def wide_net() -> MLP:
    net = MLP([1, 1], output_activation="linear")
    with torch.no_grad():
        net.linears[0].weight.fill_(100.0)
        net.linears[0].bias.zero_()
    return net


class TrainingSetup(NamedTuple):
    """FANN's Nguyen-Widrow on a training file, then full-batch iRPROP- for some epochs."""

    id: str
    layers: list[int]
    hidden: str
    hidden_steepness: float
    output: str
    output_steepness: float
    seed: int
    epochs: int


TRAINING = TrainingSetup("nguyen_widrow", [3, 5, 4, 2], "sigmoid_symmetric", 0.5, "linear", 1.0,
                         seed=7, epochs=20)  # fmt: skip


def training_data() -> tuple[np.ndarray, np.ndarray]:
    """40 samples, inputs in [-2, 3] (a range other than FANN's usual [-1, 1]), two targets."""
    rng = np.random.default_rng(5)
    X = rng.uniform(-2.0, 3.0, size=(40, 3)).astype(np.float32)
    Y = np.stack([np.sin(X[:, 0]) + 0.5 * X[:, 1] * X[:, 2], 0.3 * X[:, 0] - 0.2 * X[:, 2]], 1)
    return X, Y.astype(np.float32)


def training_request(directory: Path, data_path: Path) -> dict[str, Any]:
    """The FANN ``init_train`` case for TRAINING, writing its networks into ``directory``."""
    return {
        **TRAINING._asdict(),
        "data": str(data_path),
        "initial_path": str(directory / f"{TRAINING.id}_initial.net"),
        "final_path": str(directory / f"{TRAINING.id}_trained.net"),
    }
