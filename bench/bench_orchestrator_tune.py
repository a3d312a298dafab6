"""Tuning at a fixed budget: Optuna TPE + median pruning vs the defaults, on three real tasks.

* ILI (7 weekly series, h 12): N-HiTS; tuned on the data before the last 12 weeks (its own
  validation window is the 12 weeks before those), scored on the last 12 weeks (MAE).
* Cora (public split): GCN; tuned on validation accuracy, scored on the test nodes.
* diabetes (scikit-learn): the tabular MLP; tuned on a validation part of the training rows,
  scored by RMSE on 25 % held-out rows.

Defaults are zen's own (GCN: the paper's settings). The tuned configuration is refitted and
scored on data the tuner never saw, so the comparison is not biased by picking the best of
many validation scores. Pruning's saved time is the tuner's estimate (epochs pruned trials did
not run x their median epoch time). Studies live in a temporary SQLite file.

    python bench/bench_orchestrator_tune.py [--trials 15] [--budget-s 90]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

GRAPH_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"
H = 12


def forecast_task(storage: Path, trials: int, budget_s: float) -> dict:
    from zen.forecasting import NHITS, Forecaster, metrics
    from zen.forecasting.datasets import load_ili
    from zen.orchestrator.tune import tune_forecaster

    df = load_ili()
    last = df.groupby("unique_id").cumcount(ascending=False) < H
    train, test = df[~last], df[last]

    def score(model) -> float:
        forecast = Forecaster([model]).fit(train).predict()
        merged = test.merge(forecast, on=["unique_id", "ds"])
        return metrics.mae(merged["y"].to_numpy(), merged["NHITS"].to_numpy())

    default = score(NHITS(h=H, input_size=4 * H, max_steps=300, random_seed=0))
    started = time.perf_counter()
    result = tune_forecaster(train, "NHITS", h=H, input_size=4 * H, n_trials=trials,
                             timeout_s=budget_s, max_steps=300, storage=storage)  # fmt: skip
    tuned = score(NHITS(**result.best_hyperparameters))
    return _row("ILI, N-HiTS", "MAE", default, tuned, result, time.perf_counter() - started)


def graph_task(storage: Path, trials: int, budget_s: float) -> dict | None:
    import zen.graph
    from zen.graph import GCN, NodeLoader
    from zen.graph.datasets import Planetoid
    from zen.graph.metrics import accuracy
    from zen.neural import Trainer
    from zen.orchestrator.tune import tune_node_classifier

    if not (GRAPH_ROOT / "cora").is_dir():
        return None
    graph = Planetoid("cora", root=GRAPH_ROOT)[0]

    def test_accuracy(network, lr: float, weight_decay: float) -> float:
        Trainer(max_epochs=200, lr=lr, weight_decay=weight_decay, loss="cross_entropy",
                metrics=[], seed=0, early_stopping=50).fit(
            network, NodeLoader(graph, "train"), NodeLoader(graph, "val"))  # fmt: skip
        return accuracy(network.predict(graph), graph.y, graph.test_mask)

    torch.manual_seed(0)
    default = 1 - test_accuracy(GCN(graph.num_features, 16, 2, 7, dropout=0.5), 0.01, 5e-4)
    started = time.perf_counter()
    result = tune_node_classifier(graph, "GCN", n_trials=trials, timeout_s=budget_s,
                                  storage=storage)  # fmt: skip
    settings = dict(result.best_hyperparameters)
    lr, weight_decay = settings.pop("lr"), settings.pop("weight_decay")
    hidden, layers = settings.pop("hidden_channels"), settings.pop("num_layers")
    torch.manual_seed(0)
    network = zen.graph.GCN(graph.num_features, hidden, layers, 7, **settings)
    tuned = 1 - test_accuracy(network, lr, weight_decay)
    return _row("Cora, GCN", "test error", default, tuned, result, time.perf_counter() - started)


def table_task(storage: Path, trials: int, budget_s: float) -> dict:
    from sklearn.datasets import load_diabetes

    from zen.orchestrator.tune import tune_tabular
    from zen.tabular import TabularModel, score, train_test_split

    frame = load_diabetes(as_frame=True).frame
    train_rows, test_rows = train_test_split(len(frame), 0.25, 0)
    train, test = frame.iloc[train_rows], frame.iloc[test_rows]

    def rmse(model) -> float:
        model.fit(train, "target")
        return score("regression", test["target"].to_numpy(), model.predict(test))["rmse"]

    default = rmse(TabularModel(task="regression", seed=0))
    started = time.perf_counter()
    result = tune_tabular(train, "target", task="regression", n_trials=trials,
                          timeout_s=budget_s, storage=storage)  # fmt: skip
    tuned = rmse(TabularModel(task="regression", **result.best_hyperparameters))
    return _row("diabetes, MLP", "RMSE", default, tuned, result, time.perf_counter() - started)


def _row(task: str, metric: str, default: float, tuned: float, result, elapsed: float) -> dict:
    return {
        "task": task,
        "metric": metric,
        "default": default,
        "tuned": tuned,
        "improvement": 1 - tuned / default if default else float("nan"),
        "trials": result.n_trials,
        "pruned": result.n_pruned,
        "tuning s": elapsed,
        "pruning saved s (est.)": result.time_saved_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--budget-s", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="3 trials in 20 s, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.budget_s = 3, 20.0
    torch.set_num_threads(2)
    np.random.seed(0)
    info = machine_info()
    print_machine(info)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        storage = Path(folder) / "zen.db"
        for task in (forecast_task, graph_task, table_task):
            row = task(storage, args.trials, args.budget_s)
            if row is not None:
                rows.append(row)
                print(row, flush=True)
    print_table(f"tuning, {args.trials} trials or {args.budget_s:g} s per task", rows,
                list(rows[0]))  # fmt: skip
    write_result("orchestrator_tune", {"machine": info, "quick": args.quick, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
