"""Real-time deadlines under load: zen's tiered scheduler vs the same work on plain threads.

The workload is ``zen runtime check``'s (:mod:`zen.runtime.workload`): a stereo block of 512
samples at 44.1 kHz every 11.61 ms through an 8-band RBJ biquad EQ (``sosfilt`` with carried
state), an RMS compressor, a saturator and meters (deadline: the period); continuous inference
of a 257-1024-1024-16 MLP on the log spectra of the last 64 blocks; every 50 ms a numpy batch
of statistics over 64k samples. Meanwhile a separate process spins on the other core.

Four runs of the same length, one after another:

- ``scheduler``: zen.runtime.Scheduler with the standard settings; the real-time thread gets
  ``SCHED_FIFO`` when the OS permits it (root or an rtprio grant), else it falls back; the
  worker threads are ordinary threads;
- ``scheduler, real-time workers``: the same with the opt-in ``TierPolicy(fifo_priority=...)``,
  so other processes cannot preempt a worker while it holds the GIL;
- ``scheduler, no OS priority``: the standard settings without asking the OS for priority,
  i.e. what an unprivileged user gets;
- ``plain threads``: one thread per kind of work, no priorities, no admission control; the
  audio thread paces on absolute release times (no sleep drift) and never drops a block.

A block misses when it finishes after its release + 11.61 ms (or, under the scheduler, is
dropped because that time had passed before it could start). Block latency is release to end
of processing. Target: zero misses for the scheduler. The exit code is 1 when it misses.

Usage::

    python bench/bench_runtime_scheduler.py             # 60 s per run, about 4.5 minutes
    python bench/bench_runtime_scheduler.py --quick     # 5 s per run

Results go to ``bench/results/runtime_scheduler.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from _common import console, machine_info, print_machine, print_table, write_result
from zen.runtime import TierPolicy
from zen.runtime.workload import StressProcess, WorkloadResult, run_workload, standard_config

REALTIME_WORKERS = {
    "inference": TierPolicy(slice_s=0.002, starvation_s=0.5, fifo_priority=5),
    "background": TierPolicy(
        slice_s=0.002, budget_s=0.02, starvation_s=1.0, under_pressure="skip", fifo_priority=4
    ),
}
RUNS = (
    ("scheduler", "scheduler", {}),
    ("scheduler, real-time workers", "scheduler", REALTIME_WORKERS),
    ("scheduler, no OS priority", "scheduler", {"realtime_priority": False}),
    ("plain threads", "threads", {}),
)


def row(name: str, result: WorkloadResult) -> dict[str, Any]:
    return {
        "run": name,
        "blocks": result.blocks,
        "misses": result.deadline_misses,
        "p50 block ms": result.p50_block_ms,
        "p99 block ms": result.p99_block_ms,
        "max block ms": result.max_block_ms,
        "inference runs": result.inference_runs,
        "background batches": result.background_batches,
        "starvation events": result.starvation_events,
        "priority": result.realtime_priority,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each run")
    parser.add_argument("--quick", action="store_true", help="5 s per run (smoke test)")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    info = machine_info()
    info["load_avg_1m_5m_15m"] = [round(value, 2) for value in os.getloadavg()]
    print_machine(info)
    console.print(
        f"[dim]{seconds:g} s per run; stress process pinned to CPU {StressProcess().cpu}[/dim]"
    )
    rows, results = [], {}
    for name, mode, settings in RUNS:
        load = round(os.getloadavg()[0], 2)
        console.print(f"running: {name} (load average {load}) ...")
        config = standard_config(**settings) if mode == "scheduler" else None
        result = run_workload(seconds, mode=mode, stress=True, config=config)
        results[name] = {**result.to_json(), "load_avg_1m_before": load}
        rows.append(row(name, result))
    columns = list(rows[0])
    print_table(
        f"512-sample blocks at 44.1 kHz (11.61 ms deadline), other core loaded, {seconds:g} s",
        rows,
        columns,
    )
    scheduled, plain = results["scheduler"], results["plain threads"]
    ratio = (
        plain["p99_block_ms"] / scheduled["p99_block_ms"]
        if scheduled["p99_block_ms"] and plain["p99_block_ms"]
        else None
    )
    target_met = scheduled["deadline_misses"] == 0
    console.print(
        f"p99 block latency, plain threads / scheduler: {ratio:.2f}x" if ratio else "",
        f"misses: scheduler {scheduled['deadline_misses']}, plain threads"
        f" {plain['deadline_misses']}",
    )
    path = write_result(
        "runtime_scheduler",
        {
            "benchmark": "runtime_scheduler",
            "machine": info,
            "seconds_per_run": seconds,
            "quick": args.quick,
            "stress_cpu": StressProcess().cpu,
            "runs": results,
            "p99_ratio_threads_over_scheduler": ratio,
            "target": "zero deadline misses with the scheduler",
            "target_met": target_met,
        },
    )
    console.print(f"results: {path}")
    if not target_met:
        console.print("[red]target missed: the scheduler missed deadlines[/red]")
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
