"""`make demo`: write scikit-learn's digits to CSV and train on it with `zen fit`.

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


def main() -> int:
    csv = write_digits(ROOT / "data" / "digits.csv")
    print(f"wrote {csv.relative_to(ROOT)} (1797 handwritten digits, 64 pixel columns + 'digit')")
    zen = Path(sys.executable).with_name("zen")
    command = [str(zen), "fit", str(csv.relative_to(ROOT)), "--target", "digit"]
    print("$ zen " + " ".join(command[1:]), flush=True)
    status = subprocess.call(command, cwd=ROOT)
    if status == 0:
        run = max((ROOT / "runs").iterdir(), key=lambda path: path.stat().st_mtime)
        run = run.relative_to(ROOT)
        print(
            f"\nDemo done. Look at:\n"
            f"  {run}/learning_curves.png   loss and accuracy per epoch\n"
            f"  {run}/report.json           held-out scores, baseline, settings, history\n"
            f"Apply the model: .venv/bin/zen predict {run} data/digits.csv -o predictions.csv"
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
