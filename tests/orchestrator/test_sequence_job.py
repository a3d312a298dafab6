"""``zen fit`` on labelled sequences: the archive's train/test files or a long CSV, ranked on
validation sequences, scored on the test file, applied by ``zen predict`` and served."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen.cli import app
from zen.orchestrator.jobs import fit
from zen.orchestrator.jobs.sequence import SequenceRunResult

runner = CliRunner()
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def gunpoint_run(tmp_path_factory: pytest.TempPathFactory) -> SequenceRunResult:
    folder = SHARED_DATA / "sequence"
    if not (folder / "GunPoint").is_dir():
        pytest.skip(f"{folder}/GunPoint is missing (the shared data sets)")
    runs = tmp_path_factory.mktemp("sequence-runs")
    result = fit(folder / "GunPoint", budget_s=12, runs_dir=runs, seed=0, workers=1)
    assert isinstance(result, SequenceRunResult)
    return result


def test_fit_ranks_on_validation_and_scores_on_the_test_file(gunpoint_run) -> None:
    result = gunpoint_run
    assert result.profile.family == "sequence classification"
    assert result.profile.n_rows == 50 and result.n_test == 150 and result.classes == ["1", "2"]
    assert result.split == "the data's own train and test files"
    assert result.metrics["accuracy"] > result.baseline["accuracy"]
    report = json.loads((result.run_dir / "report.json").read_text())
    assert report["test_metrics"] == result.metrics
    assert (result.run_dir / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    best = result.leaderboard[0]
    assert best["model"] == result.best_model
    assert all(best["val_accuracy"] >= row["val_accuracy"] for row in result.leaderboard)


def test_predict_applies_the_run_to_the_test_file_with_the_same_score(gunpoint_run) -> None:
    test = SHARED_DATA / "sequence" / "GunPoint" / "GunPoint_TEST.ts"
    done = runner.invoke(app, ["predict", str(gunpoint_run.run_dir), str(test), "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["kind"] == "sequence" and summary["rows"] == 150
    assert summary["columns"] == ["sequence", "prediction", "prob_1", "prob_2"]
    assert summary["scores"]["accuracy"] == pytest.approx(gunpoint_run.metrics["accuracy"])


def test_the_run_is_served_with_sequences_of_any_length_up_to_the_models(gunpoint_run) -> None:
    from zen.runtime.servables import SequenceServable, load_model

    servable = load_model(gunpoint_run.run_dir)
    assert isinstance(servable, SequenceServable)
    request = {"inputs": [[list(np.sin(np.linspace(0, 3, 150)))], [[0.5] * 90]]}
    prepared = servable.prepare(request)
    assert prepared.feeds["x"].shape == (2, 1, 150)
    import torch

    with torch.no_grad():
        logits = servable.torch_module()(torch.from_numpy(prepared.feeds["x"])).numpy()
    answer = servable.respond(prepared, [logits])
    assert len(answer["outputs"]) == 2 and set(answer["outputs"]) <= {"1", "2"}
    assert np.allclose(np.sum(answer["probabilities"], axis=1), 1.0)


def test_a_long_csv_of_sequences_is_split_stratified(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for case in range(40):
        label = "up" if case % 2 else "down"
        length = int(rng.integers(15, 25))
        slope = 1.0 if label == "up" else -1.0
        for t in range(length):
            rows.append(
                {
                    "sequence_id": f"s{case}",
                    "t": t,
                    "value": slope * t / length + rng.normal(scale=0.05),
                    "label": label,
                }
            )
    path = tmp_path / "sequences.csv"
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(path, index=False)
    done = runner.invoke(app, ["fit", str(path), "--budget", "10s", "--no-progress", "--json",
                               "--runs-dir", str(tmp_path / "runs")])  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["kind"] == "sequence" and summary["task"] == "sequence classification"
    assert summary["scores"]["test_accuracy"] >= 0.75
    explained = runner.invoke(app, ["fit", str(path), "--explain", "--json"])
    assert explained.exit_code == 0, explained.output
    candidates = [c["name"] for c in json.loads(explained.stdout)["candidates"]]
    assert "MLP" in candidates
    assert "unequal lengths" in " ".join(
        c["reason"] for c in json.loads(explained.stdout)["candidates"]
    )


def test_a_ts_file_refuses_target_and_series_options(tmp_path: Path) -> None:
    path = tmp_path / "tiny.ts"
    lines = ["@problemName tiny", "@univariate true", "@equalLength true", "@seriesLength 3",
             "@classLabel true a b", "@data"]  # fmt: skip
    lines += [f"{i},{i + 1},{i + 2}:{'a' if i % 2 else 'b'}" for i in range(20)]
    path.write_text("\n".join(lines) + "\n")
    done = runner.invoke(app, ["fit", str(path), "--target", "label"])
    assert done.exit_code == 2 and "target:" in done.output
    done = runner.invoke(app, ["fit", str(path), "--freq", "h"])
    assert done.exit_code == 2 and "labelled sequences" in done.output


@pytest.mark.slow  # a zen serve process, ONNX export of the run: ~25 s
def test_zen_serve_classifies_sequences_over_http(gunpoint_run) -> None:
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve = ["serve", f"gunpoint={gunpoint_run.run_dir}", "--port", str(port), "--no-scheduler"]
    command = [sys.executable, "-c", "from zen.cli import main; main()", *serve]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "ZEN_API_TOKEN": "t"})  # fmt: skip
    headers = {"Authorization": "Bearer t"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 240
            while True:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "zen serve did not become ready"
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            test = SHARED_DATA / "sequence" / "GunPoint" / "GunPoint_TEST.ts"
            from zen.neural.datasets import load_ts

            cases = load_ts(test)
            body = {"inputs": [case.tolist() for case in cases.X[:5]]}
            answer = client.post("/v1/models/gunpoint/predict", json=body, headers=headers)
            assert answer.status_code == 200, answer.text
            local = runner.invoke(app, ["predict", str(gunpoint_run.run_dir), str(test), "--json"])
            expected = [row["prediction"] for row in json.loads(local.stdout)["predictions"][:5]]
            assert answer.json()["outputs"] == expected
            wrong = client.post("/v1/models/gunpoint/predict", json={"inputs": [[[1.0], [2.0]]]},
                                headers=headers)  # fmt: skip
            assert wrong.status_code in (400, 422) and "channel" in wrong.text
    finally:
        process.terminate()
        process.wait(timeout=60)
