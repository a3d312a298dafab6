"""Run every benchmark in this folder, one after another (they must not share the 2 cores).

    python bench/run_all.py [--quick] [NAME ...]

Each `bench_<name>.py` prints its own side-by-side table and writes `results/<name>.json`.
The exit code is non-zero when any benchmark failed or missed its target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description="Run the zen-neural benchmarks.")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    parser.add_argument("names", nargs="*", help="only these, e.g. fann accuracy")
    args = parser.parse_args()
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    if not scripts:
        print(f"no benchmark matches {args.names}", file=sys.stderr)
        return 2
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        started = time.perf_counter()
        status = subprocess.call([sys.executable, str(script), *(["--quick"] * args.quick)])
        print(f"--- {script.stem}: exit {status} after {time.perf_counter() - started:.0f} s")
        if status != 0:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed or missed target: {', '.join(failed)}", file=sys.stderr)
        return 1
    print("\nall benchmarks ran; results in bench/results/, summary in BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
