"""Throughput of zen.neural's networks: the Trainer vs a hand-written PyTorch loop, and ONNX
Runtime vs eager PyTorch inference.

**Training**: for every network below, both sides train the same freshly seeded model on the
same synthetic data (random labels from a fixed teacher; throughput does not depend on what is
learned) with Adam (lr 1e-3), the same batch size, seed and thread count. The hand loop is
``randperm``, slicing, ``zero_grad``/forward/loss/``backward``/``step`` (as in
``bench_trainer_overhead.py``); its loss is the one the Trainer computes for that model: the
model's own ``training_loss`` when it has one (VAE, MoEMLP), else cross-entropy plus
``auxiliary_loss()`` when the model has one. Each timed run is the whole training call. Sides
run in pairs, alternating which goes first; reported per model: each side's median samples/s
and the median over pairs of hand time / zen time. Target: >= 0.95 (exit code 1 when a
model misses it). The Trainer's Adam runs torch's fused kernel; the hand loop uses torch's
default Adam as a plain loop does, or the fused one with ``--fused-hand`` (the Trainer's own
overhead, like for like).

**Inference**: the model is exported with ``zen.export.export_onnx`` and run by onnxruntime
(same thread count) and by eager PyTorch under ``torch.inference_mode``; median latency at
batch 1 and 64 (the two timed in alternation), and the ratio eager / ONNX (> 1: ONNX
faster). Both are multi-threaded: on a shared machine, other work stalls their threads and
inflates the medians (the script warns when the CPU was busy).

    python bench/bench_neural_zoo.py --part throughput [--quick] [--pairs N] [--threads N]
        [--only A,B] [--fused-hand]

Results go to ``bench/results/neural_zoo_throughput.json``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from _common import machine_info, median_of, print_machine, print_table, write_result
from zen.compute import configure_threads
from zen.neural import Trainer
from zen.neural.losses import get_loss
from zen.neural.nets import (
    FCN,
    VAE,
    ConvNet,
    MoEMLP,
    NeuralODE,
    RecurrentNet,
    ResNet,
    SequenceMLP,
    TransformerNet,
)

SEED = 0
LR = 1e-3
TARGET_RATIO = 0.95
CHANNELS, LENGTH, CLASSES, FEATURES = 3, 64, 4, 64


@dataclass(frozen=True)
class Case:
    """One network: how to build it, what data it reads and the batch size."""

    name: str
    build: Callable[[], nn.Module]
    data: str  # "sequence", "table" or "image"
    batch_size: int = 32


CASES = (
    Case("ConvNet", lambda: ConvNet(CHANNELS, CLASSES, channels=(32, 64, 64)), "sequence"),
    Case("ResNet", lambda: ResNet(CHANNELS, CLASSES, channels=(32, 64, 64)), "sequence"),
    Case("FCN", lambda: FCN(CHANNELS, CLASSES, channels=(64, 128, 64)), "sequence"),
    Case("RecurrentNet lstm", lambda: RecurrentNet(CHANNELS, CLASSES, cell="lstm"), "sequence"),
    Case(
        "TransformerNet",
        lambda: TransformerNet(CHANNELS, CLASSES, d_model=64, heads=4, layers=2),
        "sequence",
    ),
    Case("VAE conv", lambda: VAE((1, 8, 8), 8, encoder="conv"), "image", 64),
    Case("MoEMLP", lambda: MoEMLP(FEATURES, CLASSES, d_model=64, num_experts=4, k=2), "table", 64),
    Case(
        "NeuralODE rk4",
        lambda: NeuralODE(FEATURES, CLASSES, solver="rk4", step_size=0.25),
        "table",
        64,
    ),
    Case("SequenceMLP", lambda: SequenceMLP(CHANNELS, LENGTH, CLASSES), "sequence"),
)


def make_data(kind: str, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs of ``kind`` and class labels from a random linear teacher on their flattening."""
    rng = np.random.default_rng(SEED)
    shape = {"sequence": (CHANNELS, LENGTH), "table": (FEATURES,), "image": (1, 8, 8)}[kind]
    X = rng.normal(size=(samples, *shape)).astype(np.float32)
    if kind == "image":  # pixel-like values
        X = 1.0 / (1.0 + np.exp(-X))
    teacher = rng.normal(size=(int(np.prod(shape)), CLASSES))
    return X, (X.reshape(samples, -1) @ teacher).argmax(axis=1)


def build(case: Case) -> nn.Module:
    torch.manual_seed(SEED)
    return case.build()


def train_with_zen(case: Case, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """Seconds of one Trainer fit (no validation, early stopping or progress bar)."""
    model = build(case)
    trainer = Trainer(max_epochs=epochs, batch_size=case.batch_size, optimizer="adam", lr=LR,
                      loss="cross_entropy", seed=SEED, progress=False)  # fmt: skip
    started = time.perf_counter()
    trainer.fit(model, X, None if case.data == "image" else y)
    return time.perf_counter() - started


#: Whether the hand loop's Adam uses torch's fused kernel (``--fused-hand``).
HAND_ADAM: dict[str, bool] = {}


def train_by_hand(case: Case, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
    """Seconds of the minimal PyTorch loop on the same model and data."""
    model = build(case)
    started = time.perf_counter()
    features, targets = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, **HAND_ADAM)
    loss_fn = nn.CrossEntropyLoss()
    # A model's own training_loss reads the loss's name to shape targets: give it zen's.
    named_loss_fn = get_loss("cross_entropy")
    generator = torch.Generator().manual_seed(SEED)
    custom = getattr(model, "training_loss", None)
    auxiliary = getattr(model, "auxiliary_loss", None)
    model.train()
    for epoch in range(1, epochs + 1):
        if hasattr(model, "on_epoch_start"):  # the VAE's KL warm-up
            model.on_epoch_start(None, epoch)
        order = torch.randperm(len(features), generator=generator)
        shuffled_features, shuffled_targets = features[order], targets[order]
        for start in range(0, len(features), case.batch_size):
            inputs = shuffled_features[start : start + case.batch_size]
            batch_targets = shuffled_targets[start : start + case.batch_size]
            optimizer.zero_grad(set_to_none=True)
            if custom is not None:
                loss = custom((inputs, batch_targets), named_loss_fn).loss
            else:
                loss = loss_fn(model(inputs), batch_targets)
                if auxiliary is not None:
                    loss = loss + auxiliary()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def training_row(case: Case, samples: int, epochs: int, pairs: int) -> dict[str, Any]:
    """Paired, alternating runs of both sides; medians and the median pair ratio."""
    X, y = make_data(case.data, samples)
    train_by_hand(case, X[:256], y[:256], 1)  # warm-up: first-call costs land on neither side
    train_with_zen(case, X[:256], y[:256], 1)
    zen_s, hand_s = [], []
    for index in range(pairs):
        sides = (train_with_zen, train_by_hand)
        for train in sides if index % 2 == 0 else reversed(sides):
            (zen_s if train is train_with_zen else hand_s).append(train(case, X, y, epochs))
    ratios = [hand / zen for zen, hand in zip(zen_s, hand_s, strict=True)]
    return {"model": case.name, "batch": case.batch_size,
            "zen samples/s": samples * epochs / statistics.median(zen_s),
            "hand samples/s": samples * epochs / statistics.median(hand_s),
            "zen/hand": statistics.median(ratios),
            "pairs min..max": f"{min(ratios):.2f}..{max(ratios):.2f}",
            "zen_s": zen_s, "hand_s": hand_s}  # fmt: skip


def paired_medians_ms(
    first: Callable[[], None], second: Callable[[], None], runs: int
) -> tuple[float, float]:
    """Median milliseconds of ``first`` and ``second`` timed in alternation (after 3 untimed
    calls each), so that a busy spell of the machine hits both."""
    for _ in range(3):
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for call, spent in ((first, times[0]), (second, times[1])):
            spent.append(1000 * median_of(call, 1)[0])
    return statistics.median(times[0]), statistics.median(times[1])


def latency_row(case: Case, runs: int, threads: int, folder: Path) -> dict[str, Any]:
    """Median eager and onnxruntime latency (ms) at batch 1 and 64 of a freshly built model."""
    import onnxruntime

    from zen.export import export_onnx

    model = build(case).eval()
    X, _ = make_data(case.data, 64)
    path = folder / f"{case.name.replace(' ', '_')}.onnx"
    report = export_onnx(model, path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    row: dict[str, Any] = {"model": case.name, "parity max abs": report.max_abs_diff}
    for batch in (1, 64):
        inputs = X[:batch]
        tensor = torch.from_numpy(inputs)

        def eager(tensor: torch.Tensor = tensor) -> None:
            with torch.inference_mode():
                model(tensor)

        def onnx(inputs: np.ndarray = inputs) -> None:
            session.run(None, {input_name: inputs})

        eager_ms, onnx_ms = paired_medians_ms(eager, onnx, runs)
        row[f"eager ms b{batch}"] = eager_ms
        row[f"onnx ms b{batch}"] = onnx_ms
        row[f"eager/onnx b{batch}"] = eager_ms / onnx_ms
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, 2 pairs, 20 latencies")
    parser.add_argument("--pairs", type=int, default=0, help="training pairs (default 7)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and onnxruntime threads (default: zen's choice)")  # fmt: skip
    parser.add_argument("--only", default="", help="comma-separated model names (default all)")
    parser.add_argument(
        "--fused-hand",
        action="store_true",
        help="the hand loop's Adam fused too (like for like with the Trainer)",
    )
    args = parser.parse_args(argv)
    if args.fused_hand:
        HAND_ADAM["fused"] = True
    pairs = args.pairs or (2 if args.quick else 7)
    samples, epochs = (512, 1) if args.quick else (4096, 2)
    latency_runs = 20 if args.quick else 200
    cases = [case for case in CASES if not args.only or case.name in args.only.split(",")]
    threads = configure_threads(args.threads)
    info = machine_info()
    print_machine(info)
    training, latency = [], []
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            training.append(training_row(case, samples, epochs, pairs))
            print(f"  {case.name}: zen/hand {training[-1]['zen/hand']:.3f}", flush=True)
            latency.append(latency_row(case, latency_runs, threads, Path(folder)))
    hand_adam = "fused" if args.fused_hand else "default"
    print_table(f"training throughput, zen Trainer vs hand loop ({pairs} pairs, {samples:,}"
                f" samples x {epochs} epoch(s), Adam ({hand_adam} in the hand loop),"
                f" {threads} threads; zen/hand = hand time /"
                " zen time, median over pairs)", training,
                ["model", "batch", "zen samples/s", "hand samples/s", "zen/hand",
                 "pairs min..max"])  # fmt: skip
    below = [row["model"] for row in training if row["zen/hand"] < TARGET_RATIO]
    print(f"target zen/hand >= {TARGET_RATIO}: " + (f"missed by {', '.join(below)}" if below
                                                    else "met by every model"))  # fmt: skip
    print_table(f"inference latency, eager PyTorch vs onnxruntime ({latency_runs} runs, medians;"
                " eager/onnx > 1: ONNX faster)", latency, list(latency[0]))  # fmt: skip
    path = write_result("neural_zoo_throughput", {
        "benchmark": "bench_neural_zoo --part throughput", "quick": args.quick,
        "fused_hand": args.fused_hand, "pairs": pairs, "samples": samples, "epochs": epochs,
        "threads": threads, "machine": info,
        "training": training, "latency": latency})  # fmt: skip
    print(f"results: {path}")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
