"""Graph classification on a TU-format dataset: zen.graph GIN next to PyTorch Geometric's.

No TU benchmark (MUTAG, PROTEINS...) can be obtained offline here, so the script generates one
and writes it in the TU file format: ``SYNTH3``, 600 graphs of 12-30 nodes in three classes
that differ only in how they are wired (noisy ring lattices, preferential-attachment trees,
two dense communities), node labels = degree (capped at 5, one-hot). Both libraries read the
same files with their own TUDataset readers, then train GIN-0 (Xu et al. 2019: 3 layers,
MLPs of width 32 with batch norm, sum readout) for 50 epochs, batches of 32, Adam 0.01, on the
same 80/20 split; test accuracy after the last epoch and median time per epoch, over seeds.

    python bench/bench_graph_tu.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BUILD_DIR, machine_info, print_machine, print_table, write_result
from _graph_models import pyg_available

NAME = "SYNTH3"
EPOCHS, BATCH, HIDDEN, LAYERS = 50, 32, 32, 3


def generate(root: Path, n_graphs: int = 600, seed: int = 0) -> Path:
    """Write the TU files of SYNTH3 under ``root/SYNTH3/raw`` (PyG's layout, zen reads it too)."""
    import networkx as nx

    folder = root / NAME / "raw"
    if (folder / f"{NAME}_A.txt").is_file():
        return root
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    edges, indicator, graph_labels, node_labels = [], [], [], []
    offset = 0
    for index in range(n_graphs):
        label = index % 3
        size = int(rng.integers(12, 31))
        graph_seed = int(rng.integers(1 << 30))
        if label == 0:
            graph = nx.connected_watts_strogatz_graph(size, 4, 0.2, seed=graph_seed)
        elif label == 1:
            graph = nx.barabasi_albert_graph(size, 1, seed=graph_seed)
        else:
            half = size // 2
            graph = nx.random_partition_graph([half, size - half], 0.5, 0.05, seed=graph_seed)
        for u, v in graph.edges():
            edges += [(u + offset + 1, v + offset + 1), (v + offset + 1, u + offset + 1)]
        indicator += [index + 1] * size
        node_labels += [min(graph.degree(node), 5) for node in range(size)]
        graph_labels.append(label)
        offset += size
    np.savetxt(folder / f"{NAME}_A.txt", np.array(edges), fmt="%d", delimiter=", ")
    for suffix, values in (("graph_indicator", indicator), ("graph_labels", graph_labels),
                           ("node_labels", node_labels)):  # fmt: skip
        np.savetxt(folder / f"{NAME}_{suffix}.txt", np.array(values), fmt="%d")
    return root


def split(n: int, seed: int) -> tuple[list[int], list[int]]:
    order = np.random.default_rng(seed).permutation(n)
    cut = int(0.8 * n)
    return order[:cut].tolist(), order[cut:].tolist()


def run_zen(root: Path, seed: int) -> tuple[float, float]:
    from zen.graph import GIN, GraphLoader
    from zen.graph.datasets import TUDataset
    from zen.neural import Trainer

    data = TUDataset(NAME, root)
    train, test = split(len(data), seed)
    torch.manual_seed(seed)
    model = GIN(data.num_features, HIDDEN, LAYERS, data.num_classes, readout="add")
    result = Trainer(max_epochs=EPOCHS, optimizer="adam", lr=0.01, loss="cross_entropy",
                     metrics=[], seed=seed, progress=False).fit(
        model, GraphLoader(data[train], batch_size=BATCH, shuffle=True, seed=seed))  # fmt: skip
    # Median epoch: the first one also pays one-off costs (torch imports its compiler stack
    # when the first optimizer of a process steps).
    epoch_s = statistics.median(result.history["time_s"])
    correct = 0
    for batch in GraphLoader(data[test], batch_size=256):
        correct += int((model.predict(batch).argmax(dim=1) == batch.y).sum())
    return correct / len(test), epoch_s


class PygGIN(nn.Module):
    def __init__(self, features: int, classes: int) -> None:
        super().__init__()
        from torch_geometric.nn import GINConv

        self.convs = nn.ModuleList()
        for layer in range(LAYERS):
            mlp = nn.Sequential(nn.Linear(features if layer == 0 else HIDDEN, HIDDEN),
                                nn.BatchNorm1d(HIDDEN), nn.ReLU(),
                                nn.Linear(HIDDEN, HIDDEN))  # fmt: skip
            self.convs.append(GINConv(mlp))
        self.head = nn.Linear(HIDDEN, classes)

    def forward(self, x, edge_index, batch):
        from torch_geometric.nn import global_add_pool

        for conv in self.convs:
            x = F.relu(conv(x, edge_index))
        return self.head(global_add_pool(x, batch))


def run_pyg(root: Path, seed: int) -> tuple[float, float]:
    from torch_geometric.datasets import TUDataset
    from torch_geometric.loader import DataLoader

    data = TUDataset(str(root), NAME)
    train, test = split(len(data), seed)
    torch.manual_seed(seed)
    model = PygGIN(data.num_features, data.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = DataLoader(data[train], batch_size=BATCH, shuffle=True)
    epoch_times = []
    for _ in range(EPOCHS):
        started = time.perf_counter()
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            out = model(batch.x, batch.edge_index, batch.batch)
            F.cross_entropy(out, batch.y).backward()
            optimizer.step()
        epoch_times.append(time.perf_counter() - started)
    epoch_s = statistics.median(epoch_times)
    model.eval()
    correct = 0
    with torch.no_grad():
        for batch in DataLoader(data[test], batch_size=256):
            pred = model(batch.x, batch.edge_index, batch.batch).argmax(dim=1)
            correct += int((pred == batch.y).sum())
    return correct / len(test), epoch_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="two seeds, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.seeds = 2
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)
    root = generate(BUILD_DIR / "tu")
    libraries = {"zen": run_zen}
    if pyg_available():
        libraries["PyG"] = run_pyg
    rows, raw = [], []
    for library, run in libraries.items():
        accuracies, epochs = [], []
        for seed in range(args.seeds):
            accuracy, epoch_s = run(root, seed)
            accuracies.append(100 * accuracy)
            epochs.append(epoch_s * 1000)
            print(f"{library} seed {seed}: {accuracies[-1]:.1f} % {epochs[-1]:.0f} ms/epoch",
                  flush=True)  # fmt: skip
        raw.append({"library": library, "accuracy": accuracies, "epoch_ms": epochs})
        rows.append({"library": library,
                     "test accuracy %": f"{statistics.mean(accuracies):.1f}"
                                        f" ± {statistics.stdev(accuracies):.1f}",
                     "ms / epoch": statistics.median(epochs)})  # fmt: skip
    if len(raw) == 2:
        rows.append({"library": "ratio zen / PyG", "test accuracy %": "–",
                     "ms / epoch": rows[0]["ms / epoch"] / rows[1]["ms / epoch"]})  # fmt: skip
    print_table(f"{NAME} (generated, TU format), GIN-0, {args.seeds} seeds", rows, list(rows[0]))
    write_result("graph_tu", {"machine": info, "quick": args.quick, "rows": rows, "raw": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
