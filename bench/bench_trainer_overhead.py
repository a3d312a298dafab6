"""What zen's Trainer costs over a minimal hand-written PyTorch loop, on the same MLP and data.

Both sides train ``MLP([64, 256, 256, 10], activation="relu")`` on 20,000 x 64 synthetic float32
samples (10 classes from a random linear teacher) with Adam (lr 1e-3), cross-entropy, batches of
128, reshuffled every epoch, same seed and same thread count. The hand loop is what one writes
without a framework: ``randperm``, slicing, ``zero_grad``/forward/loss/``backward``/``step``.
The Trainer runs without validation, early stopping or progress bar. Each timed run covers the
whole training call (data checks and optimizer set-up included). The sides run in pairs, in
alternating order; the table gives each side's median samples per second and the median over
pairs of zen's speed relative to the hand loop (pairing cancels slow drifts of a shared machine).
Target: zen/hand >= 0.9; when it is missed the exit code is 1 and a cProfile of the Trainer is
printed to show where the time goes.

The Trainer's Adam runs torch's fused kernel (``zen.neural.optim``); the hand loop uses torch's
default Adam, as a plain loop does, or the fused one with ``--fused-hand``: that run compares
the Trainer's own overhead like for like.

Usage::

    python bench/bench_trainer_overhead.py            # full run, under half a minute on 2 cores
    python bench/bench_trainer_overhead.py --quick    # smoke run
    python bench/bench_trainer_overhead.py --profile  # also cProfile one Trainer run
    python bench/bench_trainer_overhead.py --fused-hand  # the hand loop's Adam fused too

Results go to ``bench/results/trainer_overhead.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn

from _common import machine_info, print_machine, print_table, write_result
from zen.compute import configure_threads
from zen.neural import MLP, Trainer

SEED = 0
LAYER_SIZES = (64, 256, 256, 10)
NUM_SAMPLES = 20_000
BATCH_SIZE = 128
LR = 1e-3
TARGET_RATIO = 0.9


def make_data() -> tuple[np.ndarray, np.ndarray]:
    """Features and class labels of a random linear teacher, as numpy (what users pass)."""
    rng = np.random.default_rng(SEED)
    X = rng.normal(size=(NUM_SAMPLES, LAYER_SIZES[0])).astype(np.float32)
    teacher = rng.normal(size=(LAYER_SIZES[0], LAYER_SIZES[-1]))
    return X, (X @ teacher).argmax(axis=1)


def make_model() -> MLP:
    torch.manual_seed(SEED)
    return MLP(LAYER_SIZES, activation="relu")


def train_with_zen(X: np.ndarray, labels: np.ndarray, epochs: int) -> tuple[float, float]:
    """Train with zen's Trainer; return (wall seconds, final training loss)."""
    model = make_model()
    trainer = Trainer(
        max_epochs=epochs,
        batch_size=BATCH_SIZE,
        optimizer="adam",
        lr=LR,
        loss="cross_entropy",
        seed=SEED,
        progress=False,
    )
    started = time.perf_counter()
    result = trainer.fit(model, X, labels)
    elapsed = time.perf_counter() - started
    return elapsed, result.history["train_loss"][-1]


#: Whether the hand loop's Adam uses torch's fused kernel (``--fused-hand``).
HAND_ADAM: dict[str, bool] = {}


def train_by_hand(X: np.ndarray, labels: np.ndarray, epochs: int) -> tuple[float, float]:
    """The minimal PyTorch loop; return (wall seconds, mean loss of the last epoch)."""
    model = make_model()
    started = time.perf_counter()
    features = torch.from_numpy(X)
    targets = torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, **HAND_ADAM)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(features), generator=generator)
        shuffled_features, shuffled_targets = features[order], targets[order]
        loss_sum = torch.zeros(())
        for start in range(0, len(features), BATCH_SIZE):
            inputs = shuffled_features[start : start + BATCH_SIZE]
            batch_targets = shuffled_targets[start : start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), batch_targets)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * len(inputs)
    elapsed = time.perf_counter() - started
    return elapsed, float(loss_sum) / len(features)


def profile_trainer(X: np.ndarray, labels: np.ndarray, epochs: int, top: int = 25) -> str:
    """cProfile of one Trainer run, sorted by own time (where the Python overhead is)."""
    profiler = cProfile.Profile()
    profiler.enable()
    train_with_zen(X, labels, epochs)
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(top)
    return report.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch, two runs per side")
    parser.add_argument("--repeats", type=int, default=None, help="runs per side (default 10)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per run (default 2)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one Trainer run")
    parser.add_argument(
        "--fused-hand",
        action="store_true",
        help="the hand loop's Adam fused too (like for like with the Trainer)",
    )
    args = parser.parse_args(argv)
    if args.fused_hand:
        HAND_ADAM["fused"] = True
    repeats = args.repeats or (2 if args.quick else 10)
    epochs = args.epochs or (1 if args.quick else 2)

    # zen's thread count (ZEN_NUM_THREADS or the usable cores), for the Trainer and hand loop.
    threads = configure_threads()
    X, labels = make_data()
    info = machine_info()
    print_machine(info)

    # Warm-up at full size: a process's first run pays one-off costs (lazy imports in torch,
    # the allocator growing its heap) that would otherwise land on whichever side goes first.
    train_by_hand(X, labels, 1)
    train_with_zen(X, labels, 1)

    zen_s, hand_s, zen_loss, hand_loss = [], [], [], []
    for index in range(repeats):
        # Alternate which side goes first so that drifts of the machine hit both.
        sides = (train_with_zen, train_by_hand)
        for train in sides if index % 2 == 0 else reversed(sides):
            elapsed, loss = train(X, labels, epochs)
            (zen_s if train is train_with_zen else hand_s).append(elapsed)
            (zen_loss if train is train_with_zen else hand_loss).append(loss)

    samples = NUM_SAMPLES * epochs
    zen_rate = samples / statistics.median(zen_s)
    hand_rate = samples / statistics.median(hand_s)
    pair_ratios = [hand / zen for zen, hand in zip(zen_s, hand_s, strict=True)]
    ratio = statistics.median(pair_ratios)
    rows = [
        {
            "model": "-".join(map(str, LAYER_SIZES)),
            "epochs": epochs,
            "threads": threads,
            "hand Adam": "fused" if args.fused_hand else "torch default",
            "zen samples/s": f"{zen_rate:,.0f}",
            "hand samples/s": f"{hand_rate:,.0f}",
            "zen/hand": f"{ratio:.3f}",
            "pairs min..max": f"{min(pair_ratios):.2f}..{max(pair_ratios):.2f}",
            "zen loss": statistics.median(zen_loss),
            "hand loss": statistics.median(hand_loss),
        }
    ]
    print_table(
        f"Trainer overhead: zen.neural.Trainer vs a hand-written loop ({repeats} pairs of runs,"
        f" medians; {NUM_SAMPLES:,} samples, batch {BATCH_SIZE}, Adam)",
        rows,
        list(rows[0]),
    )
    verdict = "meets" if ratio >= TARGET_RATIO else "is BELOW"
    print(f"zen/hand = {ratio:.3f}: {verdict} the target of {TARGET_RATIO}")

    profile = None
    if args.profile or ratio < TARGET_RATIO:
        profile = profile_trainer(X, labels, epochs)
        print(profile)
    path = write_result(
        "trainer_overhead",
        {
            "benchmark": "bench_trainer_overhead",
            "quick": args.quick,
            "repeats": repeats,
            "epochs": epochs,
            "layer_sizes": list(LAYER_SIZES),
            "num_samples": NUM_SAMPLES,
            "batch_size": BATCH_SIZE,
            "threads": threads,
            "fused_hand": args.fused_hand,
            "machine": info,
            "zen_s": zen_s,
            "hand_s": hand_s,
            "zen_samples_per_s": zen_rate,
            "hand_samples_per_s": hand_rate,
            "ratio_zen_over_hand": ratio,
            "pair_ratios": pair_ratios,
            "zen_final_loss": zen_loss,
            "hand_final_loss": hand_loss,
            "profile": profile,
        },
    )
    print(f"results: {path}")
    return 0 if ratio >= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
