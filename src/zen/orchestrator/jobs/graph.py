"""The graph main job: node classification on a graph from disk, GCN vs GAT vs GraphSAGE.

``zen fit cora/`` (a Planetoid folder) or ``zen fit --edges edges.csv --nodes nodes.csv
--target label`` ends here: load and check the graph, keep its split (or make a random
60/20/20 one), train the three classic architectures with their papers' settings under a time
budget, rank them by validation accuracy (test accuracy is reported, never used to choose),
save the best with its Trainer checkpoint and write a report. The router orders the three
architectures; they train as workflow steps and each is recorded in History.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import zen
from zen import registry
from zen.errors import ZenError
from zen.neural import TimeLimit, Trainer, private_rng
from zen.neural.checkpoint import write_json
from zen.orchestrator.executors import tuning_cluster
from zen.orchestrator.jobs.base import (
    CandidateJob,
    Ranking,
    RunOutcome,
    Trained,
    run_job,
    tuning_summary,
)
from zen.orchestrator.orchestration import candidate_run, failed, trained_device
from zen.orchestrator.router import Candidate
from zen.profile import TaskProfile, profile_graph
from zen.registry import ModelSpec
from zen.reports import (
    ALL_CURVES_FILE,
    CURVES_FILE,
    HTML_FILE,
    LEADERBOARD_FILE,
    MODEL_DIR,
    plot_candidate_curves,
    plot_leaderboard,
    plot_learning_curves,
)

logger = logging.getLogger(__name__)

#: Next to the best model of a graph run: how to read its graph again and what the model reads
#: (feature columns or width) and says (class labels); ``zen predict`` uses it.
GRAPH_FILE = "graph.json"
GRAPH_FORMAT = "zen.graph-inputs"


#: Training settings a node classifier's registry entry does not set (its ``training``).
DEFAULT_TRAINING = {"lr": 0.01, "weight_decay": 5e-4, "max_epochs": 200}


def candidates() -> list[ModelSpec]:
    """The node classifiers zen fit may train: every registered candidate (GCN, GAT and
    GraphSAGE with their papers' settings, and any the user registered)."""
    return registry.candidates("node classifier")


@dataclass(kw_only=True)
class GraphRunResult(RunOutcome):
    """What a graph run did: the leaderboard (best first) and where it saved things."""

    leaderboard: list[dict[str, Any]]
    best_model: str
    split: str


def graph_inputs(graph: Any, name: str, source: dict[str, Any] | None) -> dict[str, Any]:
    """What :data:`GRAPH_FILE` holds for a model trained on ``graph``.

    Keys: ``source`` (:func:`~zen.graph.datasets.graph_source`, or None for a graph made in
    Python), ``name``, ``num_features``, ``id_column`` and ``feature_columns`` (node CSVs; None
    for Planetoid), ``target`` and ``classes`` (the label of each class index, in order).
    """
    from zen.graph.datasets.edge_list import node_columns

    id_column = feature_columns = None
    if source is not None and source.get("nodes"):
        header = pd.read_csv(source["nodes"], nrows=0).columns
        id_column, feature_columns = node_columns(list(header), target=source.get("target"))
    n_classes = int(graph.y.max()) + 1 if graph.y is not None and graph.y.numel() else 0
    classes = getattr(graph, "classes", None) or list(range(n_classes))
    return {
        "format": GRAPH_FORMAT,
        "format_version": 1,
        "name": name,
        "source": source,
        "num_features": int(graph.num_features),
        "id_column": id_column,
        "feature_columns": feature_columns,
        "target": None if source is None else source.get("target"),
        "classes": [value.item() if hasattr(value, "item") else value for value in classes],
    }


def fit_graph(
    graph: Any,
    name: str,
    *,
    budget_s: float = 300.0,
    runs_dir: str | Path = "runs",
    seed: int = 0,
    progress: bool = False,
    workers: int | None = None,
    tune: bool = False,
    policy: str = "learned",
    resume: bool = True,
    source: dict[str, Any] | None = None,
) -> GraphRunResult:
    """Train the router's candidates on ``graph``, rank them, save the best and a report.

    Args:
        graph: a :class:`zen.graph.Graph` with ``x`` and ``y`` (and masks, or none).
        budget_s: total training time; each candidate gets an equal share (with ``tune``, a
            third goes to tuning the best-ranked candidate first).
        seed: seeds the split (when one is made) and every model's training.
        workers: processes that train candidates side by side (None: the usable cores).
        policy: the router's policy (see :class:`~zen.orchestrator.router.Router`), or
            ``"ab"`` to draw it per run.
        resume: load the candidates that an unfinished earlier run of this job had trained.
        source: how ``graph`` was read (:func:`~zen.graph.datasets.graph_source`), recorded
            with the model so that ``zen predict RUN`` can read it again.
    """
    job = graph_job(graph, name, budget_s=budget_s, seed=seed, progress=progress, tune=tune,
                    source=source)  # fmt: skip
    result: GraphRunResult = run_job(
        job,
        budget_s=budget_s,
        policy=policy,
        seed=seed,
        runs_dir=runs_dir,
        workers=workers,
        tune=tune,
        resume=resume,
    )
    return result


def graph_job(
    graph: Any,
    name: str,
    *,
    budget_s: float = 300.0,
    seed: int = 0,
    progress: bool = False,
    tune: bool = False,
    source: dict[str, Any] | None = None,
) -> GraphJob:
    """The job :func:`fit_graph` runs: ``graph`` profiled and split, nothing trained yet."""
    from zen.graph.sampling import random_node_split

    profile = profile_graph(graph, name)
    if all(getattr(graph, mask, None) is not None for mask in ("train_mask", "val_mask")):
        split = "the dataset's own split"
    else:
        graph = random_node_split(graph, train=0.6, val=0.2, seed=seed)
        split = "a random 60/20/20 split of the labelled nodes"
    return GraphJob(
        profile, graph, name, split, graph_source=source, seed=seed, progress=progress,
        settings={"budget_s": budget_s, "tune": tune},
        key_parts={"graph": graph_digest(graph), "budget_s": budget_s, "seed": seed,
                   "version": zen.__version__},
    )  # fmt: skip


def train_graph_candidate(
    task: dict[str, Any], *, name: str, options: dict[str, Any], parent_id: int, model_dir: str
) -> dict[str, Any]:
    """A workflow step: train one GNN on the training nodes, score it, save its Trainer.

    ``options`` (tuned settings) replace the paper's: ``hidden_channels``, ``num_layers``,
    ``dropout`` (``heads``, ``aggr``), ``lr`` and ``weight_decay``. Returns the leaderboard row
    and the learning-curve ``records`` (or ``error``).
    """
    from zen.graph import NodeLoader
    from zen.graph.metrics import accuracy

    graph = task["graph"]
    has_test = getattr(graph, "test_mask", None) is not None and bool(graph.test_mask.any())
    try:
        with candidate_run(task, name, options, parent_id) as run:
            spec = registry.get(name, "node classifier")
            training = {**DEFAULT_TRAINING, **spec.training}
            architecture = dict(options)
            lr = architecture.pop("lr", training["lr"])
            weight_decay = architecture.pop("weight_decay", training["weight_decay"])
            with private_rng(task["seed"]):  # repeatable initial weights, caller's RNG untouched
                model = spec.create(graph.num_features, task["n_classes"], architecture)
            trainer = Trainer(
                max_epochs=training["max_epochs"],
                optimizer="adam",
                lr=lr,
                weight_decay=weight_decay,
                loss="cross_entropy",
                early_stopping=100,
                seed=task["seed"],
                progress=task["progress"],
                callbacks=[TimeLimit(task["time_s"])],
            )
            started = time.perf_counter()
            result = trainer.fit(model, NodeLoader(graph, "train"), NodeLoader(graph, "val"))
            fit_s = time.perf_counter() - started
            run.device = trained_device(model)
            logits = model.predict(graph)
            row = {
                "model": name,
                "val_accuracy": accuracy(logits, graph.y, graph.val_mask),
                "test_accuracy": accuracy(logits, graph.y, graph.test_mask) if has_test else None,
                "epochs": result.epochs,
                "best_epoch": result.best_epoch,
                "fit_s": fit_s,
                "device": run.device,
            }
            trainer.save(model_dir)
            run.metrics.update({**_scores(row), "fit_s": fit_s})
    except ZenError as error:  # the same settings would fail again: no retry
        return failed(name, error)
    return {**row, "records": result.history.records}


def graph_digest(graph: Any) -> str:
    """SHA-256 of a graph's tensors (features, edges, labels, split masks): its content key."""
    import hashlib

    digest = hashlib.sha256()
    for field_name in ("x", "edge_index", "y", "edge_attr", "train_mask", "val_mask", "test_mask"):
        value = getattr(graph, field_name, None)
        digest.update(field_name.encode())
        if value is not None:
            array = value.detach().cpu().contiguous().numpy()
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def _scores(row: dict[str, Any]) -> dict[str, float]:
    keys = ("val_accuracy", "test_accuracy")
    return {key: row[key] for key in keys if row.get(key) is not None}


class GraphJob(CandidateJob):
    """Node classification: GNN candidates on the training nodes, chosen on the validation
    nodes, scored on the test nodes."""

    kind = "node classifier"
    step = staticmethod(train_graph_candidate)

    def __init__(
        self,
        profile: TaskProfile,
        graph: Any,
        name: str,
        split: str,
        *,
        graph_source: dict[str, Any] | None,
        seed: int,
        progress: bool,
        settings: dict[str, Any],
        key_parts: dict[str, Any],
    ) -> None:
        super().__init__(profile, name, settings, key_parts)
        self.graph, self.name, self.split = graph, name, split
        self.graph_source, self.seed, self.progress = graph_source, seed, progress

    def tune(
        self, name: str, timeout_s: float | None, *, n_trials: int = 20, **study: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tune ``name`` on the training nodes, scored on the validation nodes (never test)."""
        from zen.orchestrator.tune import tune_node_classifier

        study.setdefault("cluster", tuning_cluster())
        found = tune_node_classifier(self.graph, name, n_trials=n_trials, timeout_s=timeout_s,
                                     seed=self.seed, **study)  # fmt: skip
        return tuning_summary(name, found)

    def task(self, remaining_s: float, candidates: Sequence[Candidate]) -> dict[str, Any]:
        return {"family": self.profile.family, "profile": self.profile.to_json(),
                "seed": self.seed, "source": self.name, "graph": self.graph,
                "n_classes": int(self.profile.n_classes or 0),
                "time_s": remaining_s / len(candidates), "progress": self.progress}  # fmt: skip

    def data_bytes(self) -> int:
        graph = self.graph
        return sum(t.numel() * t.element_size() for t in (graph.x, graph.edge_index, graph.y))

    def rank(self, good: list[dict[str, Any]]) -> Ranking:
        # By validation accuracy: choosing on the test nodes would overstate the score.
        rows = sorted(good, key=lambda row: (-row["val_accuracy"], row["fit_s"]))
        scores = {row["model"]: row["val_accuracy"] for row in good}
        return Ranking(rows, rows[0], _scores(rows[0]), scores, "val_accuracy")

    def conclude(self, trained: Trained) -> GraphRunResult:
        self.records = {row["model"]: row.pop("records") for row in trained.ranking.leaderboard}
        job = trained.job
        return GraphRunResult(
            run_id=job.run_id, run_dir=job.run_dir, profile=self.profile,
            leaderboard=trained.ranking.leaderboard, best_model=str(trained.ranking.best["model"]),
            split=self.split, candidates=[c.to_json() for c in trained.candidates],
            failed=trained.failed,
            history_id=job.run.id, tuning=trained.tuning, extra=job.extra(trained.regret),
        )  # fmt: skip

    def write(self, staging: Path, trained: Trained, result: GraphRunResult) -> dict[str, Path]:
        best, records = result.best_model, self.records
        shutil.copytree(trained.job.scratch / best, staging / MODEL_DIR)
        write_json(staging / MODEL_DIR / GRAPH_FILE,
                   graph_inputs(self.graph, self.name, self.graph_source))  # fmt: skip
        plot_learning_curves(records[best], staging / CURVES_FILE,
                             title=f"zen fit: {self.name} ({best})",
                             best_epoch=trained.ranking.best["best_epoch"])  # fmt: skip
        plot_leaderboard(
            result.leaderboard, "val_accuracy", staging / LEADERBOARD_FILE,
            lower_is_better=False, title="candidates by validation accuracy",
        )  # fmt: skip
        images = {
            "leaderboard": staging / LEADERBOARD_FILE,
            f"learning curves ({best})": staging / CURVES_FILE,
        }
        if len(records) > 1:
            plot_candidate_curves(records, staging / ALL_CURVES_FILE)
            images["learning curves (every candidate)"] = staging / ALL_CURVES_FILE
        return images

    def report(self, trained: Trained, result: GraphRunResult) -> dict[str, Any]:
        return {
            "data": self.name,
            "split": result.split,
            "selection": "highest validation accuracy",
            "files": {
                "model": MODEL_DIR,
                "graph_inputs": f"{MODEL_DIR}/{GRAPH_FILE}",
                "learning_curves": CURVES_FILE,
                "html": HTML_FILE,
                "leaderboard": LEADERBOARD_FILE,
            },
        }
