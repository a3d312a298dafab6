"""`make demo`: `zen fit` on a table (handwritten digits) and on time series (bundled ILI).

Each `zen fit` profiles the data, trains the router's candidates side by side, records the run
in History (``$ZEN_HOME/zen.db``) and writes ``report.html`` next to ``report.json``.

The digits are real data (1,797 8x8 handwritten digits, UCI ML repository, as bundled with
scikit-learn under its BSD licence); the demo writes them to `data/digits.csv` so the command
below is exactly what a user would run on their own file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_digits(path: Path) -> Path:
    from sklearn.datasets import load_digits

    frame = load_digits(as_frame=True).frame.rename(columns={"target": "digit"})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def write_ili(path: Path) -> Path:
    from zen.forecasting.datasets import load_ili

    path.parent.mkdir(parents=True, exist_ok=True)
    load_ili().to_csv(path, index=False)
    return path


def forecast_demo(zen: Path) -> int:
    """The time-series side of `zen fit`: weekly influenza-like illness, bundled with zen.

    The held-out last weeks are mid-2020, when flu activity all but vanished: the models
    forecast the usual seasonal rise, and the plot shows what actually happened.
    """
    csv = write_ili(ROOT / "data" / "ili.csv")
    print(f"\nwrote {csv.relative_to(ROOT)} (US influenza-like illness, 7 weekly series, CDC)")
    command = [str(zen), "fit", str(csv.relative_to(ROOT)), "--horizon", "12", "--budget", "40s"]
    print("$ zen " + " ".join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


def newest_run() -> Path:
    return max((ROOT / "runs").iterdir(), key=lambda path: path.stat().st_mtime).relative_to(ROOT)


def main() -> int:
    csv = write_digits(ROOT / "data" / "digits.csv")
    print(f"wrote {csv.relative_to(ROOT)} (1797 handwritten digits, 64 pixel columns + 'digit')")
    zen = Path(sys.executable).with_name("zen")
    command = [str(zen), "fit", str(csv.relative_to(ROOT)), "--target", "digit"]
    print("$ zen " + " ".join(command[1:]), flush=True)
    status = subprocess.call(command, cwd=ROOT)
    if status != 0:
        return status
    table_run = newest_run()
    status = forecast_demo(zen)
    if status != 0:
        return status
    series_run = newest_run()
    print(
        f"\nDemo done. Open the HTML reports (profile, candidates and why the router chose them,"
        f" leaderboard, plots):\n"
        f"  {table_run}/report.html    digits: MLP candidates, learning curves, confusion matrix\n"
        f"  {series_run}/report.html    illness: forecasting leaderboard, median ensemble,"
        f" forecasts vs what happened\n"
        f"Next to each: report.json (all numbers) and the PNGs.\n"
        f"Every run and candidate is recorded: .venv/bin/zen history   (then zen history show ID)\n"
        f"See why a model would be chosen, without training: .venv/bin/zen fit data/ili.csv"
        f" --horizon 12 --explain\n"
        f"Apply the model: .venv/bin/zen predict {table_run} data/digits.csv -o predictions.csv"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
