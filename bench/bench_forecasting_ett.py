"""Long-horizon ETTh1 (h = 96): N-HiTS with the standard protocol of the long-horizon literature.

Protocol (Informer / Autoformer / PatchTST): the 12/4/4-month split (train rows [0, 8640),
test rows [11520, 14400), see ``zen.forecasting.datasets.ett_split``), every channel
standardised with the training part's mean and std, channel-independent models, every test
window with stride 1, MSE and MAE averaged over windows, steps and channels in standardised units.

Published figures (not measured here) for ETTh1, h = 96: N-HiTS MSE 0.378 / MAE 0.393 (as reported
in the PatchTST paper, Nie et al. 2023), PatchTST/64 0.370 / 0.400. neuralforecast is not run
here yet (its rolling-window evaluation needs a cross-validation with ~2,800 windows).

    python bench/bench_forecasting_ett.py [--input-size 512] [--steps 1000] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

H = 96
PUBLISHED = {"N-HiTS (published)": (0.378, 0.393), "PatchTST/64 (published)": (0.370, 0.400)}


def standardised_channels() -> tuple[np.ndarray, list[str]]:
    from zen.forecasting.datasets import ett_split, load_ett

    long = load_ett("ETTh1")
    wide = long.pivot(index="ds", columns="unique_id", values="y").sort_index()
    values = wide.to_numpy(dtype=np.float64)
    train = values[ett_split().train]
    return (values - train.mean(axis=0)) / train.std(axis=0), list(wide.columns)


def evaluate(model, values: np.ndarray, input_size: int) -> tuple[float, float]:
    from zen.forecasting.datasets import ett_split

    test = values[ett_split(input_size=input_size).test]
    windows = torch.from_numpy(test.astype(np.float32)).T.unfold(1, input_size + H, 1)
    windows = windows.reshape(-1, input_size + H)  # (channels * n_windows, L + H)
    errors_sq, errors_abs, count = 0.0, 0.0, 0
    with torch.inference_mode():
        for chunk in windows.split(4096):
            forecast = model.loss.point(model.model_(chunk[:, :input_size]))
            error = forecast - chunk[:, input_size:]
            errors_sq += float((error**2).sum())
            errors_abs += float(error.abs().sum())
            count += error.numel()
    return errors_sq / count, errors_abs / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    steps = 30 if args.quick else args.steps
    seeds = 1 if args.quick else args.seeds
    torch.set_num_threads(2)
    info = machine_info()
    print_machine(info)

    from zen.forecasting import NHITS
    from zen.forecasting.data import from_long
    from zen.forecasting.datasets import ett_split

    values, channels = standardised_channels()
    train = values[ett_split().train]
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat(channels, len(train)),
            "ds": np.tile(np.arange(1, len(train) + 1), len(channels)),
            "y": train.T.reshape(-1),
        }
    )
    data = from_long(frame)
    results = []
    for seed in range(1, seeds + 1):
        model = NHITS(h=H, input_size=args.input_size, max_steps=steps, random_seed=seed,
                      windows_batch_size=256, scaler_type="identity")  # fmt: skip
        started = time.perf_counter()
        model.fit(data)
        fit_s = time.perf_counter() - started
        mse, mae = evaluate(model, values, args.input_size)
        results.append({"seed": seed, "mse": mse, "mae": mae, "fit_s": fit_s})
        print(f"seed {seed}: MSE {mse:.4f} MAE {mae:.4f} fit {fit_s:.1f}s", flush=True)
    rows = [
        {
            "model": f"zen N-HiTS (input {args.input_size}, {steps} steps, {seeds} seeds)",
            "MSE": statistics.median(r["mse"] for r in results),
            "MAE": statistics.median(r["mae"] for r in results),
            "fit s": statistics.median(r["fit_s"] for r in results),
        }
    ]
    rows += [{"model": name, "MSE": mse, "MAE": mae} for name, (mse, mae) in PUBLISHED.items()]
    print_table(
        f"ETTh1, h={H}, standardised, channel-independent", rows, ["model", "MSE", "MAE", "fit s"]
    )
    write_result(
        "forecasting_ett", {"machine": info, "steps": steps, "runs": results, "rows": rows}
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
