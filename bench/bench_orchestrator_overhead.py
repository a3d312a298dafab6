"""Orchestration overhead: what `zen fit` spends on deciding and bookkeeping, not on training.

`zen fit` is run on real tasks (scikit-learn's diabetes table, the bundled ILI series with
h 12, and Cora when ../shared/data has it) with a History of past runs, and its parts are timed
by wrapping the functions that do them:

* **profile**: the task profile (`profile_table` / `profile_series` / `profile_graph`);
* **route**: `routed_candidates` (opens History, fits the router on every past run, ranks);
* **cache**: `job_key`, the content hash of the data and settings that names the resume cache;
* **workflow**: `run_workflow`'s own time, i.e. its wall time minus the time spent inside the
  candidate steps (process start-up, scheduling, pickling tasks and outcomes);
* **history**: every History write of the job and its candidates (start, finish).

Overhead = their sum / the whole run's wall time (target: at most 5 %). The training itself,
the scores, the ensemble and the report are the work the user asked for and are not counted.
The comparison ("peer") is the same job's training alone: the sum of its candidate steps.
Runs use one process (`--workers 1`) by default; `--workers 2` also times the process pool,
whose start-up (a fresh Python importing torch per worker) belongs to the workflow.

    python bench/bench_orchestrator_overhead.py [--repeats 3] [--history-runs 300] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

GRAPH_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "graph"
TARGET = 0.05


class Timers:
    """Accumulated seconds per part, filled by wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.step_seconds = 0.0

    def wrap(self, part: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - started

        return timed


@contextlib.contextmanager
def instrumented(timers: Timers) -> Iterator[None]:
    """Wrap the orchestration's parts where the jobs call them; undo it afterwards."""
    from zen.orchestrator import history, orchestration
    from zen.orchestrator.jobs import forecast as forecast_job
    from zen.orchestrator.jobs import graph as graph_job
    from zen.orchestrator.jobs import tabular as table_job

    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, replacement: Any) -> None:
        patches.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    patch(table_job, "profile_table", timers.wrap("profile", table_job.profile_table))
    patch(forecast_job, "profile_series", timers.wrap("profile", forecast_job.profile_series))
    patch(graph_job, "profile_graph", timers.wrap("profile", graph_job.profile_graph))
    patch(orchestration, "routed_candidates", timers.wrap("route", orchestration.routed_candidates))
    # The resume cache's content key hashes the whole frame: part of the bookkeeping.
    patch(orchestration, "job_key", timers.wrap("cache", orchestration.job_key))
    for method in ("start_run", "finish_run", "fail_run"):
        patch(history.History, method, timers.wrap("history", getattr(history.History, method)))
    original_run_workflow = orchestration.run_workflow

    def run_workflow(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = original_run_workflow(*args, **kwargs)
        wall = time.perf_counter() - started
        inside = sum(step.duration_s for step in result.steps.values())
        timers.seconds["workflow"] += max(wall - inside, 0.0)
        timers.step_seconds += inside
        return result

    patch(orchestration, "run_workflow", run_workflow)
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


def seed_history(runs: int) -> None:
    """Fill the History with ``runs`` finished candidate runs of past tasks of every family."""
    from zen.orchestrator.history import History
    from zen.orchestrator.profile import TaskProfile

    rng = np.random.default_rng(0)
    families = {
        "time series": (("NHITS", "NBEATS", "SeasonalNaive"), "mase"),
        "graph": (("GCN", "GAT", "GraphSAGE"), "val_accuracy"),
        "tabular regression": (("MLP", "MLP-regularised", "MLP-wide"), "rmse"),
    }
    kinds = {"time series": "forecasting", "graph": "node classification",
             "tabular regression": "regression"}  # fmt: skip
    layouts = {"time series": "long", "graph": "graph", "tabular regression": "table"}
    with History() as history:
        task = 0
        while task * 3 < runs:
            family = list(families)[task % 3]
            models, metric = families[family]
            profile = TaskProfile(kind=kinds[family], reason="seeded", target="y",
                                  n_rows=int(rng.integers(100, 100_000)),
                                  layout=layouts[family],
                                  season_length=int(rng.choice([1, 7, 24])),
                                  homophily=float(rng.uniform(0, 1)))  # fmt: skip
            parent = history.start_run(family, "zen fit", profile=profile, data=f"task{task}")
            history.finish_run(parent, {})
            for model in models:
                run = history.start_run(family, model, profile=profile, data=f"task{task}",
                                        parent=parent)  # fmt: skip
                history.finish_run(run, {metric: float(rng.uniform(0.5, 1.5))})
            task += 1


def tasks(quick: bool) -> dict[str, dict[str, Any]]:
    from sklearn.datasets import load_diabetes

    from zen.forecasting.datasets import load_ili

    diabetes = load_diabetes(as_frame=True).frame
    chosen: dict[str, dict[str, Any]] = {
        "diabetes (table)": {"data": diabetes, "target": "target", "max_epochs": 300},
        "ILI (series, h 12)": {"data": load_ili(), "horizon": 12},
    }
    if (GRAPH_ROOT / "cora").is_dir() and not quick:
        chosen["Cora (graph)"] = {"data": GRAPH_ROOT / "cora"}
    return chosen


def measure(name: str, spec: dict[str, Any], workers: int, budget_s: float) -> dict[str, Any]:
    from zen.orchestrator import fit

    timers = Timers()
    with tempfile.TemporaryDirectory() as runs, instrumented(timers):
        started = time.perf_counter()
        fit(**spec, runs_dir=runs, workers=workers, budget_s=budget_s, resume=False)
        total = time.perf_counter() - started
    parts = {part: timers.seconds.get(part, 0.0) for part in ("profile", "route", "cache",
                                                                "workflow", "history")}  # fmt: skip
    overhead = sum(parts.values())
    return {
        "task": name,
        "workers": workers,
        "total_s": total,
        "training_s": timers.step_seconds,
        **{f"{part}_s": value for part, value in parts.items()},
        "overhead_s": overhead,
        "overhead": overhead / total,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--history-runs", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[1])
    parser.add_argument("--budget-s", type=float, default=120.0)
    parser.add_argument("--quick", action="store_true", help="one repeat, no graph")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats
    info = machine_info()
    print_machine(info)
    home = tempfile.mkdtemp(prefix="zen-overhead-")
    os.environ["ZEN_HOME"] = home  # a History of its own, seeded with past runs
    seed_history(args.history_runs)
    print(f"History: {args.history_runs} past candidate runs in {home}/zen.db", flush=True)
    rows = []
    for name, spec in tasks(args.quick).items():
        for workers in args.workers:
            measured = [measure(name, spec, workers, args.budget_s) for _ in range(repeats)]
            row: dict[str, Any] = {"task": name, "workers": workers}
            for key in measured[0]:
                if key.endswith("_s") or key == "overhead":
                    row[key] = statistics.median(m[key] for m in measured)
            row["runs"] = repeats
            rows.append(row)
            print(f"{name}, {workers} worker(s): overhead {row['overhead']:.1%} of"
                  f" {row['total_s']:.1f} s", flush=True)  # fmt: skip
    print_table(
        f"orchestration overhead (median of {repeats}; target <= {TARGET:.0%} of the run)",
        [{**row, "overhead": f"{row['overhead']:.2%}"} for row in rows],
        ["task", "workers", "total_s", "training_s", "profile_s", "route_s", "cache_s",
         "workflow_s", "history_s", "overhead_s", "overhead"],
    )  # fmt: skip
    worst = max(row["overhead"] for row in rows)
    print(f"worst overhead: {worst:.2%} of a run (target: at most {TARGET:.0%})")
    write_result("orchestrator_overhead", {"machine": info, "rows": rows,
                                           "history_runs": args.history_runs})  # fmt: skip
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
