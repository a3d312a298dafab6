"""`make demo`: `zen fit` on a table (handwritten digits) and on time series (bundled ILI), then
`zen export` of the table model (ONNX + INT8) and `zen flow master` of a shared music excerpt.

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
SHARED_AUDIO = ROOT.parent / "shared" / "data" / "audio"


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

    The test weeks are mid-2020, when flu activity all but vanished: the models forecast the
    usual seasonal rise, and the plot shows what actually happened. The model is chosen on the
    12 weeks before them and forecasts the 12 weeks after the data in forecast.csv.
    """
    csv = write_ili(ROOT / "data" / "ili.csv")
    print(f"\nwrote {csv.relative_to(ROOT)} (US influenza-like illness, 7 weekly series, CDC)")
    command = [str(zen), "fit", str(csv.relative_to(ROOT)), "--horizon", "12", "--budget", "40s"]
    print("$ zen " + " ".join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


def export_demo(zen: Path, run: Path) -> int:
    """Export the digits model to ONNX with an INT8 copy: parity, size and latency reports."""
    command = [str(zen), "export", str(run), "--format", "onnx", "--int8"]
    print("\n$ zen " + " ".join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


def flow_demo(zen: Path) -> Path | None:
    """Master a shared music excerpt with the assistant, when ../shared/data has it."""
    mix = SHARED_AUDIO / "drascula-track1.flac"
    if not mix.is_file():
        print(f"\n(skipping Flow: no {mix}; put a WAV/FLAC/OGG there or run zen flow master)")
        return None
    master = ROOT / "runs" / "flow-demo" / "master.wav"
    master.parent.mkdir(parents=True, exist_ok=True)
    command = [str(zen), "flow", "master", str(mix), "-o", str(master.relative_to(ROOT)),
               "--preset", "warm", "--assistant", "--plot"]  # fmt: skip
    print("\n$ zen " + " ".join(command[1:]), flush=True)
    return master.relative_to(ROOT) if subprocess.call(command, cwd=ROOT) == 0 else None


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
    status = export_demo(zen, table_run)
    if status != 0:
        return status
    master = flow_demo(zen)
    lines = [
        "\nDemo done. Open the HTML reports (profile, candidates and why the router chose them,"
        " leaderboard, plots):",
        f"  {table_run}/report.html    digits: MLP candidates, learning curves, confusion matrix",
        f"  {series_run}/report.html    illness: models chosen on a validation window, scored"
        " on the test window (the last 12 weeks), median ensemble, forecasts vs what happened",
        f"The next 12 weeks of each illness series, from the chosen model: {series_run}/"
        "forecast.csv",
        "Next to each: report.json (all numbers) and the PNGs.",
        f"The digits model in ONNX, FP32 and INT8, with JSON sidecars: {table_run}/model.onnx,"
        f" {table_run}/model.int8.onnx",
    ]
    if master is not None:
        lines.append(
            f"The mastered excerpt (listen to it) and its report: {master},"
            f" {master.with_suffix('.report.png')}"
        )
    lines += [
        "Every run and candidate is recorded: .venv/bin/zen history   (then zen history show ID)",
        "See why a model would be chosen, without training: .venv/bin/zen fit data/ili.csv"
        " --horizon 12 --explain",
        f"Apply the model: .venv/bin/zen predict {table_run} data/digits.csv -o predictions.csv",
        "Serve it over HTTP: .venv/bin/zen serve " + str(table_run),
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
