"""VAE: evidence lower bound on the 8x8 digits, and anomaly detection on GunPoint.

**ELBO**: ``VAE((1, 8, 8), latent_dim=8, encoder="conv", likelihood="bernoulli")`` (pixels in
[0, 1]) trained with the Trainer (Adam, lr 1e-3, batches of 64, KL warm-up over 10 epochs) on a
stratified 75/25 split; reported: the mean ELBO per image in nats (16 latent draws, beta = 1) on
the train and test images (higher is better; the gap shows over-fitting).

**Anomaly detection** (one-class): for each GunPoint class in turn, a VAE with the MLP encoder
and a Gaussian likelihood is trained on that class's training series only (flattened, 150
steps), then scores every test series; the other class is the anomaly. Reported: AUROC of the
negative ELBO and of the reconstruction error, beside a baseline measured in the same run: the
Euclidean distance to the nearest normal training series. AUROC is the Mann-Whitney rank
formula (``_zoo_common.auroc``).

Both parts: mean over ``--runs`` seeds.

    python bench/bench_neural_zoo.py --part vae [--quick] [--runs N] [--epochs N]

Results go to ``bench/results/neural_zoo_vae.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch

from _common import machine_info, print_machine, print_table, write_result
from _zoo_common import auroc, digits_split
from bench_neural_zoo import DATA
from zen.neural import VAE, Trainer
from zen.neural.datasets import load_sequences

ANOMALY_SET = "GunPoint"


def fit(vae: VAE, X: np.ndarray, epochs: int, seed: int, batch_size: int) -> float:
    """Train ``vae`` on ``X`` alone; return the training seconds."""
    trainer = Trainer(optimizer="adam", lr=1e-3, batch_size=batch_size, max_epochs=epochs,
                      seed=seed, progress=False)  # fmt: skip
    started = time.perf_counter()
    trainer.fit(vae, X)
    return time.perf_counter() - started


def mean_elbo(vae: VAE, X: np.ndarray, seed: int) -> float:
    """Mean ELBO per sample (nats) over ``X`` with 16 latent draws."""
    vae.eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        return float(vae.elbo(torch.from_numpy(X), 16, generator).mean())


def digits_elbo(epochs: int, seed: int) -> dict[str, float]:
    X_train, _, X_test, _ = digits_split()
    torch.manual_seed(seed)
    vae = VAE((1, 8, 8), 8, encoder="conv", likelihood="bernoulli")
    seconds = fit(vae, X_train, epochs, seed, 64)
    return {"train ELBO": mean_elbo(vae, X_train, seed), "test ELBO": mean_elbo(vae, X_test, seed),
            "train s": seconds}  # fmt: skip


def anomaly_aurocs(epochs: int, seed: int) -> list[dict[str, Any]]:
    """For each GunPoint class as the normal one: AUROC of the VAE's scores and the baseline."""
    loaded = load_sequences(DATA / ANOMALY_SET)
    assert isinstance(loaded, tuple)
    train, test = loaded
    X_train, X_test = train.X[:, 0, :], test.X[:, 0, :]
    y_train, y_test = train.label_codes(), test.label_codes()
    rows = []
    for normal in np.unique(y_train):
        normal_train = X_train[y_train == normal]
        anomalous = y_test != normal
        torch.manual_seed(seed)
        vae = VAE(X_train.shape[1], 8, hidden=(64, 32))
        seconds = fit(vae, normal_train, epochs, seed, 8)
        vae.eval()
        test_x = torch.from_numpy(X_test)
        generator = torch.Generator().manual_seed(seed)
        elbo_scores = vae.anomaly_score(test_x, "elbo", generator=generator).numpy()
        error_scores = vae.anomaly_score(test_x, "reconstruction").numpy()
        nearest = np.sqrt(((X_test[:, None, :] - normal_train[None]) ** 2).sum(-1)).min(axis=1)
        rows.append({"normal class": str(train.classes[normal]),
                     "AUROC -ELBO": auroc(elbo_scores, anomalous),
                     "AUROC reconstruction": auroc(error_scores, anomalous),
                     "AUROC 1-NN distance": auroc(nearest, anomalous),
                     "train s": seconds})  # fmt: skip
    return rows


def mean_rows(runs: list[list[dict[str, Any]]], key: str) -> list[dict[str, Any]]:
    """Average the numeric columns of equally shaped row lists, one list per seed."""
    averaged = []
    for rows in zip(*runs, strict=True):
        row = {key: rows[0][key]}
        for column in rows[0]:
            if column != key:
                row[column] = statistics.mean(r[column] for r in rows)
        averaged.append(row)
    return averaged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run of few epochs")
    parser.add_argument("--runs", type=int, default=0, help="seeds (default 3)")
    parser.add_argument("--epochs", type=int, default=0,
                        help="epochs (default 100 on digits, 300 on GunPoint)")  # fmt: skip
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    digits_epochs = args.epochs or (3 if args.quick else 100)
    gunpoint_epochs = args.epochs or (15 if args.quick else 300)
    info = machine_info()
    print_machine(info)
    # Warm-up: a process's first fit pays lazy imports (about 2 s), kept off the timed ones.
    fit(VAE(4, 1, hidden=(4,)), np.zeros((8, 4), dtype=np.float32), 1, 0, 8)
    digits = [{"set": "digits 8x8", **digits_elbo(digits_epochs, seed)} for seed in range(runs)]
    print_table(f"VAE (conv, Bernoulli) ELBO per image in nats on digits, {digits_epochs} epochs,"
                f" mean of {runs} run(s)", mean_rows([[row] for row in digits], "set")[:1],
                ["set", "train ELBO", "test ELBO", "train s"])  # fmt: skip
    anomaly = [anomaly_aurocs(gunpoint_epochs, seed) for seed in range(runs)]
    table = mean_rows(anomaly, "normal class")
    print_table(f"one-class anomaly detection on {ANOMALY_SET} (train on one class, the other is"
                f" anomalous), {gunpoint_epochs} epochs, mean of {runs} run(s)", table,
                list(table[0]))  # fmt: skip
    path = write_result("neural_zoo_vae", {
        "benchmark": "bench_neural_zoo --part vae", "quick": args.quick, "runs": runs,
        "digits_epochs": digits_epochs, "gunpoint_epochs": gunpoint_epochs, "machine": info,
        "digits": digits, "anomaly": anomaly})  # fmt: skip
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
