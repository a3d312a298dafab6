"""Cascade-correlation: zen's CascadeCorrelation vs libfann's ``fann_cascadetrain_on_data``.

The cases are the libfann parity cases of the tests (``tests/neural/cascade_cases.py``): two
spirals (FANN's defaults), 8-bit parity (FANN's own example settings) and iris (Quickprop), with
their train/test files in ``tests/fixtures/fann/``. Each side grows a network from the same
settings over the seeds 1-5; libfann runs through the tests' ctypes driver
(``libfann_driver.py``) in a child process (its ``srand`` must touch no one else), where each
``cascade`` call is timed alone. zen draws from its own generator, so the two sides grow
different networks from the same seed; the medians are what compare.

Reported per case and side: median hidden neurons added, epochs (output plus candidate epochs
up to the last candidate phase: what FANN reports), final training MSE, test accuracy (largest
output for one-hot targets, else the side of the middle of the target range) and seconds, plus
the time ratio zen/FANN (< 1: zen faster). zen runs with the process's torch thread count.

    python bench/bench_neural_zoo.py --part cascade [--quick] [--seeds N] [--cases A,B]

Results go to ``bench/results/neural_zoo_cascade.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from _common import BENCH_DIR, machine_info, print_machine, print_table, write_result
from zen.neural import CascadeCorrelation
from zen.neural.fann import read_fann_data

sys.path.insert(0, str(BENCH_DIR.parent / "tests" / "neural"))  # the shared parity cases
from cascade_cases import CASCADE_CASES, DRIVER, CascadeCase, libfann_missing

#: Run in the child: time each ``cascade`` request of the driver (stdin: a JSON list).
FANN_TIMER = f"""
import json, sys, time
sys.path.insert(0, {str(DRIVER.parent)!r})
import libfann_driver
results = {{}}
for case in json.load(sys.stdin):
    started = time.perf_counter()
    results[case["id"]] = libfann_driver.cascade(case)
    results[case["id"]]["seconds"] = time.perf_counter() - started
print(json.dumps(results))
"""


def accuracy(outputs: np.ndarray, targets: np.ndarray) -> float:
    """Test accuracy (%): argmax for one-hot targets, else the side of the targets' middle."""
    if targets.shape[1] > 1:
        return 100.0 * float((outputs.argmax(1) == targets.argmax(1)).mean())
    middle = (targets.min() + targets.max()) / 2
    return 100.0 * float(((outputs > middle) == (targets > middle)).mean())


def run_fann(case: CascadeCase, seeds: list[int], folder: Path) -> list[dict[str, Any]]:
    """libfann's runs of ``case`` over ``seeds``, in one child process."""
    test_inputs, test_targets = read_fann_data(case.test)
    requests = [case.fann_request(seed, folder / f"{case.id}-{seed}.net", test_inputs.tolist())
                for seed in seeds]  # fmt: skip
    completed = subprocess.run([sys.executable, "-c", FANN_TIMER], input=json.dumps(requests),
                               capture_output=True, text=True, check=True)  # fmt: skip
    answers = json.loads(completed.stdout)
    runs = []
    for request in requests:
        answer = answers[request["id"]]
        runs.append({"hidden": len(answer["hidden"]), "epochs": answer["records"][-1]["epochs"],
                     "mse": answer["last_mse"], "seconds": answer["seconds"],
                     "accuracy": accuracy(np.array(answer["outputs"]), test_targets)})  # fmt: skip
    return runs


def run_zen(case: CascadeCase, seed: int) -> dict[str, Any]:
    """One zen run of ``case`` with its own generator seeded by ``seed``."""
    X, y = (torch.from_numpy(array) for array in read_fann_data(case.train))
    test_inputs, test_targets = read_fann_data(case.test)
    net = CascadeCorrelation(case.inputs, case.outputs, seed=seed, **case.zen_settings())
    started = time.perf_counter()
    net.fit(X, y)
    seconds = time.perf_counter() - started
    with torch.no_grad():
        outputs = net(torch.from_numpy(test_inputs)).numpy()
    reported = net.history_[:-1]  # FANN reports before each candidate phase
    return {"hidden": net.n_hidden_, "seconds": seconds, "mse": net.history_[-1].mse,
            "epochs": sum(r.output_epochs + r.candidate_epochs for r in reported),
            "accuracy": accuracy(outputs, test_targets)}  # fmt: skip


def summary_row(case: str, side: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"case": case, "side": side}
    for key in ("hidden", "epochs", "mse", "accuracy", "seconds"):
        row[key] = statistics.median(run[key] for run in runs)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="iris only, 2 seeds")
    parser.add_argument("--seeds", type=int, default=0, help="seeds 1..N (default 5)")
    parser.add_argument("--cases", default="", help="of spirals, parity8, iris (default all)")
    args = parser.parse_args(argv)
    seeds = list(range(1, (args.seeds or (2 if args.quick else 5)) + 1))
    chosen = args.cases.split(",") if args.cases else (["iris"] if args.quick else None)
    cases = [case for case in CASCADE_CASES if chosen is None or case.id in chosen]
    missing = libfann_missing()
    info = machine_info()
    print_machine(info)
    if missing:
        print(f"FANN unavailable: {missing}; measuring zen alone")
    rows: list[dict[str, Any]] = []
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    run_zen(cases[0], 0)  # warm-up: the first fit of a process pays one-off costs
    with tempfile.TemporaryDirectory() as folder:
        for case in cases:
            runs[case.id] = {"zen": [run_zen(case, seed) for seed in seeds]}
            if not missing:
                runs[case.id]["fann"] = run_fann(case, seeds, Path(folder))
            for side, side_runs in runs[case.id].items():
                rows.append(summary_row(case.id, side, side_runs))
                print(f"  {case.id} {side}: hidden {[r['hidden'] for r in side_runs]},"
                      f" seconds {[round(r['seconds'], 2) for r in side_runs]}",
                      flush=True)  # fmt: skip
            if "fann" in runs[case.id]:
                ratios = [z["seconds"] / f["seconds"]
                          for z, f in zip(runs[case.id]["zen"], runs[case.id]["fann"],
                                          strict=True)]  # fmt: skip
                rows[-2]["zen/FANN time"] = statistics.median(ratios)
    print_table(f"cascade-correlation, zen vs libfann (medians over seeds {seeds[0]}-{seeds[-1]};"
                " zen/FANN time: median of per-seed ratios, < 1: zen faster)", rows,
                ["case", "side", "hidden", "epochs", "mse", "accuracy", "seconds",
                 "zen/FANN time"])  # fmt: skip
    path = write_result("neural_zoo_cascade", {
        "benchmark": "bench_neural_zoo --part cascade", "quick": args.quick, "seeds": seeds,
        "fann_unavailable": missing, "machine": info, "rows": rows, "runs": runs})  # fmt: skip
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
