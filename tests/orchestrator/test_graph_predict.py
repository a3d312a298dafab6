"""`zen predict` on graph runs: the run's own graph read again, new node CSVs, wrong inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from zen.cli import app
from zen.errors import ConfigError, DataError
from zen.export.saved import load_saved
from zen.orchestrator.graph_predict import predict_saved_graph

runner = CliRunner()
CLASSES = ["blue", "green", "red"]


def write_communities(folder: Path) -> tuple[Path, Path, pd.DataFrame]:
    """Three communities of 30 nodes (string ids, string labels): dense inside, sparse across."""
    rng = np.random.default_rng(0)
    n, communities = 90, 3
    label = np.repeat(np.arange(communities), n // communities)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    keep = [rng.random() < (0.2 if label[i] == label[j] else 0.005) for i, j in pairs]
    ids = np.array([f"n{i}" for i in range(n)])
    kept = [pair for pair, chosen in zip(pairs, keep, strict=True) if chosen]
    edges = pd.DataFrame({"source": [ids[i] for i, _ in kept], "target": [ids[j] for _, j in kept]})
    features = rng.normal(0, 1.5, (n, 4))
    features[np.arange(n), label] += 1.0
    nodes = pd.DataFrame(features, columns=["f0", "f1", "f2", "f3"])
    nodes.insert(0, "id", ids)
    nodes["group"] = np.array(["red", "green", "blue"])[label]
    folder.mkdir(parents=True, exist_ok=True)
    edges.to_csv(folder / "edges.csv", index=False)
    nodes.to_csv(folder / "nodes.csv", index=False)
    return folder / "edges.csv", folder / "nodes.csv", nodes


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, pd.DataFrame]:
    """A run of `zen fit --edges --nodes` (a short budget: accuracy is not the point here)."""
    folder = tmp_path_factory.mktemp("graph-run")
    edges, nodes, frame = write_communities(folder / "data")
    result = runner.invoke(
        app,
        ["fit", "--edges", str(edges), "--nodes", str(nodes), "--target", "group",
         "--budget", "6s", "--runs-dir", str(folder / "runs"), "--no-progress",
         "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (run,) = (folder / "runs").iterdir()
    return run, edges, nodes, frame


def test_fit_records_how_to_read_the_graph_and_its_labels(graph_run) -> None:
    run, edges, nodes, _ = graph_run
    recorded = json.loads((run / "model" / "graph.json").read_text())
    assert recorded["source"] == {"edges": str(edges), "nodes": str(nodes), "target": "group"}
    assert recorded["id_column"] == "id"
    assert recorded["feature_columns"] == ["f0", "f1", "f2", "f3"]
    assert recorded["classes"] == CLASSES  # class index i is the i-th sorted label


def test_predict_without_data_reads_the_runs_graph_again(graph_run, tmp_path) -> None:
    run, _, _, frame = graph_run
    output = tmp_path / "nodes.csv"
    result = runner.invoke(app, ["predict", str(run), "-o", str(output)])
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(output)
    probabilities = [f"prob_{label}" for label in CLASSES]
    assert list(predicted.columns) == ["node", "prediction", *probabilities]
    assert predicted["node"].tolist() == frame["id"].tolist()
    np.testing.assert_allclose(predicted[probabilities].sum(axis=1), 1.0, rtol=1e-5)
    best = np.asarray(CLASSES)[predicted[probabilities].to_numpy().argmax(axis=1)]
    assert (predicted["prediction"] == best).all()
    # The communities are easy; a model that read the wrong columns would be near chance.
    assert (predicted["prediction"] == frame["group"]).mean() > 0.8


def test_predict_reads_feature_columns_by_name_from_new_csvs(graph_run, tmp_path) -> None:
    run, edges, _, frame = graph_run
    own = predict_saved_graph(run)
    # The same graph with its columns shuffled, an extra column and no labels.
    shuffled = frame[["f3", "id", "f1", "f0", "f2"]].assign(note="x")
    shuffled.to_csv(tmp_path / "new-nodes.csv", index=False)
    new = predict_saved_graph(run, edges=edges, nodes=tmp_path / "new-nodes.csv")
    pd.testing.assert_frame_equal(new, own)


def test_predict_refuses_a_node_csv_without_the_models_feature_columns(graph_run, tmp_path) -> None:
    run, edges, _, frame = graph_run
    frame.drop(columns=["f2"]).to_csv(tmp_path / "nodes.csv", index=False)
    result = runner.invoke(
        app, ["predict", str(run), "--edges", str(edges), "--nodes", str(tmp_path / "nodes.csv")]
    )
    assert result.exit_code == 2
    assert "lacks the column(s) ['f2']" in result.output.replace("\n", " ")


def test_predict_says_where_the_runs_graph_was_when_it_moved(graph_run, tmp_path) -> None:
    run, _, _, _ = graph_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    recorded = json.loads((copy / "model" / "graph.json").read_text())
    recorded["source"]["nodes"] = str(tmp_path / "gone" / "nodes.csv")
    (copy / "model" / "graph.json").write_text(json.dumps(recorded))
    with pytest.raises(DataError, match=r"read from .*gone/nodes\.csv, which is no longer there"):
        predict_saved_graph(copy)


def test_predict_json_summary_parses(graph_run, tmp_path) -> None:
    run, _, _, frame = graph_run
    result = runner.invoke(app, ["predict", str(run), "--json", "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["kind"] == "graph" and summary["rows"] == len(frame)
    assert summary["run_dir"] == str(run.resolve()) and summary["data"] is None
    assert summary["output"] == str((tmp_path / "p.csv").resolve())
    inline = json.loads(runner.invoke(app, ["predict", str(run), "--json"]).stdout)
    assert [row["node"] for row in inline["predictions"]] == frame["id"].tolist()


def test_a_bare_trainer_checkpoint_predicts_class_indices(tmp_path) -> None:
    """A GNN saved with Trainer.save records no labels or data: columns are prob_<index>."""
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets import load_edge_list
    from zen.neural import Trainer

    edges, _, frame = write_communities(tmp_path / "data")
    features = frame.drop(columns=["group"])
    features.to_csv(tmp_path / "features.csv", index=False)
    graph = load_edge_list(edges, tmp_path / "features.csv")
    model = GCN(graph.num_features, 8, 2, 3)
    trainer = Trainer(max_epochs=1, optimizer="adam", loss="cross_entropy", seed=0)
    labels = torch.tensor(pd.factorize(frame["group"], sort=True)[0])
    trainer.fit(model, NodeLoader(graph.replace(y=labels), torch.ones(90, dtype=torch.bool)))
    trainer.save(tmp_path / "gcn")

    predicted = predict_saved_graph(tmp_path / "gcn", edges=edges, nodes=tmp_path / "features.csv")
    assert list(predicted.columns) == ["node", "prediction", "prob_0", "prob_1", "prob_2"]
    expected = model.predict(graph).argmax(dim=1).numpy()
    np.testing.assert_array_equal(predicted["prediction"].to_numpy(dtype=np.int64), expected)
    with pytest.raises(ConfigError, match="does not record the graph"):
        predict_saved_graph(tmp_path / "gcn")
    with pytest.raises(DataError, match="the model reads 4"):
        # With the label still in it, the node CSV has 5 feature columns for a 4-feature model.
        frame.assign(group=1.0).to_csv(tmp_path / "labelled.csv", index=False)
        predict_saved_graph(tmp_path / "gcn", edges=edges, nodes=tmp_path / "labelled.csv")


def test_predict_refuses_models_that_are_not_node_classifiers(graph_run, tmp_path) -> None:
    from zen.graph import GCN
    from zen.neural import MLP, Trainer

    trainer = Trainer(max_epochs=1, seed=0)
    x = np.zeros((8, 2), dtype=np.float32)
    trainer.fit(MLP([2, 1]), x, x[:, :1])
    trainer.save(tmp_path / "mlp")
    with pytest.raises(ConfigError, match="holds a network model, not a graph network"):
        predict_saved_graph(tmp_path / "mlp")
    readout = GCN(4, 4, 1, 2, readout="mean")
    saved = load_saved(graph_run[0])
    with pytest.raises(ConfigError, match="graph-level GCN"):
        predict_saved_graph(type(saved)("graph", readout, saved.directory, saved.run_dir))


@pytest.mark.slow
def test_a_planetoid_run_predicts_from_its_folder_and_refuses_other_widths(
    shared_data, graph_run, tmp_path
) -> None:
    """Recorded from a Planetoid folder, read again from it: the model's own predictions."""
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets import graph_source, load_graph
    from zen.neural import Trainer
    from zen.neural.checkpoint import write_json
    from zen.orchestrator.jobs.graph import GRAPH_FILE, graph_inputs

    folder = shared_data / "graph" / "cora"
    graph, name = load_graph(folder)
    model = GCN(graph.num_features, 8, 2, 7)
    trainer = Trainer(max_epochs=2, optimizer="adam", loss="cross_entropy", seed=0)
    trainer.fit(model, NodeLoader(graph, "train"))
    trainer.save(tmp_path / "cora")
    write_json(tmp_path / "cora" / GRAPH_FILE, graph_inputs(graph, name, graph_source(folder)))

    predicted = predict_saved_graph(tmp_path / "cora")
    assert list(predicted.columns[:3]) == ["node", "prediction", "prob_0"]
    assert predicted["node"].tolist() == list(range(graph.num_nodes))
    expected = model.predict(graph).argmax(dim=1).numpy()
    np.testing.assert_array_equal(predicted["prediction"].to_numpy(dtype=np.int64), expected)
    # The community model reads 4 features; Cora has 1433.
    with pytest.raises(DataError, match="1433 node feature"):
        predict_saved_graph(graph_run[0], folder)
