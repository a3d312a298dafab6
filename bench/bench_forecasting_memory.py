"""Memory on a long series: one series of 10 million points, N-HiTS with input_size 512.

zen samples training windows by index arithmetic (``zen.forecasting.windows``), so memory is the
series itself (40 MB as float32) plus one batch of windows, never all ~10 million windows
(which would take 10^7 x 560 x 4 B = 22 GB). Each run is a subprocess; reported: peak RSS of
the fit and predict, the RSS after loading the data alone, and the times. neuralforecast runs the
same fit in the same way when ``--peer`` is given (it is slow and memory-hungry at this size).

    python bench/bench_forecasting_memory.py [--points 10000000] [--steps 100] [--peer] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

H, INPUT_SIZE = 48, 512


def series(points: int):
    import pandas as pd

    t = np.arange(points, dtype=np.float64)
    rng = np.random.default_rng(0)
    y = 100 + 10 * np.sin(2 * np.pi * t / 24) + np.cumsum(rng.normal(0, 0.1, points))
    return pd.DataFrame({"unique_id": "long", "ds": np.arange(1, points + 1), "y": y})


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(framework: str, points: int, steps: int) -> None:
    import torch

    torch.set_num_threads(2)
    frame = series(points)
    loaded_mb = rss_mb()
    started = time.perf_counter()
    if framework == "zen":
        from zen.forecasting import NHITS, Forecaster

        model = NHITS(h=H, input_size=INPUT_SIZE, max_steps=steps, val_check_steps=steps)
        forecaster = Forecaster([model], freq=1).fit(frame)
        fit_s = time.perf_counter() - started
        forecast = forecaster.predict()
    else:
        import logging

        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        from neuralforecast import NeuralForecast
        from neuralforecast.models import NHITS

        model = NHITS(h=H, input_size=INPUT_SIZE, max_steps=steps, accelerator="cpu",
                      enable_progress_bar=False, enable_model_summary=False, logger=False,
                      enable_checkpointing=False)  # fmt: skip
        nf = NeuralForecast(models=[model], freq=1)
        nf.fit(frame)
        fit_s = time.perf_counter() - started
        forecast = nf.predict()
    result = {"loaded_mb": loaded_mb, "peak_rss_mb": rss_mb(), "fit_s": fit_s,
              "total_s": time.perf_counter() - started, "forecast_rows": len(forecast)}  # fmt: skip
    print("RESULT " + json.dumps(result))


def spawn(framework: str, points: int, steps: int) -> dict:
    command = [sys.executable, __file__, "--worker", framework, str(points), str(steps)]
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
    if output.returncode != 0 or not lines:
        return {"error": output.stderr[-2000:] or f"exit {output.returncode}"}
    return json.loads(lines[-1][len("RESULT ") :])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--peer", action="store_true", help="also run neuralforecast")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]), int(args.worker[2]))
        return 0
    points = 200_000 if args.quick else args.points
    steps = 10 if args.quick else args.steps
    info = machine_info()
    print_machine(info)
    rows = []
    for framework in ("zen", "neuralforecast") if args.peer else ("zen",):
        result = spawn(framework, points, steps)
        if "error" in result:
            print(f"{framework} failed: {result['error']}")
            rows.append({"framework": framework, "status": "failed"})
            continue
        rows.append({"framework": framework, "status": "ok", **result})
    columns = ["framework", "status", "loaded_mb", "peak_rss_mb", "fit_s", "total_s"]
    print_table(
        f"one series of {points:,} points, N-HiTS input {INPUT_SIZE}, h {H}, {steps} steps",
        rows,
        columns,
    )
    write_result("forecasting_memory", {"machine": info, "points": points, "steps": steps,
                                        "rows": rows})  # fmt: skip
    return 0 if rows[0].get("status") == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
