"""Placement: cost-predicted placement next to FIFO (Ray's default) on simulated clusters.

What is replayed. 1,000 steps drawn with replacement from *real* run times measured on this
machine, never invented ones:

* the candidate runs of the local History (``$ZEN_HOME/zen.db``, or ``--history``): every
  finished run with a parent (a candidate of ``zen fit``), its ``duration_s``, profile and
  hyperparameters;
* the fit times the other benchmarks stored in ``bench/results/*.json`` (``--results-dir``):
  ``accuracy.json`` (``zen_fit_s``/``sklearn_fit_s`` on digits and diabetes),
  ``forecasting_m4.json`` (``runs``: N-HiTS / N-BEATS, zen and neuralforecast, M4 Hourly),
  ``forecasting_long_horizon.json`` (``runs``: N-HiTS on ETTh1, exchange, ILI),
  ``forecasting_memory.json`` (one long series), ``graph_cora.json`` (``raw``: GCN / GAT on
  Cora, zen and PyG), ``trainer_overhead.json`` (``zen_s``/``hand_s``), with each dataset's
  size (rows, series, horizon, nodes, edges, steps) as the profile and ``peak_rss_mb`` where
  stored.

The distinct records are split per model family into two disjoint halves: the cost model
(:class:`zen.collective.cost.CostModel`) is fitted on one half and the 1,000 replayed steps are
drawn from the other, so no replayed step's actual time is ever seen by the model. The placer
sees only the model's predictions (``predicted_s``, and the predicted peak memory as the step's
memory reservation); the simulator (:func:`zen.collective.simulate.simulate`, the same Placer and
Matron code the Queen runs) replays the actual times. The same steps with ``predicted_s`` equal
to the actual time give the bound of a perfect cost model.

Clusters of 10, 100 and 1,000 nodes (``--quick``: 10 and 100), heterogeneous: 60 % small nodes
(2 CPUs, 4 GiB), 30 % large (8 CPUs, 32 GiB), 10 % of the ``graph`` cube (4 CPUs, 16 GiB); graph
models must run in the ``graph`` cube, every step takes 1 CPU. Target: cost-predicted placement
at least 20 % shorter than FIFO at 100 nodes.

    python bench/bench_placement.py [--steps 1000] [--seed 0] [--results-dir bench/results]
        [--history PATH] [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, machine_info, print_machine, print_table, write_result
from zen.collective.cost import CostModel
from zen.collective.placement import NodeCapacity, StepDemand
from zen.collective.simulate import simulate
from zen.orchestrator.history import History, RunRecord

TARGET = 0.20
GRAPH_MODELS = {"GCN", "GAT", "GraphSAGE", "SAGE", "PyG GCN", "PyG GAT"}

# Dataset sizes of the benchmarks whose results hold only fit times (from their docstrings).
DIGITS = {"family": "tabular classification", "n_rows": 1797, "n_features": 64, "n_classes": 10}
DIABETES = {"family": "tabular regression", "n_rows": 442, "n_features": 10}
M4_HOURLY = {"family": "forecasting", "n_series": 414, "horizon": 48, "max_series_length": 960}
LONG_HORIZON = {
    "ETTh1": {"family": "forecasting", "n_series": 7, "horizon": 96, "max_series_length": 14400},
    "exchange": {"family": "forecasting", "n_series": 8, "horizon": 96, "max_series_length": 7588},
    "ILI": {"family": "forecasting", "n_series": 7, "horizon": 24, "max_series_length": 966},
}
CORA = {"family": "graph", "num_nodes": 2708, "num_edges": 10556, "num_node_features": 1433}


def load_records(results_dir: Path, history_path: Path | None) -> list[dict[str, Any]]:
    """Every real run time available: (model, profile, seconds, peak_mib, source)."""
    records: list[dict[str, Any]] = []

    def add(model: str, profile: dict, seconds: Any, source: str, peak: Any = None) -> None:
        if isinstance(seconds, int | float) and seconds > 0:
            records.append({"model": model, "profile": dict(profile), "seconds": float(seconds),
                            "peak_mib": peak, "source": source})  # fmt: skip

    history = History(history_path) if history_path else History()
    with history:
        for run in history.runs(status="done"):
            if run.parent_id is not None and run.duration_s:
                profile = {**run.profile, **_steps(run.hyperparameters)}
                add(run.model, profile, run.duration_s, f"History {history.path}")

    def read(name: str) -> dict[str, Any] | None:
        path = results_dir / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    if data := read("accuracy"):
        for result in data.get("results", []):
            profile = DIGITS if result["dataset"] == "digits" else DIABETES
            for seconds in result.get("zen_fit_s", []):
                add("MLP", profile, seconds, "accuracy.json zen_fit_s")
            for seconds in result.get("sklearn_fit_s", []):
                add("sklearn MLP", profile, seconds, "accuracy.json sklearn_fit_s")
    if data := read("forecasting_m4"):
        for name, runs in data.get("runs", {}).items():
            framework, model = name.split("/")
            label = model if framework == "zen" else f"{framework} {model}"
            for run in runs:
                profile = {**M4_HOURLY, "steps": data.get("steps")}
                add(
                    label,
                    profile,
                    run.get("fit_s"),
                    "forecasting_m4.json runs",
                    run.get("peak_rss_mb"),
                )
    if data := read("forecasting_long_horizon"):
        for run in data.get("runs", []):
            label = "NHITS" if run["framework"] == "zen" else f"{run['framework']} NHITS"
            profile = {**LONG_HORIZON.get(run["dataset"], {}), "steps": run.get("steps")}
            add(label, profile, run.get("fit_s"), "forecasting_long_horizon.json runs")
    if data := read("forecasting_memory"):
        for row in data.get("rows", []):
            profile = {"family": "forecasting", "n_series": 1, "max_series_length": data["points"],
                       "horizon": 48, "steps": data.get("steps")}  # fmt: skip
            label = "NHITS" if row.get("framework") == "zen" else f"{row.get('framework')} NHITS"
            add(label, profile, row.get("fit_s"), "forecasting_memory.json", row.get("peak_rss_mb"))
    if data := read("graph_cora"):
        for raw in data.get("raw", []):
            label = raw["model"] if raw["library"] == "zen" else f"{raw['library']} {raw['model']}"
            for seconds in raw.get("time_s", []):
                add(label, CORA, seconds, "graph_cora.json raw time_s")
    if data := read("trainer_overhead"):
        profile = {"family": "tabular classification", "n_rows": data.get("num_samples"),
                   "n_features": 64, "epochs": data.get("epochs")}  # fmt: skip
        for key, label in (("zen_s", "Trainer MLP"), ("hand_s", "hand-written MLP")):
            for seconds in data.get(key, []):
                add(label, profile, seconds, f"trainer_overhead.json {key}")
    return records


def _steps(hyperparameters: dict[str, Any]) -> dict[str, Any]:
    keys = ("steps", "max_steps", "epochs", "max_epochs")
    return {k: hyperparameters[k] for k in keys if isinstance(hyperparameters.get(k), int | float)}


def split(records: list[dict[str, Any]], rng: random.Random) -> tuple[list, list]:
    """Two disjoint halves: each model's records dealt alternately (train gets the odd one)."""
    by_model: dict[str, list] = defaultdict(list)
    for record in records:
        by_model[record["model"]].append(record)
    train, replay = [], []
    for model in sorted(by_model):
        group = by_model[model]
        rng.shuffle(group)
        train.extend(group[0::2])
        replay.extend(group[1::2])
    return train, replay


def run_record(index: int, record: dict[str, Any]) -> RunRecord:
    """A History row for ``record``, filling the fields History adds over time with None."""
    values: dict[str, Any] = {
        "id": index, "kind": record["profile"].get("family", ""), "model": record["model"],
        "status": "done", "hyperparameters": {}, "profile": record["profile"],
        "metrics": {"fit_s": record["seconds"], "peak_rss_mb": record["peak_mib"]},
        "started_at": "", "finished_at": None, "duration_s": record["seconds"], "hardware": {},
        "seed": None, "zen_version": "", "data": None, "error": None, "parent_id": None,
        "pid": None, "hostname": None,
    }  # fmt: skip
    return RunRecord(**{f.name: values.get(f.name) for f in dataclasses.fields(RunRecord)})


def cluster(size: int) -> list[NodeCapacity]:
    """60 % small, 30 % large, 10 % graph-cube nodes, interleaved."""
    nodes = []
    for i in range(size):
        slot = i % 10
        if slot == 9:
            nodes.append(NodeCapacity(f"graph-{i}", 4, 16384, frozenset({"graph"})))
        elif slot in (6, 7, 8):
            nodes.append(NodeCapacity(f"large-{i}", 8, 32768))
        else:
            nodes.append(NodeCapacity(f"small-{i}", 2, 4096))
    return nodes


def demands(replay: list[dict[str, Any]], model: CostModel, count: int, rng: random.Random,
            perfect: bool) -> list[tuple[StepDemand, float]]:  # fmt: skip
    steps = []
    for i in range(count):
        record = rng.choice(replay)
        cost = model.predict(record["model"], record["profile"])
        predicted = record["seconds"] if perfect else cost.seconds
        cube = "graph" if record["model"].split()[-1] in GRAPH_MODELS else None
        demand = StepDemand(f"step-{i}", record["model"], 1, min(cost.peak_mib, 3500.0), cube,
                            predicted)  # fmt: skip
        steps.append((demand, record["seconds"]))
    return steps


def lower_bound_s(steps: list[tuple[StepDemand, float]], nodes: list[NodeCapacity]) -> float:
    """No schedule beats this: the longest step, all work over all CPUs, a cube's over its CPUs."""
    bound = max(actual for _, actual in steps)
    bound = max(bound, sum(d.cpus * a for d, a in steps) / sum(n.cpus for n in nodes))
    for cube in {d.cube for d, _ in steps if d.cube is not None}:
        cpus = sum(n.cpus for n in nodes if cube in n.cubes)
        bound = max(bound, sum(d.cpus * a for d, a in steps if d.cube == cube) / cpus)
    return bound


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--history", type=Path, default=None, help="History file (default: $ZEN_HOME)"
    )
    parser.add_argument("--quick", action="store_true", help="10 and 100 nodes only")
    args = parser.parse_args()
    info = machine_info()
    print_machine(info)

    rng = random.Random(args.seed)
    records = load_records(args.results_dir, args.history)
    if len(records) < 4:
        print(f"only {len(records)} recorded run times found (History and {args.results_dir}); "
              "run the other benchmarks or zen fit first")  # fmt: skip
        return 1
    train, replay = split(records, rng)
    model = CostModel().fit(run_record(i, r) for i, r in enumerate(train))
    sources: dict[str, int] = defaultdict(int)
    for record in records:
        sources[record["source"]] += 1
    print(f"{len(records)} real run times ({len(train)} to fit the cost model, {len(replay)} to "
          f"replay), from:")  # fmt: skip
    for source, count in sorted(sources.items()):
        print(f"  {count:4d}  {source}")
    errors = [
        abs(model.predict(r["model"], r["profile"]).seconds / r["seconds"] - 1) for r in replay
    ]
    known = sum(model.predict(r["model"], r["profile"]).known for r in replay)
    errors.sort()
    median_error = errors[len(errors) // 2]
    print(f"cost model on the replay half: median |predicted/actual - 1| = {median_error:.2f}, "
          f"{known}/{len(replay)} families known")  # fmt: skip

    step_rng_seed = rng.randrange(2**31)
    predicted_steps = demands(replay, model, args.steps, random.Random(step_rng_seed), False)
    perfect_steps = demands(replay, model, args.steps, random.Random(step_rng_seed), True)
    rows = []
    sizes = (10, 100) if args.quick else (10, 100, 1000)
    for size in sizes:
        nodes = cluster(size)
        started = time.perf_counter()
        fifo = simulate(predicted_steps, nodes, "fifo")
        cost = simulate(predicted_steps, nodes, "cost")
        perfect = simulate(perfect_steps, nodes, "cost")
        elapsed = time.perf_counter() - started
        rows.append({
            "nodes": size, "CPUs": sum(n.cpus for n in nodes), "steps": args.steps,
            "FIFO makespan s": fifo.makespan_s, "cost makespan s": cost.makespan_s,
            "ratio cost/FIFO": cost.makespan_s / fifo.makespan_s,
            "shorter by": 1 - cost.makespan_s / fifo.makespan_s,
            "perfect makespan s": perfect.makespan_s,
            "ratio perfect/FIFO": perfect.makespan_s / fifo.makespan_s,
            "lower bound s": lower_bound_s(predicted_steps, nodes),
            "FIFO util": fifo.utilisation, "cost util": cost.utilisation,
            "simulate s": elapsed,
        })  # fmt: skip
    print_table("Makespan of 1,000 replayed steps: cost-predicted placement vs FIFO (Ray default)",
                rows, list(rows[0]))  # fmt: skip
    at_100 = next(row for row in rows if row["nodes"] == 100)
    met = at_100["shorter by"] >= TARGET
    print(f"at 100 nodes: {at_100['shorter by']:.1%} shorter than FIFO "
          f"(target >= {TARGET:.0%}: {'met' if met else 'NOT met'})")  # fmt: skip
    write_result("placement", {
        "machine": info, "quick": args.quick, "seed": args.seed, "steps": args.steps,
        "sources": dict(sources), "records": len(records), "train_records": len(train),
        "replay_records": len(replay), "cost_model_median_rel_error": median_error,
        "rows": rows, "target": TARGET, "met": met,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
