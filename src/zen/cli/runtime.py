"""``zen runtime check`` and ``zen trace``: how well this machine keeps real-time deadlines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import app, console, reports_errors

if TYPE_CHECKING:
    from zen.runtime.workload import WorkloadResult

runtime_app = typer.Typer(
    help="The real-time runtime: check how this machine keeps audio-block deadlines.",
    no_args_is_help=True,
)
app.add_typer(runtime_app, name="runtime")

Seconds = Annotated[float, typer.Option("--seconds", help="How long to run the workload.")]
Stress = Annotated[
    bool, typer.Option("--stress", help="Load another core with a spinning process meanwhile.")
]
PlainThreads = Annotated[
    bool,
    typer.Option(
        "--plain-threads", help="Run the same work on plain threads, without the scheduler."
    ),
]


@runtime_app.command(
    "check",
    help="Run the standard mixed workload and report deadline misses and block latency.\n\n"
    "A stereo 512-sample block at 44.1 kHz (8-band EQ, compressor, saturator, meters) every"
    " 11.6 ms on the real-time tier, continuous MLP inference on the inference tier and numpy"
    " batches on the background tier, like an audio-latency test tool.",
)
@reports_errors
def check(
    seconds: Seconds = 10.0,
    stress: Stress = False,
    plain_threads: PlainThreads = False,
    trace: Annotated[
        Path | None,
        typer.Option(help="Write the trace here (default: $ZEN_HOME/traces/runtime-check-*)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead.")] = False,
) -> None:
    """Run the standard mixed workload and report deadline misses and block latency.

    A stereo 512-sample block at 44.1 kHz (8-band EQ, compressor, saturator, meters) every
    11.6 ms on the real-time tier, continuous MLP inference on the inference tier and numpy
    batches on the background tier, like an audio-latency test tool.
    """
    from zen.runtime.workload import default_trace_path, run_workload

    path = trace or default_trace_path("runtime-check")
    mode = "threads" if plain_threads else "scheduler"
    if not as_json:
        _announce(seconds, stress, mode)
    result = run_workload(seconds, mode=mode, stress=stress, trace_path=path)
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    _print_result(result)


@app.command("trace")
@reports_errors
def trace(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Trace file (default: $ZEN_HOME/traces/trace-*)."),
    ] = None,
    seconds: Seconds = 5.0,
    stress: Stress = False,
    plain_threads: PlainThreads = False,
) -> None:
    """Record the standard workload as a Chrome/Perfetto trace (open it in ui.perfetto.dev)."""
    from zen.runtime.workload import default_trace_path, run_workload

    path = output or default_trace_path("trace")
    mode = "threads" if plain_threads else "scheduler"
    _announce(seconds, stress, mode)
    result = run_workload(seconds, mode=mode, stress=stress, trace_path=path)
    table = Table(title="per tier")
    for column in ("tier", "runs", "jobs", "p50 latency", "p99 latency", "misses", "starving"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for name, tier in result.summary["tiers"].items():
        table.add_row(
            name,
            str(tier["runs"]),
            str(tier["jobs"]),
            _ms(tier["p50_latency_ms"]),
            _ms(tier["p99_latency_ms"]),
            str(tier["deadline_misses"]),
            str(tier["starvation_events"]),
        )
    console.print(table)
    console.print(
        f"trace written to [bold]{escape(str(result.trace))}[/]; open it in"
        " https://ui.perfetto.dev or chrome://tracing",
        soft_wrap=True,  # a path broken across lines cannot be copied
    )


def _announce(seconds: float, stress: bool, mode: str) -> None:
    how = "the scheduler" if mode == "scheduler" else "plain threads"
    load = ", another core loaded by a stress process" if stress else ""
    console.print(
        f"running the standard workload for {seconds:g} s on {how}{load}: a stereo block of"
        " 512 samples at 44.1 kHz every 11.61 ms, continuous MLP inference, background batches",
        highlight=False,
    )


def _print_result(result: WorkloadResult) -> None:
    table = Table(title=f"zen runtime check ({result.mode}, {result.seconds:g} s)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("blocks", str(result.blocks)),
        ("deadline misses", str(result.deadline_misses)),
        ("p50 block latency", _ms(result.p50_block_ms)),
        ("p99 block latency", _ms(result.p99_block_ms)),
        ("max block latency", _ms(result.max_block_ms)),
        ("starvation events", _count(result.starvation_events)),
        ("overruns", _count(result.overruns)),
        ("inference runs", str(result.inference_runs)),
        ("background batches", str(result.background_batches)),
        ("real-time priority", escape(result.realtime_priority)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if result.deadline_misses == 0:
        console.print("[green]ok:[/] every block met its 11.61 ms deadline")
    else:
        console.print(
            f"[red]deadline misses:[/] {result.deadline_misses} of {result.blocks} blocks were"
            " late or dropped; the trace shows what ran instead"
        )
    console.print(
        f"trace: {escape(str(result.trace))} (open in https://ui.perfetto.dev)", soft_wrap=True
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)
