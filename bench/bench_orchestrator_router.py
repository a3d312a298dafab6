"""Router regret on a suite of real tasks: fixed default vs rule prior vs learned router.

For every task the script trains every candidate the router knows for its family, scores it
on held-out data, and so knows the best candidate "found by trying all". A policy's *regret*
on a task is the relative score of its first choice minus 1 (0 = it picked the winner; losses
compared: MASE for series, error rate for classification, RMSE for regression). Policies:

* ``default``: the router's fixed order, ignoring the data;
* ``rules``: the rule prior of :mod:`zen.orchestrator.router`;
* ``learned``: rule prior + History, leave-one-source-out: the History holds the candidate
  runs of every task drawn from *another* source dataset, never the task being routed nor its
  siblings (the M4 subsets and cuts, ETTh1 and its target, ILI at two horizons, the two
  generated block-model graphs), which would tell the router the answer; no exploration
  bonus. Two learners: ``learned`` (neighbours, the default) and ``boosting`` (bagged
  gradient boosting).

Tasks: four M4 Hourly subsets (about 100 series each, h 48) and two of them cut to their last
150 hours (h 24); ETTh1 (7 channels, last 3,000 hours, h 48) and its target alone over the last
1,000 hours (h 24); exchange rate (h 30); ILI (h 12 and h 24); Cora, karate club, and two
generated stochastic block graphs (heterophilous and homophilous); scikit-learn's digits, wine,
breast cancer, iris (classification), diabetes and a generated Friedman #1 table (regression).
Neural candidates get short budgets (``--steps``), the same for every candidate, so the
ranking reflects what a quick ``zen fit`` would find. Scores are cached in
``bench/results/orchestrator_router_scores.json`` after every task: a re-run scores only the tasks
not scored yet with the same ``--steps`` (``--fresh`` all of them), ``--rescore`` none.

Each task names its ``source`` dataset where it is defined.

    python bench/bench_orchestrator_router.py [--steps 300] [--quick] [--rescore]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, machine_info, print_machine, print_table, write_result

SCORES_FILE = RESULTS_DIR / "orchestrator_router_scores.json"
#: Columns of the table: (router policy, learner).
POLICIES = {
    "default": ("default", "neighbours"),
    "rules": ("rules", "neighbours"),
    "learned": ("learned", "neighbours"),
    "boosting": ("learned", "boosting"),
}
GRAPH_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"


# ---------------------------------------------------------------------------- tasks
def series_tasks(quick: bool) -> dict[str, tuple[pd.DataFrame, int, str]]:
    """Series tasks: ``name -> (long frame, horizon, source dataset)``."""
    from zen.forecasting.datasets import load_ett, load_exchange_rate, load_ili, load_m4

    m4, _ = load_m4("Hourly")
    ids = sorted(m4["unique_id"].unique(), key=lambda s: int(str(s)[1:]))
    subsets = [ids[i * 100 : (i + 1) * 100 if i < 3 else len(ids)] for i in range(4)]
    tasks = {f"M4-H {i + 1}": (m4[m4["unique_id"].isin(subset)], 48, "M4 Hourly")
             for i, subset in enumerate(subsets[: 1 if quick else 4])}  # fmt: skip
    if quick:
        return tasks
    for i in (0, 2):
        short = m4[m4["unique_id"].isin(subsets[i])].groupby("unique_id").tail(150)
        tasks[f"M4-H {i + 1}, last 150 h"] = (short, 24, "M4 Hourly")
    ett = load_ett("ETTh1")
    tasks["ETTh1"] = (ett.groupby("unique_id").tail(3000), 48, "ETTh1")
    tasks["ETTh1 OT, last 1,000 h"] = (ett[ett["unique_id"] == "OT"].tail(1000), 24, "ETTh1")
    tasks["exchange"] = (load_exchange_rate(), 30, "exchange rate")
    tasks["ILI"] = (load_ili(), 12, "ILI")
    tasks["ILI, h 24"] = (load_ili(), 24, "ILI")
    return tasks


def score_series(
    frame: pd.DataFrame, h: int, names: list[str], steps: int, season: int
) -> dict[str, float]:
    from zen.forecasting import MODEL_CLASSES, Forecaster, metrics
    from zen.forecasting.data import from_long
    from zen.orchestrator.jobs.forecast import season_length_for

    frame = frame[["unique_id", "ds", "y"]]
    last = frame.groupby("unique_id").cumcount(ascending=False) < h
    train, test = frame[~last], frame[last]
    freq = from_long(train).freq
    # Integer steps (M4) carry no calendar: take the season the profile found in the ACF.
    season = max(season, season_length_for(freq))
    input_size = min(4 * h, int(train.groupby("unique_id").size().min()) - h)
    neural = {"max_steps": steps, "windows_batch_size": 256, "scaler_type": "robust",
              "random_seed": 1}  # fmt: skip
    settings: dict[str, dict[str, Any]] = {
        "NHITS": {"input_size": input_size, **neural},
        "NBEATS": {"input_size": input_size, **neural},
        "TCN": {"input_size": input_size, "encoder_hidden_size": 64, **neural},
        "DeepAR": {
            "input_size": input_size,
            "lstm_hidden_size": 64,
            "trajectory_samples": 50,
            **neural,
        },
        "SeasonalNaive": {"season_length": season},
    }
    scores = {}
    for name in names:
        model = MODEL_CLASSES[name](h=h, **settings.get(name, {}))
        forecast = Forecaster([model], freq=freq).fit(train).predict()
        merged = test.merge(forecast, on=["unique_id", "ds"]).sort_values(["unique_id", "ds"])
        # Every series has exactly h test rows, so (series, step) is a reshape; series may
        # end at different timestamps, so pivoting on ds would not line them up.
        truth = merged["y"].to_numpy().reshape(-1, h)
        predicted = merged[name].to_numpy().reshape(-1, h)
        insample = [g["y"].to_numpy() for _, g in train.sort_values("ds").groupby("unique_id")]
        scores[name] = float(
            np.mean(
                [
                    metrics.mase(t, p, i, season)
                    for t, p, i in zip(truth, predicted, insample, strict=True)
                ]
            )
        )
    return scores


def graph_tasks() -> dict[str, tuple[Callable[[], Any], str]]:
    """Graph tasks: ``name -> (loader, source dataset)``."""
    from zen.graph import Graph
    from zen.graph.datasets import Planetoid, karate_club

    def block_graph(same_class: float, seed: int) -> Any:
        generator = torch.Generator().manual_seed(seed)
        n, classes = 600, 3
        y = torch.arange(n) % classes
        source = torch.randint(n, (6000,), generator=generator)
        # A share ``same_class`` of edges joins nodes of one class; features weakly informative.
        offset = torch.randint(1, classes, (6000,), generator=generator)
        candidates = torch.randint(n // classes, (6000,), generator=generator) * classes
        target = candidates + (y[source] + offset) % classes
        same = torch.rand(6000, generator=generator) < same_class
        target = torch.where(same, candidates + y[source], target).clamp(max=n - 1)
        x = torch.nn.functional.one_hot(y, classes).float() + torch.randn(n, classes) * 1.5
        edges = torch.cat([torch.stack([source, target]), torch.stack([target, source])], 1)
        return Graph(x=x, edge_index=edges, y=y)

    # The two block-model graphs come from one generator (same sizes, same feature noise): one
    # source, so that routing one never learns from the other.
    tasks: dict[str, tuple[Callable[[], Any], str]] = {
        "karate": (karate_club, "karate club"),
        "heterophilous": (lambda: block_graph(0.2, seed=0), "block model (generated)"),
        "homophilous SBM": (lambda: block_graph(0.8, seed=1), "block model (generated)"),
    }
    if (GRAPH_ROOT / "cora").is_dir():
        tasks["Cora"] = (lambda: Planetoid("cora", root=GRAPH_ROOT)[0], "Cora")
    return tasks


def score_graph(graph: Any, names: list[str]) -> dict[str, float]:
    from zen.graph import NodeLoader
    from zen.graph.metrics import accuracy
    from zen.graph.sampling import random_node_split
    from zen.neural import Trainer
    from zen.orchestrator.jobs.graph import DEFAULT_TRAINING, candidates

    if graph.val_mask is None or graph.test_mask is None or not bool(graph.val_mask.any()):
        graph = random_node_split(graph, train=0.6, val=0.2, seed=0)
    classes = int(graph.y.max()) + 1
    known = {spec.name: spec for spec in candidates()}
    scores = {}
    for name in names:
        spec = known[name]
        training = {**DEFAULT_TRAINING, **spec.training}
        torch.manual_seed(0)
        model = spec.create(graph.num_features, classes, {})
        Trainer(max_epochs=training["max_epochs"], lr=training["lr"],
                weight_decay=training["weight_decay"], loss="cross_entropy", metrics=[], seed=0,
                early_stopping=50).fit(model, NodeLoader(graph, "train"),
                                       NodeLoader(graph, "val"))  # fmt: skip
        scores[name] = 1.0 - accuracy(model.predict(graph), graph.y, graph.test_mask)
    return scores


def table_tasks() -> dict[str, tuple[pd.DataFrame, str, str]]:
    """Table tasks: ``name -> (frame, target column, source dataset)``; each its own source."""
    from sklearn import datasets

    tasks = {}
    for name, loader in (("digits", datasets.load_digits), ("wine", datasets.load_wine),
                         ("breast cancer", datasets.load_breast_cancer),
                         ("iris", datasets.load_iris),
                         ("diabetes", datasets.load_diabetes)):  # fmt: skip
        frame = loader(as_frame=True).frame
        tasks[name] = (frame, "target", name)
    x, y = datasets.make_friedman1(n_samples=5000, noise=1.0, random_state=0)
    friedman = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])]).assign(target=y)
    tasks["Friedman #1 (generated)"] = (friedman, "target", "Friedman #1")
    return tasks


def score_table(frame: pd.DataFrame, target: str, options: dict[str, dict]) -> dict[str, float]:
    from zen.orchestrator.profile import profile_table
    from zen.tabular import TabularModel, score, train_test_split

    kind = profile_table(frame, target).kind
    stratify = frame[target].to_numpy() if kind == "classification" else None
    train_rows, test_rows = train_test_split(len(frame), 0.25, 0, stratify)
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]
    scores = {}
    for name, settings in options.items():
        model = TabularModel(task=kind, seed=0, **settings).fit(train, target)
        measured = score(kind, test[target].to_numpy(), model.predict(test))
        scores[name] = 1.0 - measured["accuracy"] if kind == "classification" else measured["rmse"]
    return scores


# ---------------------------------------------------------------------------- routing
def collect(
    quick: bool, steps: int, done: dict[str, dict[str, Any]], score: bool = True
) -> dict[str, dict[str, Any]]:
    """Profile, source dataset and every candidate's held-out loss, per task; tasks in ``done``
    (scored before with the same ``steps``) are kept, and the cache file is rewritten after
    every task, so an interrupted run picks up where it stopped. ``score=False``: only the
    cached tasks."""
    from zen.orchestrator.profile import profile_graph, profile_series, profile_table
    from zen.orchestrator.router import route

    results: dict[str, dict[str, Any]] = {}

    def finish(
        name: str, source: str, profile: Any, scores: dict[str, float], started: float
    ) -> None:
        results[name] = {"profile": profile.to_json(), "scores": scores, "steps": steps,
                         "source": source}  # fmt: skip
        SCORES_FILE.parent.mkdir(parents=True, exist_ok=True)
        SCORES_FILE.write_text(json.dumps({**done, **results}, indent=1, default=str))
        print(f"{name}: {scores} ({time.perf_counter() - started:.0f}s)", flush=True)

    def cached(name: str, source: str) -> bool:
        """Whether the task is done: scored before with these steps (or not to be scored)."""
        if done.get(name, {}).get("steps") == steps:
            # The source is the task definition's, also for caches written before it existed.
            results[name] = {**done[name], "source": source}
            print(f"{name}: cached {done[name]['scores']}", flush=True)
            return True
        if not score:
            print(f"{name}: not scored with --steps {steps}; left out (--rescore)", flush=True)
        return not score

    # Cheap families first: the tables and graphs train in seconds, the series in minutes.
    for name, (load, source) in graph_tasks().items():
        if cached(name, source):
            continue
        started = time.perf_counter()
        graph = load()
        profile = profile_graph(graph, name)
        names = [c.name for c in route(profile, 1e9, policy="default")]
        finish(name, source, profile, score_graph(graph, names), started)
    for name, (frame, target, source) in table_tasks().items():
        if cached(name, source):
            continue
        started = time.perf_counter()
        profile = profile_table(frame, target)
        options = {c.name: dict(c.options) for c in route(profile, 1e9, policy="default")}
        finish(name, source, profile, score_table(frame, target, options), started)
    for name, (frame, h, source) in series_tasks(quick).items():
        if cached(name, source):
            continue
        started = time.perf_counter()
        profile = profile_series(frame[["unique_id", "ds", "y"]], h)
        names = [c.name for c in route(profile, 1e9, policy="default")]
        season = int(profile.season_length or 1)
        finish(name, source, profile, score_series(frame, h, names, steps, season), started)
    return results


def regrets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    from zen.orchestrator.history import History
    from zen.orchestrator.profile import TaskProfile
    from zen.orchestrator.router import route

    rows = []
    for task, entry in results.items():
        profile = TaskProfile.from_json(entry["profile"])
        scores = entry["scores"]
        best = min(scores.values())
        row: dict[str, Any] = {"task": task, "best": min(scores, key=scores.__getitem__)}
        # Leave out the task and its siblings: another cut of the same data would give away
        # which candidate wins on it.
        known = {other: other_entry for other, other_entry in results.items()
                 if other_entry["source"] != entry["source"]}  # fmt: skip
        row["history tasks"] = len(known)
        with tempfile.TemporaryDirectory() as folder, History(Path(folder) / "zen.db") as history:
            for other, other_entry in known.items():
                _record(history, TaskProfile.from_json(other_entry["profile"]),
                        other_entry["scores"], other)  # fmt: skip
            for column, (policy, learner) in POLICIES.items():
                ranked = route(profile, 1e9, history=history if policy == "learned" else None,
                               policy=policy, explore=0.0, learner=learner)  # fmt: skip
                choice = next(c.name for c in ranked if c.name in scores)
                row[column] = scores[choice] / best - 1 if best > 0 else 0.0
                row[f"{column} pick"] = choice
        rows.append(row)
    return rows


def _record(history: Any, profile: Any, scores: dict[str, float], task: str) -> None:
    from zen.orchestrator.router import FAMILY_METRICS

    metric = FAMILY_METRICS[profile.family][0]
    parent = history.start_run(profile.family, "zen fit", profile=profile, data=task)
    history.finish_run(parent, {})
    for name, loss in scores.items():
        value = 1.0 - loss if metric in ("accuracy", "val_accuracy") else loss
        run = history.start_run(profile.family, name, profile=profile, data=task, parent=parent)
        history.finish_run(run, {metric: value})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--quick", action="store_true", help="one M4 subset, 30 steps")
    parser.add_argument("--rescore", action="store_true", help="only the cached scores")
    parser.add_argument("--fresh", action="store_true", help="score every task again")
    args = parser.parse_args()
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)
    done = json.loads(SCORES_FILE.read_text()) if SCORES_FILE.is_file() else {}
    steps = 30 if args.quick else args.steps
    if args.rescore:
        results = collect(args.quick, steps, done, score=False)
    else:
        results = collect(args.quick, steps, {} if args.fresh else done)
    rows = regrets(results)
    policies = tuple(POLICIES)
    summary = {policy: statistics.median(r[policy] for r in rows) for policy in policies}
    means = {policy: statistics.mean(r[policy] for r in rows) for policy in policies}
    columns = ["task", "best", "history tasks",
               *(f"{p}{s}" for p in policies for s in ("", " pick"))]  # fmt: skip
    print_table("router regret per task (0 = picked the best candidate)", rows, columns)
    reduction = 1 - summary["learned"] / summary["default"] if summary["default"] else 0.0
    print(f"median regret: default {summary['default']:.3f}, rules {summary['rules']:.3f},"
          f" learned {summary['learned']:.3f}; learned is {reduction:.0%} below default (target:"
          " at least 30 % lower)")  # fmt: skip
    print(f"mean regret: default {means['default']:.3f}, rules {means['rules']:.3f},"
          f" learned {means['learned']:.3f}, boosting {means['boosting']:.3f}")  # fmt: skip
    print(f"median regret with the boosting learner: {summary['boosting']:.3f}")
    write_result("orchestrator_router", {"machine": info, "rows": rows, "median": summary,
                                         "mean": means})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
