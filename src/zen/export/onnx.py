"""Export zen models to ONNX, checked against PyTorch, with a JSON sidecar saying how to use them.

>>> report = export_onnx(MLP([8, 32, 3]), "mlp.onnx")          # doctest: +SKIP
>>> report.parity_passed, report.max_abs_diff                    # doctest: +SKIP
(True, 4.7e-07)
>>> session, sidecar = load_onnx_session("mlp.onnx")            # doctest: +SKIP

How: ``torch.export`` traces the model with dynamic axes (batch; or nodes and edges for graph
models; LSTM steps for DeepAR), non-strict first, then strict. It never falls back to
``draft_export`` as ``torch.onnx.export`` does on its own: that specialises a dynamic axis to the
example's size without saying so, the way neuralforecast's N-HiTS export turns a traced
``len()`` into a constant and is silently wrong for every other batch size. The traced program
is lowered by ``torch.onnx`` (dynamo exporter, opset 18, with the fixes in
:mod:`zen.export._onnx_fixes`), saved to a temporary file, and run in onnxruntime at several
sizes next to PyTorch. Only when every output agrees within ``tolerance`` (relative to the
output's largest magnitude) is it renamed onto ``path``; otherwise :class:`ParityError` is
raised and nothing is left on disk.

The sidecar (``path`` with suffix ``.json``; format ``zen.onnx`` version 1) is plain JSON::

    format, format_version     "zen.onnx", 1
    zen_version, created        who wrote it, when (UTC)
    onnx_file, onnx_sha256      the model file next to it and its checksum
    opset                       ONNX opset of the default domain
    family, model_class         "mlp", "tabular", "nhits", "nbeats", "tcn", "deepar", "gcn", ...
    inputs, outputs             [{name, shape, dtype, description}]; a dynamic axis is a name
    dynamic_axes                {axis name: meaning}, e.g. {"batch": "windows (series) per call"}
    model                       family facts: h and input_size, classes, layer sizes, ...
    normalization               {"inside_graph": ..., "outside_graph": ...}: what the graph does
                                and what the caller must do before/after
    preprocessing               tabular only: TablePreprocessor.state() to encode raw rows
    sampling                    deepar only: how to draw forecast paths from the step graph
    parity                      {tolerance, passed, checks: [{sizes, max_abs_diff, max_rel_diff}]}
    quantization                null, or how this file was compressed (zen.export.quantize)

Requires the ``onnx`` extra: ``pip install 'zen-neural[onnx]'``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from zen.errors import BackendUnavailable, ConfigError, DataError, ZenError
from zen.export.families import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_GRAPH_SIZES,
    ExportPlan,
    TensorSpec,
    plan_export,
)

logger = logging.getLogger(__name__)

SIDECAR_FORMAT = "zen.onnx"
SIDECAR_VERSION = 1
DEFAULT_OPSET = 18  # the lowest opset with ScatterElements max/min reductions
DEFAULT_TOLERANCE = 1e-4
_INSTALL_HINT = "pip install 'zen-neural[onnx]'"

__all__ = [
    "DEFAULT_BATCH_SIZES",
    "DEFAULT_GRAPH_SIZES",
    "ExportError",
    "ExportReport",
    "OnnxSession",
    "ParityCheck",
    "ParityError",
    "TensorSpec",
    "export_onnx",
    "load_onnx_session",
    "read_sidecar",
    "require_onnx",
    "sidecar_path",
]


class ExportError(ZenError, RuntimeError):
    """The model could not be traced or converted to ONNX."""


class ParityError(ExportError):
    """The ONNX model's outputs differ from PyTorch's; ``report`` holds every check."""

    def __init__(self, message: str, report: ExportReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ParityCheck:
    """ONNX vs PyTorch at one set of axis sizes (largest differences over all outputs).

    ``max_rel_diff`` is ``max |onnx - torch|`` divided by ``max |torch|`` of the same output, so
    outputs near zero do not inflate it.
    """

    sizes: dict[str, int]
    max_abs_diff: float
    max_rel_diff: float
    passed: bool
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sizes": self.sizes,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "passed": self.passed,
            **({"problem": self.problem} if self.problem else {}),
        }


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_onnx` wrote and how well it matches PyTorch."""

    path: Path
    sidecar_path: Path
    family: str
    model_class: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    opset: int
    size_bytes: int
    tolerance: float
    parity: tuple[ParityCheck, ...]
    export_s: float
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def parity_passed(self) -> bool:
        """Whether every parity check is within ``tolerance``."""
        return all(check.passed for check in self.parity)

    @property
    def max_abs_diff(self) -> float:
        """Largest absolute ONNX-vs-PyTorch difference over all checks."""
        return max((check.max_abs_diff for check in self.parity), default=0.0)

    @property
    def max_rel_diff(self) -> float:
        """Largest relative difference over all checks (see :class:`ParityCheck`)."""
        return max((check.max_rel_diff for check in self.parity), default=0.0)

    def parity_json(self) -> dict[str, Any]:
        return {
            "tolerance": self.tolerance,
            "passed": self.parity_passed,
            "checks": [check.to_json() for check in self.parity],
        }


class OnnxSession(NamedTuple):
    """An onnxruntime session and the sidecar of its model (``session, sidecar = ...``)."""

    session: Any
    sidecar: dict[str, Any]


def require_onnx() -> None:
    """Raise :class:`BackendUnavailable` with the install hint unless onnx tooling imports."""
    missing = []
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise BackendUnavailable(
            f"ONNX export needs {', '.join(missing)}, which is not installed; {_INSTALL_HINT}"
        )


def sidecar_path(path: str | Path) -> Path:
    """The sidecar JSON of an ONNX file: ``model.onnx`` -> ``model.json``."""
    return Path(path).with_suffix(".json")


# ---------------------------------------------------------------------------------- export
def export_onnx(
    model: Any,
    path: str | Path,
    *,
    model_name: str | None = None,
    opset: int = DEFAULT_OPSET,
    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES,
    graph_sizes: Sequence[tuple[int, int]] = DEFAULT_GRAPH_SIZES,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
) -> ExportReport:
    """Export ``model`` to ONNX at ``path`` (+ sidecar JSON), checked against PyTorch.

    Args:
        model: an :class:`~zen.neural.MLP`, a fitted :class:`~zen.tabular.TabularModel`, a
            fitted :class:`~zen.forecasting.Forecaster` (one model, see ``model_name``), a
            fitted NHITS/NBEATS/TCN/DeepAR or its network module, or a node-level
            GCN/GAT/GraphSAGE/GIN.
        path: the ``.onnx`` file to write; the sidecar goes to :func:`sidecar_path`.
        model_name: which neural model of a Forecaster (its alias); needed when it has several.
        opset: ONNX opset, at least 18.
        batch_sizes: batch sizes the parity check runs (batch-first models).
        graph_sizes: ``(num_nodes, num_edges)`` pairs the parity check runs (graph models).
        tolerance: largest accepted relative difference (see :class:`ParityCheck`).
        seed: seeds the random inputs of tracing and of the parity check.

    Returns:
        An :class:`ExportReport`.

    Raises:
        BackendUnavailable: onnx, onnxruntime or onnxscript is missing.
        ConfigError: the model or an argument is not supported.
        ExportError: tracing or conversion failed.
        ParityError: ONNX disagrees with PyTorch at some size; nothing is written.
    """
    require_onnx()
    if opset < DEFAULT_OPSET:
        raise ConfigError(f"opset: expected {DEFAULT_OPSET} or newer, got {opset}")
    if not tolerance > 0:
        raise ConfigError(f"tolerance: expected a positive number, got {tolerance!r}")
    if not batch_sizes or any(int(size) < 1 for size in batch_sizes):
        raise ConfigError(f"batch_sizes: expected positive sizes, got {list(batch_sizes)!r}")
    if not graph_sizes or any(int(n) < 1 or int(e) < 0 for n, e in graph_sizes):
        raise ConfigError(
            f"graph_sizes: expected (num_nodes >= 1, num_edges >= 0) pairs, got"
            f" {list(graph_sizes)!r}"
        )
    path = Path(path)
    if path.suffix != ".onnx":
        raise ConfigError(f"path: expected a file name ending in .onnx, got {str(path)!r}")
    plan = plan_export(
        model,
        model_name,
        tuple(int(size) for size in batch_sizes),
        tuple((int(nodes), int(edges)) for nodes, edges in graph_sizes),
    )
    if any(tensor.device.type != "cpu" for tensor in plan.module.state_dict().values()):
        # Tracing and the parity check run on the CPU; the caller's model stays where it is.
        plan.module = copy.deepcopy(plan.module).cpu()
    started = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".onnx", dir=path.parent)
    os.close(handle)
    staging = Path(name)
    try:
        with _export_state(plan.module, plan.graph_model):
            proto = _convert(plan, opset, seed)
            _save_proto(proto, staging)
            parity = _check_parity(plan, staging, tolerance, seed)
        report = ExportReport(
            path=path,
            sidecar_path=sidecar_path(path),
            family=plan.family,
            model_class=plan.model_class,
            inputs=plan.inputs,
            outputs=plan.outputs,
            opset=opset,
            size_bytes=staging.stat().st_size,
            tolerance=tolerance,
            parity=parity,
            export_s=time.perf_counter() - started,
            metadata=plan.metadata,
        )
        if not report.parity_passed:
            failed = [check for check in parity if not check.passed]
            worst = max(failed, key=lambda check: check.max_rel_diff)
            raise ParityError(
                f"export of {plan.model_class}: ONNX disagrees with PyTorch at"
                f" {len(failed)} of {len(parity)} sizes; worst at {worst.sizes}:"
                f" max abs diff {worst.max_abs_diff:.3g}, relative {worst.max_rel_diff:.3g}"
                f" > tolerance {tolerance:g}{'; ' + worst.problem if worst.problem else ''}."
                " Nothing was written",
                report,
            )
        os.replace(staging, path)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise
    write_sidecar(path, _sidecar(report, plan))
    logger.info(
        "exported %s to %s (%d bytes, max rel diff %.2g)",
        plan.model_class,
        path,
        report.size_bytes,
        report.max_rel_diff,
    )
    return report


class _Restore:
    """Undo the attribute changes :func:`_export_state` made."""

    def __init__(self) -> None:
        self.changes: list[tuple[Any, str, Any]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        self.changes.append((owner, name, getattr(owner, name)))
        setattr(owner, name, value)

    def undo(self) -> None:
        for owner, name, value in reversed(self.changes):
            setattr(owner, name, value)


@contextlib.contextmanager
def _export_state(module: nn.Module, graph_model: bool) -> Iterator[None]:
    """Evaluation mode, no cached graph structure, portable ops; all restored afterwards."""
    from zen.export._onnx_fixes import portable_graph_ops

    training = {each: each.training for each in module.modules()}
    restore = _Restore()
    try:
        module.eval()
        for each in module.modules():
            # A GCN layer with cached=True would bake the last graph it saw into the export.
            if getattr(each, "cached", False) and hasattr(each, "_cache"):
                restore.set(each, "cached", False)
                restore.set(each, "_cache", None)
        with portable_graph_ops() if graph_model else contextlib.nullcontext():
            yield
    finally:
        restore.undo()
        for each, mode in training.items():
            each.training = mode


def _dynamic_shapes(plan: ExportPlan) -> tuple[dict[int, Any], ...]:
    from torch.export import Dim

    dims: dict[str, Any] = {}
    shapes = []
    for spec in plan.inputs:
        axes = {}
        for position, axis in spec.dynamic_axes.items():
            if axis not in dims:
                dims[axis] = Dim(axis, min=0 if axis == "num_edges" else 1)
            axes[position] = dims[axis]
        shapes.append(axes)
    return tuple(shapes)


def _capture(plan: ExportPlan, args: tuple[torch.Tensor, ...]) -> Any:
    """``torch.export`` with the plan's dynamic axes: non-strict, then strict (never draft)."""
    from zen.export._onnx_fixes import dynamic_rnn_decompositions

    dynamic = _dynamic_shapes(plan)
    reasons = []
    for strict in (False, True):
        try:
            with dynamic_rnn_decompositions():
                return torch.export.export(plan.module, args, dynamic_shapes=dynamic, strict=strict)
        except Exception as error:  # torch raises many types here; all mean "could not trace"
            reasons.append(f"strict={strict}: {_first_line(error)}")
    raise ExportError(
        f"export of {plan.model_class}: torch.export could not trace it with dynamic"
        f" {', '.join(plan.axes)} ({'; '.join(reasons)})"
    )


def _convert(plan: ExportPlan, opset: int, seed: int) -> Any:
    """The checked ``onnx.ModelProto`` of ``plan`` (dynamic axes named, zen metadata set)."""
    from zen.export._onnx_fixes import TRANSLATIONS, quiet_exporter

    generator = torch.Generator().manual_seed(seed)
    args = plan.make_inputs(plan.trace_sizes, generator)
    with quiet_exporter():
        program = _capture(plan, args)
        try:
            onnx_program = torch.onnx.export(
                program,
                args,
                input_names=[spec.name for spec in plan.inputs],
                output_names=[spec.name for spec in plan.outputs],
                opset_version=opset,
                dynamo=True,
                custom_translation_table=TRANSLATIONS,
                verbose=False,
                optimize=True,
            )
        except Exception as error:
            raise ExportError(
                f"export of {plan.model_class}: ONNX conversion failed: {_first_line(error)}"
            ) from error
    if onnx_program is None:
        raise ExportError(f"export of {plan.model_class}: torch.onnx.export returned nothing")
    proto = onnx_program.model_proto
    _name_dynamic_axes(proto, plan)
    _strip_debug_info(proto.graph)
    import onnx

    proto.metadata_props.add(key="zen.family", value=plan.family)
    proto.metadata_props.add(key="zen.sidecar", value=f"{SIDECAR_FORMAT}/{SIDECAR_VERSION}")
    try:
        onnx.checker.check_model(proto)
    except Exception as error:
        raise ExportError(
            f"export of {plan.model_class}: the ONNX model is invalid: {_first_line(error)}"
        ) from error
    return proto


def _name_dynamic_axes(proto: Any, plan: ExportPlan) -> None:
    """Give every declared axis of the graph's inputs and outputs its size or dynamic name.

    The exporter infers output shapes from the traced example; an LSTM loop, for one, leaves a
    dynamic step axis as the example's number, which onnxruntime would then warn about.
    """
    values = {value.name: value for value in [*proto.graph.input, *proto.graph.output]}
    for spec in (*plan.inputs, *plan.outputs):
        value = values.get(spec.name)
        if value is None:
            raise ExportError(f"export of {plan.model_class}: the graph has no {spec.name!r}")
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(spec.shape):
            raise ExportError(
                f"export of {plan.model_class}: {spec.name!r} has rank {len(dims)} in the"
                f" graph, expected {len(spec.shape)} {spec.shape}"
            )
        for dim, axis in zip(dims, spec.shape, strict=True):
            if isinstance(axis, str):
                dim.dim_param = axis
            else:
                dim.dim_value = axis


def _strip_debug_info(graph: Any) -> None:
    """Drop the exporter's per-node debug metadata (stack traces with this machine's paths,
    FX node text): it is most of a small model's file and means nothing to a user."""
    for node in graph.node:
        del node.metadata_props[:]
        node.doc_string = ""
        for attribute in node.attribute:
            if attribute.HasField("g"):
                _strip_debug_info(attribute.g)
            for subgraph in attribute.graphs:
                _strip_debug_info(subgraph)


def _save_proto(proto: Any, path: Path) -> None:
    import onnx

    onnx.save_model(proto, str(path))


def _check_parity(
    plan: ExportPlan, path: Path, tolerance: float, seed: int
) -> tuple[ParityCheck, ...]:
    """Run onnxruntime (default threads, as users will) and PyTorch at every check size."""
    session = _session(path)
    generator = torch.Generator().manual_seed(seed + 1)
    checks = []
    for sizes in plan.check_sizes:
        args = plan.make_inputs(sizes, generator)
        with torch.no_grad():
            expected = plan.module(*args)
        expected_list = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        feed = {spec.name: arg.numpy() for spec, arg in zip(plan.inputs, args, strict=True)}
        try:
            got = session.run(None, feed)
        except Exception as error:
            checks.append(
                ParityCheck(dict(sizes), float("inf"), float("inf"), False, f"onnxruntime: {error}")
            )
            continue
        checks.append(_compare(dict(sizes), got, [t.numpy() for t in expected_list], tolerance))
    return tuple(checks)


def _compare(
    sizes: dict[str, int], got: list[np.ndarray], expected: list[np.ndarray], tolerance: float
) -> ParityCheck:
    if len(got) != len(expected):
        problem = f"the graph has {len(got)} outputs, PyTorch {len(expected)}"
        return ParityCheck(sizes, float("inf"), float("inf"), False, problem)
    largest_abs = largest_rel = 0.0
    for index, (actual, wanted) in enumerate(zip(got, expected, strict=True)):
        if actual.shape != wanted.shape:
            problem = f"output {index} has shape {actual.shape}, PyTorch {wanted.shape}"
            return ParityCheck(sizes, float("inf"), float("inf"), False, problem)
        if wanted.size == 0:
            continue
        difference = float(np.max(np.abs(actual.astype(np.float64) - wanted)))
        if not np.isfinite(difference):
            difference = float("inf")
        magnitude = max(float(np.max(np.abs(wanted))), 1e-6)
        largest_abs = max(largest_abs, difference)
        largest_rel = max(largest_rel, difference / magnitude)
    return ParityCheck(sizes, largest_abs, largest_rel, largest_rel <= tolerance)


def _sidecar(report: ExportReport, plan: ExportPlan) -> dict[str, Any]:
    import zen

    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "zen_version": zen.__version__,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "onnx_file": report.path.name,
        "onnx_sha256": file_sha256(report.path),
        "opset": report.opset,
        "family": report.family,
        "model_class": report.model_class,
        "inputs": [spec.to_json() for spec in report.inputs],
        "outputs": [spec.to_json() for spec in report.outputs],
        "dynamic_axes": plan.axes,
        **plan.metadata,
        "parity": report.parity_json(),
        "quantization": None,
    }


# ---------------------------------------------------------------------------------- loading
def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_sidecar(onnx_path: str | Path, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` as the sidecar of ``onnx_path`` (atomically); returns its path."""
    from zen.neural.checkpoint import write_json

    target = sidecar_path(onnx_path)
    write_json(target, dict(payload))
    return target


def read_sidecar(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """The sidecar of ONNX file ``path``, checked for format and (``verify``) checksum."""
    from zen.neural.checkpoint import read_json

    path = Path(path)
    payload = read_json(sidecar_path(path))
    if not isinstance(payload, dict) or payload.get("format") != SIDECAR_FORMAT:
        raise DataError(f"{sidecar_path(path)}: not a zen ONNX sidecar (format {SIDECAR_FORMAT})")
    if int(payload.get("format_version", 0)) > SIDECAR_VERSION:
        raise DataError(
            f"{sidecar_path(path)}: sidecar format version {payload['format_version']} is newer"
            f" than this zen reads ({SIDECAR_VERSION}); upgrade zen-neural"
        )
    if verify and payload.get("onnx_sha256") != file_sha256(path):
        raise DataError(
            f"{path}: does not match its sidecar's checksum; the pair was changed or mixed up."
            " Export again"
        )
    return payload


def load_onnx_session(
    path: str | Path,
    providers: Sequence[str] | None = None,
    threads: int | None = None,
    verify: bool = True,
) -> OnnxSession:
    """Open an exported (or quantised) model in onnxruntime together with its sidecar.

    Args:
        path: the ``.onnx`` file; its sidecar must sit next to it.
        providers: onnxruntime execution providers; default: CUDA when onnxruntime has it,
            then CPU.
        threads: intra-op threads; ``None`` lets onnxruntime choose (all cores).
        verify: check the model file against the sidecar's SHA-256.

    Example:
        >>> session, sidecar = load_onnx_session("model.onnx")            # doctest: +SKIP
        >>> session.run(None, {"x": batch})[0]                             # doctest: +SKIP
    """
    require_onnx()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found; expected an .onnx file written by zen export")
    sidecar = read_sidecar(path, verify=verify)
    return OnnxSession(_session(path, providers, threads), sidecar)


def _session(path: Path, providers: Sequence[str] | None = None, threads: int | None = None) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only: ORT's warnings go straight to stderr
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"threads: expected a positive integer, got {threads}")
        options.intra_op_num_threads = threads
    available = onnxruntime.get_available_providers()
    if providers is None:
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    unknown = [name for name in providers if name not in available]
    if unknown:
        raise BackendUnavailable(
            f"providers: {unknown} not available in this onnxruntime; available: {available}"
        )
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=list(providers))
    except Exception as error:
        raise DataError(f"{path}: onnxruntime cannot load it: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    """The informative line of an error: torch's exporter errors put it under a heading."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for index, line in enumerate(lines[:-1]):
        if line.startswith("## Exception summary"):
            return lines[index + 1][:400]
    return f"{type(error).__name__}: {lines[0][:400]}" if lines else type(error).__name__
