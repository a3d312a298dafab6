"""The mastering report as files: JSON (everything) and a PNG a person reads at a glance."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zen.atomic import write_atomic


def write_json_report(report: Mapping[str, Any], json_path: str | Path) -> None:
    """Write ``report`` (from :func:`zen.audio.master_file`) as indented JSON, atomically."""
    text = json.dumps(report, indent=2) + "\n"
    write_atomic(json_path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_report(
    report: Mapping[str, Any], json_path: str | Path, png_path: str | Path | None = None
) -> None:
    """Write ``report`` as JSON and, when ``png_path`` is given, as a PNG, both atomically."""
    write_json_report(report, json_path)
    if png_path is not None:
        plot_report(report, png_path)


def plot_report(report: Mapping[str, Any], png_path: str | Path) -> None:
    """Draw ``report`` as a PNG, atomically (imports matplotlib, Agg backend).

    The picture shows loudness and true peak before and after against the target and ceiling,
    the average spectrum before and after (and the reference's, level-aligned to the master),
    and the gain reduction of the compressor and the limiter over time.
    """
    _plot(report, Path(png_path))


def _plot(report: Mapping[str, Any], path: Path) -> None:
    # A Figure with its own Agg canvas, not pyplot: the caller's backend and figures stay as
    # they are (no matplotlib.use, no global figure registry).
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    before, after, target = report["input"], report["output"], report["target"]
    curves = report["curves"]
    figure = Figure(figsize=(11, 9))
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(3, 2, height_ratios=[1, 1.3, 1])

    def bars(axis: Any, key: str, line: float, line_label: str, unit: str) -> None:
        values = [before[key], after[key]]
        shown = [v if v is not None else np.nan for v in values]
        bottom = min([line, *[v for v in shown if np.isfinite(v)]]) - 6.0
        axis.bar(
            ["input", "master"],
            [v - bottom for v in shown],
            bottom=bottom,
            color=["#9aa5b1", "#2f6fad"],
        )
        axis.axhline(line, color="#c0392b", linestyle="--", label=line_label)
        for index, value in enumerate(shown):
            if np.isfinite(value):
                axis.annotate(f"{value:.1f}", (index, value), ha="center", va="bottom")
        axis.set(ylabel=unit)
        axis.legend(loc="lower right")

    bars(
        figure.add_subplot(grid[0, 0]),
        "integrated_lufs",
        target["integrated_lufs"],
        f"target {target['integrated_lufs']:.1f} LUFS",
        "integrated loudness (LUFS)",
    )
    bars(
        figure.add_subplot(grid[0, 1]),
        "true_peak_dbtp",
        target["ceiling_dbtp"],
        f"ceiling {target['ceiling_dbtp']:.1f} dBTP",
        "true peak (dBTP)",
    )

    spectrum_axis = figure.add_subplot(grid[1, :])
    spectrum = curves["spectrum"]
    spectrum_axis.semilogx(
        spectrum["freqs_hz"], spectrum["input_db"], color="#9aa5b1", label="input"
    )
    spectrum_axis.semilogx(
        spectrum["freqs_hz"], spectrum["output_db"], color="#2f6fad", label="master"
    )
    if "reference_db" in spectrum:
        # Level-align the reference to the master so the curves compare balance, not level.
        output = dict(zip(spectrum["freqs_hz"], spectrum["output_db"], strict=True))
        shared = [f for f in spectrum["reference_freqs_hz"] if f in output]
        ref = dict(zip(spectrum["reference_freqs_hz"], spectrum["reference_db"], strict=True))
        offset = float(np.mean([output[f] - ref[f] for f in shared])) if shared else 0.0
        spectrum_axis.semilogx(
            spectrum["reference_freqs_hz"],
            [v + offset for v in spectrum["reference_db"]],
            color="#d68910",
            linestyle="--",
            label="reference (aligned)",
        )
    spectrum_axis.set(
        xlabel="frequency (Hz)", ylabel="power (dB, 1/3-octave)", title="average spectrum"
    )
    spectrum_axis.grid(True, which="both", alpha=0.3)
    spectrum_axis.legend()

    reduction_axis = figure.add_subplot(grid[2, :])
    reduction = curves["gain_reduction"]
    reduction_axis.plot(
        reduction["times_s"],
        [-v for v in reduction["compressor_db"]],
        label="compressor",
        color="#7d3c98",
    )
    reduction_axis.plot(
        reduction["times_s"],
        [-v for v in reduction["limiter_db"]],
        label="limiter",
        color="#c0392b",
    )
    reduction_axis.set(
        xlabel="time (s)", ylabel="gain reduction (dB)", title="gain reduction (largest per 50 ms)"
    )
    reduction_axis.grid(True, alpha=0.3)
    reduction_axis.legend(loc="lower right")

    name = Path(before["path"]).name
    figure.suptitle(
        f"{name}: {before['integrated_lufs']} -> {after['integrated_lufs']} LUFS,"
        f" true peak {after['true_peak_dbtp']} dBTP, preset {report['chain']['preset']},"
        f" {report['realtime_factor']}x real time"
    )
    # Fixed margins: tight_layout measured every tick label and took longer than the drawing.
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.06, top=0.93, hspace=0.42, wspace=0.2)
    write_atomic(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100))
