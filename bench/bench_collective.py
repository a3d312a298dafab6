"""zen.collective on this machine: `zen fit` with 6 candidates on the local process pool vs a
2-node Ray cluster (head 1 CPU + worker 1 CPU, started with `zen cluster start` in a
loopback-only network namespace), Ray's overhead per step, and recovery after a killed node.

* **throughput**: the same `zen fit` job (the bundled ILI series, h 12, 6 routed candidates,
  rules policy, seed 0, a fresh History each, neural candidates held to `--max-steps`: 150,
  `--quick` 30) trained by the local pool (2 workers = the 2 cores) and
  by the cluster through the Queen (2 nodes x 1 CPU). Ratio = local training wall time / the
  cluster's (target >= 0.9).
* **overhead per step**: a chain of 20 tiny steps run one at a time; per step, the time from
  `submit` to its outcome back minus the time inside the step function (sending the step,
  scheduling it, starting it, sending the result back). Peer: the same on the local pool.
  Target: the cluster's <= 50 ms.
* **recovery**: two 8 s steps on the two nodes; the worker node is killed 1 s after both
  started; recovery = time from the kill to the lost step's second start on the head (Ray must
  first notice the node is gone). Median of 5 (`--quick`: 1); a new worker joins each time.

    sudo python bench/bench_collective.py [--quick] [--max-steps N] [--recovery-only]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result
from _ray_local import local_cluster

CANDIDATES = 6
CHAIN = 20


def _timed(executor: Any, seen: list[float]) -> Any:
    """Wrap ``executor.submit`` to note each step's time outside its function."""
    submit = executor.submit

    def timed_submit(step: Any, inputs: Any) -> Any:
        started = time.perf_counter()
        future = submit(step, inputs)

        def note(done: Any) -> None:
            if done.exception() is None:
                seen.append(time.perf_counter() - started - done.result().elapsed_s)

        future.add_done_callback(note)
        return future

    executor.submit = timed_submit
    return executor


def inner(mode: str, address: str, max_steps: int) -> dict[str, Any]:
    """One side of the comparison, run inside the namespace; prints its numbers as JSON."""
    import os

    os.environ["ZEN_HOME"] = tempfile.mkdtemp(prefix="zen-coll-bench-")
    import zen.orchestrator.orchestration as orchestration
    from zen.forecasting.datasets import load_ili
    from zen.orchestrator.executors import LocalProcessExecutor, executor_factory
    from zen.orchestrator.jobs.forecast import forecast
    from zen.orchestrator.workflow import Step, Workflow, run_workflow

    orchestration.MAX_CANDIDATES = CANDIDATES
    cluster = None
    if mode == "ray":
        from zen.collective import Cluster

        cluster = Cluster.connect(address)

    def build(n_steps: int) -> Any:
        return LocalProcessExecutor(max_workers=2) if cluster is None else cluster.executor()

    workflow_s: list[float] = []
    original = orchestration.run_workflow

    def timed_workflow(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = original(*args, **kwargs)
        workflow_s.append(time.perf_counter() - started)
        return result

    orchestration.run_workflow = timed_workflow  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as runs, executor_factory(build):
        started = time.perf_counter()
        # A fixed amount of work per neural candidate (max_steps, a budget it never reaches),
        # so that both sides do the same work and only the time differs.
        result = forecast(load_ili(), 12, budget_s=3600, runs_dir=runs, seed=0, policy="rules",
                          resume=False, progress=False, max_steps=max_steps)  # fmt: skip
        total = time.perf_counter() - started
    orchestration.run_workflow = original  # type: ignore[assignment]

    flow = Workflow(inputs=["x"])
    for index in range(CHAIN):
        flow.add(Step(name=f"s{index}", fn=abs, needs=("x" if index == 0 else f"s{index - 1}",)))
    overheads: list[float] = []
    executor = _timed(build(1), overheads)
    run_workflow(flow, inputs={"x": -1}, executor=executor)
    executor.shutdown()
    return {
        "mode": mode,
        "candidates": len(result.candidates),
        "leaderboard": [row["model"] for row in result.leaderboard],
        "fit_s": total,
        "training_s": workflow_s[0],
        # The first step pays for starting a worker (a process, or a Ray worker): steady state.
        "overhead_ms": 1000 * statistics.median(overheads[1:]),
        "first_step_ms": 1000 * overheads[0],
    }


RECOVER = """
import json, threading, time, ray
from zen.collective import Cluster, RayBus
from zen.orchestrator.workflow import Step, Workflow, run_workflow
cluster = Cluster.connect("{address}")
executor = cluster.executor()
flow = Workflow([Step(name=f"r{{i}}", fn=time.sleep, needs=("s",)) for i in range(2)], inputs=["s"])
bus = RayBus.find(cluster)
head = ray.get_runtime_context().get_node_id()
def watch():
    # The bus outlives runs: only this run's starts count.
    seen = {{(e.at, e.payload.get("step")) for e in bus.recent(1000)}}
    while True:
        for event in bus.recent(1000):
            mark = (event.at, event.payload.get("step"))
            if event.kind == "step_started" and mark not in seen:
                seen.add(mark)
                print(json.dumps({{**event.payload, "head": head, "t": time.time()}}), flush=True)
        time.sleep(0.1)
threading.Thread(target=watch, daemon=True).start()
run_workflow(flow, inputs={{"s": 8}}, executor=executor)
executor.shutdown()
print(json.dumps({{"done": True}}), flush=True)
"""


def recovery(cluster: Any) -> float:
    """Kill the worker node while it runs a step; seconds until the step starts again."""
    process = cluster.popen([sys.executable, "-c", RECOVER.format(address=cluster.address)])
    starts: list[dict[str, Any]] = []
    killed_at = None
    assert process.stdout is not None
    for line in process.stdout:
        if not line.startswith("{"):
            continue
        event = json.loads(line)
        if event.get("done"):
            break
        starts.append(event)
        if killed_at is None and len({e["node"] for e in starts}) == 2:
            time.sleep(1.0)
            cluster.kill(cluster.markers[-1])
            killed_at = time.time()
        elif killed_at is not None and event.get("attempt", 1) >= 2:
            break
    process.wait(timeout=120)
    again = [e for e in starts if e.get("attempt", 1) >= 2]
    if killed_at is None or not again:
        raise RuntimeError(f"no rerun seen: {starts}; {process.stderr.read()[-1500:]}")
    return float(again[0]["t"] - killed_at)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="recovery once instead of 5 times")
    parser.add_argument("--inner", choices=["local", "ray"], help=argparse.SUPPRESS)
    parser.add_argument("--address", default="", help=argparse.SUPPRESS)
    parser.add_argument("--max-steps", type=int, default=0, help="per neural candidate")
    parser.add_argument("--recovery-only", action="store_true",
                        help="skip the throughput and overhead parts")  # fmt: skip
    args = parser.parse_args()
    if args.inner:
        print(json.dumps(inner(args.inner, args.address, args.max_steps)))
        return 0
    info = machine_info()
    print_machine(info)
    steps = args.max_steps or (30 if args.quick else 150)
    sides: dict[str, dict[str, Any]] = {}
    recoveries: list[float] = []
    with local_cluster(2) as cluster:
        for mode in () if args.recovery_only else ("local", "ray"):
            argv = [sys.executable, __file__, "--inner", mode, "--address", cluster.address,
                    "--max-steps", str(steps)]  # fmt: skip
            done = cluster.run(argv)
            if done.returncode != 0:
                raise SystemExit(f"{mode}: {done.stderr[-3000:]}")
            sides[mode] = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{mode}: {sides[mode]}", flush=True)
        for _ in range(1 if args.quick else 5):
            recoveries.append(recovery(cluster))
            print(f"recovery after a killed node: {recoveries[-1]:.1f} s", flush=True)
            cluster.add_node()
    median = statistics.median(recoveries)
    print(f"recovery after a killed node: median {median:.1f} s of {len(recoveries)} (target < 30)")
    if args.recovery_only:
        write_result("bench_collective_recovery", {"machine": info, "recovery_s": recoveries,
                                                   "recovery_median_s": median})  # fmt: skip
        return 0
    local, ray = sides["local"], sides["ray"]
    ratio = local["training_s"] / ray["training_s"]
    rows = []
    for measure, key in (("training 6 candidates (s)", "training_s"),
                         ("overhead per step (ms)", "overhead_ms"),
                         ("first step (ms)", "first_step_ms")):  # fmt: skip
        rows.append({"measure": measure, "ray": ray[key], "local pool": local[key],
                     "ratio": ray[key] / local[key]})  # fmt: skip
    print_table("ray cluster vs local pool", rows, ["measure", "ray", "local pool", "ratio"])
    print(f"throughput ratio (local time / cluster time): {ratio:.2f} (target >= 0.9)")
    print(f"Ray overhead per step: {ray['overhead_ms']:.1f} ms (target <= 50 ms)")
    print(f"same leaderboard: {local['leaderboard'] == ray['leaderboard']}")
    write_result("bench_collective", {
        "machine": info, "local": local, "ray": ray, "throughput_ratio": ratio,
        "recovery_s": recoveries, "recovery_median_s": median, "quick": args.quick,
        "max_steps": steps,
    })  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
