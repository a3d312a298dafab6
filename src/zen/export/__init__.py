"""Models out of zen: ONNX export checked against PyTorch, INT8/FP16 compression, and the one
loader of saved model directories.

This package sits above the model families (it exports and loads their models) and below the
orchestrator and runtime that use it:

* :func:`export_onnx` / :func:`load_onnx_session` (:mod:`zen.export.onnx`): trace, lower, check
  parity in onnxruntime, write the model with a JSON sidecar;
* :func:`quantize_int8` / :func:`convert_fp16` (:mod:`zen.export.quantize`);
* :func:`load_saved` (:mod:`zen.export.saved`): whatever ``zen fit``, ``TabularModel.save``,
  ``Forecaster.save`` or ``Trainer.save`` wrote, loaded safely (safetensors + JSON);
* :func:`export_saved` (:mod:`zen.export.runs`): ``zen export RUN``.

The ONNX parts need the ``onnx`` extra (``pip install 'zen-neural[onnx]'``); importing this
package does not.

>>> from zen.export import export_onnx, load_saved
"""

from __future__ import annotations

from zen.export.onnx import (
    ExportError,
    ExportReport,
    OnnxSession,
    ParityError,
    export_onnx,
    load_onnx_session,
    read_sidecar,
)
from zen.export.quantize import QuantizeReport, convert_fp16, quantize_int8
from zen.export.runs import SavedExport, export_saved
from zen.export.saved import SavedModel, load_saved

__all__ = [
    "ExportError",
    "ExportReport",
    "OnnxSession",
    "ParityError",
    "QuantizeReport",
    "SavedExport",
    "SavedModel",
    "convert_fp16",
    "export_onnx",
    "export_saved",
    "load_onnx_session",
    "load_saved",
    "quantize_int8",
    "read_sidecar",
]
