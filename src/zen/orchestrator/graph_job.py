"""The graph main job: node classification on a graph from disk, GCN vs GAT vs GraphSAGE.

``zen fit cora/`` (a Planetoid folder) or ``zen fit --edges edges.csv --nodes nodes.csv
--target label`` ends here: load and check the graph, keep its split (or make a random
60/20/20 one), train the three classic architectures with their papers' settings under a time
budget, rank them by validation accuracy (test accuracy is reported, never used to choose),
save the best with its Trainer checkpoint and write a report.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import zen
from zen.errors import DataError
from zen.neural import TimeLimit, Trainer
from zen.neural.checkpoint import atomic_directory, write_json
from zen.orchestrator.profile import TaskProfile
from zen.reports import new_run_id, plot_learning_curves

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
REPORT_FILE = "report.json"
CURVES_FILE = "learning_curves.png"


@dataclass(frozen=True)
class Candidate:
    """One architecture with its paper's hyperparameters."""

    name: str
    build: Callable[[int, int], Any]
    lr: float
    weight_decay: float = 5e-4
    max_epochs: int = 200


def candidates() -> list[Candidate]:
    """GCN (Kipf & Welling 2017), GAT (Veličković et al. 2018), GraphSAGE (Hamilton et al.
    2017, mean aggregator), each with the settings its paper used on citation graphs."""
    from zen.graph import GAT, GCN, GraphSAGE

    return [
        Candidate("GCN", lambda f, c: GCN(f, 16, 2, c, dropout=0.5, cached=True), lr=0.01),
        Candidate("GAT", lambda f, c: GAT(f, 8, 2, c, heads=8, dropout=0.6), lr=0.005),
        Candidate("GraphSAGE", lambda f, c: GraphSAGE(f, 64, 2, c, dropout=0.5), lr=0.01),
    ]


@dataclass
class GraphRunResult:
    """What a graph run did: the leaderboard (best first) and where it saved things."""

    run_id: str
    run_dir: Path
    profile: TaskProfile
    leaderboard: list[dict[str, Any]]
    best_model: str
    split: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        return self.run_dir / MODEL_DIR


def is_graph_source(path: Path | None) -> bool:
    """Whether ``path`` is a Planetoid folder (holds ``ind.<name>.x``, maybe under ``raw/``)."""
    return path is not None and path.is_dir() and _planetoid_name(path) is not None


def load_graph(
    data: Path | None = None,
    *,
    edges: Path | None = None,
    nodes: Path | None = None,
    target: str | None = None,
) -> tuple[Any, str]:
    """The graph to learn from and a short name for it.

    Args:
        data: a Planetoid folder (``ind.<name>.*`` files).
        edges, nodes, target: an edge-list CSV, a node CSV with features, and its label column.
    """
    from zen.graph.datasets import Planetoid, load_edge_list

    if edges is not None:
        if nodes is None or target is None:
            raise zen.ConfigError(
                "nodes, target: a graph from --edges also needs --nodes nodes.csv (features and"
                " labels) and --target LABEL_COLUMN"
            )
        return load_edge_list(edges, nodes, target), Path(edges).stem
    if data is None or not data.is_dir():
        raise DataError(f"data: {data} is not a folder; pass a Planetoid folder or --edges")
    name = _planetoid_name(data)
    if name is None:
        raise DataError(
            f"data: no Planetoid files (ind.<name>.x, .y, .graph, ...) in {data}; for an edge"
            " list use --edges edges.csv --nodes nodes.csv --target label"
        )
    folder = data.parent if data.name != "raw" else data.parent.parent
    return Planetoid(name, root=folder)[0], name


def _planetoid_name(folder: Path) -> str | None:
    for place in (folder, folder / "raw"):
        found = sorted(place.glob("ind.*.x"))
        if found:
            return found[0].name.split(".")[1]
    return None


def profile_graph(graph: Any, name: str) -> TaskProfile:
    """The task: node classification, with the graph's size in the reason."""
    from zen.graph.utils import is_undirected

    if graph.y is None:
        raise DataError(f"{name}: the graph has no node labels (y); pass --target")
    if graph.x is None:
        raise DataError(f"{name}: the graph has no node features (x); give --nodes a feature CSV")
    labelled = graph.y[graph.y >= 0]
    n_classes = int(labelled.max()) + 1 if labelled.numel() else 0
    if n_classes < 2:
        raise DataError(f"{name}: node classification needs at least 2 classes, got {n_classes}")
    direction = "undirected" if is_undirected(graph.edge_index) else "directed"
    reason = (
        f"a graph ({graph.num_nodes} nodes, {graph.num_edges} {direction} edges,"
        f" {graph.num_features} features) with {n_classes} node classes"
    )
    return TaskProfile(
        kind="node classification",
        reason=reason,
        target="y",
        n_rows=int(labelled.numel()),
        n_classes=n_classes,
        layout="graph",
    )


def fit_graph(
    graph: Any,
    name: str,
    *,
    budget_s: float = 300.0,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
) -> GraphRunResult:
    """Train every candidate on ``graph``, rank them, save the best and a report.

    Args:
        graph: a :class:`zen.graph.Graph` with ``x`` and ``y`` (and masks, or none).
        budget_s: total training time; each candidate gets an equal share.
        seed: seeds the split (when one is made) and every model's training.
    """
    from zen.graph import NodeLoader
    from zen.graph.metrics import accuracy
    from zen.graph.sampling import random_node_split

    profile = profile_graph(graph, name)
    if all(getattr(graph, mask, None) is not None for mask in ("train_mask", "val_mask")):
        split = "the dataset's own split"
    else:
        graph = random_node_split(graph, train=0.6, val=0.2, seed=seed)
        split = "a random 60/20/20 split of the labelled nodes"
    has_test = getattr(graph, "test_mask", None) is not None and bool(graph.test_mask.any())
    pool = candidates()
    n_classes = int(profile.n_classes or 0)
    rows: list[dict[str, Any]] = []
    fitted = {}
    for candidate in pool:
        model = candidate.build(graph.num_features, n_classes)
        trainer = Trainer(
            max_epochs=candidate.max_epochs,
            optimizer="adam",
            lr=candidate.lr,
            weight_decay=candidate.weight_decay,
            loss="cross_entropy",
            early_stopping=100,
            seed=seed,
            progress=progress,
            callbacks=[TimeLimit(budget_s / len(pool))],
        )
        started = time.perf_counter()
        result = trainer.fit(model, NodeLoader(graph, "train"), NodeLoader(graph, "val"))
        fit_s = time.perf_counter() - started
        logits = model.predict(graph)
        rows.append(
            {
                "model": candidate.name,
                "val_accuracy": accuracy(logits, graph.y, graph.val_mask),
                "test_accuracy": accuracy(logits, graph.y, graph.test_mask) if has_test else None,
                "epochs": result.epochs,
                "best_epoch": result.best_epoch,
                "fit_s": fit_s,
            }
        )
        fitted[candidate.name] = (trainer, result)
    # Rank by validation accuracy: choosing on the test nodes would overstate the score.
    rows.sort(key=lambda row: (-row["val_accuracy"], row["fit_s"]))
    best = str(rows[0]["model"])

    run_id = new_run_id()
    run_dir = Path(runs_dir) / run_id
    run = GraphRunResult(run_id, run_dir, profile, rows, best, split)
    with atomic_directory(run_dir) as staging:
        fitted[best][0].save(staging / MODEL_DIR)
        plot_learning_curves(
            fitted[best][1].history.records,
            staging / CURVES_FILE,
            title=f"zen fit: {name} ({best})",
            best_epoch=fitted[best][1].best_epoch,
        )
        write_json(staging / REPORT_FILE, _report(run, name))
    logger.info("run %s saved to %s", run_id, run_dir)
    return run


def _report(run: GraphRunResult, name: str) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "zen_version": zen.__version__,
        "data": name,
        "task": asdict(run.profile),
        "split": run.split,
        "leaderboard": run.leaderboard,
        "best_model": run.best_model,
        "selection": "highest validation accuracy",
        "files": {"model": MODEL_DIR, "learning_curves": CURVES_FILE},
    }
