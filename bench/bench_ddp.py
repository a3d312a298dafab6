"""Data-parallel training on Ray Train (``Trainer(strategy="ddp")``): throughput and accuracy.

Runs on a real two-node Ray cluster started here (head 1 CPU + worker 1 CPU, loopback only, in a
network namespace: needs root, like the cluster tests) and measures:

- **Throughput**: ``MLP([512, 1024, 1024, 10])`` (relu, about 1.6 M weights: compute-bound, a
  batch step is mostly matrix products) on 16,384 x 512 synthetic float32 samples, Adam,
  batch 256 per worker, with 1 and with 2 workers. The machine has 2 cores, so each worker is one
  Ray worker process with 1 CPU (Ray sets one thread per worker); with 2 workers each trains on
  half of the data per epoch and DDP averages the gradients with gloo. Samples/s is the median
  over epochs of the Trainer's own ``samples_per_s`` (all workers' samples over the epoch's wall
  time, gradient all-reduce included; Ray's start-up of the workers is not), and the wall time of
  the whole ``fit`` is given too. Ideal ratio: 2.0.
- **Accuracy parity**: sklearn's digits (1,797 images, bundled: no download), 1,400 for
  training, the rest for testing; ``MLP([64, 64, 10])``, Adam 3e-3, batch 32 (per worker), same
  model seeds and Trainer seeds; local (one process) vs ddp with 2 workers; mean test accuracy
  over the seeds.

Usage::

    python bench/bench_ddp.py            # 3 seeds, 6 throughput epochs: about 4 minutes here
    python bench/bench_ddp.py --quick    # 1 seed, 3 throughput epochs

Results go to ``bench/results/ddp.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from _common import machine_info, print_machine, print_table, write_result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cluster_harness import Unavailable, ray_cluster

LAYER_SIZES = (512, 1024, 1024, 10)

# Runs inside the cluster's network namespace; prints one JSON line.
MEASURE = """
import json, statistics, sys, time
import numpy as np, torch
from sklearn.datasets import load_digits
from zen.neural import MLP, Trainer, private_rng

epochs, seeds = int(sys.argv[1]), [int(seed) for seed in sys.argv[2].split(",")]
sizes = {sizes}
rng = np.random.default_rng(0)
X = rng.normal(size=(16384, sizes[0])).astype("float32")
y = (X @ rng.normal(size=(sizes[0], sizes[-1]))).argmax(axis=1)
throughput = {{}}
for workers in (1, 2):
    with private_rng(0):
        model = MLP(list(sizes), activation="relu")
    started = time.perf_counter()
    result = Trainer(max_epochs=epochs, batch_size=256, loss="cross_entropy", seed=0,
                     strategy="ddp", num_workers=workers, checkpoint_every_s=1e9).fit(model, X, y)
    throughput[workers] = {{"samples_per_s": result.samples_per_s,
                           "fit_s": time.perf_counter() - started}}

digits_X, digits_y = load_digits(return_X_y=True)
digits_X = (digits_X / 16.0).astype("float32")
order = np.random.default_rng(0).permutation(len(digits_X))
digits_X, digits_y = digits_X[order], digits_y[order]
accuracy = {{"local": [], "ddp": []}}
for seed in seeds:
    for strategy, workers in (("local", 1), ("ddp", 2)):
        with private_rng(seed):
            model = MLP([64, 64, 10], activation="relu")
        Trainer(max_epochs=20, batch_size=32, lr=3e-3, loss="cross_entropy", seed=seed,
                strategy=strategy, num_workers=workers, checkpoint_every_s=1e9).fit(
            model, digits_X[:1400], digits_y[:1400])
        model.eval()
        with torch.no_grad():
            predicted = model(torch.from_numpy(digits_X[1400:])).argmax(1).numpy()
        accuracy[strategy].append(float((predicted == digits_y[1400:]).mean()))
print(json.dumps({{"throughput": throughput, "accuracy": accuracy}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 3 throughput epochs")
    args = parser.parse_args()
    epochs, seeds = (3, [0]) if args.quick else (6, [0, 1, 2])
    info = machine_info()
    print_machine(info)
    try:
        with ray_cluster() as cluster:
            code = MEASURE.format(sizes=LAYER_SIZES)
            done = cluster.run(
                [sys.executable, "-c", code, str(epochs), ",".join(map(str, seeds))],
                timeout=1200,
            )
    except Unavailable as why:
        print(f"skipped: {why}")
        return 0
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        return 1
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    one, two = measured["throughput"]["1"], measured["throughput"]["2"]
    ratio = two["samples_per_s"] / one["samples_per_s"]
    print_table(
        f"Throughput, MLP{list(LAYER_SIZES)}, 16,384 samples, {epochs} epochs",
        [
            {"workers": 1, "samples/s": one["samples_per_s"], "fit wall s": one["fit_s"]},
            {"workers": 2, "samples/s": two["samples_per_s"], "fit wall s": two["fit_s"]},
            {"workers": "2 / 1", "samples/s": f"{ratio:.2f}x", "fit wall s": None},
        ],
        ["workers", "samples/s", "fit wall s"],
    )
    local, ddp = measured["accuracy"]["local"], measured["accuracy"]["ddp"]
    print_table(
        f"Digits test accuracy, seeds {seeds}",
        [
            {"training": "local (1 process)", "mean": statistics.mean(local), "per seed": local},
            {"training": "ddp (2 workers)", "mean": statistics.mean(ddp), "per seed": ddp},
            {
                "training": "ddp - local",
                "mean": statistics.mean(ddp) - statistics.mean(local),
                "per seed": None,
            },
        ],
        ["training", "mean", "per seed"],
    )
    path = write_result(
        "ddp",
        {
            "quick": args.quick,
            "epochs": epochs,
            "seeds": seeds,
            "layer_sizes": LAYER_SIZES,
            "throughput": {"1": one, "2": two, "ratio_2_over_1": ratio},
            "accuracy": {"local": local, "ddp": ddp},
            "machine": info,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
