"""Train the assistant: dataset, FFT-size study, network, INT8 copy, and the measured errors.

:func:`train_assistant` is what ``make train-assistant`` runs (through
``tools/train_assistant.py``):

1. the reference balance and width of the train tracks (:mod:`zen.audio.assistant.reference`),
   then examples of the train / val / test tracks brought to it
   (:mod:`zen.audio.assistant.dataset`, cached);
2. for every FFT size, a network trained with :class:`zen.neural.Trainer` (AdamW, L1 on the
   scaled targets, early stopping on the val tracks) and its errors on the val and test tracks;
3. of the FFT sizes whose val error is within ``fft_tolerance`` of the best, the one with the
   cheapest measured feature extraction is kept (:func:`choose_fft_size`): its network is
   written as the shipped weights (``assistant.safetensors`` + ``assistant.json``);
4. that network is quantised to INT8 (:func:`zen.export.quantize.quantize_int8`, dynamic,
   onnxruntime) into ``assistant-int8.onnx``, and both are evaluated per held-out track.

Errors are mean absolute errors in the corrections' own units, next to a baseline that
always predicts the median training target, which is "no correction" for every parameter:
what an assistant that does not listen scores.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zen.audio.assistant.corpus import SOURCES, SPLITS, Track, read_manifest
from zen.audio.assistant.dataset import (
    REFERENCE_LUFS,
    DatasetConfig,
    Examples,
    build_split,
    corpus_reference,
)
from zen.audio.assistant.features import window_features
from zen.audio.assistant.model import (
    INT8_FILE,
    TARGET_NAMES,
    TARGET_SCALES,
    AssistantWeights,
    build_network,
)
from zen.errors import ConfigError
from zen.neural.seeding import private_rng
from zen.neural.trainer import Trainer

logger = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], np.ndarray]  # standardised features -> scaled outputs


@dataclass(frozen=True)
class TrainingConfig:
    """Network and optimisation settings (defaults: the shipped model)."""

    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.3
    # L1: when the audio does not tell, the best guess is "no correction" (the median), which
    # is what a user wants from an assistant; MSE's mean smears a guess over every parameter.
    loss: str = "mae"
    max_epochs: int = 400
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-2
    early_stopping: int = 40
    seed: int = 0
    fft_tolerance: float = 0.02  # FFT sizes within 2 % of the best val error keep the accuracy


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale of the training features (scale at least 0.05: features are
    dB or correlations, and a feature constant in training must not blow up later)."""
    mean = features.mean(axis=0)
    scale = np.maximum(features.std(axis=0), 0.05)
    return mean.astype(np.float32), scale.astype(np.float32)


def fit_network(
    train: Examples, val: Examples, n_fft: int, dataset: DatasetConfig, config: TrainingConfig
) -> tuple[AssistantWeights, dict[str, Any]]:
    """Train one network on the features of FFT size ``n_fft``; returns it and its fit summary."""
    mean, scale = standardisation(train.features[n_fft])
    with private_rng(config.seed):  # repeatable initial weights, caller's RNG untouched
        network = build_network(len(mean), config.hidden, config.dropout)
    weights = AssistantWeights(network, mean, scale, dataset.feature_config(n_fft), config={})
    trainer = Trainer(
        max_epochs=config.max_epochs,
        batch_size=config.batch_size,
        optimizer="adamw",
        lr=config.lr,
        weight_decay=config.weight_decay,
        loss=config.loss,
        early_stopping=config.early_stopping,
        scheduler="plateau",
        seed=config.seed,
        metrics=["mae"],
    )
    result = trainer.fit(
        network,
        weights.standardise(train.features[n_fft]),
        train.targets,
        val=(weights.standardise(val.features[n_fft]), val.targets),
    )
    weights.network = network.cpu().eval()
    summary = {
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_score,
        "train_time_s": round(result.train_time_s, 1),
    }
    return weights, summary


def torch_predictor(weights: AssistantWeights) -> Predict:
    """Scaled outputs of the fp32 network for standardised features."""

    def predict(features: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return weights.network(torch.from_numpy(np.ascontiguousarray(features))).numpy()

    return predict


def errors(predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Mean absolute error per output, in correction units (dB/oct, dB, amount, octaves, dB),
    plus ``mean_scaled``: the mean over outputs of the error divided by each output's range."""
    absolute = np.abs(predictions - targets)
    per_output = absolute.mean(axis=0) * TARGET_SCALES
    report = {name: round(float(v), 4) for name, v in zip(TARGET_NAMES, per_output, strict=True)}
    report["mean_scaled"] = round(float(absolute.mean()), 5)
    return report


def evaluate(
    predict: Predict, weights: AssistantWeights, examples: Examples, baseline: np.ndarray
) -> dict[str, Any]:
    """Errors of ``predict`` on ``examples``: overall, per track, and the baseline's."""
    n_fft = weights.features.n_fft
    predictions = predict(weights.standardise(examples.features[n_fft]))
    constant = np.broadcast_to(baseline, examples.targets.shape)
    per_track = {}
    for index, track in enumerate(examples.tracks):
        rows = examples.track == index
        per_track[track] = {
            "examples": int(rows.sum()),
            **errors(predictions[rows], examples.targets[rows]),
            "baseline_mean_scaled": errors(constant[rows], examples.targets[rows])["mean_scaled"],
        }
    return {
        "examples": len(examples),
        "overall": errors(predictions, examples.targets),
        "baseline": errors(constant, examples.targets),
        "per_track": per_track,
    }


def feature_cost_ms(
    sizes: tuple[int, ...], dataset: DatasetConfig, rounds: int = 15
) -> dict[int, float]:
    """Median time (ms) to compute the features of one window at each FFT size.

    Sizes are timed in interleaved rounds, so load that comes and goes hits them alike.
    """
    window = (
        np.random.default_rng(0)
        .normal(scale=0.1, size=(round(dataset.window_s * dataset.sample_rate), 2))
        .astype(np.float32)
    )
    configs = {size: dataset.feature_config(size) for size in sizes}
    times: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size, feature_config in configs.items():
            started = time.perf_counter()
            window_features(window, feature_config)
            times[size].append(1000.0 * (time.perf_counter() - started))
    return {size: float(np.median(values)) for size, values in times.items()}


def choose_fft_size(
    study: dict[int, dict[str, Any]], tolerance: float, cost_ms: dict[int, float]
) -> int:
    """The cheapest FFT size whose val error is within ``tolerance`` (relative) of the best.

    "Cheapest" is the measured feature time; sizes within 10 % of the fastest count as equally
    fast, and the smallest of those wins. A smaller FFT is not cheaper per window by itself:
    it makes more frames, and the per-frame work (band pooling, levels, percentiles) grows
    with them (see the benchmark's FFT-size study).
    """
    best = min(entry["val"]["overall"]["mean_scaled"] for entry in study.values())
    accurate = [size for size, entry in study.items()
                if entry["val"]["overall"]["mean_scaled"] <= best * (1.0 + tolerance)]  # fmt: skip
    fastest = min(cost_ms[size] for size in accurate)
    return min(size for size in accurate if cost_ms[size] <= 1.1 * fastest)


def quantise(
    weights: AssistantWeights, out_dir: Path, test: Examples
) -> tuple[Predict | None, dict[str, Any]]:
    """Write the INT8 copy next to the weights; its predictor and the quantisation report.

    Without onnxruntime the INT8 copy is skipped (logged) and the predictor is None.
    """
    from zen.errors import BackendUnavailable
    from zen.export.onnx import load_onnx_session
    from zen.export.quantize import quantize_int8

    n_fft = weights.features.n_fft
    inputs = weights.standardise(test.features[n_fft])
    try:
        report = quantize_int8(
            weights.network,
            path=out_dir / INT8_FILE,
            method="dynamic",
            evaluation=(inputs, test.targets),
            metric="mae",
            latency_batch_size=4,
        )
    except BackendUnavailable as error:
        logger.info("INT8 assistant skipped: %s", error)
        return None, {"skipped": str(error)}
    session = load_onnx_session(out_dir / INT8_FILE, threads=1).session

    def predict(features: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(None, {"x": features.astype(np.float32)})[0])

    return predict, {
        "file": INT8_FILE,
        "method": report.method,
        "size_bytes": report.size_after_bytes,
        "fp32_onnx_size_bytes": report.size_before_bytes,
        "output_max_abs_diff": report.output_max_abs_diff,
    }


def train_assistant(
    audio_root: str | Path,
    out_dir: str | Path,
    cache_dir: str | Path | None = None,
    *,
    dataset: DatasetConfig | None = None,
    config: TrainingConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Build the data, run the FFT study, write the weights (and INT8 copy); return the report.

    Args:
        audio_root: folder written by ``tools/fetch_training_audio.py`` (with manifest.json).
        out_dir: where ``assistant.safetensors``, ``assistant.json`` and the INT8 file go.
        cache_dir: cache of per-track examples (None: no cache).
        dataset, config: settings (defaults: the shipped model's).
        progress: called with a line of text at each step (the script prints them).
    """
    dataset = dataset or DatasetConfig()
    config = config or TrainingConfig()
    say = progress or (lambda message: None)
    root, out_dir = Path(audio_root), Path(out_dir)
    cache = Path(cache_dir) if cache_dir is not None else None
    started = time.perf_counter()
    tracks = read_manifest(root)
    by_split = {split: [track for track in tracks if track.split == split] for split in SPLITS}
    for split, chosen in by_split.items():
        if not chosen:
            raise ConfigError(
                f"the corpus has no {split} tracks; run tools/fetch_training_audio.py"
            )
    reference = corpus_reference(by_split["train"], root, dataset, cache)
    say(f"reference: side - mid {reference.side_minus_mid_db:.1f} dB")
    splits = {
        split: build_split(chosen, root, dataset, cache, say, reference)
        for split, chosen in by_split.items()
    }
    train, val, test = splits["train"], splits["val"], splits["test"]
    baseline = np.median(train.targets, axis=0)
    say(f"examples: {len(train)} train, {len(val)} val, {len(test)} test")

    study: dict[int, dict[str, Any]] = {}
    networks: dict[int, AssistantWeights] = {}
    for n_fft in dataset.fft_sizes:
        weights, summary = fit_network(train, val, n_fft, dataset, config)
        predict = torch_predictor(weights)
        study[n_fft] = {
            "fit": summary,
            "val": evaluate(predict, weights, val, baseline),
            "test": evaluate(predict, weights, test, baseline),
        }
        networks[n_fft] = weights
        say(
            f"n_fft {n_fft}: val error {study[n_fft]['val']['overall']['mean_scaled']:.4f},"
            f" test {study[n_fft]['test']['overall']['mean_scaled']:.4f}"
            f" ({summary['epochs']} epochs, {summary['train_time_s']} s)"
        )
    cost_ms = feature_cost_ms(tuple(study), dataset)
    n_fft = choose_fft_size(study, config.fft_tolerance, cost_ms)
    weights = networks[n_fft]
    say(f"feature time per window: {cost_ms} ms; chosen n_fft {n_fft}")

    weights.save(out_dir)  # the INT8 export reads the saved network
    int8_predict, int8 = quantise(weights, out_dir, test)
    test_fp32 = study[n_fft]["test"]
    evaluation: dict[str, Any] = {"fp32": test_fp32}
    if int8_predict is not None:
        evaluation["int8"] = evaluate(int8_predict, weights, test, baseline)
    report = {
        "reference_lufs": REFERENCE_LUFS,
        "reference": reference.to_json(),
        "dataset_config": dataset.to_json(),
        "dataset": {
            "examples": {"train": len(train), "val": len(val), "test": len(test)},
            "tracks": _track_summary(tracks),
            "sources": [asdict(source) for source in SOURCES],
        },
        "training": {**asdict(config), **study[n_fft]["fit"]},
        "baseline_targets": baseline.tolist(),
        "fft_study": {
            str(size): {
                "feature_ms": round(cost_ms[size], 2),
                "val_mean_scaled": entry["val"]["overall"]["mean_scaled"],
                "test_mean_scaled": entry["test"]["overall"]["mean_scaled"],
                "test": entry["test"]["overall"],
                "fit": entry["fit"],
            }
            for size, entry in study.items()
        },
        "chosen_n_fft": n_fft,
        # Per-output errors on the validation tracks: what zen.audio.assistant.abstention
        # decides from (select on validation; the test split below is only reported).
        "validation": {
            key: study[n_fft]["val"][key] for key in ("examples", "overall", "baseline")
        },
        "evaluation": evaluation,
        "int8": int8,
        "parameters": sum(p.numel() for p in weights.network.parameters()),
        "total_time_s": round(time.perf_counter() - started, 1),
    }
    weights.save(out_dir, extra={"training_report": report})
    if int8_predict is not None:  # the INT8 file was made from these same weights
        from zen.export.onnx import read_sidecar

        report["int8"]["onnx_sha256"] = read_sidecar(out_dir / INT8_FILE)["onnx_sha256"]
        weights.save(out_dir, extra={"training_report": report})
    return report


def _track_summary(tracks: list[Track]) -> dict[str, Any]:
    held_out = {
        split: [{"id": t.id, "style": t.style, "licence": t.licence} for t in tracks
                if t.split == split]
        for split in ("val", "test")
    }  # fmt: skip
    return {"train": sum(t.split == "train" for t in tracks), **held_out}
