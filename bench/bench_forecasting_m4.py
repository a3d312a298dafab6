"""M4 Hourly (414 series, h = 48, season 24): zen.forecasting next to neuralforecast 3.3.0.

Same settings on both sides: input_size 96, 1000 steps, windows_batch_size 1024, lr 1e-3, MAE
loss, robust per-window scaling, no early stopping, CPU with 2 threads. Every run is its own
subprocess, so its peak RSS (``ru_maxrss``) is its own. Reported: sMAPE, MASE, OWA (against
Naive2, computed here), fit time and peak RSS; medians over seeds; ratios zen / neuralforecast.

Published figures (not measured here): the M4 winner's Hourly OWA 0.440, best Hourly entry
0.410 (Makridakis et al. 2020).

    python bench/bench_forecasting_m4.py [--seeds 3] [--nf-seeds 1] [--quick]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, print_machine, print_table, write_result

H, INPUT_SIZE, SEASON = 48, 96, 24
SETTINGS = {"max_steps": 1000, "learning_rate": 1e-3, "windows_batch_size": 1024}


def load():
    from zen.forecasting.datasets import load_m4

    train, test = load_m4("Hourly")
    return train, test


def run_zen(model_name: str, seed: int, max_steps: int) -> dict:
    from zen.forecasting import NBEATS, NHITS, Forecaster

    train, _ = load()
    cls = {"NHITS": NHITS, "NBEATS": NBEATS}[model_name]
    model = cls(h=H, input_size=INPUT_SIZE, scaler_type="robust", random_seed=seed,
                **{**SETTINGS, "max_steps": max_steps})  # fmt: skip
    started = time.perf_counter()
    forecaster = Forecaster([model], freq=1).fit(train)
    fit_s = time.perf_counter() - started
    forecast = forecaster.predict()
    return {"fit_s": fit_s, "forecast": forecast[model.alias].to_numpy().reshape(-1, H).tolist(),
            "ids": forecast["unique_id"].to_numpy()[::H].tolist()}  # fmt: skip


def run_neuralforecast(model_name: str, seed: int, max_steps: int) -> dict:
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    from neuralforecast import NeuralForecast
    from neuralforecast.models import NBEATS, NHITS

    train, _ = load()
    cls = {"NHITS": NHITS, "NBEATS": NBEATS}[model_name]
    model = cls(h=H, input_size=INPUT_SIZE, scaler_type="robust", random_seed=seed,
                max_steps=max_steps, learning_rate=SETTINGS["learning_rate"],
                windows_batch_size=SETTINGS["windows_batch_size"], accelerator="cpu",
                enable_progress_bar=False, enable_model_summary=False, logger=False,
                enable_checkpointing=False)  # fmt: skip
    started = time.perf_counter()
    nf = NeuralForecast(models=[model], freq=1)
    nf.fit(train)
    fit_s = time.perf_counter() - started
    forecast = nf.predict().reset_index()
    forecast = forecast.sort_values(["unique_id", "ds"])
    return {"fit_s": fit_s, "forecast": forecast[model_name].to_numpy().reshape(-1, H).tolist(),
            "ids": forecast["unique_id"].to_numpy()[::H].tolist()}  # fmt: skip


def worker(framework: str, model_name: str, seed: int, max_steps: int) -> None:
    import torch

    torch.set_num_threads(2)
    run = run_zen if framework == "zen" else run_neuralforecast
    result = run(model_name, seed, max_steps)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def spawn(framework: str, model_name: str, seed: int, max_steps: int) -> dict:
    command = [sys.executable, __file__, "--worker", framework, model_name, str(seed),
               str(max_steps)]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
    if output.returncode != 0 or not lines:
        raise RuntimeError(f"{framework} {model_name} failed:\n{output.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


def scores(forecast: np.ndarray, truth: np.ndarray, train_series: list, naive2: dict) -> dict:
    from zen.forecasting import metrics

    smape = metrics.smape(truth, forecast)
    mase = metrics.mase(truth, forecast, train_series, season_length=SEASON)
    owa = metrics.owa(smape, mase, naive2["smape"], naive2["mase"])
    return {"smape": smape, "mase": mase, "owa": owa}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--nf-seeds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="50 steps, 1 seed each")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        framework, model_name, seed, steps = args.worker
        worker(framework, model_name, int(seed), int(steps))
        return 0

    from zen.forecasting import Naive2, SeasonalNaive
    from zen.forecasting.data import from_long

    steps = 50 if args.quick else SETTINGS["max_steps"]
    seeds = 1 if args.quick else args.seeds
    nf_seeds = 1 if args.quick else args.nf_seeds
    info = machine_info()
    print_machine(info)
    train, test = load()
    data = from_long(train)
    ids = list(data.ids)
    by_series = test.sort_values(["unique_id", "ds"]).groupby("unique_id")["y"]
    truth = np.stack([by_series.get_group(key).to_numpy() for key in ids])
    train_series = [data.series(i).numpy().astype(np.float64) for i in range(data.n_series)]
    from zen.forecasting import metrics

    naive2_forecast = Naive2(h=H, season_length=SEASON).fit(data).predict(data)
    naive2 = {
        "smape": metrics.smape(truth, naive2_forecast),
        "mase": metrics.mase(truth, naive2_forecast, train_series, season_length=SEASON),
    }
    rows = [{"framework": "baseline", "model": "Naive2", **naive2, "owa": 1.0}]
    seasonal = SeasonalNaive(h=H, season_length=SEASON).fit(data).predict(data)
    rows.append({"framework": "baseline", "model": "SeasonalNaive",
                 **scores(seasonal, truth, train_series, naive2)})  # fmt: skip

    runs: dict[tuple[str, str], list[dict]] = {}
    forecasts: dict[tuple[str, str], list[np.ndarray]] = {}
    for framework, n_seeds in (("zen", seeds), ("neuralforecast", nf_seeds)):
        if framework == "neuralforecast":
            try:
                import neuralforecast  # noqa: F401
            except ImportError:
                print("neuralforecast not installed: pip install -e '.[bench]'")
                continue
        for model_name in ("NHITS", "NBEATS"):
            for seed in range(1, n_seeds + 1):
                result = spawn(framework, model_name, seed, steps)
                order = [result["ids"].index(key) for key in ids]
                forecast = np.asarray(result["forecast"])[order]
                score = scores(forecast, truth, train_series, naive2)
                runs.setdefault((framework, model_name), []).append(
                    {
                        **score,
                        "fit_s": result["fit_s"],
                        "peak_rss_mb": result["peak_rss_mb"],
                        "seed": seed,
                    }
                )
                forecasts.setdefault((framework, model_name), []).append(forecast)
                print(f"{framework} {model_name} seed {seed}: sMAPE {score['smape']:.3f}"
                      f" OWA {score['owa']:.3f} fit {result['fit_s']:.1f}s"
                      f" peak {result['peak_rss_mb']:.0f} MiB", flush=True)  # fmt: skip

    for (framework, model_name), results in runs.items():
        rows.append({
            "framework": framework, "model": model_name,
            **{key: statistics.median(r[key] for r in results)
               for key in ("smape", "mase", "owa", "fit_s", "peak_rss_mb")},
            "seeds": len(results),
        })  # fmt: skip
    if ("zen", "NHITS") in forecasts and ("zen", "NBEATS") in forecasts:
        # The ensemble of each seed's N-HiTS and N-BEATS: the median with the seasonal naive.
        ensemble_scores = [
            scores(np.median(np.stack([a, b, seasonal]), axis=0), truth, train_series, naive2)
            for a, b in zip(forecasts[("zen", "NHITS")], forecasts[("zen", "NBEATS")], strict=True)
        ]
        rows.append({"framework": "zen", "model": "Ensemble(median: NHITS, NBEATS, SNaive)",
                     **{key: statistics.median(s[key] for s in ensemble_scores)
                        for key in ("smape", "mase", "owa")}})  # fmt: skip
    for model_name in ("NHITS", "NBEATS"):
        zen_row = next(
            (r for r in rows if r["framework"] == "zen" and r["model"] == model_name), None
        )
        nf_row = next(
            (r for r in rows if r["framework"] == "neuralforecast" and r["model"] == model_name),
            None,
        )
        if zen_row and nf_row:
            zen_row["fit time zen/nf"] = zen_row["fit_s"] / nf_row["fit_s"]
            zen_row["peak RSS zen/nf"] = zen_row["peak_rss_mb"] / nf_row["peak_rss_mb"]
    columns = ["framework", "model", "smape", "mase", "owa", "fit_s", "peak_rss_mb", "seeds",
               "fit time zen/nf", "peak RSS zen/nf"]  # fmt: skip
    print_table(f"M4 Hourly, h={H}, input {INPUT_SIZE}, {steps} steps (medians over seeds)",
                rows, columns)  # fmt: skip
    write_result(
        "forecasting_m4",
        {
            "machine": info,
            "steps": steps,
            "rows": rows,
            "runs": {f"{k[0]}/{k[1]}": v for k, v in runs.items()},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
