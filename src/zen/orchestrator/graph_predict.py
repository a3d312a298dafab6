"""Apply a saved graph model to its run's graph or to new graph data: one row per node.

``zen fit`` on a graph saves, next to the best model, ``graph.json``
(:data:`~zen.orchestrator.jobs.graph.GRAPH_FILE`): where the graph was read from (a Planetoid
folder, or edge and node CSVs, as absolute paths), which node columns the model reads and the
label of each class. :func:`predict_saved_graph` reads the graph again from there, or reads the
graph it is given after checking that it has what the model reads, and returns each node's
predicted class with the probability of every class (the softmax of the model's logits).

>>> predict_saved_graph("runs/20240601-abc")                      # doctest: +SKIP
   node prediction  prob_blue  prob_green  prob_red
0     0        red      0.021       0.033     0.946
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from zen.errors import ConfigError, DataError
from zen.export.saved import SavedModel, load_saved
from zen.graph.datasets import load_graph
from zen.orchestrator.jobs.graph import GRAPH_FILE, GRAPH_FORMAT


def predict_saved_graph(
    model: SavedModel | str | Path,
    data: str | Path | None = None,
    *,
    edges: str | Path | None = None,
    nodes: str | Path | None = None,
) -> pd.DataFrame:
    """Class predictions for every node of a graph, from a saved node classifier.

    Args:
        model: a graph run directory (``zen fit`` on a graph), its ``model/``, or a GNN saved
            with ``Trainer.save`` (a :class:`~zen.export.saved.SavedModel` also works).
        data: a Planetoid folder to predict on.
        edges, nodes: or an edge-list CSV and a node CSV holding the feature columns the model
            was trained on (extra columns, such as the label, are ignored).
            Without ``data`` and ``edges``: the graph the run was trained on, read again.

    Returns:
        One row per node: ``node`` (its id in the node CSV, or its index), ``prediction`` (the
        class label) and ``prob_<label>`` for every class.

    Raises:
        DataError: the graph lacks feature columns the model reads (they are named), has
            another number of node features, or the run's graph files have moved.
        ConfigError: the model is not a node classifier, or the arguments conflict.
    """
    saved = model if isinstance(model, SavedModel) else load_saved(model)
    if saved.kind != "graph":
        raise ConfigError(
            f"model: {saved.directory} holds a {saved.kind} model, not a graph network"
        )
    network = saved.model
    if network.readout is not None:
        raise ConfigError(
            f"model: {saved.directory} holds a graph-level {type(network).__name__} (readout"
            f" {network.readout!r}); predict_saved_graph predicts nodes. Serve it (zen serve)"
            " to score whole graphs"
        )
    inputs = _recorded_inputs(saved)
    graph, node_ids = _read_graph(inputs, saved, data, edges, nodes)
    if graph.x is None or graph.num_features != network.in_channels:
        width = 0 if graph.x is None else graph.num_features
        raise DataError(
            f"data: the graph has {width} node feature(s); the model reads"
            f" {network.in_channels} (it was trained on {inputs['name']!r}). Pass a graph with"
            " the same node features"
        )
    probabilities = torch.softmax(network.predict(graph), dim=1).numpy()
    classes = list(inputs["classes"]) or list(range(probabilities.shape[1]))
    if len(classes) != probabilities.shape[1]:  # a graph.json edited by hand
        classes = list(range(probabilities.shape[1]))
    predicted = [classes[index] for index in probabilities.argmax(axis=1)]
    frame = pd.DataFrame({"node": node_ids, "prediction": predicted})
    for index, label in enumerate(classes):
        frame[f"prob_{label}"] = probabilities[:, index]
    return frame


def _recorded_inputs(saved: SavedModel) -> dict[str, Any]:
    """``graph.json`` of the model, or what a bare ``Trainer.save`` directory implies."""
    from zen.neural.checkpoint import read_json

    path = saved.directory / GRAPH_FILE
    if not path.is_file():
        return {"name": saved.directory.name, "source": None, "id_column": None,
                "feature_columns": None, "classes": []}  # fmt: skip
    inputs = read_json(path)
    if not isinstance(inputs, dict) or inputs.get("format") != GRAPH_FORMAT:
        raise DataError(f"{path}: not a zen graph description (format {GRAPH_FORMAT})")
    return inputs


def _read_graph(
    inputs: dict[str, Any],
    saved: SavedModel,
    data: str | Path | None,
    edges: str | Path | None,
    nodes: str | Path | None,
) -> tuple[Any, list[Any]]:
    """The graph to predict on and the id of each of its nodes."""
    if data is not None and edges is not None:
        raise ConfigError("data, edges: pass a Planetoid folder or --edges/--nodes, not both")
    if edges is None and nodes is not None:
        raise ConfigError("edges: --nodes needs --edges edges.csv too")
    if edges is not None:
        if nodes is None:
            raise ConfigError(
                "nodes: --edges needs --nodes nodes.csv with the node features the model reads"
            )
        return _read_csv_graph(inputs, Path(edges), Path(nodes))
    if data is not None:
        return _read_planetoid(Path(data))
    source = inputs.get("source")
    if not source:
        raise ConfigError(
            f"data: {saved.directory} does not record the graph it was trained on; pass a"
            " Planetoid folder or --edges edges.csv --nodes nodes.csv"
        )
    moved = [path for path in (source.get(key) for key in ("data", "edges", "nodes")) if path]
    moved = [path for path in moved if not Path(path).exists()]
    if moved:
        raise DataError(
            f"data: the run's graph was read from {', '.join(moved)}, which is no longer there"
            " (moved or deleted); pass the graph: a Planetoid folder or --edges/--nodes"
        )
    if source.get("edges"):
        return _read_csv_graph(inputs, Path(source["edges"]), Path(source["nodes"]))
    return _read_planetoid(Path(source["data"]))


def _read_planetoid(folder: Path) -> tuple[Any, list[Any]]:
    graph, _ = load_graph(folder)
    return graph, list(range(graph.num_nodes))


def _read_csv_graph(inputs: dict[str, Any], edges: Path, nodes: Path) -> tuple[Any, list[Any]]:
    from zen.graph.datasets import load_edge_list

    if not nodes.is_file():
        raise DataError(f"nodes: file not found: {nodes}; pass the node CSV (id and features)")
    header = list(pd.read_csv(nodes, nrows=0).columns)
    id_column, wanted = inputs.get("id_column"), inputs.get("feature_columns")
    if wanted is not None:
        missing = [column for column in [id_column, *wanted] if column and column not in header]
        if missing:
            raise DataError(
                f"nodes: {nodes} lacks the column(s) {missing} the model reads; it was trained"
                f" on the id column {id_column!r} and the feature columns {wanted}"
            )
    graph = load_edge_list(edges, nodes, id_column=id_column, feature_columns=wanted)
    return graph, list(graph["node_ids"])
