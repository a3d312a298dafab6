"""``zen flow play``: tracks mixed through the five pillars in real time, with a summary.

:mod:`zen.cli.flow` registers :func:`play` on its ``flow`` group.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import console, reports_errors

if TYPE_CHECKING:
    from zen.audio.realtime import PlaybackReport


@reports_errors
def play(
    tracks: Annotated[
        list[Path], typer.Argument(help="Audio files (WAV, FLAC, OGG), one track each.")
    ],
    block: Annotated[int, typer.Option("--block", help="Frames per block.")] = 512,
    seconds: Annotated[
        float | None,
        typer.Option("--seconds", help="How long to play (default: the longest track)."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(
            "--device",
            help="A sound device name, 'null', or 'file:OUT.wav' (default: the default sound"
            " device, or the null device when there is none).",
        ),
    ] = None,
    trace: Annotated[
        Path | None,
        typer.Option(help="Write the trace here (default: $ZEN_HOME/traces/flow-play-*)."),
    ] = None,
    assistant: Annotated[
        bool,
        typer.Option(
            "--assistant/--no-assistant",
            help="Run the mastering assistant on the mix while playing (if installed).",
        ),
    ] = True,
    auto_apply: Annotated[
        bool,
        typer.Option("--auto-apply", help="Apply the assistant's corrections as they come."),
    ] = False,
    preset: Annotated[
        str, typer.Option("--preset", help="Master preset: transparent, warm, loud or wide.")
    ] = "transparent",
    fast: Annotated[
        bool,
        typer.Option("--fast", help="Render as fast as possible (null or file output only)."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead.")] = False,
) -> None:
    """Play TRACKS together through their strips and the five-pillar master, in real time.

    Prints blocks, xruns, block processing times, deadline misses and the assistant's
    analyses, and writes the scheduler's trace (open it in https://ui.perfetto.dev).
    """
    from zen.audio.realtime import play as play_tracks
    from zen.runtime.workload import default_trace_path

    report = play_tracks(
        tracks,
        block_size=block,
        seconds=seconds,
        device=device,
        trace=trace or default_trace_path("flow-play"),
        assistant=assistant,
        auto_apply=auto_apply,
        preset=preset,
        fast=fast,
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2, default=str))
        return
    _print_report(report)


def _print_report(report: PlaybackReport) -> None:
    table = Table(title=f"zen flow play ({report.tracks} track(s), {report.output})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    rows = [
        ("programme played", f"{report.programme_s:.2f} s in {report.wall_s:.2f} s"),
        ("blocks", f"{report.blocks} of {report.block_size} at {report.sample_rate} Hz"),
        ("xruns", str(report.xruns)),
        ("underruns", str(report.underruns)),
        ("deadline misses", str(report.deadline_misses)),
        ("p50 block time", _ms(report.p50_block_ms)),
        ("p99 block time", _ms(report.p99_block_ms)),
        ("max block time", _ms(report.max_block_ms)),
        ("output latency", _ms(report.latency_ms)),
        ("assistant analyses", str(report.assistant_analyses)),
        ("real-time priority", escape(report.realtime_priority)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    if report.output_note:
        console.print(f"[yellow]note:[/] {escape(report.output_note)}", soft_wrap=True)
    if report.assistant.startswith("unavailable"):
        console.print(f"[yellow]assistant {escape(report.assistant)}[/]", soft_wrap=True)
    elif report.assistant_suggestion is not None:
        suggestion = json.dumps(report.assistant_suggestion, default=str)
        console.print(f"assistant's last suggestion: {escape(suggestion)}", soft_wrap=True)
    if report.interrupted:
        console.print("[yellow]interrupted[/]")
    if report.xruns == 0:
        console.print("[green]ok:[/] no xruns")
    else:
        console.print(
            f"[red]xruns:[/] {report.xruns} block(s) glitched; the trace shows what ran instead"
        )
    if report.file:
        console.print(f"file: [bold]{escape(report.file)}[/]", soft_wrap=True)
    console.print(
        f"trace: {escape(str(report.trace))} (open in https://ui.perfetto.dev)", soft_wrap=True
    )


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"
