"""The mastering assistant: held-out errors (fp32 vs INT8), size, latency, cache, FFT size.

Measured on the shipped weights (``src/zen/audio/weights``):

* **Error per parameter and per held-out track**, fp32 (torch) and INT8 (onnxruntime), as
  mean absolute error in each correction's unit, next to a baseline that always predicts the
  training mean. Held-out tracks are whole tracks of every style in the corpus (see
  ``zen.audio.assistant.corpus``), with the same random degradations for both backends. The
  INT8 gate: per track, INT8's mean scaled error is no more than 2 % above fp32's.
* **Size**: fp32 safetensors file and parameter bytes, fp32 ONNX, INT8 ONNX, and the ratio.
* **Latency** of one analysis of a 3 s stereo window at 44.1 kHz (features + network, cache
  off), median of many, fp32 and INT8; and of the network alone (batch of 1 and of 6
  windows), torch fp32, onnxruntime fp32 and onnxruntime INT8, all on one thread.
* **Cache hit rate** in a simulated session: a user loads tracks and re-analyses them while
  adjusting settings, trims one, goes back and forth.
* **FFT-size study**: the held-out error of a network trained at each FFT size (from training,
  in the weights' config) and the feature-extraction time of each size, measured here. The
  shipped size is the cheapest to compute among those within 2 % of the best val error; at a
  3 s window a smaller FFT is not cheaper (more frames, more per-frame work).

Needs the corpus (``tools/fetch_training_audio.py``) for the per-track errors; without it only
the shared Drascula excerpts are evaluated (skipped when absent too).

    python bench/bench_audio_assistant.py [--runs 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# One BLAS thread, set before numpy loads: BLAS threads spinning against each other on a small
# busy machine cost more than the tiny products here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median_of, print_machine, print_table, write_result
from zen.audio.assistant import Assistant
from zen.audio.assistant.corpus import read_manifest, shared_tracks
from zen.audio.assistant.dataset import DatasetConfig, build_split
from zen.audio.assistant.features import FFT_SIZES, FeatureConfig, window_features
from zen.audio.assistant.model import (
    CONFIG_FILE,
    INT8_FILE,
    TARGET_NAMES,
    TARGET_SCALES,
    WEIGHTS_DIR,
    WEIGHTS_FILE,
)
from zen.audio.assistant.reference import ReferenceBalance
from zen.audio.assistant.training import errors

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "assistant" / "audio"
CACHE = REPO / "data" / "assistant" / "features"
SHARED_AUDIO = REPO.parent / "shared" / "data" / "audio"
INT8_TOLERANCE = 0.02


def _median_ms(fn: Any, runs: int) -> float:
    return 1000.0 * median_of(fn, runs, warmup=3)[0]


def held_out_errors(fp32: Assistant, int8: Assistant | None) -> dict[str, Any]:
    """Per test track and parameter: MAE of fp32 and INT8, the baseline, and the INT8 gate."""
    dataset = DatasetConfig.from_json(fp32.weights.config["training_report"]["dataset_config"])
    if (CORPUS / "manifest.json").is_file():
        tracks = [track for track in read_manifest(CORPUS) if track.split == "test"]
        root = CORPUS
    else:
        tracks, root = shared_tracks(SHARED_AUDIO), SHARED_AUDIO
    if not tracks:
        return {"skipped": "no held-out audio: run tools/fetch_training_audio.py"}
    reference = ReferenceBalance.from_json(fp32.weights.config["training_report"]["reference"])
    examples = build_split(tracks, root, dataset, CACHE, reference=reference)
    weights = fp32.weights
    inputs = weights.standardise(examples.features[weights.features.n_fft])
    outputs = {"fp32": fp32.predict_scaled(inputs)}
    if int8 is not None:
        outputs["int8"] = int8.predict_scaled(inputs)
    baseline = np.array(weights.config["training_report"]["baseline_targets"], dtype=np.float32)
    result: dict[str, Any] = {"tracks": {}, "examples": len(examples)}
    for index, track in enumerate([*examples.tracks, "all"]):
        rows = examples.track == index if track != "all" else slice(None)
        entry = {name: errors(out[rows], examples.targets[rows]) for name, out in outputs.items()}
        entry["baseline"] = errors(
            np.broadcast_to(baseline, examples.targets[rows].shape), examples.targets[rows]
        )
        if "int8" in entry:
            fp32_error, int8_error = entry["fp32"]["mean_scaled"], entry["int8"]["mean_scaled"]
            entry["int8_vs_fp32_pct"] = round(100.0 * (int8_error / fp32_error - 1.0), 2)
            entry["int8_within_2pct"] = int8_error <= fp32_error * (1.0 + INT8_TOLERANCE)
        result["tracks"][track] = entry
    return result


def sizes() -> dict[str, Any]:
    from zen.export.onnx import export_onnx

    weights = Assistant.load(warm_up=False, backend="torch").weights
    parameter_bytes = sum(p.numel() * 4 for p in weights.network.parameters())
    with tempfile.TemporaryDirectory() as folder:
        fp32_onnx = export_onnx(weights.network, Path(folder) / "fp32.onnx").size_bytes
    int8_path = WEIGHTS_DIR / INT8_FILE
    int8_bytes = int8_path.stat().st_size if int8_path.is_file() else None
    return {
        "parameters": sum(p.numel() for p in weights.network.parameters()),
        "fp32_safetensors_bytes": (WEIGHTS_DIR / WEIGHTS_FILE).stat().st_size,
        "fp32_parameter_bytes": parameter_bytes,
        "fp32_onnx_bytes": fp32_onnx,
        "int8_onnx_bytes": int8_bytes,
        "config_json_bytes": (WEIGHTS_DIR / CONFIG_FILE).stat().st_size,
        "fp32_over_int8": round(parameter_bytes / int8_bytes, 2) if int8_bytes else None,
        "fp32_onnx_over_int8_onnx": round(fp32_onnx / int8_bytes, 2) if int8_bytes else None,
    }


def latencies(fp32: Assistant, int8: Assistant | None, runs: int) -> dict[str, Any]:
    from zen.export.onnx import export_onnx, load_onnx_session

    rate = 44_100
    window = np.random.default_rng(1).normal(scale=0.1, size=(3 * rate, 2))
    result: dict[str, Any] = {"runs": runs}
    for name, assistant in (("fp32", fp32), ("int8", int8)):
        if assistant is not None:
            result[f"analysis_3s_{name}_ms"] = _median_ms(
                lambda a=assistant: a.analyse(window, rate), runs
            )
    features = fp32.weights.standardise(
        np.stack([window_features(window, fp32.weights.features)] * 6)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fp32.onnx"
        export_onnx(fp32.weights.network, path)
        fp32_onnx = load_onnx_session(path, threads=1).session
        for batch in (1, 6):
            rows = np.ascontiguousarray(features[:batch])
            result[f"network_b{batch}_torch_fp32_ms"] = _median_ms(
                lambda r=rows: fp32.predict_scaled(r), runs
            )
            result[f"network_b{batch}_onnx_fp32_ms"] = _median_ms(
                lambda r=rows: fp32_onnx.run(None, {"x": r}), runs
            )
            if int8 is not None:
                result[f"network_b{batch}_onnx_int8_ms"] = _median_ms(
                    lambda r=rows: int8.predict_scaled(r), runs
                )
    for size in FFT_SIZES:
        config = FeatureConfig(n_fft=size)
        result[f"features_3s_nfft{size}_ms"] = _median_ms(
            lambda c=config: window_features(window.astype(np.float32), c), runs
        )
    return result


def session_cache(assistant: Assistant) -> dict[str, Any]:
    """A mastering session: analyses driven by what a user does, as the app would call them."""
    rate = 44_100
    rng = np.random.default_rng(7)
    songs = {name: rng.normal(scale=0.1, size=(30 * rate, 2)) for name in ("A", "B", "C")}
    songs["A trimmed"] = songs["A"][5 * rate :]
    script = (
        ["A"] + ["A"] * 6  # open A, then six setting changes, each re-analysed
        + ["B"] + ["B"] * 4  # switch to B, four tweaks
        + ["A"] * 2  # compare with A again
        + ["A trimmed"] + ["A trimmed"] * 3  # trim A's intro: new audio, then tweaks
        + ["C"] + ["C"] * 5 + ["B"] * 2 + ["C"] * 2
    )  # fmt: skip
    assistant.clear_cache()
    before = assistant.cache_stats()
    started = time.perf_counter()
    for name in script:
        assistant.analyse(songs[name], rate)
    elapsed = time.perf_counter() - started
    stats = assistant.cache_stats()
    hits, misses = stats.hits - before.hits, stats.misses - before.misses
    return {
        "analyses": len(script),
        "distinct_audio": len(set(script)),
        "hits": hits,
        "misses": misses,
        "hit_rate": round(hits / (hits + misses), 3),
        "session_s": round(elapsed, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per latency")
    parser.add_argument("--quick", action="store_true", help="20 timed runs, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.runs = 20
    torch.set_num_threads(1)
    info = machine_info()
    print_machine(info)
    fp32 = Assistant.load(backend="torch", cache_entries=0)
    try:
        int8: Assistant | None = Assistant.load(backend="int8", cache_entries=0)
    except Exception as error:  # no onnxruntime or no INT8 file: reported, fp32 still runs
        print(f"INT8 backend unavailable: {error}")
        int8 = None
    report = fp32.weights.config["training_report"]

    accuracy = held_out_errors(fp32, int8)
    if "tracks" in accuracy:
        for track, entry in accuracy["tracks"].items():
            rows = []
            for name in [*TARGET_NAMES, "mean_scaled"]:
                rows.append({
                    "parameter": name,
                    "fp32": entry["fp32"][name],
                    "int8": entry.get("int8", {}).get(name),
                    "baseline": entry["baseline"][name],
                })  # fmt: skip
            gate = entry.get("int8_vs_fp32_pct")
            print_table(
                f"{track}: MAE per parameter (INT8 vs fp32 {gate:+.2f} %)"
                if gate is not None
                else f"{track}: MAE per parameter",
                rows,
                ["parameter", "fp32", "int8", "baseline"],
            )

    size = sizes()
    print_table("Size (bytes)", [size], list(size))
    latency = latencies(fp32, int8, args.runs)
    print_table(
        "Latency (ms, median, 1 thread)",
        [{"measure": key, "ms": value} for key, value in latency.items() if key != "runs"],
        ["measure", "ms"],
    )
    cache = session_cache(Assistant.load(backend=fp32.backend))
    print_table("Cache in a simulated session", [cache], list(cache))

    study = report["fft_study"]
    study_rows = [
        {
            "n_fft": int(size_text),
            "val_error": entry["val_mean_scaled"],
            "test_error": entry["test_mean_scaled"],
            "features_ms": latency.get(f"features_3s_nfft{size_text}_ms"),
            "chosen": "yes" if int(size_text) == report["chosen_n_fft"] else "",
        }
        for size_text, entry in sorted(study.items(), key=lambda item: int(item[0]))
    ]
    print_table(
        "FFT-size study (mean scaled MAE over the 9 outputs; cheapest within 2 % of best val)",
        study_rows,
        ["n_fft", "val_error", "test_error", "features_ms", "chosen"],
    )
    path = write_result(
        "audio_assistant",
        {
            "machine": info,
            "held_out": accuracy,
            "size": size,
            "latency": latency,
            "cache_session": cache,
            "fft_study": study_rows,
            "chosen_n_fft": report["chosen_n_fft"],
            "target_scales": TARGET_SCALES.tolist(),
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
