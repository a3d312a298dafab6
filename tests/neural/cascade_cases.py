"""The libfann parity cases of cascade training and FANN's optimizers, shared by
tests/neural/test_cascade.py, tests/neural/test_fann_optimizers.py and
tests/fixtures/fann/make_cascade_reference.py (which ran them through libfann and committed the
results in ``tests/fixtures/fann/``).
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import torch

from zen.neural.fann import FANN_ACTIVATIONS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fann"
REFERENCE_FILE = FIXTURES / "cascade_reference.json"
DRIVER = FIXTURES / "libfann_driver.py"
#: glibc's srand(0) is srand(1): the seeds start at 1 so that every run differs.
SEEDS = (1, 2, 3, 4, 5)


class CascadeCase(NamedTuple):
    """One problem ``fann_cascadetrain_on_data`` grows a network on, with its settings."""

    id: str
    inputs: int
    outputs: int
    max_neurons: int
    desired_error: float
    output: tuple[str, float]
    settings: dict[str, Any]

    @property
    def train(self) -> Path:
        return FIXTURES / f"{self.id}_train.data"

    @property
    def test(self) -> Path:
        return FIXTURES / f"{self.id}_test.data"

    @property
    def net(self) -> Path:
        """The network libfann grew with the first seed."""
        return FIXTURES / f"{self.id}_cascade.net"

    def zen_settings(self) -> dict[str, Any]:
        """The same settings for :class:`zen.neural.CascadeCorrelation`."""
        return {
            "max_neurons": self.max_neurons,
            "desired_error": self.desired_error,
            "output_activation": self.output[0],
            "output_steepness": self.output[1],
            **self.settings,
        }

    def fann_request(self, seed: int, net: Path, test_inputs: list[list[float]]) -> dict:
        """The driver's ``cascade`` case for ``seed`` (FANN takes activations as codes)."""
        name, steepness = self.output
        return {
            "id": f"{self.id}-{seed}",
            "train": str(self.train),
            "test": str(self.test),
            "inputs": self.inputs,
            "outputs": self.outputs,
            "output": [FANN_ACTIVATIONS.index(name), steepness],
            "settings": {
                key: [FANN_ACTIVATIONS.index(name) for name in value]
                if key == "cascade_activation_functions"
                else value
                for key, value in self.settings.items()
            },
            "seed": seed,
            "max_neurons": self.max_neurons,
            "desired_error": self.desired_error,
            "net": str(net),
            "test_inputs": test_inputs,
        }


CASCADE_CASES = [
    # Lang & Witbrock's two spirals (Fahlman & Lebiere's benchmark), FANN's defaults: iRPROP-,
    # the tanh error function, sigmoid_stepwise outputs, 80 candidates.
    CascadeCase("spirals", 2, 1, 6, 0.0, ("sigmoid_stepwise", 0.5), {}),
    # 8-bit parity as FANN's own example (examples/cascade_train.c) trains it: inputs and
    # targets -1/1, linear output and error function, 8 groups of sigmoid_symmetric candidates,
    # grown until no output is off by 0.9 or more.
    CascadeCase(
        "parity8",
        8,
        1,
        30,
        0.0,
        ("linear", 1.0),
        {
            "train_error_function": "linear",
            "train_stop_function": "bit",
            "bit_fail_limit": 0.9,
            "cascade_activation_functions": ["sigmoid_symmetric"],
            "cascade_activation_steepnesses": [1.0],
            "cascade_num_candidate_groups": 8,
        },
    ),
    # Iris (100 training flowers, 50 test), one-hot targets -1/1, Quickprop.
    CascadeCase(
        "iris", 4, 3, 10, 0.002, ("sigmoid_symmetric", 0.5), {"training_algorithm": "quickprop"}
    ),
]
CASES_BY_ID = {case.id: case for case in CASCADE_CASES}


class TrainCase(NamedTuple):
    """A layered network libfann trains epoch by epoch with one of its batch algorithms."""

    id: str
    algorithm: str
    epochs: int
    seed: int = 7

    layers: tuple[int, ...] = (3, 6, 2)
    #: elliot_symmetric: FANN's derivative of it is the exact one (no clipping), so zen's
    #: autograd gradient is FANN's slope; linear outputs likewise.
    hidden: tuple[str, float] = ("elliot_symmetric", 0.5)
    output: tuple[str, float] = ("linear", 1.0)
    weight_range: float = 0.5

    @property
    def initial(self) -> Path:
        return FIXTURES / f"{self.id}_initial.net"

    @property
    def net(self) -> Path:
        return FIXTURES / f"{self.id}_trained.net"

    def fann_request(self) -> dict:
        return {
            "id": self.id,
            "layers": list(self.layers),
            "hidden": [FANN_ACTIVATIONS.index(self.hidden[0]), self.hidden[1]],
            "output": [FANN_ACTIVATIONS.index(self.output[0]), self.output[1]],
            "settings": {"training_algorithm": self.algorithm},
            "train": str(OPTIMIZER_DATA),
            "seed": self.seed,
            "weight_range": self.weight_range,
            "initial": str(self.initial),
            "net": str(self.net),
            "epochs": self.epochs,
        }


OPTIMIZER_DATA = FIXTURES / "optimizer_train.data"
TRAIN_CASES = [TrainCase("quickprop", "quickprop", 30), TrainCase("sarprop", "sarprop", 30)]


def libfann_missing() -> str | None:
    """Why libfann cannot run here (through ctypes, as the driver runs it), or None."""
    try:
        ctypes.CDLL("libfann.so.2")
    except OSError as error:
        return f"libfann is not installed ({error}); apt install libfann2"
    return None


def run_driver(request: dict[str, Any]) -> dict[str, Any]:
    """Run ``libfann_driver.py`` on ``request`` in a child process; its JSON answer."""
    completed = subprocess.run(
        [sys.executable, str(DRIVER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"libfann driver failed:\n{completed.stderr}")
    return json.loads(completed.stdout)


@cache
def reference() -> dict[str, Any]:
    """The committed results of the libfann runs."""
    return json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))


def glibc_rand(seed: int) -> Iterator[int]:
    """The values of glibc's ``rand()`` after ``srand(seed)`` (its TYPE_3 additive feedback
    generator: 34 seeded words, 310 discarded, then r[i] = r[i-31] + r[i-3])."""
    words = [seed if seed != 0 else 1]
    for _ in range(30):
        high, low = divmod(words[-1], 127773)
        word = 16807 * low - 2836 * high
        words.append(word + 2147483647 if word < 0 else word)
    words += words[:3]
    for _ in range(310):
        words.append((words[-31] + words[-3]) & 0xFFFFFFFF)
    while True:
        words.append((words[-31] + words[-3]) & 0xFFFFFFFF)
        del words[0]
        yield words[-1] >> 1


def libfann_draws(seed: int) -> Callable[[Any, int, int], torch.Tensor]:
    """A stand-in for ``TrainingState.uniform`` that replays the ``rand()`` values libfann
    draws after ``srand(seed)``, in the order it draws them (``fann_rand``: rand / 2^31)."""
    stream = glibc_rand(seed)

    def uniform(state: Any, rows: int, columns: int) -> torch.Tensor:
        drawn = [next(stream) / 2.0**31 for _ in range(rows * columns)]
        return torch.tensor(drawn, dtype=torch.float64).reshape(rows, columns)

    return uniform
