"""quantize_int8 and convert_fp16: working compressed models, bounded error, honest reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("onnxruntime")

from zen.errors import ConfigError, DataError
from zen.export.onnx import export_onnx, load_onnx_session, read_sidecar
from zen.export.quantize import convert_fp16, quantize_int8
from zen.forecasting import TCN, DeepAR, Forecaster
from zen.graph import GCN
from zen.neural import MLP, Trainer

H, INPUT_SIZE = 4, 32


@pytest.fixture(scope="module")
def digits() -> dict[str, np.ndarray]:
    """sklearn's 8x8 digits (1,797 real images), split 1,400 / 397."""
    datasets = pytest.importorskip("sklearn.datasets")
    images, labels = datasets.load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32)
    return {
        "train_x": images[:1400],
        "train_y": labels[:1400],
        "test_x": images[1400:],
        "test_y": labels[1400:],
    }


@pytest.fixture(scope="module")
def mlp_onnx(digits, tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    network = MLP([64, 128, 10])
    trainer = Trainer(max_epochs=10, loss="cross_entropy", lr=1e-2, batch_size=64, seed=0)
    trainer.fit(network, digits["train_x"], digits["train_y"])
    path = tmp_path_factory.mktemp("mlp") / "digits.onnx"
    export_onnx(network, path)
    return path


def windows(length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding (input, next-H) windows of a noisy daily-seasonal series."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    series = 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, length)
    starts = np.arange(0, length - INPUT_SIZE - H)
    inputs = np.stack([series[s : s + INPUT_SIZE] for s in starts]).astype(np.float32)
    targets = np.stack([series[s + INPUT_SIZE : s + INPUT_SIZE + H] for s in starts])
    return inputs, targets


@pytest.fixture(scope="module")
def tcn_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    inputs, _ = windows(400, seed=0)
    series = np.concatenate([inputs[:, 0], inputs[-1, 1:]])
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(len(series)) + 1, "y": series})
    model = TCN(H, INPUT_SIZE, encoder_hidden_size=16, decoder_hidden_size=16, max_steps=30,
                val_check_steps=10, windows_batch_size=32, random_seed=0)  # fmt: skip
    forecaster = Forecaster([model], freq=1).fit(frame)
    path = tmp_path_factory.mktemp("tcn") / "tcn.onnx"
    export_onnx(forecaster, path)
    return path


def test_dynamic_int8_mlp_keeps_its_accuracy_and_shrinks(mlp_onnx: Path, digits) -> None:
    report = quantize_int8(mlp_onnx, evaluation=(digits["test_x"], digits["test_y"]))
    assert report.method == "dynamic-int8" and report.family == "mlp"
    assert report.metric == "accuracy" and report.evaluated_samples == 397
    assert report.accuracy_before > 0.9
    assert abs(report.accuracy_after - report.accuracy_before) <= 0.02
    assert report.size_after_bytes < 0.5 * report.size_before_bytes
    assert report.latency_before_ms > 0 and report.latency_after_ms > 0
    assert report.output_max_rel_diff < 0.1
    assert report.path == mlp_onnx.with_name("digits.int8.onnx")

    session, sidecar = load_onnx_session(report.path)  # checksum matches the written file
    assert sidecar["quantization"]["method"] == "dynamic-int8"
    assert sidecar["quantization"]["size_after_bytes"] == report.path.stat().st_size
    assert sidecar["inputs"] == read_sidecar(mlp_onnx)["inputs"]
    predicted = session.run(None, {"x": digits["test_x"]})[0].argmax(axis=1)
    assert np.mean(predicted == digits["test_y"]) == pytest.approx(report.accuracy_after)


def test_convolutional_models_get_calibrated_static_int8(tcn_onnx: Path) -> None:
    calibration, _ = windows(300, seed=1)
    held_out, targets = windows(200, seed=2)
    report = quantize_int8(tcn_onnx, calibration, evaluation=(held_out, targets))
    assert report.method == "static-int8"
    assert report.calibration_samples == len(calibration)
    assert report.metric == "mae"
    # The quantised TCN forecasts almost as well as the float one.
    assert report.accuracy_after <= 1.2 * report.accuracy_before + 0.05
    assert report.output_max_rel_diff < 0.1
    import onnx

    ops = {node.op_type for node in onnx.load(str(report.path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear", "Conv"} <= ops


def test_static_int8_without_calibration_data_says_what_is_missing(
    tcn_onnx: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"calibration_data: static INT8 .*convolutions"):
        quantize_int8(tcn_onnx, path=tmp_path / "tcn.int8.onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("calibration", "message"),
    [
        (np.zeros((10, 7), dtype=np.float32), r"'insample' expects shape \('batch', 32\)"),
        ({"window": np.zeros((10, 32))}, r"inputs are \['insample'\], got \['window'\]"),
        (np.array([["a"] * 32]), "expected numbers"),
    ],
)
def test_calibration_data_of_the_wrong_shape_is_rejected(
    tcn_onnx: Path, calibration: Any, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        quantize_int8(tcn_onnx, calibration)


def test_bad_arguments_are_rejected(mlp_onnx: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="method: unknown value 'fast'"):
        quantize_int8(mlp_onnx, method="fast")
    with pytest.raises(ConfigError, match="path: where should the INT8 model go"):
        quantize_int8(MLP([4, 2]))
    with pytest.raises(ConfigError, match=r"cannot export a torch\.nn"):
        quantize_int8(torch.nn.Linear(3, 2), path=tmp_path / "q.onnx")
    with pytest.raises(DataError, match=r"not an \.onnx file"):
        quantize_int8(tmp_path / "missing.onnx")
    with pytest.raises(ConfigError, match="metric: unknown value 'f1'"):
        quantize_int8(mlp_onnx, evaluation=(np.zeros((3, 64)), np.zeros(3, int)), metric="f1")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_model_object_is_exported_then_quantised(tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = quantize_int8(MLP([16, 64, 4]), path=tmp_path / "small.int8.onnx")
    assert report.source_path is None and report.path.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.int8.json", "small.int8.onnx"]
    session, sidecar = load_onnx_session(report.path)
    assert sidecar["quantization"]["source_file"] is None
    assert session.run(None, {"x": np.ones((3, 16), np.float32)})[0].shape == (3, 4)


def test_graph_models_quantise_and_score_only_labelled_nodes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = GCN(8, 32, 2, 3)
    path = tmp_path / "gcn.onnx"
    export_onnx(model, path)
    rng = np.random.default_rng(0)
    graph = {
        "x": rng.standard_normal((200, 8), np.float32),
        "edge_index": rng.integers(0, 200, (2, 800)),
    }
    labels = rng.integers(0, 3, 200)
    labels[:150] = -1  # only 50 nodes are in the "test split"
    report = quantize_int8(path, evaluation=(graph, labels))
    assert report.method == "dynamic-int8" and report.evaluated_samples == 50
    assert report.latency_sizes == {"num_nodes": 200, "num_edges": 800}
    assert 0.0 <= report.accuracy_after <= 1.0
    assert report.output_max_rel_diff < 0.1


@pytest.mark.slow
def test_deepar_lstm_quantises_dynamically(tmp_path: Path) -> None:
    inputs, _ = windows(200, seed=3)
    series = np.concatenate([inputs[:, 0], inputs[-1, 1:]])
    frame = pd.DataFrame({"unique_id": "a", "ds": np.arange(len(series)) + 1, "y": series})
    model = DeepAR(H, INPUT_SIZE, lstm_hidden_size=16, max_steps=4, val_check_steps=2)
    path = tmp_path / "deepar.onnx"
    export_onnx(Forecaster([model], freq=1).fit(frame), path)
    report = quantize_int8(path)
    assert report.method == "dynamic-int8"
    assert report.latency_sizes == {"batch": 64, "steps": INPUT_SIZE}
    assert report.output_max_rel_diff < 0.2


def test_a_large_int8_drift_is_reported_in_the_notes(mlp_onnx: Path, digits, tmp_path) -> None:
    # Per-tensor INT8 takes its scale from the largest weight: one outlier per layer rounds
    # every other weight to zero, which is what happens, more mildly, to deep residual stacks.
    torch.manual_seed(0)
    network = MLP([64, 32, 10])
    with torch.no_grad():
        for layer in network.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0.0, 0.05)
                layer.weight[0, 0] = 50.0
    path = export_onnx(network, tmp_path / "outlier.onnx").path
    drifted = quantize_int8(path, evaluation=(digits["test_x"], digits["test_y"]))
    assert drifted.output_max_rel_diff > 0.05
    assert any("check held-out accuracy" in note for note in drifted.notes)
    # A well-behaved model gets no such note.
    fine = quantize_int8(mlp_onnx, path=tmp_path / "fine.int8.onnx")
    assert not any("check held-out accuracy" in note for note in fine.notes)


def test_fp16_halves_the_weights_and_says_cpu_is_not_faster(mlp_onnx: Path, digits) -> None:
    report = convert_fp16(mlp_onnx, evaluation=(digits["test_x"], digits["test_y"]))
    assert report.method == "fp16"
    assert report.size_after_bytes < 0.6 * report.size_before_bytes
    assert report.output_max_rel_diff < 1e-2
    assert report.accuracy_after == pytest.approx(report.accuracy_before, abs=0.01)
    assert any("not faster" in note for note in report.notes)
    sidecar = json.loads(report.sidecar_path.read_text())
    assert sidecar["quantization"]["method"] == "fp16"
    assert sidecar["inputs"][0]["dtype"] == "float32"  # inputs and outputs stay FP32


def test_onnxruntime_droppings_in_the_working_directory_are_removed(tmp_path, monkeypatch):
    from zen.export.quantize import _no_droppings

    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.data").write_text("kept")
    old = tmp_path / "0b1e4a52-0000-4000-8000-000000000000.data"
    old.write_text("there before: kept")
    with _no_droppings():
        (tmp_path / "sym_shape_infer_temp.onnx").write_text("x")
        (tmp_path / "85461e46-ed8f-11f1-a78b-02fc00000001.data").write_text("x")
        (tmp_path / "result.onnx").write_text("not onnxruntime's")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["mine.data", old.name, "result.onnx"]
    )
