"""``zen export RUN``: a run or saved model directory to ONNX, and to INT8 when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from zen.export.families import forecast_windows
from zen.export.onnx import ExportReport, export_onnx
from zen.export.quantize import QuantizeReport, quantize_int8
from zen.export.saved import load_saved


@dataclass(frozen=True)
class SavedExport:
    """What :func:`export_saved` did: the model directory read, its format, the reports."""

    source: Path
    saved_format: str
    export: ExportReport
    int8: QuantizeReport | None = None


def export_saved(
    path: str | Path,
    output: str | Path | None = None,
    *,
    int8: bool = False,
    model_name: str | None = None,
) -> SavedExport:
    """Export a run directory (``runs/<id>/`` from ``zen fit``) or a saved model directory.

    Args:
        path: the run or model directory (tabular, forecasting or graph).
        output: the ``.onnx`` to write; default ``<run>/model.onnx`` for a run directory and
            ``<model dir>.onnx`` next to a model directory.
        int8: also write ``<output stem>.int8.onnx`` with :func:`~zen.export.quantize_int8`;
            convolutional forecasters are calibrated on windows of their saved history.
        model_name: the model to export from a Forecaster holding several.
    """
    saved = load_saved(path)
    if output is None:
        if saved.run_dir is not None and saved.run_dir == Path(path).expanduser():
            output = saved.run_dir / "model.onnx"
        else:
            output = saved.directory.with_suffix(".onnx")
    report = export_onnx(saved.model, output, model_name=model_name)
    compressed = None
    if int8:
        calibration = None
        if saved.kind == "forecast":
            calibration = forecast_windows(saved.model, model_name)
        compressed = quantize_int8(report.path, calibration)
    return SavedExport(saved.directory, saved.format, report, compressed)
