"""ONNX export and INT8: PyTorch eager vs ONNX FP32 vs ONNX INT8, per model family, on real data.

Per family the same trained model runs three ways: PyTorch eager (``torch.inference_mode``),
onnxruntime on the FP32 export, onnxruntime on the INT8 file from ``quantize_int8`` (dynamic
for linear/recurrent/graph layers, calibrated static QDQ for the convolutional TCN). Reported:
file size (PyTorch: parameter bytes), median latency at batch 1 and 64 (graph models: the whole
Cora graph, 2,708 nodes), and accuracy on held-out data:

* MLP on sklearn's digits (1,400 train / 397 test images): accuracy;
* N-HiTS, N-BEATS, TCN on M4 Hourly (414 series; input the last 96 training points, scored on
  the 48 test points): MAE of the point forecast;
* GCN, GAT, GraphSAGE on Cora's public split (140 train, 1,000 test nodes): accuracy;
* DeepAR: its step network only (size, latency; its forecasts are sampled outside the graph).

On the MLP, ``torch.ao`` dynamic INT8 runs too: the PyTorch-side alternative to onnxruntime's.
Both runtimes get the machine's 2 threads.

    python bench/bench_export.py [--quick] [--only mlp,m4,cora] [--steps 150]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, median_of, print_machine, print_table, write_result

CORA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"
H, INPUT_SIZE = 48, 96


def median_ms(call: Callable[[], object], runs: int) -> float:
    return 1000 * median_of(call, runs, warmup=3)[0]


def parameter_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


# ---------------------------------------------------------------------------------- data + models
def digits_mlp(quick: bool) -> dict[str, Any]:
    from sklearn.datasets import load_digits

    from zen.neural import MLP, Trainer

    images, labels = load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32)
    torch.manual_seed(0)
    network = MLP([64, 256, 256, 10])
    Trainer(max_epochs=5 if quick else 30, loss="cross_entropy", lr=3e-3, batch_size=64,
            seed=0).fit(network, images[:1400], labels[:1400])  # fmt: skip
    network.eval()
    test_x, test_y = images[1400:], labels[1400:]
    return {
        "family": "MLP (digits)",
        "model": network,
        "torch_module": network,
        "evaluation": (test_x, test_y),
        "metric": "accuracy",
        "torch_score": lambda: float(
            (network(torch.from_numpy(test_x)).argmax(1).numpy() == test_y).mean()
        ),
        "inputs": lambda batch: (torch.from_numpy(np.resize(test_x, (batch, 64))),),
    }


def m4_models(quick: bool, steps: int) -> list[dict[str, Any]]:
    from zen.forecasting import NBEATS, NHITS, TCN, DeepAR, Forecaster
    from zen.forecasting.datasets import load_m4

    train, test = load_m4("Hourly")
    steps = 30 if quick else steps
    common = {"max_steps": steps, "val_check_steps": max(steps // 3, 1), "learning_rate": 1e-3,
              "windows_batch_size": 256, "scaler_type": "robust", "random_seed": 0}  # fmt: skip
    ids = train["unique_id"].unique()
    by_id = dict(tuple(train.groupby("unique_id", sort=False)))
    windows = np.stack(
        [by_id[key]["y"].to_numpy(np.float32)[-INPUT_SIZE:] for key in ids]
    )  # fmt: skip
    tests = dict(tuple(test.groupby("unique_id", sort=False)))
    targets = np.stack([tests[key]["y"].to_numpy()[:H] for key in ids])
    rng = np.random.default_rng(0)
    # Calibration: windows from inside the training part of every series, not the test inputs.
    calibration = []
    for key in ids:
        values = by_id[key]["y"].to_numpy(np.float32)
        for start in rng.integers(0, len(values) - INPUT_SIZE - H, 2):
            calibration.append(values[start : start + INPUT_SIZE])
    calibration_windows = np.stack(calibration)
    builders = {
        "N-HiTS (M4 hourly)": lambda: NHITS(H, INPUT_SIZE, **common),
        "N-BEATS (M4 hourly)": lambda: NBEATS(H, INPUT_SIZE, **common),
        "TCN (M4 hourly)": lambda: TCN(H, INPUT_SIZE, **common),
    }
    found = []
    for family, build in builders.items():
        started = time.perf_counter()
        model = Forecaster([build()], freq=1).fit(train).models_[0]
        print(f"trained {family} in {time.perf_counter() - started:.0f} s", flush=True)
        network = model.model_.eval()

        def score(network: torch.nn.Module = network) -> float:
            with torch.inference_mode():
                forecast = network(torch.from_numpy(windows))[..., 0].numpy()
            return float(np.mean(np.abs(forecast - targets)))

        found.append({
            "family": family, "model": model, "torch_module": network,
            "evaluation": (windows, targets), "metric": "mae", "torch_score": score,
            "calibration": calibration_windows,
            "inputs": lambda batch: (torch.from_numpy(np.resize(windows, (batch, INPUT_SIZE))),),
        })  # fmt: skip
    deepar = DeepAR(H, INPUT_SIZE, **{**common, "max_steps": 10, "val_check_steps": 5,
                                      "scaler_type": "standard"})  # fmt: skip
    deepar = Forecaster([deepar], freq=1).fit(train).models_[0]
    from zen.forecasting.export import DeepARStep

    step = DeepARStep(deepar.model_).eval()
    layers, units = deepar.lstm_n_layers, deepar.lstm_hidden_size

    def step_inputs(batch: int) -> tuple[torch.Tensor, ...]:
        return (
            torch.randn(batch, INPUT_SIZE),
            torch.zeros(layers, batch, units),
            torch.zeros(layers, batch, units),
        )

    found.append({"family": "DeepAR step (M4 hourly)", "model": deepar, "torch_module": step,
                  "evaluation": None, "metric": None, "torch_score": None,
                  "inputs": step_inputs})  # fmt: skip
    return found


def cora_models(quick: bool) -> list[dict[str, Any]]:
    from zen.graph import GAT, GCN, GraphSAGE, NodeLoader
    from zen.graph.datasets import Planetoid
    from zen.graph.metrics import accuracy
    from zen.neural import Trainer

    graph = Planetoid("cora", root=CORA_ROOT)[0]
    labels = np.where(graph.test_mask.numpy(), graph.y.numpy(), -1)
    feed = {"x": graph.x.numpy(), "edge_index": graph.edge_index.numpy()}
    settings = {
        "GCN (Cora)": (lambda: GCN(graph.num_features, 16, 2, 7, dropout=0.5), 0.01),
        "GAT (Cora)": (lambda: GAT(graph.num_features, 8, 2, 7, heads=8, dropout=0.6), 0.005),
        "GraphSAGE (Cora)": (lambda: GraphSAGE(graph.num_features, 64, 2, 7, dropout=0.5), 0.01),
    }
    found = []
    for family, (build, lr) in settings.items():
        torch.manual_seed(0)
        model = build()
        Trainer(max_epochs=20 if quick else 200, optimizer="adam", lr=lr, weight_decay=5e-4,
                loss="cross_entropy", metrics=[], seed=0,
                progress=False).fit(model, NodeLoader(graph, "train"))  # fmt: skip
        model.eval()
        found.append({
            "family": family, "model": model, "torch_module": model,
            "evaluation": (feed, labels), "metric": "accuracy",
            "torch_score": lambda model=model: accuracy(model.predict(graph), graph.y,
                                                         graph.test_mask),
            "inputs": lambda batch: (graph.x, graph.edge_index), "graph": True,
        })  # fmt: skip
    return found


# ---------------------------------------------------------------------------------- measuring
def measure(case: dict[str, Any], folder: Path, runs: int) -> list[dict[str, Any]]:
    from zen.export import export_onnx, load_onnx_session, quantize_int8

    fp32_path = folder / f"{len(list(folder.iterdir()))}.onnx"
    exported = export_onnx(case["model"], fp32_path)
    int8 = quantize_int8(fp32_path, case.get("calibration"), evaluation=case["evaluation"])
    module = case["torch_module"]
    sessions = {
        "onnx fp32": load_onnx_session(fp32_path)[0],
        f"onnx int8 ({int8.method.split('-')[0]})": load_onnx_session(int8.path)[0],
    }
    names = [spec.name for spec in exported.inputs]
    batches = (64,) if case.get("graph") else (1, 64)
    latency: dict[str, dict[int, float]] = {"torch eager": {}}
    # no_grad rather than inference_mode: zen's GCN caches its adjacency by tensor version,
    # which inference tensors do not have.
    with torch.no_grad():
        for batch in batches:
            inputs = case["inputs"](batch)
            latency["torch eager"][batch] = median_ms(lambda inputs=inputs: module(*inputs), runs)
            feed = {name: x.numpy() for name, x in zip(names, inputs, strict=True)}
            for runtime, session in sessions.items():
                latency.setdefault(runtime, {})[batch] = median_ms(
                    lambda session=session, feed=feed: session.run(None, feed), runs
                )
    scores = {
        "torch eager": case["torch_score"]() if case["torch_score"] else None,
        "onnx fp32": int8.accuracy_before,
        list(sessions)[1]: int8.accuracy_after,
    }
    sizes = {
        "torch eager": parameter_bytes(module),
        "onnx fp32": int8.size_before_bytes,
        list(sessions)[1]: int8.size_after_bytes,
    }
    if case["family"].startswith("MLP"):
        extra = torch_ao_int8(module, case, runs, batches)
        if extra:
            latency["torch.ao int8 (dynamic)"] = extra["latency"]
            scores["torch.ao int8 (dynamic)"] = extra["score"]
            sizes["torch.ao int8 (dynamic)"] = extra["size"]
    rows = []
    eager = latency["torch eager"]
    for runtime in latency:
        row = {
            "family": case["family"],
            "runtime": runtime,
            "size KiB": sizes[runtime] / 1024,
            "size / fp32": sizes[runtime] / int8.size_before_bytes,
            "ms @1": latency[runtime].get(1),
            "ms @64 (graphs: Cora)": latency[runtime][64],
            "eager/this @1": eager[1] / latency[runtime][1] if 1 in eager else None,
            "eager/this @64": eager[64] / latency[runtime][64],
            "metric": case["metric"] or "n/a",
            "held-out": scores.get(runtime),
        }
        rows.append(row)
    rows[0]["parity max rel diff"] = exported.max_rel_diff
    return rows


def torch_ao_int8(module: torch.nn.Module, case: dict[str, Any], runs: int, batches) -> dict:
    """torch's own dynamic INT8 (deprecated in torch 2.13 in favour of the torchao package)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from torch.ao.quantization import quantize_dynamic

            quantized = quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    except Exception as error:  # removed or broken in this torch: skip the row
        print(f"torch.ao dynamic INT8 unavailable: {error}")
        return {}
    test_x, test_y = case["evaluation"]
    with torch.no_grad():
        score = float((quantized(torch.from_numpy(test_x)).argmax(1).numpy() == test_y).mean())
        latency = {}
        for batch in batches:
            inputs = case["inputs"](batch)
            latency[batch] = median_ms(lambda inputs=inputs: quantized(*inputs), runs)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "q.pt"
        torch.save(quantized.state_dict(), path)
        size = path.stat().st_size
    return {"latency": latency, "score": score, "size": size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short training, few timing runs")
    parser.add_argument(
        "--only", default="mlp,m4,cora", help="comma-separated groups: mlp, m4, cora"
    )
    parser.add_argument("--steps", type=int, default=150, help="training steps per M4 model")
    args = parser.parse_args()
    groups = {"mlp": lambda: [digits_mlp(args.quick)],
              "m4": lambda: m4_models(args.quick, args.steps),
              "cora": lambda: cora_models(args.quick)}  # fmt: skip
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in groups]
    if unknown:
        parser.error(f"--only: unknown group(s) {unknown}; expected {sorted(groups)}")
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)
    runs = 20 if args.quick else 200
    cases = [case for name in chosen for case in groups[name]()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="zen-bench-export-") as folder:
        for case in cases:
            started = time.perf_counter()
            rows += measure(case, Path(folder), runs)
            print(f"measured {case['family']} in {time.perf_counter() - started:.0f} s", flush=True)
    columns = ["family", "runtime", "size KiB", "size / fp32", "ms @1", "ms @64 (graphs: Cora)",
               "eager/this @1", "eager/this @64", "metric", "held-out"]  # fmt: skip
    print_table(
        "PyTorch eager vs ONNX FP32 vs ONNX INT8 (onnxruntime, CPU); eager/this > 1: faster"
        " than eager",
        rows,
        columns,
    )
    write_result(
        "export",
        {"machine": info, "quick": args.quick, "groups": chosen, "m4_steps": args.steps,
         "rows": rows},
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
