"""Against FANN (C, libfann from Debian) on the same layered network, data and epochs.

Both sides train the same network on scikit-learn's digits (1797 8x8 images, pixels scaled to
[0, 1], one-hot targets, a stratified 75/25 split with seed 0): sigmoid_symmetric hidden and
sigmoid output neurons at FANN's default steepness 0.5, weights uniform in [-0.1, 0.1], full-batch
iRPROP- with FANN's defaults (delta_zero 0.1, factors 0.5/1.2, step sizes in [0, 50]) on the mean
squared error. FANN runs ``bench/fann_train.c`` (compiled here with gcc against ``-lfann``); zen
runs ``Trainer(optimizer="rprop", batch_size=<all>, loss="mse")``. The data goes through
``zen.neural.fann.write_fann_data``, so FANN reads exactly what zen trains on.

Repeat ``i`` initialises both sides with seed ``i`` (FANN: ``srand(i)`` before drawing the
weights), so the medians cover a few initialisations. Reported per network size: median
seconds per epoch (median over epochs, then over repeats), the speed ratio FANN/zen (> 1: zen is
faster), the median (min-max) test accuracy and the median final train MSE. FANN is
single-threaded; zen runs with its default thread count and, for a like-for-like comparison,
with one thread.

The two sides do not learn identically: FANN clips a neuron's output to [0.01, 0.99] (sigmoid)
or [-0.98, 0.98] (tanh) when it computes the derivative (``fann_activation_derived``), so its
gradient never vanishes, while zen uses the exact gradient, which is exactly zero once every
sigmoid output saturates to 1.0 in float32. RPROP then cannot move and such a run stays at
chance accuracy; the min-max ranges show when that happens.

Usage::

    python bench/bench_fann.py            # full run, about 2-3 minutes on 2 cores
    python bench/bench_fann.py --quick    # smoke run: few epochs, one repeat

Results go to ``bench/results/fann.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _common import BENCH_DIR, BUILD_DIR, machine_info, print_machine, print_table, write_result
from zen.compute import configure_threads
from zen.neural import MLP, Trainer
from zen.neural.fann import write_fann_data

SPLIT_SEED = 0
# FANN's defaults: steepness of fann_create_standard, rprop_delta_zero, rprop factors and limits.
STEEPNESS = 0.5
RPROP_DELTA_ZERO = 0.1
RPROP_ETAS = (0.5, 1.2)
RPROP_STEP_SIZES = (0.0, 50.0)


@dataclass(frozen=True)
class Case:
    """One network size and how long to train it."""

    layer_sizes: tuple[int, ...]
    epochs: int
    quick_epochs: int


# The large network is sized so that FANN needs well over 50 ms per epoch.
CASES = (
    Case((64, 128, 10), epochs=300, quick_epochs=20),
    Case((64, 256, 256, 10), epochs=100, quick_epochs=5),
)


@dataclass(frozen=True)
class Digits:
    """The digits split: features in [0, 1], one-hot targets, float32."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_test: np.ndarray
    Y_test: np.ndarray


def load_data() -> Digits:
    """Digits with pixels in [0, 1] and one-hot float32 targets, split 75/25 (stratified)."""
    X, labels = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Y = np.eye(10, dtype=np.float32)[labels]
    X_train, X_test, Y_train, Y_test = train_test_split(
        X, Y, test_size=0.25, stratify=labels, random_state=SPLIT_SEED
    )
    return Digits(X_train, Y_train, X_test, Y_test)


def build_fann_trainer() -> tuple[Path | None, str]:
    """Compile bench/fann_train.c; return (binary, "") or (None, why it is unavailable)."""
    compiler = shutil.which("gcc")
    if compiler is None:
        return None, "gcc not found"
    binary = BUILD_DIR / "fann_train"
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    command = [compiler, "-O2", "-o", str(binary), str(BENCH_DIR / "fann_train.c"), "-lfann", "-lm"]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        first_error = (completed.stderr.strip().splitlines() or ["unknown error"])[0]
        return None, f"could not build against libfann (apt install libfann-dev): {first_error}"
    return binary, ""


@dataclass(frozen=True)
class FannRunner:
    """Runs the compiled fann_train on the digits files."""

    binary: Path
    data_paths: tuple[Path, Path]

    def __call__(self, case: Case, epochs: int, seed: int) -> dict:
        """Train once with FANN; its JSON report (seconds per epoch, train MSE, accuracy)."""
        command = [str(self.binary), *map(str, self.data_paths), str(epochs), str(seed)]
        command += [str(size) for size in case.layer_sizes]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(completed.stdout)


@contextmanager
def zen_threads(count: int) -> Iterator[None]:
    """Run the Trainer with ``count`` torch threads (it reads ZEN_NUM_THREADS on every fit)."""
    previous = os.environ.get("ZEN_NUM_THREADS")
    os.environ["ZEN_NUM_THREADS"] = str(count)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ZEN_NUM_THREADS", None)
        else:
            os.environ["ZEN_NUM_THREADS"] = previous


def run_zen(data: Digits, case: Case, epochs: int, seed: int) -> dict:
    """Train once with zen, configured like fann_train.c; same report as the FANN side."""
    torch.manual_seed(seed)
    net = MLP(
        case.layer_sizes,
        activation={"name": "sigmoid_symmetric", "steepness": STEEPNESS},
        output_activation={"name": "sigmoid", "steepness": STEEPNESS},
        init="fann_uniform",  # weights and biases uniform in [-0.1, 0.1], like FANN
    )
    trainer = Trainer(
        optimizer="rprop",
        lr=RPROP_DELTA_ZERO,
        optimizer_options={"etas": RPROP_ETAS, "step_sizes": RPROP_STEP_SIZES},
        loss="mse",
        batch_size=len(data.X_train),
        max_epochs=epochs,
        shuffle=False,
        seed=seed,
    )
    result = trainer.fit(net, data.X_train, data.Y_train)
    with torch.no_grad():
        train_outputs = net(torch.from_numpy(data.X_train))
        test_outputs = net(torch.from_numpy(data.X_test))
    train_mse = float(((train_outputs - torch.from_numpy(data.Y_train)) ** 2).mean())
    correct = test_outputs.argmax(dim=1).numpy() == data.Y_test.argmax(axis=1)
    return {
        "epochs": result.epochs,
        "median_epoch_s": float(np.median(result.history["time_s"])),
        "train_mse": train_mse,
        "test_accuracy": float(correct.mean()),
        "threads": torch.get_num_threads(),
    }


def summarise(runs: list[dict]) -> dict[str, Any]:
    """Medians over repeats, keeping every run's numbers."""
    summary: dict[str, Any] = {"threads": runs[0]["threads"]}
    for key in ("median_epoch_s", "train_mse", "test_accuracy"):
        values = [run[key] for run in runs]
        summary[key] = statistics.median(values)
        summary[f"runs_{key}"] = values
    return summary


def measure(
    case: Case, epochs: int, repeats: int, data: Digits, fann: FannRunner | None, threads: int
) -> dict[str, Any]:
    """Train ``case`` ``repeats`` times per side (zen with ``threads`` and with one thread),
    alternating the sides so that a slow spell of the machine hits all of them."""
    fann_runs, zen_runs, zen_single_runs = [], [], []
    # Seeds from 1: glibc's srand(0) is srand(1), which would repeat FANN's first run.
    for seed in range(1, repeats + 1):
        if fann is not None:
            fann_runs.append(fann(case, epochs, seed))
        with zen_threads(threads):
            zen_runs.append(run_zen(data, case, epochs, seed))
        with zen_threads(1):
            zen_single_runs.append(run_zen(data, case, epochs, seed))
    return {
        "layer_sizes": list(case.layer_sizes),
        "epochs": epochs,
        "fann": summarise(fann_runs) if fann_runs else None,
        "zen": summarise(zen_runs),
        "zen_1_thread": summarise(zen_single_runs),
    }


def table_row(result: dict[str, Any]) -> dict[str, Any]:
    fann, zen, zen_single = result["fann"], result["zen"], result["zen_1_thread"]
    fann_s = fann["median_epoch_s"] if fann else None
    return {
        "size": "-".join(map(str, result["layer_sizes"])),
        "epochs": result["epochs"],
        "FANN s/epoch": fann_s,
        f"zen s/epoch ({zen['threads']} thr, default)": zen["median_epoch_s"],
        "ratio": _ratio(fann_s, zen["median_epoch_s"]),
        "zen s/epoch (1 thr)": zen_single["median_epoch_s"],
        "ratio (1 thr)": _ratio(fann_s, zen_single["median_epoch_s"]),
        "FANN acc": _spread(fann, "test_accuracy"),
        "zen acc": _spread(zen, "test_accuracy"),
        "FANN train MSE": fann["train_mse"] if fann else None,
        "zen train MSE": zen["train_mse"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few epochs, one repeat (smoke run)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (default 3)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)

    data = load_data()
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    data_paths = (BUILD_DIR / "digits_train.data", BUILD_DIR / "digits_test.data")
    write_fann_data(data_paths[0], data.X_train, data.Y_train)
    write_fann_data(data_paths[1], data.X_test, data.Y_test)
    binary, unavailable = build_fann_trainer()
    fann = FannRunner(binary, data_paths) if binary is not None else None
    # zen's own choice (ZEN_NUM_THREADS or the usable cores), set explicitly for every run since
    # zen keeps whatever count torch has once a count was applied.
    threads = configure_threads()

    info = machine_info()
    print_machine(info)
    results = []
    for case in CASES:
        epochs = case.quick_epochs if args.quick else case.epochs
        try:
            results.append(measure(case, epochs, repeats, data, fann, threads))
        except subprocess.CalledProcessError as error:
            # Built but cannot run (e.g. libfann.so missing at run time): measure zen alone.
            fann, unavailable = None, f"fann_train failed: {error.stderr.strip()}"
            results.append(measure(case, epochs, repeats, data, None, threads))
    rows = [table_row(result) for result in results]
    print_table(
        f"zen vs FANN, full-batch RPROP on digits (medians of {repeats} runs;"
        " ratio = FANN time / zen time, > 1: zen faster)",
        rows,
        list(rows[0]),
    )
    if fann is None:
        print(f"FANN unavailable: {unavailable}; its columns are marked n/a")
    path = write_result(
        "fann",
        {
            "benchmark": "bench_fann",
            "quick": args.quick,
            "repeats": repeats,
            "fann_available": fann is not None,
            "fann_unavailable_reason": unavailable or None,
            "machine": info,
            "cases": results,
            "table": rows,
        },
    )
    print(f"results: {path}")
    return 0


def _ratio(fann_s: float | None, zen_s: float) -> str | None:
    return f"{fann_s / zen_s:.2f}x" if fann_s is not None else None


def _spread(summary: dict[str, Any] | None, key: str) -> str | None:
    """``median (min-max)`` of one quantity over the repeats."""
    if summary is None:
        return None
    values = summary[f"runs_{key}"]
    return f"{summary[key]:.3g} ({min(values):.3g}-{max(values):.3g})"


if __name__ == "__main__":
    sys.exit(main())
