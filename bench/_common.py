"""Helpers every benchmark in ``bench/`` shares: timing, machine description, results, tables.

Benchmarks are scripts (``python bench/bench_x.py``), so this module is imported as ``_common``
from the script's own directory. House rules it supports: compare with the peer in the same run,
report medians of several runs, and say on which machine and when.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import torch
from rich.console import Console
from rich.table import Table

from zen.atomic import write_atomic

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
BUILD_DIR = BENCH_DIR / "build"

console = Console()
if not console.is_terminal:
    # Piped or captured output: keep table rows whole instead of wrapping at 80 columns.
    console = Console(width=240)


def median_of(fn: Callable[[], object], repeats: int, warmup: int = 0) -> tuple[float, list[float]]:
    """Call ``fn()`` ``warmup`` times untimed, then ``repeats`` times; return the median wall
    time and every timed call, in seconds.

    >>> median_s, all_s = median_of(lambda: None, 3)
    >>> len(all_s), median_s >= 0
    (3, True)
    """
    if repeats < 1:
        raise ValueError(f"repeats: expected a positive integer, got {repeats!r}")
    for _ in range(warmup):
        fn()
    times_s = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times_s.append(time.perf_counter() - started)
    return statistics.median(times_s), times_s


def machine_info() -> dict[str, Any]:
    """What a reader needs to judge the numbers: CPU, cores, load, torch, Python, date (UTC)."""
    cores_usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load_1m = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": cores_usable,
        # Other work on the machine skews timings. The load average lags by a minute; the busy
        # share of all cores over the last half second says what competes right now.
        "load_avg_1m": round(load_1m, 2) if load_1m is not None else None,
        "cpu_busy_pct": psutil.cpu_percent(interval=0.5),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def print_machine(info: Mapping[str, Any]) -> None:
    """One line describing the machine, and a warning when other work is loading the CPU."""
    console.print(
        f"[dim]{info['cpu']}, {info['cores_usable'] or info['cores']} usable core(s),"
        f" torch {info['torch']} ({info['torch_threads']} threads), Python {info['python']},"
        f" {info['date']}, CPU busy {info['cpu_busy_pct']}% before the run[/dim]"
    )
    if info["cpu_busy_pct"] > 25:
        console.print(
            f"[yellow]warning: the CPU was {info['cpu_busy_pct']}% busy before the run; other"
            " processes compete for it and timings (multi-threaded ones most) will be noisy"
            "[/yellow]"
        )


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or platform.machine()


def write_result(name: str, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as ``bench/results/<name>.json`` (atomically) and return the path.

    Numpy scalars and arrays are stored as plain numbers and lists.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    text = json.dumps(payload, indent=2, default=_json_default) + "\n"
    write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, (Path, set, tuple)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot store {type(value).__name__} in a benchmark result")


def print_table(
    title: str,
    rows: Sequence[Mapping[str, Any] | Sequence[Any]],
    columns: Sequence[str],
) -> None:
    """Print ``rows`` as a rich table.

    Args:
        title: shown above the table.
        rows: mappings keyed by column name, or sequences in column order.
        columns: the column headers (and keys for mapping rows).

    Floats print with 4 significant digits, ``None`` as ``n/a``; pre-format a value as a string
    to control it.
    """
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        values = [row.get(column) for column in columns] if isinstance(row, Mapping) else row
        table.add_row(*(_format(value) for value in values))
    console.print(table)


def _format(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
