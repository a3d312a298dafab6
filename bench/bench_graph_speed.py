"""Graph speed and memory: zen.graph next to PyTorch Geometric 2.8.1, same networks, same data.

For GCN, GAT and GraphSAGE on Cora (2,708 nodes, 10,556 edges, 1,433 features) and on a random
graph of 100,000 nodes and 2,000,000 edges (128 features, 10 classes), it times a training
epoch (forward, loss on the training nodes, backward, Adam step) and an inference pass
(evaluation mode, no gradients), medians over many epochs, and the peak RSS of the process.
Every (library, model, graph) runs in its own process so that peaks do not mix; both
libraries use the same hand-written loop, so the figures compare the graph libraries (zen's
Trainer adds about 3 %, see bench_trainer_overhead.py).

    python bench/bench_graph_speed.py [--graphs cora random] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result
from _graph_models import MODELS, pyg_available, pyg_model, zen_model

CORA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"
EPOCHS = {"cora": (5, 50), "random": (1, 5)}  # (warm-up, timed)
HIDDEN = {"cora": 16, "random": 64}


def load(graph: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Features, edge_index, labels, training mask and number of classes."""
    if graph == "cora":
        from zen.graph.datasets import Planetoid

        g = Planetoid("cora", root=CORA_ROOT)[0]
        return g.x, g.edge_index, g.y, g.train_mask, 7
    generator = torch.Generator().manual_seed(0)
    nodes, edges, classes = 100_000, 2_000_000, 10
    x = torch.randn(nodes, 128, generator=generator)
    edge_index = torch.randint(nodes, (2, edges), generator=generator)
    y = torch.randint(classes, (nodes,), generator=generator)
    train_mask = torch.rand(nodes, generator=generator) < 0.1
    return x, edge_index, y, train_mask, classes


def worker(library: str, model_name: str, graph: str) -> dict:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x, edge_index, y, train_mask, classes = load(graph)
    build = zen_model if library == "zen" else pyg_model
    dropout = 0.6 if model_name == "GAT" else 0.5
    hidden = 8 if model_name == "GAT" else HIDDEN[graph]
    model = build(model_name, x.size(1), hidden, classes, dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    base_rss = psutil.Process().memory_info().rss

    def train_epoch() -> None:
        model.train()
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x, edge_index)[train_mask], y[train_mask])
        loss.backward()
        optimizer.step()

    def infer() -> None:
        model.eval()
        with torch.inference_mode():
            model(x, edge_index)

    warmup, timed = EPOCHS[graph]
    results = {}
    for name, step in (("train_ms", train_epoch), ("infer_ms", infer)):
        for _ in range(warmup):
            step()
        times = []
        for _ in range(timed):
            started = time.perf_counter()
            step()
            times.append((time.perf_counter() - started) * 1000)
        results[name] = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    results["peak_rss_mib"] = peak / 2**20
    results["peak_over_data_mib"] = (peak - base_rss) / 2**20
    return results


def run_worker(library: str, model_name: str, graph: str) -> dict:
    command = [sys.executable, __file__, "--worker", library, model_name, graph]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{library} {model_name} {graph} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graphs", nargs="+", default=["cora", "random"])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--quick", action="store_true", help="Cora only")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    info = machine_info()
    print_machine(info)
    libraries = ["zen"] + (["pyg"] if pyg_available() else [])
    if len(libraries) == 1:
        print("torch-geometric not installed (pip install -e '.[bench]'): zen only")
    graphs = ["cora"] if args.quick else args.graphs
    rows, raw = [], []
    for graph in graphs:
        for model_name in args.models:
            measured = {}
            for library in libraries:
                measured[library] = run_worker(library, model_name, graph)
                raw.append({"graph": graph, "model": model_name, "library": library,
                            **measured[library]})  # fmt: skip
                print(f"{graph} {model_name} {library}: {measured[library]}", flush=True)
            row = {"graph": graph, "model": model_name,
                   "zen train ms": measured["zen"]["train_ms"],
                   "zen infer ms": measured["zen"]["infer_ms"],
                   "zen peak MiB": measured["zen"]["peak_rss_mib"]}  # fmt: skip
            if "pyg" in measured:
                zen, pyg = measured["zen"], measured["pyg"]
                row.update({
                    "PyG train ms": pyg["train_ms"], "PyG infer ms": pyg["infer_ms"],
                    "PyG peak MiB": pyg["peak_rss_mib"],
                    "train zen/PyG": zen["train_ms"] / pyg["train_ms"],
                    "infer zen/PyG": zen["infer_ms"] / pyg["infer_ms"],
                    "peak zen/PyG": zen["peak_rss_mib"] / pyg["peak_rss_mib"],
                })  # fmt: skip
            rows.append(row)
    print_table("zen.graph vs PyG: time per epoch / inference pass, peak RSS", rows,
                list(rows[0]))  # fmt: skip
    write_result("graph_speed", {"machine": info, "rows": rows, "raw": raw})
    return 0


if __name__ == "__main__":
    sys.exit(main())
