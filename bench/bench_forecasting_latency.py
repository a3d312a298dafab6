"""Inference latency: forecast one M4 Hourly series with a fitted N-HiTS, zen vs neuralforecast.

Both sides hold a fitted N-HiTS (h 48, input 96, default sizes; trained briefly, since
latency does not depend on the weights) and are asked, in a loop, for the forecast of one
series given its history as a data frame: ``Forecaster.predict(df=one)`` and
``NeuralForecast.predict(df=one)``. Reported: median ms per call over many calls after a
warm-up, the ratio, the bare network forward in torch for reference, and the throughput of a
forecast of all 414 series at once. Target: zen <= 1 ms median.

    python bench/bench_forecasting_latency.py [--calls 300] [--quick]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

H, INPUT_SIZE = 48, 96


def timed(call, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    calls = 30 if args.quick else args.calls
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)

    from zen.forecasting import NHITS, Forecaster
    from zen.forecasting.datasets import load_m4

    train, _ = load_m4("Hourly")
    first = train["unique_id"].iloc[0]
    one = train[train["unique_id"] == first].reset_index(drop=True)
    rows = []

    zen = Forecaster([NHITS(h=H, input_size=INPUT_SIZE, max_steps=20)], freq=1).fit(train)
    timed(lambda: zen.predict(df=one), 20)
    zen_one = timed(lambda: zen.predict(df=one), calls)
    zen_all = timed(lambda: zen.predict(df=train), 5)
    network = zen.models_[0].model_
    window = torch.from_numpy(one["y"].to_numpy()[-INPUT_SIZE:].astype("float32"))[None]
    with torch.inference_mode():
        network_only = timed(lambda: network(window), calls)
    n_series = train["unique_id"].nunique()
    rows.append(
        {
            "framework": "zen",
            "one series ms (median)": 1000 * statistics.median(zen_one),
            "p90 ms": 1000 * sorted(zen_one)[int(0.9 * len(zen_one))],
            "network forward ms": 1000 * statistics.median(network_only),
            "414 series/s": n_series / statistics.median(zen_all),
        }
    )

    try:
        from neuralforecast import NeuralForecast
        from neuralforecast.models import NHITS as NFNHITS
    except ImportError:
        print("neuralforecast not installed: pip install -e '.[bench]'")
    else:
        logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        model = NFNHITS(h=H, input_size=INPUT_SIZE, max_steps=20, accelerator="cpu",
                        enable_progress_bar=False, enable_model_summary=False, logger=False,
                        enable_checkpointing=False)  # fmt: skip
        nf = NeuralForecast(models=[model], freq=1)
        nf.fit(train)
        timed(lambda: nf.predict(df=one), 5)
        nf_one = timed(lambda: nf.predict(df=one), max(calls // 5, 10))
        nf_all = timed(lambda: nf.predict(df=train), 3)
        rows.append(
            {
                "framework": "neuralforecast 3.3.0",
                "one series ms (median)": 1000 * statistics.median(nf_one),
                "p90 ms": 1000 * sorted(nf_one)[int(0.9 * len(nf_one))],
                "414 series/s": n_series / statistics.median(nf_all),
            }
        )
        rows[0]["speedup vs nf"] = statistics.median(nf_one) / statistics.median(zen_one)
    columns = ["framework", "one series ms (median)", "p90 ms", "network forward ms",
               "414 series/s", "speedup vs nf"]  # fmt: skip
    print_table(f"predict latency, N-HiTS h={H} input {INPUT_SIZE}, {calls} calls", rows, columns)
    target = rows[0]["one series ms (median)"] <= 1.0
    print(f"zen one-series median {rows[0]['one series ms (median)']:.3f} ms: "
          + ("meets the target of 1 ms" if target else "MISSES the target of 1 ms"))  # fmt: skip
    write_result("forecasting_latency", {"machine": info, "calls": calls, "rows": rows})
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
