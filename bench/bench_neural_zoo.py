"""zen.neural's networks on the archive's sequence classification sets, beside published figures
and 1-nearest-neighbour baselines measured in the same run.

**Protocol** (as the review of Fawaz et al. 2019 trained its networks): the archive's own train
and test files; Adam, learning rate 1e-3, mini-batches of ``min(16, n_train // 10)``, the
learning rate halved after 50 epochs without a lower training loss (down to 1e-4), a fixed
number of epochs (``--epochs``; the review: 1,500 for ResNet, 2,000 for FCN, 5,000 for the MLP),
and the weights of the epoch with the lowest *training* loss are kept, since the review has no
validation split: nothing is chosen on the test file. Test accuracy is the mean over ``--runs``
seeds (the review: 10).

**Baselines measured here**: 1-NN with Euclidean distance and 1-NN with dynamic time warping
(full window), written in NumPy below (the archive's standard baselines).

**Published** (Fawaz et al. 2019, Table/Fig. of the 85 UCR sets, mean of 10 runs) are printed
beside, never mixed with the measured ones. Target: within 1 point of the published ResNet on each
set and ahead of it on at least one.

    python bench/bench_neural_zoo.py [--quick] [--runs N] [--epochs N] [--models A,B] [--sets A,B]

``--models`` takes registered sequence classifiers, each optionally with settings that override
its registered ones: ``RecurrentNet,RecurrentNet:cell=gru,TransformerNet:layers=3:heads=2``.
Results go to ``bench/results/neural_zoo.json``.

The other parts of issue 17's benchmarks live in their own files and run through ``--part``
or directly as ``python bench/bench_neural_zoo_<part>.py`` (each takes ``--quick``; see its
docstring):

* ``throughput``: Trainer vs a hand loop (samples/s) and ONNX vs eager latency, every network;
* ``moe``: MoEMLP vs a dense MLP of the same active FLOPs on digits;
* ``ode``: NeuralODE vs ResNet on ItalyPowerDemand (accuracy, time, NFE);
* ``cascade``: CascadeCorrelation vs libfann's cascade training;
* ``vae``: VAE ELBO on digits and anomaly-detection AUROC on GunPoint.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import machine_info, print_machine, print_table, write_result
from zen import registry
from zen.neural import Trainer
from zen.neural.datasets import SequenceSet, load_sequences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sequence"
SETS = ("GunPoint", "ItalyPowerDemand", "ArrowHead")
#: Fawaz et al. 2019, mean test accuracy (%) over 10 runs, for MLP / FCN / ResNet.
PUBLISHED = {
    "GunPoint": {"MLP": 92.7, "FCN": 100.0, "ResNet": 99.1},
    "ItalyPowerDemand": {"MLP": 95.4, "FCN": 96.1, "ResNet": 96.3},
    "ArrowHead": {"MLP": 77.8, "FCN": 84.3, "ResNet": 84.5},
}


def nearest_neighbour(train: SequenceSet, test: SequenceSet, metric: str) -> float:
    """Test accuracy (%) of 1-NN with ``metric`` ``"euclidean"`` or ``"dtw"`` (full window)."""
    a, b = _univariate(test), _univariate(train)
    if metric == "euclidean":
        distances = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    else:
        distances = _dtw(a, b)
    predicted = np.asarray(train.y)[distances.argmin(axis=1)]
    return 100.0 * float(np.mean(predicted == np.asarray(test.y)))


def _univariate(data: SequenceSet) -> np.ndarray:
    if data.n_channels != 1 or int(data.lengths.min()) != data.max_length:
        raise SystemExit(f"{data.name}: the 1-NN baselines here need equal-length univariate data")
    return data.X[:, 0, :].astype(np.float64)


def _dtw(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DTW distances between every row of ``a`` and of ``b`` (squared point costs), by the
    textbook recurrence vectorised over all pairs (Sakoe & Chiba 1978, no window)."""
    length = a.shape[1]
    previous = np.full((a.shape[0], b.shape[0], length + 1), np.inf)
    previous[..., 0] = 0.0
    for i in range(length):
        current = np.full_like(previous, np.inf)
        step = (a[:, None, i, None] - b[None, :, :]) ** 2  # cost of (i, j) for every j
        for j in range(length):
            best = np.minimum(np.minimum(previous[..., j + 1], previous[..., j]), current[..., j])
            current[..., j + 1] = step[..., j] + best
        previous = current
    return previous[..., length]


def parse_model(text: str) -> tuple[str, dict[str, Any]]:
    """``"Name:key=value:..."`` -> the registered name and its overriding settings (values read
    as JSON when they parse, else kept as strings).

    >>> parse_model("RecurrentNet:cell=gru:hidden_size=32")
    ('RecurrentNet', {'cell': 'gru', 'hidden_size': 32})
    """
    name, *settings = text.split(":")
    options: dict[str, Any] = {}
    for setting in settings:
        key, _, value = setting.partition("=")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return name, options


def protocol_trainer(n_train: int, epochs: int, seed: int) -> Trainer:
    """The Trainer of the protocol above for a training set of ``n_train`` cases."""
    return Trainer(
        loss="cross_entropy", optimizer="adam", lr=1e-3, max_epochs=epochs, seed=seed,
        batch_size=max(1, min(16, n_train // 10)), monitor="train_loss",
        # Patience of every epoch: never stops, but restores the lowest-training-loss weights.
        early_stopping=epochs, scheduler="plateau",
        scheduler_options={"factor": 0.5, "patience": 50, "min_lr": 1e-4},
    )  # fmt: skip


def train_network(model_name: str, train: SequenceSet, test: SequenceSet, epochs: int,
                  seed: int) -> tuple[float, float]:  # fmt: skip
    """Test accuracy (%) and training seconds of zen's sequence candidate ``model_name``
    (``Name:key=value...``, see :func:`parse_model`)."""
    name, options = parse_model(model_name)
    spec = registry.get(name, "sequence classifier")
    shape = (train.n_channels, train.max_length, len(train.classes))
    torch.manual_seed(seed)
    model = spec.create(shape, options)
    trainer = protocol_trainer(train.n_cases, epochs, seed)
    started = time.perf_counter()
    trainer.fit(model, train.X, train.label_codes())
    seconds = time.perf_counter() - started
    predicted = np.asarray(trainer.predict(None, test.X)).argmax(axis=1)
    return 100.0 * float(np.mean(predicted == test.label_codes())), seconds


PARTS = {"throughput": "bench_neural_zoo_throughput", "moe": "bench_neural_zoo_moe",
         "ode": "bench_neural_zoo_ode", "cascade": "bench_neural_zoo_cascade",
         "vae": "bench_neural_zoo_vae"}  # fmt: skip


def main() -> int:
    parts = argparse.ArgumentParser(add_help=False)
    parts.add_argument("--part", default="classify", choices=["classify", *PARTS])
    chosen, rest = parts.parse_known_args()
    if chosen.part != "classify":
        module = importlib.import_module(PARTS[chosen.part])
        return int(module.main(rest))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", default="classify", help="classify (this), or one of "
                        + ", ".join(PARTS))  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="2 runs of 100 epochs")
    parser.add_argument("--runs", type=int, default=0, help="seeds per model (default 5)")
    parser.add_argument("--epochs", type=int, default=0, help="epochs per run (default 1500)")
    parser.add_argument("--models", default="MLP,FCN,ResNet", help="zen sequence candidates")
    parser.add_argument("--sets", default=",".join(SETS), help="data sets under " + str(DATA))
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)
    epochs = args.epochs or (100 if args.quick else 1500)
    info = machine_info()
    print_machine(info)
    print(f"{runs} run(s) of {epochs} epochs per model and set", flush=True)
    rows: list[dict[str, Any]] = []
    for set_name in args.sets.split(","):
        loaded = load_sequences(DATA / set_name)
        assert isinstance(loaded, tuple)
        train, test = loaded
        started = time.perf_counter()
        row: dict[str, Any] = {
            "set": set_name,
            "1-NN ED": nearest_neighbour(train, test, "euclidean"),
        }
        row["1-NN DTW"] = nearest_neighbour(train, test, "dtw")
        print(f"{set_name}: 1-NN ED {row['1-NN ED']:.1f}, DTW {row['1-NN DTW']:.1f}"
              f" ({time.perf_counter() - started:.1f} s)", flush=True)  # fmt: skip
        for model in args.models.split(","):
            scores, seconds = [], []
            for seed in range(runs):
                accuracy, took = train_network(model, train, test, epochs, seed)
                scores.append(accuracy)
                seconds.append(took)
                print(f"  {model} seed {seed}: {accuracy:.1f} % in {took:.0f} s", flush=True)
            row[model] = statistics.mean(scores)
            row[f"{model} runs"] = scores
            row[f"{model} train s"] = statistics.median(seconds)
            published = PUBLISHED.get(set_name, {}).get(model)
            row[f"{model} published"] = published
        rows.append(row)
    columns = ["set", "1-NN ED", "1-NN DTW"]
    for model in args.models.split(","):
        columns += [model, f"{model} published", f"{model} train s"]
    print_table(f"test accuracy (%), zen: mean of {runs} run(s) of {epochs} epochs; published:"
                " Fawaz et al. 2019, mean of 10", rows, columns)  # fmt: skip
    if "ResNet" in args.models.split(","):
        gaps = {row["set"]: row["ResNet"] - (row["ResNet published"] or float("nan"))
                for row in rows}  # fmt: skip
        within = all(gap >= -1.0 for gap in gaps.values())
        ahead = any(gap > 0 for gap in gaps.values())
        print(f"ResNet vs published: {', '.join(f'{k} {v:+.1f}' for k, v in gaps.items())};"
              f" within 1 point on each: {within}; ahead on one: {ahead}")  # fmt: skip
    write_result("neural_zoo", {"machine": info, "runs": runs, "epochs": epochs, "rows": rows,
                                "quick": args.quick})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
