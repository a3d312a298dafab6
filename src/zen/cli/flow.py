"""``zen flow``: the Flow audio engine; ``zen flow master`` masters a file offline."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from zen.cli._shell import app, console, errors, reports_errors
from zen.cli.flow_play import play

flow_app = typer.Typer(
    help="Flow: the Five Pillars mastering chain (tone, dynamics, colour, space, loudness).",
    no_args_is_help=True,
)
app.add_typer(flow_app, name="flow")


@flow_app.command("master")
@reports_errors
def master(
    mix: Annotated[Path, typer.Argument(help="The mix: WAV, FLAC or OGG, mono or stereo.")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="The master (.wav/.flac: 24-bit, .ogg: Vorbis)."),
    ],
    target_lufs: Annotated[
        float, typer.Option("--target-lufs", help="Integrated loudness of the master (LUFS).")
    ] = -14.0,
    ceiling: Annotated[
        float, typer.Option("--ceiling", help="Highest true peak of the master (dBTP).")
    ] = -1.0,
    preset: Annotated[
        str, typer.Option("--preset", help="transparent, warm, loud or wide.")
    ] = "transparent",
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="Match this track's spectral balance and loudness (overrides --target-lufs).",
        ),
    ] = None,
    assistant: Annotated[
        bool,
        typer.Option(
            "--assistant/--no-assistant",
            help="Let the assistant model correct the preset (needs zen.audio.assistant).",
        ),
    ] = False,
    plot: Annotated[
        bool,
        typer.Option(
            "--plot/--no-plot", help="Also draw the report as OUTPUT's .report.png (matplotlib)."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the report (without its curves) as JSON on stdout."),
    ] = False,
) -> None:
    """Master MIX into OUTPUT; writes OUTPUT's report next to it (.report.json, and .report.png
    with --plot).

    The input file is only read. The master is written atomically.
    """
    from zen.audio import master_file

    with _compile_notices():
        report = master_file(
            mix,
            output,
            target_lufs=target_lufs,
            ceiling_dbtp=ceiling,
            reference=reference,
            preset=preset,
            assistant=assistant,
            plot=plot,
        )
    if as_json:
        summary = {key: value for key, value in report.items() if key != "curves"}
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_report(report)


class _NoticeHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        errors.print(f"[dim]{escape(record.getMessage())}[/]", highlight=False, soft_wrap=True)


@contextlib.contextmanager
def _compile_notices() -> Iterator[None]:
    """Show on stderr the library's notice that the DSP kernels are compiling (cold cache)."""
    notices = logging.getLogger("zen.audio.compile")
    handler = _NoticeHandler()
    level, propagate = notices.level, notices.propagate
    notices.addHandler(handler)
    notices.setLevel(logging.INFO)
    notices.propagate = False  # shown here once, not again by --verbose's handler
    try:
        yield
    finally:
        notices.removeHandler(handler)
        notices.setLevel(level)
        notices.propagate = propagate


def _print_report(report: dict[str, Any]) -> None:
    before, after, target = report["input"], report["output"], report["target"]
    table = Table(title=f"master of {escape(Path(before['path']).name)}")
    for column in ("", "input", "master", "target"):
        table.add_column(column, justify="left" if not column else "right")
    table.add_row(
        "integrated loudness (LUFS)",
        _number(before["integrated_lufs"]),
        _number(after["integrated_lufs"]),
        _number(target["integrated_lufs"])
        + (" (reference)" if target["source"] == "reference" else ""),
    )
    table.add_row(
        "true peak (dBTP)",
        _number(before["true_peak_dbtp"]),
        _number(after["true_peak_dbtp"]),
        f"<= {target['ceiling_dbtp']:.1f}",
    )
    table.add_row(
        "sample peak (dBFS)",
        _number(before["sample_peak_dbfs"]),
        _number(after["sample_peak_dbfs"]),
        "",
    )
    console.print(table)
    chain = report["chain"]
    console.print(
        f"preset {chain['preset']}, {before['sample_rate']} Hz, {before['channels']} channel(s),"
        f" {before['duration_s']:.1f} s processed in {report['processing_time_s']:.2f} s"
        f" ({report['realtime_factor']}x real time, {'native' if chain['native'] else 'reference'}"
        f" DSP; {report['total_time_s']:.2f} s with reading, metering and writing); loudness"
        f" gain {chain['loudness_gain_db']:+.1f} dB",
        highlight=False,
    )
    for warning in report["warnings"]:
        console.print(f"[yellow]warning:[/] {escape(warning)}", soft_wrap=True)
    if report["assistant"] is not None:
        for note in report["assistant"]["corrections"]["abstentions"]:
            console.print(f"assistant: {escape(note)}", soft_wrap=True)
    console.print(f"master: [bold]{escape(after['path'])}[/]", soft_wrap=True)
    written = [report[key] for key in ("report_json", "report_png") if key in report]
    if written:
        console.print(f"report: {escape(', '.join(written))}", soft_wrap=True)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


# Last, so that `zen flow --help` lists it after the commands above.
flow_app.command("play")(play)
