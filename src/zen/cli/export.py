"""``zen export``: a trained run or model as ONNX (optionally INT8), checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import zen
from zen.cli._shell import app, console, json_option, print_json, reports_errors

FORMATS = ("onnx",)


@app.command("export")
@reports_errors
def export(
    run_or_model: Annotated[
        Path, typer.Argument(help="A run directory (runs/<id>/ from zen fit) or a model directory.")
    ],
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: onnx.")
    ] = "onnx",
    int8: Annotated[
        bool, typer.Option("--int8", help="Also write an INT8-quantised copy (.int8.onnx).")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The .onnx file to write (default: in the run)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Which model of a forecaster holding several.")
    ] = None,
    json_output: Annotated[bool, json_option("what was written and the parity checks")] = False,
) -> None:
    """Export a trained model to ONNX with a JSON sidecar; the ONNX outputs are checked against
    PyTorch at several batch sizes before anything is written."""
    if output_format not in FORMATS:
        raise zen.errors.expect_one_of("format", output_format, FORMATS)
    from zen.export.runs import export_saved

    done = export_saved(run_or_model, output, int8=int8, model_name=model)
    report = done.export
    if json_output:
        print_json(
            {
                "source": str(done.source.resolve()),
                "saved_format": done.saved_format,
                "onnx": str(report.path.resolve()),
                "sidecar": str(report.sidecar_path.resolve()),
                "family": report.family,
                "model_class": report.model_class,
                "opset": report.opset,
                "size_bytes": report.size_bytes,
                "inputs": [spec.to_json() for spec in report.inputs],
                "outputs": [spec.to_json() for spec in report.outputs],
                "parity": report.parity_json(),
                "int8": None if done.int8 is None else _int8_json(done.int8),
            }
        )
        return
    console.print(
        f"[green]exported[/] {report.model_class} ({report.family}) from {done.source}"
        f" -> [bold]{report.path}[/] ({_size(report.size_bytes)}, opset {report.opset})"
    )
    parity = Table(title=f"ONNX vs PyTorch (tolerance {report.tolerance:g}, relative)")
    for column in ("sizes", "max abs diff", "max rel diff", "ok"):
        parity.add_column(column, justify="right")
    for check in report.parity:
        sizes = ", ".join(f"{axis} {size}" for axis, size in check.sizes.items())
        ok = "[green]yes[/]" if check.passed else "[red]no[/]"
        parity.add_row(sizes, f"{check.max_abs_diff:.2e}", f"{check.max_rel_diff:.2e}", ok)
    console.print(parity)
    inputs = ", ".join(f"{spec.name} {list(spec.shape)}" for spec in report.inputs)
    outputs = ", ".join(f"{spec.name} {list(spec.shape)}" for spec in report.outputs)
    console.print(f"inputs: {inputs}\noutputs: {outputs}\nsidecar: {report.sidecar_path}")
    if done.int8 is not None:
        _show_int8(done.int8)


def _int8_json(report: object) -> dict[str, object]:
    from zen.export.quantize import QuantizeReport

    assert isinstance(report, QuantizeReport)
    return {
        "path": str(report.path.resolve()),
        "sidecar": str(report.sidecar_path.resolve()),
        **report.to_json(),
    }


def _show_int8(report: object) -> None:
    from zen.export.quantize import QuantizeReport

    assert isinstance(report, QuantizeReport)
    table = Table(title=f"{report.method} -> {report.path}")
    for column in ("", "fp32", "int8", "ratio"):
        table.add_column(column, justify="right")
    table.add_row(
        "size",
        _size(report.size_before_bytes),
        _size(report.size_after_bytes),
        f"{report.size_ratio:.2f}x",
    )
    sizes = ", ".join(f"{axis} {size}" for axis, size in report.latency_sizes.items())
    table.add_row(
        f"median latency ({sizes})",
        f"{report.latency_before_ms:.3f} ms",
        f"{report.latency_after_ms:.3f} ms",
        f"{report.speedup:.2f}x faster"
        if report.speedup >= 1
        else f"{1 / report.speedup:.2f}x slower",
    )
    console.print(table)
    console.print(
        f"largest output difference from fp32: {report.output_max_abs_diff:.3g}"
        f" ({report.output_max_rel_diff:.2%} of the largest output)"
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/] {note}")


def _size(size_bytes: int) -> str:
    return (
        f"{size_bytes / 1024:.1f} KiB" if size_bytes < 1 << 20 else f"{size_bytes / 2**20:.2f} MiB"
    )
