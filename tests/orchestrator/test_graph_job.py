"""`zen fit` on graphs: edge-list CSVs and Planetoid folders, a leaderboard, a saved best model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from zen.cli import app
from zen.neural import Trainer

runner = CliRunner()
CORA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "graph" / "cora"


@pytest.fixture
def community_csvs(tmp_path):
    """Three communities of 40 nodes: dense inside, sparse across; noisy features hint the class."""
    rng = np.random.default_rng(0)
    n, communities = 120, 3
    label = np.repeat(np.arange(communities), n // communities)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    keep = [rng.random() < (0.15 if label[i] == label[j] else 0.005) for i, j in pairs]
    edges = pd.DataFrame([pair for pair, kept in zip(pairs, keep, strict=True) if kept],
                         columns=["source", "target"])  # fmt: skip
    features = rng.normal(0, 1.5, (n, 8))
    features[np.arange(n), label] += 1.0
    nodes = pd.DataFrame(features, columns=[f"f{i}" for i in range(8)])
    nodes.insert(0, "id", np.arange(n))
    nodes["group"] = np.array(["red", "green", "blue"])[label]
    edges.to_csv(tmp_path / "edges.csv", index=False)
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    return tmp_path / "edges.csv", tmp_path / "nodes.csv"


def test_fit_on_an_edge_list_trains_three_models_and_saves_the_best(
    community_csvs, tmp_path
) -> None:
    edges, nodes = community_csvs
    runs = tmp_path / "runs"
    result = runner.invoke(
        app,
        ["fit", "--edges", str(edges), "--nodes", str(nodes), "--target", "group",
         "--budget", "60s", "--runs-dir", str(runs), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "node classification" in result.output and "random 60/20/20" in result.output
    (run,) = runs.iterdir()
    report = json.loads((run / "report.json").read_text())
    board = report["leaderboard"]
    assert [row["model"] for row in board] != [] and len(board) == 3
    assert {row["model"] for row in board} == {"GCN", "GAT", "GraphSAGE"}
    assert board[0]["model"] == report["best_model"]
    assert board[0]["val_accuracy"] == max(row["val_accuracy"] for row in board)
    # The communities are easy to find from the edges; features alone give about 0.5.
    assert board[0]["test_accuracy"] > 0.8
    trainer = Trainer.load(run / "model")
    assert type(trainer.model).__name__ == report["best_model"]


def test_fit_on_a_folder_without_graph_files_says_what_it_expected(tmp_path) -> None:
    result = runner.invoke(app, ["fit", str(tmp_path), "--runs-dir", str(tmp_path / "runs")])
    assert result.exit_code != 0
    assert "no Planetoid files" in result.output and "--edges" in result.output


def test_edges_without_nodes_is_a_clear_error(community_csvs, tmp_path) -> None:
    edges, _ = community_csvs
    result = runner.invoke(app, ["fit", "--edges", str(edges), "--runs-dir", str(tmp_path)])
    assert result.exit_code != 0
    assert "--nodes" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.skipif(not CORA.is_dir(), reason="../shared/data/graph/cora is not available")
def test_fit_on_cora_keeps_the_public_split(tmp_path) -> None:
    runs = tmp_path / "runs"
    result = runner.invoke(
        app, ["fit", str(CORA), "--budget", "3m", "--runs-dir", str(runs), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    report = json.loads((run / "report.json").read_text())
    assert report["split"] == "the dataset's own split"
    assert report["leaderboard"][0]["test_accuracy"] > 0.78
