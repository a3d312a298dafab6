"""Neural ODE vs ResNet on ItalyPowerDemand (67 train / 1,029 test series of 24 steps, 2 classes).

All networks follow the protocol of ``bench_neural_zoo.py`` (Adam, lr 1e-3, batches of
``min(16, n_train // 10)``, plateau halving, the lowest-training-loss weights kept, ``--epochs``
and ``--runs`` seeds). The NeuralODE (hidden 64, ``t1 = 1``) runs three ways:

* **means**: on the sequence itself, which it reduces to each channel's mean over the real
  steps (how it reads sequences). ItalyPowerDemand is univariate and z-normalised, so that
  mean is about 0 for every series: expect chance; it shows what the reduction throws away;
* **steps, dopri5**: the 24 steps as 24 features, adaptive Dormand-Prince (rtol 1e-3,
  atol 1e-4), so the number of function evaluations (NFE) is learned;
* **steps, rk4**: the same with fixed RK4 steps of 0.25 (NFE 16 per forward by construction).

Reported: mean test accuracy, median training seconds, and the NFE of one forward over the test
set after training (median over runs); the ResNet is the registered sequence classifier.

    python bench/bench_neural_zoo.py --part ode [--quick] [--runs N] [--epochs N]

Results go to ``bench/results/neural_zoo_ode.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import machine_info, print_machine, print_table, write_result
from bench_neural_zoo import DATA, protocol_trainer, train_network
from zen.neural import NeuralODE
from zen.neural.datasets import load_sequences

SET = "ItalyPowerDemand"


def variants(length: int, classes: int) -> dict[str, tuple[Callable[[], nn.Module], bool]]:
    """Name -> (builder, whether it reads the flattened steps instead of the sequence)."""
    return {
        "NeuralODE means dopri5": (lambda: NeuralODE(1, classes), False),
        "NeuralODE steps dopri5": (lambda: NeuralODE(length, classes), True),
        "NeuralODE steps rk4": (
            lambda: NeuralODE(length, classes, solver="rk4", step_size=0.25),
            True,
        ),
    }


def run_ode(
    build: Callable[[], nn.Module], data: tuple[np.ndarray, ...], epochs: int, seed: int
) -> tuple[float, float, int]:
    """Test accuracy (%), training seconds and the test forward's NFE of one seeded run."""
    X_train, y_train, X_test, y_test = data
    torch.manual_seed(seed)
    model = build()
    trainer = protocol_trainer(len(X_train), epochs, seed)
    started = time.perf_counter()
    trainer.fit(model, X_train, y_train)
    seconds = time.perf_counter() - started
    model.eval()
    with torch.inference_mode():
        predicted = model(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    nfe = int(model.nfe)  # type: ignore[arg-type]
    return 100.0 * float(np.mean(predicted == y_test)), seconds, nfe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 20 epochs")
    parser.add_argument("--runs", type=int, default=0, help="seeds per model (default 3)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs per run (default 1500)")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    epochs = args.epochs or (20 if args.quick else 1500)
    loaded = load_sequences(DATA / SET)
    assert isinstance(loaded, tuple)
    train, test = loaded
    labels = train.label_codes(), test.label_codes()
    info = machine_info()
    print_machine(info)
    print(f"{SET}: {runs} run(s) of {epochs} epochs per model", flush=True)
    rows: list[dict[str, Any]] = []
    # Warm-up: a process's first fit pays lazy imports (about 2 s), kept off the first model.
    warm_up = (train.X[:, 0, :], labels[0], test.X[:8, 0, :], labels[1][:8])
    run_ode(lambda: NeuralODE(train.max_length, 2, solver="rk4", step_size=0.5), warm_up, 1, 0)
    for name, (build, flat) in variants(train.max_length, len(train.classes)).items():
        X_train, X_test = (train.X[:, 0, :], test.X[:, 0, :]) if flat else (train.X, test.X)
        data = (X_train, labels[0], X_test, labels[1])
        results = [run_ode(build, data, epochs, seed) for seed in range(runs)]
        for seed, (score, seconds, nfe) in enumerate(results):
            print(f"  {name} seed {seed}: {score:.1f} % in {seconds:.1f} s, NFE {nfe}", flush=True)
        rows.append({"model": name, "test acc %": statistics.mean(r[0] for r in results),
                     "train s": statistics.median(r[1] for r in results),
                     "NFE (test forward)": statistics.median(r[2] for r in results),
                     "runs": [r[0] for r in results]})  # fmt: skip
    resnet = [train_network("ResNet", train, test, epochs, seed) for seed in range(runs)]
    rows.append({"model": "ResNet", "test acc %": statistics.mean(r[0] for r in resnet),
                 "train s": statistics.median(r[1] for r in resnet),
                 "NFE (test forward)": None, "runs": [r[0] for r in resnet]})  # fmt: skip
    print_table(f"NeuralODE vs ResNet on {SET} ({runs} run(s) of {epochs} epochs; accuracy:"
                " mean, train s and NFE: median)", rows,
                ["model", "test acc %", "train s", "NFE (test forward)"])  # fmt: skip
    path = write_result("neural_zoo_ode", {
        "benchmark": "bench_neural_zoo --part ode", "quick": args.quick, "runs": runs,
        "epochs": epochs, "set": SET, "machine": info, "rows": rows})  # fmt: skip
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
