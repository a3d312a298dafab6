"""`zen serve`: argument errors in-process, and the real command in a subprocess on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def mlp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from zen.neural import MLP, Trainer

    X = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    trainer = Trainer(max_epochs=1, seed=0)
    trainer.fit(MLP([4, 8, 1]), X, X.sum(axis=1, keepdims=True))
    return trainer.save(tmp_path_factory.mktemp("serve-cli") / "tiny")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["serve", "does/not/exist"], "not found; expected a run directory"),
        (["serve"], "give at least one model directory"),
        (["serve", "--config", "missing.yaml"], "config file not found"),
    ],
)
def test_serve_refuses_bad_arguments_before_starting(arguments, message) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_serve_refuses_an_unknown_backend(mlp_dir) -> None:
    result = runner.invoke(app, ["serve", str(mlp_dir), "--backend", "tensorrt"])
    assert result.exit_code == 2
    assert "backend: unknown value 'tensorrt'" in " ".join(result.output.split())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def queue_depth(client: httpx.Client, model: str, headers: dict[str, str]) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(client.get("/metrics", headers=headers).text):
        for sample in family.samples:
            if sample.name == "zen_engine_queue_depth" and sample.labels["model"] == model:
                return sample.value
    return 0.0


def start_serving(*arguments: str, token: str) -> tuple[subprocess.Popen, httpx.Client]:
    """``zen serve ARGUMENTS`` on a free port with ``ZEN_API_TOKEN=token``, once /readyz is 200."""
    port = free_port()
    command = [
        sys.executable, "-c", "from zen.cli import main; main()", "serve", *arguments,
        "--port", str(port), "--backend", "torch", "--no-scheduler",
    ]  # fmt: skip
    environment = {**os.environ, "ZEN_API_TOKEN": token}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"zen serve did not become ready: {process.communicate()[0]}")
        try:
            if client.get("/readyz").status_code == 200:
                return process, client
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def test_zen_serve_answers_over_http_and_finishes_requests_on_sigterm(mlp_dir, tmp_path) -> None:
    # Batches wait up to 1.5 s for company, so a request is still queued when SIGTERM comes.
    config = f"max_batch_size: 8\nmax_wait_ms: 1500\nmodels:\n  - {mlp_dir}\n"
    (tmp_path / "serve.yaml").write_text(config)
    process, client = start_serving(
        f"again={mlp_dir}", "--config", str(tmp_path / "serve.yaml"), token="cli-token"
    )
    auth = {"Authorization": "Bearer cli-token"}
    body = {"inputs": [[1.0, 2.0, 3.0, 4.0]]}
    url = str(client.base_url)
    try:
        names = [model["name"] for model in client.get("/v1/models", headers=auth).json()["models"]]
        assert names == ["tiny", "again"]
        assert client.post("/v1/models/tiny/predict", json=body).status_code == 401
        assert client.get("/v1/models/tiny", headers=auth).json()["max_batch_size"] == 8
        # With a token, only the probes are open.
        assert client.get("/healthz").status_code == 200
        assert [client.get(route).status_code for route in ("/metrics", "/docs")] == [401, 401]

        in_flight: dict[str, httpx.Response] = {}

        def send() -> None:
            with httpx.Client(base_url=url, timeout=30) as other:
                in_flight["response"] = other.post(
                    "/v1/models/tiny/predict", json=body, headers=auth
                )

        sender = threading.Thread(target=send)
        sender.start()
        deadline = time.monotonic() + 60
        while queue_depth(client, "tiny", auth) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        sender.join(60)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    answer = in_flight["response"]
    assert answer.status_code == 200 and len(answer.json()["outputs"]) == 1
    # uvicorn shuts down gracefully, then re-raises the signal so supervisors see it.
    assert process.returncode in (0, -signal.SIGTERM), output
    text = " ".join(output.split())
    assert "serving tiny, again on http://127.0.0.1" in text
    assert "bearer token from ZEN_API_TOKEN (open: /healthz, /readyz)" in text


def test_zen_serve_public_metrics_opens_metrics_and_docs_only(mlp_dir) -> None:
    process, client = start_serving(str(mlp_dir), "--public-metrics", token="cli-token")
    try:
        for route in ("/metrics", "/docs", "/redoc", "/openapi.json"):
            assert client.get(route).status_code == 200, route
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"Authorization": "Bearer cli-token"}).is_success
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert "open: /healthz, /readyz, /metrics, docs" in " ".join(output.split())
