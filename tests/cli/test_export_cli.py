"""`zen export RUN_OR_MODEL --format onnx [--int8] [-o OUT]` on real saved runs and models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("onnxruntime")

from zen.cli import app
from zen.export.onnx import load_onnx_session
from zen.forecasting import TCN, Forecaster
from zen.neural import MLP, Trainer
from zen.tabular import TablePreprocessor, TabularModel

runner = CliRunner()


@pytest.fixture(scope="module")
def table_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A real run directory written by `zen fit` on a small table."""
    folder = tmp_path_factory.mktemp("table-run")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=150), "b": rng.normal(size=150)})
    frame["kind"] = np.where(frame["a"] + frame["b"] > 0, "yes", "no")
    frame.to_csv(folder / "table.csv", index=False)
    result = runner.invoke(
        app,
        ["fit", str(folder / "table.csv"), "--target", "kind", "--epochs", "5",
         "--runs-dir", str(folder / "runs"), "--no-progress", "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    return run, frame


def test_export_of_a_fit_run_prints_parity_and_writes_onnx_int8_and_sidecars(table_run) -> None:
    run, frame = table_run
    result = runner.invoke(app, ["export", str(run), "--format", "onnx", "--int8"])
    assert result.exit_code == 0, result.output
    assert "ONNX vs PyTorch" in result.output and "batch 64" in result.output
    assert "dynamic-int8" in result.output and "median latency" in result.output
    for name in ("model.onnx", "model.json", "model.int8.onnx", "model.int8.json"):
        assert (run / name).is_file(), name

    # The exported graph, fed rows encoded as its sidecar says, predicts what zen predict does.
    session, sidecar = load_onnx_session(run / "model.onnx")
    features = TablePreprocessor.from_state(sidecar["preprocessing"]).transform(frame)
    logits = session.run(None, {"features": features})[0]
    labels = np.asarray(sidecar["model"]["classes"])[logits.argmax(axis=1)]
    expected = TabularModel.load(run / "model").predict(frame)
    np.testing.assert_array_equal(labels, expected)
    assert json.loads((run / "model.int8.json").read_text())["quantization"]["method"] == (
        "dynamic-int8"
    )


def test_export_of_a_model_directory_honours_output_and_json(table_run, tmp_path: Path) -> None:
    run, _ = table_run
    target = tmp_path / "deploy" / "classifier.onnx"
    result = runner.invoke(app, ["export", str(run / "model"), "-o", str(target), "--json"])
    assert result.exit_code == 0, result.output
    assert target.is_file() and (tmp_path / "deploy" / "classifier.json").is_file()
    assert not (tmp_path / "deploy" / "classifier.int8.onnx").exists()
    done = json.loads(result.stdout)  # the summary is all there is on stdout
    assert done["onnx"] == str(target.resolve()) and done["saved_format"] == "zen.tabular"
    assert done["family"] == "tabular" and done["parity"]["passed"] and done["int8"] is None


def test_convolutional_forecaster_is_calibrated_on_its_saved_history(tmp_path: Path) -> None:
    t = np.arange(200)
    frame = pd.DataFrame({"unique_id": "a", "ds": t + 1, "y": 10 + 3 * np.sin(2 * np.pi * t / 24)})
    model = TCN(6, 24, encoder_hidden_size=8, decoder_hidden_size=8, max_steps=6,
                val_check_steps=3, windows_batch_size=16)  # fmt: skip
    Forecaster([model], freq=1).fit(frame).save(tmp_path / "tcn")
    result = runner.invoke(app, ["export", str(tmp_path / "tcn"), "--int8"])
    assert result.exit_code == 0, result.output
    assert "static-int8" in result.output
    sidecar = json.loads((tmp_path / "tcn.int8.json").read_text())
    assert sidecar["quantization"]["calibration_samples"] == 200 - 24 + 1
    session, _ = load_onnx_session(tmp_path / "tcn.int8.onnx")
    window = frame["y"].to_numpy(np.float32)[-24:][None]
    assert session.run(None, {"insample": window})[0].shape == (1, 6, 1)


def test_trainer_checkpoints_export_too(tmp_path: Path) -> None:
    torch.manual_seed(0)
    trainer = Trainer(max_epochs=1)
    trainer.fit(MLP([3, 8, 1]), np.random.default_rng(0).normal(size=(32, 3)), np.zeros(32))
    trainer.save(tmp_path / "mlp")
    result = runner.invoke(app, ["export", str(tmp_path / "mlp")])
    assert result.exit_code == 0, result.output
    assert "MLP (mlp)" in result.output and (tmp_path / "mlp.onnx").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nowhere"], "nowhere: not found"),
        (["{empty}"], "no config.json in it"),
        (["{empty}", "--format", "tflite"], "format: unknown value 'tflite'"),
    ],
)
def test_mistakes_are_one_red_line(tmp_path: Path, arguments: list[str], message: str) -> None:
    arguments = [argument.replace("{empty}", str(tmp_path)) for argument in arguments]
    result = runner.invoke(app, ["export", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
