"""A model written in one file, plus the line that imports it, is a full member of zen.

Each test writes a new model into a file (a forecaster on a small MLP; a new message-passing
layer stacked as a node classifier) that declares itself to :mod:`zen.registry`, and then,
with nothing else changed, ``zen fit --explain`` offers it, ``zen fit`` trains it (in worker
processes too), ``--tune`` tunes it, ``zen export`` exports it and ``zen serve`` serves it. The
in-process commands see it because the test imported the file (a user's own model registered
from their code); the ``zen serve`` subprocess finds it through a ``zen.models`` entry point,
the way an installed package adds models.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen import registry
from zen.cli import app
from zen.forecasting import Forecaster
from zen.graph import NodeLoader
from zen.graph.datasets import load_graph
from zen.graph.sampling import random_node_split
from zen.neural import Trainer
from zen.orchestrator.history import History

TINY_FORECASTER = '''
"""TinyMLP: one hidden layer on the scaled input window (a stand-in for a new model)."""
from typing import Any

from torch import nn

from zen.forecasting import WindowModel
from zen.forecasting.candidate import window_builder
from zen.forecasting.export import window_model_plan
from zen.registry import ModelSpec, register


class TinyMLP(WindowModel):
    def __init__(self, h: int, input_size: int, hidden_size: int = 16, **base: Any) -> None:
        super().__init__(h, input_size, **base)
        self.hidden_size = hidden_size

    def build_network(self) -> nn.Module:
        outputs = self.loss_.outputs_per_step
        return nn.Sequential(
            nn.Linear(self.input_size, self.hidden_size), nn.ReLU(),
            nn.Linear(self.hidden_size, self.h * outputs), nn.Unflatten(1, (self.h, outputs)),
        )


def search_space(trial: Any) -> dict[str, Any]:
    return {"hidden_size": trial.suggest_categorical("hidden_size", [8, 16, 32]),
            "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1e-2, log=True)}


register(ModelSpec("TinyMLP", "forecast", model_class=TinyMLP, prior=0.5,
                   build=window_builder(TinyMLP), search_space=search_space,
                   export_plan=window_model_plan))
'''

MEAN_GNN = '''
"""MeanConv, a new message-passing layer, stacked as MeanGNN, a node classifier."""
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from zen.graph import GNN, MessagePassing
from zen.graph.export import graph_plan
from zen.registry import ModelSpec, register


class MeanConv(MessagePassing):
    """x_i' = W1 x_i + W2 mean_j x_j over the in-neighbours j of i."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(aggr="mean")
        self.own = nn.Linear(in_channels, out_channels)
        self.neighbours = nn.Linear(in_channels, out_channels, bias=False)

    def reset_parameters(self) -> None:
        self.own.reset_parameters()
        self.neighbours.reset_parameters()

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.own(x) + self.neighbours(self.propagate(edge_index, x=x))


class MeanGNN(GNN):
    def build_conv(self, in_channels: int, out_channels: int, last: bool) -> nn.Module:
        return MeanConv(in_channels, out_channels)


def build(in_channels: int, out_channels: int, options: Mapping[str, Any]) -> MeanGNN:
    settings = {"hidden_channels": 16, "num_layers": 2, "dropout": 0.2, **options}
    hidden, layers = settings.pop("hidden_channels"), settings.pop("num_layers")
    return MeanGNN(in_channels, hidden, layers, out_channels, **settings)


def search_space(trial: Any) -> dict[str, Any]:
    return {"hidden_channels": trial.suggest_categorical("hidden_channels", [8, 16]),
            "num_layers": 2, "lr": trial.suggest_float("lr", 1e-3, 1e-1, log=True),
            "weight_decay": 5e-4}


register(ModelSpec("MeanGNN", "node classifier", model_class=MeanGNN, prior=0.5, build=build,
                   training={"lr": 0.01, "max_epochs": 50}, search_space=search_space,
                   export_plan=graph_plan))
'''

MODULES = {"tiny_forecaster": TINY_FORECASTER, "mean_gnn": MEAN_GNN}
SPECS = (("TinyMLP", "forecast"), ("MeanGNN", "node classifier"))
runner = CliRunner()


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The two model files, importable here (the "one import line") and, through a
    ``zen.models`` entry point, by other processes that have the folder on their path."""
    folder = tmp_path_factory.mktemp("plugins")
    for name, source in MODULES.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    info = folder / "zen_test_models-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zen-test-models\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[zen.models]\n" + "".join(f"{name} = {name}\n" for name in MODULES)
    )
    sys.path.insert(0, str(folder))
    try:
        for name in MODULES:
            importlib.import_module(name)
        yield folder
    finally:
        sys.path.remove(str(folder))
        for name in MODULES:
            sys.modules.pop(name, None)
        for name, kind in SPECS:
            registry.unregister(name, kind)


@pytest.fixture
def worker_path(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Spawned workers import the model files too: put the folder on their path."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(plugin_dir), *sys.path]))
    return plugin_dir


def hourly_csv(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(240)
    frames = [
        pd.DataFrame({"unique_id": f"s{i}", "ds": pd.date_range("2024-01-01", periods=240,
                                                               freq="h"),
                      "y": 20 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, 240) + i})
        for i in range(2)
    ]  # fmt: skip
    path = folder / "series.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def graph_csvs(folder: Path) -> tuple[Path, Path]:
    """Two communities of 30 nodes, features that hint at the community."""
    rng = np.random.default_rng(1)
    labels = np.repeat([0, 1], 30)
    edges = [(a, b) for a in range(60) for b in range(a + 1, 60)
             if rng.random() < (0.25 if labels[a] == labels[b] else 0.02)]  # fmt: skip
    nodes = pd.DataFrame(rng.normal(size=(60, 4)) + labels[:, None], columns=list("abcd"))
    nodes.insert(0, "id", range(60))
    nodes["label"] = labels
    edge_path, node_path = folder / "edges.csv", folder / "nodes.csv"
    pd.DataFrame(edges, columns=["source", "target"]).to_csv(edge_path, index=False)
    nodes.to_csv(node_path, index=False)
    return edge_path, node_path


def fit_json(*arguments: str) -> dict:
    result = runner.invoke(app, ["fit", *arguments, "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.slow  # two zen fits (one in worker processes), an export and a zen serve: ~35 s
def test_a_forecaster_in_one_file_is_offered_trained_tuned_exported_and_served(
    plugin_dir, worker_path, tmp_path
) -> None:
    data = hourly_csv(tmp_path)
    runs = str(tmp_path / "runs")
    common = [str(data), "--horizon", "12", "--policy", "rules", "--runs-dir", runs]
    explained = fit_json(*common, "--explain")
    assert explained["candidates"][0]["name"] == "TinyMLP"

    trained = fit_json(*common, "--budget", "8s", "--workers", "2")
    report = json.loads((Path(trained["run_dir"]) / "report.json").read_text())
    assert "TinyMLP" in {row["model"] for row in report["leaderboard"]}
    with History() as history:
        children = {run.model: run.status for run in history.runs()
                    if run.parent_id == trained["history_run_id"]}  # fmt: skip
    assert children["TinyMLP"] == "done"  # trained in a worker process

    tuned = fit_json(*common, "--budget", "8s", "--workers", "1", "--tune")
    tuning = json.loads((Path(tuned["run_dir"]) / "report.json").read_text())["tuning"]
    assert tuning["model"] == "TinyMLP" and tuning["n_trials"] >= 1
    assert set(tuning["best_hyperparameters"]) >= {"hidden_size"}

    # What zen fit saves when TinyMLP wins: a Forecaster of it over the history.
    model_dir = tmp_path / "tiny-model"
    forecaster = Forecaster([registry.get("TinyMLP", "forecast").model_class(
        h=12, input_size=48, max_steps=20)], freq="h")  # type: ignore[misc]  # fmt: skip
    forecaster.fit(pd.read_csv(data, parse_dates=["ds"])).save(model_dir)
    exported = runner.invoke(app, ["export", str(model_dir), "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["parity"]["passed"] is True

    history = pd.read_csv(data)
    series = [{"unique_id": uid, "ds": group["ds"].tolist(), "y": group["y"].tolist()}
              for uid, group in history.groupby("unique_id")]  # fmt: skip
    with serving(str(model_dir), plugin_dir) as (client, name):
        answer = client.post(f"/v1/models/{name}/predict", json={"series": series})
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["outputs"][0]["forecast"]) == 12


def test_a_new_gnn_layer_as_a_node_classifier_in_one_file(
    plugin_dir, worker_path, tmp_path
) -> None:
    edges, nodes = graph_csvs(tmp_path)
    common = ["--edges", str(edges), "--nodes", str(nodes), "--target", "label",
              "--policy", "rules", "--runs-dir", str(tmp_path / "runs")]  # fmt: skip
    explained = fit_json(*common, "--explain")
    assert explained["candidates"][0]["name"] == "MeanGNN"
    trained = fit_json(*common, "--budget", "60s", "--workers", "1")
    report = json.loads((Path(trained["run_dir"]) / "report.json").read_text())
    rows = {row["model"]: row for row in report["leaderboard"]}
    assert rows["MeanGNN"]["val_accuracy"] > 0.6  # it learned the communities
    tuned = fit_json(*common, "--budget", "15s", "--workers", "1", "--tune")
    tuning = json.loads((Path(tuned["run_dir"]) / "report.json").read_text())["tuning"]
    assert tuning["model"] == "MeanGNN" and tuning["n_trials"] >= 1

    # What zen fit saves when MeanGNN wins: its Trainer checkpoint.
    graph, _ = load_graph(edges=edges, nodes=nodes, target="label")
    graph = random_node_split(graph, train=0.6, val=0.2, seed=0)
    spec = registry.get("MeanGNN", "node classifier")
    trainer = Trainer(max_epochs=5, loss="cross_entropy", seed=0)
    trainer.fit(spec.create(graph.num_features, 2, {}), NodeLoader(graph, "train"))
    model_dir = trainer.save(tmp_path / "mean-gnn")
    exported = runner.invoke(app, ["export", str(model_dir), "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["parity"]["passed"] is True

    frame = pd.read_csv(nodes)
    edge_frame = pd.read_csv(edges)
    edge_index = [edge_frame["source"].tolist(), edge_frame["target"].tolist()]
    request = {"x": frame[list("abcd")].to_numpy().tolist(), "edge_index": edge_index}
    with serving(str(model_dir), plugin_dir) as (client, name):
        answer = client.post(f"/v1/models/{name}/predict", json=request)
    assert answer.status_code == 200, answer.text
    assert np.asarray(answer.json()["outputs"]).shape == (60, 2)  # node scores


class serving:
    """``zen serve RUN`` in a subprocess that knows the test's models only through the
    ``zen.models`` entry point in ``plugin_dir``; yields ``(client, model name)``."""

    def __init__(self, run: str, plugin_dir: Path) -> None:
        self.run, self.plugin_dir = run, plugin_dir

    def __enter__(self) -> tuple[httpx.Client, str]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        command = [sys.executable, "-c", "from zen.cli import main; main()", "serve", self.run,
                   "--port", str(port), "--backend", "torch", "--no-scheduler"]  # fmt: skip
        environment = {**os.environ, "PYTHONPATH": str(self.plugin_dir), "ZEN_API_TOKEN": ""}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"zen serve exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                if self.client.get("/readyz").status_code == 200:
                    return self.client, Path(self.run).name
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.__exit__()
        raise AssertionError("zen serve did not become ready in 120 s")

    def __exit__(self, *exc_info: object) -> None:
        self.client.close()
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
