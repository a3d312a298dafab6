"""Mixture of experts vs a dense MLP of equal compute, on the 8x8 digits (flattened to 64).

**MoE**: ``MoEMLP(64, 10, d_model=32, num_experts=8, k=2, layers=2, hidden=64)``: each sample
goes through 2 of 8 experts per layer. **Dense**: ``MLP([64, w, w, 10])`` with ``w`` chosen so
that its multiply-adds per sample match the MoE's *active* ones (embedding, router, the k chosen
experts, head; layer norms and biases left out). Both train with the Trainer: Adam (lr 1e-3),
batches of 64, cross-entropy (the MoE adds its load-balancing loss, weight 0.01), the same
epochs and seeds, on a stratified 75/25 split (seed 0). Reported: mean test accuracy over the
seeds, median training seconds, the multiply-adds and parameters of each, and the MoE's expert
utilisation on the test set (share of assignments per expert; uniform is 1/8 = 12.5 %).

    python bench/bench_neural_zoo.py --part moe [--quick] [--runs N] [--epochs N]

Results go to ``bench/results/neural_zoo_moe.json``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import machine_info, print_machine, print_table, write_result
from _zoo_common import accuracy, digits_split
from zen.neural import MLP, MoEMLP, Trainer

FEATURES, CLASSES = 64, 10
MOE = {"d_model": 32, "num_experts": 8, "k": 2, "layers": 2, "hidden": 64}


def moe_active_macs() -> int:
    """Multiply-adds per sample of the MoE's embedding, routers, k experts per layer and head."""
    d, hidden = MOE["d_model"], MOE["hidden"]
    per_layer = d * MOE["num_experts"] + MOE["k"] * 2 * d * hidden
    return FEATURES * d + MOE["layers"] * per_layer + d * CLASSES


def dense_width(macs: int) -> int:
    """Width ``w`` of ``MLP([64, w, w, 10])`` whose ``w^2 + (64 + 10) w`` multiply-adds come
    closest to ``macs``."""
    linear = FEATURES + CLASSES
    return round((-linear + math.sqrt(linear**2 + 4 * macs)) / 2)


def parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def train(model: nn.Module, data: tuple[np.ndarray, ...], epochs: int, seed: int) -> float:
    """Fit ``model`` on the flattened training digits; return the training seconds."""
    X_train, y_train = data[0], data[1]
    trainer = Trainer(loss="cross_entropy", optimizer="adam", lr=1e-3, batch_size=64,
                      max_epochs=epochs, seed=seed, progress=False)  # fmt: skip
    started = time.perf_counter()
    trainer.fit(model, X_train, y_train)
    return time.perf_counter() - started


def utilisation(model: MoEMLP, X_test: np.ndarray) -> list[list[float]]:
    """Per layer, the share (%) of the test set's assignments each expert received."""
    model.reset_utilisation()
    model.eval()
    with torch.inference_mode():
        model(torch.from_numpy(X_test))
    return (100.0 * model.utilisation()).tolist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of 5 epochs")
    parser.add_argument("--runs", type=int, default=0, help="seeds per model (default 5)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs per run (default 100)")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 5)
    epochs = args.epochs or (5 if args.quick else 100)
    X_train, y_train, X_test, y_test = digits_split()
    data = (X_train.reshape(len(X_train), -1), y_train, X_test.reshape(len(X_test), -1), y_test)
    macs = moe_active_macs()
    width = dense_width(macs)
    builders = {
        f"MoEMLP {MOE['k']} of {MOE['num_experts']}": lambda: MoEMLP(FEATURES, CLASSES, **MOE),
        f"MLP 64-{width}-{width}-10": lambda: MLP([FEATURES, width, width, CLASSES]),
    }
    info = machine_info()
    print_machine(info)
    print(f"{runs} run(s) of {epochs} epochs; {len(X_train)} train / {len(X_test)} test digits")
    # Warm-up: the first fit of a process imports and initialises lazily (about 2 s here);
    # that must not land on whichever model goes first.
    train(MLP([FEATURES, 8, CLASSES]), data, 1, 0)
    train(MoEMLP(FEATURES, CLASSES, **MOE), data, 1, 0)
    rows: list[dict[str, Any]] = []
    usage: list[list[list[float]]] = []
    for name, build in builders.items():
        scores, seconds = [], []
        for seed in range(runs):
            torch.manual_seed(seed)
            model = build()
            seconds.append(train(model, data, epochs, seed))
            scores.append(accuracy(model, data[2], data[3]))
            if isinstance(model, MoEMLP):
                usage.append(utilisation(model, data[2]))
            print(f"  {name} seed {seed}: {scores[-1]:.1f} % in {seconds[-1]:.1f} s", flush=True)
        dense = name.startswith("MLP")
        rows.append({"model": name, "test acc %": statistics.mean(scores),
                     "acc runs": " ".join(f"{score:.1f}" for score in scores),
                     "train s": statistics.median(seconds),
                     "active MACs/sample": 74 * width + width**2 if dense else macs,
                     "parameters": parameters(model)})  # fmt: skip
    print_table(f"MoE vs dense of equal active compute on digits ({runs} run(s) of {epochs}"
                " epochs; accuracy: mean, train s: median)", rows, list(rows[0]))  # fmt: skip
    for layer, shares in enumerate(np.mean(usage, axis=0)):
        print(f"expert utilisation, layer {layer + 1} (% of test assignments, mean over runs):"
              f" {' '.join(f'{share:.1f}' for share in shares)}"
              f" (uniform {100 / MOE['num_experts']:.1f})")  # fmt: skip
    path = write_result("neural_zoo_moe", {
        "benchmark": "bench_neural_zoo --part moe", "quick": args.quick, "runs": runs,
        "epochs": epochs, "moe": MOE, "dense_width": width, "machine": info, "rows": rows,
        "utilisation_percent": usage})  # fmt: skip
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
