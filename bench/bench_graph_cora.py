"""Cora node classification, public split: zen.graph next to PyTorch Geometric 2.8.1.

GCN (2 layers x 16, dropout 0.5, lr 0.01) and GAT (8 heads x 8, dropout 0.6, lr 0.005), both
with weight decay 5e-4 and 200 full-batch Adam epochs, on the same graph tensors (read by
zen's Planetoid loader, row-normalised features). zen trains through its Trainer; PyG through
the loop of its examples. The test accuracy of the model after the last epoch is reported,
mean ± std over seeds. Published figures (Kipf & Welling 2017: GCN 81.5; Veličković et al.
2018: GAT 83.0) are quoted, not measured.

    python bench/bench_graph_cora.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result
from _graph_models import pyg_available, pyg_model, zen_model

CORA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"
SETTINGS = {"GCN": {"hidden": 16, "dropout": 0.5, "lr": 0.01},
            "GAT": {"hidden": 8, "dropout": 0.6, "lr": 0.005}}  # fmt: skip
PUBLISHED = {"GCN": 81.5, "GAT": 83.0}
EPOCHS = 200


def run_zen(graph, name: str, seed: int) -> float:
    from zen.graph import NodeLoader
    from zen.graph.metrics import accuracy
    from zen.neural import Trainer

    settings = SETTINGS[name]
    torch.manual_seed(seed)
    model = zen_model(name, graph.num_features, settings["hidden"], 7, settings["dropout"])
    Trainer(max_epochs=EPOCHS, optimizer="adam", lr=settings["lr"], weight_decay=5e-4,
            loss="cross_entropy", metrics=[], seed=seed,
            progress=False).fit(model, NodeLoader(graph, "train"))  # fmt: skip
    return accuracy(model.predict(graph), graph.y, graph.test_mask)


def run_pyg(graph, name: str, seed: int) -> float:
    settings = SETTINGS[name]
    torch.manual_seed(seed)
    model = pyg_model(name, graph.num_features, settings["hidden"], 7, settings["dropout"])
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"], weight_decay=5e-4)
    x, edge_index, y, mask = graph.x, graph.edge_index, graph.y, graph.train_mask
    for _ in range(EPOCHS):
        model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(x, edge_index)[mask], y[mask]).backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = model(x, edge_index).argmax(dim=1)
    return float((predicted[graph.test_mask] == y[graph.test_mask]).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one seed, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 1
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)
    from zen.graph.datasets import Planetoid

    graph = Planetoid("cora", root=CORA_ROOT)[0]
    libraries = {"zen": run_zen}
    if pyg_available():
        libraries["PyG"] = run_pyg
    else:
        print("torch-geometric not installed (pip install -e '.[bench]'): zen only")
    rows, raw = [], []
    for name in SETTINGS:
        means = {}
        for library, run in libraries.items():
            scores, times = [], []
            for seed in range(args.seeds):
                started = time.perf_counter()
                scores.append(100 * run(graph, name, seed))
                times.append(time.perf_counter() - started)
            raw.append({"model": name, "library": library, "accuracy": scores, "time_s": times})
            means[library] = statistics.mean(scores)
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            rows.append({"model": name, "library": library,
                         "test accuracy %": f"{means[library]:.1f} ± {spread:.1f}",
                         "median fit s": statistics.median(times)})  # fmt: skip
            print(f"{name} {library}: {[round(s, 1) for s in scores]}", flush=True)
        if "PyG" in means:
            rows.append({"model": name, "library": "zen − PyG (points)",
                         "test accuracy %": f"{means['zen'] - means['PyG']:+.1f}",
                         "median fit s": "–"})  # fmt: skip
        rows.append({"model": name, "library": "paper (published)",
                     "test accuracy %": f"{PUBLISHED[name]:.1f}", "median fit s": "–"})  # fmt: skip
    print_table(f"Cora, public split, {args.seeds} seeds, {EPOCHS} epochs", rows, list(rows[0]))
    write_result("graph_cora", {"machine": info, "quick": args.quick, "rows": rows, "raw": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
