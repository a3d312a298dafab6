"""`zen runtime check` and `zen trace`: short runs of the standard workload on this machine.

Timing depends on the machine and its load, so these tests check what is printed and written,
never how fast it was.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from zen.cli import app

runner = CliRunner()
CONTRACT_KEYS = {"blocks", "deadline_misses", "p50_block_ms", "p99_block_ms", "starvation_events"}


def load_trace(path: Path) -> list[dict]:
    events = json.loads(path.read_text())["traceEvents"]
    assert any(e["ph"] == "X" and e["name"] == "audio block" for e in events)
    return events


def test_runtime_check_json_has_the_summary_keys_and_the_trace_path(tmp_path) -> None:
    trace = tmp_path / "check.json"
    arguments = ["runtime", "check", "--seconds", "1", "--json", "--trace", str(trace)]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) >= CONTRACT_KEYS
    assert report["trace"] == str(trace) and report["mode"] == "scheduler"
    # One second holds 86 releases of 11.6 ms; each one ran or was counted as a miss.
    assert 80 <= report["blocks"] <= 90
    assert 0 <= report["deadline_misses"] <= report["blocks"]
    assert 0 < report["p50_block_ms"] <= report["p99_block_ms"]
    assert isinstance(report["starvation_events"], int)
    assert report["summary"]["tiers"]["realtime"]["jobs"] <= report["blocks"]
    load_trace(trace)


def test_runtime_check_prints_a_table_and_writes_the_trace_under_zen_home() -> None:
    result = runner.invoke(app, ["runtime", "check", "--seconds", "1"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    for words in ("blocks", "deadline misses", "p50 block latency", "p99 block latency",
                  "starvation events", "real-time priority"):  # fmt: skip
        assert words in output
    traces = Path(os.environ["ZEN_HOME"]) / "traces"
    (written,) = traces.glob("runtime-check-*.json")
    assert f"trace: {written}" in result.output  # on one line, whatever the terminal width
    load_trace(written)


def test_trace_writes_the_workload_to_the_given_path(tmp_path) -> None:
    path = tmp_path / "session.json"
    arguments = ["trace", "-o", str(path), "--seconds", "1", "--plain-threads"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert f"trace written to {path}" in result.output and "ui.perfetto.dev" in result.output
    events = load_trace(path)
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert "realtime" in names
    # The comparison run (no scheduler) is recorded the same way, and says so.
    assert json.loads(path.read_text())["otherData"]["mode"] == "threads"


def test_a_bad_duration_is_one_red_line() -> None:
    result = runner.invoke(app, ["runtime", "check", "--seconds", "0"])
    assert result.exit_code == 2
    assert "error: seconds: expected a positive, finite duration" in result.output
    assert "Traceback" not in result.output
