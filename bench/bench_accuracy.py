"""Real-data accuracy of the `zen fit` model, next to scikit-learn's MLP in the same run.

Datasets (both bundled with scikit-learn, real measurements):
  digits    1,797 8x8 handwritten digits, 10 classes      target: test accuracy >= 0.96
  diabetes  442 patients, 10 features, disease progression  target: test R^2 >= 0.45

For each seed: one 80/20 split (stratified for digits), `zen.tabular.TabularModel` with its
defaults, and scikit-learn's `MLPClassifier`/`MLPRegressor` with the same hidden layers, Adam,
early stopping, on standardised features (targets standardised for regression, as zen does).
Medians over the seeds are reported.

    python bench/bench_accuracy.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result
from zen.tabular import TabularModel, score, train_test_split

TARGETS = {"digits": ("accuracy", 0.96), "diabetes": ("r2", 0.45)}


def load(name: str):
    from sklearn import datasets

    if name == "digits":
        return datasets.load_digits(as_frame=True).frame, "classification"
    return datasets.load_diabetes(as_frame=True, scaled=False).frame, "regression"


def sklearn_model(task: str, hidden: tuple[int, ...], seed: int):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    options = {
        "hidden_layer_sizes": hidden,
        "early_stopping": True,
        "validation_fraction": 0.15,
        "n_iter_no_change": 30,
        "max_iter": 300,
        "alpha": 1e-2,
        "random_state": seed,
    }
    if task == "classification":
        return make_pipeline(StandardScaler(), MLPClassifier(**options))
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), MLPRegressor(**options)),
        transformer=StandardScaler(),
    )


def run(name: str, seeds: int) -> dict:
    frame, task = load(name)
    metric, _ = TARGETS[name]
    labels = frame["target"].to_numpy()
    zen_scores, zen_times, peer_scores, peer_times = [], [], [], []
    for seed in range(seeds):
        train, test = train_test_split(
            len(frame), 0.2, seed, labels if task == "classification" else None
        )
        started = time.perf_counter()
        model = TabularModel(task=task, seed=seed).fit(frame.iloc[train], "target")
        zen_times.append(time.perf_counter() - started)
        zen_scores.append(score(task, labels[test], model.predict(frame.iloc[test]))[metric])

        hidden = tuple(model.network_.layer_sizes[1:-1])
        features = frame.drop(columns="target").to_numpy()
        peer = sklearn_model(task, hidden, seed)
        started = time.perf_counter()
        peer.fit(features[train], labels[train])
        peer_times.append(time.perf_counter() - started)
        peer_scores.append(score(task, labels[test], peer.predict(features[test]))[metric])
    return {
        "dataset": name,
        "metric": metric,
        "zen": zen_scores,
        "sklearn": peer_scores,
        "zen_fit_s": zen_times,
        "sklearn_fit_s": peer_times,
        "hidden_layers": list(hidden),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, for a smoke run")
    args = parser.parse_args()
    seeds = 2 if args.quick else args.seeds

    info = machine_info()
    print_machine(info)
    results, rows = [], []
    for name in TARGETS:
        result = run(name, seeds)
        results.append(result)
        metric, target = TARGETS[name]
        zen_median = statistics.median(result["zen"])
        rows.append(
            {
                "dataset": name,
                "metric": metric,
                "zen (median)": zen_median,
                "zen min..max": f"{min(result['zen']):.3f}..{max(result['zen']):.3f}",
                "sklearn MLP (median)": statistics.median(result["sklearn"]),
                "target": f">= {target}",
                "met": "yes" if zen_median >= target else "NO",
                "zen fit s": statistics.median(result["zen_fit_s"]),
                "sklearn fit s": statistics.median(result["sklearn_fit_s"]),
                "time ratio sklearn/zen": statistics.median(result["sklearn_fit_s"])
                / statistics.median(result["zen_fit_s"]),
            }
        )
    columns = list(rows[0])
    print_table(f"real-data accuracy, {seeds} seeds, 80/20 splits", rows, columns)
    write_result("accuracy", {"machine": info, "seeds": seeds, "results": results, "rows": rows})
    return 0 if all(row["met"] == "yes" for row in rows) else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
